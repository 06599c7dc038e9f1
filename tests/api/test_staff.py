"""Grid staff through the API on both engines: CRUD with etags (no lost update), assignments
by role, and the grids missing one of the five roles."""

from __future__ import annotations

from typing import Any

from seeded import World, seeded_gpkg, seeded_postgis, world

__all__ = ["seeded_gpkg", "seeded_postgis", "world"]

FIVE = ["police", "city_management", "floating_population", "mediation", "safety_fire"]


def person(**extra: Any) -> dict[str, Any]:
    return {
        "id": "S9",
        "name": "孙九",
        "role": "safety_fire",
        "phone_public": "023-62880009",
        "phone_private": "13900009999",
        **extra,
    }


def test_add_read_change_delete(world: World) -> None:
    admin = world.as_role("admin")
    made = world.client.post("/api/staff", json=person(), headers=admin)
    assert made.status_code == 201, made.text
    etag = made.json()["etag"]
    taken = world.client.post("/api/staff", json=person(name="别人"), headers=admin)
    assert taken.status_code == 409
    got = world.client.get("/api/staff/S9", headers=world.as_role("staff")).json()
    assert got["name"] == "孙九" and got["etag"] == etag and got["assignments"] == []
    changed = world.client.patch(
        "/api/staff/S9", json={"etag": etag, "phone_public": "023-62889999"}, headers=admin
    )
    assert changed.status_code == 200 and changed.json()["phone_public"] == "023-62889999"
    assert changed.json()["name"] == "孙九" and changed.json()["etag"] != etag
    others = {r["id"] for r in world.client.get("/api/staff", headers=admin).json()["staff"]}
    assert others == {"S0", "S1", "S2", "S3", "S4", "S9"}  # nobody else was touched
    gone = world.client.delete(f"/api/staff/S9?etag={changed.json()['etag']}", headers=admin)
    assert gone.status_code == 204
    assert world.client.get("/api/staff/S9", headers=admin).status_code == 404


def test_a_change_from_a_stale_read_is_409_and_not_applied(world: World) -> None:
    admin = world.as_role("admin")
    etag = world.client.get("/api/staff/S1", headers=admin).json()["etag"]
    first = world.client.patch(
        "/api/staff/S1", json={"etag": etag, "duties": "夜间巡查"}, headers=admin
    )
    assert first.status_code == 200
    late = world.client.patch("/api/staff/S1", json={"etag": etag, "name": "改名"}, headers=admin)
    assert late.status_code == 409
    assert late.json()["current"]["duties"] == "夜间巡查"
    now = world.client.get("/api/staff/S1", headers=admin).json()
    assert now["name"] == "李四" and now["duties"] == "夜间巡查"
    stale_delete = world.client.delete(f"/api/staff/S1?etag={etag}", headers=admin)
    assert stale_delete.status_code == 409
    assert world.client.get("/api/staff/S1", headers=admin).status_code == 200


def test_unknown_role_is_refused(world: World) -> None:
    admin = world.as_role("admin")
    assert (
        world.client.post("/api/staff", json=person(role="boss"), headers=admin).status_code == 422
    )
    assignment = {"grid_code": world.grid_codes[1], "role": "boss"}
    answer = world.client.post("/api/staff/S0/assignments", json=assignment, headers=admin)
    assert answer.status_code == 422


def test_assignments_and_missing_roles(world: World) -> None:
    staff, admin = world.as_role("staff"), world.as_role("admin")
    missing = world.client.get("/api/staff/missing-roles", headers=staff).json()
    assert missing["roles"] == FIVE
    by_grid = {g["grid_code"]: g["missing"] for g in missing["grids"]}
    first = world.grid_codes[0]
    assert by_grid[first] == ["safety_fire"]  # the seed gave it four of the five (and a head)
    assert all(by_grid[c] == FIVE for c in world.grid_codes[1:])
    world.client.post("/api/staff", json=person(), headers=admin)
    given = world.client.post(
        "/api/staff/S9/assignments", json={"grid_code": first, "role": "safety_fire"}, headers=admin
    )
    assert given.status_code == 201
    assert given.json()["assignments"][0]["grid_code"] == first
    missing = world.client.get("/api/staff/missing-roles", headers=staff).json()
    assert first not in {g["grid_code"] for g in missing["grids"]}
    # The public board (lookup) shows the new person after the change, without private phones.
    rows = world.store.grids_at()
    inside = rows[rows["code"] == first].geometry.iloc[0].representative_point()
    board = world.client.get(f"/api/lookup?lon={inside.x}&lat={inside.y}")
    assert board.json()["grid"]["code"] == first and "孙九" in board.text
    assert "13900009999" not in board.text
    taken = world.client.delete(
        f"/api/staff/S9/assignments?grid_code={first}&role=safety_fire", headers=admin
    )
    assert taken.status_code == 204
    again = world.client.delete(
        f"/api/staff/S9/assignments?grid_code={first}&role=safety_fire", headers=admin
    )
    assert again.status_code == 404
    nowhere = world.client.post(
        "/api/staff/S9/assignments",
        json={"grid_code": "500108003002999", "role": "police"},
        headers=admin,
    )
    assert nowhere.status_code == 422


def test_deleting_a_person_takes_their_roles(world: World) -> None:
    admin = world.as_role("admin")
    etag = world.client.get("/api/staff/S1", headers=admin).json()["etag"]
    assert world.client.delete(f"/api/staff/S1?etag={etag}", headers=admin).status_code == 204
    assert world.store.staff_assignments(staff_id="S1") == []
    missing = world.client.get("/api/staff/missing-roles", headers=admin).json()
    first = next(g for g in missing["grids"] if g["grid_code"] == world.grid_codes[0])
    assert first["missing"] == ["police", "safety_fire"]


def test_building_and_group_leaders_are_optional_roles_shown_after_the_staff(world: World) -> None:
    staff, admin = world.as_role("staff"), world.as_role("admin")
    first = world.grid_codes[0]
    leader = person(id="S8", name="楼栋长老周", role="building_leader", phone_private=None)
    assert world.client.post("/api/staff", json=leader, headers=admin).status_code == 201
    group = person(id="S7", name="组长小吴", role="group_leader", phone_private=None)
    assert world.client.post("/api/staff", json=group, headers=admin).status_code == 201
    for sid, role in (("S8", "building_leader"), ("S7", "group_leader")):
        given = world.client.post(
            f"/api/staff/{sid}/assignments", json={"grid_code": first, "role": role}, headers=admin
        )
        assert given.status_code == 201, given.text
    missing = world.client.get("/api/staff/missing-roles", headers=staff).json()
    assert "building_leader" not in missing["roles"] and "group_leader" not in missing["roles"]
    rows = world.store.grids_at()
    inside = rows[rows["code"] == first].geometry.iloc[0].representative_point()
    board = world.client.get(f"/api/lookup?lon={inside.x}&lat={inside.y}").json()["grid"]["staff"]
    roles = [p["role"] for p in board]
    assert roles[-2:] == ["building_leader", "group_leader"], roles
    assert [p["role_name"] for p in board[-2:]] == ["楼栋长", "居民小组长"]
