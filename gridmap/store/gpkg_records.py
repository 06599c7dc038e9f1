"""Staff assignments, incidents and their events, users and the audit log in the GeoPackage store.

Incidents are a point feature table (QGIS shows them on the map); an update names the version it
read and is refused when another came first, checked and written in one ``BEGIN IMMEDIATE``
transaction.
"""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
from collections.abc import Mapping
from typing import Any

import geopandas as gpd
import shapely

from gridmap.errors import ConflictError, NotFoundError
from gridmap.schema import INCIDENTS, conform
from gridmap.store.common import aware, check_actor, check_bbox, check_user, incident_values, now
from gridmap.store.contract import (
    INCIDENT_FIELDS,
    AuditEntry,
    BBox,
    Incident,
    IncidentEvent,
    StaffAssignment,
    StaleVersionError,
    User,
)
from gridmap.store.gpkg_base import GpkgBase, from_text, time_of, to_text
from gridmap.store.gpkg_file import encode
from gridmap.store.gpkg_layers import insert_frame

__all__ = ["RecordsMixin"]

_ASSIGN = (
    "INSERT OR IGNORE INTO staff_assignments (staff_id, grid_code, role, assigned_at, "
    "assigned_by) VALUES (?, ?, ?, ?, ?)"
)
_UNASSIGN = "DELETE FROM staff_assignments WHERE staff_id = ? AND grid_code = ? AND role = ?"
_EVENT = (
    "INSERT INTO incident_events (incident_id, seq, at, actor, action, from_status, to_status, "
    "note) VALUES (?, (SELECT COALESCE(MAX(seq), 0) + 1 FROM incident_events "
    "WHERE incident_id = ?), ?, ?, ?, ?, ?, ?)"
)
_NEXT_INCIDENT = "SELECT COALESCE(MAX(CAST(id AS INTEGER)), 0) + 1 FROM incidents"
_INSERT_USER = (
    "INSERT INTO users (name, role, password_hash, created_at, active) VALUES (?, ?, ?, ?, 1)"
)


class RecordsMixin(GpkgBase):
    """Staff assignments, incidents, users and the audit log."""

    # --- staff ---------------------------------------------------------------------------------

    def assign_staff(self, staff_id: str, grid_code: str, role: str, *, actor: str) -> None:
        """Give a person a role in a grid (idempotent); NotFoundError for an unknown staff id."""
        check_actor(actor)
        with self._write() as conn:
            self._staff_exists(conn, staff_id)
            conn.execute(_ASSIGN, (staff_id, grid_code, role, to_text(now()), actor))
            self._audit(
                conn,
                actor,
                "assign_staff",
                detail={"staff_id": staff_id, "grid_code": grid_code, "role": role},
            )

    def unassign_staff(self, staff_id: str, grid_code: str, role: str, *, actor: str) -> None:
        """Take the role away; NotFoundError when the person did not hold it."""
        check_actor(actor)
        with self._write() as conn:
            if conn.execute(_UNASSIGN, (staff_id, grid_code, role)).rowcount == 0:
                raise NotFoundError(f"staff {staff_id} holds no role {role!r} in grid {grid_code}")
            self._audit(
                conn,
                actor,
                "unassign_staff",
                detail={"staff_id": staff_id, "grid_code": grid_code, "role": role},
            )

    def staff_assignments(
        self, *, grid_code: str | None = None, staff_id: str | None = None
    ) -> list[StaffAssignment]:
        """Assignments, optionally of one grid or one person, in the order they were made."""
        conds, args = _filters(grid_code=grid_code, staff_id=staff_id)
        with self._read() as conn:
            rows = conn.execute(f"SELECT * FROM staff_assignments{conds} ORDER BY fid", args)
            return [
                StaffAssignment(
                    r["staff_id"],
                    r["grid_code"],
                    r["role"],
                    time_of(r["assigned_at"]),
                    r["assigned_by"],
                )  # type: ignore[arg-type]
                for r in rows
            ]

    def _staff_exists(self, conn: sqlite3.Connection, staff_id: str) -> None:
        from gridmap.store.gpkg_file import table_exists

        if (
            not table_exists(conn, "staff")
            or conn.execute("SELECT 1 FROM staff WHERE id = ?", (staff_id,)).fetchone() is None
        ):
            raise NotFoundError(f"{self.path}: no staff {staff_id!r} in the staff layer")

    # --- incidents -----------------------------------------------------------------------------

    def add_incident(
        self, fields: Mapping[str, Any], *, actor: str, event: IncidentEvent | None = None
    ) -> Incident:
        """Store a new incident (id assigned by the store) and its first event."""
        check_actor(actor)
        values = _values(fields)
        stamp = now()
        with self._write() as conn:
            incident_id = str(conn.execute(_NEXT_INCIDENT).fetchone()[0])
            row = {
                **values,
                "id": incident_id,
                "version": 1,
                "created_at": to_text(stamp),
                "updated_at": to_text(stamp),
            }
            insert_frame(conn, INCIDENTS, conform(_incident_frame(row), INCIDENTS))
            first = event or IncidentEvent(
                incident_id, 1, stamp, actor, "report", None, values.get("status")
            )
            self._add_event(conn, incident_id, first)
            self._audit(conn, actor, "add_incident", detail={"incident": incident_id})
            return self._incident(conn, incident_id)

    def incident(self, incident_id: str) -> Incident:
        """One incident."""
        with self._read() as conn:
            return self._incident(conn, incident_id)

    def incidents(
        self,
        *,
        grid_code: str | None = None,
        status: str | None = None,
        category: str | None = None,
        since: dt.datetime | None = None,
        until: dt.datetime | None = None,
        bbox: BBox | None = None,
    ) -> list[Incident]:
        """Incidents matching every filter given (created in [since, until)), oldest first."""
        conds, args = _filters(grid_code=grid_code, status=status, category=category)
        extra: list[tuple[str, Any]] = []
        if since is not None:
            extra.append(("created_at >= ?", to_text(since, "since")))
        if until is not None:
            extra.append(("created_at < ?", to_text(until, "until")))
        box = check_bbox(bbox)
        if box is not None:
            extra += [
                ("lon >= ?", box[0]),
                ("lat >= ?", box[1]),
                ("lon <= ?", box[2]),
                ("lat <= ?", box[3]),
            ]
        for cond, arg in extra:
            conds = f"{conds} AND {cond}" if conds else f" WHERE {cond}"
            args.append(arg)
        with self._read() as conn:
            rows = conn.execute(f"SELECT * FROM incidents{conds} ORDER BY fid", args).fetchall()
        return [_incident(row) for row in rows]

    def update_incident(
        self,
        incident_id: str,
        expected_version: int,
        changes: Mapping[str, Any],
        *,
        actor: str,
        event: IncidentEvent,
    ) -> Incident:
        """Apply ``changes`` and append ``event`` if the stored version is ``expected_version``."""
        check_actor(actor)
        values = _values(changes)
        aware(event.at, "event.at")
        stale: StaleVersionError | None = None
        with self._write() as conn:
            current = self._incident(conn, incident_id)
            if current.version != expected_version:
                stale = StaleVersionError(current.id, expected_version, current)
            else:
                sets = ", ".join(f'"{k}" = ?' for k in values)
                stamp = to_text(now())
                conn.execute(
                    f"UPDATE incidents SET {sets + ', ' if sets else ''}version = version + 1, "
                    "updated_at = ? WHERE id = ?",
                    [*values.values(), stamp, current.id],
                )
                if {"lon", "lat"} & set(values):
                    self._move_point(conn, current.id)
                self._add_event(conn, current.id, event)
                self._audit(
                    conn,
                    actor,
                    "update_incident",
                    detail={"incident": current.id, "version": current.version + 1},
                )
                return self._incident(conn, current.id)
        self._audit_alone(
            actor,
            "update_incident",
            "conflict",
            detail={
                "incident": incident_id,
                "expected": expected_version,
                "current": stale.current.version,
            },
        )  # type: ignore[union-attr]
        raise stale  # type: ignore[misc]

    def incident_events(self, incident_id: str) -> list[IncidentEvent]:
        """An incident's events, first first."""
        with self._read() as conn:
            self._incident(conn, incident_id)
            rows = conn.execute(
                "SELECT * FROM incident_events WHERE incident_id = ? ORDER BY seq", (incident_id,)
            )
            return [
                IncidentEvent(
                    r["incident_id"],
                    int(r["seq"]),
                    time_of(r["at"]),
                    r["actor"],
                    r["action"],
                    r["from_status"],
                    r["to_status"],
                    r["note"],
                )
                for r in rows
            ]

    def _incident(self, conn: sqlite3.Connection, incident_id: str) -> Incident:
        row = conn.execute("SELECT * FROM incidents WHERE id = ?", (str(incident_id),)).fetchone()
        if row is None:
            raise NotFoundError(f"{self.path}: no incident {incident_id}")
        return _incident(row)

    def _add_event(self, conn: sqlite3.Connection, incident_id: str, event: IncidentEvent) -> None:
        at = to_text(event.at, "event.at")
        conn.execute(
            _EVENT,
            (
                incident_id,
                incident_id,
                at,
                event.actor,
                event.action,
                event.from_status,
                event.to_status,
                event.note,
            ),
        )

    @staticmethod
    def _move_point(conn: sqlite3.Connection, incident_id: str) -> None:
        lon, lat = conn.execute(
            "SELECT lon, lat FROM incidents WHERE id = ?", (incident_id,)
        ).fetchone()
        point = None if lon is None or lat is None else shapely.Point(lon, lat)
        blob = encode(gpd.GeoSeries([point]).to_numpy())[0]
        conn.execute("UPDATE incidents SET geom = ? WHERE id = ?", (blob, incident_id))

    # --- users and audit -----------------------------------------------------------------------

    def add_user(self, name: str, role: str, password_hash: str, *, actor: str) -> User:
        """A new user; ConflictError when the name is taken."""
        check_actor(actor)
        check_user(name, role)
        with self._write() as conn:
            if conn.execute("SELECT 1 FROM users WHERE name = ?", (name,)).fetchone():
                raise ConflictError(f"{self.path}: there is a user called {name!r} already")
            conn.execute(_INSERT_USER, (name, role, password_hash, to_text(now())))
            self._audit(conn, actor, "add_user", detail={"name": name, "role": role})
            return self._user(conn, name)

    def user(self, name: str) -> User:
        """One user."""
        with self._read() as conn:
            return self._user(conn, name)

    def users(self) -> list[User]:
        """All users, by name."""
        with self._read() as conn:
            return [_user(r) for r in conn.execute("SELECT * FROM users ORDER BY name")]

    def audit(
        self, *, plan_id: str | None = None, since: dt.datetime | None = None
    ) -> list[AuditEntry]:
        """The audit log, oldest first."""
        conds, args = _filters(plan_id=plan_id)
        if since is not None:
            conds = f"{conds} AND at >= ?" if conds else " WHERE at >= ?"
            args.append(to_text(since, "since"))
        with self._read() as conn:
            rows = conn.execute(f"SELECT * FROM audit_log{conds} ORDER BY seq", args).fetchall()
        return [
            AuditEntry(
                int(r["seq"]),
                time_of(r["at"]),
                r["actor"],
                r["action"],  # type: ignore[arg-type]
                r["outcome"],
                r["plan_id"],
                None if r["revision"] is None else int(r["revision"]),
                json.loads(r["detail"] or "{}"),
            )
            for r in rows
        ]

    def _user(self, conn: sqlite3.Connection, name: str) -> User:
        row = conn.execute("SELECT * FROM users WHERE name = ?", (name,)).fetchone()
        if row is None:
            raise NotFoundError(f"{self.path}: no user {name!r}")
        return _user(row)


def _filters(**given: str | None) -> tuple[str, list[Any]]:
    """`` WHERE a = ? AND b = ?`` for the filters given (names are this module's, not input)."""
    used = {k: v for k, v in given.items() if v is not None}
    if not used:
        return "", []
    return " WHERE " + " AND ".join(f'"{k}" = ?' for k in used), list(used.values())


def _values(fields: Mapping[str, Any]) -> dict[str, Any]:
    values = incident_values(fields)
    if values.get("deadline") is not None:
        values["deadline"] = to_text(values["deadline"])
    return values


def _incident_frame(row: dict[str, Any]) -> gpd.GeoDataFrame:
    lon, lat = row.get("lon"), row.get("lat")
    point = None if lon is None or lat is None else shapely.Point(lon, lat)
    return gpd.GeoDataFrame([row], geometry=[point], crs=4326)


def _incident(row: sqlite3.Row) -> Incident:
    fields = {key: row[key] for key in INCIDENT_FIELDS}
    fields["deadline"] = from_text(fields["deadline"])
    return Incident(
        id=row["id"],
        version=int(row["version"]),
        created_at=time_of(row["created_at"]),
        updated_at=time_of(row["updated_at"]),
        fields=fields,
    )


def _user(row: sqlite3.Row) -> User:
    return User(
        row["name"],
        row["role"],
        row["password_hash"],
        time_of(row["created_at"]),
        bool(row["active"]),
    )  # type: ignore[arg-type]
