"""Staff, incidents, users and the audit log: what both engines do the same way.

Functions over a :class:`~gridmap.store.base.StoreBase` (whose methods of the same names call
them): portable SQL through the store's hooks, one write transaction per mutating call. A
change that names an older version (an incident's ``version``, a person's ``etag``) is checked
inside that transaction, so the database, not a process, decides which of two racing writers
wins; the loser's attempt is audited as a conflict in a transaction of its own.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from gridmap.cases.workflow import duties_of
from gridmap.errors import ConflictError, InputError, NotFoundError
from gridmap.store.common import (
    STAFF_FIELDS,
    aware,
    check_actor,
    check_bbox,
    check_department_code,
    check_new_user_name,
    check_user,
    incident_values,
    now,
    staff_etag,
)
from gridmap.store.contract import (
    INCIDENT_FIELDS,
    INCIDENT_TIMES,
    SUBSIDY_RULE_FIELDS,
    AuditEntry,
    Incident,
    IncidentEvent,
    StaffAssignment,
    StaleStaffError,
    StaleVersionError,
    User,
)

if TYPE_CHECKING:
    from gridmap.store.base import StoreBase


__all__ = [
    "add_incident",
    "add_user",
    "assign_staff",
    "audit",
    "change_incident",
    "check_scope",
    "check_subsidy_rules",
    "delete_user",
    "equal",
    "events_of_incidents",
    "forget_sign_in_failures",
    "incident",
    "incident_events",
    "incidents",
    "read_incident",
    "record_sign_in_failure",
    "remove_staff",
    "row_by_id",
    "set_subsidy_rules",
    "sign_in_failures",
    "staff_assignments",
    "staff_member",
    "subsidy_rules",
    "unassign_staff",
    "update_incident",
    "update_staff",
    "update_user",
    "user",
    "users",
    "where",
]

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
    "INSERT INTO users (name, role, password_hash, created_at, active, scope, duties, department)"
    " VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
)


def audit(
    store: StoreBase, *, plan_id: str | None = None, since: dt.datetime | None = None
) -> list[AuditEntry]:
    """The audit log, oldest first."""
    conds, args = equal(plan_id=None if plan_id is None else str(plan_id))
    if since is not None:
        conds.append("at >= ?")
        args.append(store._stamp(aware(since, "since")))
    with store._read() as conn:
        rows = store._rows(conn, f"SELECT * FROM audit_log{where(conds)} ORDER BY seq", args)
    return [
        AuditEntry(
            int(r["seq"]),
            store._time(r["at"]),  # type: ignore[arg-type]
            r["actor"],
            r["action"],
            r["outcome"],
            r["plan_id"],
            None if r["revision"] is None else int(r["revision"]),
            store._json(r["detail"]),
        )
        for r in rows
    ]


# --- staff ---------------------------------------------------------------------------------------


def assign_staff(store: StoreBase, staff_id: str, grid_code: str, role: str, *, actor: str) -> None:
    """Give a person a role in a grid (idempotent); NotFoundError for an unknown staff id."""
    check_actor(actor)
    with store._write() as conn:
        _staff_row(store, conn, staff_id)
        store._rows(conn, store._ASSIGN, (staff_id, grid_code, role, store._stamp(now()), actor))
        detail = {"staff_id": staff_id, "grid_code": grid_code, "role": role}
        store._audit(conn, actor, "assign_staff", detail=detail)


def unassign_staff(
    store: StoreBase, staff_id: str, grid_code: str, role: str, *, actor: str
) -> None:
    """Take the role away; NotFoundError when the person did not hold it."""
    check_actor(actor)
    with store._write() as conn:
        if store._count(conn, _UNASSIGN, (staff_id, grid_code, role)) == 0:
            raise NotFoundError(f"staff {staff_id} holds no role {role!r} in grid {grid_code}")
        detail = {"staff_id": staff_id, "grid_code": grid_code, "role": role}
        store._audit(conn, actor, "unassign_staff", detail=detail)


def staff_assignments(
    store: StoreBase, *, grid_code: str | None = None, staff_id: str | None = None
) -> list[StaffAssignment]:
    """Assignments, optionally of one grid or one person, in the order they were made."""
    conds, args = equal(grid_code=grid_code, staff_id=staff_id)
    query = f"{_ASSIGNMENTS}{where(conds)} ORDER BY {store._ROW_KEY}"
    with store._read() as conn:
        rows = store._rows(conn, query, args)
    return [
        StaffAssignment(
            r["staff_id"],
            r["grid_code"],
            r["role"],
            store._time(r["assigned_at"]),  # type: ignore[arg-type]
            r["assigned_by"],
        )
        for r in rows
    ]


def staff_member(store: StoreBase, staff_id: str) -> dict[str, Any]:
    """One row of the staff layer as a dict (``id`` and :data:`STAFF_FIELDS`), with its
    ``etag``; NotFoundError for an unknown id."""
    with store._read() as conn:
        return _staff_row(store, conn, staff_id)


def update_staff(
    store: StoreBase, staff_id: str, etag: str, changes: Mapping[str, Any], *, actor: str
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
    with store._write() as conn:
        current = _staff_row(store, conn, staff_id, lock=True)
        if current["etag"] == etag:
            values = {k: None if v is None else str(v) for k, v in changes.items()}
            sets = ", ".join(f'"{k}" = ?' for k in values)
            if sets:
                store._rows(
                    conn, f"UPDATE staff SET {sets} WHERE id = ?", [*values.values(), staff_id]
                )
            detail = {"staff_id": staff_id, "fields": sorted(values)}
            store._audit(conn, actor, "update_staff", detail=detail)
            return _staff_row(store, conn, staff_id)
    store._audit_alone(
        actor, "update_staff", "conflict", detail={"staff_id": staff_id, "etag": etag}
    )
    raise StaleStaffError(staff_id, current)


def remove_staff(store: StoreBase, staff_id: str, etag: str, *, actor: str) -> None:
    """Remove a person, if still as read (``etag``), and every role they held."""
    check_actor(actor)
    with store._write() as conn:
        current = _staff_row(store, conn, staff_id, lock=True)
        if current["etag"] == etag:
            store._rows(conn, "DELETE FROM staff_assignments WHERE staff_id = ?", (staff_id,))
            store._rows(conn, "DELETE FROM staff WHERE id = ?", (staff_id,))
            store._audit(conn, actor, "remove_staff", detail={"staff_id": staff_id})
            return
    store._audit_alone(
        actor, "remove_staff", "conflict", detail={"staff_id": staff_id, "etag": etag}
    )
    raise StaleStaffError(staff_id, current)


def _staff_row(store: StoreBase, conn: Any, staff_id: str, *, lock: bool = False) -> dict[str, Any]:
    query = _STAFF_ROW + " WHERE id = ?" + (store._FOR_UPDATE if lock else "")
    rows = store._staff_rows(conn, query, (str(staff_id),))
    if not rows:
        raise NotFoundError(f"no staff {staff_id!r} in the staff layer", where=store._where)
    row = {k: rows[0][k] for k in ("id", *STAFF_FIELDS)}
    return {**row, "etag": staff_etag(row)}


# --- incidents -----------------------------------------------------------------------------------


def add_incident(
    store: StoreBase, fields: Mapping[str, Any], *, actor: str, event: IncidentEvent | None = None
) -> Incident:
    """Store a new incident (id assigned by the store) and its first event."""
    check_actor(actor)
    values = incident_values(fields)
    if event is not None:
        aware(event.at, "event.at")
    stamp = now()
    with store._write() as conn:
        incident_id = store._insert_incident(conn, _stored(store, values), stamp)
        first = event or IncidentEvent(
            incident_id, 1, stamp, actor, "report", None, values.get("status")
        )
        _add_event(store, conn, incident_id, first)
        store._audit(conn, actor, "add_incident", detail={"incident": incident_id})
        return read_incident(store, conn, incident_id)


def incident(store: StoreBase, incident_id: str) -> Incident:
    """One incident."""
    with store._read() as conn:
        return read_incident(store, conn, incident_id)


def incidents(
    store: StoreBase,
    *,
    grid_code: str | None = None,
    status: str | None = None,
    category: str | None = None,
    since: dt.datetime | None = None,
    until: dt.datetime | None = None,
    bbox: tuple[float, float, float, float] | None = None,
) -> list[Incident]:
    """Incidents matching every filter given (created in [since, until)), oldest first."""
    conds, args = equal(grid_code=grid_code, status=status, category=category)
    _created_in(store, conds, args, since, until, "created_at")
    box = check_bbox(bbox)
    if box is not None:
        conds.append(store._INCIDENT_BBOX)
        args.extend(box)
    query = f"SELECT * FROM incidents{where(conds)} ORDER BY {store._INCIDENT_ORDER}"
    with store._read() as conn:
        return [_incident_of(store, row) for row in store._rows(conn, query, args)]


def update_incident(
    store: StoreBase,
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
    with store._write() as conn:
        current = read_incident(store, conn, incident_id, lock=True)
        if current.version == expected_version:
            change_incident(store, conn, current, values, event)
            detail = {"incident": current.id, "version": current.version + 1}
            store._audit(conn, actor, "update_incident", detail=detail)
            return read_incident(store, conn, current.id)
    detail = {"incident": current.id, "expected": expected_version, "current": current.version}
    store._audit_alone(actor, "update_incident", "conflict", detail=detail)
    raise StaleVersionError(current.id, expected_version, current)


def incident_events(store: StoreBase, incident_id: str) -> list[IncidentEvent]:
    """An incident's events, first first."""
    with store._read() as conn:
        found = read_incident(store, conn, incident_id)
        rows = store._rows(conn, _EVENTS, (store._key(found.id),))
    return [_event_of(store, r) for r in rows]


def events_of_incidents(
    store: StoreBase, *, since: dt.datetime | None = None, until: dt.datetime | None = None
) -> list[IncidentEvent]:
    """The events of every incident created in [since, until), grouped by incident, each
    incident's in seq order: one query, for the assessment."""
    conds: list[str] = []
    args: list[Any] = []
    _created_in(store, conds, args, since, until, "i.created_at")
    query = (
        "SELECT e.* FROM incident_events e JOIN incidents i ON i.id = e.incident_id"
        f"{where(conds)} ORDER BY e.incident_id, e.seq"
    )
    with store._read() as conn:
        return [_event_of(store, r) for r in store._rows(conn, query, args)]


def _created_in(
    store: StoreBase,
    conds: list[str],
    args: list[Any],
    since: dt.datetime | None,
    until: dt.datetime | None,
    column: str,
) -> None:
    """Add the conditions "``column`` in [since, until)" (``column`` is this module's)."""
    if since is not None:
        conds.append(f"{column} >= ?")
        args.append(store._stamp(aware(since, "since")))
    if until is not None:
        conds.append(f"{column} < ?")
        args.append(store._stamp(aware(until, "until")))


def _event_of(store: StoreBase, r: Mapping[str, Any]) -> IncidentEvent:
    return IncidentEvent(
        str(r["incident_id"]),
        int(r["seq"]),
        store._time(r["at"]),  # type: ignore[arg-type]
        r["actor"],
        r["action"],
        r["from_status"],
        r["to_status"],
        r["note"],
    )


def change_incident(
    store: StoreBase, conn: Any, current: Incident, values: Mapping[str, Any], event: IncidentEvent
) -> None:
    stored = _stored(store, values)
    sets = "".join(f'"{k}" = ?, ' for k in stored)
    store._rows(
        conn,
        f"UPDATE incidents SET {sets}version = version + 1, updated_at = ? WHERE id = ?",
        [*stored.values(), store._stamp(now()), store._key(current.id)],
    )
    if {"lon", "lat"} & set(values):
        store._incident_moved(conn, current.id)
    _add_event(store, conn, current.id, event)


def _stored(store: StoreBase, values: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(values)
    for key in INCIDENT_TIMES:
        if out.get(key) is not None:
            out[key] = store._stamp(out[key])
    return out


def read_incident(store: StoreBase, conn: Any, incident_id: str, *, lock: bool = False) -> Incident:
    return _incident_of(store, row_by_id(store, conn, "incidents", incident_id, lock=lock))


def row_by_id(
    store: StoreBase, conn: Any, table: str, item_id: str, *, lock: bool = False
) -> dict[str, Any]:
    """The row of ``table`` (incidents, jobs: this package's names) whose id is ``item_id``,
    row-locked with ``lock``; NotFoundError ("no incident 9") when there is none."""
    key = store._key(item_id)
    rows = []
    if key is not None:
        query = f"SELECT * FROM {table} WHERE id = ?" + (store._FOR_UPDATE if lock else "")
        rows = store._rows(conn, query, (key,))
    if not rows:
        raise NotFoundError(f"no {table.removesuffix('s')} {item_id}", where=store._where)
    return rows[0]


def _incident_of(store: StoreBase, row: Mapping[str, Any]) -> Incident:
    fields = {key: row[key] for key in INCIDENT_FIELDS}
    for key in INCIDENT_TIMES:
        fields[key] = store._time(fields[key])
    if fields["satisfaction"] is not None:
        fields["satisfaction"] = int(fields["satisfaction"])
    if fields["extension_hours"] is not None:
        fields["extension_hours"] = float(fields["extension_hours"])
    return Incident(
        id=str(row["id"]),
        version=int(row["version"]),
        created_at=store._time(row["created_at"]),  # type: ignore[arg-type]
        updated_at=store._time(row["updated_at"]),  # type: ignore[arg-type]
        fields=fields,
    )


def _add_event(store: StoreBase, conn: Any, incident_id: str, event: IncidentEvent) -> None:
    key = store._key(incident_id)
    store._rows(
        conn,
        _EVENT,
        (
            key,
            key,
            store._stamp(aware(event.at, "event.at")),
            event.actor,
            event.action,
            event.from_status,
            event.to_status,
            event.note,
        ),
    )


# --- users ---------------------------------------------------------------------------------------


def add_user(
    store: StoreBase,
    name: str,
    role: str,
    password_hash: str,
    *,
    actor: str,
    scope: Sequence[str] = (),
    duties: Sequence[str] = (),
    department: str | None = None,
) -> User:
    """A new user; ConflictError when the name is taken."""
    check_actor(actor)
    check_user(name, role)
    check_new_user_name(name)
    jobs = duties_of(duties)
    dept = None if not department else check_department_code(department)
    with store._write() as conn:
        if store._rows(conn, "SELECT name FROM users WHERE name = ?" + store._FOR_UPDATE, (name,)):
            raise ConflictError(f"{store._where}: there is a user called {name!r} already")
        codes = check_scope(scope)
        row = (name, role, password_hash, store._stamp(now()), True, json.dumps(codes))
        store._rows(conn, _INSERT_USER, (*row, json.dumps(jobs), dept))
        detail = {"name": name, "role": role, "scope": codes, "duties": jobs, "department": dept}
        store._audit(conn, actor, "add_user", detail=detail)
        return _user(store, conn, name)


_SET_ROLE = "UPDATE users SET role = ? WHERE name = ?"
_SET_ACTIVE = "UPDATE users SET active = ? WHERE name = ?"
_SET_HASH = "UPDATE users SET password_hash = ? WHERE name = ?"
_SET_SCOPE = "UPDATE users SET scope = ? WHERE name = ?"
_SET_DUTIES = "UPDATE users SET duties = ? WHERE name = ?"
_SET_DEPARTMENT = "UPDATE users SET department = ? WHERE name = ?"
_DELETE_USER = "DELETE FROM users WHERE name = ?"
_ACTIVE_ADMINS = "SELECT name FROM users WHERE role = 'admin' AND active = ?"


def update_user(
    store: StoreBase,
    name: str,
    *,
    actor: str,
    role: str | None = None,
    active: bool | None = None,
    password_hash: str | None = None,
    scope: Sequence[str] | None = None,
    duties: Sequence[str] | None = None,
    department: str | None = None,
) -> User:
    """Change a user's role, disable or enable them, set a new password hash, their scope,
    workflow roles (``duties``) or ``department`` ("" clears it); audited (never the hash).
    ConflictError when it would leave no active admin."""
    check_actor(actor)
    if role is not None:
        check_user(name, role)
    given = (role, active, password_hash, scope, duties, department)
    if all(v is None for v in given):
        raise InputError(
            f"user {name!r}: nothing to change (give a role, active, a password, a scope, "
            "duties or a department)"
        )
    jobs = None if duties is None else duties_of(duties)
    dept = department if not department else check_department_code(department)
    with store._write() as conn:
        before = _user(store, conn, name, lock=True)
        demoted = (role is not None and role != "admin") or active is False
        if before.role == "admin" and before.active and demoted:
            _keep_an_admin(store, conn, name)
        changed: dict[str, Any] = {"name": name}
        if role is not None:
            store._rows(conn, _SET_ROLE, (role, name))
            changed["role"] = [before.role, role]
        if active is not None:
            store._rows(conn, _SET_ACTIVE, (bool(active), name))
            changed["active"] = [before.active, bool(active)]
        if password_hash is not None:
            store._rows(conn, _SET_HASH, (password_hash, name))
            changed["password"] = "reset"
        if scope is not None:
            codes = check_scope(scope)
            store._rows(conn, _SET_SCOPE, (json.dumps(codes), name))
            changed["scope"] = [list(before.scope), codes]
        if jobs is not None:
            store._rows(conn, _SET_DUTIES, (json.dumps(jobs), name))
            changed["duties"] = [list(before.duties), jobs]
        if dept is not None:
            store._rows(conn, _SET_DEPARTMENT, (dept or None, name))
            changed["department"] = [before.department, dept or None]
        store._audit(conn, actor, "update_user", detail=changed)
        return _user(store, conn, name)


def delete_user(store: StoreBase, name: str, *, actor: str) -> None:
    """Remove a user (their audit entries stay); ConflictError for the last active admin."""
    check_actor(actor)
    with store._write() as conn:
        before = _user(store, conn, name, lock=True)
        if before.role == "admin" and before.active:
            _keep_an_admin(store, conn, name)
        store._rows(conn, _DELETE_USER, (name,))
        store._audit(conn, actor, "delete_user", detail={"name": name, "role": before.role})


def _keep_an_admin(store: StoreBase, conn: Any, name: str) -> None:
    others = [r["name"] for r in store._rows(conn, _ACTIVE_ADMINS, (True,)) if r["name"] != name]
    if not others:
        raise ConflictError(f"user {name!r} is the last active admin: add another admin first")


# --- failed sign-ins ------------------------------------------------------------------------------

_ADD_FAILURE = "INSERT INTO sign_in_failures (name, at) VALUES (?, ?)"
_FAILURES_SINCE = "SELECT at FROM sign_in_failures WHERE name = ? AND at >= ? ORDER BY at"
_FORGET_FAILURES = "DELETE FROM sign_in_failures WHERE name = ?"
_EXPIRE_FAILURES = "DELETE FROM sign_in_failures WHERE at < ?"


def record_sign_in_failure(store: StoreBase, name: str, *, keep_since: dt.datetime) -> None:
    """Remember a wrong password for ``name`` now; forget every failure before ``keep_since``."""
    with store._write() as conn:
        store._rows(conn, _EXPIRE_FAILURES, (store._stamp(keep_since),))
        store._rows(conn, _ADD_FAILURE, (name, store._stamp(now())))


def sign_in_failures(store: StoreBase, name: str, since: dt.datetime) -> list[dt.datetime]:
    """The times of the wrong passwords for ``name`` since ``since``, oldest first."""
    with store._read() as conn:
        rows = store._rows(conn, _FAILURES_SINCE, (name, store._stamp(since)))
    return [store._time(r["at"]) for r in rows]  # type: ignore[misc]


def forget_sign_in_failures(store: StoreBase, name: str) -> None:
    """Forget ``name``'s wrong passwords (after a right one)."""
    with store._write() as conn:
        store._rows(conn, _FORGET_FAILURES, (name,))


# --- subsidy rules -------------------------------------------------------------------------------

_RULES_NAME = "default"
_READ_RULES = "SELECT * FROM subsidy_rules WHERE name = ?"
_DROP_RULES = "DELETE FROM subsidy_rules WHERE name = ?"
_INSERT_RULES = (
    f"INSERT INTO subsidy_rules (name, {', '.join(SUBSIDY_RULE_FIELDS)}, updated_at, updated_by)"
    f" VALUES (?, {', '.join('?' * len(SUBSIDY_RULE_FIELDS))}, ?, ?)"
)


def subsidy_rules(store: StoreBase) -> dict[str, Any] | None:
    """The subsidy rules in force, or None when no admin has set any."""
    with store._read() as conn:
        rows = store._rows(conn, _READ_RULES, (_RULES_NAME,))
    return _rules_of(store, rows[0]) if rows else None


def set_subsidy_rules(store: StoreBase, rules: Mapping[str, Any], *, actor: str) -> dict[str, Any]:
    """Replace the subsidy rules in force with ``rules`` (every field of
    :data:`SUBSIDY_RULE_FIELDS`), in one audited transaction."""
    check_actor(actor)
    values = check_subsidy_rules(rules)
    with store._write() as conn:
        store._rows(conn, _DROP_RULES, (_RULES_NAME,))
        row = (_RULES_NAME, *values.values(), store._stamp(now()), actor)
        store._rows(conn, _INSERT_RULES, row)
        store._audit(conn, actor, "set_subsidy_rules", detail=values)
        return _rules_of(store, store._rows(conn, _READ_RULES, (_RULES_NAME,))[0])


def check_subsidy_rules(rules: Mapping[str, Any]) -> dict[str, Any]:
    """The rules as stored: amounts ≥ 0 in yuan, a share in [0, 1], a flag.

    >>> check_subsidy_rules({"base_yuan": 100, "assessed_yuan": 100, "full_share": 0.9,
    ...     "pro_rata": True, "reopened_deduction_yuan": 10})["full_share"]
    0.9
    """
    missing = [k for k in SUBSIDY_RULE_FIELDS if k not in rules]
    unknown = sorted(set(rules) - set(SUBSIDY_RULE_FIELDS))
    if missing or unknown:
        raise InputError(
            f"subsidy rules: missing {', '.join(missing) or 'nothing'}, unknown "
            f"{', '.join(unknown) or 'nothing'}; give {', '.join(SUBSIDY_RULE_FIELDS)}"
        )
    values: dict[str, Any] = {}
    for key in SUBSIDY_RULE_FIELDS:
        value = rules[key]
        if key == "pro_rata":
            if not isinstance(value, bool):
                raise InputError(f"subsidy rules: pro_rata must be true or false, got {value!r}")
            values[key] = value
            continue
        if isinstance(value, bool) or not isinstance(value, int | float) or value != value:
            raise InputError(f"subsidy rules: {key} must be a number, got {value!r}")
        top = 1.0 if key == "full_share" else 1e9
        if not 0 <= value <= top:
            raise InputError(f"subsidy rules: {key}={value!r} must lie in [0, {top:g}]")
        values[key] = float(value)
    return values


def _rules_of(store: StoreBase, row: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {k: float(row[k]) for k in SUBSIDY_RULE_FIELDS if k != "pro_rata"}
    out["pro_rata"] = bool(row["pro_rata"])
    out["updated_at"] = store._time(row["updated_at"])
    out["updated_by"] = row["updated_by"]
    return out


def user(store: StoreBase, name: str) -> User:
    """One user."""
    with store._read() as conn:
        return _user(store, conn, name)


def users(store: StoreBase) -> list[User]:
    """All users, by name."""
    with store._read() as conn:
        return [_user_of(store, r) for r in store._rows(conn, "SELECT * FROM users ORDER BY name")]


def _user(store: StoreBase, conn: Any, name: str, *, lock: bool = False) -> User:
    query = "SELECT * FROM users WHERE name = ?" + (store._FOR_UPDATE if lock else "")
    rows = store._rows(conn, query, (name,))
    if not rows:
        raise NotFoundError(f"no user {name!r}", where=store._where)
    return _user_of(store, rows[0])


def _user_of(store: StoreBase, row: Mapping[str, Any]) -> User:
    return User(
        row["name"],
        row["role"],
        row["password_hash"],
        store._time(row["created_at"]),  # type: ignore[arg-type]
        bool(row["active"]),
        tuple(json.loads(row.get("scope") or "[]")),
        tuple(json.loads(row.get("duties") or "[]")),
        row.get("department") or None,
    )


def check_scope(scope: Sequence[str]) -> list[str]:
    """A scope as stored: 12-digit division codes (district, street or community), sorted.

    >>> check_scope(["500108003000", "500108001002"])
    ['500108001002', '500108003000']
    """
    if isinstance(scope, str):
        raise InputError(f"scope: expected a list of division codes, got the text {scope!r}")
    codes = sorted({str(c).strip() for c in scope})
    bad = [c for c in codes if not (len(c) == 12 and c.isascii() and c.isdigit())]
    if bad:
        raise InputError(
            f"scope: {', '.join(map(repr, bad))} is not a 12-digit division code "
            "(a district 500108000000, a street 500108003000 or a community 500108003002)"
        )
    return codes


def equal(**given: str | None) -> tuple[list[str], list[Any]]:
    """``name = ?`` conditions for the filters given (names are this module's, not input)."""
    used = {k: v for k, v in given.items() if v is not None}
    return [f'"{k}" = ?' for k in used], list(used.values())


def where(conds: list[str]) -> str:
    return " WHERE " + " AND ".join(conds) if conds else ""
