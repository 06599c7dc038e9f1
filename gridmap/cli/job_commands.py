"""``gridmap jobs``: the background jobs of a store (partitions submitted over the API)."""

from __future__ import annotations

from typing import Annotated, Any, cast

import typer

from gridmap.cli._app import (
    DatabaseOpt,
    JsonOpt,
    WorkspaceOpt,
    app,
    emit_json,
    fail,
    open_target,
    out,
)
from gridmap.errors import GridmapError, InputError
from gridmap.service.jobs import job_summary
from gridmap.store.contract import JOB_STATES, JobState

__all__ = ["jobs_command"]


@app.command("jobs")
def jobs_command(
    state: Annotated[
        str | None, typer.Option("--state", help="Only jobs queued, running, done or failed.")
    ] = None,
    workspace: WorkspaceOpt = None,
    database_url: DatabaseOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """The background jobs, oldest first: state, progress, the plan made or the error, who
    submitted each, and which server's worker holds a running one."""
    try:
        if state is not None and state not in JOB_STATES:
            raise InputError(f"--state {state!r}: choose one of {', '.join(JOB_STATES)}")
        store = open_target(workspace, database_url)
        try:
            jobs = store.jobs(state=cast(JobState | None, state))
        finally:
            store.close()
    except GridmapError as exc:
        fail(exc, as_json)
    rows: list[dict[str, Any]] = [
        {**job_summary(j), "worker": j.worker, "lease_until": j.lease_until} for j in jobs
    ]
    if as_json:
        emit_json({"jobs": rows})
        return
    if not rows:
        out.print("no jobs")
    for row in rows:
        progress = row["progress"]
        done = f"{progress.get('done', 0)}/{progress.get('total', '?')}" if progress else "-"
        outcome = (
            f"plan {row['result_plan']}"
            if row["result_plan"]
            else (row["error"] or (row["worker"] or ""))
        )
        out.print(
            f"{row['id']}\t{row['kind']}\t{row['state']}\t{done}\t{row['created_by']}\t"
            f"{row['created_at']}\t{outcome}",
            highlight=False,
        )
