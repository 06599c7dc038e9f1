"""The GeoPackage file itself, written through Python's sqlite3: connection, tables, geometry blobs.

Everything a GeoPackage reader (GDAL, QGIS) needs to list and read a table is written here: the
GeoPackage metadata tables, each table's row in ``gpkg_contents`` (``features`` or
``attributes``), its ``gpkg_geometry_columns`` row, and the R-tree spatial index with the
triggers of the GeoPackage R-tree extension. Those triggers call ``ST_IsEmpty``, ``ST_MinX``, …,
which plain SQLite lacks; :func:`connect` registers them, so rows written by gridmap and rows
edited in QGIS keep the index right alike.

Geometry blobs are the GeoPackage binary header (magic ``GP``, version 0, little-endian, the
envelope [minx, maxx, miny, maxy]) followed by ISO WKB, as the standard prescribes.
"""

from __future__ import annotations

import os
import re
import sqlite3
import struct
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import shapely

from gridmap.errors import StoreError

__all__ = [
    "connect",
    "create_table",
    "decode",
    "drop_table",
    "encode",
    "ensure_geopackage",
    "geometry_column",
    "table_exists",
]

# 'GPKG' and GeoPackage 1.3 (GDAL before 3.7, i.e. QGIS on Debian 12, warns on 1.4 files).
APPLICATION_ID = 0x47504B47
USER_VERSION = 10300
SRS_ID = 4326
_WGS84_WKT = (
    'GEOGCS["WGS 84",DATUM["WGS_1984",SPHEROID["WGS 84",6378137,298.257223563,'
    'AUTHORITY["EPSG","7030"]],AUTHORITY["EPSG","6326"]],PRIMEM["Greenwich",0,'
    'AUTHORITY["EPSG","8901"]],UNIT["degree",0.0174532925199433,AUTHORITY["EPSG","9122"]],'
    'AXIS["Latitude",NORTH],AXIS["Longitude",EAST],AUTHORITY["EPSG","4326"]]'
)
_BUSY_TIMEOUT_MS = 120_000  # a writer waits this long for another to finish

_METADATA = (
    """CREATE TABLE IF NOT EXISTS gpkg_spatial_ref_sys (
        srs_name TEXT NOT NULL, srs_id INTEGER NOT NULL PRIMARY KEY,
        organization TEXT NOT NULL, organization_coordsys_id INTEGER NOT NULL,
        definition TEXT NOT NULL, description TEXT)""",
    """CREATE TABLE IF NOT EXISTS gpkg_contents (
        table_name TEXT NOT NULL PRIMARY KEY, data_type TEXT NOT NULL,
        identifier TEXT UNIQUE, description TEXT DEFAULT '',
        last_change DATETIME NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')),
        min_x DOUBLE, min_y DOUBLE, max_x DOUBLE, max_y DOUBLE, srs_id INTEGER,
        CONSTRAINT fk_gc_r_srs_id FOREIGN KEY (srs_id) REFERENCES gpkg_spatial_ref_sys(srs_id))""",
    """CREATE TABLE IF NOT EXISTS gpkg_geometry_columns (
        table_name TEXT NOT NULL, column_name TEXT NOT NULL, geometry_type_name TEXT NOT NULL,
        srs_id INTEGER NOT NULL, z TINYINT NOT NULL, m TINYINT NOT NULL,
        CONSTRAINT pk_geom_cols PRIMARY KEY (table_name, column_name),
        CONSTRAINT uk_gc_table_name UNIQUE (table_name),
        CONSTRAINT fk_gc_tn FOREIGN KEY (table_name) REFERENCES gpkg_contents(table_name),
        CONSTRAINT fk_gc_srs FOREIGN KEY (srs_id) REFERENCES gpkg_spatial_ref_sys (srs_id))""",
    """CREATE TABLE IF NOT EXISTS gpkg_extensions (
        table_name TEXT, column_name TEXT, extension_name TEXT NOT NULL,
        definition TEXT NOT NULL, scope TEXT NOT NULL,
        CONSTRAINT ge_tce UNIQUE (table_name, column_name, extension_name))""",
)
_SRS_ROWS = (
    ("Undefined cartesian SRS", -1, "NONE", -1, "undefined", "undefined cartesian"),
    ("Undefined geographic SRS", 0, "NONE", 0, "undefined", "undefined geographic"),
    ("WGS 84 geodetic", SRS_ID, "EPSG", 4326, _WGS84_WKT, "longitude/latitude, WGS 84"),
)
_INSERT_SRS = "INSERT OR IGNORE INTO gpkg_spatial_ref_sys VALUES (?, ?, ?, ?, ?, ?)"
_REGISTER = (
    "INSERT INTO gpkg_contents (table_name, data_type, identifier, description, srs_id) "
    "VALUES (?, ?, ?, ?, ?)"
)
_REGISTER_GEOMETRY = "INSERT INTO gpkg_geometry_columns VALUES (?, ?, ?, ?, 0, 0)"
_REGISTER_RTREE = (
    "INSERT INTO gpkg_extensions VALUES (?, ?, 'gpkg_rtree_index', "
    "'http://www.geopackage.org/spec120/#extension_rtree', 'write-only')"
)
# Tables of GDAL and of GeoPackage extensions that may hold a row about a dropped table.
_SIDE_TABLES = (
    "gpkg_geometry_columns",
    "gpkg_extensions",
    "gpkg_ogr_contents",
    "gpkg_data_columns",
    "gpkg_contents",
)
# The GeoPackage R-tree extension's triggers ({t} table, {c} geometry column, {i} id column).
_RTREE_TRIGGERS = (
    """CREATE TRIGGER "rtree_{t}_{c}_insert" AFTER INSERT ON "{t}"
    WHEN (new."{c}" NOT NULL AND NOT ST_IsEmpty(NEW."{c}")) BEGIN
    INSERT OR REPLACE INTO "rtree_{t}_{c}" VALUES (NEW."{i}",
    ST_MinX(NEW."{c}"), ST_MaxX(NEW."{c}"), ST_MinY(NEW."{c}"), ST_MaxY(NEW."{c}")); END""",
    """CREATE TRIGGER "rtree_{t}_{c}_update1" AFTER UPDATE OF "{c}" ON "{t}"
    WHEN OLD."{i}" = NEW."{i}" AND (NEW."{c}" NOTNULL AND NOT ST_IsEmpty(NEW."{c}")) BEGIN
    INSERT OR REPLACE INTO "rtree_{t}_{c}" VALUES (NEW."{i}",
    ST_MinX(NEW."{c}"), ST_MaxX(NEW."{c}"), ST_MinY(NEW."{c}"), ST_MaxY(NEW."{c}")); END""",
    """CREATE TRIGGER "rtree_{t}_{c}_update2" AFTER UPDATE OF "{c}" ON "{t}"
    WHEN OLD."{i}" = NEW."{i}" AND (NEW."{c}" IS NULL OR ST_IsEmpty(NEW."{c}")) BEGIN
    DELETE FROM "rtree_{t}_{c}" WHERE id = OLD."{i}"; END""",
    """CREATE TRIGGER "rtree_{t}_{c}_update3" AFTER UPDATE ON "{t}"
    WHEN OLD."{i}" != NEW."{i}" AND (NEW."{c}" NOTNULL AND NOT ST_IsEmpty(NEW."{c}")) BEGIN
    DELETE FROM "rtree_{t}_{c}" WHERE id = OLD."{i}";
    INSERT OR REPLACE INTO "rtree_{t}_{c}" VALUES (NEW."{i}",
    ST_MinX(NEW."{c}"), ST_MaxX(NEW."{c}"), ST_MinY(NEW."{c}"), ST_MaxY(NEW."{c}")); END""",
    """CREATE TRIGGER "rtree_{t}_{c}_update4" AFTER UPDATE ON "{t}"
    WHEN OLD."{i}" != NEW."{i}" AND (NEW."{c}" IS NULL OR ST_IsEmpty(NEW."{c}")) BEGIN
    DELETE FROM "rtree_{t}_{c}" WHERE id IN (OLD."{i}", NEW."{i}"); END""",
    """CREATE TRIGGER "rtree_{t}_{c}_delete" AFTER DELETE ON "{t}"
    WHEN old."{c}" NOT NULL BEGIN
    DELETE FROM "rtree_{t}_{c}" WHERE id = OLD."{i}"; END""",
)
_NAME = re.compile(r"^[a-z][a-z0-9_]*$")
# envelope indicator (bits 1-3 of the flags byte) → envelope length in bytes
_ENVELOPE_BYTES = {0: 0, 1: 32, 2: 48, 3: 48, 4: 64}
_HEADER = np.dtype([("magic", "S2"), ("version", "u1"), ("flags", "u1"), ("srs", "<i4")])
_HEADER_ENV = np.dtype([*_HEADER.descr, ("env", "<f8", (4,))])


def connect(path: str | os.PathLike[str]) -> sqlite3.Connection:
    """Open (creating it when absent) the GeoPackage at ``path`` for gridmap's writes.

    The connection is in autocommit mode (callers open their transactions explicitly, a writer
    with ``BEGIN IMMEDIATE``), the journal is WAL (readers never block the writer, a killed
    writer leaves the last committed state), and the R-tree triggers' functions are registered.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> conn = connect(pathlib.Path(tempfile.mkdtemp()) / "w.gpkg")
    >>> conn.execute("PRAGMA journal_mode").fetchone()[0]
    'wal'
    >>> conn.close()
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        conn.execute(f"PRAGMA busy_timeout = {_BUSY_TIMEOUT_MS}")
        mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
        conn.execute("PRAGMA synchronous = FULL")
    except sqlite3.DatabaseError as exc:
        raise StoreError(f"{path}: not a readable GeoPackage ({exc})") from exc
    if mode != "wal":
        conn.close()
        raise StoreError(f"{path}: cannot switch the journal to WAL (got {mode!r})")
    conn.create_function("ST_IsEmpty", 1, _st_is_empty, deterministic=True)
    for i, name in enumerate(("ST_MinX", "ST_MinY", "ST_MaxX", "ST_MaxY")):
        conn.create_function(name, 1, _bound_function(i), deterministic=True)
    return conn


def ensure_geopackage(conn: sqlite3.Connection) -> None:
    """Make the open database a GeoPackage (metadata tables, SRS rows) if it is not one yet.

    Call inside a write transaction.
    """
    app = conn.execute("PRAGMA application_id").fetchone()[0]
    if app == 0:
        conn.execute(f"PRAGMA application_id = {APPLICATION_ID}")
        conn.execute(f"PRAGMA user_version = {USER_VERSION}")
    for ddl in _METADATA:
        conn.execute(ddl)
    conn.executemany(_INSERT_SRS, _SRS_ROWS)


def table_exists(conn: sqlite3.Connection, name: str) -> bool:
    """Whether table ``name`` exists."""
    found = conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (name,))
    return found.fetchone() is not None


def geometry_column(conn: sqlite3.Connection, name: str) -> str | None:
    """The geometry column of table ``name`` as registered, or None."""
    if not table_exists(conn, "gpkg_geometry_columns"):
        return None
    row = conn.execute(
        "SELECT column_name FROM gpkg_geometry_columns WHERE lower(table_name) = lower(?)",
        (name,),
    ).fetchone()
    return None if row is None else str(row[0])


def create_table(
    conn: sqlite3.Connection,
    name: str,
    columns: Sequence[tuple[str, str]],
    *,
    geometry_type: str | None = None,
    constraints: Sequence[str] = (),
    description: str = "",
) -> None:
    """Create table ``name`` and register it so that GDAL and QGIS list it.

    ``columns`` are (name, SQL type) pairs after the ``fid`` primary key; ``geometry_type`` (a
    GeoPackage type name such as ``MULTIPOLYGON``, ``POINT``, ``GEOMETRY``) adds a ``geom``
    column in EPSG:4326 with its R-tree index, else the table is an attribute table.
    ``constraints`` are table constraints such as ``UNIQUE (plan_id, number)``. Identifiers come
    from gridmap's own schema, never from input. Call inside a write transaction.
    """
    for ident in (name, *(c for c, _ in columns)):
        if not _NAME.match(ident):
            raise StoreError(f"not a table or column name gridmap makes: {ident!r}")
    parts = ['"fid" INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL']
    parts += [f'"{col}" {kind}' for col, kind in columns]
    if geometry_type:
        parts.append(f'"geom" {geometry_type}')
    parts += list(constraints)
    conn.execute(f'CREATE TABLE "{name}" ({", ".join(parts)})')
    kind = "features" if geometry_type else "attributes"
    conn.execute(_REGISTER, (name, kind, name, description, SRS_ID if geometry_type else None))
    if geometry_type:
        conn.execute(_REGISTER_GEOMETRY, (name, "geom", geometry_type, SRS_ID))
        conn.execute(
            f'CREATE VIRTUAL TABLE "rtree_{name}_geom" USING rtree(id, minx, maxx, miny, maxy)'
        )
        conn.execute(_REGISTER_RTREE, (name, "geom"))
        for trigger in _RTREE_TRIGGERS:
            conn.execute(trigger.format(t=name, c="geom", i="fid"))


def drop_table(conn: sqlite3.Connection, name: str) -> None:
    """Drop table ``name`` with its R-tree and every registration of it (GDAL's too)."""
    column = geometry_column(conn, name)
    if column is not None:
        conn.execute(f'DROP TABLE IF EXISTS "rtree_{name}_{column}"')
    conn.execute(f'DROP TABLE IF EXISTS "{name}"')
    for side in _SIDE_TABLES:
        if table_exists(conn, side):
            conn.execute(f'DELETE FROM "{side}" WHERE lower(table_name) = lower(?)', (name,))


def encode(geoms: np.ndarray) -> list[bytes | None]:
    """GeoPackage geometry blobs (header with envelope + little-endian ISO WKB) of ``geoms``.

    Missing geometries give None; empty ones a blob flagged empty, without envelope.

    Examples
    --------
    >>> blob = encode(np.array([shapely.box(0, 0, 2, 1)]))[0]
    >>> blob[:2], decode([blob])[0].bounds
    (b'GP', (0.0, 0.0, 2.0, 1.0))
    """
    geoms = np.asarray(geoms, dtype=object)
    n = len(geoms)
    if n == 0:
        return []
    missing = shapely.is_missing(geoms)
    empty = ~missing & shapely.is_empty(geoms)
    wkb = shapely.to_wkb(shapely.force_2d(geoms), byte_order=1, flavor="iso")
    full = np.zeros(n, dtype=_HEADER_ENV)
    full["magic"], full["srs"], full["flags"] = b"GP", SRS_ID, 0b0000_0011
    bounds = shapely.bounds(geoms)
    full["env"] = bounds[:, [0, 2, 1, 3]]
    bare = np.zeros(n, dtype=_HEADER)
    bare["magic"], bare["srs"], bare["flags"] = b"GP", SRS_ID, 0b0001_0001
    full_bytes, bare_bytes = full.tobytes(), bare.tobytes()
    fs, bs = _HEADER_ENV.itemsize, _HEADER.itemsize
    out: list[bytes | None] = []
    for i in range(n):
        if missing[i]:
            out.append(None)
        elif empty[i]:
            out.append(bare_bytes[i * bs : (i + 1) * bs] + wkb[i])
        else:
            out.append(full_bytes[i * fs : (i + 1) * fs] + wkb[i])
    return out


def decode(blobs: Sequence[bytes | None]) -> np.ndarray:
    """Shapely geometries of GeoPackage geometry blobs (None stays missing)."""
    wkb = np.empty(len(blobs), dtype=object)
    for i, blob in enumerate(blobs):
        if blob is None:
            continue
        if blob[:2] != b"GP":
            raise StoreError(f"not a GeoPackage geometry blob: {bytes(blob[:8])!r}")
        wkb[i] = blob[8 + _ENVELOPE_BYTES[(blob[3] >> 1) & 0b111] :]
    return shapely.from_wkb(wkb)


def _st_is_empty(blob: bytes | None) -> int | None:
    if blob is None:
        return None
    return int(bool(blob[3] & 0b0001_0000))


def _bound_function(which: int):  # type: ignore[no-untyped-def]
    # which: 0 minx, 1 miny, 2 maxx, 3 maxy (shapely's order); the envelope is minx maxx miny maxy
    offset = 8 + 8 * (0, 2, 1, 3)[which]

    def bound(blob: bytes | None) -> float | None:
        if blob is None or blob[3] & 0b0001_0000:
            return None
        if (blob[3] >> 1) & 0b111:
            fmt = "<d" if blob[3] & 1 else ">d"
            return float(struct.unpack_from(fmt, blob, offset)[0])
        # No envelope (GDAL writes points without one): read the geometry.
        return float(shapely.bounds(decode([blob])[0])[which])

    return bound
