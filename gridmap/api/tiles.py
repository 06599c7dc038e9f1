"""Mapbox Vector Tiles: ``GET /tiles/{layer}/{z}/{x}/{y}.mvt`` and TileJSON 3.0.

PostGIS encodes with ST_AsMVT (:mod:`gridmap.api.tiles_postgis`); a GeoPackage workspace with
mapbox-vector-tile (:mod:`gridmap.api.tiles_gpkg`). Either way tiles are kept in an in-memory
LRU cache (:class:`TileCache`, ``app.state.tiles``) keyed by what they show: the layer, the tile,
the plan and its head revision, and the cache generation, which
:meth:`TileCache.invalidate` (called on publish) moves on. Answers carry an ETag (a hash of the
bytes; If-None-Match gives 304) and ``Cache-Control: public, max-age=settings.tile_max_age``.
"""

from __future__ import annotations

import hashlib
import math
import threading
from collections import OrderedDict
from enum import Enum
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, Path, Query, Request, Response

from gridmap.api.features import LAYERS, FeatureCache
from gridmap.api.limits import rate_limited
from gridmap.api.plan_access import PlanAccess
from gridmap.api.tiles_common import BASE_LAYERS, MAX_ZOOM, MIN_ZOOM, TILE_FIELDS
from gridmap.errors import InputError

__all__ = ["MVT_TYPE", "TileCache", "TileLayer", "router", "startup"]

MVT_TYPE = "application/vnd.mapbox-vector-tile"
router = APIRouter(tags=["tiles"], dependencies=[Depends(rate_limited)])
TileLayer = Enum("TileLayer", {name: name for name in TILE_FIELDS}, type=str)  # type: ignore[misc]


class TileCache:
    """Tiles by (layer, z, x, y, plan, head, generation), least recently used out.

    Parameters
    ----------
    encoder : GpkgTiles or PostgisTiles
    features : FeatureCache
        Its generation is part of the key; :meth:`invalidate` moves it on.
    size : int
        Tiles kept (0: none).
    """

    def __init__(self, encoder: Any, features: FeatureCache, size: int) -> None:
        self.encoder, self.features, self.size = encoder, features, size
        self._lock = threading.Lock()
        self._tiles: OrderedDict[tuple[Any, ...], tuple[bytes, str]] = OrderedDict()
        self.hits = self.misses = 0

    def invalidate(self) -> None:
        """After a publication: forget every tile, and the in-memory layers they come from."""
        self.features.invalidate()
        self.encoder.invalidate()
        with self._lock:
            self._tiles.clear()

    def get(self, layer: str, z: int, x: int, y: int, plan: str | None) -> tuple[bytes, str]:
        """(MVT bytes, ETag) of a tile, from the cache or encoded now."""
        head = self.features.plan_head(plan)
        key = (layer, z, x, y, plan, head, self.features.generation)
        with self._lock:
            found = self._tiles.get(key)
            if found is not None:
                self._tiles.move_to_end(key)
                self.hits += 1
                return found
            self.misses += 1
        if z < MIN_ZOOM[layer]:
            data = b""
        elif hasattr(self.encoder, "pool"):
            data = self.encoder.tile(layer, z, x, y, plan, head)
        else:
            data = self.encoder.tile(layer, z, x, y, plan)
        made = (data, '"' + hashlib.blake2b(data, digest_size=10).hexdigest() + '"')
        if self.size > 0:
            with self._lock:
                self._tiles[key] = made
                while len(self._tiles) > self.size:
                    self._tiles.popitem(last=False)
        return made


async def startup(app: FastAPI) -> None:
    """The tile cache and the encoder for the store's engine (``app.state.tiles``)."""
    store, settings = app.state.read_store, app.state.settings
    features = getattr(app.state, "features", None) or FeatureCache(store, settings)
    app.state.features = features
    encoder: Any
    if getattr(store, "pool", None) is not None:  # a database store: ST_AsMVT encodes there
        from gridmap.api.tiles_postgis import PostgisTiles

        encoder = PostgisTiles(store, settings)
    else:
        from gridmap.api.tiles_gpkg import GpkgTiles

        encoder = GpkgTiles(features)
    app.state.tiles = TileCache(encoder, features, settings.tile_cache_size)


@router.get(
    "/tiles/{layer}/{z}/{x}/{y}.mvt",
    name="mvt_tile",
    summary="A Mapbox Vector Tile of a layer",
    response_class=Response,
    responses={
        200: {"description": "MVT bytes (empty: no feature)", "content": {MVT_TYPE: {}}},
        304: {"description": "Not modified (If-None-Match matched the ETag)"},
        404: {"description": "unknown plan"},
        422: {"description": "z, x or y out of range"},
    },
)
def tile(
    request: Request,
    layer: TileLayer,
    z: Annotated[int, Path(ge=0, le=MAX_ZOOM, examples=[14])],
    x: Annotated[int, Path(ge=0, examples=[13042])],
    y: Annotated[int, Path(ge=0, examples=[6784])],
    access: PlanAccess,
    plan: Annotated[
        str | None, Query(description="grids only: this plan's head (a draft: planners only)")
    ] = None,
) -> Response:
    """One XYZ tile (Web Mercator, extent 4096) with one MVT layer named as ``layer``.
    grids carry code, name, community_code, residents and deviation."""
    if x >= 1 << z or y >= 1 << z:
        raise InputError(f"tile {z}/{x}/{y}: x and y must be below 2^z = {1 << z}")
    if plan is not None and layer.value != "grids":
        raise InputError(f"plan: only the grids layer has plans, not {layer.value!r}")
    cache: TileCache = request.app.state.tiles
    data, etag = cache.get(layer.value, z, x, y, plan)
    headers = {
        "ETag": etag,
        "Cache-Control": access.cache_control
        or f"public, max-age={request.app.state.settings.tile_max_age}",
    }
    if etag in _etags(request.headers.get("if-none-match")):
        return Response(status_code=304, headers=headers)
    return Response(data, media_type=MVT_TYPE, headers=headers)


@router.get("/tiles/{layer}.json", summary="TileJSON 3.0 of a layer")
def tilejson(
    request: Request,
    layer: TileLayer,
    access: PlanAccess,
    plan: Annotated[
        str | None, Query(description="grids only: this plan's head (a draft: planners only)")
    ] = None,
) -> dict[str, Any]:
    """TileJSON 3.0.0: the tile URL, zooms, bounds and the layer's fields."""
    name = layer.value
    features: FeatureCache = request.app.state.features
    if name in BASE_LAYERS:
        return _base_tilejson(request, name)
    frame = features.frame(name, plan)
    bounds = [float(v) for v in frame.total_bounds] if len(frame) else [-180.0, -85.0, 180.0, 85.0]
    centre = [(bounds[0] + bounds[2]) / 2, (bounds[1] + bounds[3]) / 2, max(MIN_ZOOM[name], 12)]
    url = str(request.url_for("mvt_tile", layer=name, z="{z}", x="{x}", y="{y}"))
    url = url.replace("%7B", "{").replace("%7D", "}")
    if plan is not None:
        url += f"?plan={plan}"
    kinds = {"string": "String", "integer": "Number", "number": "Number"}
    fields = {f: kinds[LAYERS[name].fields[f]] for f in TILE_FIELDS[name]}
    return {
        "tilejson": "3.0.0",
        "name": name,
        "description": LAYERS[name].title,
        "scheme": "xyz",
        "tiles": [url],
        "minzoom": MIN_ZOOM[name],
        "maxzoom": MAX_ZOOM,
        "bounds": [  # rounded outwards, so that the bounds hold every feature
            math.floor(bounds[0] * 1e6) / 1e6,
            math.floor(bounds[1] * 1e6) / 1e6,
            math.ceil(bounds[2] * 1e6) / 1e6,
            math.ceil(bounds[3] * 1e6) / 1e6,
        ],
        "center": [round(centre[0], 6), round(centre[1], 6), centre[2]],
        "vector_layers": [
            {"id": name, "fields": fields, "minzoom": MIN_ZOOM[name], "maxzoom": MAX_ZOOM}
        ],
    }


_BASE_TITLES = {
    "roads": "道路 roads (base map)",
    "landcover": "水系与绿地 water and green areas (base map)",
}


def _base_tilejson(request: Request, name: str) -> dict[str, Any]:
    """TileJSON of a base-map layer (roads, landcover): its URL, zooms and string fields."""
    url = str(request.url_for("mvt_tile", layer=name, z="{z}", x="{x}", y="{y}"))
    url = url.replace("%7B", "{").replace("%7D", "}")
    fields = dict.fromkeys(TILE_FIELDS[name], "String")
    return {
        "tilejson": "3.0.0",
        "name": name,
        "description": _BASE_TITLES[name],
        "scheme": "xyz",
        "tiles": [url],
        "minzoom": MIN_ZOOM[name],
        "maxzoom": MAX_ZOOM,
        "vector_layers": [
            {"id": name, "fields": fields, "minzoom": MIN_ZOOM[name], "maxzoom": MAX_ZOOM}
        ],
    }


def _etags(header: str | None) -> set[str]:
    if not header:
        return set()
    return {part.strip().removeprefix("W/") for part in header.split(",")}
