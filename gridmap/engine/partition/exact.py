"""Exhaustive search of the contiguous arrangements of a small piece.

Private to :mod:`gridmap.engine.partition.solve`. A community of a dozen coarse atoms (compounds of
2,000 residents) leaves the local search little room: it may stop with a grid out of band
where an arrangement within the band exists, or where none does. On such small pieces every
arrangement can be tried: parts are grown one at a time as connected sets holding the lowest
unit not yet taken (so each partition is met once), weights within the band, and a branch is
cut as soon as a leftover connected component cannot be divided into parts within the band.
The best arrangement by the local search's own score is kept. When the search runs to its end
it is a proof: either the best in-band arrangement, or none exists.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from gridmap.engine.partition.build import Piece
from gridmap.engine.partition.search import INNER_BAND, part_scorer

__all__ = ["EXACT_MAX_UNITS", "ExactResult", "exact_partition"]

EXACT_MAX_UNITS = 30  # above this the search would rarely finish; pieces go to the local search
_BUDGET = 30_000  # connected sets grown, at most (about a quarter of a second of Python)


@dataclass(frozen=True)
class ExactResult:
    """The best in-band labels found (None: none found), and whether every arrangement was
    tried (``complete``): then None proves that no arrangement puts every part in the band."""

    labels: NDArray[np.int64] | None
    score: float
    complete: bool


def exact_partition(
    piece: Piece,
    k: int,
    target: float,
    tolerance: float,
    budget: int = _BUDGET,
    *,
    within_band: bool = True,
    inner: float = INNER_BAND,
) -> ExactResult:
    """Best arrangement of ``piece`` into ``k`` connected parts, each within the band.

    With ``within_band=False`` parts of any weight are tried, and the best by score kept
    (fewest parts out of band first): for pieces where no arrangement is all in band.

    Examples
    --------
    Six units in a row, weights 1 2 1 1 2 1, into two parts of 4 ± 10%: only the middle
    cut works.

    >>> ptr = np.array([0, 1, 3, 5, 7, 9, 10])
    >>> ind = np.array([1, 0, 2, 1, 3, 2, 4, 3, 5, 4])
    >>> piece = Piece(ptr, ind, np.ones(10), np.array([1, 2, 1, 1, 2, 1.0]),
    ...               np.c_[np.arange(6.0), np.zeros(6)], np.ones(6), np.full(6, 4.0))
    >>> result = exact_partition(piece, 2, 4.0, 0.1)
    >>> result.labels.tolist(), result.complete
    ([0, 0, 0, 1, 1, 1], True)
    >>> exact_partition(piece, 3, 8 / 3, 0.1).labels is None  # 8 in three parts of 2.4–2.9
    True
    >>> exact_partition(piece, 3, 8 / 3, 0.1, within_band=False).labels.tolist()
    [0, 0, 1, 1, 2, 2]
    """
    search = _Exact(piece, k, target, tolerance, budget, within_band, inner)
    complete = search.run()
    if search.best is None:
        return ExactResult(None, math.inf, complete)
    labels = np.empty(piece.n, dtype=np.int64)
    for p, mask in enumerate(search.best):
        labels[_bits(mask)] = p
    return ExactResult(labels, search.best_score, complete)


def _bits(mask: int) -> list[int]:
    out = []
    while mask:
        low = mask & -mask
        out.append(low.bit_length() - 1)
        mask ^= low
    return out


class _Exact:
    def __init__(
        self,
        piece: Piece,
        k: int,
        target: float,
        tolerance: float,
        budget: int,
        within: bool,
        inner: float,
    ):
        n = piece.n
        self.k = k
        self.low, self.high = target * (1 - tolerance), target * (1 + tolerance)
        if not within:
            self.low, self.high = 0.0, math.inf
        self.w = piece.weights.tolist()
        self.a = piece.areas.tolist()
        self.pc = piece.pcost.tolist()
        ptr, ind, cost = piece.indptr.tolist(), piece.indices.tolist(), piece.cost.tolist()
        self.nbr = [sum(1 << j for j in ind[ptr[i] : ptr[i + 1]]) for i in range(n)]
        pairs = [
            zip(ind[ptr[i] : ptr[i + 1]], cost[ptr[i] : ptr[i + 1]], strict=True) for i in range(n)
        ]
        self.edges = [[(j, c) for j, c in pairs[i] if j > i] for i in range(n)]
        self.score_of = part_scorer(float(piece.weights.sum()) / k, target, tolerance, inner)
        self.all = (1 << n) - 1
        self.left = budget
        self.best: list[int] | None = None
        self.best_score = math.inf
        # the same leftover, part or component is met in many branches: each is worked out once
        self.divisible: list[dict[int, bool]] = [{} for _ in range(k)]
        self.counts: dict[int, tuple[int, int]] = {}
        self.weights: dict[int, float] = {}
        self.scores: dict[int, float] = {}

    def run(self) -> bool:
        """Search every arrangement (within the budget); whether it ran to the end."""
        try:
            self._place(self.all, self.k, [], 0.0)
        except _OutOfBudget:
            return False
        return True

    def _place(self, rest: int, k: int, parts: list[int], score: float) -> None:
        if k == 1:
            whole = self._flood(rest & -rest, rest) == rest
            if whole and self.low <= self._weight(rest) <= self.high:
                total = score + self._score(rest)
                if total < self.best_score:
                    self.best, self.best_score = [*parts, rest], total
            return
        # every connected set within rest holding its first unit, within the band, is a part
        # (each set once: a unit passed over in one branch is excluded from the branches after
        # it); sets below the minimum are grown, and count against the budget, but not placed
        w, nbr, low, high = self.w, self.nbr, self.low, self.high
        divisible = self.divisible[k - 1]  # whether each leftover met divides into k - 1
        first = rest & -rest
        start = first.bit_length() - 1
        if w[start] > high:  # the unit alone is over the maximum: no part holds it
            return
        stack = [(first, nbr[start] & rest, 0, w[start])]
        while stack:
            part, frontier, excluded, weight = stack.pop()
            self.left -= 1
            if self.left < 0:
                raise _OutOfBudget
            if weight >= low:
                left = rest & ~part
                fits = divisible.get(left)
                if fits is None:
                    fits = divisible[left] = self._divisible(left, k - 1)
                if fits:
                    self._place(left, k - 1, [*parts, part], score + self._score(part))
            todo = frontier
            while todo:
                u = todo & -todo
                todo ^= u
                j = u.bit_length() - 1
                grown = weight + w[j]
                if grown <= high:
                    bigger = part | u
                    reach = (todo | nbr[j]) & rest & ~bigger & ~excluded
                    stack.append((bigger, reach, excluded, grown))
                excluded |= u

    def _divisible(self, rest: int, k: int) -> bool:
        """Whether each connected component of ``rest`` could hold a whole number of parts
        within the band, adding up to ``k``."""
        nbr, counts = self.nbr, self.counts
        fewest = most = 0
        todo = rest
        while todo:
            comp = frontier = todo & -todo  # flood the component of the lowest unit left
            while frontier:
                reach = 0
                while frontier:
                    u = frontier & -frontier
                    frontier ^= u
                    reach |= nbr[u.bit_length() - 1]
                frontier = reach & rest & ~comp
                comp |= frontier
            todo &= ~comp
            count = counts.get(comp)
            if count is None:
                count = counts[comp] = self._counts(comp)
            lo, hi = count
            if lo > hi or lo > k:
                return False
            fewest, most = fewest + lo, most + hi
            if fewest > k:
                return False
        return fewest <= k <= most

    def _counts(self, comp: int) -> tuple[int, int]:
        """The fewest and most parts within the band a component could hold (the most: not
        above its units' count, nor its weight over the minimum)."""
        weight = self._weight(comp)
        lo = max(1, math.ceil(weight / self.high - 1e-9))
        if self.low > 0:
            return lo, min(comp.bit_count(), math.floor(weight / self.low + 1e-9))
        return lo, comp.bit_count()

    def _flood(self, seed: int, within: int) -> int:
        comp = frontier = seed
        while frontier:
            reach = 0
            while frontier:
                u = frontier & -frontier
                frontier ^= u
                reach |= self.nbr[u.bit_length() - 1]
            frontier = reach & within & ~comp
            comp |= frontier
        return comp

    def _weight(self, mask: int) -> float:
        weight = self.weights.get(mask)
        if weight is None:
            w = self.w
            weight = self.weights[mask] = sum([w[i] for i in _bits(mask)])
        return weight

    def _score(self, mask: int) -> float:
        score = self.scores.get(mask)
        if score is None:
            score = self.scores[mask] = self._scored(mask)
        return score

    def _scored(self, mask: int) -> float:
        units = _bits(mask)
        inside = sum(c for i in units for j, c in self.edges[i] if mask >> j & 1)
        perimeter = sum(self.pc[i] for i in units) - 2 * inside
        return self.score_of(self._weight(mask), sum(self.a[i] for i in units), perimeter)


class _OutOfBudget(Exception):
    pass
