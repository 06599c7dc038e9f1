"""The storage contract, written once: :class:`StoreBase`, which both engines subclass.

:class:`StoreBase` implements every method of :class:`~gridmap.store.contract.Store`: reference
layers and plan lookups here; creating plans and the commit's compare-and-set in
:mod:`gridmap.store.revisions`; publishing in :mod:`gridmap.store.publishing`; staff,
incidents, users and the audit log in :mod:`gridmap.store.records`; incidents' photos and the
departments in :mod:`gridmap.store.case_records`. An engine —
:class:`~gridmap.store.gpkg.store.GpkgStore` (SQLite) or
:class:`~gridmap.store.postgis.store.PostgisStore` (PostgreSQL) — supplies the hooks for what
differs:

- transactions: ``_write()`` (all or nothing, the engine's write lock) and ``_read()`` (one
  snapshot);
- the SQL dialect: ``_rows(conn, query, args)`` runs *portable* SQL (``?`` placeholders,
  unqualified table names) and answers dicts; ``_count`` answers the rows an UPDATE or DELETE
  changed; the few statements that differ are class constants (``_AUDIT_INSERT``, ``_ASSIGN``…);
- values: ``_stamp``/``_time`` (a time as stored and back), ``_key`` (an id as stored: text in a
  GeoPackage, an integer in PostgreSQL), ``_communities``/``_communities_of`` (a plan's
  communities as stored and back);
- locking: ``_FOR_UPDATE`` (a row lock where the engine has one; SQLite's ``BEGIN IMMEDIATE``
  already serialises writers) and ``_lock_names`` (PostgreSQL advisory locks);
- geometry: layers, revision frames, incident points and the grids in force, which each
  engine encodes its own way.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import geopandas as gpd
import pandas as pd

from gridmap.errors import InputError, NotFoundError
from gridmap.schema import LAYERS, RESERVED_LAYERS
from gridmap.store import (
    case_records,
    jobs,
    locks,
    publishing,
    records,
    revisions,
    usage,
)
from gridmap.store import submissions as submitting
from gridmap.store.common import check_actor, check_bbox, now, to_json
from gridmap.store.contract import (
    PLAN_STATUSES,
    AuditEntry,
    BBox,
    GridLock,
    Incident,
    IncidentEvent,
    Job,
    JobState,
    Outcome,
    Photo,
    PlanInfo,
    PlanStatus,
    Publication,
    Revision,
    RevisionInfo,
    StaffAssignment,
    Submission,
    User,
)

__all__ = ["StoreBase"]


class StoreBase:
    """The storage contract over an engine's hooks (see the module's docstring)."""

    _where: str  # where the store is, for messages: a path, host:port/dbname
    _FOR_UPDATE = ""  # appended to a SELECT in a write to lock its rows ("" where writers queue)
    _AUDIT_INSERT = ""  # INSERT INTO audit_log … (how seq is made differs)
    _ASSIGN = ""  # INSERT INTO staff_assignments …, ignoring a row that is there already
    _ROW_KEY = ""  # the key of publications and staff_assignments, in the order made
    _INCIDENT_ORDER = ""  # ORDER BY of incidents: the order they were made in
    _INCIDENT_BBOX = ""  # a condition on incidents with four ? (min lon, min lat, max lon, max lat)
    _SKIP_LOCKED = ""  # appended to the SELECT of a job to claim (a row lock skipping locked rows)
    _NEW_JOB_ID = ""  # the id of a new job in its INSERT … VALUES (an SQL expression)
    _JOB_ORDER = ""  # ORDER BY of jobs: the order they were submitted in

    # --- engine hooks: transactions and SQL ----------------------------------------------------

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

    def _lock_names(self, conn: Any, names: Iterable[str]) -> None:
        """Serialise writers on ``names`` until the transaction ends (in this order)."""

    def close(self) -> None:
        raise NotImplementedError

    # --- engine hooks: values ------------------------------------------------------------------

    def _stamp(self, value: dt.datetime) -> Any:
        """A time as the engine stores it."""
        raise NotImplementedError

    def _time(self, stored: Any) -> dt.datetime | None:
        """A stored time as an aware UTC datetime (None stays None)."""
        raise NotImplementedError

    def _key(self, any_id: object) -> Any:
        """A plan's or incident's id as stored; None when it cannot be one."""
        raise NotImplementedError

    def _communities(self, codes: list[str]) -> Any:
        """A plan's community codes as stored."""
        raise NotImplementedError

    def _communities_of(self, stored: Any) -> list[str]:
        raise NotImplementedError

    @staticmethod
    def _json(stored: Any) -> dict[str, Any]:
        return stored if isinstance(stored, dict) else json.loads(stored or "{}")

    # --- engine hooks: geometry ----------------------------------------------------------------

    def _filled_layers(self, conn: Any) -> list[str]:
        raise NotImplementedError

    def _layer(self, conn: Any, name: str, bbox: BBox | None = None) -> pd.DataFrame:
        raise NotImplementedError

    def _write_layers(
        self, conn: Any, frames: Mapping[str, pd.DataFrame], replace: bool
    ) -> dict[str, int]:
        raise NotImplementedError

    def _stage(self, cells: gpd.GeoDataFrame, grids: gpd.GeoDataFrame) -> Any:
        """A revision's frames checked and encoded (with ``.communities``), before the write."""
        raise NotImplementedError

    def _insert_revision(self, conn: Any, plan_id: str, number: int, staged: Any) -> dict[str, int]:
        """Write a revision's cells and grids (its row in plan_revisions is the caller's)."""
        raise NotImplementedError

    def _copy_revision(self, conn: Any, source: PlanInfo, plan_id: str) -> None:
        """Make revision 1 of ``plan_id`` hold what ``source``'s head holds."""
        raise NotImplementedError

    def _revision_frames(
        self, conn: Any, plan_id: str, number: int
    ) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame]:
        raise NotImplementedError

    def _insert_plan(self, conn: Any, values: dict[str, Any]) -> str:
        """Insert a draft plan at revision 1 (``values`` as stored); answer its new id."""
        raise NotImplementedError

    def _insert_incident(self, conn: Any, values: dict[str, Any], stamp: dt.datetime) -> str:
        """Insert an incident (version 1) and answer its new id."""
        raise NotImplementedError

    def _incident_moved(self, conn: Any, incident_id: str) -> None:
        """The incident's lon/lat changed (a GeoPackage rewrites its point)."""

    def _clock(self, conn: Any) -> dt.datetime:
        """The time job leases are stamped and compared by, in UTC: one clock for every process
        of the store (a GeoPackage's processes share a host, so the host's)."""
        return now()

    def _load_order(self, table: str) -> str:
        """ORDER BY of a store table when it is backed up: the order rows were made in."""
        raise NotImplementedError

    def _overriding(self, table: str) -> str:
        """What an INSERT of a backed-up row needs to keep its generated key ("" or SQL)."""
        return ""

    def _after_load(self, conn: Any) -> None:
        """After a restore: the next generated ids follow the restored ones."""

    def _staff_rows(self, conn: Any, query: str, args: Sequence[Any]) -> list[dict[str, Any]]:
        """Rows of the staff layer (a GeoPackage has no staff table until one is written)."""
        return self._rows(conn, query, args)

    # --- lifetime ------------------------------------------------------------------------------

    def __enter__(self):  # type: ignore[no-untyped-def]
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- reference layers ----------------------------------------------------------------------

    def layers(self) -> list[str]:
        """Names of the reference layers that hold data."""
        with self._read() as conn:
            return self._filled_layers(conn)

    def read(self, name: str, bbox: BBox | None = None) -> pd.DataFrame:
        """A reference layer, filtered by a lon/lat bbox through the spatial index."""
        if name not in LAYERS:
            raise InputError(f"unknown layer {name!r}; the layers are {', '.join(LAYERS)}")
        box = check_bbox(bbox)
        with self._read() as conn:
            return self._layer(conn, name, box)

    def write(
        self, frames: Mapping[str, pd.DataFrame], *, replace: bool = False, actor: str = "system"
    ) -> None:
        """Append (or replace) reference layers, all of them or none, and audit it."""
        check_actor(actor)
        for name in frames:
            if name in RESERVED_LAYERS:
                raise InputError(f"layer {name!r} belongs to the store (plans, incidents…)")
        unknown = [name for name in frames if name not in LAYERS]
        if unknown:
            raise InputError(
                f"unknown layer(s) {', '.join(unknown)}; the layers are {', '.join(LAYERS)}"
            )
        with self._write() as conn:
            counts = self._write_layers(conn, frames, replace)
            self._audit(conn, actor, "write", detail={"rows": counts, "replace": replace})

    # --- plans and revisions -------------------------------------------------------------------

    def create_plan(
        self,
        cells: gpd.GeoDataFrame,
        grids: gpd.GeoDataFrame,
        *,
        name: str,
        params: Mapping[str, Any],
        actor: str,
        operation: str = "partition",
    ) -> RevisionInfo:
        """A new draft plan with ``cells``/``grids`` as revision 1; returns that revision."""
        return revisions.create_plan(
            self, cells, grids, name=name, params=params, actor=actor, operation=operation
        )

    def copy_plan(self, plan_id: str, *, name: str, actor: str) -> RevisionInfo:
        """A new draft whose revision 1 is ``plan_id``'s head (``copied_from`` = plan_id)."""
        return revisions.copy_plan(self, plan_id, name=name, actor=actor)

    def plans(
        self, *, status: PlanStatus | None = None, community: str | None = None
    ) -> list[PlanInfo]:
        """Plans, oldest first, optionally of one status or covering one community."""
        if status is not None and status not in PLAN_STATUSES:
            raise InputError(f"status: {status!r} is not one of {', '.join(PLAN_STATUSES)}")
        with self._read() as conn:
            found = [self._plan_of(row) for row in self._rows(conn, "SELECT * FROM plans")]
        return [
            p
            for p in sorted(found, key=lambda p: _id_order(p.id))
            if (status is None or p.status == status)
            and (community is None or community in p.communities)
        ]

    def plan(self, plan_id: str) -> PlanInfo:
        """One plan."""
        with self._read() as conn:
            return self._plan_info(conn, plan_id)

    def revisions(self, plan_id: str) -> list[RevisionInfo]:
        """A plan's revisions, 1 first."""
        query = "SELECT * FROM plan_revisions WHERE plan_id = ? ORDER BY number"
        with self._read() as conn:
            info = self._plan_info(conn, plan_id)
            return [self._revision_of(r) for r in self._rows(conn, query, (self._key(info.id),))]

    def revision(self, plan_id: str, number: int | None = None) -> Revision:
        """A revision with its cells and grids (None: the head)."""
        with self._read() as conn:
            info = self._plan_info(conn, plan_id)
            found = self._revision_info(conn, info.id, info.head if number is None else number)
            cells, grids = self._revision_frames(conn, info.id, found.number)
        return Revision(found, cells, grids)

    def commit(
        self,
        plan_id: str,
        base: int,
        cells: gpd.GeoDataFrame,
        grids: gpd.GeoDataFrame,
        *,
        actor: str,
        operation: str,
        detail: Mapping[str, Any] | None = None,
    ) -> RevisionInfo:
        """Add revision head+1 made from ``base``, if ``base`` is still the head (the
        compare-and-set of :func:`gridmap.store.revisions.commit`); StaleRevisionError else."""
        return revisions.commit(
            self, plan_id, base, cells, grids, actor=actor, operation=operation, detail=detail
        )

    def _plan_info(self, conn: Any, plan_id: str, *, lock: bool = False) -> PlanInfo:
        key = self._key(plan_id)
        query = "SELECT * FROM plans WHERE id = ?" + (self._FOR_UPDATE if lock else "")
        rows = [] if key is None else self._rows(conn, query, (key,))
        if not rows:
            known = sorted(
                (str(r["id"]) for r in self._rows(conn, "SELECT id FROM plans")), key=_id_order
            )
            shown = ", ".join(known[-20:]) or "none"
            raise NotFoundError(
                f"no plan {plan_id}", where=self._where, hint=f"the plans are: {shown}"
            )
        return self._plan_of(rows[0])

    def _plan_of(self, row: Mapping[str, Any]) -> PlanInfo:
        return PlanInfo(
            id=str(row["id"]),
            name=row["name"],
            status=row["status"],
            communities=tuple(self._communities_of(row["communities"])),
            head=int(row["head"]),
            created_at=self._time(row["created_at"]),  # type: ignore[arg-type]
            created_by=row["created_by"],
            params=self._json(row["params"]),
            copied_from=None if row["copied_from"] is None else str(row["copied_from"]),
        )

    def _revision_info(self, conn: Any, plan_id: str, number: int) -> RevisionInfo:
        query = "SELECT * FROM plan_revisions WHERE plan_id = ? AND number = ?"
        rows = self._rows(conn, query, (self._key(plan_id), int(number)))
        if not rows:
            head = self._plan_info(conn, plan_id).head
            raise NotFoundError(
                f"{self._where}: plan {plan_id} has no revision {number}; it has 1 to {head}"
            )
        return self._revision_of(rows[0])

    def _revision_of(self, row: Mapping[str, Any]) -> RevisionInfo:
        return RevisionInfo(
            plan_id=str(row["plan_id"]),
            number=int(row["number"]),
            base=None if row["base"] is None else int(row["base"]),
            created_at=self._time(row["created_at"]),  # type: ignore[arg-type]
            created_by=row["created_by"],
            operation=row["operation"],
            detail=self._json(row["detail"]),
        )

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
        return records.audit(self, plan_id=plan_id, since=since)

    # --- publishing (gridmap.store.publishing) -------------------------------------------------

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
        return publishing.publish(
            self,
            plan_ids,
            actor=actor,
            at=at,
            expected_heads=expected_heads,
            incident_grids=incident_grids,
        )

    def take_effect(
        self,
        due: Sequence[Publication],
        *,
        actor: str,
        at: dt.datetime,
        incident_grids: Mapping[str, str | None] | None = None,
    ) -> list[Publication]:
        """Mark publications whose date has passed as taken effect, move their incidents
        (:func:`gridmap.store.publishing.take_effect`); once, whoever asks first."""
        return publishing.take_effect(self, due, actor=actor, at=at, incident_grids=incident_grids)

    def archive(self, plan_id: str, *, actor: str) -> PlanInfo:
        """Archive a draft, or end a published plan's publications now."""
        return publishing.archive(self, plan_id, actor=actor)

    # --- grid locks (gridmap.store.locks) ------------------------------------------------------

    def lock_grid(self, plan_id: str, grid_code: str, *, actor: str) -> GridLock:
        """Lock a grid of a draft for ``actor``; ConflictError when another planner holds it."""
        return locks.lock_grid(self, plan_id, grid_code, actor=actor)

    def unlock_grid(self, plan_id: str, grid_code: str, *, actor: str, force: bool = False) -> None:
        """Unlock a grid; ConflictError when another planner holds it and not ``force``."""
        locks.unlock_grid(self, plan_id, grid_code, actor=actor, force=force)

    def grid_locks(self, plan_id: str) -> list[GridLock]:
        """A plan's grid locks, by grid code."""
        return locks.grid_locks(self, plan_id)

    # --- submissions for publication (gridmap.store.submissions) -------------------------------

    def submit_plan(self, plan_id: str, note: str | None, *, actor: str) -> Submission:
        """Submit a draft's head for publication."""
        return submitting.submit_plan(self, plan_id, note, actor=actor)

    def withdraw_submission(self, plan_id: str, *, actor: str, force: bool = False) -> None:
        """Withdraw a submission; ConflictError when another planner made it and not ``force``."""
        submitting.withdraw_submission(self, plan_id, actor=actor, force=force)

    def refuse_submission(self, plan_id: str, reason: str, *, actor: str) -> Submission:
        """Send a submitted draft back with ``reason``."""
        return submitting.refuse_submission(self, plan_id, reason, actor=actor)

    def submissions(self, plan_id: str | None = None) -> list[Submission]:
        """The submissions of one plan or of all."""
        return submitting.submissions(self, plan_id)

    def publications(
        self, *, at: dt.datetime | None = None, community: str | None = None
    ) -> list[Publication]:
        """Publications in force at ``at`` (default now), by community."""
        return publishing.publications(self, at=at, community=community)

    def publication_history(self, community: str | None = None) -> list[Publication]:
        """Every publication ever made, oldest first."""
        return publishing.publication_history(self, community)

    def change_stamp(self) -> tuple[Any, ...]:
        """A cheap fingerprint of what public answers are built from (publications and staff
        assignments): it changes whenever they do, whoever changed them."""
        with self._read() as conn:
            # "started" changes when a publication's effective date passes, with no write.
            pubs = self._rows(conn, _PUBLICATION_STAMP, (self._stamp(now()),))[0]
            staff = self._rows(conn, _STAFF_STAMP)[0]
        return (*pubs.values(), *staff.values())

    # --- staff, incidents, users (gridmap.store.records) ---------------------------------------

    def assign_staff(self, staff_id: str, grid_code: str, role: str, *, actor: str) -> None:
        """Give a person a role in a grid (idempotent); NotFoundError for an unknown staff id."""
        records.assign_staff(self, staff_id, grid_code, role, actor=actor)

    def unassign_staff(self, staff_id: str, grid_code: str, role: str, *, actor: str) -> None:
        """Take the role away; NotFoundError when the person did not hold it."""
        records.unassign_staff(self, staff_id, grid_code, role, actor=actor)

    def staff_assignments(
        self, *, grid_code: str | None = None, staff_id: str | None = None
    ) -> list[StaffAssignment]:
        """Assignments, optionally of one grid or one person, in the order they were made."""
        return records.staff_assignments(self, grid_code=grid_code, staff_id=staff_id)

    def staff_member(self, staff_id: str) -> dict[str, Any]:
        """One person of the staff layer (id and fields) with its ``etag``."""
        return records.staff_member(self, staff_id)

    def update_staff(
        self, staff_id: str, etag: str, changes: Mapping[str, Any], *, actor: str
    ) -> dict[str, Any]:
        """Change a person's fields if still as read (``etag``), else StaleStaffError."""
        return records.update_staff(self, staff_id, etag, changes, actor=actor)

    def remove_staff(self, staff_id: str, etag: str, *, actor: str) -> None:
        """Remove a person and their roles if still as read (``etag``), else StaleStaffError."""
        records.remove_staff(self, staff_id, etag, actor=actor)

    def add_incident(
        self, fields: Mapping[str, Any], *, actor: str, event: IncidentEvent | None = None
    ) -> Incident:
        """Store a new incident (id assigned by the store) and its first event."""
        return records.add_incident(self, fields, actor=actor, event=event)

    def incident(self, incident_id: str) -> Incident:
        """One incident."""
        return records.incident(self, incident_id)

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
        return records.incidents(
            self,
            grid_code=grid_code,
            status=status,
            category=category,
            since=since,
            until=until,
            bbox=bbox,
        )

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
        return records.update_incident(
            self, incident_id, expected_version, changes, actor=actor, event=event
        )

    def incident_events(self, incident_id: str) -> list[IncidentEvent]:
        """An incident's events, first first."""
        return records.incident_events(self, incident_id)

    # --- jobs (gridmap.store.jobs) -------------------------------------------------------------

    def add_job(self, kind: str, params: Mapping[str, Any], *, actor: str) -> Job:
        """Queue a job (id assigned by the store), audited."""
        return jobs.add_job(self, kind, params, actor=actor)

    def job(self, job_id: str) -> Job:
        """One job; NotFoundError for an unknown id."""
        return jobs.job(self, job_id)

    def jobs(self, *, state: JobState | None = None) -> list[Job]:
        """Jobs, oldest first, optionally of one state."""
        return jobs.jobs(self, state=state)

    def claim_job(self, worker: str, *, lease: dt.timedelta, max_attempts: int = 3) -> Job | None:
        """Claim the oldest queued job, or running one whose lease ran out (see the contract)."""
        return jobs.claim_job(self, worker, lease=lease, max_attempts=max_attempts)

    def renew_job(
        self,
        job_id: str,
        lease: str,
        *,
        until: dt.timedelta,
        progress: Mapping[str, Any] | None = None,
    ) -> Job:
        """Extend the claim ``lease`` and save ``progress``; ConflictError once it is lost."""
        return jobs.renew_job(self, job_id, lease, until=until, progress=progress)

    def finish_job(
        self,
        job_id: str,
        lease: str,
        *,
        result: Mapping[str, Any],
        cells: gpd.GeoDataFrame | None = None,
        grids: gpd.GeoDataFrame | None = None,
        name: str | None = None,
        params: Mapping[str, Any] | None = None,
    ) -> Job:
        """Mark the job done, creating its plan in the same transaction (see the contract)."""
        return jobs.finish_job(
            self, job_id, lease, result=result, cells=cells, grids=grids, name=name, params=params
        )

    def fail_job(self, job_id: str, lease: str, error: str) -> Job:
        """Mark the job failed with ``error``; ConflictError once the lease is lost."""
        return jobs.fail_job(self, job_id, lease, error)

    def release_job(self, job_id: str, lease: str) -> Job:
        """Give a claimed job back to the queue; ConflictError once the lease is lost."""
        return jobs.release_job(self, job_id, lease)

    def events_of_incidents(
        self, *, since: dt.datetime | None = None, until: dt.datetime | None = None
    ) -> list[IncidentEvent]:
        """The events of every incident created in [since, until), by incident then seq."""
        return records.events_of_incidents(self, since=since, until=until)

    def subsidy_rules(self) -> dict[str, Any] | None:
        """The subsidy rules in force, or None when none were set."""
        return records.subsidy_rules(self)

    def set_subsidy_rules(self, rules: Mapping[str, Any], *, actor: str) -> dict[str, Any]:
        """Replace the subsidy rules (audited); the rules as stored."""
        return records.set_subsidy_rules(self, rules, actor=actor)

    def add_user(
        self,
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
        return records.add_user(
            self,
            name,
            role,
            password_hash,
            actor=actor,
            scope=scope,
            duties=duties,
            department=department,
        )

    def update_user(
        self,
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
        """Change a user's role, active flag, password hash, scope, duties or department
        (audited); ConflictError when no active admin would be left."""
        return records.update_user(
            self,
            name,
            actor=actor,
            role=role,
            active=active,
            password_hash=password_hash,
            scope=scope,
            duties=duties,
            department=department,
        )

    # --- photos and departments (gridmap.store.case_records) ---------------------------------

    def add_photo(
        self,
        incident_id: str,
        *,
        kind: str,
        content_type: str,
        width: int,
        height: int,
        data: bytes,
        actor: str,
    ) -> Photo:
        """Store a photo of an incident (checked and stripped by the caller); audited."""
        return case_records.add_photo(
            self,
            incident_id,
            kind=kind,
            content_type=content_type,
            width=width,
            height=height,
            data=data,
            actor=actor,
        )

    def photos(self, incident_id: str) -> list[Photo]:
        """An incident's photos, first first (without their bytes)."""
        return case_records.photos(self, incident_id)

    def photo_data(self, incident_id: str, seq: int) -> tuple[Photo, bytes]:
        """One photo and its bytes; NotFoundError when there is none."""
        return case_records.photo_data(self, incident_id, seq)

    def set_photo_public(self, incident_id: str, seq: int, public: bool, *, actor: str) -> Photo:
        """Make a photo public or private again; audited."""
        return case_records.set_photo_public(self, incident_id, seq, public, actor=actor)

    def departments(self) -> list[dict[str, Any]]:
        """The departments (code, name, phone), by code."""
        return case_records.departments(self)

    def put_department(
        self, code: str, name: str, phone: str | None = None, *, actor: str
    ) -> dict[str, Any]:
        """Add a department or change its name and phone; audited."""
        return case_records.put_department(self, code, name, phone, actor=actor)

    def remove_department(self, code: str, *, actor: str) -> None:
        """Remove a department (cases keep its code); NotFoundError for an unknown code."""
        case_records.remove_department(self, code, actor=actor)

    def delete_user(self, name: str, *, actor: str) -> None:
        """Remove a user (audited); ConflictError for the last active admin."""
        records.delete_user(self, name, actor=actor)

    def record_sign_in_failure(self, name: str, *, keep_since: dt.datetime) -> None:
        """Remember a wrong password for ``name``; forget all failures before ``keep_since``."""
        records.record_sign_in_failure(self, name, keep_since=keep_since)

    def sign_in_failures(self, name: str, since: dt.datetime) -> list[dt.datetime]:
        """When wrong passwords were given for ``name`` since ``since``, oldest first."""
        return records.sign_in_failures(self, name, since)

    def forget_sign_in_failures(self, name: str) -> None:
        """Forget ``name``'s wrong passwords."""
        records.forget_sign_in_failures(self, name)

    def share_rate_usage(
        self,
        process: str,
        slot: int,
        taken: Mapping[tuple[str, str], float],
        *,
        since_slot: int,
        expire_before: int,
    ) -> dict[tuple[str, str, int], float]:
        """Add what ``process`` took from its rate-limit buckets; what the others took."""
        return usage.share_rate_usage(
            self, process, slot, taken, since_slot=since_slot, expire_before=expire_before
        )

    def user(self, name: str) -> User:
        """One user."""
        return records.user(self, name)

    def users(self) -> list[User]:
        """All users, by name."""
        return records.users(self)


_PUBLICATION_STAMP = (
    "SELECT COUNT(*) AS n, COUNT(valid_to) AS ended, MAX(valid_from) AS newest, "
    "SUM(CASE WHEN valid_from <= ? THEN 1 ELSE 0 END) AS started FROM publications"
)
_STAFF_STAMP = "SELECT COUNT(*) AS n, MAX(assigned_at) AS newest FROM staff_assignments"


def _id_order(plan_id: str) -> tuple[int, str]:
    """Plans in the order they were made: ids are 1, 2, … (as text)."""
    return (len(plan_id), plan_id)
