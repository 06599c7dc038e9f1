"""Exhaustive search of the neighbourhood of a part out of band, in a large piece.

Private to :mod:`gridmap.engine.partition.solve`. Where atoms are coarse (compounds of 2,000
residents kept whole), the local search moves one atom at a time and cannot rebuild three
grids at once: it may stop with a part out of band where a different arrangement of that part
and its neighbours puts all of them in band. Each part out of band, with as many of its
neighbouring parts as keep the region within :data:`EXACT_MAX_UNITS` atoms, is searched
exhaustively (:func:`~gridmap.engine.partition.exact.exact_partition`, within its budget);
an arrangement with every part of the region in band replaces the old one. Parts outside the
region are untouched, and a part connected within the region is connected in the piece.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from gridmap.engine.partition.build import Piece
from gridmap.engine.partition.exact import EXACT_MAX_UNITS, exact_partition
from gridmap.engine.partition.search import INNER_BAND

__all__ = ["rearrange_regions", "sub_piece"]

_PASSES = 3  # rounds over the parts out of band (a region mended can free a neighbour)
_BUDGET = 20_000  # connected sets grown per region searched


def rearrange_regions(
    piece: Piece,
    labels: NDArray[np.int64],
    k: int,
    target: float,
    tolerance: float,
    inner: float = INNER_BAND,
) -> NDArray[np.int64]:
    """Labels with parts out of band rebuilt, with their neighbours, wherever a search of
    that region finds every one of its parts in band.

    Examples
    --------
    Six units in a row, weights 2 1 1 1 1 2, in three parts of 8/3 ± 30%: a first plan of
    [2], [1 1 1 1], [2] leaves the middle part heavy (4); the region of all three parts is
    rebuilt as 3, 2, 3, all in band.

    >>> ptr = np.array([0, 1, 3, 5, 7, 9, 10])
    >>> ind = np.array([1, 0, 2, 1, 3, 2, 4, 3, 5, 4])
    >>> piece = Piece(ptr, ind, np.ones(10), np.array([2, 1, 1, 1, 1, 2.0]),
    ...               np.c_[np.arange(6.0), np.zeros(6)], np.ones(6), np.full(6, 4.0))
    >>> start = np.array([0, 1, 1, 1, 1, 2])
    >>> rearrange_regions(piece, start, 3, 8 / 3, 0.3).tolist()
    [1, 1, 0, 0, 2, 2]
    """
    labels = labels.copy()
    src, dst = piece.sources(), piece.indices
    band = tolerance * target
    for _ in range(_PASSES):
        changed = False
        weights = np.bincount(labels, weights=piece.weights, minlength=k)
        out = np.flatnonzero(np.abs(weights - target) > band)
        for part in out[np.argsort(-np.abs(weights[out] - target), kind="stable")]:
            weights = np.bincount(labels, weights=piece.weights, minlength=k)
            if abs(weights[part] - target) <= band:
                continue  # mended with a neighbour's region
            size = np.bincount(labels, minlength=k)
            tried: list[int] = []
            for rings in (1, 2):  # the nearest parts first: a small region is searched whole
                chosen = _region(labels, int(part), size, src, dst, rings)
                if len(chosen) < 2 or chosen == tried:
                    continue
                tried = chosen
                units = np.flatnonzero(np.isin(labels, chosen))
                found = exact_partition(
                    sub_piece(piece, units), len(chosen), target, tolerance, _BUDGET, inner=inner
                )
                if found.labels is not None:
                    labels[units] = np.array(chosen)[found.labels]
                    changed = True
                    break
        if not changed:
            break
    return labels


def _region(
    labels: NDArray[np.int64],
    part: int,
    size: NDArray[np.int64],
    src: NDArray[np.int64],
    dst: NDArray[np.int64],
    rings: int,
) -> list[int]:
    """``part`` and the parts around it, up to ``rings`` rings out (smallest parts first),
    while the region holds at most EXACT_MAX_UNITS units."""
    chosen, n_units = [part], int(size[part])
    ring = [part]
    for _ in range(rings):
        inside = np.isin(labels[src], ring)
        touching = set(np.unique(labels[dst[inside]]).tolist()) - set(chosen)
        ring = []
        for q in sorted(touching, key=lambda q: (size[q], q)):
            if n_units + size[q] <= EXACT_MAX_UNITS:
                chosen.append(q)
                ring.append(q)
                n_units += int(size[q])
    return chosen


def sub_piece(piece: Piece, units: NDArray[np.int64]) -> Piece:
    """The piece restricted to ``units`` (sorted), in local numbering."""
    local = np.full(piece.n, -1, dtype=np.int64)
    local[units] = np.arange(len(units))
    src = piece.sources()
    keep = (local[src] >= 0) & (local[piece.indices] >= 0)
    s, d, c = local[src[keep]], local[piece.indices[keep]], piece.cost[keep]
    order = np.lexsort((d, s))
    indptr = np.concatenate([[0], np.cumsum(np.bincount(s, minlength=len(units)))])
    return Piece(
        indptr.astype(np.int64),
        d[order].astype(np.int64),
        c[order],
        piece.weights[units],
        piece.xy[units],
        piece.areas[units],
        piece.pcost[units],
    )
