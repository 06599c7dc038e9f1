"""Prebuilding the published tiles into the store (:mod:`gridmap.store.tilesets`).

:func:`build_tiles` encodes every non-empty tile of every tile layer (streets, communities, the
grids in force, units, buildings, roads) from the layer's first zoom (:data:`MIN_ZOOM`) up to
``settings.tile_prebuild_max_zoom``, with the same encoder that serves live tiles (so a
prebuilt tile is the live tile, byte for byte): ST_AsMVT on PostGIS, several tiles at once on
the pool's connections; the Python encoder on a GeoPackage, in worker processes. The tiles
tried are those the features' bounds (plus the tile buffer) touch; empty ones are not stored.

:class:`TileBuilder` runs builds in a thread of the server (after a publication or a load made
through it), one at a time: a request that comes while one runs makes one more run after it.
The command line builds inline (``gridmap tiles build``, and ``gridmap publish`` / ``load``).
"""

from __future__ import annotations

import concurrent.futures as cf
import gzip
import hashlib
import logging
import math
import multiprocessing
import os
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

from gridmap.api.features import FeatureCache
from gridmap.api.tiles_common import BASE_LAYERS, BUFFER, EXTENT, MIN_ZOOM, TILE_FIELDS
from gridmap.settings import Settings
from gridmap.store.tilesets import begin_tile_set, finish_tile_set, put_tiles, source_stamp

__all__ = ["BuildOutcome", "TileBuilder", "build_tiles", "candidate_tiles", "etag_of"]

_log = logging.getLogger(__name__)
_BATCH = 256  # tiles per write transaction
# The pages draw streets and communities as GeoJSON, not tiles: their deep tiles (each a square
# of one polygon) are left to live encoding.
_LAST_ZOOM = {"streets": 14, "communities": 14}
_CHUNK = 32  # tiles per task of a worker


@dataclass(frozen=True)
class BuildOutcome:
    """A finished build: the set's id, its tiles, the tiles tried and the seconds it took."""

    set_id: int
    tiles: int
    tried: int
    seconds: float


def etag_of(data: bytes) -> str:
    """The ETag of MVT bytes (prebuilt and live tiles alike).

    Examples
    --------
    >>> etag_of(b"")
    '"6fa1d8fcfd719046d762"'
    """
    return '"' + hashlib.blake2b(data, digest_size=10).hexdigest() + '"'


def candidate_tiles(bounds: np.ndarray, z: int) -> set[tuple[int, int]]:
    """(x, y) of the zoom-``z`` tiles that lon/lat ``bounds`` (n × 4) meet, with the buffer.

    Examples
    --------
    >>> sorted(candidate_tiles(np.array([[106.57, 29.52, 106.571, 29.521]]), 14))
    [(13042, 6784)]
    """
    if not len(bounds):
        return set()
    bounds = bounds[np.isfinite(bounds).all(axis=1)]
    n = 1 << z
    pad = BUFFER / EXTENT

    def col(lon: np.ndarray) -> np.ndarray:
        return (lon + 180.0) / 360.0 * n

    def row(lat: np.ndarray) -> np.ndarray:
        lat = np.clip(lat, -85.0511, 85.0511)
        return (1 - np.arcsinh(np.tan(np.radians(lat))) / math.pi) / 2 * n

    x0 = np.clip(np.floor(col(bounds[:, 0]) - pad), 0, n - 1).astype(np.int64)
    x1 = np.clip(np.floor(col(bounds[:, 2]) + pad), 0, n - 1).astype(np.int64)
    y0 = np.clip(np.floor(row(bounds[:, 3]) - pad), 0, n - 1).astype(np.int64)
    y1 = np.clip(np.floor(row(bounds[:, 1]) + pad), 0, n - 1).astype(np.int64)
    out: set[tuple[int, int]] = set()
    for a, b, c, d in zip(x0.tolist(), x1.tolist(), y0.tolist(), y1.tolist(), strict=True):
        for x in range(a, b + 1):
            out.update((x, y) for y in range(c, d + 1))
    return out


def build_tiles(
    store: Any,
    settings: Settings,
    *,
    workers: int | None = None,
    progress: Callable[[int, int], None] | None = None,
    stop: threading.Event | None = None,
) -> BuildOutcome | None:
    """Build a tile set of the store's published layers; None when ``stop`` was set first.

    The set is made ready (and older sets dropped) only once every tile is written; until then
    servers keep serving what they served.
    """
    started = time.perf_counter()
    last = settings.tile_prebuild_max_zoom
    workers = workers or settings.tile_build_workers or min(2, os.cpu_count() or 1)
    stamp = source_stamp(store)  # before reading: the data read is at least this new
    features = FeatureCache(store, settings)
    zooms = {
        layer: (MIN_ZOOM[layer], min(last, _LAST_ZOOM.get(layer, last)))
        for layer in TILE_FIELDS
        if MIN_ZOOM[layer] <= last
    }
    todo = [
        (layer, z, x, y)
        for layer, (first, final) in zooms.items()
        for z in range(first, final + 1)
        for x, y in sorted(candidate_tiles(_bounds(features, layer), z))
    ]
    set_id = begin_tile_set(store, stamp, zooms)
    written = done = 0
    batch: list[tuple[Any, ...]] = []
    for tiles in _encoded(store, settings, features, todo, workers):
        if stop is not None and stop.is_set():
            return None
        done += len(tiles)
        batch.extend(tile for tile in tiles if tile is not None)
        if len(batch) >= _BATCH:
            written += put_tiles(store, set_id, batch)
            batch = []
        if progress is not None:
            progress(done, len(todo))
    written += put_tiles(store, set_id, batch)
    finish_tile_set(store, set_id, written)
    return BuildOutcome(set_id, written, len(todo), time.perf_counter() - started)


def _bounds(features: FeatureCache, layer: str) -> np.ndarray:
    if layer in BASE_LAYERS:
        from gridmap.api.tiles_gpkg import _base_layer

        frame = _base_layer(features.store, layer)
    else:
        frame = features.frame(layer)
    if frame.empty:
        return np.empty((0, 4))
    import shapely

    return np.asarray(shapely.bounds(np.asarray(frame.geometry.array, dtype=object)))


def _encoded(
    store: Any,
    settings: Settings,
    features: FeatureCache,
    todo: list[tuple[str, int, int, int]],
    workers: int,
) -> Iterator[list[tuple[Any, ...] | None]]:
    """Chunks of encoded tiles (layer, z, x, y, gzipped, ETag), None for an empty one."""
    chunks = [todo[i : i + _CHUNK] for i in range(0, len(todo), _CHUNK)]
    if getattr(store, "pool", None) is not None:  # PostGIS encodes: threads wait on it
        from gridmap.api.tiles_postgis import PostgisTiles

        encoder = PostgisTiles(store, settings)
        threads = cf.ThreadPoolExecutor(workers)
        try:
            yield from threads.map(lambda chunk: _encode(encoder, chunk), chunks)
        finally:  # a build stopped early (its generator closed) drops the chunks not started
            threads.shutdown(wait=True, cancel_futures=True)
        return
    if workers <= 1 or len(chunks) < 4:
        from gridmap.api.tiles_gpkg import GpkgTiles

        local = GpkgTiles(features)
        for chunk in chunks:
            yield _encode(local, chunk)
        return
    # The Python encoder holds the GIL: processes, each reading the workspace once. Spawned,
    # not forked: the server that asks has threads of its own.
    context = multiprocessing.get_context("spawn")
    processes = cf.ProcessPoolExecutor(
        workers,
        mp_context=context,
        initializer=_worker_start,
        initargs=(str(store.path), settings.model_dump(mode="json")),
    )
    try:
        yield from processes.map(_worker_encode, chunks)
    finally:
        processes.shutdown(wait=True, cancel_futures=True)


def _encode(encoder: Any, chunk: Iterable[tuple[str, int, int, int]]) -> list[Any]:
    out: list[Any] = []
    for layer, z, x, y in chunk:
        data = encoder.tile(layer, z, x, y)
        if not data:
            out.append(None)
            continue
        out.append((layer, z, x, y, gzip.compress(data, 6, mtime=0), etag_of(data)))
    return out


_WORKER: dict[str, Any] = {}


def _worker_start(path: str, settings: dict[str, Any]) -> None:
    from gridmap.api.tiles_gpkg import GpkgTiles
    from gridmap.store.gpkg.store import GpkgStore

    store = GpkgStore(path)
    _WORKER["encoder"] = GpkgTiles(FeatureCache(store, Settings(**settings)))


def _worker_encode(chunk: list[tuple[str, int, int, int]]) -> list[Any]:
    return _encode(_WORKER["encoder"], chunk)


class TileBuilder:
    """Builds tile sets in a thread of the server, one at a time.

    Parameters
    ----------
    store : Store
        Where the data is read and the tiles written (the primary, never a replica).
    settings : Settings
    done : callable
        Called (in the builder's thread) after each finished build.
    """

    def __init__(self, store: Any, settings: Settings, done: Callable[[], None]) -> None:
        self.store, self.settings, self.done = store, settings, done
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._again = False
        self.stop = threading.Event()
        self.last: BuildOutcome | None = None
        self.error: str | None = None

    @property
    def running(self) -> bool:
        with self._lock:
            return self._thread is not None

    def request(self) -> None:
        """Build soon: now, or once the build under way ends (it may have read older data)."""
        with self._lock:
            if self.stop.is_set():
                return
            if self._thread is not None:
                self._again = True
                return
            self._thread = threading.Thread(target=self._run, name="gridmap-tiles", daemon=True)
            self._thread.start()

    def wait(self, timeout: float | None = None) -> None:
        """Until no build runs (or ``timeout`` seconds): for tools and tests."""
        with self._lock:
            thread = self._thread
        if thread is not None:
            thread.join(timeout)

    def close(self, timeout: float = 30.0) -> None:
        """Stop a build under way (its set stays unused) and wait for the thread."""
        self.stop.set()
        with self._lock:
            thread = self._thread
        if thread is not None:
            thread.join(timeout)

    def _run(self) -> None:
        while True:
            try:
                outcome = build_tiles(self.store, self.settings, stop=self.stop)
                if outcome is not None:
                    self.last, self.error = outcome, None
                    _log.info(
                        "tile set %s: %s tiles in %.1f s",
                        outcome.set_id,
                        outcome.tiles,
                        outcome.seconds,
                    )
                    self.done()
            except Exception as exc:  # the server keeps encoding live; say why
                self.error = f"{type(exc).__name__}: {exc}"
                _log.exception("building the tile set failed; tiles stay live")
            with self._lock:
                if not self._again or self.stop.is_set():
                    self._thread = None
                    return
                self._again = False
