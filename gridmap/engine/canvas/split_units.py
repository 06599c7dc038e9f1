"""Split a unit too heavy for one grid along its own buildings, before the canvas is laid.

A compound of 9,000 residents cannot be one grid of about 3,000. It is divided into
k = round(weight / target) parts by slicing its buildings along the unit's long axis into
runs of equal weight, and each part gets the share of the unit's polygon nearest its
buildings, with every footprint wholly inside its own part. A unit that cannot be split (one
building, or fewer buildings than parts) stays whole and becomes one grid; both are reported.
"""

from __future__ import annotations

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
) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame, list[str]]:
    """(buildings, units, notes) with every unit heavier than ``maximum`` split where possible.

    ``metric`` converts lon/lat arrays to metres and back: a pair (forward, inverse) of
    functions ``f(x, y) -> (x, y)``. Parts are new units "<id>#1", "<id>#2"…; their buildings'
    ``unit_id`` points at them.
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
        k = max(2, round(total / target))
        name = unit.get("name")
        if len(members) < k:
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
            f"unit {uid} {name}: {total:,.0f} {weight} is more than one grid holds; split "
            f"along its own buildings into {k} parts of {', '.join(f'{w:,}' for w in weights)}"
        )
    out = pd.concat(keep_units, ignore_index=True)
    return buildings, gpd.GeoDataFrame(out, geometry="geometry", crs=units.crs), notes


def _balanced_groups(footprints: np.ndarray, weights: np.ndarray, k: int) -> np.ndarray:
    """k groups of buildings of near-equal weight, consecutive along the unit's long axis.

    Slicing along the principal axis keeps every group in one band across the unit, so each
    part's territory is one piece (groups balanced by k-means can interleave).
    """
    centres = shapely.centroid(footprints)
    xy = np.column_stack([shapely.get_x(centres), shapely.get_y(centres)])
    xy = xy - xy.mean(0)
    axis = np.linalg.svd(xy, full_matrices=False)[2][0] if len(xy) > 1 else np.array([1.0, 0.0])
    along = xy @ axis
    order = np.lexsort((xy[:, 1], xy[:, 0], along))
    cumulative = np.cumsum(weights[order]) - weights[order] / 2
    total = max(float(weights.sum()), 1e-9)
    groups = np.empty(len(order), dtype=int)
    groups[order] = np.minimum((cumulative / total * k).astype(int), k - 1)
    for g in range(k):  # no empty group: take the nearest building of the next one
        if not (groups == g).any():
            groups[order[min(g, len(order) - 1)]] = g
    return groups


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
