"""PostGIS layer store: the six layers of :mod:`gridmap.schema` as tables in schema ``gridmap``.

A first, small store that reads and writes whole layers exactly as :class:`Workspace` does (same
columns, dtypes and geometries), so that a workspace moves to PostgreSQL and back unchanged. A
later issue grows it into the full Store (plans, revisions, tiles).

The tables come from the numbered files in ``gridmap/store/sql``, applied by
:func:`apply_migrations` and recorded in ``public.gridmap_migrations``. A write is one
transaction for all its layers; rows travel by binary ``COPY`` into a temporary table (geometry
as WKB) and from there into the layer, so ~40k buildings take a few seconds at most.
"""

from __future__ import annotations

import contextlib
import os
import re
from collections.abc import Iterable, Iterator, Mapping
from importlib import resources
from typing import TYPE_CHECKING, Any, LiteralString

import geopandas as gpd
import numpy as np
import pandas as pd
import psycopg
import shapely
from psycopg import sql

from gridmap.errors import DuplicateIdError, InputError, StoreError
from gridmap.schema import (
    LAYERS,
    RESERVED_LAYERS,
    Layer,
    conform,
    layer,
    single_part_where_possible,
)
from gridmap.store.gpkg import Workspace

if TYPE_CHECKING:
    from psycopg_pool import ConnectionPool

__all__ = ["PostgisLayers", "apply_migrations", "dump_to_workspace", "load_workspace"]

SCHEMA = "gridmap"
_MIGRATION_FILE = re.compile(r"^(\d{3})_[a-z0-9_]+\.sql$")
_MIGRATION_LOCK = 0x6772_6964  # pg_advisory_xact_lock key ("grid"): one migrator at a time

_CREATE_MIGRATIONS = sql.SQL(
    "CREATE TABLE IF NOT EXISTS public.gridmap_migrations ("
    "version integer PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())"
)
_HAS_MIGRATIONS = sql.SQL("SELECT to_regclass('public.gridmap_migrations')")
_LOCK = sql.SQL("SELECT pg_advisory_xact_lock(%s)")
_APPLIED = sql.SQL("SELECT version FROM public.gridmap_migrations")
_RECORD = sql.SQL("INSERT INTO public.gridmap_migrations (version) VALUES (%s)")
_TABLES = sql.SQL("SELECT tablename FROM pg_tables WHERE schemaname = %s")
_SNAPSHOT = sql.SQL("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")

# schema dtype → column type of the staging table, and the matching binary COPY type. Integers
# are staged as bigint: psycopg's binary int4 dumper silently wraps 2**31 to -2**31, while
# the bigint → integer cast of the INSERT refuses it ("integer out of range").
_PG_TYPES: dict[str, LiteralString] = {
    "str": "text",
    "int": "bigint",
    "float": "double precision",
    "bool": "boolean",
}
_COPY_TYPES = {"str": "text", "int": "int8", "float": "float8", "bool": "bool"}
# geometry kind → expression turning the staged WKB into the column's geometry.
_GEOMETRY_EXPR: dict[str, sql.SQL] = {
    "polygon": sql.SQL("ST_Multi(ST_GeomFromWKB(s._wkb, 4326))"),
    "line": sql.SQL("ST_Multi(ST_GeomFromWKB(s._wkb, 4326))"),
    "polygon_or_point": sql.SQL("ST_GeomFromWKB(s._wkb, 4326)"),
}
_G = shapely.GeometryType
_ALLOWED_TYPES = {
    "polygon": (_G.POLYGON, _G.MULTIPOLYGON),
    "line": (_G.LINESTRING, _G.MULTILINESTRING),
    "polygon_or_point": (_G.POLYGON, _G.MULTIPOLYGON, _G.POINT),
}
# The district of a building: the first 6 digits of the division it lies in, padded to 12.
_DISTRICT_OF = (
    "(SELECT rpad(left(d.code, 6), 12, '0') FROM gridmap.divisions AS d"
    " WHERE ST_Intersects(d.geom, ST_PointOnSurface({geom}))"
    " ORDER BY d.level = 'community' DESC, d.code LIMIT 1)"
)
_DISTRICT_EXPR: dict[str, sql.Composable] = {
    "buildings": sql.SQL(_DISTRICT_OF).format(geom=sql.SQL("ST_GeomFromWKB(s._wkb, 4326)")),
    "grids": sql.SQL("rpad(left(coalesce(s.community_code, s.code), 6), 12, '0')"),
}
_REFRESH_DISTRICTS = sql.SQL("UPDATE gridmap.buildings AS b SET district_code = {}").format(
    sql.SQL(_DISTRICT_OF).format(geom=sql.SQL("b.geom"))
)


def apply_migrations(conn: psycopg.Connection[Any]) -> list[int]:
    """Apply the numbered ``gridmap/store/sql/NNN_*.sql`` files not yet applied, in order.

    Each applied version is recorded in ``public.gridmap_migrations(version, applied_at)``; a
    second call applies nothing. Runs in one transaction (a savepoint inside a caller's
    transaction) under an advisory lock, so concurrent callers do not race.

    Returns the versions applied by this call.

    Examples
    --------
    >>> import psycopg
    >>> with psycopg.connect("postgresql://postgres@127.0.0.1/gridmap") as conn:  # doctest: +SKIP
    ...     apply_migrations(conn), apply_migrations(conn)
    ([1], [])
    """
    migrations = _migrations()
    applied: list[int] = []
    # Up to date (the usual case, on every write): no lock, so writers do not queue on it.
    if conn.execute(_HAS_MIGRATIONS).fetchone() != (None,):
        done = {version for (version,) in conn.execute(_APPLIED)}
        if all(version in done for version, _, _ in migrations):
            return applied
    with conn.transaction():
        conn.execute(_LOCK, (_MIGRATION_LOCK,))
        conn.execute(_CREATE_MIGRATIONS)
        done = {version for (version,) in conn.execute(_APPLIED)}
        for version, name, text in migrations:
            if version in done:
                continue
            try:
                with conn.transaction():
                    conn.execute(text)  # several statements: bytes, simple query protocol
                    conn.execute(_RECORD, (version,))
            except psycopg.Error as exc:
                raise StoreError(f"migration {name} failed: {exc}") from exc
            applied.append(version)
    return applied


def _migrations() -> list[tuple[int, str, bytes]]:
    found: dict[int, tuple[int, str, bytes]] = {}
    for entry in resources.files(__package__).joinpath("sql").iterdir():
        if not entry.name.endswith(".sql"):
            continue
        match = _MIGRATION_FILE.match(entry.name)
        if match is None:
            raise StoreError(f"migration file {entry.name!r} is not named NNN_name.sql")
        version = int(match.group(1))
        if version in found:
            raise StoreError(f"migrations {found[version][1]} and {entry.name} share a number")
        found[version] = (version, entry.name, entry.read_bytes())
    return [found[v] for v in sorted(found)]


class PostgisLayers:
    """The gridmap layers of a PostGIS database, read and written like a :class:`Workspace`.

    ``conninfo`` is a libpq URL or ``key=value`` string (a connection is opened per call) or a
    ``psycopg_pool.ConnectionPool`` to borrow connections from. The first write applies the
    migrations.

    Examples
    --------
    >>> import pandas as pd
    >>> store = PostgisLayers("postgresql://postgres@127.0.0.1/gridmap")  # doctest: +SKIP
    >>> staff = pd.DataFrame({"id": ["P1"], "name": ["张某一"], "role": ["police"]})
    >>> store.write({"staff": staff}, replace=True)  # doctest: +SKIP
    >>> store.layers(), store.read("staff")["name"].tolist()  # doctest: +SKIP
    (['staff'], ['张某一'])
    """

    def __init__(self, conninfo: str | ConnectionPool):
        if isinstance(conninfo, str):
            self._conninfo: str | None = conninfo
            self._pool = None
        elif hasattr(conninfo, "connection"):
            self._conninfo, self._pool = None, conninfo
        else:
            raise InputError(
                f"conninfo: expected a PostgreSQL URL or a ConnectionPool, got {conninfo!r}"
            )

    def __repr__(self) -> str:
        if self._pool is not None:
            return f"PostgisLayers({self._pool!r})"
        try:
            params = psycopg.conninfo.conninfo_to_dict(self._conninfo or "")
        except psycopg.ProgrammingError:
            params = {}
        where = f"{params.get('host', '')}:{params.get('port', '')}/{params.get('dbname', '')}"
        return f"PostgisLayers({where!r})"  # never the password

    def layers(self) -> list[str]:
        """The layers holding at least one row, in schema order (empty reads like absent)."""
        with self._connect() as conn:
            tables = _tables(conn)
            present = [name for name in LAYERS if name in tables]
            if not present:
                return []
            query = sql.SQL(" UNION ALL ").join(
                sql.SQL("SELECT %s::text WHERE EXISTS (SELECT 1 FROM {})").format(_table(name))
                for name in present
            )
            filled = {name for (name,) in conn.execute(query, present)}
        return [name for name in present if name in filled]

    def read(self, name: str, bbox: tuple[float, float, float, float] | None = None):  # type: ignore[no-untyped-def]
        """Read layer ``name``, typed by the schema exactly as :meth:`Workspace.read` does.

        ``bbox`` (min lon, min lat, max lon, max lat) keeps the features that intersect it.
        Rows come back in the order they were written; an absent layer reads as empty.
        """
        lyr = layer(name)
        box = _check_bbox(bbox)
        with self._connect() as conn:
            return _read_layer(conn, lyr, box)

    def write(self, frames: Mapping[str, pd.DataFrame], *, replace: bool = False) -> None:
        """Write layers all-or-nothing: one transaction for every layer in ``frames``.

        Each frame is appended to what the layer holds, or replaces it when ``replace``. An id
        already in the layer (when appending) or twice in a frame raises
        :class:`DuplicateIdError`; nothing is written then.
        """
        for name in frames:
            if name in RESERVED_LAYERS:
                raise StoreError(f"layer {name!r} is reserved for plans and incidents")
        order = list(LAYERS)
        # Schema order: divisions go in first, so buildings find their district in this write.
        staged = [_stage_rows(name, frames[name]) for name in sorted(frames, key=order.index)]
        with self._connect() as conn, conn.transaction():
            apply_migrations(conn)
            for lyr, rows in staged:
                _write_layer(conn, lyr, rows, replace=replace)
            if "divisions" in frames and not (replace and "buildings" in frames):
                conn.execute(_REFRESH_DISTRICTS)  # buildings already there get the new districts

    def _read_all(self, names: Iterable[str]) -> dict[str, pd.DataFrame]:
        """Read several layers from one consistent snapshot."""
        lyrs = [layer(name) for name in names]
        with self._connect() as conn, conn.transaction():
            conn.execute(_SNAPSHOT)  # per transaction: a pooled connection keeps its defaults
            return {lyr.name: _read_layer(conn, lyr, None) for lyr in lyrs}

    @contextlib.contextmanager
    def _connect(self) -> Iterator[psycopg.Connection[Any]]:
        try:
            if self._pool is not None:
                with self._pool.connection() as conn:
                    yield conn
            else:
                with psycopg.connect(self._conninfo or "") as conn:
                    yield conn
        except psycopg.Error as exc:
            raise StoreError(f"{self!r}: {exc}") from exc


def load_workspace(
    workspace: Workspace | str | os.PathLike[str], conninfo: str | ConnectionPool
) -> dict[str, int]:
    """Copy every layer of a GeoPackage workspace into PostGIS, replacing what it held.

    Afterwards every layer of the database reads as the workspace's (absent ones as empty).
    Returns the number of rows copied per layer of the workspace.
    """
    ws = workspace if isinstance(workspace, Workspace) else Workspace(workspace)
    frames = {name: ws.read(name) for name in LAYERS}
    PostgisLayers(conninfo).write(frames, replace=True)
    present = ws.layers()
    return {name: len(frame) for name, frame in frames.items() if name in present}


def dump_to_workspace(
    conninfo: str | ConnectionPool, workspace: Workspace | str | os.PathLike[str]
) -> dict[str, int]:
    """Copy every PostGIS layer into a GeoPackage workspace, replacing what it held.

    Reads one snapshot of the database. Layers the workspace held that the database does not
    are emptied. Returns the number of rows copied per layer.
    """
    ws = workspace if isinstance(workspace, Workspace) else Workspace(workspace)
    store = PostgisLayers(conninfo)
    wanted = set(store.layers()) | set(ws.layers())
    frames = store._read_all(name for name in LAYERS if name in wanted)
    ws.write(frames, replace=True)
    return {name: len(frame) for name, frame in frames.items()}


def _table(name: str) -> sql.Identifier:
    return sql.Identifier(SCHEMA, name)


def _tables(conn: psycopg.Connection[Any]) -> set[str]:
    return {name for (name,) in conn.execute(_TABLES, (SCHEMA,))}


def _check_bbox(bbox: object) -> tuple[float, float, float, float] | None:
    if bbox is None:
        return None
    try:
        minx, miny, maxx, maxy = (float(v) for v in bbox)  # type: ignore[attr-defined]
    except (TypeError, ValueError):
        raise InputError(f"bbox: expected (minx, miny, maxx, maxy), got {bbox!r}") from None
    if not (minx <= maxx and miny <= maxy):
        raise InputError(f"bbox: min must not exceed max, got {bbox!r}")
    return minx, miny, maxx, maxy


def _read_layer(
    conn: psycopg.Connection[Any], lyr: Layer, box: tuple[float, float, float, float] | None
):  # type: ignore[no-untyped-def]
    names = lyr.column_names
    rows: list[tuple[Any, ...]] = []
    if lyr.name in _tables(conn):
        columns = sql.SQL(", ").join(sql.Identifier("t", c) for c in names)
        if lyr.geometry:
            columns = sql.SQL("{}, ST_AsBinary(t.geom)").format(columns)
        where = sql.SQL("")
        if box is not None:
            where = sql.SQL(" WHERE ST_Intersects(t.geom, ST_MakeEnvelope(%s, %s, %s, %s, 4326))")
        query = sql.SQL("SELECT {} FROM {} AS t{} ORDER BY t.fid").format(
            columns, _table(lyr.name), where
        )
        with conn.cursor(binary=True) as cur:
            cur.execute(query, box)
            rows = cur.fetchall()
    frame = pd.DataFrame.from_records(
        rows, columns=[*names, "_wkb"] if lyr.geometry else names, coerce_float=False
    )
    if lyr.geometry:
        wkb = np.array(frame.pop("_wkb").tolist() if len(frame) else [], dtype=object)
        geoms = single_part_where_possible(shapely.from_wkb(wkb))
        frame = gpd.GeoDataFrame(frame, geometry=gpd.GeoSeries(geoms, crs=4326))
    return conform(frame, lyr)


def _stage_rows(name: str, frame: pd.DataFrame) -> tuple[Layer, list[tuple[Any, ...]]]:
    """Check ``frame`` for layer ``name`` and turn it into COPY rows: columns, row number, WKB."""
    lyr = layer(name)
    if lyr.geometry and not isinstance(frame, gpd.GeoDataFrame):
        raise InputError(f"{name}: expected a GeoDataFrame, got {type(frame).__name__}")
    if lyr.geometry and frame.crs is not None and frame.crs.to_epsg() != 4326:
        raise InputError(f"{name}: geometries must be lon/lat EPSG:4326, got {frame.crs}")
    new = conform(frame, lyr)
    ids = new[lyr.id_column]
    if ids.isna().any():
        rows = np.flatnonzero(ids.isna().to_numpy())[:20].tolist()
        raise InputError(f"{name}: no {lyr.id_column} in row(s) {', '.join(map(str, rows))}")
    twice = ids.duplicated(keep=False).to_numpy()
    if twice.any():
        groups = pd.Series(np.flatnonzero(twice), index=ids[twice].to_numpy())
        found = groups.groupby(level=0).agg(list).to_dict()
        raise DuplicateIdError(f"{name} (PostGIS write)", lyr.id_column, found)
    for col in lyr.columns:
        empty = new[col.name].isna().to_numpy()
        if not col.nullable and empty.any():
            shown = ", ".join(map(str, ids[empty].iloc[:20]))
            raise InputError(f"{name}: {col.name} is empty for {lyr.id_column} {shown}")
    columns = [new[c].to_numpy(dtype=object, na_value=None) for c in lyr.column_names]
    columns.append(np.arange(len(new), dtype=object))
    if lyr.geometry:
        geoms = new.geometry.to_numpy()
        allowed = _ALLOWED_TYPES[lyr.geometry]
        bad = ~np.isin(shapely.get_type_id(geoms), allowed) & ~shapely.is_missing(geoms)
        if bad.any():
            shown = ", ".join(
                f"{key} ({geom.geom_type})"
                for key, geom in list(zip(ids[bad], geoms[bad], strict=True))[:20]
            )
            raise InputError(
                f"{name}: geometry must be {' or '.join(t.name for t in allowed)}; "
                f"not so for {lyr.id_column} {shown}"
            )
        columns.append(shapely.to_wkb(shapely.force_2d(geoms)))
    return lyr, list(zip(*columns, strict=True))


def _write_layer(
    conn: psycopg.Connection[Any], lyr: Layer, rows: list[tuple[Any, ...]], *, replace: bool
) -> None:
    stage = sql.Identifier(f"_gridmap_stage_{lyr.name}")
    definitions: list[sql.Composable] = [
        sql.SQL("{} {}").format(sql.Identifier(c.name), sql.SQL(_PG_TYPES[c.dtype]))
        for c in lyr.columns
    ]
    definitions.append(sql.SQL("_row bigint"))
    names = [sql.Identifier(c) for c in lyr.column_names]
    copy_types = [_COPY_TYPES[c.dtype] for c in lyr.columns] + ["int8"]
    targets: list[sql.Composable] = list(names)
    sources: list[sql.Composable] = [sql.Identifier("s", c) for c in lyr.column_names]
    if lyr.geometry:
        definitions.append(sql.SQL("_wkb bytea"))
        copy_types.append("bytea")
        targets.append(sql.Identifier("geom"))
        sources.append(_GEOMETRY_EXPR[lyr.geometry])
    if lyr.name in _DISTRICT_EXPR:
        targets.append(sql.Identifier("district_code"))
        sources.append(_DISTRICT_EXPR[lyr.name])
    staged = [*names, sql.Identifier("_row")] + ([sql.Identifier("_wkb")] if lyr.geometry else [])
    comma = sql.SQL(", ")

    conn.execute(
        sql.SQL("CREATE TEMP TABLE {} ({}) ON COMMIT DROP").format(stage, comma.join(definitions))
    )
    with conn.cursor() as cur:
        copy_sql = sql.SQL("COPY {} ({}) FROM STDIN (FORMAT BINARY)")
        with cur.copy(copy_sql.format(stage, comma.join(staged))) as copy:
            copy.set_types(copy_types)
            for row in rows:
                copy.write_row(row)
    table, id_col = _table(lyr.name), sql.Identifier(lyr.id_column)
    if replace:
        conn.execute(sql.SQL("DELETE FROM {}").format(table))
    else:
        clash = conn.execute(
            sql.SQL(
                "SELECT s.{id}, s._row FROM {stage} AS s JOIN {table} AS t ON t.{id} = s.{id}"
                " ORDER BY s._row"
            ).format(id=id_col, stage=stage, table=table)
        ).fetchall()
        if clash:
            raise DuplicateIdError(
                f"{lyr.name} (PostGIS write)",
                lyr.id_column,
                {key: [f"{row}; already in the layer"] for key, row in clash},
            )
    conn.execute(
        sql.SQL("INSERT INTO {} ({}) SELECT {} FROM {} AS s ORDER BY s._row").format(
            table, comma.join(targets), comma.join(sources), stage
        )
    )
    conn.execute(sql.SQL("DROP TABLE {}").format(stage))
