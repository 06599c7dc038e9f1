"""Plans over any store: partition, coverage report, locate in a plan, diff, export.

Every function takes a :class:`~gridmap.store.contract.Store` (a GeoPackage workspace or
PostGIS), so ``gridmap partition|check|locate|export`` and the HTTP API do the same thing on
both engines. The engine does the work (pure functions); this module reads its inputs from the
store and writes its results back.
"""

from __future__ import annotations

import io
import tempfile
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from gridmap.codes import district_of, in_scope, street_of
from gridmap.engine.plan import CELL_COLUMNS, GRID_COLUMNS
from gridmap.errors import InputError, NotFoundError
from gridmap.service.grids import NEAR_M, GridLocator
from gridmap.settings import Settings
from gridmap.store.contract import PlanInfo, Store

if TYPE_CHECKING:  # the validation modules load when a report is made, not with every command
    from gridmap.engine.validate.report import CoverageReport

__all__ = [
    "CELL_COLUMNS",
    "GRID_COLUMNS",
    "check_file",
    "community_divisions",
    "coverage_report",
    "diff_against",
    "division_communities",
    "export_grids",
    "export_store_layer",
    "locate_in_plan",
    "partition_store",
    "plan_grids",
    "published_cells",
    "published_plan_for",
]

_MAX_NUMBER = 2**31 - 1  # revisions are integer columns in both stores
_MEDIA = {
    "gpkg": ("application/geopackage+sqlite3", ".gpkg"),
    "geojson": ("application/geo+json", ".geojson"),
    "shp": ("application/zip", ".shp.zip"),
    "csv": ("text/csv; charset=utf-8", ".csv"),
}


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
    save: Callable[[dict[str, Any], dict[str, Any]], str] | None = None,
) -> dict[str, Any]:
    """Partition communities of any store into a new draft plan (revision 1): its report, with
    "plan" (the id), counts, every grid out of band explained, and each community's report.

    ``max_area_km2``: grids larger than this are split by area; ``progress`` is called with
    each community's code when it is done. ``save(new_plan, summary)`` writes the plan instead
    of ``store.create_plan`` (a background job writes it with the job's end) and answers its
    id; ``new_plan`` holds cells, grids, name and params."""
    from gridmap.crs import lonlat_to, metric_crs
    from gridmap.engine.partition.community import partition_communities
    from gridmap.engine.plan import WorkerPool, dissolve_grids, grid_table, node_coverage

    chosen = community_divisions(store, communities)
    if chosen.empty:
        raise InputError("no communities to partition; import divisions first")
    with WorkerPool(workers) as pool:  # one set of processes for the communities and the noding
        results = partition_communities(
            chosen,
            store.read("buildings"),
            store.read("units"),
            roads=store.read("roads"),
            workers=workers,
            pool=pool,
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
            pd.concat([r.cells for r in results]), communities=chosen, workers=workers, pool=pool
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
    reports = [r.report for r in results]
    in_band = sum(int(r["in_band"]) for r in reports)  # type: ignore[call-overload]
    explained = [
        f"{r['community']}: grid {g['code']} has {g[weight]:,} {weight} ({g['deviation']:+.0%})"
        for r in reports
        for g in r["out_of_band"]  # type: ignore[attr-defined]
    ] + [f"{r['community']}: {note}" for r in reports for note in r["notes"]]  # type: ignore[attr-defined]
    summary = {
        "communities": len(reports),
        "grids": len(grids),
        "in_band": in_band,
        "in_band_share": in_band / max(len(grids), 1),
        "mean_compactness": float(grids["compactness"].mean()),
        "explained": explained,
    }
    new_plan = {
        "cells": cells[[*CELL_COLUMNS, "geometry"]],
        "grids": grids[[*GRID_COLUMNS, "geometry"]],
        "name": name or f"partition of {len(chosen)} communities",
        "params": params,
    }
    if save is not None:
        plan_id = save(new_plan, summary)
        return {"plan": plan_id, "revision": 1, **summary, "by_community": reports}
    made = store.create_plan(**new_plan, actor=actor)
    return {"plan": made.plan_id, "revision": made.number, **summary, "by_community": reports}


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


def division_communities(store: Store, division: str) -> list[str]:
    """The codes of the communities of ``division`` (a district, a street or a community).

    NotFoundError naming ``division`` when it holds none."""
    codes = [c for c in community_divisions(store)["code"] if in_scope([division], c)]
    if not codes:
        raise NotFoundError(f"division: no community lies in {division}")
    return sorted(codes)


def plan_grids(store: Store, plan_id: str | None) -> tuple[str, gpd.GeoDataFrame]:
    """(plan id, grids of its head revision) of ``plan_id``, or of the newest plan."""
    if plan_id is None:
        plans = store.plans()
        if not plans:
            raise NotFoundError("no plans yet; run `gridmap partition` first")
        plan_id = plans[-1].id
    return plan_id, store.revision(plan_id).grids


def coverage_report(
    store: Store,
    plan_id: str | None,
    revision: int | None,
    settings: Settings,
    *,
    communities: list[str] | None = None,
    grids: gpd.GeoDataFrame | None = None,
) -> CoverageReport:
    """The coverage report of a plan revision against its communities, units and buildings.

    ``plan_id`` None: the newest plan. ``communities``: only these (an edit changes one
    community: checking it alone takes a tenth of a second, the whole district two);
    ``grids``: the revision's grids when the caller has them already. The band is the one the
    plan was made for (its params' target, tolerance and weight), else the settings'. A unit
    heavier than one grid may hold is exempt from ``split_unit``: splitting it along its own
    buildings is the rule.
    """
    from gridmap.engine.validate.check import validate_coverage

    if plan_id is None:
        plan_id, grids = plan_grids(store, None)
    elif grids is None:
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
    # The band the plan was made for (a partition at --target 1500 is no "community cut into
    # too many grids" at the settings' 3000); plans without one take the settings'.
    params = store.plan(plan_id).params or {}
    target = float(params.get("target") or settings.target)
    tolerance = float(params.get("tolerance", settings.tolerance))
    weight = str(params.get("weight") or settings.weight)
    unit_weight = buildings.groupby("unit_id")[weight].sum()
    maximum = target * (1 + tolerance)
    units = units[units["id"].map(unit_weight).fillna(0).astype(float) <= maximum]
    return validate_coverage(
        grids,
        boundary,
        buildings,
        units,
        communities=chosen if len(chosen) else None,
        target=target,
        tolerance=tolerance,
        weight=weight,
    )


def check_file(
    path: Path, boundary: Path | None, code_field: str, **weighing: Any
) -> CoverageReport:
    """Coverage report of a grid layer in any file GDAL reads (a legacy, hand-drawn layer).

    ``weighing``: store, target, tolerance, weight, metric_epsg (see
    :func:`gridmap.io.grid_layers.check_grid_file`).
    """
    from gridmap.io.grid_layers import check_grid_file

    return check_grid_file(path, boundary, code_field, **weighing)


def locate_in_plan(store: Store, lon: float, lat: float, plan_id: str | None) -> dict[str, Any]:
    """The grid of plan ``plan_id`` (default the newest) holding (lon, lat), its community,
    street and district, and the nearest other grid within 50 m. ``grid`` is None outside."""
    plan_id, grids = plan_grids(store, plan_id)
    where = GridLocator(grids).locate_one(lon, lat, near_m=NEAR_M)
    answer: dict[str, Any] = {
        "plan": plan_id,
        "lon": lon,
        "lat": lat,
        "grid": None,
        "distance_to_edge_m": None,
        "neighbour": None,
        "neighbour_distance_m": None,
    }
    if where is None:
        return answer
    answer |= {
        "distance_to_edge_m": _metres(where.distance_to_edge_m),
        "neighbour": None if where.neighbour is None else str(where.neighbour),
        "neighbour_distance_m": _metres(where.neighbour_distance_m),
    }
    if where.grid is None:
        return answer
    code = str(where.grid)
    grid = grids.set_index("code").loc[code]
    community = str(grid["community_code"])
    answer["grid"] = {
        "code": code,
        "residents": int(grid["residents"]),
        "households": int(grid["households"]),
    }
    divisions = store.read("divisions").set_index("code")
    for key, div_code in (
        ("community", community),
        ("street", street_of(community)),
        ("district", district_of(community)),
    ):
        row = divisions.loc[div_code] if div_code in divisions.index else None
        answer[key] = {
            "code": div_code,
            "name": None if row is None else row["name"],
            "short_name": None if row is None else row["short_name"],
        }
    return answer


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


def diff_against(
    store: Store, plan_id: str, revision: int | None, against: str = "published"
) -> dict[str, Any]:
    """What changes from ``against`` ("published", PLAN or PLAN@REVISION) to the plan's
    ``revision`` (default the head): grids added, removed, recoded; residents that move."""
    from gridmap.engine.edits.diff import diff_plans

    new = store.revision(plan_id, revision)
    communities = sorted(set(new.cells["community_code"]))
    if against == "published":
        old_cells = published_cells(store, communities)
        label = "published"
    else:
        other, _, number = against.partition("@")
        if number and (not (number.isascii() and number.isdigit()) or int(number) > _MAX_NUMBER):
            raise InputError(
                f"against={against!r}: write PLAN or PLAN@REVISION (a number up to {_MAX_NUMBER})"
            )
        old = store.revision(other, int(number) if number else None)
        old_cells, label = old.cells, f"{other}@{old.info.number}"
    if set(old_cells.index) != set(new.cells.index):
        raise InputError(
            f"plan {plan_id} and {label} are not on the same canvas (their cells differ); "
            "a diff needs two plans of the same communities' cells"
        )
    diff = diff_plans(old_cells, new.cells.loc[old_cells.index])
    return {"plan": plan_id, "revision": new.info.number, "against": label, **diff.to_dict()}


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


def export_store_layer(
    store: Store, name: str, out: Path, fmt: str | None = None
) -> dict[str, object]:
    """Write layer ``name`` of ``store`` to the file ``out`` (gpkg, geojson, shp or csv)."""
    from gridmap.io.export import export_frame

    frame = store.read(name)
    if name not in store.layers():
        raise InputError(f"layer {name} is empty; nothing to export")
    return export_frame(frame, name, Path(out), fmt)


def _metres(value: float | None) -> float | None:
    return None if value is None or pd.isna(value) else round(float(value), 2)
