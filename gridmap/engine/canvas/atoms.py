"""Atoms of a canvas: units kept whole, scattered buildings grouped by proximity.

Private helpers of :mod:`gridmap.engine.canvas.build`; every geometry here is in the metric CRS.

Rules, in the order they apply:

1. A building with a ``unit_id`` of a unit on the canvas belongs to that unit's atom.
2. A scattered building (no ``unit_id``) that overlaps a unit polygon by more than
   :data:`OVERLAP_M2` is adopted by the unit it overlaps most: its footprint cannot be cut
   off the unit's, and adopting it alone is kinder than merging its whole cluster.
3. The other scattered buildings are grouped by single linkage: two footprints closer than the
   cluster distance are linked, unless the straight segment between their nearest points
   crosses a main road line; clusters are the connected parts of the links.
4. A cluster heavier than the cap is split by k-means on building centroids, and the parts
   again, until each part is under the cap or is a single building.
5. Atoms whose footprints (clipped to the canvas) still overlap by more than
   :data:`OVERLAP_M2` are merged into one atom: a cell border cannot run through both.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import shapely
from numpy.typing import NDArray
from scipy import sparse
from scipy.cluster.vq import kmeans2
from scipy.sparse import csgraph

__all__ = ["OVERLAP_M2", "AtomSet", "make_atoms"]

OVERLAP_M2 = 1e-6  # footprints overlapping by more than this cannot be in different atoms

# when atoms merge, the merged atom takes the kind (and unit) that comes first here
_PRIORITY = {"compound": 0, "social_unit": 1, "other_unit": 2, "cluster": 3}


@dataclass(frozen=True)
class AtomSet:
    """Atoms in order: kind, unit id, name, footprint; and the atom of each building."""

    kind: list[str]
    unit_id: list[str | None]
    name: list[str | None]
    footprint: NDArray[np.object_]
    of_building: NDArray[np.int64]
    notes: dict[str, Any] = field(default_factory=dict)


def make_atoms(
    footprints: NDArray[np.object_],
    unit_of_building: NDArray[np.int64],
    weight: NDArray[np.float64],
    units: NDArray[np.object_],
    unit_kind: list[str],
    unit_ids: list[str],
    unit_names: list[str | None],
    main_roads: NDArray[np.object_],
    *,
    cluster_distance: float,
    max_weight: float,
    seed: int,
) -> AtomSet:
    """The atoms of a community from its buildings and units (footprints clipped to it).

    ``unit_of_building`` is the position in ``units`` of each building's unit, -1 if scattered.
    Notes for the report ("adopted", "split", "merged") come back in ``AtomSet.notes``; they
    name buildings and units by position, the caller turns positions into ids.
    """
    notes: dict[str, Any] = {}
    unit_of = unit_of_building.copy()
    adopted = _adopt(footprints, unit_of, units)
    notes["adopted"] = adopted
    scattered = np.flatnonzero(unit_of < 0)
    cluster = _clusters(footprints[scattered], main_roads, cluster_distance)
    cluster, splits = _split_heavy(
        cluster, footprints[scattered], weight[scattered], max_weight, seed
    )
    notes["split"] = [(scattered[members].tolist(), parts) for members, parts in splits]

    n_units = len(units)
    atom = unit_of.copy()
    atom[scattered] = n_units + cluster
    n_atoms = n_units + (int(cluster.max()) + 1 if len(cluster) else 0)
    kind = list(unit_kind) + ["cluster"] * (n_atoms - n_units)
    unit_id: list[str | None] = list(unit_ids) + [None] * (n_atoms - n_units)
    name: list[str | None] = list(unit_names) + [None] * (n_atoms - n_units)
    extra = [[u] for u in units] + [[] for _ in range(n_atoms - n_units)]
    fp = _union_by(footprints, atom, n_atoms, extra)  # pieces are clipped, so is the union

    group = _overlap_groups(fp)
    order = np.argsort(group, kind="stable")
    merged = np.split(order, np.flatnonzero(np.diff(group[order])) + 1) if n_atoms else []
    notes["merged"] = [
        {
            "atom": g,
            "units": [unit_ids[m] for m in ms if m < n_units],
            "clusters": int((ms >= n_units).sum()),
        }
        for g, ms in enumerate(merged)
        if len(ms) > 1
    ]
    if len(merged) < n_atoms:
        kind, unit_id, name, fp, atom = _merge(merged, kind, unit_id, name, fp, atom, group)
    return AtomSet(kind, unit_id, name, fp, atom.astype(np.int64), notes)


def _adopt(
    footprints: NDArray[np.object_], unit_of: NDArray[np.int64], units: NDArray[np.object_]
) -> list[tuple[int, int]]:
    """Give scattered buildings overlapping a unit polygon to that unit (in place)."""
    scattered = np.flatnonzero(unit_of < 0)
    if not len(scattered) or not len(units):
        return []
    b, u = shapely.STRtree(units).query(footprints[scattered], predicate="intersects")
    area = shapely.area(shapely.intersection(footprints[scattered[b]], units[u]))
    ok = area > OVERLAP_M2
    b, u, area = b[ok], u[ok], area[ok]
    order = np.lexsort((u, -area, b))  # per building, the largest overlap first
    b, u = b[order], u[order]
    first = np.unique(b, return_index=True)[1]
    unit_of[scattered[b[first]]] = u[first]
    return list(zip(scattered[b[first]].tolist(), u[first].tolist(), strict=True))


def _clusters(
    footprints: NDArray[np.object_], main_roads: NDArray[np.object_], distance: float
) -> NDArray[np.int64]:
    """Single-linkage clusters of footprints, never linked across a main road."""
    n = len(footprints)
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    # candidate pairs by their bounding boxes grown by the distance, each pair measured once
    # (the tree's "dwithin" query would measure every pair both ways)
    minx, miny, maxx, maxy = shapely.bounds(footprints).T
    grown = shapely.box(minx - distance, miny - distance, maxx + distance, maxy + distance)
    left, right = shapely.STRtree(footprints).query(grown)
    keep = left < right
    left, right = left[keep], right[keep]
    near = shapely.dwithin(footprints[left], footprints[right], distance)
    left, right = left[near], right[near]
    if len(main_roads) and len(left):
        # a link lies in the box of its two footprints: only a road meeting that box can cut it
        roads = shapely.STRtree(main_roads)
        box = shapely.box(
            np.minimum(minx[left], minx[right]),
            np.minimum(miny[left], miny[right]),
            np.maximum(maxx[left], maxx[right]),
            np.maximum(maxy[left], maxy[right]),
        )
        ask = np.unique(roads.query(box)[0])
        links = shapely.shortest_line(footprints[left[ask]], footprints[right[ask]])
        crossing = np.zeros(len(left), dtype=bool)
        crossing[ask[roads.query(links, predicate="intersects")[0]]] = True
        left, right = left[~crossing], right[~crossing]
    graph = sparse.coo_matrix((np.ones(len(left)), (left, right)), shape=(n, n))
    _, labels = csgraph.connected_components(graph, directed=False)
    return _first_seen(labels)


def _first_seen(labels: NDArray[np.int64]) -> NDArray[np.int64]:
    """Renumber labels 0, 1, 2… in order of first appearance (deterministic atom order)."""
    _, first, inverse = np.unique(labels, return_index=True, return_inverse=True)
    rank = np.argsort(np.argsort(first, kind="stable"), kind="stable")
    return rank[inverse].astype(np.int64)


def _split_heavy(
    cluster: NDArray[np.int64],
    footprints: NDArray[np.object_],
    weight: NDArray[np.float64],
    cap: float,
    seed: int,
) -> tuple[NDArray[np.int64], list[tuple[NDArray[np.int64], int]]]:
    """Split clusters heavier than ``cap`` by k-means on centroids until every part fits."""
    if not len(cluster):
        return cluster, []
    totals = np.bincount(cluster, weights=weight)
    heavy = np.flatnonzero(totals > cap)
    if not len(heavy):
        return cluster, []
    rng = np.random.default_rng(seed)
    xy = shapely.get_coordinates(shapely.centroid(footprints))
    out = cluster.copy()
    next_label = int(cluster.max()) + 1
    splits = []
    for c in heavy:
        members = np.flatnonzero(cluster == c)
        parts = _kmeans_parts(members, xy, weight, cap, rng)
        for k, part in enumerate(parts[1:]):
            out[part] = next_label + k
        next_label += len(parts) - 1
        splits.append((members, len(parts)))
    return _first_seen(out), splits


def _kmeans_parts(
    members: NDArray[np.int64],
    xy: NDArray[np.float64],
    weight: NDArray[np.float64],
    cap: float,
    rng: np.random.Generator,
) -> list[NDArray[np.int64]]:
    """Parts of one heavy cluster, each under ``cap`` or a single building."""
    todo, done = [members], []
    while todo:
        part = todo.pop()
        total = weight[part].sum()
        if total <= cap or len(part) == 1:
            done.append(part)
            continue
        k = min(len(part), math.ceil(total / cap))
        local = xy[part] - xy[part].mean(axis=0)
        with warnings.catch_warnings():  # an empty cluster only means fewer parts
            warnings.simplefilter("ignore")
            _, label = kmeans2(local, k, minit="++", rng=rng)
        if len(np.unique(label)) < 2:  # identical centroids: cut along the longer axis
            axis = int(np.ptp(local, axis=0).argmax())
            label = (local[:, axis] > np.median(local[:, axis])).astype(int)
            if len(np.unique(label)) < 2:
                label = np.arange(len(part)) % 2
        todo.extend(part[label == v] for v in np.unique(label)[::-1])
    return sorted(done, key=lambda p: int(p.min()))


def _union_by(
    geoms: NDArray[np.object_],
    group: NDArray[np.int64],
    n_groups: int,
    extra: list[list[shapely.Geometry]],
) -> NDArray[np.object_]:
    """Union of ``geoms`` per group, with each group's ``extra`` geometries."""
    order = np.argsort(group, kind="stable")
    bounds = np.searchsorted(group[order], np.arange(n_groups + 1))
    count = np.diff(bounds) + np.array([len(e) for e in extra], dtype=np.int64)
    # members (extra first) in a (groups × most members) table padded with None: the groups
    # of two or more are unioned in one call; a single member is kept as it is
    table = np.full((n_groups, max(int(count.max(initial=0)), 1)), None, dtype=object)
    for g in range(n_groups):
        members = [*extra[g], *geoms[order[bounds[g] : bounds[g + 1]]]]
        table[g, : len(members)] = members
    out = table[:, 0].copy()
    many = count > 1
    # a group whose members are apart (no two intersect) is a coverage without shared edges:
    # GEOS's coverage union only assembles it, the general union would overlay every pair
    apart = many & _apart(table)
    if apart.any():
        out[apart] = shapely.coverage_union_all(table[apart], axis=1)
    if (many & ~apart).any():
        out[many & ~apart] = shapely.union_all(table[many & ~apart], axis=1)
    return out


def _apart(table: NDArray[np.object_]) -> NDArray[np.bool_]:
    """Per row of a table of geometries (padded with None): no two of its geometries meet."""
    present = ~shapely.is_missing(table)
    row, members = np.nonzero(present)[0], table[present]
    left, right = shapely.STRtree(members).query(members)
    pair = (left < right) & (row[left] == row[right])
    left, right = left[pair], right[pair]
    meet = shapely.intersects(members[left], members[right])
    out = np.ones(len(table), dtype=bool)
    out[row[left[meet]]] = False
    return out


def _overlap_groups(footprints: NDArray[np.object_]) -> NDArray[np.int64]:
    """Label per atom: atoms whose footprints overlap (transitively) share a label."""
    n = len(footprints)
    # pairs of overlapping boxes, each tested once; only pairs whose interiors meet can
    # overlap by an area, so only those are intersected
    left, right = shapely.STRtree(footprints).query(footprints)
    keep = left < right
    left, right = left[keep], right[keep]
    meet = shapely.relate_pattern(footprints[left], footprints[right], "T********")
    left, right = left[meet], right[meet]
    area = shapely.area(shapely.intersection(footprints[left], footprints[right]))
    ok = area > OVERLAP_M2
    graph = sparse.coo_matrix((np.ones(int(ok.sum())), (left[ok], right[ok])), shape=(n, n))
    return _first_seen(csgraph.connected_components(graph, directed=False)[1])


def _merge(
    groups: list[NDArray[np.int64]],
    kind: list[str],
    unit_id: list[str | None],
    name: list[str | None],
    fp: NDArray[np.object_],
    atom: NDArray[np.int64],
    group: NDArray[np.int64],
) -> tuple[list[str], list[str | None], list[str | None], NDArray[np.object_], NDArray[np.int64]]:
    """Merge each group of atoms into one, its kind and unit from the highest-priority member."""
    new_kind, new_unit, new_name = [], [], []
    new_fp = np.empty(len(groups), dtype=object)
    for g, members in enumerate(groups):
        lead = min(members.tolist(), key=lambda m: (_PRIORITY[kind[m]], m))
        new_kind.append(kind[lead])
        new_unit.append(unit_id[lead])
        names = [name[m] for m in members if name[m]]
        new_name.append("、".join(dict.fromkeys(names)) if names else None)
        new_fp[g] = shapely.union_all(fp[members]) if len(members) > 1 else fp[members[0]]
    return new_kind, new_unit, new_name, new_fp, group[atom]
