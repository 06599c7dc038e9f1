"""Issue 12 item 8: users are changed, disabled, reset and removed through the admin API and the
CLI, audited, never leaving the city without an admin; look-alike names are refused (both
engines)."""

from __future__ import annotations

import sys
from pathlib import Path

from typer.testing import CliRunner

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "api"))  # the seeded world
from seeded import PASSWORD, ROLE_USERS, World, seeded_gpkg, seeded_postgis, world

from gridmap.cli import app as cli

__all__ = ["seeded_gpkg", "seeded_postgis", "world"]

NEW_PASSWORD = "a brand new passphrase"


def sign_in(world: World, name: str, password: str) -> int:
    answer = world.client.post("/api/token", data={"username": name, "password": password})
    return answer.status_code


def test_demoting_disabling_and_resetting_hold_at_once(world: World) -> None:
    admin = world.as_role("admin")
    staff_token = world.as_role("staff")
    assert world.client.get("/api/incidents", headers=staff_token).status_code == 200
    demoted = world.client.patch(
        f"/api/users/{ROLE_USERS['staff']}", json={"role": "public"}, headers=admin
    )
    assert demoted.status_code == 200 and demoted.json()["role"] == "public"
    assert world.client.get("/api/incidents", headers=staff_token).status_code == 403

    planner = ROLE_USERS["planner"]
    planner_token = world.as_role("planner")
    off = world.client.patch(f"/api/users/{planner}", json={"active": False}, headers=admin)
    assert off.status_code == 200 and off.json()["active"] is False
    assert world.client.get("/api/plans", headers=planner_token).status_code == 401
    assert sign_in(world, planner, PASSWORD) == 401

    reset = world.client.patch(
        f"/api/users/{planner}", json={"active": True, "password": NEW_PASSWORD}, headers=admin
    )
    assert reset.status_code == 200 and "password" not in reset.text
    assert sign_in(world, planner, PASSWORD) == 401
    assert sign_in(world, planner, NEW_PASSWORD) == 200

    actions = [(e.action, e.detail) for e in world.store.audit() if e.action == "update_user"]
    assert len(actions) == 3
    assert all(NEW_PASSWORD not in str(detail) for _, detail in actions)


def test_removing_a_user_and_keeping_an_admin(world: World) -> None:
    admin = world.as_role("admin")
    gone = world.client.delete(f"/api/users/{ROLE_USERS['public']}", headers=admin)
    assert gone.status_code == 204
    assert sign_in(world, ROLE_USERS["public"], PASSWORD) == 401
    assert any(e.action == "delete_user" for e in world.store.audit())
    me = ROLE_USERS["admin"]
    for change in ({"role": "planner"}, {"active": False}):
        refused = world.client.patch(f"/api/users/{me}", json=change, headers=admin)
        assert refused.status_code == 409 and "last active admin" in refused.json()["detail"]
    assert world.client.delete(f"/api/users/{me}", headers=admin).status_code == 409
    assert (
        world.client.patch("/api/users/nobody", json={"role": "staff"}, headers=admin).status_code
        == 404
    )


def test_look_alike_names_are_refused(world: World) -> None:
    admin = world.as_role("admin")
    for name in ("аda", "ａｄａ"):  # a Cyrillic а; full-width letters
        answer = world.client.post(
            "/api/users", json={"name": name, "role": "staff", "password": PASSWORD}, headers=admin
        )
        assert answer.status_code == 422, (name, answer.text)
        assert name in answer.json()["detail"]
    fine = world.client.post(
        "/api/users", json={"name": "王小明", "role": "staff", "password": PASSWORD}, headers=admin
    )
    assert fine.status_code == 201


def test_the_cli_changes_and_removes_users(world: World) -> None:
    where = (
        ["--database-url", world.settings.database_url]
        if world.settings.database_url
        else ["--workspace", str(world.settings.workspace)]
    )
    runner = CliRunner()
    name = ROLE_USERS["staff"]
    done = runner.invoke(cli, ["user", "set", name, "--role", "planner", "--disable", *where])
    assert done.exit_code == 0, done.output
    changed = world.store.user(name)
    assert (changed.role, changed.active) == ("planner", False)
    reset = runner.invoke(
        cli,
        ["user", "set", name, "--enable", "--password-stdin", *where],
        input=NEW_PASSWORD + "\n",
    )
    assert reset.exit_code == 0, reset.output
    assert sign_in(world, name, NEW_PASSWORD) == 200
    removed = runner.invoke(cli, ["user", "remove", name, "--json", *where])
    assert removed.exit_code == 0, removed.output
    last = runner.invoke(cli, ["user", "remove", ROLE_USERS["admin"], *where])
    assert last.exit_code == 2 and "last active admin" in last.output
