"""Plans over any store: partition, validation report, diff, export, publish with its effects.

:mod:`gridmap.plans` does the same for the command line over a GeoPackage workspace; these
functions take a :class:`~gridmap.store.contract.Store`, so the API serves both engines.
"""

from __future__ import annotations

import io
import tempfile
import zipfile
from pathlib import Path
from typing import Any

import geopandas as gpd
import pandas as pd
import shapely

from gridmap.engine.validate_report import CoverageReport
from gridmap.errors import InputError, NotFoundError
from gridmap.settings import Settings
from gridmap.store.contract import PlanInfo, RevisionInfo, Store

__all__ = [
    "GRID_COLUMNS",
    "export_grids",
    "partition_in_store",
    "plan_report",
    "published_cells",
    "published_plan_for",
]

# The columns of a revision's grids the store keeps (besides the polygon).
GRID_COLUMNS = ["code", "community_code", "residents", "households", "cells", "compactness"]

_MEDIA = {
    "gpkg": ("application/geopackage+sqlite3", ".gpkg"),
    "geojson": ("application/geo+json", ".geojson"),
    "shp": ("application/zip", ".shp.zip"),
    "csv": ("text/csv; charset=utf-8", ".csv"),
}


def _communities(store: Store, codes: list[str] | None = None) -> gpd.GeoDataFrame:
    divisions = store.read("divisions")
    chosen = divisions[divisions["level"] == "community"]
    if codes:
        unknown = sorted(set(codes) - set(chosen["code"]))
        if unknown:
            raise NotFoundError(f"no community {', '.join(unknown)} in the store")
        chosen = chosen[chosen["code"].isin(codes)]
    return chosen  # type: ignore[no-any-return]


def partition_in_store(
    store: Store,
    *,
    communities: list[str] | None,
    target: int,
    tolerance: float,
    seed: int,
    settings: Settings,
    actor: str,
    name: str | None = None,
) -> tuple[RevisionInfo, dict[str, Any]]:
    """Partition communities of ``store`` into a new draft plan; (its revision 1, summary)."""
    from gridmap.crs import lonlat_to, metric_crs
    from gridmap.engine.partition_community import partition_communities
    from gridmap.engine.plan import CELL_COLUMNS, dissolve_grids, grid_table, node_coverage

    chosen = _communities(store, communities)
    if chosen.empty:
        raise InputError("no communities to partition: import divisions first")
    results = partition_communities(
        chosen,
        store.read("buildings"),
        store.read("units"),
        roads=store.read("roads"),
        target=target,
        tolerance=tolerance,
        weight=settings.weight,
        seed=seed,
        metric_epsg=settings.metric_epsg,
    )
    cells = node_coverage(pd.concat([r.cells for r in results]), communities=chosen)
    grids = dissolve_grids(cells[["community_code", "residents", "households", "grid", "geometry"]])
    grids = node_coverage(grids, communities=chosen)
    metric = lonlat_to(metric_crs(tuple(grids.total_bounds), settings.metric_epsg))
    table = grid_table(grids, metric, target, settings.weight)
    grids["compactness"] = table["compactness"].to_numpy()
    params = {
        "target": target,
        "tolerance": tolerance,
        "weight": settings.weight,
        "seed": seed,
        "scheme": "db11",
        "communities": sorted(chosen["code"]),
    }
    made = store.create_plan(
        cells[[*CELL_COLUMNS, "geometry"]],
        grids[[*GRID_COLUMNS, "geometry"]],
        name=name or f"partition of {len(chosen)} communities",
        params=params,
        actor=actor,
    )
    in_band = sum(int(r.report["in_band"]) for r in results)  # type: ignore[call-overload]
    summary = {"grids": len(grids), "in_band": in_band, "communities": len(chosen)}
    return made, summary


def plan_report(
    store: Store,
    plan_id: str,
    revision: int | None,
    settings: Settings,
    *,
    communities: list[str] | None = None,
    grids: gpd.GeoDataFrame | None = None,
) -> CoverageReport:
    """The coverage report of a plan revision against its communities, units and buildings.

    ``communities``: only these (an edit changes one community: checking it alone takes a
    tenth of a second, the whole district two); ``grids``: the revision's grids when the
    caller has them already.
    """
    from gridmap.engine.validate import validate_coverage

    if grids is None:
        grids = store.revision(plan_id, revision).grids
    if communities is not None:
        grids = grids[grids["community_code"].isin(communities)]
    chosen = _communities(store)
    chosen = chosen[chosen["code"].isin(grids["community_code"])]
    boundary = shapely.union_all(chosen.geometry.values) if len(chosen) else None
    bbox = None if boundary is None else tuple(boundary.bounds)
    buildings, units = store.read("buildings", bbox=bbox), store.read("units", bbox=bbox)
    if boundary is not None:
        # Only what lies in the plan's communities (a plan may cover part of the district).
        shapely.prepare(boundary)
        buildings = buildings[shapely.contains(boundary, buildings.representative_point().values)]
        units = units[shapely.contains(boundary, units.representative_point().values)]
    # A unit heavier than one grid may hold is split along its own buildings by rule.
    unit_weight = buildings.groupby("unit_id")[settings.weight].sum()
    maximum = settings.target * (1 + settings.tolerance)
    units = units[units["id"].map(unit_weight).fillna(0).astype(float) <= maximum]
    return validate_coverage(
        grids,
        boundary,
        buildings,
        units,
        communities=chosen if len(chosen) else None,
        target=settings.target,
        tolerance=settings.tolerance,
        weight=settings.weight,
    )


def published_plan_for(store: Store, community: str | None = None) -> PlanInfo:
    """The plan in force (for ``community``, or the only one in force)."""
    ids = sorted({p.plan_id for p in store.publications(community=community)})
    if not ids:
        where = f" for community {community}" if community else ""
        raise NotFoundError(f"no plan is published{where}")
    if len(ids) > 1:
        raise InputError(
            f"{len(ids)} plans are in force ({', '.join(ids)}); say which with from_plan "
            "or community"
        )
    return store.plan(ids[0])


def published_cells(store: Store, communities: list[str]) -> gpd.GeoDataFrame:
    """The cells in force for ``communities``, gathered from the revisions published for them."""
    frames = []
    pinned = {
        (p.plan_id, p.revision)
        for p in store.publications()
        if p.community_code in set(communities)
    }
    for plan_id, number in sorted(pinned):
        cells = store.revision(plan_id, number).cells
        frames.append(cells[cells["community_code"].isin(communities)])
    if not frames:
        raise NotFoundError(
            f"no plan is published for {', '.join(communities) or 'these communities'}"
        )
    return gpd.GeoDataFrame(pd.concat(frames), crs=4326)


def export_grids(grids: gpd.GeoDataFrame, fmt: str, stem: str) -> tuple[bytes, str, str]:
    """(bytes, media type, file name) of ``grids`` written as ``fmt``."""
    from gridmap.io.export import export_frame

    if fmt not in _MEDIA:
        raise InputError(f"format {fmt!r}: choose one of {', '.join(_MEDIA)}")
    media, suffix = _MEDIA[fmt]
    with tempfile.TemporaryDirectory(prefix="gridmap-export-") as tmp:
        out = Path(tmp) / f"{stem}{'.shp' if fmt == 'shp' else suffix}"
        export_frame(grids, "grids", out, fmt)
        if fmt != "shp":
            return out.read_bytes(), media, f"{stem}{suffix}"
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
            for part in sorted(Path(tmp).iterdir()):
                archive.write(part, part.name)
        return buffer.getvalue(), media, f"{stem}{suffix}"
