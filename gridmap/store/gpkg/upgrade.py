"""Workspaces written before plan revisions: their plans become revision 1 of each plan.

Before the storage contract a plan was three tables written whole (``plans`` with
weight/target/… columns, ``plan_cells`` and ``plan_grids`` keyed by plan id). Opening such a
file with :class:`~gridmap.store.gpkg.store.GpkgStore` moves every plan into the new tables, in
the store's first transaction, so nothing is lost and nothing is half moved.
"""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
from dataclasses import dataclass

import geopandas as gpd
import pandas as pd

from gridmap.store.gpkg.file import decode, drop_table, geometry_column, table_exists
from gridmap.store.gpkg.layers import shapely_single

__all__ = ["OldPlan", "take_old_plans"]

_OLD_CELLS = ("cell_id", "community_code", "atom_id", "grid_code", "residents", "households")
_OLD_GRIDS = ("code", "community_code", "name", "residents", "households", "cells", "compactness")


@dataclass(frozen=True)
class OldPlan:
    """A plan of the old layout, read whole."""

    id: str
    name: str
    status: str
    created_at: dt.datetime
    created_by: str
    params: dict[str, object]
    cells: gpd.GeoDataFrame
    grids: gpd.GeoDataFrame


def take_old_plans(conn: sqlite3.Connection) -> list[OldPlan]:
    """Read the plans of the old layout and drop its tables (inside the caller's transaction).

    Returns [] when the file has no plans table or already has the new one.
    """
    if not table_exists(conn, "plans"):
        return []
    columns = {r[1] for r in conn.execute('PRAGMA table_info("plans")')}
    if "head" in columns:
        return []
    plans = []
    for row in conn.execute("SELECT * FROM plans ORDER BY fid").fetchall():
        plan_id = str(row["id"])
        created = dt.datetime.fromisoformat(str(row["created_at"]))
        plans.append(
            OldPlan(
                plan_id,
                row["name"] or f"plan {plan_id}",
                row["status"] or "draft",
                created if created.tzinfo else created.replace(tzinfo=dt.UTC),
                row["created_by"] or "unknown",
                json.loads(row["params"] or "{}"),
                _frame(conn, "plan_cells", _OLD_CELLS, plan_id, "cell_id"),
                _frame(conn, "plan_grids", _OLD_GRIDS, plan_id, None),
            )
        )
    for name in ("plans", "plan_cells", "plan_grids"):
        drop_table(conn, name)
    return plans


def _frame(
    conn: sqlite3.Connection,
    table: str,
    names: tuple[str, ...],
    plan_id: str,
    index: str | None,
) -> gpd.GeoDataFrame:
    have = {r[1] for r in conn.execute(f'PRAGMA table_info("{table}")')}
    geom = geometry_column(conn, table) or "geom"
    picked = [f'"{c}"' if c in have else "NULL" for c in names]
    query = f'SELECT {", ".join(picked)}, "{geom}" FROM "{table}" WHERE plan_id = ? ORDER BY fid'
    cursor = conn.cursor()
    cursor.row_factory = None
    rows = cursor.execute(query, (plan_id,)).fetchall()
    frame = pd.DataFrame.from_records(rows, columns=[*names, "_blob"], coerce_float=False)
    geoms = shapely_single(decode(frame.pop("_blob").tolist()))
    frame = frame.rename(columns={"grid_code": "grid"})
    if index:
        frame = frame.set_index(index)
    return gpd.GeoDataFrame(frame, geometry=gpd.GeoSeries(geoms, index=frame.index), crs=4326)
