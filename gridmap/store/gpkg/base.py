"""What every part of :class:`~gridmap.store.gpkg.store.GpkgStore` shares: the connection, its
transactions, the store's tables, times, the audit log and plan lookups.

One :class:`sqlite3.Connection` per store, in autocommit mode; a write is ``BEGIN IMMEDIATE`` …
``COMMIT``. ``BEGIN IMMEDIATE`` takes SQLite's write lock at once, so a read-check-write (the
compare-and-set of a plan's head, an incident's version) cannot interleave with another
writer's, in this process or another; a second writer waits (busy timeout) and then sees the
first one's commit.
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
import shapely

from gridmap.errors import NotFoundError, StoreError
from gridmap.schema import INCIDENTS, PLAN_LAYERS, RECORD_LAYERS, conform
from gridmap.store.base import StoreBase
from gridmap.store.common import aware, to_json
from gridmap.store.contract import PlanInfo, RevisionInfo
from gridmap.store.gpkg.file import connect, encode, ensure_geopackage, table_exists
from gridmap.store.gpkg.layers import create_layer_table, insert_frame
from gridmap.store.gpkg.upgrade import OldPlan, take_old_plans

__all__ = ["GpkgBase", "from_text", "plan_info", "revision_info", "time_of", "to_text"]

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
}
_INDEXES = (
    "CREATE INDEX IF NOT EXISTS publications_community ON publications (community_code)",
    "CREATE INDEX IF NOT EXISTS publications_plan ON publications (plan_id)",
    "CREATE INDEX IF NOT EXISTS staff_assignments_grid ON staff_assignments (grid_code)",
    "CREATE INDEX IF NOT EXISTS incidents_created ON incidents (created_at)",
    "CREATE INDEX IF NOT EXISTS audit_log_plan ON audit_log (plan_id)",
)
_PLAN = "SELECT * FROM plans WHERE id = ?"
_REVISION = "SELECT * FROM plan_revisions WHERE plan_id = ? AND number = ?"
_ASSIGN = (
    "INSERT OR IGNORE INTO staff_assignments (staff_id, grid_code, role, assigned_at, "
    "assigned_by) VALUES (?, ?, ?, ?, ?)"
)
_NEXT_INCIDENT = "SELECT COALESCE(MAX(CAST(id AS INTEGER)), 0) + 1 FROM incidents"
_AUDIT = (
    "INSERT INTO audit_log (seq, at, actor, action, outcome, plan_id, revision, detail) "
    "VALUES ((SELECT COALESCE(MAX(seq), 0) + 1 FROM audit_log), ?, ?, ?, ?, ?, ?, ?)"
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


class GpkgBase(StoreBase):
    """The connection and the shared helpers; see :class:`~gridmap.store.gpkg.store.GpkgStore`."""

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
            for ddl in _INDEXES:
                conn.execute(ddl)
            for old in old_plans:
                self._restore(conn, old)

    def _ready(self) -> bool:
        """Whether every table of the store is there already (then opening writes nothing)."""
        with self._read() as conn:
            if not all(table_exists(conn, name) for name in (*PLAN_LAYERS, *RECORD_LAYERS)):
                return False
            columns = {r[1] for r in conn.execute('PRAGMA table_info("plans")')}
            return "head" in columns

    def _restore(self, conn: sqlite3.Connection, old: OldPlan) -> None:
        """A plan of the old layout as revision 1 of a plan with the same id and status."""
        from gridmap.store.gpkg.revisions import insert_revision, stage_revision

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
            raise StoreError(f"{self.path}: the store is closed")
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

    def _plan_info(self, conn: sqlite3.Connection, plan_id: str, *, lock: bool = False) -> PlanInfo:
        row = conn.execute(_PLAN, (str(plan_id),)).fetchone()
        if row is None:
            known = [r[0] for r in conn.execute("SELECT id FROM plans ORDER BY fid")]
            shown = ", ".join(known[-20:]) or "none"
            raise NotFoundError(f"{self.path}: no plan {plan_id}; the plans are: {shown}")
        return plan_info(row)

    def _revision_info(self, conn: sqlite3.Connection, plan_id: str, number: int) -> RevisionInfo:
        row = conn.execute(_REVISION, (str(plan_id), int(number))).fetchone()
        if row is None:
            head = self._plan_info(conn, plan_id).head
            raise NotFoundError(
                f"{self.path}: plan {plan_id} has no revision {number}; it has 1 to {head}"
            )
        return revision_info(row)


def plan_info(row: Mapping[str, Any]) -> PlanInfo:
    """A :class:`PlanInfo` from a row of ``plans``."""
    return PlanInfo(
        id=row["id"],
        name=row["name"],
        status=row["status"],
        communities=tuple(json.loads(row["communities"])),
        head=int(row["head"]),
        created_at=time_of(row["created_at"]),
        created_by=row["created_by"],
        params=json.loads(row["params"] or "{}"),
        copied_from=row["copied_from"],
    )


def revision_info(row: Mapping[str, Any]) -> RevisionInfo:
    """A :class:`RevisionInfo` from a row of ``plan_revisions``."""
    return RevisionInfo(
        plan_id=row["plan_id"],
        number=int(row["number"]),
        base=None if row["base"] is None else int(row["base"]),
        created_at=time_of(row["created_at"]),
        created_by=row["created_by"],
        operation=row["operation"],
        detail=json.loads(row["detail"] or "{}"),
    )
