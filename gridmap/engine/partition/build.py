"""First plan of a balanced partition of one connected graph: seeds, power diagram, contiguity.

Private to :mod:`gridmap.engine.partition.solve`; the local search
(:mod:`gridmap.engine.partition.search`, :mod:`gridmap.engine.partition.improve`) improves
what this module builds.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass
from functools import cached_property

import numpy as np
from numpy.typing import NDArray
from scipy import sparse
from scipy.sparse import csgraph
from scipy.spatial import cKDTree

__all__ = ["Piece", "components", "first_plan", "kmeanspp", "make_contiguous", "power_diagram"]

_SMALL = 256  # up to this many units, connected components by a Python union-find
_DENSE = 16  # up to this many parts, the power diagram computes every unit-centre distance


@dataclass(frozen=True)
class Piece:
    """A connected graph in local numbering (CSR, both directions) and its units' data."""

    indptr: NDArray[np.int64]
    indices: NDArray[np.int64]
    cost: NDArray[np.float64]  # per directed edge: shared length × edge cost
    weights: NDArray[np.float64]
    xy: NDArray[np.float64]
    areas: NDArray[np.float64]
    pcost: NDArray[np.float64]  # per unit: perimeter, shared stretches priced by their edge cost

    @property
    def n(self) -> int:
        """Number of units."""
        return len(self.weights)

    def sources(self) -> NDArray[np.int64]:
        """The first unit of every directed edge (``indices`` holds the second); the same
        array each time (not to be written to)."""
        return self._sources

    @cached_property
    def _sources(self) -> NDArray[np.int64]:
        return np.repeat(np.arange(self.n), np.diff(self.indptr))

    @cached_property
    def lists(self) -> tuple[list[list[int]], list[list[float]]]:
        """Each unit's neighbours, and the costs of its edges to them, as Python lists (for
        the local searches; made once, not to be written to)."""
        ptr, ind, cst = self.indptr.tolist(), self.indices.tolist(), self.cost.tolist()
        rows = range(self.n)
        return [ind[ptr[i] : ptr[i + 1]] for i in rows], [cst[ptr[i] : ptr[i + 1]] for i in rows]


def components(n: int, src: NDArray[np.int64], dst: NDArray[np.int64]) -> NDArray[np.int64]:
    """Connected component (0, 1, … in order of first unit) of each of ``n`` units.

    Examples
    --------
    >>> components(5, np.array([0, 3]), np.array([2, 4])).tolist()
    [0, 1, 0, 2, 2]
    """
    if n > _SMALL:  # scipy: below this size its set-up costs more than a Python union-find
        order = np.argsort(src, kind="stable")
        indptr = np.concatenate([[0], np.cumsum(np.bincount(src, minlength=n))])
        graph = sparse.csr_matrix((np.ones(len(src)), dst[order], indptr), shape=(n, n))
        roots = csgraph.connected_components(graph, directed=False)[1]
    else:
        parent = list(range(n))
        for a, b in zip(src.tolist(), dst.tolist(), strict=True):
            while parent[a] != a:  # path halving keeps every parent below its child
                parent[a] = a = parent[parent[a]]
            while parent[b] != b:
                parent[b] = b = parent[parent[b]]
            if a != b:
                parent[max(a, b)] = min(a, b)
        number: dict[int, int] = {}  # each root's component, in order of first unit
        for x in range(n):  # parents have smaller numbers: one pass flattens every chain
            parent[x] = root = parent[parent[x]]
            if root not in number:
                number[root] = len(number)
        return np.array([number[root] for root in parent], dtype=np.int64)
    _, first, inverse = np.unique(roots, return_index=True, return_inverse=True)
    rank = np.empty(len(first), dtype=np.int64)
    rank[np.argsort(first, kind="stable")] = np.arange(len(first))
    return rank[inverse]


def kmeanspp(
    rng: np.random.Generator, xy: NDArray[np.float64], w: NDArray[np.float64], k: int
) -> NDArray[np.int64]:
    """``k`` distinct seed units by k-means++ weighted by ``w`` (weightless units count a bit).

    Examples
    --------
    >>> xy = np.array([[0.0, 0.0], [1.0, 0.0], [10.0, 0.0], [11.0, 0.0]])
    >>> sorted((kmeanspp(np.random.default_rng(0), xy, np.ones(4), 2) // 2).tolist())
    [0, 1]
    """
    n = len(xy)
    p = w + max(float(w.mean()), 1e-300) * 1e-3
    chosen = np.empty(k, dtype=np.int64)
    chosen[0] = _draw(rng, p / p.sum())
    d2 = ((xy - xy[chosen[0]]) ** 2).sum(axis=1)
    d2[chosen[0]] = 0.0
    for j in range(1, k):
        q = p * d2
        total = q.sum()
        if total > 0:
            chosen[j] = _draw(rng, q / total)
        else:  # every unit left sits where a seed is: take the first one not chosen
            chosen[j] = np.setdiff1d(np.arange(n), chosen[:j])[0]
        d2 = np.minimum(d2, ((xy - xy[chosen[j]]) ** 2).sum(axis=1))
        d2[chosen[: j + 1]] = 0.0
    return chosen


def _draw(rng: np.random.Generator, p: NDArray[np.float64]) -> int:
    """A unit drawn with probabilities ``p`` (summing to 1): the steps of ``rng.choice(len(p),
    p=p)``, so the same unit from the same generator, without the checks of its arguments
    that take most of its time on a few dozen units."""
    cdf = p.cumsum()
    cdf /= cdf[-1]
    return int(cdf.searchsorted(rng.random(), side="right"))


def power_diagram(
    piece: Piece, seeds: NDArray[np.int64], target: float, iterations: int = 16
) -> NDArray[np.int64]:
    """Labels from Lloyd iterations on a power diagram whose offsets balance the weights.

    A unit joins the part minimizing ``distance² - offset``; a light part's offset grows and a
    heavy part's shrinks, and each centre moves to its part's area centroid: parts come out
    compact (convex cells of a power diagram) and roughly balanced.
    """
    k = len(seeds)
    xy, w, a = piece.xy, piece.weights, piece.areas
    centres = xy[seeds].astype(float)
    offset = np.zeros(k)
    r2 = max(float(a.sum()) / k / math.pi, 1e-12)  # a part's squared radius: the offsets' unit
    m = min(k, 8)
    rows = np.arange(piece.n)
    labels = np.zeros(piece.n, dtype=np.int64)
    ax, ay = a * xy[:, 0], a * xy[:, 1]
    ux, uy = xy[:, :1], xy[:, 1:]
    for it in range(iterations):
        if k <= _DENSE:  # a few parts: every distance (cheaper than a tree)
            dx, dy = ux - centres[:, 0], uy - centres[:, 1]
            labels = (dx * dx + dy * dy - offset).argmin(axis=1)
        else:  # many parts: each unit looks at its m nearest centres
            dist, cand = cKDTree(centres).query(xy, m)
            labels = cand[rows, np.argmin(dist**2 - offset[cand], axis=1)]
        weight = np.bincount(labels, weights=w, minlength=k)
        step = 0.5 if it < iterations // 2 else 0.25
        # (the clip to ±1 by two ufuncs: np.clip's own overhead is most of its time here)
        offset += step * r2 * np.minimum(np.maximum((target - weight) / target, -1.0), 1.0)
        area = np.bincount(labels, weights=a, minlength=k)
        cx = np.bincount(labels, weights=ax, minlength=k)
        cy = np.bincount(labels, weights=ay, minlength=k)
        if area.all():
            centres[:, 0] = cx / area
            centres[:, 1] = cy / area
        else:
            has = area > 0
            centres[has, 0] = cx[has] / area[has]
            centres[has, 1] = cy[has] / area[has]
    return labels


def make_contiguous(piece: Piece, labels: NDArray[np.int64], k: int) -> NDArray[np.int64]:
    """Keep each part's heaviest connected piece; the other fragments join neighbouring parts.

    A part left without any unit takes one from the heaviest part of two units or more (the
    last unit of a breadth-first visit, so the donor stays connected).
    """
    labels = labels.copy()
    src, dst = piece.sources(), piece.indices
    same = (labels[src] == labels[dst]) & (src < dst)
    comp = components(piece.n, src[same], dst[same])
    if comp.max() == k - 1 and np.bincount(labels, minlength=k).all():
        return labels  # k pieces and every part has one: each part is connected already
    score = np.bincount(comp, weights=piece.weights) + 1e-9 * np.bincount(comp)
    comp_label = np.zeros(len(score), dtype=np.int64)
    comp_label[comp] = labels
    main = np.full(k, -1, dtype=np.int64)
    for c in np.argsort(-score, kind="stable"):
        if main[comp_label[c]] < 0:
            main[comp_label[c]] = c
    orphan = main[labels] != comp
    while orphan.any():
        # orphans next to a settled unit join the part they share most boundary with
        o_src = orphan[src] & ~orphan[dst]
        if not o_src.any():  # cannot happen in a connected piece
            break
        gain: dict[tuple[int, int], float] = {}
        for u, lab, c in zip(
            src[o_src].tolist(),
            labels[dst[o_src]].tolist(),
            piece.cost[o_src].tolist(),
            strict=True,
        ):
            gain[u, lab] = gain.get((u, lab), 0.0) + c + 1e-12
        best: dict[int, tuple[float, int]] = {}
        for (u, lab), g in gain.items():
            if u not in best or (g, -lab) > (best[u][0], -best[u][1]):
                best[u] = (g, lab)
        for u, (_, lab) in best.items():
            labels[u] = lab
            orphan[u] = False
    for part in np.flatnonzero(np.bincount(labels, minlength=k) == 0):
        labels = _seed_empty(piece, labels, int(part), k)
    return labels


def _seed_empty(piece: Piece, labels: NDArray[np.int64], part: int, k: int) -> NDArray[np.int64]:
    """Give the empty ``part`` the last unit a breadth-first visit of the heaviest part reaches."""
    weight = np.bincount(labels, weights=piece.weights, minlength=k) + 1e-9
    weight[np.bincount(labels, minlength=k) < 2] = -np.inf
    members = labels == int(np.argmax(weight))
    start = int(np.flatnonzero(members)[0])
    seen = {start}
    last = start
    queue = deque([start])
    while queue:
        u = queue.popleft()
        last = u
        for v in piece.indices[piece.indptr[u] : piece.indptr[u + 1]].tolist():
            if members[v] and v not in seen:
                seen.add(v)
                queue.append(v)
    labels = labels.copy()
    labels[last] = part
    return labels


def first_plan(piece: Piece, k: int, target: float, rng: np.random.Generator) -> NDArray[np.int64]:
    """Contiguous labels 0..k-1 for ``piece``: k-means++ seeds, power diagram, repair."""
    seeds = kmeanspp(rng, piece.xy, piece.weights, k)
    return make_contiguous(piece, power_diagram(piece, seeds, target), k)
