"""Schema layers as GeoPackage tables: create, write in the caller's transaction, read.

Used by :class:`gridmap.store.gpkg.Workspace` (reference layers) and
:class:`gridmap.store.gpkg.store.GpkgStore` (reference layers and the store's own tables). Reads
go through Python's sqlite3 as well, never through GDAL: two SQLite libraries in one process
(Python's and the one bundled with GDAL) must not hold the same file, or closing one's file
handle drops the other's POSIX locks.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping, Sequence
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from gridmap.errors import DuplicateIdError, InputError
from gridmap.schema import LAYERS, RESERVED_LAYERS, Layer, conform, layer
from gridmap.store.common import check_bbox, check_layer_frame
from gridmap.store.gpkg.file import (
    create_table,
    decode,
    drop_table,
    encode,
    geometry_column,
    table_exists,
)

__all__ = [
    "as_stored",
    "check_bbox",
    "create_layer_table",
    "filled_layers",
    "insert_frame",
    "present_layers",
    "read_layer",
    "shapely_single",
    "write_layers",
]

SQL_TYPES = {"str": "TEXT", "int": "INTEGER", "float": "REAL", "bool": "BOOLEAN", "bytes": "BLOB"}
GEOMETRY_TYPES = {
    "polygon": "MULTIPOLYGON",
    "line": "MULTILINESTRING",
    "polygon_or_point": "GEOMETRY",
    "point": "POINT",
}
_G = shapely.GeometryType


def create_layer_table(
    conn: sqlite3.Connection, lyr: Layer, constraints: Sequence[str] = ()
) -> None:
    """Create the GeoPackage table of schema layer ``lyr`` (inside a write transaction)."""
    create_table(
        conn,
        lyr.name,
        [(c.name, SQL_TYPES[c.dtype]) for c in lyr.columns],
        geometry_type=GEOMETRY_TYPES[lyr.geometry] if lyr.geometry else None,
        constraints=constraints,
        description=lyr.doc,
    )


def write_layers(
    conn: sqlite3.Connection, frames: Mapping[str, pd.DataFrame], *, replace: bool
) -> dict[str, int]:
    """Append (or replace) reference layers inside the caller's write transaction.

    Every frame is checked before anything is written: a missing or repeated id, or an id the
    layer already holds when appending, is an error naming the ids. Returns rows per layer.
    """
    for name in frames:
        if name in RESERVED_LAYERS:
            raise InputError(f"layer {name!r} belongs to the store (plans, incidents…)")
        if name not in LAYERS:
            raise InputError(f"unknown layer {name!r}; the layers are {', '.join(LAYERS)}")
    order = list(LAYERS)
    staged = {
        name: check_layer_frame(name, frames[name]) for name in sorted(frames, key=order.index)
    }
    written = {}
    for name, frame in staged.items():
        lyr = layer(name)
        if replace or not table_exists(conn, name):
            drop_table(conn, name)
            create_layer_table(conn, lyr)
        else:
            _refuse_existing_ids(conn, lyr, frame)
        insert_frame(conn, lyr, frame)
        written[name] = len(frame)
    return written


def insert_frame(conn: sqlite3.Connection, lyr: Layer, frame: pd.DataFrame) -> None:
    """Insert ``frame`` (conformed to ``lyr``) into the layer's table, in row order."""
    names = lyr.column_names
    values = [frame[c].to_numpy(dtype=object, na_value=None) for c in names]
    geom = geometry_column(conn, lyr.name) if lyr.geometry else None
    if lyr.geometry:
        geoms = as_stored(frame.geometry.to_numpy(), lyr.geometry)
        values.append(np.array(encode(geoms), dtype=object))
        names = [*names, geom or "geom"]
    columns = ", ".join(f'"{c}"' for c in names)
    marks = ", ".join("?" * len(names))
    conn.executemany(
        f'INSERT INTO "{lyr.name}" ({columns}) VALUES ({marks})', zip(*values, strict=True)
    )


def read_layer(
    conn: sqlite3.Connection,
    lyr: Layer,
    bbox: tuple[float, float, float, float] | None = None,
    where: str = "",
    params: Sequence[Any] = (),
) -> pd.DataFrame:
    """Layer ``lyr`` typed by the schema, in the order written; absent reads as empty.

    ``bbox`` keeps the features intersecting it (R-tree, then an exact test); ``where`` is an
    extra SQL condition on the table ``t`` with ``params``.
    """
    names = lyr.column_names
    rows: list[tuple[Any, ...]] = []
    geom = geometry_column(conn, lyr.name) if lyr.geometry else None
    if table_exists(conn, lyr.name):
        have = {r[1] for r in conn.execute(f'PRAGMA table_info("{lyr.name}")')}
        cols = [f't."{c}"' if c in have else "NULL" for c in names]
        if lyr.geometry:
            cols.append(f't."{geom}"' if geom else "NULL")
        query = f'SELECT {", ".join(cols)} FROM "{lyr.name}" AS t'
        conds, args = [], list(params)
        if bbox is not None and geom:
            query += f' JOIN "rtree_{lyr.name}_{geom}" AS r ON r.id = t.fid'
            conds.append("r.maxx >= ? AND r.minx <= ? AND r.maxy >= ? AND r.miny <= ?")
            args = [bbox[0], bbox[2], bbox[1], bbox[3], *args]
        if where:
            conds.append(where)
        if conds:
            query += " WHERE " + " AND ".join(conds)
        cursor = conn.cursor()
        cursor.row_factory = None  # plain tuples, whatever the connection's factory
        rows = cursor.execute(query + " ORDER BY t.fid", args).fetchall()
    frame = pd.DataFrame.from_records(
        rows, columns=[*names, "_blob"] if lyr.geometry else names, coerce_float=False
    )
    if lyr.geometry:
        geoms = decode(frame.pop("_blob").tolist())
        frame = gpd.GeoDataFrame(
            frame, geometry=gpd.GeoSeries(shapely_single(geoms), crs=4326, index=frame.index)
        )
        if bbox is not None:
            frame = frame[shapely.intersects(frame.geometry.values, shapely.box(*bbox))]
            frame = frame.reset_index(drop=True)
    return conform(frame, lyr)


def present_layers(conn: sqlite3.Connection) -> list[str]:
    """Schema layers that exist as tables in the file (reference layers first); the plan
    tables only when they hold rows (a store's empty tables are not a workspace's layers)."""
    from gridmap.schema import PLAN_LAYERS

    if not table_exists(conn, "gpkg_contents"):
        return []
    have = {r[0] for r in conn.execute("SELECT table_name FROM gpkg_contents")}
    return [
        name
        for name in (*LAYERS, *PLAN_LAYERS)
        if name in have
        and (name in LAYERS or conn.execute(f'SELECT 1 FROM "{name}" LIMIT 1').fetchone())
    ]


def filled_layers(conn: sqlite3.Connection) -> list[str]:
    """Reference layers that hold at least one row."""
    return [
        name
        for name in present_layers(conn)
        if name in LAYERS and conn.execute(f'SELECT 1 FROM "{name}" LIMIT 1').fetchone()
    ]


def shapely_single(geoms: np.ndarray) -> np.ndarray:
    """Stored MultiPolygons of one part back as Polygons (see schema.single_part_where_possible)."""
    from gridmap.schema import single_part_where_possible

    return single_part_where_possible(np.asarray(geoms, dtype=object))


def as_stored(geoms: np.ndarray, kind: str) -> np.ndarray:
    """Polygons as MultiPolygons and lines as MultiLineStrings, as the table declares."""
    geoms = np.asarray(geoms, dtype=object).copy()
    if kind == "polygon":
        single, make = _G.POLYGON, shapely.multipolygons
    elif kind == "line":
        single, make = _G.LINESTRING, shapely.multilinestrings
    else:
        return geoms
    mask = shapely.get_type_id(geoms) == single
    if mask.any():
        geoms[mask] = make(geoms[mask], indices=np.arange(int(mask.sum())))
    return geoms


def _refuse_existing_ids(conn: sqlite3.Connection, lyr: Layer, frame: pd.DataFrame) -> None:
    column = lyr.id_column
    existing = {r[0] for r in conn.execute(f'SELECT "{column}" FROM "{lyr.name}"')}
    clash = frame[column].isin(existing).to_numpy()
    if clash.any():
        found: dict[str, list[int | str]] = {
            str(key): [f"{row}; already in the layer"]
            for key, row in zip(frame[column][clash], np.flatnonzero(clash), strict=False)
        }
        raise DuplicateIdError(lyr.name, column, found)
