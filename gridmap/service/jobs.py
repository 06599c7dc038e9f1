"""Long jobs in the background: submitting a partition, and the worker that runs jobs.

A job is a row of the store (:meth:`~gridmap.store.contract.Store.add_job`), so it outlives
the process that took it. :class:`JobWorker` is a thread of a server process: it claims the
oldest waiting job with a lease (:meth:`~gridmap.store.contract.Store.claim_job`), renews the
lease every third of its length while the job runs, saves the progress after each community,
and ends the job with its plan in one transaction
(:meth:`~gridmap.store.contract.Store.finish_job`). A worker killed mid-job leaves the job
running with a lease that runs out; the next worker to look (in this process after a restart,
or in another) claims it and runs it again from the start. A worker that lost its lease (taken
over by another) is refused at its next step and drops the job.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import socket
import threading
from collections.abc import Callable, Sequence
from typing import Any

from gridmap.errors import ConflictError, GridmapError, InputError, StoreClosedError
from gridmap.service.plans import community_divisions, partition_store
from gridmap.settings import Settings
from gridmap.store.contract import Job, Store

__all__ = ["PARTITION", "JobWorker", "job_summary", "run_job", "submit_partition"]

PARTITION = "partition"

_log = logging.getLogger(__name__)


class _Interrupted(Exception):
    """The job stops here: its worker is stopping, or lost its lease."""


def submit_partition(
    store: Store,
    settings: Settings,
    *,
    communities: Sequence[str] | None,
    target: int | None,
    tolerance: float | None,
    seed: int,
    actor: str,
    name: str | None = None,
) -> Job:
    """Queue a partition of ``communities`` (None: every one) into a new draft plan.

    The communities are checked now (an unknown code is a NotFoundError naming it, no
    communities at all an InputError), so that a job fails only for what happens while it runs.
    ``target`` and ``tolerance`` default to the settings'.
    """
    codes = sorted(set(communities)) if communities else None
    chosen = community_divisions(store, codes)
    if chosen.empty:
        raise InputError("communities: there are none to partition; import divisions first")
    params = {
        "communities": codes,
        "target": target or settings.target,
        "tolerance": settings.tolerance if tolerance is None else tolerance,
        "weight": settings.weight,
        "seed": seed,
        "metric_epsg": settings.metric_epsg,
        "name": name,
    }
    return store.add_job(PARTITION, params, actor=actor)


def job_summary(job: Job) -> dict[str, Any]:
    """A job as JSON for people: state, progress, result, error, times, who submitted it.

    The lease token and the worker's host are left out (they are the workers' business).
    """

    def when(value: dt.datetime | None) -> str | None:
        return None if value is None else value.isoformat()

    return {
        "id": job.id,
        "kind": job.kind,
        "state": job.state,
        "params": dict(job.params),
        "progress": dict(job.progress),
        "result_plan": job.result_plan,
        "result": dict(job.result),
        "error": job.error,
        "attempts": job.attempts,
        "created_at": when(job.created_at),
        "created_by": job.created_by,
        "started_at": when(job.started_at),
        "finished_at": when(job.finished_at),
    }


def run_job(
    store: Store,
    job: Job,
    settings: Settings,
    *,
    stopping: Callable[[], bool] = lambda: False,
) -> Job:
    """Run a claimed ``job`` to its end: done (with its plan), failed (with the reason), back
    in the queue (``stopping()`` turned true) or dropped (its lease was taken over)."""
    lease = job.lease
    if lease is None:
        raise InputError(f"job {job.id}: not claimed; claim it first (Store.claim_job)")
    until = dt.timedelta(seconds=settings.job_lease_seconds)
    lost = threading.Event()
    beating = threading.Event()

    def heartbeat() -> None:
        while not beating.wait(settings.job_lease_seconds / 3):
            try:
                store.renew_job(job.id, lease, until=until)
            except (ConflictError, StoreClosedError):
                lost.set()
                return
            except Exception:  # the database is away for a moment: try again next beat
                _log.warning("job %s: cannot renew the lease", job.id, exc_info=True)

    def check() -> None:
        if lost.is_set() or stopping():
            raise _Interrupted

    beat = threading.Thread(target=heartbeat, name=f"gridmap-job-{job.id}-lease", daemon=True)
    beat.start()
    try:
        if job.kind != PARTITION:
            raise InputError(f"kind: no worker runs jobs of kind {job.kind!r}")
        return _run_partition(store, job, lease, settings, check)
    except _Interrupted:
        if lost.is_set():
            _log.warning("job %s: lost its lease to another worker; dropped here", job.id)
            return store.job(job.id)
        return store.release_job(job.id, lease)
    except StoreClosedError:  # the app is stopping: the lease runs out, another worker takes it
        raise
    except ConflictError as exc:  # the lease was lost, found when writing
        _log.warning("job %s: %s", job.id, exc)
        return store.job(job.id)
    except GridmapError as exc:
        return _failed(store, job, lease, exc.public or str(exc))
    except Exception as exc:
        _log.exception("job %s failed", job.id)
        return _failed(store, job, lease, f"internal error: {type(exc).__name__}: {exc}")
    finally:
        beating.set()
        beat.join()


def _failed(store: Store, job: Job, lease: str, error: str) -> Job:
    try:
        return store.fail_job(job.id, lease, error)
    except ConflictError:
        return store.job(job.id)


def _run_partition(
    store: Store, job: Job, lease: str, settings: Settings, check: Callable[[], None]
) -> Job:
    params = job.params
    until = dt.timedelta(seconds=settings.job_lease_seconds)
    codes = list(community_divisions(store, params.get("communities"))["code"])
    done: list[str] = []

    def saved(stage: str) -> None:
        left = [c for c in codes if c not in set(done)]
        progress = {
            "total": len(codes),
            "done": len(done),
            "current": left[0] if left and stage == "communities" else None,
            "stage": stage,
        }
        store.renew_job(job.id, lease, until=until, progress=progress)

    def community_done(code: str) -> None:
        done.append(code)
        saved("communities" if len(done) < len(codes) else "joining")
        check()

    def save(new_plan: dict[str, Any], summary: dict[str, Any]) -> str:
        finished = store.finish_job(job.id, lease, result=summary, **new_plan)
        return str(finished.result_plan)

    saved("communities")
    partition_store(
        store,
        communities=params.get("communities"),
        target=int(params["target"]),
        tolerance=float(params["tolerance"]),
        weight=str(params.get("weight") or settings.weight),
        seed=int(params.get("seed") or 0),
        metric_epsg=params.get("metric_epsg"),
        workers=settings.job_processes,
        actor=job.created_by,
        name=params.get("name"),
        progress=community_done,
        save=save,
    )
    return store.job(job.id)


class JobWorker:
    """A thread that claims and runs jobs of ``store`` until :meth:`stop`.

    Idle, it looks for jobs every ``settings.job_poll_seconds`` (at once after :meth:`wake`,
    which the API calls when it queues one).
    """

    def __init__(self, store: Store, settings: Settings, *, name: str | None = None):
        self.store, self.settings = store, settings
        self.name = name or f"{socket.gethostname()}:{os.getpid()}"
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="gridmap-jobs", daemon=True)
        self._thread.start()

    def wake(self) -> None:
        """Look for a job now."""
        self._wake.set()

    def stop(self, timeout: float = 10.0) -> None:
        """Stop after the current community (the job goes back to the queue)."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def run_once(self) -> Job | None:
        """Claim one job and run it to its end; None when no job waits."""
        claimed = self.store.claim_job(
            self.name,
            lease=dt.timedelta(seconds=self.settings.job_lease_seconds),
            max_attempts=self.settings.job_max_attempts,
        )
        if claimed is None:
            return None
        _log.info("job %s (%s) claimed by %s", claimed.id, claimed.kind, self.name)
        return run_job(self.store, claimed, self.settings, stopping=self._stop.is_set)

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                ran = self.run_once()
            except StoreClosedError:  # the app closed its store before stopping this worker
                return
            except Exception:  # the store is away for a moment: look again later
                _log.warning("jobs: cannot claim a job", exc_info=True)
                ran = None
            if ran is None:
                self._wake.wait(self.settings.job_poll_seconds)
                self._wake.clear()
