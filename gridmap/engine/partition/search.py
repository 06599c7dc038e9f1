"""Local search that balances and reshapes a contiguous partition of one connected graph.

Private to :mod:`gridmap.engine.partition.solve`. The score of a plan (lower is better) is a sum
over its parts of

    H·d² + L1·max(0, |d| - tight) + [e > 0]·(G0 + G·e + G2·e²) - ν·4π·area/perimeter²

where d is the part's deviation from its piece's mean weight and e how far it lies outside
the tolerance band around the target (both as fractions of the target), and the perimeter
prices each shared stretch by its edge cost (the piece's outer boundary at cost 1): the last
term is the part's Polsby-Popper, with boundaries along cheap edges (roads) counting less.
Inside the tight band (half the tolerance: ±10% for ±20%) shape wins; beyond it balance
does; outside the tolerance, nothing else counts. Every move keeps every part connected.
"""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Callable
from typing import Any

import numpy as np
from numpy.typing import NDArray
from scipy import sparse
from scipy.sparse.linalg import spsolve

from gridmap.engine.partition.build import Piece

__all__ = ["INNER_BAND", "Search", "part_scorer", "part_scorer_array"]

_H = 10.0  # pull towards the mean inside the tight band
_L1 = 300.0  # price of each unit of deviation beyond the tight band
INNER_BAND = 0.5  # default half-width of the tight band, as a fraction of the tolerance
_G0 = 1.0e4  # price of a part outside the tolerance band: fewer parts outside comes first
_G = 1.0e5  # price of each unit of deviation beyond the tolerance
_G2 = 1.0e3  # and of its square (spreads an excess that cannot be avoided)
_NU = 40.0  # price of shape: Polsby-Popper 0.1 better ≈ 1.3% closer to the tight band
_EPS = 1e-12
_DENSE_SOLVE = 400  # up to this many parts, the flow is solved with a dense matrix

Scorer = Callable[[float, float, float], float]
ArrayScorer = Callable[
    [NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]], NDArray[np.float64]
]


def part_scorer(mean: float, target: float, tolerance: float, inner: float = INNER_BAND) -> Scorer:
    """The score of one part from its weight, area and priced perimeter (``inner``: the tight
    band's half-width as a fraction of the tolerance)."""
    inv = 1.0 / target
    tight = inner * tolerance
    low, high = target * (1 - tolerance), target * (1 + tolerance)
    shape = _NU * 4 * math.pi

    def score(weight: float, area: float, perimeter: float) -> float:
        d = abs(weight - mean) * inv
        s = _H * d * d
        if d > tight:
            s += _L1 * (d - tight)
        if weight > high or weight < low:
            e = (weight - high if weight > high else low - weight) * inv
            s += _G0 + _G * e + _G2 * e * e
        return s - shape * area / (perimeter * perimeter if perimeter > _EPS else _EPS)

    return score


def part_scorer_array(
    mean: float, target: float, tolerance: float, inner: float = INNER_BAND
) -> ArrayScorer:
    """:func:`part_scorer` over arrays (the same formula, vectorized)."""
    tight = inner * tolerance
    low, high = target * (1 - tolerance), target * (1 + tolerance)
    shape = _NU * 4 * np.pi

    def score(
        weight: NDArray[np.float64], area: NDArray[np.float64], perimeter: NDArray[np.float64]
    ) -> NDArray[np.float64]:
        d = np.abs(weight - mean) / target
        e = np.maximum(np.maximum(weight - high, low - weight), 0.0) / target
        s = _H * d * d + _L1 * np.maximum(d - tight, 0.0) + _G * e + _G2 * e * e + _G0 * (e > 0)
        return s - shape * area / np.maximum(perimeter * perimeter, _EPS)

    return score


class Search:
    """Labels of one piece with each part's weight, area, perimeter, score and members."""

    def __init__(
        self,
        piece: Piece,
        labels: NDArray[np.int64],
        k: int,
        target: float,
        tolerance: float,
        inner: float = INNER_BAND,
    ) -> None:
        self.piece, self.k, self.target = piece, k, target
        self.mean = float(piece.weights.sum()) / k
        self.tight = inner * tolerance * target
        self.score_of = part_scorer(self.mean, target, tolerance, inner)
        self.scores_of = part_scorer_array(self.mean, target, tolerance, inner)
        self.nbr, self.ncost = piece.lists
        self.w, self.a, self.pc = piece.weights.tolist(), piece.areas.tolist(), piece.pcost.tolist()
        self.lab: list[int] = labels.tolist()
        src = piece.sources()
        inside = labels[src] == labels[piece.indices]
        self.W = np.bincount(labels, weights=piece.weights, minlength=k).tolist()
        self.A = np.bincount(labels, weights=piece.areas, minlength=k).tolist()
        self.P = (
            np.bincount(labels, weights=piece.pcost, minlength=k)
            - np.bincount(labels[src[inside]], weights=piece.cost[inside], minlength=k)
        ).tolist()
        self.cur = [self.score_of(self.W[p], self.A[p], self.P[p]) for p in range(k)]
        self.members: list[set[int]] = [set() for _ in range(k)]
        for u, p in enumerate(self.lab):
            self.members[p].add(u)
        self.touched: set[int] = set()
        self.clock = 0  # counts every move, undone ones too
        self.stamp = [0] * k  # ``clock`` when each part last changed
        self.failed: dict[int, int] = {}  # part → ``clock`` when a chain from it last failed
        self.tried: dict[tuple[int, int], int] = {}  # pair → ``clock`` when last re-split
        # the straight re-splits of each union of two parts met (units → improve's candidates):
        # they depend on the piece alone, and the searches of one piece may share them
        self.splits: dict[tuple[int, ...], Any] = {}
        self.features = np.column_stack([piece.weights, piece.areas, piece.pcost])
        once = src < piece.indices  # each edge once, lower unit first (for re-splits)
        self.edge_low, self.edge_high = src[once], piece.indices[once]
        self.edge_cost = piece.cost[once]
        self.scratch = np.full(piece.n, -1, dtype=np.int64)
        self.moves = 0
        self.deadline = math.inf

    # --- state ------------------------------------------------------------------------------

    def score(self) -> float:
        """The plan's score (lower is better)."""
        return sum(self.cur)

    def outside(self) -> int:
        """Number of parts outside the tight band around the mean."""
        return sum(abs(x - self.mean) > self.tight for x in self.W)

    def labels(self) -> NDArray[np.int64]:
        """The current labels."""
        return np.asarray(self.lab, dtype=np.int64)

    def links(self, u: int) -> tuple[float, dict[int, float]]:
        """Edge cost from ``u`` to its own part, and to each other part it touches."""
        lab = self.lab
        mine = lab[u]
        own = 0.0
        other: dict[int, float] = {}
        for v, c in zip(self.nbr[u], self.ncost[u], strict=True):
            p = lab[v]
            if p == mine:
                own += c
            else:
                other[p] = other.get(p, 0.0) + c
        return own, other

    def move(self, u: int, dest: int, own: float, into: float) -> None:
        """Move ``u`` to ``dest``; ``own``, ``into``: edge cost from u to its part, to dest."""
        src = self.lab[u]
        wu, au, pu = self.w[u], self.a[u], self.pc[u]
        W, A, P = self.W, self.A, self.P
        W[src] -= wu
        W[dest] += wu
        A[src] -= au
        A[dest] += au
        P[src] += 2 * own - pu
        P[dest] += pu - 2 * into
        self.cur[src] = self.score_of(W[src], A[src], P[src])
        self.cur[dest] = self.score_of(W[dest], A[dest], P[dest])
        self.lab[u] = dest
        self.members[src].discard(u)
        self.members[dest].add(u)
        self.touched.update((src, dest))
        self.moves += 1
        self.clock += 1
        self.stamp[src] = self.stamp[dest] = self.clock

    def pair_links(self, u: int, dest: int) -> tuple[float, float]:
        """Edge cost from ``u`` to its own part and to part ``dest``."""
        lab = self.lab
        mine = lab[u]
        own = into = 0.0
        for v, c in zip(self.nbr[u], self.ncost[u], strict=True):
            p = lab[v]
            if p == mine:
                own += c
            elif p == dest:
                into += c
        return own, into

    def relocate(self, u: int, dest: int) -> None:
        """Move ``u`` to ``dest``, working out the edge costs."""
        self.move(u, dest, *self.pair_links(u, dest))

    def gain(self, u: int, dest: int, own: float, into: float) -> float:
        """Change of the score if ``u`` moved to ``dest`` (arguments as for :meth:`move`)."""
        src = self.lab[u]
        wu, au, pu = self.w[u], self.a[u], self.pc[u]
        W, A, P, f = self.W, self.A, self.P, self.score_of
        return (
            f(W[src] - wu, A[src] - au, P[src] + 2 * own - pu)
            + f(W[dest] + wu, A[dest] + au, P[dest] + pu - 2 * into)
            - self.cur[src]
            - self.cur[dest]
        )

    def stays_connected(self, u: int, part: int) -> bool:
        """Whether ``part`` without ``u`` is connected: a search until u's neighbours meet."""
        lab, nbr = self.lab, self.nbr
        want = {v for v in nbr[u] if lab[v] == part}
        if len(want) <= 1:
            return True
        start = want.pop()
        seen = {u, start}
        stack = [start]
        while stack:
            for y in nbr[stack.pop()]:
                if y not in seen and lab[y] == part:
                    if y in want:
                        want.discard(y)
                        if not want:
                            return True
                    seen.add(y)
                    stack.append(y)
        return False

    def frontier(self, part: int, other: int) -> list[int]:
        """Units of ``part`` adjacent to ``other``, in increasing order."""
        lab, nbr = self.lab, self.nbr
        out = []
        for u in self.members[part]:
            for v in nbr[u]:
                if lab[v] == other:
                    out.append(u)
                    break
        out.sort()
        return out

    def frontiers(self) -> dict[tuple[int, int], list[int]]:
        """Every non-empty :meth:`frontier`, keyed by (part, other part), in one pass (keys in
        no particular order)."""
        lab, nbr = self.lab, self.nbr
        out: dict[tuple[int, int], list[int]] = {}
        for u in range(self.piece.n):
            p = lab[u]
            met: list[int] = []  # the other parts u touches (one or two, mostly none)
            for v in nbr[u]:
                q = lab[v]
                if q != p and q not in met:
                    met.append(q)
                    if (p, q) in out:
                        out[p, q].append(u)
                    else:
                        out[p, q] = [u]
        return out

    # --- moves --------------------------------------------------------------------------------

    def descend(self, parts: set[int] | None = None) -> None:
        """Single moves, each lowering the score, until none does (or the deadline passes).

        Looks first at the boundary units of ``parts`` (default: of every part), then again at
        the neighbours of every unit moved.
        """
        lab, nbr, size = self.lab, self.nbr, [len(m) for m in self.members]
        W, A, P, cur, f = self.W, self.A, self.P, self.cur, self.score_of
        w, a, pc = self.w, self.a, self.pc
        if parts is None:
            pool: range | set[int] = range(self.piece.n)
        else:
            pool = set()
            for p in parts:
                for u in self.members[p]:
                    pool.add(u)
                    pool.update(nbr[u])
        border = []
        for u in pool:
            mine = lab[u]
            for v in nbr[u]:
                if lab[v] != mine:
                    border.append(u)
                    break
        border.sort()
        queue = deque(border)
        queued = [False] * self.piece.n
        for u in queue:
            queued[u] = True
        steps = 0
        while queue:
            steps += 1
            if steps % 512 == 0 and time.perf_counter() > self.deadline:
                break
            u = queue.popleft()
            queued[u] = False
            src = lab[u]
            if size[src] == 1:
                continue
            own, other = self.links(u)
            if not other:
                continue
            wu, au, pu = w[u], a[u], pc[u]
            leave = f(W[src] - wu, A[src] - au, P[src] + 2 * own - pu) - cur[src]
            best, dest = -_EPS, -1
            for b, into in other.items():
                delta = leave + f(W[b] + wu, A[b] + au, P[b] + pu - 2 * into) - cur[b]
                if delta < best:
                    best, dest = delta, b
            if dest < 0 or not self.stays_connected(u, src):
                continue
            self.move(u, dest, own, other[dest])
            size[src] -= 1
            size[dest] += 1
            for v in (*nbr[u], u):
                if not queued[v]:
                    queued[v] = True
                    queue.append(v)

    def diffuse(self) -> int:
        """Move weight along the least-squares flow that evens the parts out; returns moves.

        The flow on the parts' graph solves L·x = weight - mean (L its Laplacian) and part p
        sends x_p - x_q to neighbour q: a region's excess travels to the light parts beyond
        it, which single moves and short chains cannot do.
        """
        k = self.k
        lab = self.labels()
        p, q = lab[self.edge_low], lab[self.edge_high]
        low, high = np.minimum(p, q), np.maximum(p, q)
        code = np.unique((low * k + high)[low != high])  # each pair of neighbouring parts once
        pairs = np.column_stack([code // k, code % k])
        if len(pairs) == 0:
            return 0
        rows = np.concatenate([pairs[:, 0], pairs[:, 1]])
        cols = np.concatenate([pairs[:, 1], pairs[:, 0]])
        excess = np.asarray(self.W) - self.mean
        degree = np.bincount(rows, minlength=k) + 1e-9  # the tiny term makes L invertible
        if k <= _DENSE_SOLVE:
            lap = np.diag(degree)
            lap[rows, cols] = -1.0
            x = np.linalg.solve(lap, excess)
        else:
            adj = sparse.csr_matrix((np.ones(len(rows)), (rows, cols)), shape=(k, k))
            x = spsolve((sparse.diags(degree) - adj).tocsc(), excess)
        flow = x[pairs[:, 0]] - x[pairs[:, 1]]
        w = self.w
        moved = 0
        for e in np.argsort(-np.abs(flow), kind="stable").tolist():
            f = float(flow[e])
            src, dest = (int(pairs[e, 0]), int(pairs[e, 1]))[:: 1 if f > 0 else -1]
            f = abs(f)
            options = []
            for u in self.frontier(src, dest):
                if w[u] < 2 * f:
                    options.append((self.gain(u, dest, *self.pair_links(u, dest)), u))
            options.sort()
            sent = 0.0
            for _, u in options:
                if len(self.members[src]) == 1 or sent >= 0.5 * f:
                    break
                if abs(sent + w[u] - f) < abs(sent - f) and self.stays_connected(u, src):
                    own, into = self.pair_links(u, dest)
                    if into > 0:
                        self.move(u, dest, own, into)
                        sent += w[u]
                        moved += 1
        return moved

    def push(self, path: list[int], keep: bool) -> float:
        """Pass weight along ``path`` (donor first), one unit a hop; the score's change.

        Each hop moves the unit of ``path[i]`` next to ``path[i + 1]`` that scores best (an
        intermediate receiver's balance is left out: it passes weight on), keeping
        ``path[i]`` connected. The moves are undone unless ``keep`` and the score drops; a
        chain that cannot be completed scores ``inf``.
        """
        W, w, cur, f = self.W, self.w, self.cur, self.score_of
        touched = set(path)
        before = sum(cur[p] for p in touched)
        done: list[tuple[int, int]] = []
        delta = math.inf
        last = len(path) - 2
        for i in range(len(path) - 1):
            src, dest = path[i], path[i + 1]
            if len(self.members[src]) == 1:
                break
            options = []
            for u in self.frontier(src, dest):
                own, into = self.pair_links(u, dest)
                key = self.gain(u, dest, own, into)
                if i != last:  # leave out the receiver's change of balance
                    key += f(W[dest], 1.0, 0.0) - f(W[dest] + w[u], 1.0, 0.0)
                options.append((key, u, own, into))
            options.sort()
            for _, u, own, into in options:
                if self.stays_connected(u, src):
                    done.append((u, src))
                    self.move(u, dest, own, into)
                    break
            else:
                break
        else:
            delta = sum(cur[p] for p in touched) - before
        if keep and delta < -_EPS:
            return delta
        for u, src in reversed(done):
            self.relocate(u, src)
        self.moves -= 2 * len(done)
        return delta

    def chains(self, depth: int = 4, tries: int = 4) -> int:
        """Ejection chains from each part outside the tight band; returns how many were made.

        The other end of a chain is one of the ``tries`` parts within ``depth`` steps with
        the most room (heavy start) or excess (light start), or the part itself through a
        neighbour (an exchange). The best-scoring candidate is made if it lowers the score.
        A part whose neighbourhood has not changed since its last failed attempt is skipped.
        """
        W, mean = self.W, self.mean
        out = sorted(
            (p for p in range(self.k) if abs(W[p] - mean) > self.tight),
            key=lambda p: (-abs(W[p] - mean), p),
        )
        if not out:
            return 0
        graph: dict[int, list[int]] = {}
        for p, q in sorted(self.frontiers()):
            graph.setdefault(p, []).append(q)
        made = 0
        for start in out:
            if time.perf_counter() > self.deadline:
                break
            if abs(W[start] - mean) <= self.tight:
                continue
            heavy = W[start] > mean
            parent = {start: -1}
            level = [start]
            ends: list[tuple[float, int]] = []
            for dist in range(1, depth + 1):
                nxt = []
                for p in level:
                    for q in graph.get(p, ()):
                        if q not in parent:
                            parent[q] = p
                            nxt.append(q)
                            room = (mean - W[q]) if heavy else (W[q] - mean)
                            ends.append((0.02 * self.target * dist - room, q))
                level = nxt
            if self.failed.get(start, -1) >= max(self.stamp[p] for p in parent):
                continue  # nothing changed around it since it last failed
            ends.sort()
            paths = []
            for _, z in ends[:tries]:
                path = [z]
                while parent[path[-1]] != -1:
                    path.append(parent[path[-1]])
                paths.append(path[::-1] if heavy else path)  # weight flows heavy → light
            for b in graph.get(start, ()):
                paths.append([start, b, start] if heavy else [b, start, b])
            best, i = min((self.push(p, keep=False), i) for i, p in enumerate(paths))
            if best < -_EPS and self.push(paths[i], keep=True) < -_EPS:
                made += 1
            else:
                self.failed[start] = self.clock
        return made
