"""Plan revisions in PostGIS: check the frames, store them sharing cells, read them back.

A cell is stored once in ``gridmap.canvas_cells``, keyed by a SHA-256 of its id, attributes
and geometry; a revision adds one ``plan_assignments`` row per cell (its hash and grid) and
its dissolved grids in ``plan_grids`` (partitioned by district). A commit sends the hashes
first and the geometry only of cells the database has not seen, so an edit that moves a few
cells between grids ships a few kilobytes, not the canvas.
"""

from __future__ import annotations

import hashlib
import struct
from dataclasses import dataclass
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import psycopg
import shapely
from psycopg import sql

from gridmap.schema import PLAN_GRIDS, conform, single_part_where_possible
from gridmap.store.common import CELL_ATTRS, check_revision
from gridmap.store.postgis.layers import copy_rows
from gridmap.store.postgis.partitions import district_of_code, ensure_partitions

__all__ = [
    "StagedRevision",
    "copy_revision",
    "insert_revision",
    "read_cells",
    "read_grids",
    "revision_grids",
    "stage_revision",
]

_GRID_VALUES = ("code", "community_code", "name", "residents", "households", "cells", "compactness")
_GRID_TYPES = ["text", "text", "text", "int8", "int8", "int8", "float8"]

_STAGE = sql.SQL(
    "CREATE TEMP TABLE _gridmap_cells (ord integer, cell_hash bytea, grid text) ON COMMIT DROP"
)
_MISSING = sql.SQL(
    "SELECT s.ord FROM _gridmap_cells AS s WHERE NOT EXISTS"
    " (SELECT 1 FROM gridmap.canvas_cells AS c WHERE c.cell_hash = s.cell_hash) ORDER BY s.ord"
)
_ASSIGN = sql.SQL(
    "INSERT INTO gridmap.plan_assignments (plan_id, revision, ord, cell_hash, grid)"
    " SELECT %s, %s, ord, cell_hash, grid FROM _gridmap_cells"
)
_UNSTAGE = sql.SQL("DROP TABLE _gridmap_cells")
_CELLS = sql.SQL(
    "SELECT c.cell_id, c.community_code, c.atom_id, a.grid, c.residents, c.households,"
    " ST_AsBinary(c.geom) FROM gridmap.plan_assignments AS a"
    " JOIN gridmap.canvas_cells AS c ON c.cell_hash = a.cell_hash"
    " WHERE a.plan_id = %s AND a.revision = %s ORDER BY a.ord"
)
_GRIDS = sql.SQL(
    "SELECT plan_id, revision, code, community_code, name, residents, households, cells,"
    " compactness, ST_AsBinary(geom) FROM gridmap.plan_grids"
    " WHERE plan_id = %s AND revision = %s ORDER BY ord"
)
_COPY_ASSIGNMENTS = sql.SQL(
    "INSERT INTO gridmap.plan_assignments (plan_id, revision, ord, cell_hash, grid)"
    " SELECT %s, %s, ord, cell_hash, grid FROM gridmap.plan_assignments"
    " WHERE plan_id = %s AND revision = %s"
)
_COPY_GRIDS = sql.SQL(
    "INSERT INTO gridmap.plan_grids (plan_id, revision, ord, code, community_code, name,"
    " residents, households, cells, compactness, geom, district_code)"
    " SELECT %s, %s, ord, code, community_code, name, residents, households, cells,"
    " compactness, geom, district_code FROM gridmap.plan_grids"
    " WHERE plan_id = %s AND revision = %s"
)


@dataclass(frozen=True)
class StagedRevision:
    """A revision's cells and grids, checked and encoded, ready to write."""

    cells: list[tuple[Any, ...]]  # (cell_hash, cell_id, community_code, atom_id, res, hh, ewkb)
    assignment: list[Any]  # the grid of each cell
    grids: list[tuple[Any, ...]]  # _GRID_VALUES + (ewkb, district_code)
    communities: tuple[str, ...]


def stage_revision(cells: gpd.GeoDataFrame, grids: gpd.GeoDataFrame) -> StagedRevision:
    """Check a revision's frames (:func:`gridmap.store.common.check_revision`) and encode them:
    each cell's hash and EWKB, the grids' values, EWKB and district."""
    checked = check_revision(cells, grids)
    ewkb = _ewkb(checked.geometries)
    rows = []
    for i, cell_id in enumerate(checked.cell_ids):
        values = [checked.attrs[col][i] for col in CELL_ATTRS]
        rows.append((_cell_hash(cell_id, values, ewkb[i]), cell_id, *values, ewkb[i]))
    grid_frame = conform(grids, PLAN_GRIDS)
    grid_values = [
        grid_frame[c].to_numpy(dtype=object, na_value=None).tolist() for c in _GRID_VALUES
    ]
    district = [
        district_of_code(community if community is not None else code)
        for code, community in zip(grid_values[0], grid_values[1], strict=True)
    ]
    grid_rows = list(
        zip(*grid_values, _ewkb(grid_frame.geometry.to_numpy()), district, strict=True)
    )
    return StagedRevision(rows, checked.assignment, grid_rows, checked.communities)


def insert_revision(
    conn: psycopg.Connection[Any], plan_id: int, number: int, staged: StagedRevision
) -> dict[str, int]:
    """Write revision ``number`` of ``plan_id`` (its plan_revisions row is the caller's).

    Returns counts: cells, new cells written, grids.
    """
    conn.execute(_STAGE)
    copy_rows(
        conn,
        sql.Identifier("_gridmap_cells"),
        ["ord", "cell_hash", "grid"],
        ["int4", "bytea", "text"],
        (
            (i, row[0], grid)
            for i, (row, grid) in enumerate(zip(staged.cells, staged.assignment, strict=True))
        ),
    )
    missing = [ord_ for (ord_,) in conn.execute(_MISSING)]
    if missing:
        conn.execute(
            "CREATE TEMP TABLE _gridmap_new_cells (LIKE gridmap.canvas_cells) ON COMMIT DROP"
        )
        copy_rows(
            conn,
            sql.Identifier("_gridmap_new_cells"),
            [
                "cell_hash",
                "cell_id",
                "community_code",
                "atom_id",
                "residents",
                "households",
                "geom",
            ],
            ["bytea", "text", "text", "text", "int8", "int8", "geometry"],
            (staged.cells[i] for i in missing),
        )
        # Another commit may be adding the same cells right now: the first one wins, the same.
        conn.execute(
            "INSERT INTO gridmap.canvas_cells SELECT * FROM _gridmap_new_cells"
            " ON CONFLICT (cell_hash) DO NOTHING"
        )
        conn.execute("DROP TABLE _gridmap_new_cells")
    conn.execute(_ASSIGN, (plan_id, number))
    conn.execute(_UNSTAGE)
    ensure_partitions(conn, "plan_grids", {row[-1] for row in staged.grids})
    copy_rows(
        conn,
        sql.Identifier("gridmap", "plan_grids"),
        ["plan_id", "revision", "ord", *_GRID_VALUES, "geom", "district_code"],
        ["int8", "int4", "int4", *_GRID_TYPES, "geometry", "text"],
        ((plan_id, number, i, *row) for i, row in enumerate(staged.grids)),
    )
    return {"cells": len(staged.cells), "new_cells": len(missing), "grids": len(staged.grids)}


def copy_revision(
    conn: psycopg.Connection[Any], source: tuple[int, int], target: tuple[int, int]
) -> None:
    """Make revision ``target`` (plan, number) hold exactly what ``source`` holds, in SQL."""
    conn.execute(_COPY_ASSIGNMENTS, (*target, *source))
    conn.execute(_COPY_GRIDS, (*target, *source))


def read_cells(conn: psycopg.Connection[Any], plan_id: int, number: int) -> gpd.GeoDataFrame:
    """The cells of a revision, indexed by cell_id, in the order they were committed."""
    with conn.cursor(binary=True) as cur:
        rows = cur.execute(_CELLS, (plan_id, number)).fetchall()
    columns = ["cell_id", "community_code", "atom_id", "grid", "residents", "households", "_wkb"]
    frame = pd.DataFrame.from_records(rows, columns=columns, coerce_float=False)
    geoms = _geometries(frame.pop("_wkb"))
    for col in ("residents", "households"):
        frame[col] = pd.array(frame[col].tolist(), dtype="Int64")
    frame = frame.set_index("cell_id")
    return gpd.GeoDataFrame(frame, geometry=gpd.GeoSeries(geoms, index=frame.index, crs=4326))


def read_grids(
    conn: psycopg.Connection[Any],
    query: sql.Composed | sql.SQL = _GRIDS,
    params: Any = None,
) -> gpd.GeoDataFrame:
    """Grids conformed to :data:`gridmap.schema.PLAN_GRIDS` (plan_id, revision, code, …)."""
    with conn.cursor(binary=True) as cur:
        rows = cur.execute(query, params).fetchall()
    frame = pd.DataFrame.from_records(
        rows, columns=[*PLAN_GRIDS.column_names, "_wkb"], coerce_float=False
    )
    geoms = _geometries(frame.pop("_wkb"))
    frame = gpd.GeoDataFrame(frame, geometry=gpd.GeoSeries(geoms, index=frame.index, crs=4326))
    return conform(frame, PLAN_GRIDS)


def revision_grids(conn: psycopg.Connection[Any], plan_id: int, number: int) -> gpd.GeoDataFrame:
    """The grids of a revision, in the order they were committed (no plan_id/revision)."""
    return read_grids(conn, _GRIDS, (plan_id, number)).drop(columns=["plan_id", "revision"])


def _geometries(wkb: pd.Series) -> np.ndarray:
    values = np.array([None if w is None else bytes(w) for w in wkb.tolist()], dtype=object)
    return single_part_where_possible(shapely.from_wkb(values))


def _ewkb(geoms: np.ndarray) -> list[bytes | None]:
    flat = shapely.set_srid(shapely.force_2d(geoms), 4326)
    return list(shapely.to_wkb(flat, include_srid=True, flavor="extended"))


def _cell_hash(cell_id: str, values: list[Any], ewkb: bytes | None) -> bytes:
    """SHA-256 of a cell's id, attributes and geometry: equal cells share one stored row."""
    digest = hashlib.sha256()
    for value in (cell_id, *values):
        text = b"\x00" if value is None else str(value).encode()
        digest.update(struct.pack("<I", len(text)) + text)
    digest.update(ewkb or b"")
    return digest.digest()
