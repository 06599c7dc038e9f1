"""Mapbox Vector Tiles: ``GET /tiles/{layer}/{z}/{x}/{y}.mvt`` and TileJSON 3.0.

A tile comes from one of two places:

- **prebuilt** (:mod:`gridmap.api.tiles_build`, :mod:`gridmap.store.tilesets`): the published
  layers, every zoom up to ``settings.tile_prebuild_max_zoom``, encoded once after a publication
  or a load and kept gzipped in the store; served while the set is current (its source stamp is
  the store's), by one indexed read, as stored (``Content-Encoding: gzip``) to a client that
  accepts gzip, decompressed for one that does not;
- **live**: a draft plan's grids (``?plan=``), zooms beyond the prebuilt ones, and everything
  until a set is ready: PostGIS encodes with ST_AsMVT (:mod:`gridmap.api.tiles_postgis`), a
  GeoPackage workspace with mapbox-vector-tile (:mod:`gridmap.api.tiles_gpkg`).

Both go through an in-memory LRU cache (:class:`TileCache`, ``app.state.tiles``) whose keys
hold what the tile shows: a prebuilt tile its set, a live one the layer, the tile, the plan and
its head revision, the cache generation and the store's source stamp, so a publication (here or
in another process) never serves a tile of before. Answers carry an ETag (a hash of the MVT
bytes, the same for a tile prebuilt or live; If-None-Match gives 304) and ``Cache-Control:
public, max-age=settings.tile_max_age``. The tile route is a coroutine: a tile from the cache
or from a GeoPackage's set is answered on the event loop; encoding and PostGIS reads go to a
thread.
"""

from __future__ import annotations

import gzip
import logging
import math
import threading
import time
from collections import OrderedDict
from enum import Enum
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, Path, Query, Request, Response
from starlette.concurrency import run_in_threadpool

from gridmap.api.auth import optional_user
from gridmap.api.etags import etags
from gridmap.api.features import LAYERS, FeatureCache
from gridmap.api.limits import charge, rate_limited
from gridmap.api.plan_access import PlanAccess, PlanVisibility, plan_access
from gridmap.api.tiles_build import TileBuilder, etag_of
from gridmap.api.tiles_common import BASE_LAYERS, MAX_ZOOM, MIN_ZOOM, TILE_FIELDS
from gridmap.errors import InputError
from gridmap.store.tilesets import TileReader, TileSet, ready_tile_set, source_stamp

__all__ = ["MVT_TYPE", "TileCache", "TileLayer", "request_build", "router", "shutdown", "startup"]

MVT_TYPE = "application/vnd.mapbox-vector-tile"
router = APIRouter(tags=["tiles"])
TileLayer = Enum("TileLayer", {name: name for name in TILE_FIELDS}, type=str)  # type: ignore[misc]
_EMPTY = (b"", etag_of(b""), False)
_log = logging.getLogger(__name__)


class TileCache:
    """Tiles in memory, least recently used out; prebuilt ones by set, live ones by what they
    show (layer, z, x, y, plan, head, generation, source stamp).

    Parameters
    ----------
    encoder : GpkgTiles or PostgisTiles
    features : FeatureCache
        Its generation is part of a live tile's key; :meth:`invalidate` moves it on.
    size : int
        Tiles kept (0: none).
    store : Store, optional
        Where prebuilt tile sets are read (None: every tile is live).
    check_seconds : float
        How often :meth:`due` asks for another look at which set is current.
    """

    def __init__(
        self,
        encoder: Any,
        features: FeatureCache,
        size: int,
        store: Any = None,
        check_seconds: float = 2.0,
    ) -> None:
        self.encoder, self.features, self.size = encoder, features, size
        self.store, self.check_seconds = store, check_seconds
        self.reader = TileReader(store) if store is not None else None
        self._lock = threading.Lock()
        self._tiles: OrderedDict[tuple[Any, ...], tuple[bytes, str, bool]] = OrderedDict()
        self.hits = self.misses = 0
        self.current: TileSet | None = None  # the prebuilt set served now
        self.stamp: str | None = None  # the store's source stamp when last looked at
        self._checked = -math.inf

    # -- which prebuilt set is current ----------------------------------------------------------

    def check(self) -> TileSet | None:
        """Look (blocking) at the store's source stamp and its current prebuilt set."""
        if self.store is None:
            return None
        stamp = source_stamp(self.store)
        found = ready_tile_set(self.store, stamp)
        with self._lock:
            if stamp != self.stamp and self.stamp is not None:
                self.features.invalidate()  # another process published or loaded
                self.encoder.invalidate()
            self.stamp, self.current = stamp, found
            self._checked = time.monotonic()
        return found

    def check_quietly(self) -> None:
        """:meth:`check`, keeping what was current when the store cannot answer now."""
        try:
            self.check()
        except Exception:
            _log.warning("looking for the current tile set failed; trying again", exc_info=True)

    def due(self) -> bool:
        """Whether it is time to :meth:`check` again (true for one caller per interval)."""
        if self.store is None:
            return False
        now = time.monotonic()
        with self._lock:
            if now - self._checked < self.check_seconds:
                return False
            self._checked = now
            return True

    def invalidate(self) -> None:
        """After a publication: forget every tile, the in-memory layers they come from, and
        which prebuilt set is current (looked at again now)."""
        self.features.invalidate()
        self.encoder.invalidate()
        with self._lock:
            self._tiles.clear()
        self.check()

    # -- tiles ----------------------------------------------------------------------------------

    def cached(self, key: tuple[Any, ...]) -> tuple[bytes, str, bool] | None:
        with self._lock:
            found = self._tiles.get(key)
            if found is not None:
                self._tiles.move_to_end(key)
                self.hits += 1
            return found

    def keep(self, key: tuple[Any, ...], made: tuple[bytes, str, bool]) -> None:
        if self.size > 0:
            with self._lock:
                self._tiles[key] = made
                while len(self._tiles) > self.size:
                    self._tiles.popitem(last=False)

    def prebuilt_key(self, layer: str, z: int, x: int, y: int) -> tuple[Any, ...] | None:
        """The key of a tile the current set holds (None: the tile is live)."""
        current = self.current
        if current is None or not current.holds(layer, z):
            return None
        return ("set", current.id, layer, z, x, y)

    def read_prebuilt(self, key: tuple[Any, ...]) -> tuple[bytes, str, bool]:
        """(gzipped MVT, ETag, True) of a prebuilt tile, or the empty tile: it was not stored."""
        found = self.reader.read(*key[1:]) if self.reader is not None else None
        return self._kept(key, found)

    async def aread_prebuilt(self, key: tuple[Any, ...]) -> tuple[bytes, str, bool]:
        """:meth:`read_prebuilt` on the event loop: a GeoPackage's read (tens of µs) or
        PostGIS's async pool; elsewhere in a thread."""
        reader = self.reader
        if reader is not None and reader.is_async:
            return self._kept(key, await reader.aread(*key[1:]))
        if reader is not None and reader.blocking:
            return await run_in_threadpool(self.read_prebuilt, key)
        return self.read_prebuilt(key)

    def _kept(
        self, key: tuple[Any, ...], found: tuple[bytes, str] | None
    ) -> tuple[bytes, str, bool]:
        self.misses += 1
        made = _EMPTY if found is None else (found[0], found[1], True)
        self.keep(key, made)
        return made

    def live_key(self, layer: str, z: int, x: int, y: int, plan: str | None) -> tuple[Any, ...]:
        head = self.features.plan_head(plan)
        return (layer, z, x, y, plan, head, self.features.generation, self.stamp)

    def encode(self, key: tuple[Any, ...]) -> tuple[bytes, str, bool]:
        """Encode a live tile now (blocking) and keep it: (gzipped MVT, ETag, True), or the
        empty tile."""
        layer, z, x, y, plan, head = key[:6]
        self.misses += 1
        if z < MIN_ZOOM[layer]:
            data = b""
        elif hasattr(self.encoder, "pool"):
            data = self.encoder.tile(layer, z, x, y, plan, head)
        else:
            data = self.encoder.tile(layer, z, x, y, plan)
        # Kept gzipped as prebuilt ones are: a cached tile is answered as it is, not
        # compressed again per request by the GZip middleware.
        made = (gzip.compress(data, 6, mtime=0), etag_of(data), True) if data else _EMPTY
        self.keep(key, made)
        return made

    def get(self, layer: str, z: int, x: int, y: int, plan: str | None) -> tuple[bytes, str]:
        """(MVT bytes, ETag) of a tile, whichever way it comes (blocking; for tests and tools)."""
        key = None if plan is not None else self.prebuilt_key(layer, z, x, y)
        if key is not None:
            data, etag, zipped = self.cached(key) or self.read_prebuilt(key)
        else:
            key = self.live_key(layer, z, x, y, plan)
            data, etag, zipped = self.cached(key) or self.encode(key)
        return (gzip.decompress(data) if zipped else data), etag

    def close(self) -> None:
        if self.reader is not None:
            self.reader.close()


async def startup(app: FastAPI) -> None:
    """The tile cache, the encoder for the store's engine (``app.state.tiles``), the current
    prebuilt set, and the builder (``app.state.tile_builder``)."""
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
    prebuilt = store if settings.tiles_prebuilt else None
    cache = TileCache(
        encoder, features, settings.tile_cache_size, prebuilt, settings.tile_check_seconds
    )
    app.state.tiles = cache
    if cache.reader is not None:
        await cache.reader.open_async()
    await run_in_threadpool(cache.check)
    app.state.tile_builder = None
    if settings.tiles_prebuilt and not getattr(app.state.store, "read_only", False):
        app.state.tile_builder = TileBuilder(app.state.store, settings, cache.check_quietly)


async def shutdown(app: FastAPI) -> None:
    builder: TileBuilder | None = getattr(app.state, "tile_builder", None)
    if builder is not None:
        await run_in_threadpool(builder.close)
    cache: TileCache | None = getattr(app.state, "tiles", None)
    if cache is not None:
        if cache.reader is not None:
            await cache.reader.aclose()
        cache.close()


def request_build(app: FastAPI) -> None:
    """Build the tiles anew in the background (after a publication or a load), if enabled."""
    builder: TileBuilder | None = getattr(app.state, "tile_builder", None)
    if builder is not None:
        builder.request()


@router.get(
    "/tiles/{layer}/{z}/{x}/{y}.mvt",
    name="mvt_tile",
    summary="A Mapbox Vector Tile of a layer",
    response_class=Response,
    responses={
        200: {"description": "MVT bytes (empty: no feature)", "content": {MVT_TYPE: {}}},
        304: {"description": "Not modified (If-None-Match matched the ETag)"},
        401: {"description": "a draft plan's tiles without a planner's token"},
        404: {"description": "unknown plan"},
        422: {"description": "z, x or y out of range"},
    },
)
async def tile(
    request: Request,
    layer: TileLayer,
    z: Annotated[int, Path(ge=0, le=MAX_ZOOM, examples=[14])],
    x: Annotated[int, Path(ge=0, examples=[13042])],
    y: Annotated[int, Path(ge=0, examples=[6784])],
    plan: Annotated[
        str | None, Query(description="grids only: this plan's head (a draft: planners only)")
    ] = None,
) -> Response:
    """One XYZ tile (Web Mercator, extent 4096) with one MVT layer named as ``layer``.
    grids carry code, name, community_code, residents and deviation."""
    return await _answer(request, layer.value, z, x, y, plan)


async def _fast_tile(request: Request) -> Response:
    """The same route without FastAPI's parameter machinery (≈ a third of a tile's CPU): the
    path's digits are checked here as the route above checks them; anything else (a negative
    or non-numeric part) falls through to it and its 422."""
    params = request.path_params
    layer, z = params["layer"], params["z"]
    if layer not in TILE_FIELDS:
        raise InputError(f"layer: {layer!r} is not one of {', '.join(TILE_FIELDS)}")
    if z > MAX_ZOOM:
        raise InputError(f"z: {z} is above the last zoom, {MAX_ZOOM}")
    return await _answer(
        request, layer, z, params["x"], params["y"], request.query_params.get("plan")
    )


# Matched before the documented route below: every tile whose z, x and y are digits.
router.add_route(
    "/tiles/{layer}/{z:int}/{x:int}/{y:int}.mvt",
    _fast_tile,
    methods=["GET"],
    name="mvt_tile_fast",
    include_in_schema=False,
)
router.routes.insert(0, router.routes.pop())


async def _answer(
    request: Request, name: str, z: int, x: int, y: int, plan: str | None
) -> Response:
    charge(request, 1.0)
    if x >= 1 << z or y >= 1 << z:
        raise InputError(f"tile {z}/{x}/{y}: x and y must be below 2^z = {1 << z}")
    if plan is not None and name != "grids":
        raise InputError(f"plan: only the grids layer has plans, not {name!r}")
    cache: TileCache = request.app.state.tiles
    if cache.due():
        await run_in_threadpool(cache.check_quietly)
    access = None if plan is None else await run_in_threadpool(_visibility, request, plan)
    key = None if plan is not None else cache.prebuilt_key(name, z, x, y)
    if key is not None:
        found = cache.cached(key) or await cache.aread_prebuilt(key)
    else:
        if plan is None:  # no store read for the key
            key = cache.live_key(name, z, x, y, None)
        else:
            key = await run_in_threadpool(cache.live_key, name, z, x, y, plan)
        found = cache.cached(key) or await run_in_threadpool(cache.encode, key)
    data, etag, zipped = found
    settings = request.app.state.settings
    headers = {
        "ETag": etag,
        "Cache-Control": (access and access.cache_control)
        or f"public, max-age={settings.tile_max_age}",
        "Vary": "Accept-Encoding",
        "X-Tile": "prebuilt" if key[0] == "set" else "live",
    }
    if etag in etags(request.headers.get("if-none-match")):
        return Response(status_code=304, headers=headers)
    if zipped:
        if "gzip" in request.headers.get("accept-encoding", ""):
            headers["Content-Encoding"] = "gzip"
        else:
            data = gzip.decompress(data)
    return Response(data, media_type=MVT_TYPE, headers=headers)


def _visibility(request: Request, plan: str) -> PlanVisibility:
    """Who may read ``plan`` (a draft: a planner's bearer token), as the layer routes say."""
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    bearer = token.strip() if scheme.lower() == "bearer" and token.strip() else None
    user = optional_user(request, request.app.state.store, bearer)
    return plan_access(request, user, plan)


@router.get(
    "/tiles/{layer}.json",
    summary="TileJSON 3.0 of a layer",
    dependencies=[Depends(rate_limited)],
)
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
