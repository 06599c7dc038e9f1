"""Take over a hand-drawn grid layer: adopt it onto the workspace's canvas, as a file or a plan.

A street office's layer has gaps, overlaps, slivers and edges that do not match. The repair
engine (:func:`gridmap.engine.repair.repair_onto_canvas`) gives every atom of the canvas to the
drawn grid holding most of it, so the result tiles the communities exactly; every cell whose
grid differs from the drawing is listed with its reason and area. The canvas is that of the
workspace's newest plan covering the layer's communities, or, without one, laid anew from the
buildings and units (as a partition lays it).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import shapely

from gridmap.engine.repair import RepairResult
from gridmap.errors import InputError
from gridmap.store.contract import Store

__all__ = ["adopt_grids", "canvas_cells", "repair_grids", "snapped_buildings", "write_grids"]

_GRID_COLUMNS = ["code", "community_code", "residents", "households", "cells", "compactness"]


def canvas_cells(
    store: Store,
    communities: list[str],
    *,
    target: float = 3000,
    tolerance: float = 0.2,
    metric_epsg: int | None = None,
) -> gpd.GeoDataFrame:
    """The cells of ``communities``: from the newest plan holding them all, else laid anew.

    Index cell_id; community_code, atom_id, residents, households, geometry (lon/lat).
    """
    from gridmap.engine.canvas.build import build_canvas
    from gridmap.engine.plan import node_coverage

    wanted = set(communities)
    for plan in reversed(store.plans()):
        cells = store.revision(plan.id).cells
        if wanted <= set(cells["community_code"]):
            return cells[cells["community_code"].isin(wanted)].drop(columns="grid")  # type: ignore[no-any-return]
    divisions = store.read("divisions")
    chosen = divisions[(divisions["level"] == "community") & divisions["code"].isin(wanted)]
    bbox = tuple(chosen.total_bounds)
    buildings, units = store.read("buildings", bbox=bbox), store.read("units", bbox=bbox)
    roads = store.read("roads", bbox=bbox)
    parts = []
    for code, geom in zip(chosen["code"], chosen.geometry, strict=True):
        canvas = build_canvas(
            str(code),
            geom,
            buildings[buildings.intersects(geom)],
            units[units.intersects(geom)],
            roads=None if roads.empty else roads[roads.intersects(geom)],
            metric=metric_epsg,
            max_atom_weight=target * (1 + tolerance),
        )
        cells = canvas.cells.assign(community_code=str(code))
        parts.append(cells[["community_code", "atom_id", "residents", "households", "geometry"]])
    cells = gpd.GeoDataFrame(pd.concat(parts), crs=4326)
    return node_coverage(cells, communities=chosen)


def repair_grids(
    drawn: gpd.GeoDataFrame,
    store: Store,
    *,
    target: float = 3000,
    tolerance: float = 0.2,
    metric_epsg: int | None = None,
) -> RepairResult:
    """Adopt the drawn grids (``code``, polygons, lon/lat) onto the canvas of their communities.

    Raises
    ------
    InputError
        No drawn grid lies in a community of the workspace.
    """
    from gridmap.engine.repair import repair_onto_canvas
    from gridmap.io.checks import community_of

    divisions = store.read("divisions")
    communities = divisions[divisions["level"] == "community"]
    usable = drawn[drawn.geometry.notna() & ~drawn.geometry.is_empty]
    home = community_of(gpd.GeoSeries(shapely.make_valid(usable.geometry.values)), communities)
    codes = sorted(set(home.dropna()))
    if not codes:
        raise InputError("no drawn grid lies in a community of the workspace; import divisions")
    cells = canvas_cells(store, codes, target=target, tolerance=tolerance, metric_epsg=metric_epsg)
    return repair_onto_canvas(usable, cells, metric=metric_epsg)


def snapped_buildings(
    drawn: gpd.GeoDataFrame, result: RepairResult, buildings: gpd.GeoDataFrame
) -> list[dict[str, Any]]:
    """Every building whose grid changed in the snapping: id, residents, from (the drawn grid
    holding most of it, or None), to (its grid after repair, or None)."""
    from gridmap.engine.assign import assign_buildings

    if buildings.empty:
        return []
    shapes = shapely.make_valid(np.asarray(drawn.geometry.array, dtype=object))
    merged = gpd.GeoDataFrame({"code": drawn["code"].to_numpy()}, geometry=shapes, crs=4326)
    merged = merged.dissolve(by="code", as_index=False)
    inside = buildings[buildings.intersects(shapely.union_all(result.grids.geometry.values))]
    before = assign_buildings(inside, merged)["grid"]
    after = assign_buildings(inside, result.grids[["code", "geometry"]])["grid"]
    moved = before.fillna("") != after.fillna("")
    people = pd.to_numeric(inside.get("residents"), errors="coerce").fillna(0)
    ids = inside["id"] if "id" in inside.columns else inside.index.to_series()
    return [
        {"building": str(b), "residents": int(r), "from": f, "to": t}
        for b, r, f, t in zip(ids[moved], people[moved], before[moved], after[moved], strict=True)
    ]


def write_grids(grids: gpd.GeoDataFrame, path: Path) -> None:
    """Write repaired grids to ``path`` (format from its extension: .gpkg, .geojson, .shp)."""
    path = Path(path)
    if path.suffix.lower() not in (".gpkg", ".geojson", ".json", ".shp"):
        raise InputError(f"--out {path}: write .gpkg, .geojson or .shp")
    columns = [c for c in _GRID_COLUMNS if c in grids.columns]
    frame = gpd.GeoDataFrame(grids[columns], geometry=grids.geometry.values, crs=4326)
    for column in ("residents", "households", "cells"):
        if column in frame:
            frame[column] = frame[column].astype("int64")
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.exists():
        path.unlink()
    pyogrio.write_dataframe(frame, path)


def adopt_grids(
    drawn: gpd.GeoDataFrame,
    store: Store,
    *,
    name: str,
    actor: str,
    target: float = 3000,
    tolerance: float = 0.2,
    metric_epsg: int | None = None,
) -> dict[str, Any]:
    """A draft plan of the drawn grids snapped to the canvas; what the snapping changed.

    Returns plan (its id), grids, changes (cells, as :class:`RepairResult`), notes and
    ``snapped``: every building whose grid changed (:func:`snapped_buildings`).
    """
    from gridmap.engine.plan import CELL_COLUMNS

    result = repair_grids(drawn, store, target=target, tolerance=tolerance, metric_epsg=metric_epsg)
    grids = result.grids.copy()
    made = store.create_plan(
        result.cells[[*CELL_COLUMNS, "geometry"]],
        grids[[*_GRID_COLUMNS, "geometry"]],
        name=name,
        params={
            "target": target,
            "tolerance": tolerance,
            "source": "hand-drawn grids",
            "communities": sorted(set(grids["community_code"])),
        },
        actor=actor,
        operation="import",
    )
    buildings = store.read("buildings", bbox=tuple(grids.total_bounds))
    return {
        "plan": made.plan_id,
        "grids": len(grids),
        **{k: v for k, v in result.to_dict().items() if k != "grids"},
        "snapped": snapped_buildings(drawn, result, buildings),
    }
