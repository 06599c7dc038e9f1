"""Reading and writing the reference layers of a PostGIS database (private to the store).

A write checks every frame in Python first (ids, types, geometry kinds, integer ranges), then
writes all of them in one transaction. Rows travel by binary ``COPY`` with the geometry as
EWKB, straight into the table:

- replacing a partitioned layer (buildings, grids) drops its partitions and loads each
  district into a fresh, unindexed table that is then attached as the district's partition,
  so PostgreSQL builds the primary key and GiST indexes once, in bulk; then ``ANALYZE``;
- appending goes through a temporary table, so ids already in the layer are found (and
  refused) before anything is inserted.

Writers of a layer queue on a ``SHARE ROW EXCLUSIVE`` lock of its table; readers never wait
except while a replace swaps partitions.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, LiteralString

import geopandas as gpd
import numpy as np
import pandas as pd
import psycopg
import shapely
from psycopg import pq, sql
from psycopg.adapt import Dumper
from psycopg.types import TypeInfo

from gridmap.errors import DuplicateIdError, InputError, StoreError
from gridmap.schema import LAYERS, RESERVED_LAYERS, Layer, conform, layer
from gridmap.schema import single_part_where_possible as _single_parts
from gridmap.store.common import check_layer_frame
from gridmap.store.postgis.partitions import (
    PARTITIONED,
    attach_district_table,
    district_of_code,
    districts_of_geometries,
    drop_partitions,
    ensure_partitions,
    is_district,
    new_district_table,
    partitions,
)

__all__ = [
    "SCHEMA",
    "copy_rows",
    "filled_layers",
    "geometry_dumper",
    "read_layer",
    "table",
    "tables",
    "write_layers",
]

SCHEMA = "gridmap"
ANALYZE_ROWS = 1000  # a write of at least this many rows refreshes the planner's statistics
_INT4 = (-(2**31), 2**31 - 1)

_PG_TYPES: dict[str, LiteralString] = {
    "str": "text",
    "int": "integer",
    "float": "double precision",
    "bool": "boolean",
}
_COPY_TYPES = {"str": "text", "int": "int4", "float": "float8", "bool": "bool"}
_TABLES = sql.SQL("SELECT tablename FROM pg_tables WHERE schemaname = %s")
_SEQUENCE_RESET = sql.SQL("SELECT setval(pg_get_serial_sequence(%s, 'fid'), %s, %s)")
_DISTRICTS_NOW = sql.SQL("SELECT id, district_code, ST_AsBinary(geom) FROM gridmap.buildings")


@dataclass(frozen=True)
class _Staged:
    """A frame checked and turned into columns ready for COPY."""

    lyr: Layer
    columns: list[np.ndarray]  # object arrays, in lyr.column_names order
    ewkb: np.ndarray | None  # EWKB bytes (SRID 4326) or None, multi-part where the column wants
    geoms: np.ndarray | None

    def __len__(self) -> int:
        return len(self.columns[0])


def table(name: str) -> sql.Identifier:
    return sql.Identifier(SCHEMA, name)


def tables(conn: psycopg.Connection[Any]) -> set[str]:
    return {name for (name,) in conn.execute(_TABLES, (SCHEMA,))}


def geometry_dumper(conn: psycopg.Connection[Any]) -> type[Dumper]:
    """A binary dumper sending EWKB bytes as PostGIS ``geometry`` (for COPY ... BINARY)."""
    info = TypeInfo.fetch(conn, "geometry")
    if info is None:
        raise StoreError("the database has no PostGIS geometry type; run `gridmap db upgrade`")
    geometry_oid = info.oid

    class EWKBDumper(Dumper):
        format = pq.Format.BINARY
        oid = geometry_oid

        def dump(self, obj: Any) -> bytes:
            return bytes(obj)

    return EWKBDumper


def copy_rows(
    conn: psycopg.Connection[Any],
    target: sql.Composable,
    names: list[str],
    types: list[str],
    rows: Any,
) -> None:
    """Binary COPY of ``rows`` into ``target(names)``; a type "geometry" takes EWKB bytes."""
    with conn.cursor() as cur:
        if "geometry" in types:
            dumper = geometry_dumper(conn)
            cur.adapters.register_dumper(None, dumper)
            types = [dumper.oid if t == "geometry" else t for t in types]  # type: ignore[misc]
        columns = sql.SQL(", ").join(sql.Identifier(n) for n in names)
        query = sql.SQL("COPY {} ({}) FROM STDIN (FORMAT BINARY)").format(target, columns)
        with cur.copy(query) as copy:
            copy.set_types(types)  # type: ignore[arg-type]
            for row in rows:
                copy.write_row(row)


def filled_layers(conn: psycopg.Connection[Any]) -> list[str]:
    """The reference layers holding at least one row, in schema order."""
    present = [name for name in LAYERS if name in tables(conn)]
    if not present:
        return []
    query = sql.SQL(" UNION ALL ").join(
        sql.SQL("SELECT %s::text WHERE EXISTS (SELECT 1 FROM {})").format(table(name))
        for name in present
    )
    filled = {name for (name,) in conn.execute(query, present)}
    return [name for name in present if name in filled]


def read_layer(
    conn: psycopg.Connection[Any], lyr: Layer, box: tuple[float, float, float, float] | None
) -> pd.DataFrame:
    """Layer ``lyr`` typed by the schema, in the order written; absent reads as empty."""
    names = lyr.column_names
    rows: list[tuple[Any, ...]] = []
    if lyr.name in tables(conn):
        columns = sql.SQL(", ").join(sql.Identifier("t", c) for c in names)
        if lyr.geometry:
            columns = sql.SQL("{}, ST_AsBinary(t.geom)").format(columns)
        where = sql.SQL("")
        if box is not None:
            where = sql.SQL(" WHERE ST_Intersects(t.geom, ST_MakeEnvelope(%s, %s, %s, %s, 4326))")
        query = sql.SQL("SELECT {} FROM {} AS t{} ORDER BY t.fid").format(
            columns, table(lyr.name), where
        )
        with conn.cursor(binary=True) as cur:
            cur.execute(query, box)
            rows = cur.fetchall()
    frame = pd.DataFrame.from_records(
        rows, columns=[*names, "_wkb"] if lyr.geometry else names, coerce_float=False
    )
    if lyr.geometry:
        wkb = np.array(frame.pop("_wkb").tolist() if len(frame) else [], dtype=object)
        geoms = _single_parts(shapely.from_wkb(wkb))
        frame = gpd.GeoDataFrame(frame, geometry=gpd.GeoSeries(geoms, crs=4326))
    return conform(frame, lyr)


def write_layers(
    conn: psycopg.Connection[Any], frames: Mapping[str, pd.DataFrame], *, replace: bool
) -> dict[str, int]:
    """Write reference layers in one transaction; returns rows written per layer.

    Every frame is checked before the database is touched; a failure in the database rolls
    all of them back. Divisions go first, so buildings find their districts in this write.
    """
    for name in frames:
        if name in RESERVED_LAYERS:
            raise StoreError(f"layer {name!r} is reserved for plans and incidents")
    order = list(LAYERS)
    staged = [stage(name, frames[name]) for name in sorted(frames, key=order.index)]
    with conn.transaction():
        for item in staged:
            conn.execute(
                sql.SQL("LOCK TABLE {} IN SHARE ROW EXCLUSIVE MODE").format(table(item.lyr.name))
            )
        for item in staged:
            written = _write(conn, item, replace=replace)
            if len(item) >= ANALYZE_ROWS:
                # The tables written, not a partitioned parent: ANALYZE of a parent samples
                # every partition and then analyses each of them again.
                for target in written:
                    conn.execute(sql.SQL("ANALYZE {}").format(target))
        if "divisions" in frames and not (replace and "buildings" in frames):
            _refresh_districts(conn)  # buildings already there get the new districts
    return {item.lyr.name: len(item) for item in staged}


def stage(name: str, frame: pd.DataFrame) -> _Staged:
    """Check ``frame`` for layer ``name`` and turn it into COPY columns."""
    lyr = layer(name)
    new = check_layer_frame(name, frame)
    ids = new[lyr.id_column]
    for col in lyr.columns:
        values = new[col.name]
        empty = values.isna().to_numpy()
        if not col.nullable and empty.any():
            shown = ", ".join(map(str, ids[empty].iloc[:20]))
            raise InputError(f"{name}: {col.name} is empty for {lyr.id_column} {shown}")
        if col.dtype == "int":
            outside = ((values < _INT4[0]) | (values > _INT4[1])).fillna(False).to_numpy()
            if outside.any():
                shown = ", ".join(map(str, ids[outside].iloc[:20]))
                raise StoreError(
                    f"{name}: {col.name}: integer out of range (beyond ±2**31) for "
                    f"{lyr.id_column} {shown}"
                )
    columns = [new[c].to_numpy(dtype=object, na_value=None) for c in lyr.column_names]
    if not lyr.geometry:
        return _Staged(lyr, columns, None, None)
    geoms = new.geometry.to_numpy()
    flat = shapely.force_2d(geoms)
    stored = _multi(flat, lyr.geometry)
    ewkb = shapely.to_wkb(shapely.set_srid(stored, 4326), include_srid=True, flavor="extended")
    return _Staged(lyr, columns, np.asarray(ewkb, dtype=object), flat)


def _multi(geoms: np.ndarray, kind: str) -> np.ndarray:
    """Single parts as one-part multis where the column holds multis (not for buildings)."""
    single = {"polygon": shapely.GeometryType.POLYGON, "line": shapely.GeometryType.LINESTRING}.get(
        kind
    )
    if single is None:
        return geoms
    out = geoms.copy()
    one = shapely.get_type_id(geoms) == single
    if one.any():
        make = shapely.multipolygons if kind == "polygon" else shapely.multilinestrings
        out[one] = make(geoms[one][:, np.newaxis])
    return out


def _districts(conn: psycopg.Connection[Any], item: _Staged) -> np.ndarray | None:
    name = item.lyr.name
    if name == "buildings":
        assert item.geoms is not None
        return districts_of_geometries(conn, item.geoms)
    if name == "grids":
        code, community = item.columns[0], item.columns[2]
        return np.array(
            [
                district_of_code(c if c is not None else g)
                for g, c in zip(code, community, strict=True)
            ],
            dtype=object,
        )
    return None


def _write(conn: psycopg.Connection[Any], item: _Staged, *, replace: bool) -> list[sql.Identifier]:
    """Write one layer; returns the tables (or partitions) written to."""
    lyr = item.lyr
    names = list(lyr.column_names)
    types = [_COPY_TYPES[c.dtype] for c in lyr.columns]
    columns = list(item.columns)
    if item.ewkb is not None:
        names.append("geom")
        types.append("geometry")
        columns.append(item.ewkb)
    district = _districts(conn, item)
    if district is not None:
        names.append("district_code")
        types.append("text")
        columns.append(district)
    if replace and lyr.name in PARTITIONED:
        assert district is not None
        return _replace_partitioned(conn, lyr.name, names, types, columns, district)
    if replace:
        conn.execute(sql.SQL("DELETE FROM {}").format(table(lyr.name)))
        copy_rows(conn, table(lyr.name), names, types, zip(*columns, strict=True))
        return [table(lyr.name)]
    if district is None:
        _append(conn, lyr, names, types, columns)
        return [table(lyr.name)]
    ensure_partitions(conn, lyr.name, district)
    _append(conn, lyr, names, types, columns)
    return [table(name) for name in partitions(conn, lyr.name)]


def _replace_partitioned(
    conn: psycopg.Connection[Any],
    name: str,
    names: list[str],
    types: list[str],
    columns: list[np.ndarray],
    district: np.ndarray,
) -> list[sql.Identifier]:
    """Replace a partitioned layer: each district COPYed into a new table, indexed on attach."""
    drop_partitions(conn, name)
    n = len(district)
    conn.execute(_SEQUENCE_RESET, (f"{SCHEMA}.{name}", max(n, 1), n > 0))
    fid = np.arange(1, n + 1, dtype=object)  # rows read back in the order given
    names, types, columns = [*names, "fid"], [*types, "int8"], [*columns, fid]
    codes, first = np.unique(district.astype(str), return_index=True)
    written: list[sql.Identifier] = []
    for code in codes[np.argsort(first)]:
        rows = np.flatnonzero(district == code)
        chosen = zip(*(column[rows] for column in columns), strict=True)
        if is_district(code):
            child = new_district_table(conn, name, code)
            copy_rows(conn, child, names, types, chosen)
            attach_district_table(conn, name, child, code)
        else:
            child = table(f"{name}_default")
            copy_rows(conn, child, names, types, chosen)
        written.append(child)
    return written


def _append(
    conn: psycopg.Connection[Any],
    lyr: Layer,
    names: list[str],
    types: list[str],
    columns: list[np.ndarray],
) -> None:
    """Append through a temporary table: ids already in the layer are refused first."""
    stage_table = sql.Identifier(f"_gridmap_stage_{lyr.name}")
    pg_types = {c.name: _PG_TYPES[c.dtype] for c in lyr.columns}
    pg_types.update(geom="geometry", district_code="text")
    comma = sql.SQL(", ")
    definitions = [sql.SQL("{} {}").format(sql.Identifier(n), sql.SQL(pg_types[n])) for n in names]
    conn.execute(
        sql.SQL("CREATE TEMP TABLE {} ({}, _row bigint) ON COMMIT DROP").format(
            stage_table, comma.join(definitions)
        )
    )
    row_numbers = np.arange(len(columns[0]), dtype=object)
    copy_rows(
        conn,
        stage_table,
        [*names, "_row"],
        [*types, "int8"],
        zip(*columns, row_numbers, strict=True),
    )
    id_col = sql.Identifier(lyr.id_column)
    clash = conn.execute(
        sql.SQL(
            "SELECT s.{id}, s._row FROM {stage} AS s JOIN {table} AS t ON t.{id} = s.{id}"
            " ORDER BY s._row"
        ).format(id=id_col, stage=stage_table, table=table(lyr.name))
    ).fetchall()
    if clash:
        raise DuplicateIdError(
            f"{lyr.name} (PostGIS write)",
            lyr.id_column,
            {key: [f"{row}; already in the layer"] for key, row in clash},
        )
    targets = comma.join(sql.Identifier(n) for n in names)
    conn.execute(
        sql.SQL("INSERT INTO {} ({}) SELECT {} FROM {} ORDER BY _row").format(
            table(lyr.name), targets, targets, stage_table
        )
    )
    conn.execute(sql.SQL("DROP TABLE {}").format(stage_table))


def _refresh_districts(conn: psycopg.Connection[Any]) -> None:
    """Recompute the district of every building (after divisions changed); move the rows."""
    rows = conn.execute(_DISTRICTS_NOW).fetchall()
    if not rows:
        return
    geoms = shapely.from_wkb([bytes(w) if w is not None else None for _, _, w in rows])
    new = districts_of_geometries(conn, geoms)
    moved = [(key, code) for (key, old, _), code in zip(rows, new, strict=True) if old != code]
    if not moved:
        return
    ensure_partitions(conn, "buildings", {code for _, code in moved})
    conn.execute("CREATE TEMP TABLE _gridmap_moved (id text, district_code text) ON COMMIT DROP")
    copy_rows(conn, sql.Identifier("_gridmap_moved"), ["id", "district_code"], ["text"] * 2, moved)
    conn.execute(
        "UPDATE gridmap.buildings AS b SET district_code = m.district_code"
        " FROM _gridmap_moved AS m WHERE b.id = m.id"
    )
    conn.execute("DROP TABLE _gridmap_moved")
