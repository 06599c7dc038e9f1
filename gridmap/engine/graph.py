"""Adjacency of polygons that tile an area (cells, atoms' territories, grids).

Two polygons are neighbours when they share a boundary of positive length; touching at a
corner does not count (a grid joined to itself through a corner is not contiguous).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import shapely
from numpy.typing import NDArray
from scipy import sparse
from scipy.sparse import csgraph

__all__ = [
    "Adjacency",
    "adjacency",
    "connected_parts",
    "firm_contacts",
    "firm_mask",
    "noded_adjacency",
    "shared_segments",
]


@dataclass(frozen=True)
class Adjacency:
    """Undirected neighbour pairs ``left[k] < right[k]`` with their shared boundary length."""

    n: int
    left: NDArray[np.int64]
    right: NDArray[np.int64]
    shared: NDArray[np.float64]

    def matrix(self) -> sparse.csr_matrix:
        """Symmetric n×n sparse matrix of shared lengths."""
        rows = np.concatenate([self.left, self.right])
        cols = np.concatenate([self.right, self.left])
        data = np.concatenate([self.shared, self.shared])
        return sparse.csr_matrix((data, (rows, cols)), shape=(self.n, self.n))


def adjacency(polygons: NDArray[np.object_], min_shared: float = 1e-9) -> Adjacency:
    """Neighbours among ``polygons`` (in a metric CRS), sharing more than ``min_shared``.

    Examples
    --------
    >>> import shapely
    >>> boxes = np.array([shapely.box(0, 0, 1, 1), shapely.box(1, 0, 2, 1),
    ...                   shapely.box(2, 1, 3, 2)])
    >>> adj = adjacency(boxes)
    >>> adj.left.tolist(), adj.right.tolist(), adj.shared.tolist()
    ([0], [1], [1.0])
    """
    polygons = np.asarray(polygons, dtype=object)
    tree = shapely.STRtree(polygons)
    left, right = tree.query(polygons, predicate="intersects")
    keep = left < right
    left, right = left[keep], right[keep]
    shared = shapely.length(
        shapely.intersection(shapely.boundary(polygons[left]), shapely.boundary(polygons[right]))
    )
    ok = shared > min_shared
    return Adjacency(
        len(polygons),
        left[ok].astype(np.int64),
        right[ok].astype(np.int64),
        shared[ok].astype(np.float64),
    )


def shared_segments(
    polygons: NDArray[np.object_],
) -> tuple[NDArray[np.float64], NDArray[np.int64], NDArray[np.int64]]:
    """The segments two polygons of a noded coverage share: (ends, left, right).

    ``ends`` is (m, 2, 2): each segment's two end points; ``left[k] < right[k]`` are the
    polygons on either side. Only for polygons whose neighbours share their vertices (what
    polygonize gives, or a canvas): a boundary one side has as a single segment and the
    other as two is not found. Vectorized: the segments of every ring are matched by the
    ids of their end points, no intersection is computed.

    Examples
    --------
    >>> import shapely
    >>> boxes = np.array([shapely.box(0, 0, 1, 1), shapely.box(1, 0, 2, 1)])
    >>> ends, left, right = shared_segments(boxes)
    >>> sorted(map(tuple, ends[0].tolist())), left.tolist(), right.tolist()
    ([(1.0, 0.0), (1.0, 1.0)], [0], [1])
    """
    polygons = np.asarray(polygons, dtype=object)
    rings, owner = shapely.get_rings(polygons, return_index=True)
    xy, ring = shapely.get_coordinates(rings, return_index=True)
    if not len(xy):
        return np.zeros((0, 2, 2)), np.zeros(0, np.int64), np.zeros(0, np.int64)
    # vertex ids: equal coordinates, equal id (a complex view sorts as (x, y) pairs)
    vertices, vid = np.unique(
        np.ascontiguousarray(xy).view(np.complex128).ravel(), return_inverse=True
    )
    vid = vid.ravel()
    same = ring[1:] == ring[:-1]
    start, end = vid[:-1][same], vid[1:][same]
    own = owner[ring[:-1][same]]
    lo, hi = np.minimum(start, end), np.maximum(start, end)
    real = lo != hi
    key = lo[real].astype(np.int64) * len(vertices) + hi[real]
    own = own[real].astype(np.int64)
    order = np.lexsort((own, key))
    key, own = key[order], own[order]
    twice = (key[1:] == key[:-1]) & (own[1:] != own[:-1])
    key = key[:-1][twice]
    ends = vertices[np.column_stack([key // len(vertices), key % len(vertices)])]
    return (
        np.stack([ends.real, ends.imag], axis=-1),
        own[:-1][twice],
        own[1:][twice],
    )


def noded_adjacency(polygons: NDArray[np.object_], min_shared: float = 1e-9) -> Adjacency:
    """:func:`adjacency` of a noded coverage (neighbours share their vertices), from
    :func:`shared_segments`: the same pairs and lengths, without intersecting boundaries.

    Examples
    --------
    >>> import shapely
    >>> boxes = np.array([shapely.box(0, 0, 1, 1), shapely.box(1, 0, 2, 1),
    ...                   shapely.box(2, 1, 3, 2)])
    >>> adj = noded_adjacency(boxes)
    >>> adj.left.tolist(), adj.right.tolist(), adj.shared.tolist()
    ([0], [1], [1.0])
    """
    ends, left, right = shared_segments(polygons)
    n = len(polygons)
    length = np.hypot(*(ends[:, 1] - ends[:, 0]).T)
    pairs, inverse = np.unique(left * n + right, return_inverse=True)
    shared = np.bincount(inverse.ravel(), weights=length, minlength=len(pairs))
    ok = shared > min_shared
    return Adjacency(
        n,
        (pairs[ok] // n).astype(np.int64),
        (pairs[ok] % n).astype(np.int64),
        shared[ok].astype(np.float64),
    )


def connected_parts(adj: Adjacency, members: NDArray[np.bool_] | None = None) -> NDArray[np.int64]:
    """Label of the connected part of each polygon, among ``members`` (others get -1).

    Examples
    --------
    >>> import shapely
    >>> boxes = np.array([shapely.box(i, 0, i + 1, 1) for i in range(4)])
    >>> connected_parts(adjacency(boxes), np.array([True, True, False, True])).tolist()
    [0, 0, -1, 1]
    """
    members = np.ones(adj.n, dtype=bool) if members is None else np.asarray(members, dtype=bool)
    keep = members[adj.left] & members[adj.right]
    graph = sparse.csr_matrix(
        (np.ones(int(keep.sum())), (adj.left[keep], adj.right[keep])), shape=(adj.n, adj.n)
    )
    _, labels = csgraph.connected_components(graph, directed=False)
    out = np.full(adj.n, -1, dtype=np.int64)
    # renumber the parts of members 0, 1, 2… in order of first appearance
    _, first = np.unique(labels[members], return_inverse=True)
    order = np.unique(labels[members], return_index=True)[1]
    rank = np.argsort(np.argsort(order))
    out[members] = rank[first]
    return out


def firm_contacts(adj: Adjacency, min_shared: float) -> Adjacency:
    """``adj`` without contacts shorter than ``min_shared``, except those still needed to keep
    connected what was connected (:func:`firm_mask` says which are kept).

    Cells of a Voronoi canvas often touch along a few millimetres: a grid joined to itself
    only there is a bow-tie on the map, though connected in the graph. Dropping such contacts
    keeps grids joined by real boundaries; where a contact is the only link between two
    pieces, the longest such links stay (Kruskal), so no unit is cut off.

    Examples
    --------
    A row of three boxes whose middle contact is 1 mm long, and a fourth box touching both
    ends of the row along 1 m: the short contact is dropped, the row stays connected.

    >>> adj = Adjacency(4, np.array([0, 1, 0, 2]), np.array([1, 2, 3, 3]),
    ...                 np.array([1.0, 0.001, 1.0, 1.0]))
    >>> firm = firm_contacts(adj, 0.5)
    >>> firm.left.tolist(), firm.right.tolist()
    ([0, 0, 2], [1, 3, 3])
    >>> firm_contacts(Adjacency(2, np.array([0]), np.array([1]), np.array([0.001])), 0.5).n
    2
    """
    kept = firm_mask(adj, min_shared)
    return Adjacency(adj.n, adj.left[kept], adj.right[kept], adj.shared[kept])


def firm_mask(adj: Adjacency, min_shared: float) -> NDArray[np.bool_]:
    """Which contacts of ``adj`` :func:`firm_contacts` keeps."""
    strong = adj.shared >= min_shared
    if strong.all():
        return strong
    kept = strong.copy()
    firm = Adjacency(adj.n, adj.left[strong], adj.right[strong], adj.shared[strong])
    labels = connected_parts(firm)
    if labels.max() > connected_parts(adj).max():  # some weak links are bridges: keep the longest
        parent = list(range(int(labels.max()) + 1))

        def root(i: int) -> int:
            while parent[i] != i:
                parent[i] = parent[parent[i]]
                i = parent[i]
            return i

        for k in np.flatnonzero(~strong)[np.argsort(-adj.shared[~strong], kind="stable")]:
            a, b = root(int(labels[adj.left[k]])), root(int(labels[adj.right[k]]))
            if a != b:
                parent[a] = b
                kept[k] = True
    return kept
