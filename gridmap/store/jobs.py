"""Jobs run in the background: queue, claim with a lease, renew, finish exactly once.

Functions over a :class:`~gridmap.store.base.StoreBase` (whose methods of the same names call
them), in portable SQL, one write transaction each. A claim picks the oldest job that is queued,
or running with its lease run out (the worker's process died), and locks it: PostgreSQL's
``FOR UPDATE SKIP LOCKED`` (several processes claim at once, each a different job), SQLite's
``BEGIN IMMEDIATE`` (one writer at a time). Every later step of the job names its claim's lease
token and is refused (:class:`~gridmap.errors.ConflictError`) once another claim took the job
over, so a worker that lost its lease cannot finish, and :func:`finish_job` writes the job's
plan in the transaction that marks it done: the plan is made once, or not at all. Leases are
stamped and compared by the store's clock (``StoreBase._clock``: PostgreSQL's on PostGIS), so a
server on a host whose clock runs fast does not take over another host's live job.
"""

from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import geopandas as gpd

from gridmap.errors import ConflictError, InputError
from gridmap.store.common import check_actor, now, to_json
from gridmap.store.contract import JOB_STATES, Job, JobState, Outcome
from gridmap.store.records import equal, row_by_id, where
from gridmap.store.revisions import insert_plan

if TYPE_CHECKING:
    from gridmap.store.base import StoreBase

__all__ = [
    "add_job",
    "claim_job",
    "fail_job",
    "finish_job",
    "job",
    "jobs",
    "release_job",
    "renew_job",
]

_INSERT = (
    "INSERT INTO jobs (id, kind, state, params, created_at, created_by, progress, result, "
    "attempts) VALUES ({id}, ?, 'queued', ?, ?, ?, '{{}}', '{{}}', 0) RETURNING id"
)
_OPEN = (
    "SELECT * FROM jobs WHERE state = 'queued' OR (state = 'running' AND lease_until < ?) "
    "ORDER BY {order} LIMIT 1"
)
_CLAIM = (
    "UPDATE jobs SET state = 'running', worker = ?, lease = ?, lease_until = ?, "
    "started_at = COALESCE(started_at, ?), attempts = attempts + 1 WHERE id = ?"
)
_RENEW = "UPDATE jobs SET lease_until = ? WHERE id = ? AND state = 'running' AND lease = ?"
_PROGRESS = (
    "UPDATE jobs SET lease_until = ?, progress = ? WHERE id = ? AND state = 'running' AND lease = ?"
)
_END = (
    "UPDATE jobs SET state = ?, finished_at = ?, result = ?, result_plan = ?, error = ?, "
    "lease = NULL, lease_until = NULL WHERE id = ?"
)
_RELEASE = (
    "UPDATE jobs SET state = 'queued', lease = NULL, lease_until = NULL, "
    "attempts = attempts - 1 WHERE id = ?"
)


def add_job(store: StoreBase, kind: str, params: Mapping[str, Any], *, actor: str) -> Job:
    """Queue a job; audited as ``add_job``."""
    check_actor(actor)
    if not kind or len(kind) > 40:
        raise InputError(f"kind: a job kind of 1 to 40 characters, got {kind!r}")
    with store._write() as conn:
        args = (kind, to_json(params), store._stamp(now()), actor)
        [row] = store._rows(conn, _INSERT.format(id=store._NEW_JOB_ID), args)
        job_id = str(row["id"])
        store._audit(conn, actor, "add_job", detail={"job": job_id, "kind": kind})
        return _read(store, conn, job_id)


def job(store: StoreBase, job_id: str) -> Job:
    """One job."""
    with store._read() as conn:
        return _read(store, conn, job_id)


def jobs(store: StoreBase, *, state: JobState | None = None) -> list[Job]:
    """Jobs, oldest first, optionally of one state."""
    if state is not None and state not in JOB_STATES:
        raise InputError(f"state: {state!r} is not one of {', '.join(JOB_STATES)}")
    conds, args = equal(state=state)
    with store._read() as conn:
        rows = store._rows(
            conn, f"SELECT * FROM jobs{where(conds)} ORDER BY {store._JOB_ORDER}", args
        )
    return [_job_of(store, r) for r in rows]


def claim_job(
    store: StoreBase, worker: str, *, lease: dt.timedelta, max_attempts: int = 3
) -> Job | None:
    """Claim the oldest queued job, or running one whose lease ran out, for ``worker``."""
    check_actor(worker)
    query = _OPEN.format(order=store._JOB_ORDER) + store._SKIP_LOCKED
    while True:
        with store._write() as conn:
            stamp = store._clock(conn)
            rows = store._rows(conn, query, (store._stamp(stamp),))
            if not rows:
                return None
            found = _job_of(store, rows[0])
            if found.state == "running" and found.attempts >= max_attempts:
                error = (
                    f"its worker stopped {found.attempts} times while running it (the server "
                    "was killed or ran out of memory); not tried again"
                )
                _end(store, conn, found, "failed", error=error)
                continue  # the next job, in a new transaction
            token = secrets.token_hex(16)
            store._rows(
                conn,
                _CLAIM,
                (
                    worker,
                    token,
                    store._stamp(stamp + lease),
                    store._stamp(stamp),
                    store._key(found.id),
                ),
            )
            return _read(store, conn, found.id)


def renew_job(
    store: StoreBase,
    job_id: str,
    lease: str,
    *,
    until: dt.timedelta,
    progress: Mapping[str, Any] | None = None,
) -> Job:
    """Extend the claim ``lease`` to now + ``until``, saving ``progress`` when given."""
    with store._write() as conn:
        stamp = store._stamp(store._clock(conn) + until)
        if progress is None:
            changed = store._count(conn, _RENEW, (stamp, store._key(job_id), lease))
        else:
            args = (stamp, to_json(progress), store._key(job_id), lease)
            changed = store._count(conn, _PROGRESS, args)
        found = _read(store, conn, job_id)
        if changed == 0:
            raise _lost(found)
        return found


def finish_job(
    store: StoreBase,
    job_id: str,
    lease: str,
    *,
    result: Mapping[str, Any],
    cells: gpd.GeoDataFrame | None = None,
    grids: gpd.GeoDataFrame | None = None,
    name: str | None = None,
    params: Mapping[str, Any] | None = None,
) -> Job:
    """Mark the job done, creating its plan (when ``cells`` and ``grids`` are given) in the
    same transaction; refused when ``lease`` no longer holds the job."""
    staged = None if cells is None or grids is None else store._stage(cells, grids)
    with store._write() as conn:
        found = _held(store, conn, job_id, lease)
        plan_id = None
        if staged is not None:
            made = insert_plan(
                store,
                conn,
                staged,
                name=name or f"job {found.id}",
                params={**(params or {}), "job": found.id},
                actor=found.created_by,
            )
            plan_id = made.plan_id
        _end(store, conn, found, "done", result=result, plan_id=plan_id)
        return _read(store, conn, found.id)


def fail_job(store: StoreBase, job_id: str, lease: str, error: str) -> Job:
    """Mark the job failed with ``error``."""
    with store._write() as conn:
        found = _held(store, conn, job_id, lease)
        _end(store, conn, found, "failed", error=str(error)[:2000])
        return _read(store, conn, found.id)


def release_job(store: StoreBase, job_id: str, lease: str) -> Job:
    """Put a claimed job back in the queue, its claim not counted."""
    with store._write() as conn:
        found = _held(store, conn, job_id, lease)
        store._rows(conn, _RELEASE, (store._key(found.id),))
        return _read(store, conn, found.id)


def _held(store: StoreBase, conn: Any, job_id: str, lease: str) -> Job:
    found = _read(store, conn, job_id, lock=True)
    if found.state != "running" or found.lease != lease:
        raise _lost(found)
    return found


def _lost(found: Job) -> ConflictError:
    holder = f"it is {found.state}" + (f" under {found.worker}" if found.state == "running" else "")
    return ConflictError(f"job {found.id}: this worker no longer holds it ({holder})")


def _end(
    store: StoreBase,
    conn: Any,
    found: Job,
    state: JobState,
    *,
    result: Mapping[str, Any] | None = None,
    plan_id: str | None = None,
    error: str | None = None,
) -> None:
    args = (
        state,
        store._stamp(now()),
        to_json(result or {}),
        None if plan_id is None else store._key(plan_id),
        error,
        store._key(found.id),
    )
    store._rows(conn, _END, args)
    detail = {"job": found.id, "kind": found.kind, "state": state}
    outcome: Outcome = "ok" if state == "done" else "refused"
    store._audit(conn, found.created_by, "finish_job", outcome, plan_id=plan_id, detail=detail)


def _read(store: StoreBase, conn: Any, job_id: str, *, lock: bool = False) -> Job:
    return _job_of(store, row_by_id(store, conn, "jobs", job_id, lock=lock))


def _job_of(store: StoreBase, row: Mapping[str, Any]) -> Job:
    return Job(
        id=str(row["id"]),
        kind=row["kind"],
        state=row["state"],
        params=store._json(row["params"]),
        created_at=store._time(row["created_at"]),  # type: ignore[arg-type]
        created_by=row["created_by"],
        started_at=store._time(row["started_at"]),
        finished_at=store._time(row["finished_at"]),
        progress=store._json(row["progress"]),
        result_plan=None if row["result_plan"] is None else str(row["result_plan"]),
        result=store._json(row["result"]),
        error=row["error"],
        attempts=int(row["attempts"] or 0),
        worker=row["worker"],
        lease=row["lease"],
        lease_until=store._time(row["lease_until"]),
    )
