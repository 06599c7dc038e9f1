"""Plan revisions in the GeoPackage: check the frames, store them sharing cells, read them back.

A plan's canvas cells are stored once in ``plan_cells`` and shared by its revisions; a revision
adds one ``plan_assignments`` row per cell (cell id, cell version, grid) and its dissolved
grids in ``plan_grids``. A commit that changes a cell (its polygon, atom or weights) adds a new
version of that cell; an unchanged cell, recognised by its stored bytes, is not written again.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from typing import Any

import geopandas as gpd
import pandas as pd

from gridmap.schema import PLAN_GRIDS, conform
from gridmap.store.common import CELL_ATTRS, check_revision
from gridmap.store.gpkg.file import decode, encode
from gridmap.store.gpkg.layers import as_stored, insert_frame, read_layer, shapely_single

__all__ = ["StagedRevision", "insert_revision", "read_cells", "read_grids", "stage_revision"]

_EXISTING_CELLS = (
    "SELECT cell_id, version, community_code, atom_id, residents, households, geom "
    "FROM plan_cells WHERE plan_id = ?"
)
_INSERT_CELL = (
    "INSERT INTO plan_cells (plan_id, cell_id, version, community_code, atom_id, residents, "
    "households, geom) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
)
_INSERT_ASSIGNMENT = (
    "INSERT INTO plan_assignments (plan_id, revision, cell_id, cell_version, grid_code) "
    "VALUES (?, ?, ?, ?, ?)"
)
_CELLS = (
    "SELECT a.cell_id, c.community_code, c.atom_id, a.grid_code, c.residents, c.households, "
    "c.geom FROM plan_assignments AS a JOIN plan_cells AS c ON c.plan_id = a.plan_id "
    "AND c.cell_id = a.cell_id AND c.version = a.cell_version "
    "WHERE a.plan_id = ? AND a.revision = ? ORDER BY a.fid"
)


@dataclass(frozen=True)
class StagedRevision:
    """A revision's cells and grids checked and encoded, ready to write."""

    cells: list[tuple[Any, ...]]  # (cell_id, community_code, atom_id, residents, households, blob)
    grids: pd.DataFrame  # conformed to plan_grids, without plan_id/revision yet
    assignment: list[Any]  # grid of each cell
    communities: tuple[str, ...]


def stage_revision(cells: gpd.GeoDataFrame, grids: gpd.GeoDataFrame) -> StagedRevision:
    """Check a revision's frames (:func:`gridmap.store.common.check_revision`) and encode them."""
    checked = check_revision(cells, grids)
    blobs = encode(as_stored(checked.geometries, "polygon"))
    columns = [checked.cell_ids, *(checked.attrs[c] for c in CELL_ATTRS), blobs]
    rows = list(zip(*columns, strict=True))
    return StagedRevision(rows, conform(grids, PLAN_GRIDS), checked.assignment, checked.communities)


def insert_revision(
    conn: sqlite3.Connection, plan_id: str, number: int, staged: StagedRevision
) -> dict[str, int]:
    """Write revision ``number`` of ``plan_id`` (its row in plan_revisions is the caller's).

    Returns counts: cells, new cell versions written, grids.
    """
    known: dict[str, list[tuple[int, tuple[Any, ...]]]] = {}
    for cell_id, version, *attrs, blob in conn.execute(_EXISTING_CELLS, (plan_id,)):
        known.setdefault(cell_id, []).append((version, (*attrs, bytes(blob))))
    if not known:  # a new plan (or one without cells): every cell is new, at version 1
        versions = [1] * len(staged.cells)
        new_cells = [(plan_id, row[0], 1, *row[1:]) for row in staged.cells]
    else:
        new_cells, versions = [], []
        for cell_id, *attrs in staged.cells:
            stored = known.get(cell_id, [])
            version = next((v for v, a in stored if a == tuple(attrs)), None)
            if version is None:
                version = max((v for v, _ in stored), default=0) + 1
                stored.append((version, tuple(attrs)))
                known[cell_id] = stored
                new_cells.append((plan_id, cell_id, version, *attrs))
            versions.append(version)
    conn.executemany(_INSERT_CELL, new_cells)
    conn.executemany(
        _INSERT_ASSIGNMENT,
        (
            (plan_id, number, row[0], version, grid)
            for row, version, grid in zip(staged.cells, versions, staged.assignment, strict=True)
        ),
    )
    grids = staged.grids.assign(plan_id=plan_id, revision=number)
    insert_frame(conn, PLAN_GRIDS, conform(grids, PLAN_GRIDS))
    return {"cells": len(staged.cells), "new_cells": len(new_cells), "grids": len(grids)}


def read_cells(conn: sqlite3.Connection, plan_id: str, number: int) -> gpd.GeoDataFrame:
    """The cells of a revision, indexed by cell_id, in the order they were committed."""
    cursor = conn.cursor()
    cursor.row_factory = None
    rows = cursor.execute(_CELLS, (plan_id, number)).fetchall()
    columns = ["cell_id", "community_code", "atom_id", "grid", "residents", "households", "_blob"]
    frame = pd.DataFrame.from_records(rows, columns=columns, coerce_float=False)
    geoms = shapely_single(decode(frame.pop("_blob").tolist()))
    for col in ("residents", "households"):
        frame[col] = pd.array(frame[col].tolist(), dtype="Int64")
    frame = frame.set_index("cell_id")
    return gpd.GeoDataFrame(frame, geometry=gpd.GeoSeries(geoms, index=frame.index, crs=4326))


def read_grids(conn: sqlite3.Connection, plan_id: str, number: int) -> gpd.GeoDataFrame:
    """The grids of a revision, in the order they were committed."""
    grids = read_layer(
        conn, PLAN_GRIDS, where="t.plan_id = ? AND t.revision = ?", params=(plan_id, number)
    )
    return grids.drop(columns=["plan_id", "revision"])
