"""Inputs of a canvas, checked and projected: private helpers of :mod:`gridmap.engine.canvas.build`.

Everything leaves here in the metric CRS, as shapely arrays, with the decisions about what is
on the canvas (and why not) written down in ``Inputs.notes`` by id.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
import shapely
from numpy.typing import NDArray

from gridmap.crs import transformer
from gridmap.errors import DuplicateIdError, InputError, MissingColumnError

__all__ = ["Inputs", "clip", "polygonal", "read_inputs"]

UNIT_KINDS = {"compound": "compound", "social_unit": "social_unit", "other": "other_unit"}
_POLYGONAL = (shapely.GeometryType.POLYGON, shapely.GeometryType.MULTIPOLYGON)
_LONLAT = pyproj.CRS.from_epsg(4326)


@dataclass(frozen=True)
class Inputs:
    """The checked inputs in the metric CRS; building arrays cover every building given."""

    metric: pyproj.CRS
    region: shapely.Geometry
    excluded: NDArray[np.object_]
    excluded_index: pd.Index
    building_ids: NDArray[np.object_]
    footprints: NDArray[np.object_]
    on_canvas: NDArray[np.bool_]
    unit_of_building: NDArray[np.int64]
    weight_columns: list[str]
    weights: NDArray[np.float64]
    units: NDArray[np.object_]
    unit_kind: list[str]
    unit_ids: list[str]
    unit_names: list[str | None]
    main_roads: NDArray[np.object_]
    notes: dict[str, Any]


def read_inputs(
    community: Any,
    buildings: gpd.GeoDataFrame,
    units: gpd.GeoDataFrame,
    *,
    roads: gpd.GeoDataFrame | None,
    gaps: gpd.GeoSeries | gpd.GeoDataFrame | None,
    metric: pyproj.CRS | int | str,
    main_road_classes: Sequence[str],
    weight_columns: Sequence[str],
    point_radius_m: float,
) -> Inputs:
    """Check, project and clip the inputs of :func:`gridmap.engine.canvas.build.build_canvas`."""
    crs = pyproj.CRS.from_user_input(metric)
    if not crs.is_projected:
        raise InputError(f"metric={metric!r} is not a projected CRS")
    if not isinstance(community, shapely.Polygon | shapely.MultiPolygon) or community.is_empty:
        raise InputError(f"community must be a non-empty (Multi)Polygon; got {community!r:.80}")
    to_metric = transformer(_LONLAT, crs)
    whole = polygonal(shapely.make_valid(shapely.transform(community, _apply(to_metric))))
    notes: dict[str, Any] = {"warnings": []}

    excluded, excluded_index = _gaps(gaps, whole, to_metric)
    region = polygonal(shapely.difference(whole, shapely.union_all(excluded)))
    if not shapely.area(region) > 0:
        raise InputError("gaps cover the whole community: nothing is left to tessellate")
    shapely.prepare(region)

    ids = _ids(buildings, "buildings")
    raw = _footprints(_geoms(buildings, to_metric), point_radius_m)
    area = shapely.area(raw)
    clipped = clip(raw, region)
    no_geometry = ~(area > 0)
    share = np.divide(shapely.area(clipped), area, out=np.zeros(len(area)), where=~no_geometry)
    on = ~no_geometry & (share >= 0.5)
    if len(excluded):
        in_whole = shapely.area(shapely.intersection(raw, whole))
        outside = ~no_geometry & (in_whole < 0.5 * area)
    else:
        outside = ~no_geometry & ~on
    notes["outside"] = ids[outside].tolist()
    notes["in_excluded"] = ids[~no_geometry & ~on & ~outside].tolist()
    notes["no_geometry"] = ids[no_geometry].tolist()
    if notes["outside"]:
        notes["warnings"].append(
            f"{len(notes['outside'])} building(s) lie mostly outside the community and are "
            "not on the canvas (report['outside'])"
        )
    if notes["in_excluded"]:
        notes["warnings"].append(
            f"{len(notes['in_excluded'])} building(s) lie mostly in an excluded gap and are "
            "not on the canvas (report['in_excluded'])"
        )

    unit_geoms, unit_kind, unit_ids, unit_names = _units(units, region, to_metric, notes)
    unit_of = _unit_of_buildings(buildings, unit_ids, on, ids, notes)
    weights = _weights(buildings, weight_columns, notes)
    return Inputs(
        metric=crs,
        region=region,
        excluded=excluded,
        excluded_index=excluded_index,
        building_ids=ids,
        footprints=clipped,
        on_canvas=on,
        unit_of_building=unit_of,
        weight_columns=list(weight_columns),
        weights=weights,
        units=unit_geoms,
        unit_kind=unit_kind,
        unit_ids=unit_ids,
        unit_names=unit_names,
        main_roads=_main_roads(roads, to_metric, main_road_classes, notes),
        notes=notes,
    )


def polygonal(geoms: Any) -> Any:
    """Only the polygonal part of each geometry (intersections may add lines and points).

    Examples
    --------
    >>> g = shapely.intersection(shapely.box(0, 0, 2, 2), shapely.MultiPolygon(
    ...     [shapely.box(0, 0, 1, 1), shapely.box(2, 0, 3, 1)]))
    >>> g.geom_type, polygonal(g).geom_type
    ('GeometryCollection', 'Polygon')
    """
    if isinstance(geoms, shapely.Geometry):
        return polygonal(np.array([geoms], dtype=object))[0]
    out = np.array(geoms, dtype=object)
    kind = shapely.get_type_id(out)
    out[~np.isin(kind, [*_POLYGONAL, shapely.GeometryType.GEOMETRYCOLLECTION])] = None
    for k in np.flatnonzero(kind == shapely.GeometryType.GEOMETRYCOLLECTION):
        parts = shapely.get_parts(out[k])
        parts = parts[np.isin(shapely.get_type_id(parts), _POLYGONAL)]
        out[k] = shapely.union_all(parts) if len(parts) else None
    out[shapely.is_missing(out)] = shapely.Polygon()
    return out


def clip(geoms: NDArray[np.object_], region: shapely.Geometry) -> NDArray[np.object_]:
    """Polygonal part of each geometry inside ``region`` (prepared); only edge cases overlay.

    Examples
    --------
    >>> [g.area for g in clip(np.array([shapely.box(0, 0, 1, 1), shapely.box(1, 0, 3, 1)]),
    ...                       shapely.box(0, 0, 2, 2))]
    [1.0, 1.0]
    """
    out = np.array(geoms, dtype=object)
    edge = ~shapely.contains_properly(region, out) & ~shapely.is_empty(out)
    out[edge] = polygonal(shapely.intersection(out[edge], region))
    return out


def _apply(to: pyproj.Transformer):  # type: ignore[no-untyped-def]
    def apply(xy: NDArray[np.float64]) -> NDArray[np.float64]:
        return np.column_stack(to.transform(xy[:, 0], xy[:, 1]))

    return apply


def _geoms(
    frame: gpd.GeoDataFrame | gpd.GeoSeries,
    to_metric: pyproj.Transformer,
    rows: NDArray[np.bool_] | None = None,
) -> NDArray[np.object_]:
    """Geometries of ``frame`` (those of ``rows``) in the metric CRS of ``to_metric`` (from
    EPSG:4326; a frame without a CRS is EPSG:4326).

    Lon/lat geometries are transformed in one call of ``to_metric`` over all their vertices,
    as GeoPandas' ``to_crs`` does, without building a GeoSeries.
    """
    series = frame.geometry if isinstance(frame, gpd.GeoDataFrame) else frame
    if series.crs is not None and series.crs != _LONLAT:
        series = series.to_crs(to_metric.target_crs)
        return np.asarray(series.array, dtype=object)[rows if rows is not None else slice(None)]
    geoms = np.asarray(series.array, dtype=object)
    if rows is not None:
        geoms = geoms[rows]

    def apply(*xyz: NDArray[np.float64]) -> Any:
        return to_metric.transform(*xyz)  # type: ignore[call-overload]

    return shapely.transform(geoms, apply, include_z=None, interleaved=False)  # type: ignore[no-any-return]


def _ids(frame: gpd.GeoDataFrame, source: str) -> NDArray[np.object_]:
    values = (frame["id"] if "id" in frame.columns else frame.index).to_numpy(dtype=object)
    if not pd.Index(values, dtype=object).has_duplicates:
        return values
    ids = pd.Series(values)
    dup = ids[ids.duplicated(keep=False)]
    if len(dup):
        rows: dict[str, list[int | str]] = {
            str(k): [int(r) for r in v] for k, v in dup.groupby(dup, sort=True).groups.items()
        }
        raise DuplicateIdError(source, "id", rows)
    return ids.to_numpy(dtype=object)


def _footprints(geoms: NDArray[np.object_], radius: float) -> NDArray[np.object_]:
    """Valid polygonal footprints; points and lines are buffered by ``radius``."""
    out = np.array(geoms, dtype=object)
    missing = shapely.is_missing(out) | shapely.is_empty(out)
    out[missing] = shapely.Polygon()
    flat = ~missing & ~np.isin(shapely.get_type_id(out), _POLYGONAL)
    out[flat] = shapely.buffer(out[flat], radius, quad_segs=2)
    bad = ~shapely.is_valid(out)
    out[bad] = shapely.make_valid(out[bad], method="structure", keep_collapsed=False)
    return polygonal(out)  # type: ignore[no-any-return]


def _gaps(
    gaps: gpd.GeoSeries | gpd.GeoDataFrame | None,
    whole: shapely.Geometry,
    to_metric: pyproj.Transformer,
) -> tuple[NDArray[np.object_], pd.Index]:
    if gaps is None or len(gaps) == 0:
        return np.empty(0, dtype=object), pd.Index([])
    inside = polygonal(shapely.intersection(_footprints(_geoms(gaps, to_metric), 0.0), whole))
    keep = shapely.area(inside) > 0
    return inside[keep], gaps.index[keep]


def _units(
    units: gpd.GeoDataFrame,
    region: shapely.Geometry,
    to_metric: pyproj.Transformer,
    notes: dict[str, Any],
) -> tuple[NDArray[np.object_], list[str], list[str], list[str | None]]:
    """Units lying mostly on the canvas, clipped to it; the others are reported."""
    notes["units_outside"] = []
    if units is None or len(units) == 0:
        return np.empty(0, dtype=object), [], [], []
    if "kind" not in units.columns:
        raise MissingColumnError("units", ["kind"], list(map(str, units.columns)))
    ids = _ids(units, "units")
    kinds = units["kind"].to_numpy(dtype=object)
    unknown = sorted({str(k) for k in kinds if k not in UNIT_KINDS})
    if unknown:
        raise InputError(
            f"units: unknown kind(s) {', '.join(unknown)}; expected {', '.join(UNIT_KINDS)}"
        )
    raw = _footprints(_geoms(units, to_metric), 0.0)
    clipped = clip(raw, region)
    area = shapely.area(raw)
    keep = (area > 0) & (shapely.area(clipped) >= 0.5 * area)
    notes["units_outside"] = ids[~keep].tolist()
    names = units["name"] if "name" in units.columns else pd.Series(None, index=units.index)
    return (
        clipped[keep],
        [UNIT_KINDS[k] for k in kinds[keep]],
        [str(i) for i in ids[keep]],
        [None if pd.isna(n) else str(n) for n in names.to_numpy(dtype=object)[keep]],
    )


def _unit_of_buildings(
    buildings: gpd.GeoDataFrame,
    unit_ids: list[str],
    on: NDArray[np.bool_],
    ids: NDArray[np.object_],
    notes: dict[str, Any],
) -> NDArray[np.int64]:
    """Position of each building's unit among the units on the canvas; -1 for none."""
    if "unit_id" not in buildings.columns:
        return np.full(len(buildings), -1, dtype=np.int64)
    given = buildings["unit_id"].to_numpy(dtype=object)
    has = ~pd.isna(given)
    position = {u: k for k, u in enumerate(unit_ids)}
    out = np.array([position.get(str(u), -1) if h else -1 for u, h in zip(given, has, strict=True)])
    lost = on & has & (out < 0)
    notes["unit_not_on_canvas"] = {str(ids[k]): str(given[k]) for k in np.flatnonzero(lost)}
    if lost.any():
        notes["warnings"].append(
            f"{int(lost.sum())} building(s) name a unit that is unknown or not on the canvas; "
            "they are grouped as scattered buildings (report['unit_not_on_canvas'])"
        )
    return out.astype(np.int64)


def _weights(
    buildings: gpd.GeoDataFrame, columns: Sequence[str], notes: dict[str, Any]
) -> NDArray[np.float64]:
    """One row of weights per column; a missing value counts 0 and is reported."""
    absent = [c for c in columns if c not in buildings.columns]
    if absent:
        raise MissingColumnError("buildings", absent, list(map(str, buildings.columns)))
    rows, missing = [], {}
    for column in columns:
        given = buildings[column]
        if given.dtype.kind in "iuf":  # plain numpy numbers: NaN is the missing value
            values = given.to_numpy(dtype=float, na_value=np.nan)
            absent = np.isnan(values)
            missing[column] = int(absent.sum())
            rows.append(np.where(absent, 0.0, values))
            continue
        try:
            numbers = pd.to_numeric(given, errors="raise").astype("Float64")
        except (TypeError, ValueError) as exc:
            raise InputError(f"buildings: column {column!r} is not numeric ({exc})") from None
        missing[column] = int(numbers.isna().sum())
        rows.append(numbers.fillna(0.0).to_numpy(dtype=float))
    notes["missing_weights"] = missing
    if any(missing.values()):
        notes["warnings"].append(f"buildings without a weight count 0: {missing}")
    return np.array(rows, dtype=float).reshape(len(columns), len(buildings))


def _main_roads(
    roads: gpd.GeoDataFrame | None,
    to_metric: pyproj.Transformer,
    classes: Sequence[str],
    notes: dict[str, Any],
) -> NDArray[np.object_]:
    if roads is None or len(roads) == 0:
        return np.empty(0, dtype=object)
    if "class" not in roads.columns:
        notes["warnings"].append("roads have no 'class' column: no road is taken as main road")
        return np.empty(0, dtype=object)
    geoms = _geoms(roads, to_metric, roads["class"].isin(list(classes)).to_numpy())
    return geoms[~(shapely.is_missing(geoms) | shapely.is_empty(geoms))]
