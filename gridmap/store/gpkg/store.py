"""The embedded engine of the storage contract: everything in one GeoPackage file.

:class:`GpkgStore` is :class:`gridmap.store.base.StoreBase` (where the contract's behaviour
lives, once for both engines) with SQLite's hooks. Reference layers, plans and
their revisions, publications, staff assignments, incidents, users and the audit log are tables
of one ``.gpkg`` that QGIS and GDAL open as it is (attribute tables, and feature tables with
their R-tree). Each mutating call is one SQLite transaction started with ``BEGIN IMMEDIATE`` in
WAL mode: all-or-nothing, also when the process is killed, and one writer at a time across
processes. A commit reads the plan's head and writes the next revision inside that transaction,
so two writers racing from the same base cannot both win.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import sqlite3
import threading
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import geopandas as gpd
import pandas as pd
import shapely

from gridmap.errors import StoreClosedError, StoreError
from gridmap.schema import (
    INCIDENTS,
    PLAN_GRIDS,
    PLAN_LAYERS,
    RECORD_LAYERS,
    Layer,
    conform,
    layer,
)
from gridmap.store.base import StoreBase
from gridmap.store.common import aware, check_bbox, now, to_json
from gridmap.store.contract import BBox, PlanInfo
from gridmap.store.gpkg.file import connect, encode, ensure_geopackage, table_exists
from gridmap.store.gpkg.layers import (
    SQL_TYPES,
    create_layer_table,
    filled_layers,
    insert_frame,
    read_layer,
    write_layers,
)
from gridmap.store.gpkg.revisions import insert_revision, read_cells, read_grids, stage_revision
from gridmap.store.gpkg.upgrade import OldPlan, take_old_plans

__all__ = ["GpkgStore", "from_text", "time_of", "to_text"]

_TIME_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"  # fixed width: text order is time order
# Keys and lookups of the store's tables (schema columns come from gridmap.schema).
_CONSTRAINTS: dict[str, tuple[str, ...]] = {
    "plans": ("UNIQUE (id)",),
    "plan_revisions": ("UNIQUE (plan_id, number)",),
    "plan_cells": ("UNIQUE (plan_id, cell_id, version)",),
    "plan_assignments": ("UNIQUE (plan_id, revision, cell_id)",),
    "plan_grids": ("UNIQUE (plan_id, revision, code)",),
    "staff_assignments": ("UNIQUE (staff_id, grid_code, role)",),
    "incidents": ("UNIQUE (id)",),
    "incident_events": ("UNIQUE (incident_id, seq)",),
    "users": ("UNIQUE (name)",),
    "audit_log": ("UNIQUE (seq)",),
    "rate_usage": ("UNIQUE (bucket, client, slot, process)",),
    "jobs": ("UNIQUE (id)",),
    "grid_locks": ("UNIQUE (plan_id, grid_code)",),
    "plan_submissions": ("UNIQUE (plan_id)",),
    "departments": ("UNIQUE (code)",),
    "incident_photos": ("UNIQUE (incident_id, seq)",),
}
# A column added to a file written before it existed, and how its old rows are filled in.
_FILL_ADDED = {
    # publications made before effective dates took effect at once: their incidents moved then
    ("publications", "regridded_at"): (
        "UPDATE publications SET regridded_at = valid_from WHERE valid_from <= ?"
    ),
}
_INDEXES = (
    "CREATE INDEX IF NOT EXISTS publications_community ON publications (community_code)",
    "CREATE INDEX IF NOT EXISTS publications_plan ON publications (plan_id)",
    "CREATE INDEX IF NOT EXISTS staff_assignments_grid ON staff_assignments (grid_code)",
    "CREATE INDEX IF NOT EXISTS incidents_created ON incidents (created_at)",
    "CREATE INDEX IF NOT EXISTS audit_log_plan ON audit_log (plan_id)",
    "CREATE INDEX IF NOT EXISTS rate_usage_slot ON rate_usage (slot)",
    "CREATE INDEX IF NOT EXISTS jobs_state ON jobs (state)",
)
_ASSIGN = (
    "INSERT OR IGNORE INTO staff_assignments (staff_id, grid_code, role, assigned_at, "
    "assigned_by) VALUES (?, ?, ?, ?, ?)"
)
_NEXT_INCIDENT = "SELECT COALESCE(MAX(CAST(id AS INTEGER)), 0) + 1 FROM incidents"
_AUDIT = (
    "INSERT INTO audit_log (seq, at, actor, action, outcome, plan_id, revision, detail) "
    "VALUES ((SELECT COALESCE(MAX(seq), 0) + 1 FROM audit_log), ?, ?, ?, ?, ?, ?, ?)"
)

_NEXT_PLAN = "SELECT COALESCE(MAX(CAST(id AS INTEGER)), 0) + 1 AS next FROM plans"
_INSERT_PLAN = (
    "INSERT INTO plans (id, name, status, communities, head, created_at, created_by, "
    "copied_from, params) VALUES (?, ?, 'draft', ?, 1, ?, ?, ?, ?)"
)
_GRIDS_IN_FORCE = (
    "EXISTS (SELECT 1 FROM publications AS p WHERE p.plan_id = t.plan_id "
    "AND p.revision = t.revision AND p.community_code = t.community_code "
    "AND p.valid_from <= ? AND (p.valid_to IS NULL OR p.valid_to > ?){community})"
)


def to_text(value: dt.datetime, what: str = "time") -> str:
    """The stored form of a time: ISO 8601 UTC, fixed width.

    Examples
    --------
    >>> to_text(dt.datetime(2026, 3, 1, 8, tzinfo=dt.UTC))
    '2026-03-01T08:00:00.000000Z'
    """
    return aware(value, what).strftime(_TIME_FORMAT)


def from_text(value: str | None) -> dt.datetime | None:
    """The time stored as ``value`` (None stays None)."""
    return None if value is None else time_of(value)


def time_of(value: str) -> dt.datetime:
    """The time stored as ``value``."""
    return dt.datetime.strptime(value, _TIME_FORMAT).replace(tzinfo=dt.UTC)


def _missing_columns(conn: sqlite3.Connection, lyr: Layer) -> list[tuple[str, str]]:
    """(name, SQL type) of the schema columns the table of ``lyr`` lacks (names come from
    gridmap.schema, never from input)."""
    have = {r[1] for r in conn.execute(f'PRAGMA table_info("{lyr.name}")')}
    return [(c.name, SQL_TYPES[c.dtype]) for c in lyr.columns if c.name not in have]


class GpkgStore(StoreBase):
    """The storage contract on one GeoPackage file at ``path`` (created when absent).

    Examples
    --------
    >>> import tempfile, pathlib, shapely, geopandas as gpd
    >>> store = GpkgStore(pathlib.Path(tempfile.mkdtemp()) / "w.gpkg")
    >>> cells = gpd.GeoDataFrame(
    ...     {"community_code": ["500108003002"] * 2, "atom_id": ["A1", "A2"],
    ...      "grid": ["500108003002001"] * 2, "residents": [10, 20], "households": [4, 8]},
    ...     geometry=[shapely.box(0, 0, 1, 1), shapely.box(1, 0, 2, 1)], crs=4326,
    ...     index=["500108003002-C1", "500108003002-C2"])
    >>> grids = gpd.GeoDataFrame({"code": ["500108003002001"],
    ...     "community_code": ["500108003002"]}, geometry=[shapely.box(0, 0, 2, 1)], crs=4326)
    >>> store.create_plan(cells, grids, name="南湖", params={}, actor="planner").number
    1
    >>> store.revision("1").cells["grid"].tolist()
    ['500108003002001', '500108003002001']
    >>> store.close()
    """

    def __init__(self, path: str | os.PathLike[str]):
        self.path = Path(path)
        self._lock = threading.RLock()
        self._conn: sqlite3.Connection | None = connect(self.path)
        self._conn.row_factory = sqlite3.Row
        if self._ready():
            return
        with self._write() as conn:
            ensure_geopackage(conn)
            old_plans = take_old_plans(conn)
            for lyr in (*PLAN_LAYERS.values(), *RECORD_LAYERS.values()):
                if not table_exists(conn, lyr.name):
                    create_layer_table(conn, lyr, _CONSTRAINTS.get(lyr.name, ()))
                else:  # a file written before a column was added to the schema
                    for name, kind in _missing_columns(conn, lyr):
                        conn.execute(f'ALTER TABLE "{lyr.name}" ADD COLUMN "{name}" {kind}')
                        fill = _FILL_ADDED.get((lyr.name, name))
                        if fill is not None:
                            conn.execute(fill, (to_text(now()),))
            for ddl in _INDEXES:
                conn.execute(ddl)
            for old in old_plans:
                self._restore(conn, old)

    def _ready(self) -> bool:
        """Whether every table of the store is there already, with every column of the schema
        (then opening writes nothing)."""
        with self._read() as conn:
            if not all(table_exists(conn, name) for name in (*PLAN_LAYERS, *RECORD_LAYERS)):
                return False
            if any(_missing_columns(conn, lyr) for lyr in RECORD_LAYERS.values()):
                return False
            columns = {r[1] for r in conn.execute('PRAGMA table_info("plans")')}
            return "head" in columns

    def _restore(self, conn: sqlite3.Connection, old: OldPlan) -> None:
        """A plan of the old layout as revision 1 of a plan with the same id and status."""
        staged = stage_revision(old.cells, old.grids)
        conn.execute(
            "INSERT INTO plans (id, name, status, communities, head, created_at, created_by, "
            "copied_from, params) VALUES (?, ?, ?, ?, 1, ?, ?, NULL, ?)",
            (
                old.id,
                old.name,
                old.status,
                json.dumps(list(staged.communities)),
                to_text(old.created_at),
                old.created_by,
                to_json(old.params),
            ),
        )
        conn.execute(
            "INSERT INTO plan_revisions (plan_id, number, base, created_at, created_by, "
            "operation, detail) VALUES (?, 1, NULL, ?, ?, 'partition', ?)",
            (old.id, to_text(old.created_at), old.created_by, to_json({"upgraded": True})),
        )
        insert_revision(conn, old.id, 1, staged)
        self._audit(
            conn,
            "gridmap",
            "upgrade",
            plan_id=old.id,
            revision=1,
            detail={"from": "plans, plan_cells, plan_grids written whole"},
        )

    def __repr__(self) -> str:
        return f"{type(self).__name__}({str(self.path)!r})"

    def close(self) -> None:
        """Close the connection (the last one to close folds the WAL into the file)."""
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None

    @property
    def conn(self) -> sqlite3.Connection:
        if self._conn is None:
            raise StoreClosedError(f"{self.path}: the store is closed")
        return self._conn

    @contextlib.contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """One write transaction: all of it is committed, or none (an error rolls back)."""
        with self._lock:
            conn = self.conn
            try:
                conn.execute("BEGIN IMMEDIATE")
            except sqlite3.OperationalError as exc:
                raise StoreError(f"{self.path}: cannot start a write ({exc})") from exc
            try:
                yield conn
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            try:
                conn.execute("COMMIT")
            except sqlite3.Error as exc:
                conn.execute("ROLLBACK")
                raise StoreError(f"{self.path}: the write failed ({exc})") from exc

    @contextlib.contextmanager
    def _read(self) -> Iterator[sqlite3.Connection]:
        """One read transaction: every query inside sees the same committed state."""
        with self._lock:
            conn = self.conn
            conn.execute("BEGIN")
            try:
                yield conn
            finally:
                conn.execute("COMMIT")

    # --- the hooks of StoreBase ----------------------------------------------------------------

    _FOR_UPDATE = ""  # BEGIN IMMEDIATE holds SQLite's write lock: writers are one at a time
    _AUDIT_INSERT = _AUDIT
    _ASSIGN = _ASSIGN
    _ROW_KEY = "fid"
    _INCIDENT_ORDER = "fid"
    _INCIDENT_BBOX = "lon >= ? AND lat >= ? AND lon <= ? AND lat <= ?"
    _SKIP_LOCKED = ""  # a claim holds the write lock (BEGIN IMMEDIATE): no other claim runs
    _NEW_JOB_ID = "(SELECT CAST(COALESCE(MAX(CAST(id AS INTEGER)), 0) + 1 AS TEXT) FROM jobs)"
    _JOB_ORDER = "fid"

    @property
    def _where(self) -> str:  # type: ignore[override]
        return str(self.path)

    def _rows(
        self, conn: sqlite3.Connection, query: str, args: Sequence[Any] = ()
    ) -> list[dict[str, Any]]:
        cursor = conn.execute(query, tuple(args))
        if cursor.description is None:
            return []
        names = [d[0] for d in cursor.description]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]

    def _count(self, conn: sqlite3.Connection, query: str, args: Sequence[Any] = ()) -> int:
        return conn.execute(query, tuple(args)).rowcount

    def _stamp(self, value: dt.datetime) -> str:
        return to_text(value)

    def _time(self, stored: Any) -> dt.datetime | None:
        return from_text(stored)

    def _key(self, any_id: object) -> str:
        return str(any_id)

    def _communities(self, codes: list[str]) -> str:
        return json.dumps(list(codes))

    def _communities_of(self, stored: str) -> list[str]:
        return list(json.loads(stored))

    def _staff_rows(
        self, conn: sqlite3.Connection, query: str, args: Sequence[Any]
    ) -> list[dict[str, Any]]:
        if not table_exists(conn, "staff"):
            return []
        return self._rows(conn, query, args)

    def _insert_incident(
        self, conn: sqlite3.Connection, values: dict[str, Any], stamp: dt.datetime
    ) -> str:
        incident_id = str(conn.execute(_NEXT_INCIDENT).fetchone()[0])
        row = {**values, "id": incident_id, "version": 1}
        row |= {"created_at": to_text(stamp), "updated_at": to_text(stamp)}
        lon, lat = row.get("lon"), row.get("lat")
        point = None if lon is None or lat is None else shapely.Point(lon, lat)
        frame = gpd.GeoDataFrame([row], geometry=[point], crs=4326)
        insert_frame(conn, INCIDENTS, conform(frame, INCIDENTS))
        return incident_id

    def _incident_moved(self, conn: sqlite3.Connection, incident_id: str) -> None:
        lon, lat = conn.execute(
            "SELECT lon, lat FROM incidents WHERE id = ?", (incident_id,)
        ).fetchone()
        point = None if lon is None or lat is None else shapely.Point(lon, lat)
        blob = encode(gpd.GeoSeries([point]).to_numpy())[0]
        conn.execute("UPDATE incidents SET geom = ? WHERE id = ?", (blob, incident_id))

    # --- the hooks of StoreBase: geometry ---------------------------------------------------

    def _filled_layers(self, conn: sqlite3.Connection) -> list[str]:
        return filled_layers(conn)

    def _layer(self, conn: sqlite3.Connection, name: str, bbox: BBox | None = None) -> pd.DataFrame:
        return read_layer(conn, layer(name), bbox)

    def _write_layers(
        self, conn: sqlite3.Connection, frames: Mapping[str, pd.DataFrame], replace: bool
    ) -> dict[str, int]:
        ensure_geopackage(conn)
        return write_layers(conn, frames, replace=replace)

    def _stage(self, cells: gpd.GeoDataFrame, grids: gpd.GeoDataFrame) -> Any:
        return stage_revision(cells, grids)

    def _insert_revision(
        self, conn: sqlite3.Connection, plan_id: str, number: int, staged: Any
    ) -> dict[str, int]:
        return insert_revision(conn, str(plan_id), int(number), staged)

    def _copy_revision(self, conn: sqlite3.Connection, source: PlanInfo, plan_id: str) -> None:
        cells, grids = self._revision_frames(conn, source.id, source.head)
        insert_revision(conn, plan_id, 1, stage_revision(cells, grids))

    def _revision_frames(
        self, conn: sqlite3.Connection, plan_id: str, number: int
    ) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame]:
        cells = read_cells(conn, str(plan_id), int(number))
        return cells, gpd.GeoDataFrame(read_grids(conn, str(plan_id), int(number)))

    def _insert_plan(self, conn: sqlite3.Connection, values: dict[str, Any]) -> str:
        plan_id = str(conn.execute(_NEXT_PLAN).fetchone()[0])
        names = ("name", "communities", "created_at", "created_by", "copied_from", "params")
        conn.execute(_INSERT_PLAN, (plan_id, *(values[n] for n in names)))
        return plan_id

    def grids_at(
        self,
        at: dt.datetime | None = None,
        *,
        bbox: BBox | None = None,
        community: str | None = None,
    ) -> gpd.GeoDataFrame:
        """The grids in force at ``at`` (default now), with plan_id and revision columns."""
        stamp = to_text(now() if at is None else aware(at, "at"))
        box = check_bbox(bbox)
        where = _GRIDS_IN_FORCE.format(
            community="" if community is None else " AND p.community_code = ?"
        )
        args: list[Any] = [stamp, stamp] + ([] if community is None else [community])
        with self._read() as conn:
            grids = read_layer(conn, PLAN_GRIDS, box, where=where, params=args)
        order = [c for c in grids.columns if c not in ("plan_id", "revision", "geometry")]
        return gpd.GeoDataFrame(grids[[*order, "plan_id", "revision", "geometry"]])

    # --- backup hooks (gridmap.store.backup) -------------------------------------------------

    def _load_order(self, table: str) -> str:
        return "seq" if table == "audit_log" else "fid"
