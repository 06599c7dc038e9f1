"""The map layers the public read side serves, held in memory and filtered by bbox.

One :class:`FeatureCache` per app (``app.state.features``) reads each layer from the store once
and keeps it, with its R-tree, until :meth:`FeatureCache.invalidate` (a publication). The
GeoJSON layers, OGC API Features and the GeoPackage tile encoder all read through it, so the
three agree on what a layer holds and on its attributes.

Layers: ``streets`` and ``communities`` (the divisions of that level), ``grids`` (in force now,
or a plan's head revision), ``units`` and ``buildings``.
"""

from __future__ import annotations

import json
import math
import threading
from dataclasses import dataclass
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from gridmap.errors import InputError, NotFoundError
from gridmap.settings import Settings
from gridmap.store.contract import Store

__all__ = [
    "LAYERS",
    "FeatureCache",
    "LayerSpec",
    "feature_collection",
    "features_of",
    "parse_bbox",
]

BBox = tuple[float, float, float, float]


@dataclass(frozen=True)
class LayerSpec:
    """A served layer: its id column, attribute columns (with JSON types) and titles."""

    name: str
    id_column: str
    fields: dict[str, str]  # column → "string" | "integer" | "number"
    title: str
    description: str
    geometry: str = "MultiPolygon"


LAYERS: dict[str, LayerSpec] = {
    spec.name: spec
    for spec in (
        LayerSpec(
            "streets",
            "code",
            {"code": "string", "name": "string", "short_name": "string", "parent_code": "string"},
            "街道/镇 streets and towns",
            "The streets and towns of the district (12-digit statistical codes).",
        ),
        LayerSpec(
            "communities",
            "code",
            {"code": "string", "name": "string", "short_name": "string", "parent_code": "string"},
            "社区/村 communities and villages",
            "The communities and villages; each is covered by grids.",
        ),
        LayerSpec(
            "grids",
            "code",
            {
                "code": "string",
                "name": "string",
                "community_code": "string",
                "residents": "integer",
                "households": "integer",
                "deviation": "number",
                "plan_id": "string",
                "revision": "integer",
            },
            "网格 grids",
            "The grids in force (or of one plan's head revision): code, name, residents and "
            "the deviation of their weight from the plan's target (0.1 = 10% above).",
        ),
        LayerSpec(
            "units",
            "id",
            {
                "id": "string",
                "kind": "string",
                "name": "string",
                "category": "string",
                "community_code": "string",
            },
            "小区与社会单位 compounds and social units",
            "Closed residential compounds and social units (schools, hospitals, enterprises).",
        ),
        LayerSpec(
            "buildings",
            "id",
            {
                "id": "string",
                "name": "string",
                "address": "string",
                "unit_id": "string",
                "floors": "integer",
                "households": "integer",
                "residents": "integer",
            },
            "建筑 buildings",
            "Building footprints with households and residents (counts only, no persons).",
            geometry="Geometry",
        ),
    )
}


def parse_bbox(text: str | None) -> BBox | None:
    """``"minlon,minlat,maxlon,maxlat"`` as four floats; InputError naming what came in.

    Examples
    --------
    >>> parse_bbox("106.5,29.5,106.6,29.6")
    (106.5, 29.5, 106.6, 29.6)
    >>> parse_bbox(None) is None
    True
    """
    if text is None or not text.strip():
        return None
    parts = text.split(",")
    try:
        values = tuple(float(p) for p in parts)
    except ValueError:
        values = ()
    if len(values) != 4 or not all(math.isfinite(v) for v in values):
        raise InputError(f"bbox: expected minlon,minlat,maxlon,maxlat, got {text!r}")
    x0, y0, x1, y1 = values
    if not (-180 <= x0 <= x1 <= 180 and -90 <= y0 <= y1 <= 90):
        raise InputError(f"bbox: {text!r} is not a lon/lat box (min ≤ max, within ±180/±90)")
    return (x0, y0, x1, y1)


class FeatureCache:
    """The served layers of one store, read once and kept with their R-trees.

    Parameters
    ----------
    store : Store
    settings : Settings
        ``target`` and ``weight`` give a grid's deviation when its plan does not name them.
    """

    def __init__(self, store: Store, settings: Settings) -> None:
        self.store, self.settings = store, settings
        self._lock = threading.Lock()
        self._frames: dict[tuple[str, str | None, int | None], gpd.GeoDataFrame] = {}
        self.generation = 0  # +1 per invalidate: part of every cache key built on these frames

    def invalidate(self) -> None:
        """Forget every layer (after a publication or a write): the next read reloads."""
        with self._lock:
            self._frames.clear()
            self.generation += 1

    def plan_head(self, plan: str | None) -> int | None:
        """The head revision of ``plan`` (None for the grids in force); NotFoundError."""
        return None if plan is None else self.store.plan(plan).head

    def frame(self, layer: str, plan: str | None = None) -> gpd.GeoDataFrame:
        """The whole layer: id and attribute columns of :data:`LAYERS`, EPSG:4326."""
        spec = _spec(layer)
        if plan is not None and layer != "grids":
            raise InputError(f"plan: only the grids layer has plans, not {layer!r}")
        key = (layer, plan, self.plan_head(plan))
        with self._lock:
            found = self._frames.get(key)
        if found is not None:
            return found
        frame = self._load(spec, plan)
        frame.sindex  # noqa: B018  built now, once, not under a request's first query
        with self._lock:
            self._frames[key] = frame
        return frame

    def query(
        self, layer: str, bbox: BBox | None = None, plan: str | None = None
    ) -> gpd.GeoDataFrame:
        """The features of ``layer`` that intersect ``bbox`` (all without one), in layer order."""
        frame = self.frame(layer, plan)
        if bbox is None or frame.empty:
            return frame
        rows = frame.sindex.query(shapely.box(*bbox), predicate="intersects")
        return frame.iloc[np.sort(rows)]

    # -- loading ---------------------------------------------------------------------------

    def _load(self, spec: LayerSpec, plan: str | None) -> gpd.GeoDataFrame:
        if spec.name in ("streets", "communities"):
            divisions = self.store.read("divisions")
            level = "street" if spec.name == "streets" else "community"
            frame = divisions[divisions["level"] == level]
        elif spec.name == "grids":
            frame = self._grids(plan)
        else:
            frame = self.store.read(spec.name)
        out = frame.reindex(columns=[*spec.fields, "geometry"]).reset_index(drop=True)
        for column, kind in spec.fields.items():
            out[column] = _typed(out[column], kind)
        return gpd.GeoDataFrame(out, geometry="geometry", crs=4326)

    def _grids(self, plan: str | None) -> pd.DataFrame:
        if plan is None:
            grids = self.store.grids_at()
        else:
            info = self.store.plan(plan)
            grids = self.store.revision(plan).grids.assign(plan_id=info.id, revision=info.head)
        grids = grids.copy()
        targets = {}
        for plan_id in pd.unique(grids["plan_id"].astype(str)) if len(grids) else []:
            params = self.store.plan(plan_id).params
            targets[plan_id] = (
                float(params.get("target") or self.settings.target),
                str(params.get("weight") or self.settings.weight),
            )
        target = grids["plan_id"].astype(str).map(lambda p: targets[p][0]) if len(grids) else 1.0
        weight_of = grids["plan_id"].astype(str).map(lambda p: targets[p][1]) if len(grids) else ""
        weight = np.where(weight_of == "households", grids["households"], grids["residents"])
        grids["deviation"] = np.round(
            pd.to_numeric(pd.Series(weight, index=grids.index), errors="coerce") / target - 1, 4
        )
        grids["plan_id"] = grids["plan_id"].astype(str)
        return grids


def features_of(frame: gpd.GeoDataFrame, layer: str) -> list[dict[str, Any]]:
    """GeoJSON features (RFC 7946: lon/lat, ``id`` from the layer's id column)."""
    spec = _spec(layer)
    if frame.empty:
        return []
    geometries = shapely.to_geojson(np.asarray(frame.geometry.array), indent=None)
    records = frame.drop(columns="geometry").to_dict("records")
    out = []
    for geometry, record in zip(geometries, records, strict=True):
        properties = {k: _plain(v) for k, v in record.items()}
        out.append(
            {
                "type": "Feature",
                "id": properties.get(spec.id_column),
                "geometry": None if geometry is None else json.loads(geometry),
                "properties": properties,
            }
        )
    return out


def feature_collection(
    frame: gpd.GeoDataFrame, layer: str, extra: dict[str, Any] | None = None
) -> dict[str, Any]:
    """A GeoJSON FeatureCollection of ``frame``."""
    return {"type": "FeatureCollection", "features": features_of(frame, layer), **(extra or {})}


def _spec(layer: str) -> LayerSpec:
    try:
        return LAYERS[layer]
    except KeyError:
        raise NotFoundError(f"no layer {layer!r}; the layers are {', '.join(LAYERS)}") from None


def _typed(values: pd.Series, kind: str) -> pd.Series:
    if kind == "integer":
        return pd.to_numeric(values, errors="coerce").astype("Int64")
    if kind == "number":
        return pd.to_numeric(values, errors="coerce").astype(float)
    return (
        values.astype(object).where(values.notna(), None).map(lambda v: v if v is None else str(v))
    )


def _plain(value: Any) -> Any:
    """A JSON value: numpy scalars as Python ones, NaN/NA as None."""
    if value is None or value is pd.NA:
        return None
    if isinstance(value, float | np.floating):
        return None if math.isnan(value) else float(value)
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.bool_):
        return bool(value)
    return value
