"""Prebuilt vector tiles in the store: tile sets, each built for one state of the data.

A **tile set** is every non-empty tile of the published layers from their first zoom up to a
last one, encoded once (by :mod:`gridmap.api.tiles_build`) and kept in the store beside the data
it shows: in the workspace's GeoPackage (tables ``tile_sets`` and ``tiles``, attribute tables made
on first use) or in PostGIS (the same tables, migration 010). One file or one database holds the
data and its tiles, so a backup, a copy or a replica carries both and they cannot drift apart.

Each tile is stored gzipped with its ETag (a hash of the MVT bytes, as a live tile's), under the
unique key (set, layer, z, x, y): serving one is a single indexed read. A set records the
**source stamp** it was built from (:func:`source_stamp`: which publications are in force and
the last write of a reference layer); a server serves a set only while the store's stamp is
still that one, so a publication or a load makes every older set unused at once, whichever
process made it, and tiles are encoded live until the new set is ready.

Functions over a :class:`~gridmap.store.base.StoreBase` (portable SQL), plus
:class:`TileReader`, each engine's fast read path.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from gridmap.store.common import now

if TYPE_CHECKING:
    from gridmap.store.base import StoreBase

__all__ = [
    "TileReader",
    "TileSet",
    "begin_tile_set",
    "finish_tile_set",
    "has_tile_sets",
    "put_tiles",
    "ready_tile_set",
    "source_stamp",
]

_PUBLICATIONS = (
    "SELECT COUNT(*) AS n, COUNT(valid_to) AS ended, MAX(valid_from) AS newest FROM publications"
)
_IN_FORCE = (
    "SELECT COUNT(*) AS n, SUM({key}) AS keys FROM publications"
    " WHERE valid_from <= ? AND (valid_to IS NULL OR valid_to > ?)"
)
_WRITES = "SELECT MAX(seq) AS seq FROM audit_log WHERE action = 'write' AND outcome = 'ok'"
_NEXT_SET = "SELECT COALESCE(MAX(id), 0) + 1 AS id FROM tile_sets"
_INSERT_SET = (
    "INSERT INTO tile_sets (id, stamp, state, zooms, started_at, tiles)"
    " VALUES (?, ?, 'building', ?, ?, 0)"
)
_INSERT_TILE = "INSERT INTO tiles (set_id, layer, z, x, y, data, etag) VALUES (?, ?, ?, ?, ?, ?, ?)"
_FINISH = "UPDATE tile_sets SET state = 'ready', finished_at = ?, tiles = ? WHERE id = ?"
_DROP_TILES = "DELETE FROM tiles WHERE set_id < ?"
_DROP_SETS = "DELETE FROM tile_sets WHERE id < ?"
_READY = (
    "SELECT id, zooms, tiles FROM tile_sets WHERE state = 'ready' AND stamp = ?"
    " ORDER BY id DESC LIMIT 1"
)
_TILE = "SELECT data, etag FROM tiles WHERE set_id = ? AND layer = ? AND z = ? AND x = ? AND y = ?"
_PG_TILE = (
    "SELECT data, etag FROM gridmap.tiles"
    " WHERE set_id = %s AND layer = %s AND z = %s AND x = %s AND y = %s"
)
# GeoPackage: the tables are made on first use (attribute tables, so GDAL lists them).
_GPKG_SETS = (
    ("id", "INTEGER NOT NULL"),
    ("stamp", "TEXT NOT NULL"),
    ("state", "TEXT NOT NULL"),
    ("zooms", "TEXT NOT NULL"),
    ("started_at", "TEXT NOT NULL"),
    ("finished_at", "TEXT"),
    ("tiles", "INTEGER NOT NULL"),
)
_GPKG_TILES = (
    ("set_id", "INTEGER NOT NULL"),
    ("layer", "TEXT NOT NULL"),
    ("z", "INTEGER NOT NULL"),
    ("x", "INTEGER NOT NULL"),
    ("y", "INTEGER NOT NULL"),
    ("data", "BLOB NOT NULL"),
    ("etag", "TEXT NOT NULL"),
)


@dataclass(frozen=True)
class TileSet:
    """A ready tile set: its id, the zooms it holds per layer (first, last), its tile count."""

    id: int
    zooms: Mapping[str, tuple[int, int]]
    tiles: int

    def holds(self, layer: str, z: int) -> bool:
        """Whether ``layer`` at zoom ``z`` was built (a tile missing there is empty)."""
        span = self.zooms.get(layer)
        return span is not None and span[0] <= z <= span[1]


def source_stamp(store: StoreBase) -> str:
    """What prebuilt tiles are built from, as text: the publications (all, ended, in force now)
    and the last write of a reference layer. Equal while tiles built from it are current.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> from gridmap.store import GpkgStore
    >>> with GpkgStore(pathlib.Path(tempfile.mkdtemp()) / "w.gpkg") as store:
    ...     source_stamp(store)
    '0:0:None:0:None:None'
    """
    when = store._stamp(now())
    with store._read() as conn:
        pubs = store._rows(conn, _PUBLICATIONS)[0]
        force = store._rows(conn, _IN_FORCE.format(key=store._ROW_KEY), (when, when))[0]
        writes = store._rows(conn, _WRITES)[0]
    newest = pubs["newest"]
    newest = store._time(newest).isoformat() if newest is not None else None  # type: ignore[union-attr]
    return ":".join(
        str(v) for v in (pubs["n"], pubs["ended"], newest, force["n"], force["keys"], writes["seq"])
    )


def begin_tile_set(store: StoreBase, stamp: str, zooms: Mapping[str, tuple[int, int]]) -> int:
    """Start a tile set built from ``stamp`` (state "building"); its id."""
    with store._write() as conn:
        _ensure_tables(store, conn)
        store._lock_names(conn, ["gridmap.tile_sets"])
        set_id = int(store._rows(conn, _NEXT_SET)[0]["id"])
        spec = json.dumps({k: list(v) for k, v in zooms.items()})
        store._rows(conn, _INSERT_SET, (set_id, stamp, spec, store._stamp(now())))
    return set_id


def put_tiles(store: StoreBase, set_id: int, tiles: Iterable[tuple[Any, ...]]) -> int:
    """Add tiles (layer, z, x, y, gzipped MVT, ETag) to a set being built, in one transaction."""
    rows = list(tiles)
    with store._write() as conn:
        for row in rows:
            store._rows(conn, _INSERT_TILE, (set_id, *row))
    return len(rows)


def finish_tile_set(store: StoreBase, set_id: int, count: int) -> None:
    """Mark a set ready and drop every older set with its tiles (one transaction)."""
    with store._write() as conn:
        store._rows(conn, _FINISH, (store._stamp(now()), count, set_id))
        store._rows(conn, _DROP_TILES, (set_id,))
        store._rows(conn, _DROP_SETS, (set_id,))


def has_tile_sets(store: StoreBase) -> bool:
    """Whether tiles were ever built into this store (so a change of its data should rebuild)."""
    with store._read() as conn:
        return _has_tables(store, conn) and bool(
            store._rows(conn, "SELECT id FROM tile_sets LIMIT 1")
        )


def ready_tile_set(store: StoreBase, stamp: str) -> TileSet | None:
    """The newest ready set built from ``stamp`` (None: none, or no tile table yet)."""
    with store._read() as conn:
        if not _has_tables(store, conn):
            return None
        rows = store._rows(conn, _READY, (stamp,))
    if not rows:
        return None
    zooms = {k: (int(v[0]), int(v[1])) for k, v in json.loads(rows[0]["zooms"]).items()}
    return TileSet(int(rows[0]["id"]), zooms, int(rows[0]["tiles"]))


class TileReader:
    """One tile of a set, read by its key: ``read(set_id, layer, z, x, y)`` → (gzipped bytes,
    ETag) or None. A GeoPackage is read through a read-only connection of its own (a primary-key
    lookup of a few tens of µs, without the store's lock); PostGIS through the store's pool, or
    without a thread through :meth:`aread` once :meth:`open_async` has made an async pool to the
    same database."""

    def __init__(self, store: Any) -> None:
        self._lock = threading.Lock()
        self._pool = getattr(store, "pool", None)
        self._sqlite: sqlite3.Connection | None = None
        if self._pool is None:
            uri = f"{store.path.resolve().as_uri()}?mode=ro"
            self._sqlite = sqlite3.connect(uri, uri=True, check_same_thread=False)
        self.blocking = self._pool is not None  # PostGIS: call it from a thread
        self._async: Any = None

    async def open_async(self) -> None:
        """PostGIS: an async pool of a few connections for :meth:`aread` (in the running loop)."""
        if self._pool is None or self._async is not None:
            return
        from psycopg_pool import AsyncConnectionPool

        pool = AsyncConnectionPool(
            self._pool.conninfo, min_size=1, max_size=4, kwargs=dict(self._pool.kwargs), open=False
        )
        await pool.open()
        self._async = pool

    @property
    def is_async(self) -> bool:
        return self._async is not None

    async def aread(
        self, set_id: int, layer: str, z: int, x: int, y: int
    ) -> tuple[bytes, str] | None:
        """:meth:`read` on the async pool (PostGIS, after :meth:`open_async`)."""
        async with self._async.connection() as conn:
            cursor = await conn.execute(_PG_TILE, (set_id, layer, z, x, y))
            row = await cursor.fetchone()
        return None if row is None else (bytes(row[0]), str(row[1]))

    async def aclose(self) -> None:
        if self._async is not None:
            await self._async.close()
            self._async = None

    def read(self, set_id: int, layer: str, z: int, x: int, y: int) -> tuple[bytes, str] | None:
        args = (set_id, layer, z, x, y)
        if self._sqlite is not None:
            with self._lock:
                row = self._sqlite.execute(_TILE, args).fetchone()
        else:
            with self._pool.connection() as conn:  # type: ignore[union-attr]
                row = conn.execute(_PG_TILE, args).fetchone()
        return None if row is None else (bytes(row[0]), str(row[1]))

    def close(self) -> None:
        if self._sqlite is not None:
            self._sqlite.close()
            self._sqlite = None


def _has_tables(store: StoreBase, conn: Any) -> bool:
    if getattr(store, "pool", None) is not None:
        return True  # migration 010
    from gridmap.store.gpkg.file import table_exists

    return table_exists(conn, "tile_sets") and table_exists(conn, "tiles")


def _ensure_tables(store: StoreBase, conn: Any) -> None:
    """A GeoPackage gets its tile tables on the first build (PostGIS has them from 010)."""
    if _has_tables(store, conn):
        return
    from gridmap.store.gpkg.file import create_table, ensure_geopackage

    ensure_geopackage(conn)
    create_table(
        conn,
        "tile_sets",
        _GPKG_SETS,
        constraints=("UNIQUE (id)",),
        description="Prebuilt vector tile sets (gridmap tiles build).",
    )
    create_table(
        conn,
        "tiles",
        _GPKG_TILES,
        constraints=("UNIQUE (set_id, layer, z, x, y)",),
        description="Prebuilt vector tiles: gzipped MVT with its ETag, by set, layer, z, x, y.",
    )
