"""The storage contract: what every store offers, whichever engine holds the data.

Two engines implement :class:`Store`: :class:`gridmap.store.gpkg.store.GpkgStore` (one
GeoPackage file, the embedded default) and :class:`gridmap.store.postgis.store.PostgisStore`
(PostgreSQL + PostGIS, multi-user, city scale). One contract test suite (tests/store/) runs
against both.

The model
---------
- **Reference layers** (divisions, units, buildings, roads, staff, grids of
  :data:`gridmap.schema.LAYERS`): read with an optional bbox, written all-or-nothing.
- **Plans** assign the cells of a canvas to grids (../shared/DESIGN.md). A plan covers a set of
  communities and has numbered **revisions** 1, 2, 3, … Revisions are immutable: each holds the
  whole assignment (cells with their ``grid``) and its dissolved grids. An edit is
  :meth:`Store.commit` naming its *base* revision; when the base is not the plan's head the
  commit is refused with :class:`StaleRevisionError`, naming the revision that won, by whom
  and when. The check and the write are one atomic step (no lost update between racing
  processes).
- **Status**: draft → published → archived. Only a draft takes new revisions; to change a
  published plan, :meth:`Store.copy_plan` makes a draft from it.
- **Publications** (as MapIt's generations): publishing pins a plan's head revision to each of
  its communities from a time on. One publication per community is in force at a time: a new one
  ends the old one for the same community (``valid_to``). A plan is "published" while any of
  its publications is in force, and "archived" once none is. :meth:`Store.publish` takes
  several plans (a whole street or district) and is one atomic step. :meth:`Store.grids_at`
  answers "which grids were in force on 1 March".
- **Staff assignments**: a person (a row of the staff layer) may hold roles in several grids;
  assignments follow grid codes, which are stable across revisions.
- **Incidents** and their **events** (the workflow's steps). An incident carries a ``version``;
  an update names the version it read and is refused when another update came first.
- **Jobs**: long work run in the background (a partition of a street or a district). A worker
  claims the oldest waiting job (:meth:`Store.claim_job`) with a lease it renews
  (:meth:`Store.renew_job`); a job whose lease ran out (its process was killed) is claimed
  again. :meth:`Store.finish_job` creates the job's plan and marks it done in one transaction,
  and only for the claim that holds the lease: a job's plan is made once, never twice.
- **Users** (name, role, password hash) and an **audit log**: every mutating call records who,
  when, what, which plan and revision, and its outcome; a refused commit is recorded too
  (``outcome="conflict"``), in its own transaction, before the error is raised.

Atomicity: every mutating method is all-or-nothing. A process killed in the middle of one
(SIGKILL) leaves the store as it was before the call; the next open sees the prior state.

Times are timezone-aware UTC :class:`datetime.datetime` values; a naive time given to a store
is an :class:`~gridmap.errors.InputError`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol, runtime_checkable

import geopandas as gpd
import pandas as pd

from gridmap.errors import ConflictError

__all__ = [
    "INCIDENT_FIELDS",
    "INCIDENT_TIMES",
    "JOB_STATES",
    "PLAN_STATUSES",
    "SUBSIDY_RULE_FIELDS",
    "AuditEntry",
    "GridLock",
    "Incident",
    "IncidentEvent",
    "Job",
    "Photo",
    "PlanInfo",
    "Publication",
    "Revision",
    "RevisionInfo",
    "StaffAssignment",
    "StaleRevisionError",
    "StaleStaffError",
    "StaleVersionError",
    "Store",
    "Submission",
    "User",
]

PlanStatus = Literal["draft", "published", "archived"]
PLAN_STATUSES: tuple[PlanStatus, ...] = ("draft", "published", "archived")
Outcome = Literal["ok", "conflict", "refused"]
JobState = Literal["queued", "running", "done", "failed"]
JOB_STATES: tuple[JobState, ...] = ("queued", "running", "done", "failed")
BBox = tuple[float, float, float, float]

# The fields of an incident a caller sets; the store adds id, version and the times.
INCIDENT_FIELDS = (
    "category",  # e.g. "市容环境/暴露垃圾"
    "status",  # gridmap.cases.workflow.STATUSES: reported, registered, … closed, evaluated
    "description",
    "lon",
    "lat",  # WGS-84
    "grid_code",
    "community_code",
    "street_code",
    "address",
    "reporter_contact",  # private: never in a public answer
    "deadline",  # aware datetime or None
    "assignee",  # staff id or None
    "channel",  # how it came: "office" (recorded by staff) or "open311" (a resident's report)
    "public_note",  # the text a staff member made public (Open311 shows no other free text)
    "stage_deadline",  # aware datetime: when the current stage must end (gridmap.cases.workflow)
    "department",  # code of the department the case is dispatched to, or None
    "satisfaction",  # 1-5, given at the evaluation (评价), or None
    "extension_hours",  # working hours of a pending extension request (延期申请), or None
    "closed_at",  # aware datetime: when it was closed (结案), or None
)
# Incident fields holding times (aware datetimes; stored as each engine stores times).
INCIDENT_TIMES = ("deadline", "stage_deadline", "closed_at")

# The subsidy rules an admin sets (gridmap.service.stats reads their meaning): yuan a month,
# a share 0-1, and whether the assessed part is released pro rata below that share.
SUBSIDY_RULE_FIELDS = (
    "base_yuan",
    "assessed_yuan",
    "full_share",
    "pro_rata",
    "reopened_deduction_yuan",
)


@dataclass(frozen=True)
class PlanInfo:
    """One plan, without its cells.

    ``communities`` are the 12-digit codes of the communities its cells cover; ``head`` is its
    newest revision's number; ``params`` how it was made (target, tolerance, weight, seed,
    scheme…), as JSON-ready values.
    """

    id: str
    name: str
    status: PlanStatus
    communities: tuple[str, ...]
    head: int
    created_at: dt.datetime
    created_by: str
    params: Mapping[str, Any] = field(default_factory=dict)
    copied_from: str | None = None


@dataclass(frozen=True)
class RevisionInfo:
    """One revision of a plan: who made it from which, how, when."""

    plan_id: str
    number: int
    base: int | None  # the revision it was made from (None for a plan's first)
    created_at: dt.datetime
    created_by: str
    operation: str  # "partition", "import", "copy", "move", "merge", "split", "reshape"…
    detail: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Revision:
    """A revision with its data.

    ``cells``: indexed by ``cell_id`` (str), columns community_code, atom_id, grid, residents,
    households and the cell polygon (EPSG:4326). ``grids``: one row per grid, columns code,
    community_code, name, residents, households, cells, compactness and the dissolved polygon.
    These are exactly the frames :func:`gridmap.engine.partition.community` and the edits work on.
    """

    info: RevisionInfo
    cells: gpd.GeoDataFrame
    grids: gpd.GeoDataFrame


@dataclass(frozen=True)
class Publication:
    """A plan revision in force for one community from ``valid_from`` until ``valid_to``."""

    community_code: str
    plan_id: str
    revision: int
    valid_from: dt.datetime
    valid_to: dt.datetime | None  # None: in force now
    published_by: str
    # When the community's open incidents moved to this plan's grids: None while valid_from
    # is still ahead (then :meth:`Store.take_effect` moves them once it has passed).
    regridded_at: dt.datetime | None = None


@dataclass(frozen=True)
class GridLock:
    """A grid of a draft plan that a planner has locked: edits that change it are refused."""

    plan_id: str
    grid_code: str
    locked_by: str
    locked_at: dt.datetime


@dataclass(frozen=True)
class Submission:
    """A draft a planner submitted for publication: which revision, by whom, when, with what
    note; ``state`` is ``submitted``, or ``refused`` once an admin sent it back (who, when,
    why). Edits after it do not withdraw it: ``revision`` below the plan's head says it is
    stale."""

    plan_id: str
    revision: int
    state: str
    submitted_by: str
    submitted_at: dt.datetime
    note: str | None = None
    refused_by: str | None = None
    refused_at: dt.datetime | None = None
    reason: str | None = None


@dataclass(frozen=True)
class StaffAssignment:
    """A person holding a role in a grid."""

    staff_id: str
    grid_code: str
    role: str  # a key of Settings.roles (police, city_management…, head)
    assigned_at: dt.datetime
    assigned_by: str


@dataclass(frozen=True)
class Incident:
    """An incident at a point, as stored; ``fields`` holds the INCIDENT_FIELDS."""

    id: str
    version: int  # 1 on creation, +1 per update
    created_at: dt.datetime
    updated_at: dt.datetime
    fields: Mapping[str, Any]


@dataclass(frozen=True)
class IncidentEvent:
    """One step of an incident's life: who did what, when."""

    incident_id: str
    seq: int  # 1, 2, … per incident
    at: dt.datetime
    actor: str
    action: str  # "report", "register", "dispatch", "regrid" (moved by a publication)…
    from_status: str | None
    to_status: str | None
    note: str | None = None


@dataclass(frozen=True)
class User:
    """A person who signs in."""

    name: str
    role: str  # public | staff | planner | admin
    password_hash: str
    created_at: dt.datetime
    active: bool = True
    scope: tuple[str, ...] = ()  # division codes the user works in; (): city-wide
    duties: tuple[str, ...] = ()  # workflow roles: acceptor, dispatcher, handler, supervisor
    department: str | None = None  # a handler's department code


@dataclass(frozen=True)
class Photo:
    """A photo of an incident (the image itself is read with :meth:`Store.photo_data`)."""

    incident_id: str
    seq: int  # 1, 2, … per incident
    kind: str  # before | after
    content_type: str  # image/jpeg | image/png | image/webp
    width: int
    height: int
    size: int  # bytes
    public: bool  # staff made it public (Open311 media_url of a resident's report)
    at: dt.datetime
    actor: str


@dataclass(frozen=True)
class Job:
    """A long job run in the background, and where it stands.

    ``progress``: ``done`` and ``total`` communities, the ``current`` one, the ``stage``
    ("communities", "joining", "saving"); ``result``: the job's summary once done;
    ``result_plan``: the plan it made. ``lease`` is the token of the claim that holds it (a
    worker's, never shown to people) and ``lease_until`` when another worker may take it over.
    """

    id: str
    kind: str  # "partition"
    state: JobState
    params: Mapping[str, Any]
    created_at: dt.datetime
    created_by: str
    started_at: dt.datetime | None = None
    finished_at: dt.datetime | None = None
    progress: Mapping[str, Any] = field(default_factory=dict)
    result_plan: str | None = None
    result: Mapping[str, Any] = field(default_factory=dict)
    error: str | None = None
    attempts: int = 0
    worker: str | None = None
    lease: str | None = None
    lease_until: dt.datetime | None = None


@dataclass(frozen=True)
class AuditEntry:
    """One line of the audit log."""

    seq: int
    at: dt.datetime
    actor: str
    action: str  # the method: "create_plan", "commit", "publish", "add_user"…
    outcome: Outcome
    plan_id: str | None = None
    revision: int | None = None
    detail: Mapping[str, Any] = field(default_factory=dict)


class StaleRevisionError(ConflictError):
    """A commit whose base revision is not the plan's head: somebody else's edit came first."""

    code = "stale_revision"

    def __init__(self, plan_id: str, base: int, winner: RevisionInfo):
        self.plan_id, self.base, self.winner = plan_id, base, winner
        super().__init__(
            f"plan {plan_id}: your edit starts from revision {base}, but revision "
            f"{winner.number} by {winner.created_by} at {winner.created_at.isoformat()} "
            f"({winner.operation}) came first; reload revision {winner.number} and redo the edit"
        )


class StaleVersionError(ConflictError):
    """An incident update that read an older version than the stored one."""

    code = "stale_version"

    def __init__(self, incident_id: str, expected: int, current: Incident):
        self.incident_id, self.expected, self.current = incident_id, expected, current
        super().__init__(
            f"incident {incident_id}: you read version {expected}, but it is now at version "
            f"{current.version} (updated {current.updated_at.isoformat()}); reload it"
        )


class StaleStaffError(ConflictError):
    """A change of a person of the staff layer made from an older read (``etag``)."""

    code = "conflict"

    def __init__(self, staff_id: str, current: Mapping[str, Any]):
        self.staff_id, self.current = staff_id, dict(current)
        super().__init__(
            f"staff {staff_id} was changed by someone else since you read it "
            f"(it is now at etag {self.current.get('etag')}); reload it"
        )


@runtime_checkable
class Store(Protocol):
    """What a store offers. Errors: NotFoundError (unknown plan, revision, incident, user),
    InputError (bad arguments, naive times, a commit on a non-draft plan, publishing a plan whose
    communities another plan of the same call also covers), StaleRevisionError,
    StaleVersionError, StoreError (the engine failed). ``actor`` is the user's name."""

    # --- reference layers ----------------------------------------------------------------------

    def layers(self) -> list[str]:
        """Names of the reference layers that hold data."""
        ...

    def read(self, name: str, bbox: BBox | None = None) -> pd.DataFrame:
        """A reference layer (GeoDataFrame when it has geometry), filtered by a lon/lat bbox
        through the spatial index. An unknown name is an InputError; an empty layer has the
        schema's columns."""
        ...

    def write(
        self, frames: Mapping[str, pd.DataFrame], *, replace: bool = False, actor: str = "system"
    ) -> None:
        """Append (or, with ``replace``, replace) reference layers, all of them or none."""
        ...

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
        ...

    def copy_plan(self, plan_id: str, *, name: str, actor: str) -> RevisionInfo:
        """A new draft whose revision 1 is ``plan_id``'s head (``copied_from`` = plan_id)."""
        ...

    def plans(
        self, *, status: PlanStatus | None = None, community: str | None = None
    ) -> list[PlanInfo]:
        """Plans, oldest first, optionally of one status or covering one community."""
        ...

    def plan(self, plan_id: str) -> PlanInfo:
        """One plan."""
        ...

    def revisions(self, plan_id: str) -> list[RevisionInfo]:
        """A plan's revisions, 1 first."""
        ...

    def revision(self, plan_id: str, number: int | None = None) -> Revision:
        """A revision with its cells and grids (None: the head)."""
        ...

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
        """Add revision head+1 made from ``base``; StaleRevisionError when ``base`` is not the
        head (audited as a conflict), InputError when the plan is not a draft."""
        ...

    def publish(
        self,
        plan_ids: Sequence[str],
        *,
        actor: str,
        at: dt.datetime | None = None,
        expected_heads: Mapping[str, int] | None = None,
        incident_grids: Mapping[str, str | None] | None = None,
    ) -> list[Publication]:
        """Put the heads of ``plan_ids`` in force for all their communities from ``at``
        (default now), ending the publications they replace; one atomic step.
        ``expected_heads`` (plan id → revision): the revisions the caller checked; a plan whose
        head has moved since is a ConflictError, and nothing is published.
        ``incident_grids`` (incident id → its grid in the plans published, or None): each
        incident whose grid changes moves there (an event ``regrid``) in the same transaction,
        so that no open incident is left on a grid no longer in force."""
        ...

    def take_effect(
        self,
        due: Sequence[Publication],
        *,
        actor: str,
        at: dt.datetime,
        incident_grids: Mapping[str, str | None] | None = None,
    ) -> list[Publication]:
        """Mark publications whose ``valid_from`` has passed as taken effect at ``at``
        (``regridded_at``), move the incidents of ``incident_grids`` and archive the plans
        they replaced, in one transaction; the ones marked already (by another process) are
        left alone, and when all were nothing is done: answers the publications marked."""
        ...

    def archive(self, plan_id: str, *, actor: str) -> PlanInfo:
        """Archive a draft, or end a published plan's publications now."""
        ...

    def lock_grid(self, plan_id: str, grid_code: str, *, actor: str) -> GridLock:
        """Lock a grid of a draft for ``actor`` (idempotent); ConflictError when another
        planner holds it."""
        ...

    def unlock_grid(self, plan_id: str, grid_code: str, *, actor: str, force: bool = False) -> None:
        """Unlock a grid (no-op when not locked); ConflictError when another planner holds
        it and not ``force``."""
        ...

    def grid_locks(self, plan_id: str) -> list[GridLock]:
        """A plan's grid locks, by grid code."""
        ...

    def submit_plan(self, plan_id: str, note: str | None, *, actor: str) -> Submission:
        """Submit a draft's head for publication (again: replaces the earlier submission)."""
        ...

    def withdraw_submission(self, plan_id: str, *, actor: str, force: bool = False) -> None:
        """Withdraw a submission (no-op when there is none); ConflictError when another
        planner submitted it and not ``force``."""
        ...

    def refuse_submission(self, plan_id: str, reason: str, *, actor: str) -> Submission:
        """Send a submitted draft back with ``reason``; ConflictError when it is not submitted."""
        ...

    def submissions(self, plan_id: str | None = None) -> list[Submission]:
        """The submissions (submitted or refused) of one plan or of all, by plan."""
        ...

    def publications(
        self, *, at: dt.datetime | None = None, community: str | None = None
    ) -> list[Publication]:
        """Publications in force at ``at`` (default now); the whole history is
        :meth:`publication_history`."""
        ...

    def publication_history(self, community: str | None = None) -> list[Publication]:
        """Every publication ever made, oldest first."""
        ...

    def change_stamp(self) -> tuple[Any, ...]:
        """A cheap fingerprint of the publications and staff assignments: equal while they are
        unchanged, different once anyone (any process, or replication) changed them."""
        ...

    def grids_at(
        self,
        at: dt.datetime | None = None,
        *,
        bbox: BBox | None = None,
        community: str | None = None,
    ) -> gpd.GeoDataFrame:
        """The grids in force at ``at`` (default now), with plan_id and revision columns."""
        ...

    # --- staff ---------------------------------------------------------------------------------

    def assign_staff(self, staff_id: str, grid_code: str, role: str, *, actor: str) -> None:
        """Give a person a role in a grid (idempotent); NotFoundError for an unknown staff id."""
        ...

    def unassign_staff(self, staff_id: str, grid_code: str, role: str, *, actor: str) -> None:
        """Take the role away; NotFoundError when the person did not hold it."""
        ...

    def staff_assignments(
        self, *, grid_code: str | None = None, staff_id: str | None = None
    ) -> list[StaffAssignment]:
        """Assignments, optionally of one grid or one person."""
        ...

    def staff_member(self, staff_id: str) -> dict[str, Any]:
        """One person of the staff layer (id and fields) with its ``etag``."""
        ...

    def update_staff(
        self, staff_id: str, etag: str, changes: Mapping[str, Any], *, actor: str
    ) -> dict[str, Any]:
        """Change a person's fields if still as read (``etag``), else StaleStaffError naming
        the current row; checked and written by the database in one transaction."""
        ...

    def remove_staff(self, staff_id: str, etag: str, *, actor: str) -> None:
        """Remove a person and their roles if still as read (``etag``), else StaleStaffError."""
        ...

    # --- incidents -----------------------------------------------------------------------------

    def add_incident(
        self, fields: Mapping[str, Any], *, actor: str, event: IncidentEvent | None = None
    ) -> Incident:
        """Store a new incident (id assigned by the store) and its first event."""
        ...

    def incident(self, incident_id: str) -> Incident:
        """One incident."""
        ...

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
        """Incidents matching every filter given, oldest first."""
        ...

    def update_incident(
        self,
        incident_id: str,
        expected_version: int,
        changes: Mapping[str, Any],
        *,
        actor: str,
        event: IncidentEvent,
    ) -> Incident:
        """Apply ``changes`` and append ``event`` (its seq and incident_id are the store's);
        StaleVersionError when the stored version is not ``expected_version``."""
        ...

    def incident_events(self, incident_id: str) -> list[IncidentEvent]:
        """An incident's events, first first."""
        ...

    # --- jobs --------------------------------------------------------------------------------

    def add_job(self, kind: str, params: Mapping[str, Any], *, actor: str) -> Job:
        """Queue a job (id assigned by the store), audited."""
        ...

    def job(self, job_id: str) -> Job:
        """One job; NotFoundError for an unknown id."""
        ...

    def jobs(self, *, state: JobState | None = None) -> list[Job]:
        """Jobs, oldest first, optionally of one state."""
        ...

    def claim_job(self, worker: str, *, lease: dt.timedelta, max_attempts: int = 3) -> Job | None:
        """Claim the oldest job that is queued, or running with its lease run out, for
        ``worker`` until now + ``lease``: state running, a new ``lease`` token, attempts + 1.
        None when there is none. Workers of several processes never claim the same job (a row
        lock skipping locked rows, or the engine's write lock). A job whose lease ran out
        ``max_attempts`` times is failed instead (it kills its worker)."""
        ...

    def renew_job(
        self,
        job_id: str,
        lease: str,
        *,
        until: dt.timedelta,
        progress: Mapping[str, Any] | None = None,
    ) -> Job:
        """Extend the claim ``lease`` to now + ``until`` and save ``progress`` (when given);
        ConflictError when ``lease`` no longer holds the job (another worker took it over)."""
        ...

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
        """Mark the job done with ``result``; with ``cells`` and ``grids``, create its plan
        (a draft by the job's submitter, as :meth:`create_plan`) in the same transaction.
        ConflictError, and nothing written, when ``lease`` no longer holds the job."""
        ...

    def fail_job(self, job_id: str, lease: str, error: str) -> Job:
        """Mark the job failed with ``error``; ConflictError when ``lease`` no longer holds it."""
        ...

    def release_job(self, job_id: str, lease: str) -> Job:
        """Give a claimed job back to the queue (its worker is stopping), its claim not
        counted; ConflictError when ``lease`` no longer holds it."""

    def events_of_incidents(
        self, *, since: dt.datetime | None = None, until: dt.datetime | None = None
    ) -> list[IncidentEvent]:
        """The events of every incident created in [since, until), by incident then seq:
        one read for the assessment (:mod:`gridmap.service.stats`)."""
        ...

    # --- subsidy rules -------------------------------------------------------------------------

    def subsidy_rules(self) -> dict[str, Any] | None:
        """The subsidy rules in force (:data:`SUBSIDY_RULE_FIELDS`, ``updated_at``,
        ``updated_by``), or None when no admin has set them."""
        ...

    def set_subsidy_rules(self, rules: Mapping[str, Any], *, actor: str) -> dict[str, Any]:
        """Replace the subsidy rules (every one of :data:`SUBSIDY_RULE_FIELDS`), audited;
        the rules as stored."""

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
        ...

    def photos(self, incident_id: str) -> list[Photo]:
        """An incident's photos, first first (without their bytes)."""
        ...

    def photo_data(self, incident_id: str, seq: int) -> tuple[Photo, bytes]:
        """One photo and its bytes; NotFoundError when there is none."""
        ...

    def set_photo_public(self, incident_id: str, seq: int, public: bool, *, actor: str) -> Photo:
        """Make a photo public or private again; audited."""
        ...

    # --- departments ---------------------------------------------------------------------------

    def departments(self) -> list[dict[str, Any]]:
        """The departments (code, name, phone), by code."""
        ...

    def put_department(
        self, code: str, name: str, phone: str | None = None, *, actor: str
    ) -> dict[str, Any]:
        """Add a department or change its name and phone; audited."""
        ...

    def remove_department(self, code: str, *, actor: str) -> None:
        """Remove a department (cases keep its code); NotFoundError for an unknown code."""
        ...

    # --- users and audit -----------------------------------------------------------------------

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
        ...

    def user(self, name: str) -> User:
        """One user."""
        ...

    def users(self) -> list[User]:
        """All users, by name."""
        ...

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
        """Change a user's role, active flag, password hash, scope, workflow roles (duties) or
        department ("" clears it), audited (never the hash);
        NotFoundError for an unknown name, ConflictError when no active admin would be left."""
        ...

    def delete_user(self, name: str, *, actor: str) -> None:
        """Remove a user, audited; ConflictError for the last active admin."""
        ...

    def record_sign_in_failure(self, name: str, *, keep_since: dt.datetime) -> None:
        """Remember a wrong password for ``name`` now, and forget every failure (of any name)
        before ``keep_since``: the lockout state every server process shares."""
        ...

    def sign_in_failures(self, name: str, since: dt.datetime) -> list[dt.datetime]:
        """When wrong passwords were given for ``name`` since ``since``, oldest first."""
        ...

    def forget_sign_in_failures(self, name: str) -> None:
        """Forget ``name``'s wrong passwords (after a right one)."""
        ...

    def share_rate_usage(
        self,
        process: str,
        slot: int,
        taken: Mapping[tuple[str, str], float],
        *,
        since_slot: int,
        expire_before: int,
    ) -> dict[tuple[str, str, int], float]:
        """Add ``taken`` ((bucket kind, client) → tokens) to ``process``'s usage in ``slot``,
        delete slots before ``expire_before``, and answer what every other process took in the
        slots from ``since_slot`` on, (bucket kind, client, slot) → tokens: how the server
        processes of one store share their rate limits (:mod:`gridmap.api.limits`)."""
        ...

    def audit(
        self, *, plan_id: str | None = None, since: dt.datetime | None = None
    ) -> list[AuditEntry]:
        """The audit log, oldest first."""
        ...

    # --- lifetime ------------------------------------------------------------------------------

    def close(self) -> None:
        """Release files, connections and locks."""
        ...
