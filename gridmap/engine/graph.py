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

__all__ = ["Adjacency", "adjacency", "connected_parts"]


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
