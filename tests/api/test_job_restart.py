"""A partition job survives a SIGKILL of its server (issue 13), on both engines.

A real ``gridmap serve`` over the Nan'an sample's layers takes a partition of one street (13
communities) as a background job. Once the job is running and has saved the progress of a
community, the server is killed (SIGKILL: no shutdown, the job's lease is left to run out). A
new server on the same store claims the job again once the lease ran out and completes it:
exactly one plan is made, and it is the job's result plan.
"""

from __future__ import annotations

import secrets
import shutil
import signal
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
from published import free_port, server_process
from seeded import _database_made

from gridmap.api.auth import hash_password, issue_token
from gridmap.store import Store, open_store

STREET = "500108003000"  # 南坪街道: 13 communities, seconds of work each on a busy machine
SECRET = "job-restart-signing-key-" + "j" * 40
PATIENCE_S = 600  # a bound on waiting for the server or the job, so that a hang fails the test
PLANNER = "paula"
ENGINES = ["gpkg", pytest.param("postgis", marks=pytest.mark.postgis)]


@pytest.fixture(params=ENGINES)
def sample_target(
    request: pytest.FixtureRequest,
    sample_build: dict,
    tmp_path: Path,  # type: ignore[type-arg]
) -> Iterator[list[str]]:
    """``gridmap serve`` arguments naming a fresh store holding the sample's layers, no plans."""
    if request.param == "gpkg":
        path = tmp_path / "nanan.gpkg"
        shutil.copyfile(sample_build["workspace"], path)
        yield ["--workspace", str(path)]
        return
    from gridmap.store import load_workspace

    url: str = request.getfixturevalue("postgis_url")
    drop = request.getfixturevalue("drop_database")
    with _database_made(url, f"gridmap_jobs_{secrets.token_hex(5)}", drop_later=drop) as target:
        with psycopg.connect(target, autocommit=True) as db:
            db.execute("CREATE EXTENSION IF NOT EXISTS postgis")
        load_workspace(sample_build["workspace"], target, actor="test")
        yield ["--database-url", target]


def open_sample_store(args: list[str]) -> Store:
    """The store that ``gridmap serve`` ``args`` name, opened here."""
    return open_store(args[1])


def until(what: str, check: Callable[[], Any]) -> Any:
    """Poll ``check`` until it returns something true; fail naming ``what`` after PATIENCE_S."""
    deadline = time.monotonic() + PATIENCE_S
    while not (found := check()):
        assert time.monotonic() < deadline, f"waited {PATIENCE_S} s for {what}"
        time.sleep(0.1)
    return found


def test_a_job_survives_a_sigkill_of_its_server_and_completes_once(
    sample_target: list[str],
) -> None:
    with open_sample_store(sample_target) as store:
        planner = store.add_user(PLANNER, "planner", hash_password("x" * 12), actor="test")
        plans_before = len(store.plans())
    headers = {"Authorization": "Bearer " + issue_token(planner, SECRET, 60)}
    # A short lease, so that the second server takes the job over soon after the kill.
    env = {
        "GRIDMAP_TOKEN_SECRET": SECRET,
        "GRIDMAP_RATE_LIMIT_PER_SECOND": "0",
        "GRIDMAP_JOB_LEASE_SECONDS": "3",
    }

    with server_process(sample_target, env, free_port()) as (proc, url):
        answer = httpx.post(
            f"{url}/api/plans",
            json={"mode": "partition", "division": STREET, "name": "南坪 2027"},
            headers=headers,
            timeout=60,
        )
        assert answer.status_code == 202, answer.text
        location = url + answer.headers["Location"]
        job_id = answer.json()["job"]["id"]

        def running() -> dict[str, Any] | None:
            job: dict[str, Any] = httpx.get(location, headers=headers, timeout=60).json()["job"]
            assert job["state"] in ("queued", "running"), job  # not done before the kill
            return job if job["state"] == "running" and job["progress"].get("done") else None

        seen = until("the job to run and save a community's progress", running)
        proc.send_signal(signal.SIGKILL)
        proc.wait()

    with open_sample_store(sample_target) as store:
        killed = store.job(job_id)
        assert killed.state == "running", "the job ended before the kill: partition more"
        assert (
            killed.progress["total"] == 13 and killed.progress["done"] >= seen["progress"]["done"]
        )
        assert killed.progress["done"] < 13 or killed.progress["stage"] == "joining"
        assert len(store.plans()) == plans_before  # nothing half-written

    with server_process(sample_target, env, free_port()) as (_, url):

        def finished() -> dict[str, Any] | None:
            job: dict[str, Any] = httpx.get(
                f"{url}/api/jobs/{job_id}", headers=headers, timeout=60
            ).json()["job"]
            return job if job["state"] in ("done", "failed") else None

        job = until("the job to complete on the new server", finished)
        assert job["state"] == "done", job
        assert job["attempts"] == 2  # claimed by the killed server, then by the new one
        assert job["progress"]["done"] == job["progress"]["total"] == 13
        plans = httpx.get(f"{url}/api/plans", headers=headers, timeout=60).json()["plans"]

    assert len(plans) == plans_before + 1  # exactly one plan: the job's
    assert plans[-1]["id"] == job["result_plan"] and plans[-1]["name"] == "南坪 2027"
    assert plans[-1]["params"]["job"] == job_id and plans[-1]["created_by"] == PLANNER
    with open_sample_store(sample_target) as store:
        assert len(store.plans()) == plans_before + 1
        communities = store.plan(job["result_plan"]).communities
        assert len(communities) == 13 and all(c.startswith(STREET[:9]) for c in communities)
