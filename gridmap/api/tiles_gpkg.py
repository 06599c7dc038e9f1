"""Vector tiles without a database: the layers in memory, encoded with mapbox-vector-tile.

The features come from :class:`gridmap.api.features.FeatureCache` (the layers the GeoJSON and
OGC endpoints serve), projected to Web Mercator once per layer. A tile takes the features that
meet it (with a 64-unit buffer, as ST_AsMVTGeom), clips them, moves them to tile units (extent
4096), simplifies them by half a unit and snaps them to whole units (the thinning ST_AsMVTGeom
does); polygons that collapse are dropped. Only the encoding itself is pure Python, and heavy
tiles (thousands of footprints) take a large fraction of a second, so tiles are cached by
:class:`gridmap.api.tiles.TileCache`.
"""

from __future__ import annotations

import threading
from typing import Any

import numpy as np
import pandas as pd
import pyproj
import shapely

from gridmap.api.features import FeatureCache
from gridmap.api.tiles_common import BASE_LAYERS, BUFFER, EXTENT, TILE_FIELDS, mercator_bounds

__all__ = ["GpkgTiles"]

_TO_MERCATOR = pyproj.Transformer.from_crs(4326, 3857, always_xy=True)
_MAX_LAT = 85.05112878


class _Projected:
    """One layer in Web Mercator with its R-tree and the attributes tiles carry."""

    def __init__(self, frame: Any, fields: tuple[str, ...]) -> None:
        geoms = np.asarray(frame.geometry.array, dtype=object)
        geoms = shapely.clip_by_rect(geoms, -180, -_MAX_LAT, 180, _MAX_LAT)
        self.geoms = shapely.transform(geoms, _mercator, interleaved=False)
        self.tree = shapely.STRtree(self.geoms)
        self.records = [
            {k: _value(v) for k, v in row.items() if _value(v) is not None}
            for row in frame[list(fields)].to_dict("records")
        ]


class GpkgTiles:
    """Encode tiles of the layers of a :class:`FeatureCache`."""

    def __init__(self, features: FeatureCache) -> None:
        self.features = features
        self._lock = threading.Lock()
        self._projected: dict[tuple[Any, ...], _Projected] = {}

    def invalidate(self) -> None:
        """Forget the projected layers."""
        with self._lock:
            self._projected.clear()

    def tile(self, layer: str, z: int, x: int, y: int, plan: str | None = None) -> bytes:
        """The MVT bytes of one tile of ``layer`` (b"" when no feature meets it)."""
        import mapbox_vector_tile

        source = self._source(layer, plan)
        x0, y0, x1, y1 = mercator_bounds(z, x, y)
        size = x1 - x0
        pad = size * BUFFER / EXTENT
        rows = source.tree.query(shapely.box(x0 - pad, y0 - pad, x1 + pad, y1 + pad))
        if not len(rows):
            return b""
        rows = np.sort(rows)
        geoms = shapely.clip_by_rect(source.geoms[rows], x0 - pad, y0 - pad, x1 + pad, y1 + pad)
        scale = EXTENT / size
        local = shapely.transform(geoms, lambda c: (c - (x0, y0)) * scale)  # y up, as expected
        local = shapely.simplify(local, 0.5)
        local = shapely.set_precision(local, 1.0)
        keep = ~shapely.is_empty(local) & _has_dimension(local, geoms)
        features = [
            {"geometry": g, "properties": source.records[r]}
            for g, r in zip(local[keep], rows[keep], strict=True)
        ]
        if not features:
            return b""
        return bytes(
            mapbox_vector_tile.encode(
                [{"name": layer, "features": features}],
                default_options={"extents": EXTENT},
            )
        )

    def _source(self, layer: str, plan: str | None) -> _Projected:
        key = (layer, plan, self.features.plan_head(plan), self.features.generation)
        with self._lock:
            found = self._projected.get(key)
        if found is not None:
            return found
        if layer in BASE_LAYERS:
            frame = _base_layer(self.features.store, layer)
        else:
            frame = self.features.frame(layer, plan)
        made = _Projected(frame, TILE_FIELDS[layer])
        with self._lock:
            self._projected = {k: v for k, v in self._projected.items() if k[3] == key[3]}
            self._projected[key] = made
        return made


def _base_layer(store: Any, layer: str) -> Any:
    """A base-map layer (roads, landcover) from the store, EPSG:4326; empty if it has none."""
    import geopandas as gpd

    fields = list(TILE_FIELDS[layer])
    frame = store.read(layer)  # an absent layer reads as empty
    if frame.empty:
        return gpd.GeoDataFrame({f: [] for f in fields}, geometry=[], crs=4326)
    return frame[[*fields, "geometry"]].to_crs(4326)


def _mercator(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return _TO_MERCATOR.transform(x, y)  # type: ignore[no-any-return]


def _has_dimension(local: np.ndarray, original: np.ndarray) -> np.ndarray:
    """A polygon snapped to a line or a point is dropped (ST_AsMVTGeom drops it too)."""
    dim_before = shapely.get_dimensions(original)
    dim_after = shapely.get_dimensions(local)
    return np.asarray(dim_after >= dim_before)


def _value(value: Any) -> Any:
    """A tile attribute: numpy scalars as Python ones; None, NA and NaN left out."""
    if value is None or value is pd.NA:
        return None
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, float | np.floating):
        return None if np.isnan(value) else float(value)
    return value
