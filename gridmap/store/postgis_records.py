"""Staff assignments, incidents and their events, users and the audit log in PostGIS.

An incident update is a compare-and-set: the row is locked (``SELECT … FOR UPDATE``), its
version compared with the one the caller read, and the update and its event written in the
same transaction; a refused update is audited as a conflict in a transaction of its own.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

import psycopg
from psycopg import sql
from psycopg.rows import dict_row

from gridmap.errors import ConflictError, NotFoundError
from gridmap.store.common import (
    aware,
    check_actor,
    check_bbox,
    check_user,
    incident_values,
    now,
)
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
from gridmap.store.postgis_base import PostgisBase, plan_key, utc

__all__ = ["RecordsMixin"]

_ASSIGN = sql.SQL(
    "INSERT INTO gridmap.staff_assignments (staff_id, grid_code, role, assigned_at, assigned_by)"
    " VALUES (%s, %s, %s, %s, %s) ON CONFLICT DO NOTHING"
)
_UNASSIGN = sql.SQL(
    "DELETE FROM gridmap.staff_assignments WHERE staff_id = %s AND grid_code = %s AND role = %s"
)
_STAFF = sql.SQL("SELECT 1 FROM gridmap.staff WHERE id = %s")
_INCIDENT = sql.SQL("SELECT * FROM gridmap.incidents WHERE id = %s")
_EVENT = sql.SQL(
    "INSERT INTO gridmap.incident_events"
    " (incident_id, seq, at, actor, action, from_status, to_status, note)"
    " VALUES (%s, (SELECT coalesce(max(seq), 0) + 1 FROM gridmap.incident_events"
    " WHERE incident_id = %s), %s, %s, %s, %s, %s, %s)"
)
_EVENTS = sql.SQL(
    "SELECT incident_id, seq, at, actor, action, from_status, to_status, note"
    " FROM gridmap.incident_events WHERE incident_id = %s ORDER BY seq"
)
_INSERT_USER = sql.SQL(
    "INSERT INTO gridmap.users (name, role, password_hash, created_at, active)"
    " VALUES (%s, %s, %s, %s, true) ON CONFLICT (name) DO NOTHING RETURNING name"
)
_USER = sql.SQL("SELECT * FROM gridmap.users WHERE name = %s")


class RecordsMixin(PostgisBase):
    """Staff assignments, incidents, users and the audit log."""

    # --- staff ---------------------------------------------------------------------------------

    def assign_staff(self, staff_id: str, grid_code: str, role: str, *, actor: str) -> None:
        """Give a person a role in a grid (idempotent); NotFoundError for an unknown staff id."""
        check_actor(actor)
        with self._write() as conn:
            if conn.execute(_STAFF, (staff_id,)).fetchone() is None:
                raise NotFoundError(f"{self._where}: no staff {staff_id!r} in the staff layer")
            conn.execute(_ASSIGN, (staff_id, grid_code, role, now(), actor))
            detail = {"staff_id": staff_id, "grid_code": grid_code, "role": role}
            self._audit(conn, actor, "assign_staff", detail=detail)

    def unassign_staff(self, staff_id: str, grid_code: str, role: str, *, actor: str) -> None:
        """Take the role away; NotFoundError when the person did not hold it."""
        check_actor(actor)
        with self._write() as conn:
            if conn.execute(_UNASSIGN, (staff_id, grid_code, role)).rowcount == 0:
                raise NotFoundError(f"staff {staff_id} holds no role {role!r} in grid {grid_code}")
            detail = {"staff_id": staff_id, "grid_code": grid_code, "role": role}
            self._audit(conn, actor, "unassign_staff", detail=detail)

    def staff_assignments(
        self, *, grid_code: str | None = None, staff_id: str | None = None
    ) -> list[StaffAssignment]:
        """Assignments, optionally of one grid or one person, in the order they were made."""
        conditions, args = _filters(grid_code=grid_code, staff_id=staff_id)
        query = sql.SQL(
            "SELECT staff_id, grid_code, role, assigned_at, assigned_by"
            " FROM gridmap.staff_assignments{} ORDER BY seq"
        ).format(_where(conditions))
        with self._read() as conn:
            rows = conn.execute(query, args).fetchall()
        return [StaffAssignment(s, g, r, utc(at), by) for s, g, r, at, by in rows]  # type: ignore[arg-type]

    # --- incidents -----------------------------------------------------------------------------

    def add_incident(
        self, fields: Mapping[str, Any], *, actor: str, event: IncidentEvent | None = None
    ) -> Incident:
        """Store a new incident (id assigned by the store) and its first event."""
        check_actor(actor)
        values = incident_values(fields)
        if event is not None:
            aware(event.at, "event.at")
        stamp = now()
        names = ["created_at", "updated_at", *values]
        query = sql.SQL("INSERT INTO gridmap.incidents ({}) VALUES ({}) RETURNING id").format(
            sql.SQL(", ").join(sql.Identifier(n) for n in names),
            sql.SQL(", ").join(sql.Placeholder() * len(names)),
        )
        with self._write() as conn:
            row = conn.execute(query, [stamp, stamp, *values.values()]).fetchone()
            assert row is not None
            incident_id = str(row[0])
            first = event or IncidentEvent(
                incident_id, 1, stamp, actor, "report", None, values.get("status")
            )
            _add_event(conn, int(incident_id), first)
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
        conditions, args = _filters(grid_code=grid_code, status=status, category=category)
        if since is not None:
            conditions.append(sql.SQL("created_at >= %s"))
            args.append(aware(since, "since"))
        if until is not None:
            conditions.append(sql.SQL("created_at < %s"))
            args.append(aware(until, "until"))
        box = check_bbox(bbox)
        if box is not None:  # the GiST index finds them; the box is closed, as in the GeoPackage
            conditions.append(sql.SQL("geom && ST_MakeEnvelope(%s, %s, %s, %s, 4326)"))
            args.extend(box)
        query = sql.SQL("SELECT * FROM gridmap.incidents{} ORDER BY created_at, id").format(
            _where(conditions)
        )
        with self._read() as conn, conn.cursor(row_factory=dict_row) as cur:
            return [_incident(row) for row in cur.execute(query, args).fetchall()]

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
        values = incident_values(changes)
        aware(event.at, "event.at")
        sets: list[sql.Composable] = [sql.SQL("{} = %s").format(sql.Identifier(k)) for k in values]
        sets += [sql.SQL("version = version + 1"), sql.SQL("updated_at = %s")]
        update = sql.SQL("UPDATE gridmap.incidents SET {} WHERE id = %s").format(
            sql.SQL(", ").join(sets)
        )
        with self._write() as conn:
            current = self._incident(conn, incident_id, lock=True)
            if current.version == expected_version:
                conn.execute(update, [*values.values(), now(), int(current.id)])
                _add_event(conn, int(current.id), event)
                detail = {"incident": current.id, "version": current.version + 1}
                self._audit(conn, actor, "update_incident", detail=detail)
                return self._incident(conn, current.id)
        stale = StaleVersionError(current.id, expected_version, current)
        detail = {"incident": current.id, "expected": expected_version, "current": current.version}
        self._audit_alone(actor, "update_incident", "conflict", detail=detail)
        raise stale

    def incident_events(self, incident_id: str) -> list[IncidentEvent]:
        """An incident's events, first first."""
        with self._read() as conn:
            found = self._incident(conn, incident_id)
            rows = conn.execute(_EVENTS, (int(found.id),)).fetchall()
        return [
            IncidentEvent(str(i), int(seq), utc(at), actor, action, frm, to, note)  # type: ignore[arg-type]
            for i, seq, at, actor, action, frm, to, note in rows
        ]

    def _incident(
        self, conn: psycopg.Connection[Any], incident_id: str, *, lock: bool = False
    ) -> Incident:
        key = plan_key(incident_id)
        row = None
        if key is not None:
            query = _INCIDENT + sql.SQL(" FOR UPDATE") if lock else _INCIDENT
            with conn.cursor(row_factory=dict_row) as cur:
                row = cur.execute(query, (key,)).fetchone()
        if row is None:
            raise NotFoundError(f"{self._where}: no incident {incident_id}")
        return _incident(row)

    # --- users and audit -----------------------------------------------------------------------

    def add_user(self, name: str, role: str, password_hash: str, *, actor: str) -> User:
        """A new user; ConflictError when the name is taken."""
        check_actor(actor)
        check_user(name, role)
        with self._write() as conn:
            if conn.execute(_INSERT_USER, (name, role, password_hash, now())).fetchone() is None:
                raise ConflictError(f"{self._where}: there is a user called {name!r} already")
            self._audit(conn, actor, "add_user", detail={"name": name, "role": role})
            return self._user(conn, name)

    def user(self, name: str) -> User:
        """One user."""
        with self._read() as conn:
            return self._user(conn, name)

    def users(self) -> list[User]:
        """All users, by name."""
        with self._read() as conn, conn.cursor(row_factory=dict_row) as cur:
            rows = cur.execute("SELECT * FROM gridmap.users ORDER BY name").fetchall()
        return [_user(r) for r in rows]

    def audit(
        self, *, plan_id: str | None = None, since: dt.datetime | None = None
    ) -> list[AuditEntry]:
        """The audit log, oldest first."""
        conditions: list[sql.Composable] = []
        args: list[Any] = []
        if plan_id is not None:
            conditions.append(sql.SQL("plan_id = %s"))
            args.append(str(plan_id))
        if since is not None:
            conditions.append(sql.SQL("at >= %s"))
            args.append(aware(since, "since"))
        query = sql.SQL(
            "SELECT seq, at, actor, action, outcome, plan_id, revision, detail"
            " FROM gridmap.audit_log{} ORDER BY seq"
        ).format(_where(conditions))
        with self._read() as conn:
            rows = conn.execute(query, args).fetchall()
        return [
            AuditEntry(int(seq), utc(at), actor, action, outcome, plan, rev, detail or {})  # type: ignore[arg-type]
            for seq, at, actor, action, outcome, plan, rev, detail in rows
        ]

    def _user(self, conn: psycopg.Connection[Any], name: str) -> User:
        with conn.cursor(row_factory=dict_row) as cur:
            row = cur.execute(_USER, (name,)).fetchone()
        if row is None:
            raise NotFoundError(f"{self._where}: no user {name!r}")
        return _user(row)


def _filters(**given: str | None) -> tuple[list[sql.Composable], list[Any]]:
    """``a = %s`` conditions for the filters given, and their values."""
    used = {k: v for k, v in given.items() if v is not None}
    conditions: list[sql.Composable] = [sql.SQL("{} = %s").format(sql.Identifier(k)) for k in used]
    return conditions, list(used.values())


def _where(conditions: list[sql.Composable]) -> sql.Composable:
    if not conditions:
        return sql.SQL("")
    return sql.SQL(" WHERE ") + sql.SQL(" AND ").join(conditions)


def _add_event(conn: psycopg.Connection[Any], incident_id: int, event: IncidentEvent) -> None:
    at = aware(event.at, "event.at")
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


def _incident(row: Mapping[str, Any]) -> Incident:
    fields = {key: row[key] for key in INCIDENT_FIELDS}
    fields["deadline"] = utc(fields["deadline"])
    return Incident(
        id=str(row["id"]),
        version=int(row["version"]),
        created_at=utc(row["created_at"]),  # type: ignore[arg-type]
        updated_at=utc(row["updated_at"]),  # type: ignore[arg-type]
        fields=fields,
    )


def _user(row: Mapping[str, Any]) -> User:
    return User(
        row["name"],
        row["role"],
        row["password_hash"],
        utc(row["created_at"]),  # type: ignore[arg-type]
        bool(row["active"]),
    )
