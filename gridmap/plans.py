"""Plans as users handle them: partition a workspace, check a plan or a file, locate a point.

This module joins the store (reading layers, saving plans) and the engine (pure functions);
the CLI and, later, the HTTP API call it.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import shapely

from gridmap.engine.validate.report import CoverageReport
from gridmap.errors import InputError, NotFoundError
from gridmap.settings import Settings
from gridmap.store.contract import Store
from gridmap.store.gpkg import Workspace
from gridmap.store.gpkg_store import GpkgStore

__all__ = [
    "GRID_COLUMNS",
    "check_file",
    "check_plan",
    "community_divisions",
    "coverage_report",
    "locate_point",
    "partition_store",
    "partition_workspace",
    "plan_grids",
]

# The columns of a revision's grids the store keeps (besides the polygon).
GRID_COLUMNS = ["code", "community_code", "residents", "households", "cells", "compactness"]


def partition_workspace(
    workspace: Workspace,
    *,
    communities: list[str] | None = None,
    target: int = 3000,
    tolerance: float = 0.2,
    weight: str = "residents",
    seed: int = 0,
    scheme: str = "db11",
    workers: int = 1,
    settings: Settings | None = None,
    actor: str | None = None,
    max_area_km2: float | None = None,
    progress: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Partition the workspace's communities; store a draft plan (revision 1); return its report.

    ``actor`` (default: the login name) is recorded as the plan's author in the audit log;
    ``max_area_km2`` and ``progress`` (called with each community's code when it is done) go
    to :func:`partition_store`.
    """
    with GpkgStore(workspace.path) as store:
        return partition_store(
            store,
            communities=communities,
            target=target,
            tolerance=tolerance,
            weight=weight,
            seed=seed,
            scheme=scheme,
            workers=workers,
            metric_epsg=(settings or Settings()).metric_epsg,
            actor=actor or _login(),
            max_area_km2=max_area_km2,
            progress=progress,
        )


def partition_store(
    store: Store,
    *,
    communities: list[str] | None,
    target: int,
    tolerance: float,
    weight: str,
    seed: int,
    scheme: str = "db11",
    workers: int = 1,
    metric_epsg: int | None = None,
    actor: str,
    name: str | None = None,
    max_area_km2: float | None = None,
    progress: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Partition communities of any store into a new draft plan (revision 1): its report, with
    "plan" (the id), counts, every grid out of band explained, and each community's report.

    ``max_area_km2``: grids larger than this are split by area; ``progress`` is called with
    each community's code when it is done."""
    from gridmap.crs import lonlat_to, metric_crs
    from gridmap.engine.partition.community import partition_communities
    from gridmap.engine.plan import CELL_COLUMNS, dissolve_grids, grid_table, node_coverage

    chosen = community_divisions(store, communities)
    if chosen.empty:
        raise InputError("no communities to partition; import divisions first")
    results = partition_communities(
        chosen,
        store.read("buildings"),
        store.read("units"),
        roads=store.read("roads"),
        workers=workers,
        target=target,
        tolerance=tolerance,
        weight=weight,
        seed=seed,
        scheme=scheme,
        metric_epsg=metric_epsg,
        max_area_km2=max_area_km2,
        progress=progress,
    )
    cells = node_coverage(
        pd.concat([r.cells for r in results]), communities=chosen, workers=workers
    )
    grids = dissolve_grids(cells[["community_code", "residents", "households", "grid", "geometry"]])
    if not shapely.coverage_is_valid(np.asarray(grids.geometry.values, dtype=object)):
        # dissolved from noded cells, grids match vertex for vertex already (checked: 0.07 s,
        # the renoding 1 s on the sample); renoded only when they do not
        grids = node_coverage(grids, communities=chosen)
    metric = lonlat_to(metric_crs(tuple(grids.total_bounds), metric_epsg))
    grids["compactness"] = grid_table(grids, metric, target, weight)["compactness"].to_numpy()
    params = {
        "target": target,
        "tolerance": tolerance,
        "weight": weight,
        "seed": seed,
        "scheme": scheme,
        "communities": sorted(chosen["code"]),
    }
    if max_area_km2 is not None:
        params["max_area_km2"] = max_area_km2
    made = store.create_plan(
        cells[[*CELL_COLUMNS, "geometry"]],
        grids[[*GRID_COLUMNS, "geometry"]],
        name=name or f"partition of {len(chosen)} communities",
        params=params,
        actor=actor,
    )
    reports = [r.report for r in results]
    in_band = sum(int(r["in_band"]) for r in reports)  # type: ignore[call-overload]
    explained = [
        f"{r['community']}: grid {g['code']} has {g[weight]:,} {weight} ({g['deviation']:+.0%})"
        for r in reports
        for g in r["out_of_band"]  # type: ignore[attr-defined]
    ] + [f"{r['community']}: {note}" for r in reports for note in r["notes"]]  # type: ignore[attr-defined]
    return {
        "plan": made.plan_id,
        "communities": len(reports),
        "grids": len(grids),
        "in_band": in_band,
        "in_band_share": in_band / max(len(grids), 1),
        "mean_compactness": float(grids["compactness"].mean()),
        "explained": explained,
        "by_community": reports,
    }


def community_divisions(store: Store, codes: list[str] | None = None) -> gpd.GeoDataFrame:
    """The store's communities (divisions of level community), or those of ``codes``."""
    divisions = store.read("divisions")
    chosen = divisions[divisions["level"] == "community"]
    if codes:
        unknown = sorted(set(codes) - set(chosen["code"]))
        if unknown:
            raise NotFoundError(f"no community {', '.join(unknown)}")
        chosen = chosen[chosen["code"].isin(codes)]
    return chosen  # type: ignore[no-any-return]


def plan_grids(workspace: Workspace, plan_id: str | None) -> tuple[str, gpd.GeoDataFrame]:
    """(plan id, grids of its head revision) of ``plan_id``, or of the newest plan."""
    if not workspace.exists:
        raise NotFoundError(f"{workspace.path}: no such workspace")
    with GpkgStore(workspace.path) as store:
        if plan_id is None:
            plans = store.plans()
            if not plans:
                raise NotFoundError(
                    f"{workspace.path}: no plans yet; run `gridmap partition` first"
                )
            plan_id = plans[-1].id
        return plan_id, store.revision(plan_id).grids


def check_plan(workspace: Workspace, plan_id: str | None, settings: Settings):  # type: ignore[no-untyped-def]
    """Coverage report of a stored plan against its communities, units and buildings."""
    plan_id, grids = plan_grids(workspace, plan_id)
    with GpkgStore(workspace.path) as store:
        return coverage_report(store, plan_id, None, settings, grids=grids)


def coverage_report(
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
    caller has them already. A unit heavier than one grid may hold is exempt from
    ``split_unit``: splitting it along its own buildings is the rule.
    """
    from gridmap.engine.validate.check import validate_coverage

    if grids is None:
        grids = store.revision(plan_id, revision).grids
    if communities is not None:
        grids = grids[grids["community_code"].isin(communities)]
    chosen = community_divisions(store)
    chosen = chosen[chosen["code"].isin(grids["community_code"])]
    boundary = shapely.union_all(chosen.geometry.values) if len(chosen) else None
    bbox = None if boundary is None else tuple(boundary.bounds)
    buildings, units = store.read("buildings", bbox=bbox), store.read("units", bbox=bbox)
    if boundary is not None:
        # Only what lies in the plan's communities (a plan may cover part of the district).
        shapely.prepare(boundary)
        buildings = buildings[shapely.contains(boundary, buildings.representative_point().values)]
        units = units[shapely.contains(boundary, units.representative_point().values)]
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


def check_file(path: Path, boundary: Path | None, code_field: str):  # type: ignore[no-untyped-def]
    """Coverage report of a grid layer in any file GDAL reads (a legacy, hand-drawn layer)."""
    from gridmap.engine.validate.check import validate_coverage

    grids = _read_polygons(path)
    if code_field not in grids:
        raise InputError(
            f"{path}: no column {code_field!r}; pass --code-field (the file has "
            f"{', '.join(c for c in grids.columns if c != 'geometry')})"
        )
    grids = grids.rename(columns={code_field: "code"})
    grids["code"] = grids["code"].astype(str)
    area = None
    if boundary is not None:
        area = shapely.union_all(_read_polygons(boundary).geometry.values)
    return validate_coverage(grids, area)


def locate_point(
    workspace: Workspace, lon: float, lat: float, plan_id: str | None, settings: Settings
) -> dict[str, Any]:
    """The grid holding (lon, lat), its community, street and district, and the nearest grid."""
    from gridmap.engine.assign import locate

    plan_id, grids = plan_grids(workspace, plan_id)
    found = locate(shapely.points([lon], [lat]), grids, near_m=50.0).iloc[0]
    divisions = workspace.read("divisions").set_index("code")
    answer: dict[str, Any] = {
        "plan": plan_id,
        "lon": lon,
        "lat": lat,
        "grid": None,
        "distance_to_edge_m": _num(found["distance_to_edge_m"]),
        "neighbour": _str(found["neighbour"]),
        "neighbour_distance_m": _num(found["neighbour_distance_m"]),
    }
    code = _str(found["grid"])
    if code is None:
        return answer
    grid = grids.set_index("code").loc[code]
    community = str(grid["community_code"])
    street = community[:9] + "000"
    district = community[:6] + "000000"
    answer["grid"] = {
        "code": code,
        "residents": int(grid["residents"]),
        "households": int(grid["households"]),
    }
    for key, div_code in (("community", community), ("street", street), ("district", district)):
        row = divisions.loc[div_code] if div_code in divisions.index else None
        answer[key] = {
            "code": div_code,
            "name": None if row is None else row["name"],
            "short_name": None if row is None else row["short_name"],
        }
    return answer


def _login() -> str:
    import getpass

    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no login name (a container without /etc/passwd entry)
        return "gridmap"


def _read_polygons(path: Path) -> gpd.GeoDataFrame:
    if not Path(path).exists():
        raise InputError(f"{path}: no such file")
    frame = pyogrio.read_dataframe(path)
    if frame.crs is None:
        frame = frame.set_crs(4326)
    return frame.to_crs(4326)


def _num(value: object) -> float | None:
    return None if value is None or pd.isna(value) else round(float(value), 2)  # type: ignore[arg-type]


def _str(value: object) -> str | None:
    return None if value is None or (isinstance(value, float) and np.isnan(value)) else str(value)
