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
    unit_weight = (
        buildings.groupby("unit_id")[weight].sum() if len(buildings) else pd.Series(dtype=float)
    )
    heavy = [uid for uid in units["id"] if float(unit_weight.get(uid, 0) or 0) > maximum]
    notes: list[str] = []
    if not heavy:
        return buildings, units, notes
    buildings = buildings.copy()
    keep_units = [units[~units["id"].isin(heavy)]]
    for uid in heavy:
        unit = units[units["id"] == uid].iloc[0]
        members = buildings[buildings["unit_id"] == uid]
        total = float(members[weight].sum())
        if part_max is None:
            k = max(2, round(total / target))
        else:
            k = min(max(2, math.ceil(total / part_max)), len(members))
        name = unit.get("name")
        if len(members) < k or len(members) < 2:
            notes.append(
                f"unit {uid} {name}: {total:,.0f} {weight} in {len(members)} building(s) "
                f"cannot be split into {k} grids; kept whole as one grid"
            )
            keep_units.append(units[units["id"] == uid])
            continue
        footprints = shapely.transform(members.geometry.values, forward, interleaved=False)
        groups = _balanced_groups(footprints, members[weight].astype(float).to_numpy(), k)
        polygon = shapely.transform(unit.geometry, forward, interleaved=False)
        parts = _territories(polygon, footprints, groups, k)
        rows = []
        for g in range(k):
            part_id = f"{uid}#{g + 1}"
            buildings.loc[members.index[groups == g], "unit_id"] = part_id
            row = unit.copy()
            row["id"], row["name"] = part_id, f"{name}（{g + 1}/{k}）"
            row["geometry"] = shapely.transform(parts[g], inverse, interleaved=False)
            rows.append(row)
        keep_units.append(gpd.GeoDataFrame(rows, geometry="geometry", crs=units.crs))
        weights = [int(members[weight].to_numpy()[groups == g].sum()) for g in range(k)]
        notes.append(
            f"unit {uid} {name}: {total:,.0f} {weight} is more than one grid holds (at most "
            f"{maximum:,.0f}); split between its buildings into {k} parts of "
            f"{', '.join(f'{w:,}' for w in weights)}"
        )
    out = pd.concat(keep_units, ignore_index=True)
    return buildings, gpd.GeoDataFrame(out, geometry="geometry", crs=units.crs), notes


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
    parts = []
    for g in range(k):
        own = shapely.make_valid(
            _coverage_union(cells[group_of_cell == g], mm), method="structure", keep_collapsed=False
        )
        try:
            mine = shapely.union_all(footprints[groups == g], grid_size=mm)
            others = shapely.union_all(footprints[groups != g], grid_size=mm)
            own = shapely.difference(shapely.union(own, mine, grid_size=mm), others, grid_size=mm)
        except shapely.errors.GEOSException:
            # Left as the Voronoi share: a footprint cut by it makes the canvas merge the two
            # parts again (reported there), never a wrong tiling.
            pass
        valid = shapely.make_valid(own, method="structure", keep_collapsed=False)
        parts.append(shapely.intersection(valid, polygon, grid_size=mm))
    return parts


def _coverage_union(polygons: np.ndarray, grid_size: float) -> shapely.Geometry:
    # Voronoi cells share their edges exactly, so GEOS's coverage union (edge matching, no
    # overlay) is both fast and free of the robustness failures of a general union.
    try:
        return shapely.coverage_union_all(polygons)
    except shapely.errors.GEOSException:
        valid = shapely.make_valid(polygons, method="structure", keep_collapsed=False)
        return shapely.union_all(valid, grid_size=grid_size)
