"""Compactness polish: the last pass of a partition, raising the parts' Polsby-Popper inside
the band.

Private to :mod:`gridmap.engine.partition.solve`. The local search balances first: inside the
tight band around the mean (±10% for ±20%) shape decides, beyond it balance does, so it stops
where a part would have to drift towards the edge of the band to become rounder. The polish
takes the plan as it is and, greedily, moves single boundary units and swaps pairs across a
boundary whenever that raises the sum of the two parts' Polsby-Popper, as long as every part
stays within ``limit`` of the target (a part already beyond it may not go further out) and
connected: the flip walk of GerryChain and Districtr made greedy, with the band as its only
constraint.
"""

from __future__ import annotations

import math
from collections import deque

import numpy as np
from numpy.typing import NDArray

from gridmap.engine.partition.build import Piece

__all__ = ["polish"]

_GAIN = 1e-6  # smallest rise of Polsby-Popper worth a move (rounding aside)
_ROUNDS = 4  # single moves then swaps, at most this many times


def polish(
    piece: Piece, labels: NDArray[np.int64], k: int, target: float, limit: float
) -> NDArray[np.int64]:
    """Labels whose parts' summed Polsby-Popper is at least that of ``labels``.

    Parameters
    ----------
    piece
        The connected graph; ``pcost`` and ``cost`` price the perimeters scored.
    labels
        A partition of the piece into ``k`` connected parts.
    k
        Number of parts.
    target
        Target weight of a part.
    limit
        Largest deviation from ``target`` (a weight) a part may reach by a move.

    Examples
    --------
    Four unit squares in a row, weights 1, split 1 | 3 with a wide limit: the polish moves
    the second square over, two squares each (each part's Polsby-Popper 0.524 → 0.698).

    >>> ptr = np.array([0, 1, 3, 5, 6])
    >>> ind = np.array([1, 0, 2, 1, 3, 2])
    >>> piece = Piece(ptr, ind, np.ones(6), np.ones(4), np.c_[np.arange(4.0), np.zeros(4)],
    ...               np.ones(4), np.full(4, 4.0))
    >>> polish(piece, np.array([0, 1, 1, 1]), 2, 2.0, 1.0).tolist()
    [0, 0, 1, 1]
    """
    state = _State(piece, labels, k, target, limit)
    for _ in range(_ROUNDS):
        moved = state.moves()
        swapped = state.swaps()
        if not moved and not swapped:
            break
    return np.asarray(state.lab, dtype=np.int64)


class _State:
    """Each part's weight, area, perimeter and members, and the moves that keep them valid."""

    def __init__(
        self, piece: Piece, labels: NDArray[np.int64], k: int, target: float, limit: float
    ) -> None:
        n = piece.n
        self.n = n
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
        self.size = np.bincount(labels, minlength=k).tolist()
        self.target, self.limit = target, limit
        # for swaps, each unit's neighbours and theirs (in the order met), and its edge costs
        self.near: list[list[int] | None] = [None] * n
        self.cost_to: list[dict[int, float]] = [{}] * n

    def pp(self, area: float, perimeter: float) -> float:
        """Polsby-Popper of a part of ``area`` and ``perimeter``."""
        return 4 * math.pi * area / (perimeter * perimeter) if perimeter > 0 else 0.0

    def allowed(self, before: float, after: float) -> bool:
        """Whether a part may go from weight ``before`` to ``after``: within the limit, or no
        further out than it was."""
        dev = abs(after - self.target)
        return dev <= self.limit or dev <= abs(before - self.target)

    def links(self, u: int) -> tuple[float, dict[int, float]]:
        """Edge cost from ``u`` to its own part, and to each other part it touches."""
        lab, mine = self.lab, self.lab[u]
        own = 0.0
        other: dict[int, float] = {}
        for v, c in zip(self.nbr[u], self.ncost[u], strict=True):
            p = lab[v]
            if p == mine:
                own += c
            else:
                other[p] = other.get(p, 0.0) + c
        return own, other

    def stays_connected(self, u: int, part: int, without: int = -1) -> bool:
        """Whether ``part`` less ``u`` (and ``without``) is connected."""
        lab, nbr = self.lab, self.nbr
        want = {v for v in nbr[u] if lab[v] == part and v != without}
        if len(want) <= 1:
            return True
        start = want.pop()
        seen = {u, start, without}
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

    def shift(self, u: int, dest: int, own: float, into: float) -> None:
        """Move ``u`` to ``dest`` (``own``, ``into``: its edge cost to its part, to dest)."""
        src = self.lab[u]
        self.W[src] -= self.w[u]
        self.W[dest] += self.w[u]
        self.A[src] -= self.a[u]
        self.A[dest] += self.a[u]
        self.P[src] += 2 * own - self.pc[u]
        self.P[dest] += self.pc[u] - 2 * into
        self.size[src] -= 1
        self.size[dest] += 1
        self.lab[u] = dest

    def moves(self) -> int:
        """Single moves of boundary units, each raising the two parts' summed Polsby-Popper."""
        lab, nbr, W, A, P, pp = self.lab, self.nbr, self.W, self.A, self.P, self.pp
        queue = deque(u for u in range(self.n) if any(lab[v] != lab[u] for v in nbr[u]))
        queued = [False] * self.n
        for u in queue:
            queued[u] = True
        made = 0
        while queue:
            u = queue.popleft()
            queued[u] = False
            src = lab[u]
            if self.size[src] == 1:
                continue
            own, other = self.links(u)
            wu, au, pu = self.w[u], self.a[u], self.pc[u]
            if not other or not self.allowed(W[src], W[src] - wu):
                continue
            leave = pp(A[src] - au, P[src] + 2 * own - pu) - pp(A[src], P[src])
            best, dest = _GAIN, -1
            for b, into in other.items():
                if not self.allowed(W[b], W[b] + wu):
                    continue
                gain = leave + pp(A[b] + au, P[b] + pu - 2 * into) - pp(A[b], P[b])
                if gain > best:
                    best, dest = gain, b
            if dest < 0 or not self.stays_connected(u, src):
                continue
            self.shift(u, dest, own, other[dest])
            made += 1
            for v in (*nbr[u], u):
                if not queued[v]:
                    queued[v] = True
                    queue.append(v)
        return made

    def swaps(self) -> int:
        """Swaps of two units across a boundary, each raising the two parts' summed
        Polsby-Popper: a part that cannot give or take weight alone can still change shape."""
        lab, nbr, W, A, P, pp = self.lab, self.nbr, self.W, self.A, self.P, self.pp
        w, a, pc, size, links = self.w, self.a, self.pc, self.size, self.links
        near, cost_to, allowed = self.near, self.cost_to, self.allowed
        linked: dict[int, tuple[float, dict[int, float]]] = {}  # links of units, until a swap
        made = 0
        for u in range(self.n):
            pa = lab[u]
            if size[pa] == 1:
                continue
            found = linked.get(u)
            if found is None:
                found = linked[u] = links(u)
            own_u, other_u = found
            if not other_u:
                continue
            best, choice = _GAIN, None
            around = near[u]
            if around is None:  # its neighbours and theirs, and its edge costs
                around = near[u] = [v for x in nbr[u] for v in (x, *nbr[x])]
                cost_to[u] = dict(zip(nbr[u], self.ncost[u], strict=True))
            cost_u = cost_to[u]
            for pb, to_b in other_u.items():
                if size[pb] == 1:
                    continue
                base = pp(A[pa], P[pa]) + pp(A[pb], P[pb])
                for v in {v for v in around if lab[v] == pb}:
                    found = linked.get(v)
                    if found is None:
                        found = linked[v] = links(v)
                    own_v, other_v = found
                    to_a = other_v.get(pa, 0.0)
                    c_uv = cost_u.get(v, 0.0)
                    if to_a - c_uv <= 0 or to_b - c_uv <= 0:
                        continue  # v must touch pa without u, and u touch pb without v
                    wa, wb = W[pa] - w[u] + w[v], W[pb] + w[u] - w[v]
                    if not (allowed(W[pa], wa) and allowed(W[pb], wb)):
                        continue
                    # pa loses u (its links inside pa become boundary) and gains v (its
                    # links to pa less u become inner); pb the other way round
                    per_a = P[pa] - pc[u] + 2 * own_u + pc[v] - 2 * (to_a - c_uv)
                    per_b = P[pb] - pc[v] + 2 * own_v + pc[u] - 2 * (to_b - c_uv)
                    gain = pp(A[pa] - a[u] + a[v], per_a) + pp(A[pb] + a[u] - a[v], per_b) - base
                    if gain > best:
                        best, choice = gain, (v, pb)
            if choice is None:
                continue
            v, pb = choice
            # pa less u connected and v touching it: pa after the swap is connected (pb alike)
            if self.stays_connected(u, pa) and self.stays_connected(v, pb):
                self._swap(u, v)
                linked.clear()
                made += 1
        return made

    def _swap(self, u: int, v: int) -> None:
        pa, pb = self.lab[u], self.lab[v]
        own, other = self.links(u)
        self.shift(u, pb, own, other.get(pb, 0.0))
        own, other = self.links(v)
        self.shift(v, pa, own, other.get(pa, 0.0))
