"""Partitions as background jobs through the API, on both engines: 202 with the job and its
Location, progress and result plan, who may see jobs, bad input named, a failed job's error."""

from __future__ import annotations

import json

import handmade
import pytest
from seeded import World, seeded_gpkg, seeded_postgis, world
from typer.testing import CliRunner

from gridmap.cli import app as cli

__all__ = ["seeded_gpkg", "seeded_postgis", "world"]


def partition(w: World, body: dict[str, object], role: str | None = "planner"):  # type: ignore[no-untyped-def]
    return w.client.post("/api/plans", json={"mode": "partition", **body}, headers=w.as_role(role))


def test_a_partition_answers_202_with_its_job_then_makes_one_plan(world: World) -> None:
    before = {p.id for p in world.store.plans()}
    answer = partition(world, {"communities": [handmade.C1], "name": "东区 2027", "seed": 3})
    assert answer.status_code == 202, answer.text
    queued = answer.json()["job"]
    assert answer.headers["Location"] == f"/api/jobs/{queued['id']}"
    assert queued["kind"] == "partition" and queued["state"] in ("queued", "running", "done")
    assert queued["created_by"] == "paula" and queued["created_at"]
    assert queued["params"]["communities"] == [handmade.C1] and queued["params"]["seed"] == 3
    assert "lease" not in queued and "worker" not in queued  # the workers' business

    job = world.finished_job(answer.headers["Location"])
    assert job["state"] == "done" and job["error"] is None, job
    assert job["started_at"] and job["finished_at"] >= job["started_at"] >= job["created_at"]
    assert job["progress"]["done"] == job["progress"]["total"] == 1
    made = {p.id for p in world.store.plans()} - before
    assert made == {job["result_plan"]}  # exactly one new plan: the job's
    plan = world.store.plan(job["result_plan"])
    assert (plan.name, plan.created_by, plan.communities) == ("东区 2027", "paula", (handmade.C1,))
    assert plan.params["job"] == job["id"] and plan.params["seed"] == 3
    assert job["result"]["grids"] == len(world.store.revision(plan.id).grids)

    listed = world.client.get("/api/jobs", headers=world.as_role("planner")).json()["jobs"]
    assert listed[0]["id"] == job["id"]
    done = world.client.get("/api/jobs?state=done", headers=world.as_role("admin")).json()
    assert [j["id"] for j in done["jobs"]] == [job["id"]]


def test_a_street_is_partitioned_by_its_code(world: World) -> None:
    answer = partition(world, {"division": handmade.STREET})
    assert answer.status_code == 202, answer.text
    assert answer.json()["job"]["params"]["communities"] == sorted([handmade.C1, handmade.C2])
    job = world.finished_job(answer.headers["Location"])
    assert job["state"] == "done" and job["progress"]["total"] == 2
    assert set(world.store.plan(job["result_plan"]).communities) == {handmade.C1, handmade.C2}


@pytest.mark.parametrize(("role", "status"), [(None, 401), ("public", 403), ("staff", 403)])
def test_only_planners_submit_and_see_jobs(world: World, role: str | None, status: int) -> None:
    job = world.store.add_job("partition", {"communities": [handmade.C1]}, actor="paula")
    headers = world.as_role(role)
    assert partition(world, {"communities": [handmade.C1]}, role).status_code == status
    assert world.client.get("/api/jobs", headers=headers).status_code == status
    assert world.client.get(f"/api/jobs/{job.id}", headers=headers).status_code == status
    assert len(world.store.jobs()) == 1  # nothing queued by the refused request


def test_a_planner_sees_only_the_jobs_of_their_scope(world: World) -> None:
    mine = world.store.add_job("partition", {"communities": [handmade.C2]}, actor="ada")
    other = world.store.add_job("partition", {"communities": [handmade.C1]}, actor="ada")
    everything = world.store.add_job("partition", {"communities": None}, actor="ada")
    world.store.update_user("paula", actor="ada", scope=[handmade.C2])
    planner = world.as_role("planner")
    listed = world.client.get("/api/jobs", headers=planner).json()["jobs"]
    assert [j["id"] for j in listed] == [mine.id]
    assert world.client.get(f"/api/jobs/{mine.id}", headers=planner).status_code == 200
    for hidden in (other, everything):
        answer = world.client.get(f"/api/jobs/{hidden.id}", headers=planner)
        assert answer.status_code == 403 and "scope" in answer.json()["detail"]
    admin = world.client.get("/api/jobs", headers=world.as_role("admin")).json()["jobs"]
    assert {j["id"] for j in admin} >= {mine.id, other.id, everything.id}


@pytest.mark.parametrize(
    ("body", "status", "named"),
    [
        ({"communities": ["500108999999"]}, 404, "500108999999"),
        ({"target": 0}, 422, "target"),
        ({"tolerance": 1.5}, 422, "tolerance"),
        ({"division": "5001"}, 422, "division"),
        ({"division": "500199000000"}, 404, "division"),
        ({"division": handmade.STREET, "communities": [handmade.C1]}, 422, "division"),
        ({"communities": ["5" * 13]}, 422, "communities"),
        ({"seed": -1}, 422, "seed"),
    ],
)
def test_bad_input_is_a_4xx_naming_the_parameter(
    world: World, body: dict[str, object], status: int, named: str
) -> None:
    answer = partition(world, body)
    assert answer.status_code == status, answer.text
    assert named in answer.text
    assert world.store.jobs() == []  # nothing queued


def test_unknown_jobs_and_states(world: World) -> None:
    planner = world.as_role("planner")
    for job_id in ("9", "abc", "9" * 40):
        answer = world.client.get(f"/api/jobs/{job_id}", headers=planner)
        assert answer.status_code == 404 and "no job" in answer.json()["detail"]
    bad = world.client.get("/api/jobs?state=sleeping", headers=planner)
    assert bad.status_code == 422 and "state" in bad.text
    assert world.client.get("/api/jobs?limit=0", headers=planner).status_code == 422


def test_a_failed_job_shows_its_error(world: World) -> None:
    # A community that is gone by the time the job runs (the divisions were replaced since it
    # was queued): the worker fails the job and says why.
    job = world.store.add_job(
        "partition",
        {"communities": ["500108999999"], "target": 3000, "tolerance": 0.2, "seed": 0},
        actor="paula",
    )
    before = len(world.store.plans())
    failed = world.finished_job(f"/api/jobs/{job.id}")
    assert failed["state"] == "failed" and failed["result_plan"] is None
    assert "no community 500108999999" in failed["error"]
    assert failed["finished_at"] and len(world.store.plans()) == before


def test_the_cli_lists_the_jobs(world: World) -> None:
    where = (
        ["--database-url", world.settings.database_url]
        if world.settings.database_url
        else ["--workspace", str(world.settings.workspace)]
    )
    job = world.store.add_job("partition", {"communities": [handmade.C1]}, actor="paula")
    listed = CliRunner().invoke(cli, ["jobs", "--json", *where])
    assert listed.exit_code == 0, listed.output
    [row] = json.loads(listed.output)["jobs"]
    assert (row["id"], row["kind"], row["created_by"]) == (job.id, "partition", "paula")
    text = CliRunner().invoke(cli, ["jobs", *where])
    assert text.exit_code == 0 and text.output.split()[:2] == [job.id, "partition"]
    bad = CliRunner().invoke(cli, ["jobs", "--state", "sleeping", *where])
    assert bad.exit_code == 2 and "--state" in bad.output
