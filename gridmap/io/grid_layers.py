"""Grid layers from elsewhere (a legacy, hand-drawn layer): read, weigh, check.

A street office's grids come as polygons in any file GDAL reads, often without populations,
or with populations nobody has recounted. :func:`check_grid_file` weighs them by the
workspace's buildings (each building to the grid holding most of its footprint) so that the
weight band is checked against today's buildings: a community of 5,000 residents cut into
ten grids is found whatever the file's own columns say.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import shapely

from gridmap.engine.validate.report import CoverageReport
from gridmap.errors import InputError
from gridmap.io.checks import community_of
from gridmap.store.contract import Store

__all__ = ["check_grid_file", "read_grid_file", "weigh_grids"]

_WEIGHTS = ("residents", "households")


def read_grid_file(path: Path, code_field: str = "code") -> gpd.GeoDataFrame:
    """The polygons of ``path`` in lon/lat with their code in ``code`` (text).

    A file without a CRS is taken to be lon/lat (EPSG:4326).

    Raises
    ------
    InputError
        No such file, or no column ``code_field`` (the message lists the file's columns).
    """
    frame = _read_polygons(path)
    if code_field not in frame.columns:
        have = ", ".join(c for c in frame.columns if c != frame.geometry.name)
        raise InputError(
            f"{path}: no column {code_field!r}; pass --code-field (the file has {have})"
        )
    if code_field != "code":
        frame = frame.drop(columns=[c for c in ("code",) if c in frame.columns])
        frame = frame.rename(columns={code_field: "code"})
    frame["code"] = frame["code"].map(_code)
    return frame


def _read_polygons(path: Path) -> gpd.GeoDataFrame:
    path = Path(path)
    if not path.exists():
        raise InputError(f"{path}: no such file")
    try:
        frame = pyogrio.read_dataframe(path)
    except pyogrio.errors.DataSourceError as exc:
        raise InputError(f"{path}: not a file GDAL reads ({exc})") from exc
    if not isinstance(frame, gpd.GeoDataFrame) or frame.geometry.isna().all():
        raise InputError(f"{path}: no geometry; a grid layer holds polygons")
    if frame.crs is None:
        frame = frame.set_crs(4326)
    return frame.to_crs(4326)


def _code(value: Any) -> str | None:
    """A code as text: 1.0 read from a numeric column is "1"; missing stays None."""
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return None
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def weigh_grids(grids: gpd.GeoDataFrame, buildings: gpd.GeoDataFrame) -> pd.DataFrame:
    """Residents and households of each grid row: the sums over the buildings it holds.

    A building goes to the grid holding most of its footprint
    (:func:`gridmap.engine.assign.assign_buildings`); rows sharing a code are one grid and
    each gets that grid's sums. Indexed like ``grids``.
    """
    from gridmap.engine.assign import assign_buildings

    out = pd.DataFrame(0, index=grids.index, columns=list(_WEIGHTS), dtype="int64")
    usable = grids[grids["code"].notna() & ~(grids.geometry.isna() | grids.geometry.is_empty)]
    if usable.empty or buildings.empty:
        return out
    geoms = shapely.make_valid(np.asarray(usable.geometry.array, dtype=object))
    merged = (
        gpd.GeoDataFrame({"code": usable["code"].to_numpy()}, geometry=geoms, crs=4326)
        .dissolve(by="code", as_index=False)
        .set_crs(4326, allow_override=True)
    )
    assigned = assign_buildings(buildings.to_crs(4326), merged)
    numbers = {
        w: pd.to_numeric(buildings[w], errors="coerce").fillna(0) if w in buildings else 0
        for w in _WEIGHTS
    }
    table = pd.DataFrame({"grid": assigned["grid"], **numbers}).dropna(subset=["grid"])
    sums = table.groupby("grid")[list(_WEIGHTS)].sum()
    for w in _WEIGHTS:
        out[w] = grids["code"].map(sums[w]).fillna(0).astype("int64")
    return out


def check_grid_file(
    path: Path,
    boundary: Path | None = None,
    code_field: str = "code",
    *,
    store: Store | None = None,
    target: float | None = None,
    tolerance: float = 0.2,
    weight: str = "residents",
    metric_epsg: int | None = None,
) -> CoverageReport:
    """Coverage report of a grid layer in any file GDAL reads, weighed when it can be.

    With ``store``, the grids are weighed by its buildings (the file's own ``residents`` and
    ``households`` are replaced), checked against its communities (nesting, and a grid's
    community is the one holding most of it; without ``boundary``, the area to cover is the
    union of the communities holding most of some grid) and the weight band is checked at ``target``
    (the caller passes the settings' target when the user gave none). Without ``store``,
    ``target`` needs the file's ``weight`` column.

    Raises
    ------
    InputError
        No such file or column; a target without any weight to check it against.
    """
    from gridmap.engine.validate.check import validate_coverage

    grids = read_grid_file(path, code_field)
    area = None
    if boundary is not None:
        area = shapely.union_all(shapely.make_valid(_read_polygons(boundary).geometry.values))
    communities = buildings = None
    if store is not None:
        drawn = grids.geometry.values[grids.geometry.notna().to_numpy()]
        buildings = store.read("buildings", bbox=tuple(grids.total_bounds))
        grids = grids.drop(columns=[c for c in _WEIGHTS if c in grids.columns])
        grids = grids.join(weigh_grids(grids, buildings))
        divisions = store.read("divisions", bbox=tuple(grids.total_bounds))
        communities = divisions[divisions["level"] == "community"][["code", "geometry"]]
        if communities.empty:
            communities = None
        elif area is None:
            # The area to cover: the communities the layer's grids lie in (most of one).
            home = set(community_of(gpd.GeoSeries(shapely.make_valid(drawn)), communities))
            covered = communities[communities["code"].isin(home - {None})]
            if len(covered):
                area = shapely.union_all(shapely.make_valid(covered.geometry.values))
        # Checked for straddling: the buildings inside the area (a building outside a layer
        # that covers part of the district is not in a gap).
        inside = area if area is not None else shapely.union_all(shapely.make_valid(drawn))
        shapely.prepare(inside)
        buildings = buildings[shapely.covers(inside, buildings.representative_point().values)]
    elif target is not None and weight not in grids.columns:
        raise InputError(
            f"{path}: no column {weight!r} to check the target against; give --workspace to "
            "weigh the grids by its buildings"
        )
    if "community_code" in grids.columns and store is not None:
        grids = grids.drop(columns="community_code")  # the workspace's communities decide
    return validate_coverage(
        grids,
        area,
        buildings,
        communities=communities,
        target=target,
        tolerance=tolerance,
        weight=weight,
        metric=metric_epsg,
    )
