"""Grid locks kept by the server, on both engines: listed with the plan, seen by everyone, and
every edit that would change a locked grid refused with 409 naming the grid and who locked it."""

from __future__ import annotations

from typing import Any

from seeded import World, seeded_gpkg, seeded_postgis, world

__all__ = ["seeded_gpkg", "seeded_postgis", "world"]


def _draft(w: World) -> tuple[str, list[str]]:
    made = w.client.post("/api/plans", json={"mode": "copy"}, headers=w.as_role("planner"))
    assert made.status_code == 201, made.text
    plan = made.json()["plan"]["id"]
    listed = w.client.get(f"/api/plans/{plan}", headers=w.as_role("planner")).json()
    return plan, sorted(f["properties"]["code"] for f in listed["grids"]["features"])


def _lock(w: World, plan: str, code: str, role: str, method: str = "PUT") -> Any:
    return w.client.request(method, f"/api/plans/{plan}/grids/{code}/lock", headers=w.as_role(role))


def _merge(w: World, plan: str, base: int, a: str, b: str) -> Any:
    body = {"operation": "merge", "base_revision": base, "grids": [a, b]}
    return w.client.post(f"/api/plans/{plan}/edits", json=body, headers=w.as_role("planner"))


def test_a_locked_grid_refuses_every_edit_until_unlocked(world: World) -> None:
    plan, codes = _draft(world)
    a, b = codes[:2]
    locked = _lock(world, plan, a, "planner")
    assert locked.status_code == 200, locked.text
    assert [(x["grid"], x["locked_by"]) for x in locked.json()["locks"]] == [(a, "paula")]
    # another user sees it with the plan, and cannot take it
    seen = world.client.get(f"/api/plans/{plan}", headers=world.as_role("admin")).json()
    assert [(x["grid"], x["locked_by"]) for x in seen["locks"]] == [(a, "paula")]
    taken = _lock(world, plan, a, "admin")
    assert taken.status_code == 409 and "paula" in taken.json()["detail"]

    refused = _merge(world, plan, 1, a, b)
    assert refused.status_code == 409, refused.text
    body = refused.json()
    assert body["error"] == "grid_locked" and body["grid"] == a and body["locked_by"] == "paula"
    assert a in body["detail"] and "paula" in body["detail"] and "锁定" in body["detail"]
    assert world.store.plan(plan).head == 1  # nothing written

    assert _lock(world, plan, a, "planner", "DELETE").json()["locks"] == []
    assert _merge(world, plan, 1, a, b).status_code == 201


def test_locks_are_checked_and_scoped(world: World) -> None:
    plan, codes = _draft(world)
    anon = world.client.put(f"/api/plans/{plan}/grids/{codes[0]}/lock")
    assert anon.status_code == 401
    staff = _lock(world, plan, codes[0], "staff")
    assert staff.status_code == 403
    other = _lock(world, plan, "999999999999001", "planner")
    assert other.status_code == 422 and "grid_code" in other.json()["detail"]
    bad = _lock(world, plan, "abc", "planner")
    assert bad.status_code == 422
    assert _lock(world, "404", codes[0], "planner").status_code == 404
    published = _lock(world, world.plan_id, codes[0], "planner")
    assert published.status_code == 422 and "draft" in published.json()["detail"]
    # an admin may take a planner's lock away
    assert _lock(world, plan, codes[0], "planner").status_code == 200
    assert _lock(world, plan, codes[0], "admin", "DELETE").json()["locks"] == []
