"""The behaviour both engines share, written once: the audit log, publishing (with the move of
open incidents to their new grids), staff, incidents and users.

:class:`StoreBase` holds the algorithms; an engine subclass (:class:`~gridmap.store.gpkg.store.
GpkgStore`, :class:`~gridmap.store.postgis.store.PostgisStore`) supplies the hooks for what
differs between SQLite and PostgreSQL:

- transactions: ``_write()`` (all or nothing; the engine's write lock) and ``_read()`` (one
  snapshot);
- the SQL dialect: ``_rows(conn, query, args)`` runs *portable* SQL (``?`` placeholders,
  unqualified table names) and answers dicts; ``_AUDIT_INSERT`` and a few other statements
  are class constants per engine;
- values: ``_stamp``/``_time`` (a time as stored and back), ``_key`` (an id as stored: text in a
  GeoPackage, an integer in PostgreSQL), ``_json`` (a JSON column as read);
- locking: ``_FOR_UPDATE`` (a row lock where the engine has one; SQLite's ``BEGIN IMMEDIATE``
  already serialises writers) and ``_lock_names`` (PostgreSQL advisory locks);
- geometry: ``_insert_incident`` and ``_incident_moved`` (a GeoPackage keeps the incident's
  point blob, PostGIS derives it).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from gridmap.errors import ConflictError, InputError, NotFoundError
from gridmap.store.common import (
    STAFF_FIELDS,
    aware,
    check_actor,
    check_publishable,
    check_user,
    incident_values,
    now,
    publish_ids,
    staff_etag,
    to_json,
)
from gridmap.store.contract import (
    INCIDENT_FIELDS,
    AuditEntry,
    Incident,
    IncidentEvent,
    Outcome,
    PlanInfo,
    Publication,
    StaffAssignment,
    StaleStaffError,
    StaleVersionError,
    User,
)

__all__ = ["StoreBase"]

_OPEN_PUBLICATION = "SELECT * FROM publications WHERE community_code = ? AND valid_to IS NULL"
_INSERT_PUBLICATION = (
    "INSERT INTO publications (community_code, plan_id, revision, valid_from, valid_to, "
    "published_by) VALUES (?, ?, ?, ?, NULL, ?)"
)
_STILL_OPEN = "SELECT 1 AS open FROM publications WHERE plan_id = ? AND valid_to IS NULL LIMIT 1"
_SET_STATUS = "UPDATE plans SET status = ? WHERE id = ?"
_END_PLAN = (
    "UPDATE publications SET valid_to = CASE WHEN valid_from > ? THEN valid_from ELSE ? END "
    "WHERE plan_id = ? AND valid_to IS NULL"
)
_IN_FORCE = "valid_from <= ? AND (valid_to IS NULL OR valid_to > ?)"
_GRID_COMMUNITIES = "SELECT code, community_code FROM plan_grids WHERE plan_id = ? AND revision = ?"
_ASSIGNMENTS = "SELECT staff_id, grid_code, role, assigned_at, assigned_by FROM staff_assignments"
_UNASSIGN = "DELETE FROM staff_assignments WHERE staff_id = ? AND grid_code = ? AND role = ?"
_STAFF_ROW = "SELECT id, name, role, phone_public, phone_private, duties, community_code FROM staff"
_EVENT = (
    "INSERT INTO incident_events (incident_id, seq, at, actor, action, from_status, to_status, "
    "note) VALUES (?, (SELECT COALESCE(MAX(seq), 0) + 1 FROM incident_events "
    "WHERE incident_id = ?), ?, ?, ?, ?, ?, ?)"
)
_EVENTS = "SELECT * FROM incident_events WHERE incident_id = ? ORDER BY seq"
_INSERT_USER = (
    "INSERT INTO users (name, role, password_hash, created_at, active) VALUES (?, ?, ?, ?, ?)"
)


class StoreBase:
    """What every store does the same way; an engine subclass supplies the hooks."""

    # --- engine hooks --------------------------------------------------------------------------

    _where: str  # where the store is, for messages (a path, host:port/db)
    _FOR_UPDATE = ""  # a row lock appended to a SELECT in a write ("" where writers serialise)
    _AUDIT_INSERT = ""  # INSERT INTO audit_log … (how seq is made differs)
    _ASSIGN = ""  # INSERT … staff_assignments, ignoring a row that is there already
    _ROW_KEY = ""  # the key column of publications and staff_assignments, in order made
    _INCIDENT_ORDER = ""  # ORDER BY of incidents: the order they were made in
    _INCIDENT_BBOX = ""  # a condition on incidents with four ? (min lon, min lat, max lon, max lat)

    def _write(self) -> contextlib.AbstractContextManager[Any]:
        raise NotImplementedError

    def _read(self) -> contextlib.AbstractContextManager[Any]:
        raise NotImplementedError

    def _rows(self, conn: Any, query: str, args: Sequence[Any] = ()) -> list[dict[str, Any]]:
        """Run portable SQL in ``conn``; the rows as dicts (none for a statement)."""
        raise NotImplementedError

    def _count(self, conn: Any, query: str, args: Sequence[Any] = ()) -> int:
        """Run a portable UPDATE or DELETE; how many rows it changed."""
        raise NotImplementedError

    def _stamp(self, value: dt.datetime) -> Any:
        """A time as the engine stores it."""
        raise NotImplementedError

    def _time(self, stored: Any) -> dt.datetime | None:
        """A stored time as an aware UTC datetime (None stays None)."""
        raise NotImplementedError

    def _key(self, any_id: object) -> Any:
        """A plan's or incident's id as stored; None when it cannot be one."""
        raise NotImplementedError

    def _lock_names(self, conn: Any, names: Iterable[str]) -> None:
        """Serialise writers on ``names`` until the transaction ends (in this order)."""

    def _plan_info(self, conn: Any, plan_id: str, *, lock: bool = False) -> PlanInfo:
        raise NotImplementedError

    def _insert_incident(self, conn: Any, values: dict[str, Any], stamp: dt.datetime) -> str:
        """Insert an incident (version 1) and answer its new id."""
        raise NotImplementedError

    def _incident_moved(self, conn: Any, incident_id: str) -> None:
        """The incident's lon/lat changed (a GeoPackage rewrites its point)."""

    @staticmethod
    def _json(stored: Any) -> dict[str, Any]:
        return stored if isinstance(stored, dict) else json.loads(stored or "{}")

    # --- lifetime ------------------------------------------------------------------------------

    def __enter__(self):  # type: ignore[no-untyped-def]
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        raise NotImplementedError

    # --- the audit log -------------------------------------------------------------------------

    def _audit(
        self,
        conn: Any,
        actor: str,
        action: str,
        outcome: Outcome = "ok",
        *,
        plan_id: str | None = None,
        revision: int | None = None,
        detail: Mapping[str, Any] | None = None,
        at: dt.datetime | None = None,
    ) -> None:
        stamp = self._stamp(at or now())
        args = (stamp, actor, action, outcome, plan_id, revision, to_json(detail))
        self._rows(conn, self._AUDIT_INSERT, args)

    def _audit_alone(self, actor: str, action: str, outcome: Outcome, **kw: Any) -> None:
        """Record a refused or conflicting call in its own transaction (the call's rolled back)."""
        with self._write() as conn:
            self._audit(conn, actor, action, outcome, **kw)

    def audit(
        self, *, plan_id: str | None = None, since: dt.datetime | None = None
    ) -> list[AuditEntry]:
        """The audit log, oldest first."""
        conds, args = _equal(plan_id=None if plan_id is None else str(plan_id))
        if since is not None:
            conds.append("at >= ?")
            args.append(self._stamp(aware(since, "since")))
        with self._read() as conn:
            rows = self._rows(conn, f"SELECT * FROM audit_log{_where(conds)} ORDER BY seq", args)
        return [
            AuditEntry(
                int(r["seq"]),
                self._time(r["at"]),  # type: ignore[arg-type]
                r["actor"],
                r["action"],
                r["outcome"],
                r["plan_id"],
                None if r["revision"] is None else int(r["revision"]),
                self._json(r["detail"]),
            )
            for r in rows
        ]

    # --- publishing ----------------------------------------------------------------------------

    def publish(
        self,
        plan_ids: Sequence[str],
        *,
        actor: str,
        at: dt.datetime | None = None,
        expected_heads: Mapping[str, int] | None = None,
        incident_grids: Mapping[str, str | None] | None = None,
    ) -> list[Publication]:
        """Put the heads of ``plan_ids`` in force in all their communities from ``at``, and
        move each incident of ``incident_grids`` to its new grid, in one transaction."""
        check_actor(actor)
        when = now() if at is None else aware(at, "at")
        ids = publish_ids(plan_ids)
        moves = _incident_moves(incident_grids)
        made: list[Publication] = []
        with self._write() as conn:
            # Plans locked in id order, communities in code order: no deadlock between two
            # publishers of overlapping sets.
            order = sorted(ids, key=lambda p: (len(p), p))
            locked = {p: self._plan_info(conn, p, lock=True) for p in order}
            infos = [locked[p] for p in ids]
            check_publishable(infos, expected_heads)
            communities = sorted(c for info in infos for c in info.communities)
            self._lock_names(conn, [f"gridmap.publication:{c}" for c in communities])
            replaced: set[str] = set()
            for info in infos:
                for community in info.communities:
                    replaced |= self._end_publication(conn, community, when)
                    self._rows(
                        conn,
                        _INSERT_PUBLICATION,
                        (community, self._key(info.id), info.head, self._stamp(when), actor),
                    )
                    made.append(Publication(community, info.id, info.head, when, None, actor))
                self._rows(conn, _SET_STATUS, ("published", self._key(info.id)))
                self._audit(
                    conn,
                    actor,
                    "publish",
                    plan_id=info.id,
                    revision=info.head,
                    detail={"communities": list(info.communities), "at": when.isoformat()},
                )
            for old in sorted(replaced - set(ids)):
                if not self._rows(conn, _STILL_OPEN, (self._key(old),)):
                    self._rows(conn, _SET_STATUS, ("archived", self._key(old)))
            if moves:
                self._regrid(conn, infos, moves, actor)
        return made

    def _end_publication(self, conn: Any, community: str, when: dt.datetime) -> set[str]:
        """End the publication in force in ``community`` at ``when``; the plan it was of."""
        rows = self._rows(conn, _OPEN_PUBLICATION, (community,))
        if not rows:
            return set()
        current = rows[0]
        since = self._time(current["valid_from"])
        if since is not None and since > when:
            raise InputError(
                f"community {community}: plan {current['plan_id']} is in force from "
                f"{since.isoformat()}, after {when.isoformat()}; "
                "a publication cannot start before the one it replaces"
            )
        key = self._ROW_KEY
        self._rows(
            conn,
            f"UPDATE publications SET valid_to = ? WHERE {key} = ?",
            (self._stamp(when), current[key]),
        )
        return {str(current["plan_id"])}

    def _regrid(
        self, conn: Any, infos: Sequence[PlanInfo], moves: dict[str, str | None], actor: str
    ) -> None:
        """Move incidents to the grids of the plans just published (inside the publish)."""
        owner: dict[str, tuple[str, PlanInfo]] = {}
        for info in infos:
            for row in self._rows(conn, _GRID_COMMUNITIES, (self._key(info.id), info.head)):
                owner[str(row["code"])] = (row["community_code"] or str(row["code"])[:12], info)
        moved = 0
        stamp = now()
        for incident_id in sorted(moves, key=lambda i: (len(i), i)):
            current = self._incident(conn, incident_id, lock=True)
            old, new = current.fields.get("grid_code"), moves[incident_id]
            if old == new:
                continue
            changes: dict[str, Any] = {"grid_code": new}
            where = ""
            if new is not None:
                community, info = owner.get(new, (new[:12], infos[0]))
                changes |= {"community_code": community, "street_code": community[:9] + "000"}
                where = f" (plan {info.id} revision {info.head})"
            status = current.fields.get("status")
            note = f"网格调整 regrid: {old or '—'} → {new or '—'}{where}"
            event = IncidentEvent(current.id, 0, stamp, actor, "regrid", status, status, note)
            self._change_incident(conn, current, changes, event)
            moved += 1
        self._audit(conn, actor, "regrid_incidents", detail={"moved": moved, "asked": len(moves)})

    def archive(self, plan_id: str, *, actor: str) -> PlanInfo:
        """Archive a draft, or end a published plan's publications now."""
        check_actor(actor)
        with self._write() as conn:
            info = self._plan_info(conn, plan_id, lock=True)
            if info.status == "archived":
                raise InputError(f"plan {info.id} is archived already")
            stamp = self._stamp(now())
            self._rows(conn, _END_PLAN, (stamp, stamp, self._key(info.id)))
            self._rows(conn, _SET_STATUS, ("archived", self._key(info.id)))
            detail = {"was": info.status}
            self._audit(conn, actor, "archive", plan_id=info.id, revision=info.head, detail=detail)
            return self._plan_info(conn, info.id)

    def publications(
        self, *, at: dt.datetime | None = None, community: str | None = None
    ) -> list[Publication]:
        """Publications in force at ``at`` (default now), by community."""
        stamp = self._stamp(now() if at is None else aware(at, "at"))
        conds, args = _equal(community_code=community)
        return self._publications([_IN_FORCE, *conds], [stamp, stamp, *args], "community_code")

    def publication_history(self, community: str | None = None) -> list[Publication]:
        """Every publication ever made, oldest first."""
        conds, args = _equal(community_code=community)
        return self._publications(conds, args, "valid_from")

    def _publications(self, conds: list[str], args: list[Any], order: str) -> list[Publication]:
        query = f"SELECT * FROM publications{_where(conds)} ORDER BY {order}, "
        with self._read() as conn:
            rows = self._rows(conn, query + self._ROW_KEY, args)
        return [
            Publication(
                community_code=r["community_code"],
                plan_id=str(r["plan_id"]),
                revision=int(r["revision"]),
                valid_from=self._time(r["valid_from"]),  # type: ignore[arg-type]
                valid_to=self._time(r["valid_to"]),
                published_by=r["published_by"],
            )
            for r in rows
        ]

    # --- staff ---------------------------------------------------------------------------------

    def assign_staff(self, staff_id: str, grid_code: str, role: str, *, actor: str) -> None:
        """Give a person a role in a grid (idempotent); NotFoundError for an unknown staff id."""
        check_actor(actor)
        with self._write() as conn:
            self._staff_row(conn, staff_id)
            self._rows(conn, self._ASSIGN, (staff_id, grid_code, role, self._stamp(now()), actor))
            detail = {"staff_id": staff_id, "grid_code": grid_code, "role": role}
            self._audit(conn, actor, "assign_staff", detail=detail)

    def unassign_staff(self, staff_id: str, grid_code: str, role: str, *, actor: str) -> None:
        """Take the role away; NotFoundError when the person did not hold it."""
        check_actor(actor)
        with self._write() as conn:
            if self._count(conn, _UNASSIGN, (staff_id, grid_code, role)) == 0:
                raise NotFoundError(f"staff {staff_id} holds no role {role!r} in grid {grid_code}")
            detail = {"staff_id": staff_id, "grid_code": grid_code, "role": role}
            self._audit(conn, actor, "unassign_staff", detail=detail)

    def staff_assignments(
        self, *, grid_code: str | None = None, staff_id: str | None = None
    ) -> list[StaffAssignment]:
        """Assignments, optionally of one grid or one person, in the order they were made."""
        conds, args = _equal(grid_code=grid_code, staff_id=staff_id)
        query = f"{_ASSIGNMENTS}{_where(conds)} ORDER BY {self._ROW_KEY}"
        with self._read() as conn:
            rows = self._rows(conn, query, args)
        return [
            StaffAssignment(
                r["staff_id"],
                r["grid_code"],
                r["role"],
                self._time(r["assigned_at"]),  # type: ignore[arg-type]
                r["assigned_by"],
            )
            for r in rows
        ]

    def staff_member(self, staff_id: str) -> dict[str, Any]:
        """One row of the staff layer as a dict (``id`` and :data:`STAFF_FIELDS`), with its
        ``etag``; NotFoundError for an unknown id."""
        with self._read() as conn:
            return self._staff_row(conn, staff_id)

    def update_staff(
        self, staff_id: str, etag: str, changes: Mapping[str, Any], *, actor: str
    ) -> dict[str, Any]:
        """Change one person's fields if the row is still as read (``etag``).

        The row is read, compared and written in one write transaction (row-locked in
        PostgreSQL; SQLite's write lock in a GeoPackage), so of two changes from the same read
        one wins and the other gets :class:`StaleStaffError` with the winner's row; changes
        of different people never touch each other's rows.
        """
        check_actor(actor)
        unknown = sorted(set(changes) - set(STAFF_FIELDS))
        if unknown:
            raise InputError(f"staff: unknown field(s) {', '.join(unknown)}")
        with self._write() as conn:
            current = self._staff_row(conn, staff_id, lock=True)
            if current["etag"] == etag:
                values = {k: None if v is None else str(v) for k, v in changes.items()}
                sets = ", ".join(f'"{k}" = ?' for k in values)
                if sets:
                    self._rows(
                        conn, f"UPDATE staff SET {sets} WHERE id = ?", [*values.values(), staff_id]
                    )
                detail = {"staff_id": staff_id, "fields": sorted(values)}
                self._audit(conn, actor, "update_staff", detail=detail)
                return self._staff_row(conn, staff_id)
        self._audit_alone(
            actor, "update_staff", "conflict", detail={"staff_id": staff_id, "etag": etag}
        )
        raise StaleStaffError(staff_id, current)

    def remove_staff(self, staff_id: str, etag: str, *, actor: str) -> None:
        """Remove a person, if still as read (``etag``), and every role they held."""
        check_actor(actor)
        with self._write() as conn:
            current = self._staff_row(conn, staff_id, lock=True)
            if current["etag"] == etag:
                self._rows(conn, "DELETE FROM staff_assignments WHERE staff_id = ?", (staff_id,))
                self._rows(conn, "DELETE FROM staff WHERE id = ?", (staff_id,))
                self._audit(conn, actor, "remove_staff", detail={"staff_id": staff_id})
                return
        self._audit_alone(
            actor, "remove_staff", "conflict", detail={"staff_id": staff_id, "etag": etag}
        )
        raise StaleStaffError(staff_id, current)

    def _staff_row(self, conn: Any, staff_id: str, *, lock: bool = False) -> dict[str, Any]:
        query = _STAFF_ROW + " WHERE id = ?" + (self._FOR_UPDATE if lock else "")
        rows = self._staff_rows(conn, query, (str(staff_id),))
        if not rows:
            raise NotFoundError(f"{self._where}: no staff {staff_id!r} in the staff layer")
        row = {k: rows[0][k] for k in ("id", *STAFF_FIELDS)}
        return {**row, "etag": staff_etag(row)}

    def _staff_rows(self, conn: Any, query: str, args: Sequence[Any]) -> list[dict[str, Any]]:
        """Rows of the staff layer (a GeoPackage has no staff table until one is written)."""
        return self._rows(conn, query, args)

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
        with self._write() as conn:
            incident_id = self._insert_incident(conn, self._stored(values), stamp)
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
        bbox: tuple[float, float, float, float] | None = None,
    ) -> list[Incident]:
        """Incidents matching every filter given (created in [since, until)), oldest first."""
        from gridmap.store.common import check_bbox

        conds, args = _equal(grid_code=grid_code, status=status, category=category)
        if since is not None:
            conds.append("created_at >= ?")
            args.append(self._stamp(aware(since, "since")))
        if until is not None:
            conds.append("created_at < ?")
            args.append(self._stamp(aware(until, "until")))
        box = check_bbox(bbox)
        if box is not None:
            conds.append(self._INCIDENT_BBOX)
            args.extend(box)
        query = f"SELECT * FROM incidents{_where(conds)} ORDER BY {self._INCIDENT_ORDER}"
        with self._read() as conn:
            return [self._incident_of(row) for row in self._rows(conn, query, args)]

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
        with self._write() as conn:
            current = self._incident(conn, incident_id, lock=True)
            if current.version == expected_version:
                self._change_incident(conn, current, values, event)
                detail = {"incident": current.id, "version": current.version + 1}
                self._audit(conn, actor, "update_incident", detail=detail)
                return self._incident(conn, current.id)
        detail = {"incident": current.id, "expected": expected_version, "current": current.version}
        self._audit_alone(actor, "update_incident", "conflict", detail=detail)
        raise StaleVersionError(current.id, expected_version, current)

    def incident_events(self, incident_id: str) -> list[IncidentEvent]:
        """An incident's events, first first."""
        with self._read() as conn:
            found = self._incident(conn, incident_id)
            rows = self._rows(conn, _EVENTS, (self._key(found.id),))
        return [
            IncidentEvent(
                str(r["incident_id"]),
                int(r["seq"]),
                self._time(r["at"]),  # type: ignore[arg-type]
                r["actor"],
                r["action"],
                r["from_status"],
                r["to_status"],
                r["note"],
            )
            for r in rows
        ]

    def _change_incident(
        self, conn: Any, current: Incident, values: Mapping[str, Any], event: IncidentEvent
    ) -> None:
        stored = self._stored(values)
        sets = "".join(f'"{k}" = ?, ' for k in stored)
        self._rows(
            conn,
            f"UPDATE incidents SET {sets}version = version + 1, updated_at = ? WHERE id = ?",
            [*stored.values(), self._stamp(now()), self._key(current.id)],
        )
        if {"lon", "lat"} & set(values):
            self._incident_moved(conn, current.id)
        self._add_event(conn, current.id, event)

    def _stored(self, values: Mapping[str, Any]) -> dict[str, Any]:
        out = dict(values)
        if out.get("deadline") is not None:
            out["deadline"] = self._stamp(out["deadline"])
        return out

    def _incident(self, conn: Any, incident_id: str, *, lock: bool = False) -> Incident:
        key = self._key(incident_id)
        rows = []
        if key is not None:
            query = "SELECT * FROM incidents WHERE id = ?" + (self._FOR_UPDATE if lock else "")
            rows = self._rows(conn, query, (key,))
        if not rows:
            raise NotFoundError(f"{self._where}: no incident {incident_id}")
        return self._incident_of(rows[0])

    def _incident_of(self, row: Mapping[str, Any]) -> Incident:
        fields = {key: row[key] for key in INCIDENT_FIELDS}
        fields["deadline"] = self._time(fields["deadline"])
        return Incident(
            id=str(row["id"]),
            version=int(row["version"]),
            created_at=self._time(row["created_at"]),  # type: ignore[arg-type]
            updated_at=self._time(row["updated_at"]),  # type: ignore[arg-type]
            fields=fields,
        )

    def _add_event(self, conn: Any, incident_id: str, event: IncidentEvent) -> None:
        key = self._key(incident_id)
        self._rows(
            conn,
            _EVENT,
            (
                key,
                key,
                self._stamp(aware(event.at, "event.at")),
                event.actor,
                event.action,
                event.from_status,
                event.to_status,
                event.note,
            ),
        )

    # --- users ---------------------------------------------------------------------------------

    def add_user(self, name: str, role: str, password_hash: str, *, actor: str) -> User:
        """A new user; ConflictError when the name is taken."""
        check_actor(actor)
        check_user(name, role)
        with self._write() as conn:
            if self._rows(
                conn, "SELECT name FROM users WHERE name = ?" + self._FOR_UPDATE, (name,)
            ):
                raise ConflictError(f"{self._where}: there is a user called {name!r} already")
            self._rows(conn, _INSERT_USER, (name, role, password_hash, self._stamp(now()), True))
            self._audit(conn, actor, "add_user", detail={"name": name, "role": role})
            return self._user(conn, name)

    def user(self, name: str) -> User:
        """One user."""
        with self._read() as conn:
            return self._user(conn, name)

    def users(self) -> list[User]:
        """All users, by name."""
        with self._read() as conn:
            return [self._user_of(r) for r in self._rows(conn, "SELECT * FROM users ORDER BY name")]

    def _user(self, conn: Any, name: str) -> User:
        rows = self._rows(conn, "SELECT * FROM users WHERE name = ?", (name,))
        if not rows:
            raise NotFoundError(f"{self._where}: no user {name!r}")
        return self._user_of(rows[0])

    def _user_of(self, row: Mapping[str, Any]) -> User:
        return User(
            row["name"],
            row["role"],
            row["password_hash"],
            self._time(row["created_at"]),  # type: ignore[arg-type]
            bool(row["active"]),
        )


def _equal(**given: str | None) -> tuple[list[str], list[Any]]:
    """``name = ?`` conditions for the filters given (names are this module's, not input)."""
    used = {k: v for k, v in given.items() if v is not None}
    return [f'"{k}" = ?' for k in used], list(used.values())


def _where(conds: list[str]) -> str:
    return " WHERE " + " AND ".join(conds) if conds else ""


def _incident_moves(given: Mapping[str, str | None] | None) -> dict[str, str | None]:
    """``incident_grids`` of a publish, checked: incident id → new grid code or None."""
    if given is None:
        return {}
    if not isinstance(given, Mapping):
        raise InputError(
            f"incident_grids: expected a mapping of incident id to grid, got {given!r}"
        )
    moves: dict[str, str | None] = {}
    for incident_id, grid in given.items():
        if grid is not None and not (isinstance(grid, str) and grid.strip()):
            raise InputError(f"incident_grids: incident {incident_id}: bad grid code {grid!r}")
        moves[str(incident_id)] = grid
    return moves
