"""Issue 12 item 9: staff and planners work in the streets or communities an admin set as their
scope; admins are city-wide (both engines)."""

from __future__ import annotations

import sys
from pathlib import Path

from typer.testing import CliRunner

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "api"))  # the seeded world
import handmade
from seeded import PRIVATE_PHONES, ROLE_USERS, World, seeded_gpkg, seeded_postgis, world

from gridmap.cli import app as cli

__all__ = ["seeded_gpkg", "seeded_postgis", "world"]


def scope(world: World, role: str, codes: list[str]) -> None:
    answer = world.client.patch(
        f"/api/users/{ROLE_USERS[role]}", json={"scope": codes}, headers=world.as_role("admin")
    )
    assert answer.status_code == 200 and answer.json()["scope"] == sorted(codes), answer.text


def test_staff_see_and_change_only_their_communities(world: World) -> None:
    staff = world.as_role("staff")
    assert world.client.get("/api/incidents", headers=staff).json()["count"] == 1
    scope(world, "staff", [handmade.C2])  # the seeded incident and staff are in C1
    listed = world.client.get("/api/incidents", headers=staff).json()
    assert listed["count"] == 0 and listed["incidents"] == []
    one = world.client.get(f"/api/incidents/{world.incident_id}", headers=staff)
    assert one.status_code == 403 and handmade.C2 in one.json()["detail"]
    change = world.client.patch(
        f"/api/incidents/{world.incident_id}",
        json={"version": 1, "action": "register"},
        headers=staff,
    )
    assert change.status_code == 403
    layer = world.client.get("/api/layers/incidents", headers=staff).json()
    assert layer["features"] == []
    people = world.client.get("/api/staff", headers=staff)
    assert people.status_code == 200 and not any(p in people.text for p in PRIVATE_PHONES)
    lon, lat = handmade.point_in(0)
    elsewhere = world.client.post(
        "/api/incidents", json={"lon": lon, "lat": lat, "category": "x"}, headers=staff
    )
    assert elsewhere.status_code == 403
    lon, lat = handmade.point_in(1)
    mine = world.client.post(
        "/api/incidents", json={"lon": lon, "lat": lat, "category": "x"}, headers=staff
    )
    assert mine.status_code == 201, mine.text
    # the same on the street: the whole street is in scope again
    scope(world, "staff", [handmade.STREET])
    assert world.client.get("/api/incidents", headers=staff).json()["count"] == 2
    admin = world.client.get("/api/incidents", headers=world.as_role("admin")).json()
    assert admin["count"] == 2


def test_planners_work_only_on_plans_of_their_communities(world: World) -> None:
    planner = world.as_role("planner")
    scope(world, "planner", [handmade.C2])  # the published plan covers C1 and C2
    assert world.client.get("/api/plans", headers=planner).json()["plans"] == []
    assert world.client.get(f"/api/plans/{world.plan_id}", headers=planner).status_code == 403
    copy = world.client.post("/api/plans", json={"mode": "copy"}, headers=planner)
    assert copy.status_code == 403
    wide = world.client.post("/api/plans", json={"mode": "partition"}, headers=planner)
    assert wide.status_code == 422 and "communities" in wide.json()["detail"]
    other = world.client.post(
        "/api/plans", json={"mode": "partition", "communities": [handmade.C1]}, headers=planner
    )
    assert other.status_code == 403
    admin = world.as_role("admin")
    draft = world.client.post("/api/plans", json={"mode": "copy"}, headers=admin).json()
    edit = world.client.post(
        f"/api/plans/{draft['plan']['id']}/edits",
        json={"operation": "merge", "base_revision": 1, "grids": world.grid_codes[:2]},
        headers=planner,
    )
    assert edit.status_code == 403
    assert world.client.get("/api/plans", headers=admin).json()["plans"]


def test_the_cli_sets_and_clears_a_scope(world: World) -> None:
    where = (
        ["--database-url", world.settings.database_url]
        if world.settings.database_url
        else ["--workspace", str(world.settings.workspace)]
    )
    name = ROLE_USERS["staff"]
    done = CliRunner().invoke(cli, ["user", "set", name, "--scope", handmade.STREET, *where])
    assert done.exit_code == 0, done.output
    assert world.store.user(name).scope == (handmade.STREET,)
    bad = CliRunner().invoke(cli, ["user", "set", name, "--scope", "5001", *where])
    assert bad.exit_code == 2 and "12-digit" in bad.output
    cleared = CliRunner().invoke(cli, ["user", "set", name, "--city-wide", *where])
    assert cleared.exit_code == 0 and world.store.user(name).scope == ()
