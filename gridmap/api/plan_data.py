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

from gridmap.errors import InputError, NotFoundError
from gridmap.plans import GRID_COLUMNS, partition_store
from gridmap.plans import coverage_report as plan_report
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

_MEDIA = {
    "gpkg": ("application/geopackage+sqlite3", ".gpkg"),
    "geojson": ("application/geo+json", ".geojson"),
    "shp": ("application/zip", ".shp.zip"),
    "csv": ("text/csv; charset=utf-8", ".csv"),
}


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
    report = partition_store(
        store,
        communities=communities,
        target=target,
        tolerance=tolerance,
        weight=settings.weight,
        seed=seed,
        metric_epsg=settings.metric_epsg,
        actor=actor,
        name=name,
    )
    made = store.revisions(report["plan"])[0]
    summary = {k: report[k] for k in ("grids", "in_band", "communities")}
    return made, summary


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
