"""The case workflow's roles, return paths, extensions, departments and evaluation through the
API, on both engines: each workflow role takes its own steps only (403 naming the stage and the
role needed), ``actions`` lists what the signed-in user may do, 退回, 延期申请 and 重派 work."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from seeded import World, seeded_gpkg, seeded_postgis, world

from gridmap.cases import WorkingCalendar

__all__ = ["seeded_gpkg", "seeded_postgis", "world"]

CAL = WorkingCalendar(weekdays_when_unknown=True)


def step(w: World, role: str, incident: dict[str, Any], action: str, **extra: Any) -> Any:
    body = {"version": incident["version"], "action": action, **extra}
    return w.client.patch(f"/api/incidents/{incident['id']}", json=body, headers=w.as_role(role))


def ok(w: World, role: str, incident: dict[str, Any], action: str, **extra: Any) -> dict:  # type: ignore[type-arg]
    answer = step(w, role, incident, action, **extra)
    assert answer.status_code == 200, (role, action, answer.text)
    return answer.json()["incident"]  # type: ignore[no-any-return]


def seeded(w: World) -> dict[str, Any]:
    got = w.client.get(f"/api/incidents/{w.incident_id}", headers=w.as_role("acceptor"))
    return got.json()["incident"]  # type: ignore[no-any-return]


def actions(w: World, role: str, incident_id: str) -> list[str]:
    got = w.client.get(f"/api/incidents/{incident_id}", headers=w.as_role(role)).json()
    return [a["action"] for a in got["incident"]["actions"]]


# The roles that must be refused at each status, and one step of that status to try.
REFUSED = {
    "reported": ("register", ["dispatcher", "handler", "supervisor", "staff"]),
    "registered": ("dispatch", ["acceptor", "handler", "supervisor"]),
    "dispatched": ("accept", ["acceptor", "dispatcher", "supervisor", "wuye_handler"]),
    "handled": ("verify", ["acceptor", "dispatcher", "handler"]),
}


def test_each_role_takes_its_steps_and_is_refused_the_others(world: World) -> None:
    incident = seeded(world)
    extra = {"dispatch": {"department": "chengguan"}}
    path = [
        ("acceptor", "register"),
        ("dispatcher", "dispatch"),
        ("handler", "accept"),
        ("handler", "finish"),
        ("supervisor", "verify"),
        ("supervisor", "close"),
        ("supervisor", "evaluate"),
    ]
    for role, action in path:
        status = incident["status"]
        if status in REFUSED:
            tried, refused = REFUSED[status]
            for other in refused:
                assert tried not in actions(world, other, incident["id"]), (other, status)
                answer = step(world, other, incident, tried, **extra.get(tried, {}))
                assert answer.status_code == 403, (other, tried, answer.text)
                detail = answer.json()["detail"]
                assert "权限不足" in detail and tried in detail, detail
                if other != "wuye_handler":  # names the role the stage needs
                    role_needed = {"register": "acceptor", "dispatch": "dispatcher",
                                   "accept": "handler", "verify": "supervisor"}[tried]  # fmt: skip
                    assert role_needed in detail, detail
            assert world.store.incident(incident["id"]).version == incident["version"]
        assert action in actions(world, role, incident["id"]), (role, status)
        kwargs = extra.get(action, {}) | ({"satisfaction": 5} if action == "evaluate" else {})
        incident = ok(world, role, incident, action, **kwargs)
    assert incident["status"] == "evaluated" and incident["satisfaction"] == 5
    assert incident["department"] == "chengguan" and incident["actions"] == []
    # an admin may take any step
    other = ok(world, "admin", seeded_new(world), "register")
    assert other["status"] == "registered"


def seeded_new(w: World) -> dict[str, Any]:
    import handmade

    lon, lat = handmade.point_in(0, 0.3, 0.3)
    body = {"lon": lon, "lat": lat, "category": "市容环境/暴露垃圾"}
    made = w.client.post("/api/incidents", json=body, headers=w.as_role("acceptor"))
    assert made.status_code == 201, made.text
    return made.json()["incident"]  # type: ignore[no-any-return]


def test_return_redispatch_and_reject_paths(world: World) -> None:
    incident = ok(world, "acceptor", seeded(world), "register")
    incident = ok(world, "dispatcher", incident, "dispatch", department="wuye")
    # 城管's handler is not the property company's: refused, and shown no button
    assert step(world, "handler", incident, "return", note="不归我们").status_code == 403
    assert actions(world, "wuye_handler", incident["id"]) == ["accept", "return"]
    no_reason = step(world, "wuye_handler", incident, "return")
    assert no_reason.status_code == 422 and "note" in no_reason.json()["detail"]
    incident = ok(world, "wuye_handler", incident, "return", note="非物业管辖, 属城管")
    assert incident["status"] == "registered" and incident["department"] is None
    incident = ok(world, "dispatcher", incident, "dispatch", department="chengguan")
    incident = ok(world, "handler", incident, "accept")
    incident = ok(world, "dispatcher", incident, "redispatch", assignee="S1")
    assert incident["status"] == "dispatched" and incident["assignee"] == "S1"
    assert incident["department"] is None
    assert step(world, "handler", incident, "accept").status_code == 403  # no longer 城管's
    incident = ok(world, "grid_handler", incident, "accept")
    incident = ok(world, "grid_handler", incident, "finish", note="已清运")
    incident = ok(world, "supervisor", incident, "reject", note="未清理干净")
    assert incident["status"] == "handling"
    events = world.client.get(
        f"/api/incidents/{incident['id']}", headers=world.as_role("supervisor")
    ).json()["events"]
    trail = [e["action"] for e in events]
    assert trail == [
        "report", "register", "dispatch", "return", "dispatch", "accept", "redispatch",
        "accept", "finish", "reject",
    ]  # fmt: skip
    assert events[3]["actor"] == "wes" and "非物业管辖" in events[3]["note"]


def test_an_extension_moves_the_stage_deadline_by_working_hours(world: World) -> None:
    incident = ok(world, "acceptor", seeded(world), "register")
    incident = ok(world, "dispatcher", incident, "dispatch", assignee="S2")
    incident = ok(world, "grid_handler", incident, "accept")
    before = dt.datetime.fromisoformat(incident["stage_deadline"])
    assert "approve_extension" not in actions(world, "dispatcher", incident["id"])
    asked = step(world, "grid_handler", incident, "request_extension", note="需协调物业")
    assert asked.status_code == 422 and "hours" in asked.json()["detail"]
    incident = ok(world, "grid_handler", incident, "request_extension", hours=16, note="需协调")
    assert incident["extension_hours"] == 16 and incident["status"] == "handling"
    again = step(world, "grid_handler", incident, "request_extension", hours=8, note="再延")
    assert again.status_code == 422 and "pending" in again.json()["detail"]
    assert step(world, "grid_handler", incident, "approve_extension").status_code == 403
    assert "approve_extension" in actions(world, "dispatcher", incident["id"])
    incident = ok(world, "dispatcher", incident, "approve_extension", hours=8)
    after = dt.datetime.fromisoformat(incident["stage_deadline"])
    assert after == CAL.add_working_hours(before, 8)
    assert CAL.working_hours_between(before, after) == pytest.approx(8)
    assert dt.datetime.fromisoformat(incident["deadline"]) >= after
    assert incident["extension_hours"] is None
    # a second request, refused: the deadline stays
    incident = ok(world, "grid_handler", incident, "request_extension", hours=4, note="还需要")
    incident = ok(world, "dispatcher", incident, "refuse_extension", note="按期完成")
    assert incident["stage_deadline"] == after.isoformat() and incident["extension_hours"] is None


def test_stage_flags_and_actions_are_in_the_json(world: World) -> None:
    listed = world.client.get("/api/incidents", headers=world.as_role("acceptor")).json()
    [incident] = listed["incidents"]
    assert incident["stage"] == "受理" and incident["stage_en"] == "intake"
    assert {"stage_deadline", "stage_overdue", "due_soon", "stage_hours_left"} <= set(incident)
    assert [a["action"] for a in incident["actions"]] == ["register", "dismiss"]
    assert incident["actions"][0]["label"] == "立案"
    plain = world.client.get("/api/incidents", headers=world.as_role("staff")).json()
    assert plain["incidents"][0]["actions"] == []  # staff without a workflow role: none


def test_departments_are_data(world: World) -> None:
    listed = world.client.get("/api/departments", headers=world.as_role("staff"))
    assert [d["code"] for d in listed.json()["departments"]] == ["chengguan", "wuye"]
    assert world.client.get("/api/departments").status_code == 401
    body = {"name": "派出所", "phone": "110"}
    assert (
        world.client.put("/api/departments/paichusuo", json=body, headers=world.as_role("staff"))
    ).status_code == 403
    made = world.client.put("/api/departments/paichusuo", json=body, headers=world.as_role("admin"))
    assert made.status_code == 200 and made.json()["name"] == "派出所"
    bad = world.client.put("/api/departments/派出所", json=body, headers=world.as_role("admin"))
    assert bad.status_code == 422
    gone = world.client.delete("/api/departments/paichusuo", headers=world.as_role("admin"))
    assert gone.status_code == 204
    again = world.client.delete("/api/departments/paichusuo", headers=world.as_role("admin"))
    assert again.status_code == 404
    codes = [a.detail.get("code") for a in world.store.audit() if "department" in a.action]
    assert codes[-2:] == ["paichusuo", "paichusuo"]


def test_users_hold_workflow_roles(world: World) -> None:
    admin = world.as_role("admin")
    body = {"name": "lin", "role": "staff", "password": "a long password", "duties": ["handler"],
            "department": "wuye"}  # fmt: skip
    made = world.client.post("/api/users", json=body, headers=admin)
    assert made.status_code == 201 and made.json()["duties"] == ["handler"]
    assert made.json()["department"] == "wuye" and made.json()["role"] == "staff"
    wrong = world.client.post("/api/users", json=body | {"name": "x", "duties": ["boss"]},
                              headers=admin)  # fmt: skip
    assert wrong.status_code == 422
    misspelt = world.client.post("/api/users", json=body | {"name": "y", "department": "wuyee"},
                                 headers=admin)  # fmt: skip
    assert misspelt.status_code == 422 and "'wuyee'" in misspelt.json()["detail"]
    assert "chengguan" in misspelt.json()["detail"]
    moved = world.client.patch("/api/users/lin", json={"department": "nosuch"}, headers=admin)
    assert moved.status_code == 422 and world.store.user("lin").department == "wuye"
    changed = world.client.patch(
        "/api/users/lin", json={"duties": ["supervisor", "acceptor"], "department": ""},
        headers=admin,
    )  # fmt: skip
    assert changed.json()["duties"] == ["acceptor", "supervisor"]
    assert changed.json()["department"] is None
