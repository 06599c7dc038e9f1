"""The local search's schedule, and its two reshaping moves: exchanges and re-splits.

Private to :mod:`gridmap.engine.partition.solve`. Single moves change a boundary one unit at a time
and stall where a part has to give on one side and take on another to become compact. An
exchange swaps two units across a boundary, keeping both weights close. A re-split redraws
the whole common boundary of two parts: the best of a few straight cuts of their union
(8 directions, each near half the weight), kept when both halves are connected and the
score drops.
"""

from __future__ import annotations

import math
import time

import numpy as np

from gridmap.engine.partition.search import Search

__all__ = ["exchange", "improve", "resplit"]

_DIFFUSIONS = 4  # at most; each carries about a frontier's worth of weight between two parts
_ANGLES = np.linspace(0.0, math.pi, 8, endpoint=False)
_DIRECTIONS = np.stack([np.cos(_ANGLES), np.sin(_ANGLES)])  # 2 × directions
_OFFSETS = np.array([-1, 0, 1, 2])  # cuts around the one reaching half the weight
_COLUMNS = np.arange(len(_ANGLES))[None, :]
_CANDIDATE_DIRECTION = np.repeat(np.arange(len(_ANGLES)), len(_OFFSETS))


def improve(search: Search, rounds: int = 3) -> None:
    """Balance, then reshape: each step is followed by single moves around what it changed.

    1. single moves from every boundary unit;
    2. moves along the least-squares flow between parts (regional imbalance), again while
       it brings parts into the tight band;
    3. ejection chains for parts still outside the tight band (up to ``rounds`` times);
    4. re-splits of neighbouring pairs, exchanges and chains (up to ``rounds`` times; later
       rounds only look at parts changed since).
    """

    def settle() -> set[int]:
        """Single moves around the parts changed since the last call; all changed parts."""
        parts, search.touched = search.touched, set()
        search.descend(parts)
        moved, search.touched = search.touched, set()
        return parts | moved

    def late() -> bool:
        return time.perf_counter() > search.deadline

    search.descend()
    search.touched = set()
    outside = search.outside()
    for _ in range(_DIFFUSIONS if search.k > 2 else 0):  # two parts: chains and re-splits
        if late() or not outside:
            break
        search.diffuse()
        settle()
        before, outside = outside, search.outside()
        if outside >= before:
            break
    for _ in range(rounds):
        if late() or not search.chains():
            break
        settle()
    settle()
    parts: set[int] | None = None
    for _ in range(rounds):
        if late():
            break
        outside = search.outside()
        made = resplit(search, parts)
        changed = settle()
        made += exchange(search, changed)
        if search.outside() > outside:  # the reshaping pushed parts out of the tight band
            made += search.chains()
        changed |= settle()
        parts = changed
        if not made:
            break


def resplit(search: Search, parts: set[int] | None = None) -> int:
    """Try a straight re-split of every pair of neighbouring parts (one of them in
    ``parts``, if given); returns how many pairs were redrawn."""
    made = 0
    tried, stamp = search.tried, search.stamp
    for pa, pb in sorted(search.frontiers()):
        if pa > pb or (parts is not None and pa not in parts and pb not in parts):
            continue
        if tried.get((pa, pb), -1) >= max(stamp[pa], stamp[pb]):
            continue  # neither part changed since this pair was last tried
        if time.perf_counter() > search.deadline:
            break
        made += _resplit_pair(search, pa, pb)
        tried[pa, pb] = search.clock
    return made


def _resplit_pair(search: Search, pa: int, pb: int) -> bool:
    """Redraw the boundary between parts ``pa`` and ``pb``; whether it changed."""
    members = search.members
    units = sorted(members[pa] | members[pb])
    if len(units) < 3:
        return False
    key = tuple(units)
    split = search.splits.get(key)
    if split is None:  # the cuts of a union depend on its units alone: worked out once
        split = search.splits[key] = _Cuts(search, units)
    now = search.cur[pa] + search.cur[pb]
    for c in split.order:
        if split.score[c] >= now - 1e-9:
            return False
        halves = split.halves(search, c)
        if halves is not None:
            first, second = halves
            if len(first & members[pa]) < len(second & members[pa]):
                first, second = second, first
            for u in sorted(first - members[pa]):
                search.relocate(u, pa)
            for u in sorted(second - members[pb]):
                search.relocate(u, pb)
            return True
    return False


class _Cuts:
    """The straight cuts of a set of units into two halves, best score first."""

    def __init__(self, search: Search, units: list[int]) -> None:
        piece = search.piece
        m = len(units)
        idx = np.asarray(units)
        # the edges among the units, each once, in local numbering
        local = search.scratch
        local[idx] = np.arange(m)
        e_i, e_j = local[search.edge_low], local[search.edge_high]
        local[idx] = -1
        keep = (e_i >= 0) & (e_j >= 0)
        e_i, e_j, e_c = e_i[keep], e_j[keep], search.edge_cost[keep]
        feat = search.features[idx]  # weight, area, priced perimeter
        order = (piece.xy[idx] @ _DIRECTIONS).argsort(axis=0, kind="stable")  # m × directions
        rank = np.empty_like(order)
        rank[order, _COLUMNS] = np.arange(m)[:, None]
        total = feat.sum(axis=0)
        cut = (feat[order, 0].cumsum(axis=0) >= 0.5 * total[0]).argmax(axis=0)
        size = (cut[:, None] + _OFFSETS).ravel()  # units on the first side of each candidate
        ok = (size >= 1) & (size <= m - 1)
        side = (rank.T[_CANDIDATE_DIRECTION[ok]] < size[ok, None]).astype(np.float64)
        one = side @ feat
        other = total - one
        a_in, b_in = side[:, e_i], side[:, e_j]
        one[:, 2] -= 2 * ((a_in * b_in) @ e_c)
        other[:, 2] -= 2 * (((1 - a_in) * (1 - b_in)) @ e_c)
        both = np.concatenate([one, other])
        halves = search.scores_of(both[:, 0], both[:, 1], both[:, 2])
        c_n = len(one)
        score = halves[:c_n] + halves[c_n:]
        self.units = units
        self.side = side
        self.score: list[float] = score.tolist()
        self.order: list[int] = score.argsort(kind="stable").tolist()
        self.cut: dict[int, tuple[set[int], set[int]] | None] = {}

    def halves(self, search: Search, c: int) -> tuple[set[int], set[int]] | None:
        """The two halves of cut ``c``, or None when one of them is not connected."""
        if c not in self.cut:
            units = self.units
            first = {units[i] for i in np.flatnonzero(self.side[c]).tolist()}
            second = set(units) - first
            both = _connected(search, first) and _connected(search, second)
            self.cut[c] = (first, second) if both else None
        return self.cut[c]


def _connected(search: Search, units: set[int]) -> bool:
    """Whether ``units`` form one connected piece."""
    nbr = search.nbr
    start = next(iter(units))
    seen = {start}
    stack = [start]
    while stack:
        for y in nbr[stack.pop()]:
            if y in units and y not in seen:
                seen.add(y)
                stack.append(y)
    return len(seen) == len(units)


def exchange(search: Search, parts: set[int] | None = None) -> int:
    """Swap two units across part boundaries where that lowers the score; returns swaps.

    A swap keeps both parts' weights close while it reshapes them, which single moves,
    held back by the balance penalty, cannot do. ``parts``: only boundaries of these.
    """
    nbr, ncost, f = search.nbr, search.ncost, search.score_of
    W, A, P, w, a, pc = search.W, search.A, search.P, search.w, search.a, search.pc
    known = search.frontiers()
    changed: set[int] = set()
    swaps = 0
    for pa, pb in sorted(known):
        if pa > pb or (parts is not None and pa not in parts and pb not in parts):
            continue
        if time.perf_counter() > search.deadline:
            break
        if len(search.members[pa]) == 1 or len(search.members[pb]) == 1:
            continue
        if pa in changed or pb in changed:
            fa, fb = search.frontier(pa, pb), search.frontier(pb, pa)
        else:
            fa, fb = known[pa, pb], known.get((pb, pa), [])
        if not fa or not fb:
            continue
        base = search.cur[pa] + search.cur[pb]
        links_b = [(v, *search.pair_links(v, pa)) for v in fb]
        best, choice = -1e-12, None
        for u in fa:
            own_u, to_b = search.pair_links(u, pb)
            cu = dict(zip(nbr[u], ncost[u], strict=True))
            for v, own_v, to_a in links_b:
                c_uv = cu.get(v, 0.0)
                if to_a - c_uv <= 0 or to_b - c_uv <= 0:
                    continue  # v must touch pa without u, and u touch pb without v
                delta = (
                    f(
                        W[pa] - w[u] + w[v],
                        A[pa] - a[u] + a[v],
                        P[pa] - pc[u] + 2 * own_u + pc[v] - 2 * (to_a - c_uv),
                    )
                    + f(
                        W[pb] + w[u] - w[v],
                        A[pb] + a[u] - a[v],
                        P[pb] - pc[v] + 2 * own_v + pc[u] - 2 * (to_b - c_uv),
                    )
                    - base
                )
                if delta < best:
                    best, choice = delta, (u, v)
        if choice is None:
            continue
        u, v = choice
        if search.stays_connected(u, pa) and search.stays_connected(v, pb):
            search.relocate(u, pb)
            search.relocate(v, pa)
            changed.update((pa, pb))
            swaps += 1
    return swaps
