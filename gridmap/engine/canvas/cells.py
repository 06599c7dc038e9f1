"""Cells of a canvas: a tessellation of the community in which every cell belongs to one atom.

Private helpers of :mod:`gridmap.engine.canvas.build`; every geometry here is in the metric CRS.

The method borrows momepy's morphological tessellation (Voronoi diagram of points densified
along the footprints' boundaries, dissolved per footprint, clipped to a limit), made exact:

1. Seeds: the atoms' footprint boundaries, segmentized (a third of the distance to the nearest
   other atom apart, between 2 and 16 m), each point labelled with its atom; a far frame of
   unlabelled points keeps every ridge near the community finite.
2. Voronoi ridges from the Delaunay triangulation (scipy/Qhull): the ridge of an edge joins the
   circumcentres of its two triangles. Only ridges between seeds of *different* atoms are
   kept: they are exactly the borders of the atoms' territories, so no dissolve of Voronoi
   polygons is needed. Circumcentres are rounded to a micrometre grid, so that cocircular
   seeds (rectangles) give one Voronoi vertex, not a knot of nanometre edges. Ridges are
   joined into chains through the vertices only two of them reach.
3. Those ridges, the region's boundary (community minus excluded gaps) and the footprints'
   boundaries are noded together and polygonized into faces. A face inside a footprint
   belongs to that footprint's atom; any other face to the atom of its nearest seed (its
   territory). This is cell_i = (territory_i ∪ footprint_i) − ⋃_{j≠i} footprint_j, and since
   every face comes from one noded planar graph, neighbours share identical vertices.
   Only what meets (or comes within a tenth of a millimetre of) another line is noded: the
   ridges already meet one another at their shared ends, so a ridge meeting no footprint
   boundary and not the region's boundary joins the polygonize as it is; a footprint
   boundary meeting nothing (no ridge, neither the region's boundary nor another footprint)
   lies inside its own territory, and is left out, since the faces it would make all belong
   to its atom (the part around it holds it).
4. Faces are dissolved per atom by dropping the segments between faces of the same atom and
   polygonizing the rest: each polygon is one connected part of an atom (a Polygon, never a
   MultiPolygon).
5. A part holding no footprint and smaller than the minimum area is given to the neighbouring
   cell it shares the longest boundary with (a neighbour above the minimum if it has one);
   larger parts, and parts with no neighbour, stay cells of their own atom.
"""

from __future__ import annotations

import numpy as np
import shapely
from numpy.typing import NDArray
from scipy import sparse
from scipy.sparse import csgraph
from scipy.spatial import Delaunay, KDTree

from gridmap.engine.graph import Adjacency, noded_adjacency

__all__ = ["dissolve", "merge_small_parts", "relabel", "territory_parts"]

# Seeds along a footprint boundary are a third of the distance to the nearest other atom apart,
# within these bounds: the border between two atoms D apart is then off by about D/36 at most
_SPACING_M = (2.0, 16.0)
_GRID_M = 1e-6
# lines nearer than this are noded together (the noding's snapping reaches a few micrometres)
_NEAR_M = 1e-4


def territory_parts(
    region: shapely.Geometry, footprints: NDArray[np.object_]
) -> tuple[NDArray[np.object_], NDArray[np.int64], NDArray[np.bool_]]:
    """Connected parts of every atom's cells: (polygons, atom of each, holds a footprint).

    ``footprints`` are the atoms' footprints, clipped to ``region`` and not overlapping.

    Examples
    --------
    Two houses in a 100 m × 40 m block: the border runs halfway between them.

    >>> houses = np.array([shapely.box(10, 10, 20, 20), shapely.box(60, 10, 70, 20)])
    >>> parts, atom, has_fp = territory_parts(shapely.box(0, 0, 100, 40), houses)
    >>> [round(p.area) for p in parts], atom.tolist(), has_fp.tolist()
    ([1600, 2400], [0, 1], [True, True])
    """
    seeds, seed_atom = _seeds(footprints, _spacing(footprints))
    ridges = _territory_borders(region, seeds, seed_atom)
    edge, rings = shapely.boundary(region), shapely.boundary(footprints)
    ridge_met, ring_met = _meeting(edge, rings, ridges)
    faces = _faces(np.concatenate([[edge], rings[ring_met]]), ridges, ridge_met)
    inside = _interior_points(faces)
    shapely.prepare(region)
    keep = shapely.contains(region, inside)
    faces, inside = faces[keep], inside[keep]

    atom = np.full(len(faces), -1, dtype=np.int64)
    point, fp = shapely.STRtree(footprints).query(inside, predicate="within")
    first = np.unique(point, return_index=True)[1]
    atom[point[first]] = fp[first]
    in_fp = atom >= 0
    if (~in_fp).any():
        nearest = KDTree(seeds).query(shapely.get_coordinates(inside[~in_fp]))[1]
        atom[~in_fp] = seed_atom[nearest]

    parts, part_atom = dissolve(faces, atom)
    face_part = _containing(parts, inside)
    has_fp = np.zeros(len(parts), dtype=bool)
    has_fp[face_part[in_fp & (face_part >= 0)]] = True
    # a footprint left out of the faces lies in its atom's part (each of its polygons)
    alone = shapely.point_on_surface(shapely.get_parts(footprints[~ring_met]))
    holder = _containing(parts, alone)
    has_fp[holder[holder >= 0]] = True
    order = np.argsort(part_atom, kind="stable")
    return parts[order], part_atom[order], has_fp[order]


def _spacing(footprints: NDArray[np.object_]) -> NDArray[np.float64]:
    """Seed spacing of each footprint, from its distance to the nearest other footprint.

    Only pairs whose envelopes come within three times the widest spacing are measured (once
    per pair): a footprint farther than that from every other gets the widest spacing anyway.
    """
    nearest = np.full(len(footprints), np.inf)
    if len(footprints) > 1:
        reach = 3.0 * _SPACING_M[1]
        box = shapely.bounds(footprints) + np.array([-reach, -reach, reach, reach])
        mine, other = shapely.STRtree(footprints).query(shapely.box(*box.T))
        pair = mine < other
        mine, other = mine[pair], other[pair]
        distance = shapely.distance(footprints[mine], footprints[other])
        np.minimum.at(nearest, mine, distance)
        np.minimum.at(nearest, other, distance)
    return np.clip(nearest / 3.0, *_SPACING_M)


def _seeds(
    footprints: NDArray[np.object_], spacing: NDArray[np.float64]
) -> tuple[NDArray[np.float64], NDArray[np.int64]]:
    """Points along the footprint boundaries, labelled with their atom.

    A point on the boundaries of two atoms (touching footprints) is dropped: it would favour
    whichever atom kept it, and the land around it is footprint, enforced anyway.
    """
    rings = shapely.segmentize(shapely.boundary(footprints), spacing)
    xy, atom = shapely.get_coordinates(rings, return_index=True)
    key = xy.view(np.complex128).ravel()
    order = np.lexsort((atom, key.imag, key.real))
    key, atom, xy = key[order], atom[order], xy[order]
    first = np.ones(len(key), dtype=bool)
    first[1:] = (key[1:] != key[:-1]) | (atom[1:] != atom[:-1])
    key, atom, xy = key[first], atom[first], xy[first]
    _, inverse, count = np.unique(key, return_inverse=True, return_counts=True)
    alone = count[inverse] == 1
    if alone.any():
        key, atom, xy = key[alone], atom[alone], xy[alone]
    return xy, atom.astype(np.int64)


def _territory_borders(
    region: shapely.Geometry, seeds: NDArray[np.float64], seed_atom: NDArray[np.int64]
) -> NDArray[np.object_]:
    """Voronoi ridges between seeds of different atoms that reach the region.

    A Voronoi ridge joins the circumcentres of the two Delaunay triangles that share an edge;
    only edges between seeds of different atoms are kept (vectorized, no Voronoi regions).
    """
    if len(np.unique(seed_atom)) < 2:
        return np.empty(0, dtype=object)
    minx, miny, maxx, maxy = shapely.bounds(region)
    centre = np.array([(minx + maxx) / 2.0, (miny + maxy) / 2.0])
    # every point of the region is nearer a seed (at most one diagonal away) than the frame
    reach = 2.0 * max(np.hypot(maxx - minx, maxy - miny), 1.0)
    ring = np.array([(-1, -1), (0, -1), (1, -1), (1, 0), (1, 1), (0, 1), (-1, 1), (-1, 0)])
    frame = ring * (np.array([maxx - minx, maxy - miny]) / 2.0 + reach)
    points = np.vstack([seeds - centre, frame])
    label = np.concatenate([seed_atom, np.full(len(frame), -1)])
    tri = Delaunay(points)
    simplex, neighbour = tri.simplices, tri.neighbors
    # the edge facing corner k of triangle t joins its other two corners
    t = np.repeat(np.arange(len(simplex)), 3)
    n = neighbour.ravel()
    corner = label[simplex]
    p, q = corner[:, [1, 2, 0]].ravel(), corner[:, [2, 0, 1]].ravel()
    keep = (n > t) & (p != q) & (p >= 0) & (q >= 0)
    t, n = t[keep], n[keep]
    # Voronoi vertices on a micrometre grid: the several circumcentres of cocircular seeds
    # (rectangular footprints) become one point instead of a knot of nanometre edges, which
    # floating point cannot orient (only those of triangles a kept ridge ends at)
    used = np.zeros(len(simplex), dtype=bool)
    used[t] = used[n] = True
    centres = np.full((len(simplex), 2), np.nan)
    centres[used] = np.round(_circumcentres(points[simplex[used]]) / _GRID_M) * _GRID_M
    coords = np.stack([centres[t], centres[n]], axis=1)
    ok = np.isfinite(coords).all(axis=(1, 2)) & (coords[:, 0] != coords[:, 1]).any(axis=1)
    coords = coords[ok] + centre  # shifted once: shared ends stay equal
    # chains of ridges are fewer lines for the noding and polygonize; a chain reaching the
    # region may run on beyond it, which only makes faces outside the region
    low, high = coords.min(axis=1), coords.max(axis=1)
    near = (high[:, 0] >= minx) & (low[:, 0] <= maxx) & (high[:, 1] >= miny) & (low[:, 1] <= maxy)
    point, vertex = np.unique(
        coords[near].reshape(-1, 2).view(np.complex128).ravel(), return_inverse=True
    )
    sequence, chain = _chains(vertex[0::2], vertex[1::2], len(point))
    ridges = shapely.linestrings(np.column_stack([point.real, point.imag])[sequence], indices=chain)
    shapely.prepare(region)
    return ridges[shapely.intersects(region, ridges)]


def _chains(
    start: NDArray[np.int64], end: NDArray[np.int64], n: int
) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """Segments (``start[i]`` to ``end[i]``, ids of ``n`` points) joined end to end through
    every point that exactly two of them reach: the point ids of the chains in order and the
    chain of each (as ``shapely.linestrings`` takes coordinates and indices). A closed loop
    starts at its lowest segment.

    Vectorized: each segment is two half-edges; a half-edge into a point of two segments goes
    on along the other one, and pointer jumping ranks every half-edge along its chain.

    Examples
    --------
    >>> xy = np.array([(0, 0), (1, 0), (2, 0), (2, 1), (1, -1), (5, 5), (6, 5), (6, 6)])
    >>> point, chain = _chains(np.array([0, 1, 2, 1, 5, 7, 6]), np.array([1, 2, 3, 4, 6, 5, 7]), 8)
    >>> shapely.linestrings(xy[point], indices=chain).tolist()  # doctest: +NORMALIZE_WHITESPACE
    [<LINESTRING (0 0, 1 0)>, <LINESTRING (1 0, 2 0, 2 1)>, <LINESTRING (1 0, 1 -1)>,
     <LINESTRING (5 5, 6 5, 6 6, 5 5)>]
    """
    m = len(start)
    # half-edge h < m runs along segment h, h + m back along it
    tail = np.concatenate([start, end])
    head = np.concatenate([end, start])
    twin = np.concatenate([np.arange(m, 2 * m), np.arange(m)])
    degree = np.bincount(tail, minlength=n)
    leaving = np.argsort(tail, kind="stable")
    first = np.cumsum(degree) - degree
    through = np.flatnonzero(degree[head] == 2)
    one, other = leaving[first[head[through]]], leaving[first[head[through]] + 1]
    after = np.full(2 * m, -1)
    after[through] = np.where(one == twin[through], other, one)
    steps = int(np.ceil(np.log2(2 * m + 1))) + 1
    last = np.where(after >= 0, after, np.arange(2 * m))
    for _ in range(steps):
        last = last[last]
    loop = np.flatnonzero(after[last] >= 0)  # half-edges of closed loops: cut before the lowest
    if len(loop):
        at = np.full(2 * m, -1)
        at[loop] = np.arange(len(loop))
        step, lowest = at[after[loop]], loop.copy()
        for _ in range(steps):
            lowest = np.minimum(lowest, lowest[step])
            step = step[step]
        after[loop[after[loop] == lowest]] = -1
    last = np.where(after >= 0, after, np.arange(2 * m))
    rank = (after >= 0).astype(np.int64)  # half-edges after this one in its chain
    for _ in range(steps):
        rank = rank + rank[last]
        last = last[last]
    # every chain is there both ways: keep the way that ends on the lower half-edge
    kept = np.flatnonzero(last < last[twin])
    closing = kept[rank[kept] == 0]
    chain = np.concatenate([last[kept], closing])
    order = np.lexsort((np.concatenate([-rank[kept], np.ones(len(closing), np.int64)]), chain))
    index = np.unique(chain[order], return_inverse=True)[1]
    return np.concatenate([tail[kept], head[closing]])[order], index.astype(np.int64)


def _meeting(
    edge: shapely.Geometry, rings: NDArray[np.object_], ridges: NDArray[np.object_]
) -> tuple[NDArray[np.bool_], NDArray[np.bool_]]:
    """Which ridges come near a footprint boundary or the region's boundary, and which
    footprint boundaries near a ridge, the region's boundary or another footprint's boundary.

    Near is within ``_NEAR_M``: lines that close, touching or not, are noded together (the
    noding may snap them together, as it would if every line were noded).
    """
    ring, ridge = shapely.STRtree(ridges).query(rings, predicate="dwithin", distance=_NEAR_M)
    # the region's boundary cut into segments: their tree finds what comes near it quickly
    xy, part = shapely.get_coordinates(shapely.get_parts(edge), return_index=True)
    same = part[1:] == part[:-1]
    pieces = shapely.STRtree(shapely.linestrings(np.stack([xy[:-1][same], xy[1:][same]], axis=1)))
    ridge_met = np.zeros(len(ridges), dtype=bool)
    ridge_met[pieces.query(ridges, predicate="dwithin", distance=_NEAR_M)[0]] = True
    ridge_met[ridge] = True
    ring_met = np.zeros(len(rings), dtype=bool)
    ring_met[pieces.query(rings, predicate="dwithin", distance=_NEAR_M)[0]] = True
    ring_met[ring] = True
    mine, other = shapely.STRtree(rings).query(rings, predicate="dwithin", distance=_NEAR_M)
    ring_met[mine[mine != other]] = True
    return ridge_met, ring_met


def _faces(
    lines: NDArray[np.object_], ridges: NDArray[np.object_], node: NDArray[np.bool_]
) -> NDArray[np.object_]:
    """Faces of the lines and the ridges, noding the lines with the ridges marked ``node``.

    The other ridges meet only ridges, at their shared (rounded) ends: they join the polygonize
    as they are. Should rounding have made two of them cross (polygonize then finds cut edges
    or invalid rings), every ridge is noded.
    """
    noded = shapely.union_all(np.concatenate([lines, ridges[node]]))
    faces, cuts, _, invalid = shapely.polygonize_full(
        np.concatenate([shapely.get_parts(noded), ridges[~node]])
    )
    if shapely.get_num_geometries(cuts) or shapely.get_num_geometries(invalid):
        noded = shapely.union_all(np.concatenate([lines, ridges]))
        faces = shapely.polygonize(shapely.get_parts(noded))
    return shapely.get_parts(faces)


def _circumcentres(triangles: NDArray[np.float64]) -> NDArray[np.float64]:
    """Circumcentres of triangles given as an (n, 3, 2) array (the Voronoi vertices)."""
    a = triangles[:, 0]
    b, c = triangles[:, 1] - a, triangles[:, 2] - a
    d = 2.0 * (b[:, 0] * c[:, 1] - b[:, 1] * c[:, 0])
    bb, cc = (b**2).sum(axis=1), (c**2).sum(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        ux = (c[:, 1] * bb - b[:, 1] * cc) / d
        uy = (b[:, 0] * cc - c[:, 0] * bb) / d
    return a + np.column_stack([ux, uy])


def dissolve(
    polygons: NDArray[np.object_], labels: NDArray[np.int64]
) -> tuple[NDArray[np.object_], NDArray[np.int64]]:
    """Dissolve polygons of a coverage by label into connected parts (Polygons).

    The segments two polygons of the same label share are dropped; the rest are polygonized
    (joined into chains first, fewer edges for polygonize, whose rings are then started where
    polygonizing the segments one by one would start them: the same polygons, vertex for
    vertex). Exact for a coverage whose neighbours share vertices (what polygonize gives), and
    vectorized: no union per label. Parts come in the order of the polygons that hold them.

    Examples
    --------
    >>> boxes = np.array([shapely.box(0, 0, 1, 1), shapely.box(1, 0, 2, 1),
    ...                   shapely.box(2, 0, 3, 1)])
    >>> parts, label = dissolve(boxes, np.array([7, 7, 8]))
    >>> [(p.area, int(k)) for p, k in zip(parts, label)]
    [(2.0, 7), (1.0, 8)]
    """
    polygons = np.asarray(polygons, dtype=object)
    labels = np.asarray(labels)
    if not len(polygons):
        return polygons, labels
    rings, owner = shapely.get_rings(polygons, return_index=True)
    xy, ring = shapely.get_coordinates(rings, return_index=True)
    # vertex ids: equal coordinates, equal id (a complex view sorts as (x, y) pairs)
    vertices, vid = np.unique(xy.view(np.complex128).ravel(), return_inverse=True)
    n = len(vertices)
    same = ring[1:] == ring[:-1]
    start, end = vid[:-1][same], vid[1:][same]
    label = labels[owner[ring[:-1][same]]]
    lo, hi = np.minimum(start, end), np.maximum(start, end)
    real = lo != hi
    key = lo[real].astype(np.int64) * n + hi[real]
    order = np.argsort(key, kind="stable")
    key, label = key[order], label[real][order]
    begin = np.flatnonzero(np.concatenate([[True], key[1:] != key[:-1]]))
    count = np.diff(np.append(begin, len(key)))
    alike = np.minimum.reduceat(label, begin) == np.maximum.reduceat(label, begin)
    border = key[begin][(count == 1) | ~alike]
    sequence, chain = _chains(border // n, border % n, n)
    points = np.column_stack([vertices.real, vertices.imag])
    lines = shapely.linestrings(points[sequence], indices=chain)
    out = _as_polygonized(shapely.get_parts(shapely.polygonize(lines)), vertices, border)
    holder = _containing(polygons, _interior_points(out))
    keep = holder >= 0  # polygonize also returns the holes (gaps), which no polygon holds
    out, holder = out[keep], holder[keep]
    order = np.argsort(holder, kind="stable")
    return out[order], labels[holder[order]]


def _as_polygonized(
    polygons: NDArray[np.object_], vertices: NDArray[np.complex128], border: NDArray[np.int64]
) -> NDArray[np.object_]:
    """The polygons that polygonizing the ``border`` segments one by one (segment ``lo-hi``
    of the vertices as the line ``(lo, hi)``, in key order) gives, from those it gives for
    the same lines joined into chains.

    Both trace the same rings the same way round; GEOS starts a ring at its first directed
    edge in input order (segment k's edges are 2k from lo to hi and 2k + 1 back) and keeps a
    polygon's holes in the order it found them, which is the same order.
    """
    if not len(polygons):
        return polygons
    n = len(vertices)
    rings, owner = shapely.get_rings(polygons, return_index=True)
    xy, ring = shapely.get_coordinates(rings, return_index=True)
    vid = np.searchsorted(vertices, xy.view(np.complex128).ravel())
    same = ring[1:] == ring[:-1]
    a, b, ring = vid[:-1][same], vid[1:][same], ring[:-1][same]
    edge = 2 * np.searchsorted(border, np.minimum(a, b) * n + np.maximum(a, b)) + (a > b)
    length = np.bincount(ring, minlength=len(rings))
    begin = np.cumsum(length) - length
    first = np.minimum.reduceat(edge, begin)
    position = np.arange(len(ring)) - begin[ring]
    start = np.zeros(len(rings), dtype=np.int64)
    at_first = edge == first[ring]
    start[ring[at_first]] = position[at_first]
    # the ring's edges from its first, then its first point again
    shift = np.concatenate([(position - start[ring]) % length[ring], length])
    which = np.concatenate([ring, np.arange(len(rings))])
    point = np.concatenate([a, a[begin + start]])
    order = np.lexsort((shift, which))
    points = np.column_stack([vertices.real, vertices.imag])[point[order]]
    new_rings = shapely.linearrings(points, indices=which[order])
    hole = np.ones(len(rings), dtype=bool)
    hole[np.unique(owner, return_index=True)[1]] = False
    order = np.lexsort((first, hole, owner))
    return shapely.polygons(new_rings[order], indices=owner[order])


def _interior_points(polygons: NDArray[np.object_]) -> NDArray[np.object_]:
    """A point inside each polygon, at least a micrometre from its boundary where it can be.

    Noding two nearly collinear lines (a footprint clipped to the region runs along the
    region's boundary) can leave a face with a spike of no width; GEOS's ``point_on_surface``
    may put its point in (or at the tip of) that spike, where a face of empty land can test as
    outside the region and be lost. Such a polygon is shrunk by a micrometre first (a polygon
    thinner than that everywhere keeps its ``point_on_surface``).

    Examples
    --------
    A triangle of 100 m² with a spike of no width along one side:

    >>> spiky = shapely.Polygon([(0, 40), (20, 40), (20, 0), (20 - 1e-10, 30)])
    >>> shapely.point_on_surface(spiky)
    <POINT (20 15)>
    >>> _interior_points(np.array([spiky]))[0]
    <POINT (15 35)>
    """
    points = shapely.point_on_surface(polygons)
    bad = np.flatnonzero(shapely.distance(shapely.boundary(polygons), points) < _GRID_M)
    if len(bad):
        again = shapely.point_on_surface(shapely.buffer(polygons[bad], -_GRID_M))
        ok = ~shapely.is_empty(again)
        points[bad[ok]] = again[ok]
    return points


def _containing(polygons: NDArray[np.object_], points: NDArray[np.object_]) -> NDArray[np.int64]:
    """Position of the polygon holding each point (the first if several), -1 for none.

    A point on the border of two polygons counts for both: the interior point of a dissolved
    part may lie on a segment that two of its faces shared.
    """
    out = np.full(len(points), -1, dtype=np.int64)
    point, poly = shapely.STRtree(polygons).query(points, predicate="intersects")
    first = np.unique(point, return_index=True)[1]
    out[point[first]] = poly[first]
    return out


def merge_small_parts(
    parts: NDArray[np.object_],
    atom: NDArray[np.int64],
    has_fp: NDArray[np.bool_],
    min_area: float,
) -> tuple[NDArray[np.object_], NDArray[np.int64], NDArray[np.bool_], Adjacency, int]:
    """Give parts without footprint below ``min_area`` to a neighbour.

    Each small part points at the neighbour it shares the most boundary with, preferring
    neighbours that stay; the parts pointing at each other are dissolved into one cell, owned
    by the atom of the part that stays (or of the largest part, for a group of small parts
    alone). Repeated until no small part has a neighbour. Returns the cells, their atoms,
    whether each holds a footprint, their adjacency and how many parts were merged away.

    Examples
    --------
    A 10 m² part of atom 0 beyond atom 1 joins atom 1's cell (parts share their vertices, as
    polygonize gives them):

    >>> parts = np.array([shapely.box(0, 0, 50, 40),
    ...                   shapely.Polygon([(50, 0), (100, 0), (100, 10), (100, 40), (50, 40)]),
    ...                   shapely.box(100, 0, 101, 10)])
    >>> cells, atom, has_fp, adj, merged = merge_small_parts(
    ...     parts, np.array([0, 1, 0]), np.array([True, True, False]), 1000.0)
    >>> [c.area for c in cells], atom.tolist(), adj.shared.tolist(), merged
    ([2000.0, 2010.0], [0, 1], [40.0], 1)
    """
    adj = noded_adjacency(parts)
    merged = 0
    for _ in range(16):
        area = shapely.area(parts)
        small = ~has_fp & (area < min_area)
        src = np.concatenate([adj.left, adj.right])
        dst = np.concatenate([adj.right, adj.left])
        shared = np.concatenate([adj.shared, adj.shared])
        ok = small[src]
        src, dst, shared = src[ok], dst[ok], shared[ok]
        if not len(src):
            break
        # per source: neighbours that stay first, then the longest shared boundary
        order = np.lexsort((dst, -shared, small[dst], src))
        src, dst = src[order], dst[order]
        first = np.unique(src, return_index=True)[1]
        n = len(parts)
        graph = sparse.coo_matrix((np.ones(len(first)), (src[first], dst[first])), shape=(n, n))
        n_groups, group = csgraph.connected_components(graph, directed=False)
        group = _first_seen(group)
        # owner of a group: a member that stays, else the largest member
        rank = np.lexsort((np.arange(n), -area, small, group))
        lead = rank[np.unique(group[rank], return_index=True)[1]]
        together = np.bincount(group, minlength=n_groups)[group] > 1
        joined, joined_group = dissolve(parts[together], group[together])
        if len(joined) != len(np.unique(group[together])):  # cannot happen: members share edges
            raise RuntimeError("merging small parts did not give one polygon per group")
        new_parts = np.empty(n_groups, dtype=object)
        new_parts[group[~together]] = parts[~together]
        new_parts[joined_group] = joined
        new_fp = np.zeros(n_groups, dtype=bool)
        np.logical_or.at(new_fp, group, has_fp)
        merged += n - n_groups
        parts, atom, has_fp = new_parts, atom[lead], new_fp
        adj = relabel(adj, group, n_groups)
    return parts, atom, has_fp, adj, merged


def relabel(adj: Adjacency, mapping: NDArray[np.int64], n: int) -> Adjacency:
    """Adjacency after renumbering (and merging) polygons: ``mapping[old] = new``.

    Shared lengths of polygons that merge add up; pairs inside one new polygon vanish.

    Examples
    --------
    >>> boxes = np.array([shapely.box(i, 0, i + 1, 1) for i in range(3)])
    >>> adj = relabel(noded_adjacency(boxes), np.array([1, 1, 0]), 2)
    >>> adj.left.tolist(), adj.right.tolist(), adj.shared.tolist()
    ([0], [1], [1.0])
    """
    left, right = mapping[adj.left], mapping[adj.right]
    lo, hi = np.minimum(left, right), np.maximum(left, right)
    keep = lo != hi
    summed = sparse.coo_matrix((adj.shared[keep], (lo[keep], hi[keep])), shape=(n, n)).tocsr()
    summed.sum_duplicates()
    coo = summed.tocoo()
    order = np.lexsort((coo.col, coo.row))
    return Adjacency(
        n,
        coo.row[order].astype(np.int64),
        coo.col[order].astype(np.int64),
        coo.data[order].astype(np.float64),
    )


def _first_seen(labels: NDArray[np.int64]) -> NDArray[np.int64]:
    """Renumber labels 0, 1, 2… in order of first appearance."""
    _, first, inverse = np.unique(labels, return_index=True, return_inverse=True)
    rank = np.argsort(np.argsort(first, kind="stable"), kind="stable")
    return rank[inverse].astype(np.int64)
