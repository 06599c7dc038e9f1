"""Background jobs: where a partition submitted with ``POST /api/plans`` stands.

``GET /api/jobs/{id}`` gives a job's state (queued, running, done, failed), its progress per
community, the plan it made, its error, its times and who submitted it; ``GET /api/jobs`` lists
them, newest first. Jobs are planners' business (``planner``); a planner sees the jobs of the
communities of their scope. Each server process runs ``settings.job_workers`` worker threads
(:class:`gridmap.service.jobs.JobWorker`), started and stopped with the app.
"""

from __future__ import annotations

import os
import socket
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, Query, Request
from fastapi.concurrency import run_in_threadpool

from gridmap.api.auth import require
from gridmap.api.deps import StoreDep
from gridmap.api.errors import ApiError
from gridmap.api.scope import require_in_scope, scope_of, sees
from gridmap.api.write_limits import LimitedRoute
from gridmap.errors import NotFoundError
from gridmap.service.jobs import JobWorker, job_summary
from gridmap.store.contract import Job, JobState, User

__all__ = ["router", "shutdown", "startup", "wake_workers"]

router = APIRouter(prefix="/api/jobs", tags=["jobs"], route_class=LimitedRoute)

Planner = Annotated[User, Depends(require("planner"))]


def _in_scope(user: User, job: Job) -> bool:
    communities = job.params.get("communities")
    if not communities:  # every community: city-wide users only
        return not scope_of(user)
    return all(sees(user, c) for c in communities)


@router.get("", summary="Background jobs, newest first")
def list_jobs(
    store: StoreDep,
    user: Planner,
    state: JobState | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> dict[str, Any]:
    """The newest ``limit`` jobs (optionally of one ``state``) in the user's scope."""
    found = [j for j in reversed(store.jobs(state=state)) if _in_scope(user, j)]
    return {"jobs": [job_summary(j) for j in found[:limit]]}


@router.get("/{job_id}", summary="One background job: state, progress, result plan, error")
def get_job(store: StoreDep, job_id: str, user: Planner) -> dict[str, Any]:
    """Where the job stands; ``result_plan`` is the plan it made once ``state`` is done."""
    if len(job_id) > 20:
        raise NotFoundError(f"no job {job_id[:20]}…")
    job = store.job(job_id)
    communities = job.params.get("communities")
    if communities:
        require_in_scope(user, communities, f"job {job.id}: communities")
    elif scope_of(user):
        raise ApiError(
            "forbidden",
            f"权限不足 (outside your scope): job {job.id} partitions every community; "
            f"{user.name} works in {', '.join(scope_of(user))}",
        )
    return {"job": job_summary(job)}


def wake_workers(request: Request) -> None:
    """Tell this process's workers a job was queued (others find it within job_poll_seconds)."""
    for workers in getattr(request.app.state, "job_workers", ()):
        for worker in workers:
            worker.wake()


async def startup(app: FastAPI) -> None:
    """Start ``settings.job_workers`` worker threads on the app's store.

    Each run of the lifespan starts its own and stops them (a stack on ``app.state``: a test
    client may run the lifespan of an app already running)."""
    settings = app.state.settings
    host = f"{socket.gethostname()}:{os.getpid()}"
    stack = getattr(app.state, "job_workers", [])
    workers = [
        JobWorker(app.state.store, settings, name=f"{host}:{len(stack)}.{k}")
        for k in range(settings.job_workers)
    ]
    for worker in workers:
        worker.start()
    app.state.job_workers = [*stack, workers]


async def shutdown(app: FastAPI) -> None:
    """Stop this lifespan's workers; a running job goes back to the queue after its current
    community (or, if that takes longer, its lease runs out and another worker takes it)."""
    stack = getattr(app.state, "job_workers", [])
    if not stack:
        return
    app.state.job_workers = stack[:-1]
    for worker in stack[-1]:
        await run_in_threadpool(worker.stop, 5.0)
