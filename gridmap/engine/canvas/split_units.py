"""Split a unit too heavy for one grid along its own buildings, before the canvas is laid.

A compound of 9,000 residents cannot be one grid of about 3,000. It is divided into parts
of at most ``part_max`` (the partition passes about half the band's width, so that the
grids can be balanced from the parts, as from scattered buildings' atoms; by default k =
round(weight / target) parts): its buildings are halved again and again across the group's
long axis, each half holding its share of the weight, and each part gets the share of the
unit's polygon nearest its buildings, with every footprint wholly inside its own part. Lines
between parts run between buildings, never through one. A unit of a single building cannot
be split: it stays whole and becomes one grid; both are reported.
"""

from __future__ import annotations

import math
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

__all__ = ["split_heavy_units"]


def split_heavy_units(
    buildings: gpd.GeoDataFrame,
    units: gpd.GeoDataFrame,
    *,
    target: float,
    maximum: float,
    weight: str = "residents",
    metric: Any,
    part_max: float | None = None,
) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame, list[str]]:
    """(buildings, units, notes) with every unit heavier than ``maximum`` split where possible.

    ``metric`` converts lon/lat arrays to metres and back: a pair (forward, inverse) of
    functions ``f(x, y) -> (x, y)``. Parts are new units "<id>#1", "<id>#2"…; their buildings'
    ``unit_id`` points at them. ``part_max``: parts of at most this weight (a single building
    heavier stays a part of its own); default: ``round(weight / target)`` parts.
    """
    forward, inverse = metric
    unit_of = buildings["unit_id"].to_numpy(dtype=object) if len(buildings) else np.empty(0, object)
    values = pd.to_numeric(buildings[weight], errors="coerce").to_numpy(dtype=float)
    values = np.nan_to_num(values) if len(buildings) else np.zeros(0)
    code, uids = pd.factorize(unit_of)
    held = code >= 0
    sums = np.bincount(code[held], weights=values[held], minlength=len(uids))
    totals = dict(zip(uids, sums, strict=True))
    heavy = [uid for uid in units["id"] if totals.get(uid, 0.0) > maximum]
    notes: list[str] = []
    if not heavy:
        return buildings, units, notes
    new_unit_of = unit_of.copy()
    unit_ids = units["id"].to_numpy(dtype=object)
    names = units["name"].to_numpy(dtype=object) if "name" in units.columns else None
    unit_geoms = np.asarray(units.geometry.values, dtype=object)
    building_geoms = np.asarray(buildings.geometry.values, dtype=object)
    # the units out, as rows of ``units`` (a split unit's row once per part), and what the
    # parts change in them, by position in the output
    rows = np.flatnonzero(~np.isin(unit_ids, heavy)).tolist()
    part_id: dict[int, str] = {}
    part_name: dict[int, str] = {}
    part_geom: dict[int, shapely.Geometry] = {}
    for uid in heavy:
        row = int(np.flatnonzero(unit_ids == uid)[0])
        members = np.flatnonzero(unit_of == uid)
        total = float(values[members].sum())
        if part_max is None:
            k = max(2, round(total / target))
        else:
            k = min(max(2, math.ceil(total / part_max)), len(members))
        name = names[row] if names is not None else None
        if len(members) < k or len(members) < 2:
            notes.append(
                f"unit {uid} {name}: {total:,.0f} {weight} in {len(members)} building(s) "
                f"cannot be split into {k} grids; kept whole as one grid"
            )
            rows.append(row)
            continue
        footprints = shapely.transform(building_geoms[members], forward, interleaved=False)
        groups = _balanced_groups(footprints, values[members], k)
        polygon = shapely.transform(unit_geoms[row], forward, interleaved=False)
        parts = _territories(polygon, footprints, groups, k)
        part_ids = np.array([f"{uid}#{g + 1}" for g in range(k)], dtype=object)
        new_unit_of[members] = part_ids[groups]
        back = shapely.transform(np.array(parts, dtype=object), inverse, interleaved=False)
        for g in range(k):
            part_id[len(rows)] = part_ids[g]
            part_name[len(rows)] = f"{name}（{g + 1}/{k}）"
            part_geom[len(rows)] = back[g]
            rows.append(row)
        weights = [int(values[members][groups == g].sum()) for g in range(k)]
        notes.append(
            f"unit {uid} {name}: {total:,.0f} {weight} is more than one grid holds (at most "
            f"{maximum:,.0f}); split between its buildings into {k} parts of "
            f"{', '.join(f'{w:,}' for w in weights)}"
        )
    buildings = buildings.copy()
    buildings["unit_id"] = new_unit_of
    out = units.iloc[rows].reset_index(drop=True)
    if part_id:
        at = np.fromiter(part_id, dtype=np.int64, count=len(part_id))
        ids = unit_ids[rows]
        ids[at] = list(part_id.values())
        out["id"] = ids
        # a split unit's parts are named even when the units have no name column
        labels = names[rows] if names is not None else np.full(len(rows), np.nan, dtype=object)
        labels[at] = list(part_name.values())
        out["name"] = labels
        geoms = unit_geoms[rows]
        geoms[at] = list(part_geom.values())
        out[units.geometry.name] = geoms
    return buildings, gpd.GeoDataFrame(out, geometry=units.geometry.name, crs=units.crs), notes


def _balanced_groups(footprints: np.ndarray, weights: np.ndarray, k: int) -> np.ndarray:
    """k groups of buildings of near-equal weight, each a compact block of the unit.

    The buildings are cut in two across their long axis (principal axis of the centroids),
    the halves holding k//2 and k - k//2 shares of the weight, and each half again, until k
    groups remain. A cut across the principal axis keeps each group in one band of its
    parent, so each part's territory is one piece (groups balanced by k-means can
    interleave).
    """
    centres = shapely.centroid(footprints)
    xy = np.column_stack([shapely.get_x(centres), shapely.get_y(centres)])
    groups = np.zeros(len(xy), dtype=int)
    todo = [(np.arange(len(xy)), k, 0)]  # (members, parts to make, first group label)
    while todo:
        members, parts, label = todo.pop()
        if parts == 1 or len(members) == 1:
            groups[members] = label
            continue
        first = _cut_across(xy[members], weights[members], parts // 2 / parts)
        # every side keeps at least one building per part it is to make
        lo = min(max(first, parts // 2), len(members) - (parts - parts // 2))
        order = _along_long_axis(xy[members])
        todo.append((members[order[:lo]], parts // 2, label))
        todo.append((members[order[lo:]], parts - parts // 2, label + parts // 2))
    return groups


def _along_long_axis(xy: np.ndarray) -> np.ndarray:
    """Order of points along their principal axis (ties broken by x, then y)."""
    local = xy - xy.mean(0)
    if len(local) > 1 and np.ptp(local, axis=0).max() > 0:
        axis = np.linalg.svd(local, full_matrices=False)[2][0]
    else:
        axis = np.array([1.0, 0.0])
    return np.lexsort((local[:, 1], local[:, 0], local @ axis))


def _cut_across(xy: np.ndarray, weights: np.ndarray, share: float) -> int:
    """How many points, in long-axis order, hold ``share`` of the weight (nearest cut)."""
    order = _along_long_axis(xy)
    cumulative = np.cumsum(weights[order])
    total = float(cumulative[-1]) if len(cumulative) else 0.0
    if total <= 0:
        return max(1, round(len(xy) * share))
    return int(np.argmin(np.abs(cumulative - share * total))) + 1


def _territories(polygon, footprints: np.ndarray, groups: np.ndarray, k: int) -> list:  # type: ignore[no-untyped-def]
    """The unit's polygon shared among the groups: nearest footprints, footprints kept whole."""
    seeds = shapely.segmentize(shapely.boundary(footprints), 5.0)
    points = shapely.get_coordinates(seeds)
    owner = np.repeat(groups, shapely.get_num_coordinates(seeds))
    cells = shapely.get_parts(
        shapely.voronoi_polygons(shapely.multipoints(points), extend_to=polygon)
    )
    tree = shapely.STRtree(shapely.points(points))
    seed_of = tree.query(cells, predicate="contains")
    group_of_cell = np.full(len(cells), -1)
    group_of_cell[seed_of[0]] = owner[seed_of[1]]
    # Overlays on a 1 mm grid (metres): robust where footprints and Voronoi edges nearly meet.
    mm = 1e-3
    try:  # each group's footprints unioned once; the others' union is of those k unions
        mine = _union_by_group(footprints, groups, k, mm)
    except shapely.errors.GEOSException:
        mine = None
    # only the other groups whose footprints meet a part's bounding box can cut into it
    near = shapely.STRtree(mine if mine is not None else [])
    parts = []
    for g in range(k):
        own = shapely.make_valid(
            _coverage_union(cells[group_of_cell == g], mm), method="structure", keep_collapsed=False
        )
        try:
            if mine is None:
                raise shapely.errors.GEOSException("the groups' footprints could not be unioned")
            with_fp = shapely.union(own, mine[g], grid_size=mm)
            reach = np.sort(near.query(with_fp))
            others = shapely.union_all(mine[reach[reach != g]], grid_size=mm)
            own = shapely.difference(with_fp, others, grid_size=mm)
        except shapely.errors.GEOSException:
            # Left as the Voronoi share: a footprint cut by it makes the canvas merge the two
            # parts again (reported there), never a wrong tiling.
            pass
        valid = shapely.make_valid(own, method="structure", keep_collapsed=False)
        parts.append(shapely.intersection(valid, polygon, grid_size=mm))
    return parts


def _union_by_group(geoms: np.ndarray, groups: np.ndarray, k: int, grid_size: float) -> np.ndarray:
    """Union of the ``geoms`` of each group 0..k-1 on a ``grid_size`` grid, in one call: the
    groups are the rows of a table padded with None."""
    order = np.argsort(groups, kind="stable")
    count = np.bincount(groups, minlength=k)
    slot = np.arange(len(order)) - np.repeat(np.cumsum(count) - count, count)
    table = np.full((k, max(int(count.max()), 1)), None, dtype=object)
    table[groups[order], slot] = geoms[order]
    return np.asarray(shapely.union_all(table, axis=1, grid_size=grid_size), dtype=object)


def _coverage_union(polygons: np.ndarray, grid_size: float) -> shapely.Geometry:
    # Voronoi cells share their edges exactly, so GEOS's coverage union (edge matching, no
    # overlay) is both fast and free of the robustness failures of a general union.
    try:
        return shapely.coverage_union_all(polygons)
    except shapely.errors.GEOSException:
        valid = shapely.make_valid(polygons, method="structure", keep_collapsed=False)
        return shapely.union_all(valid, grid_size=grid_size)
