"""Incidents through the API on both engines: located at a point (with both grids near a
boundary), filtered, moved through the city-management workflow with events, deadlines and
overdue flags, and guarded by the incident's version."""

from __future__ import annotations

import datetime as dt
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import handmade
import pytest
from seeded import REPORTER_CONTACT, World, seeded_gpkg, seeded_postgis, world

from gridmap.api.workflow import (
    OPEN_STATUSES,
    RETURN_ACTIONS,
    STATUSES,
    deadline_for,
    is_overdue,
    next_status,
)
from gridmap.cases import WorkingCalendar
from gridmap.errors import InputError
from gridmap.store.contract import IncidentEvent

__all__ = ["seeded_gpkg", "seeded_postgis", "world"]


def report(w: World, fx: float, fy: float, community: int = 0, **extra: Any) -> Any:
    lon, lat = handmade.point_in(community, fx, fy)
    body = {"lon": lon, "lat": lat, "category": "市容环境/暴露垃圾", **extra}
    return w.client.post("/api/incidents", json=body, headers=w.as_role("staff"))


# Who takes each step (the workflow roles of the seeded users).
BY = {
    "register": "acceptor",
    "dismiss": "acceptor",
    "dispatch": "dispatcher",
    "accept": "grid_handler",
    "finish": "grid_handler",
    "verify": "supervisor",
    "reject": "supervisor",
    "close": "supervisor",
    "evaluate": "supervisor",
}


def patch(w: World, incident_id: str, body: dict[str, Any], role: str | None = None) -> Any:
    """A PATCH as ``role``; by default as the user whose step ``body["action"]`` is."""
    who = role or BY.get(body.get("action", ""), "staff")
    return w.client.patch(f"/api/incidents/{incident_id}", json=body, headers=w.as_role(who))


def test_report_locates_grid_community_street_and_staff(world: World) -> None:
    answer = report(world, 0.5, 0.5, community=1, reporter_contact="李先生 13800000000")
    assert answer.status_code == 201, answer.text
    body = answer.json()
    incident = body["incident"]
    located = world.client.get(f"/api/lookup?lon={incident['lon']}&lat={incident['lat']}")
    assert incident["grid_code"] == located.json()["grid"]["code"]
    assert incident["community_code"] == handmade.C2 and incident["street_code"] == handmade.STREET
    assert incident["status"] == "reported" and incident["version"] == 1
    assert incident["reporter_contact"] == "李先生 13800000000"
    # 市容环境/暴露垃圾: 2 working hours on the working-day calendar (categories.csv).
    deadline = dt.datetime.fromisoformat(incident["deadline"])
    created = dt.datetime.fromisoformat(incident["created_at"])
    expected = WorkingCalendar(weekdays_when_unknown=True).add_working_hours(created, 2)
    assert abs(deadline - expected) < dt.timedelta(seconds=5)
    stage_due = dt.datetime.fromisoformat(incident["stage_deadline"])
    assert stage_due <= deadline and incident["stage"] == "受理"
    assert not incident["overdue"]
    events = world.store.incident_events(incident["id"])
    assert [(e.action, e.to_status, e.actor) for e in events] == [("report", "reported", "sam")]


def test_staff_of_the_grid_come_with_the_incident(world: World) -> None:
    grid = world.grid_codes[0]
    rows = world.store.grids_at()
    geom = rows[rows["code"] == grid].geometry.iloc[0].representative_point()
    body = {"lon": geom.x, "lat": geom.y, "category": "街面秩序/无照游商"}
    answer = world.client.post("/api/incidents", json=body, headers=world.as_role("staff"))
    assert answer.json()["incident"]["grid_code"] == grid
    staff = answer.json()["responsible"]
    assert {s["role"] for s in staff} == {
        "grid_head", "police", "city_management", "floating_population", "mediation"
    }  # fmt: skip
    assert all("phone_private" not in s for s in staff)
    hours = dt.datetime.fromisoformat(
        answer.json()["incident"]["deadline"]
    ) - dt.datetime.fromisoformat(answer.json()["incident"]["created_at"])
    assert hours <= dt.timedelta(days=4)  # 无照游商: 1 working hour (over a weekend at most)


def test_near_a_boundary_both_grids_are_candidates(world: World) -> None:
    # On the line between the two communities, a metre inside the west one.
    lon, lat = handmade.point_in(1, 0.0, 0.5)
    lon -= 0.00001
    answer = world.client.post(
        "/api/incidents",
        json={"lon": lon, "lat": lat, "category": "市容环境"},
        headers=world.as_role("staff"),
    )
    body = answer.json()
    assert body["near_boundary"] and len(body["candidates"]) == 2
    assert body["incident"]["grid_code"] == body["candidates"][0]
    assert {c[:12] for c in body["candidates"]} == {handmade.C1, handmade.C2}
    # The clerk confirms the other one.
    other = body["candidates"][1]
    fixed = patch(world, body["incident"]["id"], {"version": 1, "grid_code": other})
    assert fixed.status_code == 200, fixed.text
    assert fixed.json()["incident"]["grid_code"] == other
    assert fixed.json()["incident"]["community_code"] == other[:12]
    bogus = patch(world, body["incident"]["id"], {"version": 2, "grid_code": "500108003002999"})
    assert bogus.status_code == 422


def test_a_point_outside_every_grid_is_recorded_without_one(world: World) -> None:
    answer = report(world, 3.0, 0.5)
    assert answer.status_code == 201
    assert answer.json()["incident"]["grid_code"] is None and answer.json()["candidates"] == []


def test_the_whole_cycle_records_each_step(world: World) -> None:
    incident = report(world, 0.3, 0.3).json()["incident"]
    steps = [
        {"action": "register", "note": "立案"},
        {"action": "dispatch", "assignee": "S1"},
        {"action": "accept"},
        {"action": "finish", "note": "已清运"},
        {"action": "reject", "note": "未清理干净"},
        {"action": "finish"},
        {"action": "verify"},
        {"action": "close"},
        {"action": "evaluate", "satisfaction": 4},
    ]
    version = 1
    for step in steps:
        answer = patch(world, incident["id"], {"version": version, **step})
        assert answer.status_code == 200, (step, answer.text)
        version += 1
        assert answer.json()["incident"]["version"] == version
    final = world.client.get(
        f"/api/incidents/{incident['id']}", headers=world.as_role("staff")
    ).json()
    assert final["incident"]["status"] == "evaluated" and final["incident"]["assignee"] == "S1"
    assert final["incident"]["satisfaction"] == 4 and final["incident"]["closed_at"]
    trail = [(e["action"], e["from_status"], e["to_status"]) for e in final["events"]]
    assert trail == [
        ("report", None, "reported"),
        ("register", "reported", "registered"),
        ("dispatch", "registered", "dispatched"),
        ("accept", "dispatched", "handling"),
        ("finish", "handling", "handled"),
        ("reject", "handled", "handling"),
        ("finish", "handling", "handled"),
        ("verify", "handled", "verified"),
        ("close", "verified", "closed"),
        ("evaluate", "closed", "evaluated"),
    ]
    actors = [e["actor"] for e in final["events"]]
    assert actors == ["sam", "amy", "dan", "gus", "gus", "sue", "gus", "sue", "sue", "sue"]
    times = [dt.datetime.fromisoformat(e["at"]) for e in final["events"]]
    assert times == sorted(times)
    late = patch(world, incident["id"], {"version": version, "action": "register"})
    assert late.status_code == 422 and "evaluated" in late.json()["detail"]


@pytest.mark.parametrize(
    ("action", "extra"),
    [("close", {}), ("verify", {}), ("dispatch", {}), ("accept", {}), ("edit", {})],
)
def test_steps_out_of_order_are_refused(world: World, action: str, extra: dict) -> None:  # type: ignore[type-arg]
    answer = patch(world, world.incident_id, {"version": 1, "action": action, **extra})
    assert answer.status_code == 422
    assert world.store.incident(world.incident_id).version == 1
    assert len(world.store.incident_events(world.incident_id)) == 1


def test_dispatch_needs_an_assignee(world: World) -> None:
    assert patch(world, world.incident_id, {"version": 1, "action": "register"}).status_code == 200
    refused = patch(world, world.incident_id, {"version": 2, "action": "dispatch"})
    assert refused.status_code == 422 and "assignee" in refused.json()["detail"]
    both = {"version": 2, "action": "dispatch", "assignee": "S1", "department": "wuye"}
    assert patch(world, world.incident_id, both).status_code == 422
    unknown = {"version": 2, "action": "dispatch", "department": "nosuch"}
    assert "nosuch" in patch(world, world.incident_id, unknown).json()["detail"]
    nobody = {"version": 2, "action": "dispatch", "assignee": "S404"}
    assert patch(world, world.incident_id, nobody).status_code == 422
    assert world.store.incident(world.incident_id).version == 2


def test_stale_version_is_409_with_the_current_incident(world: World) -> None:
    first = patch(world, world.incident_id, {"version": 1, "action": "register"})
    assert first.status_code == 200
    late = patch(world, world.incident_id, {"version": 1, "action": "dismiss"})  # 受理员 too
    assert late.status_code == 409
    body = late.json()
    assert body["error"] == "stale_version" and body["current"]["version"] == 2
    assert body["current"]["status"] == "registered"
    assert world.store.incident(world.incident_id).fields["status"] == "registered"


def test_two_clerks_racing_on_one_version_one_wins(world: World) -> None:
    bodies = [
        {"version": 1, "action": "register", "note": "A"},
        {"version": 1, "action": "dismiss", "note": "B"},
    ]
    with ThreadPoolExecutor(2) as pool:
        answers = list(pool.map(lambda b: patch(world, world.incident_id, b), bodies))
    assert sorted(a.status_code for a in answers) == [200, 409]
    events = world.store.incident_events(world.incident_id)
    assert len(events) == 2 and world.store.incident(world.incident_id).version == 2
    winner = next(a for a in answers if a.status_code == 200).json()["incident"]["status"]
    assert world.store.incident(world.incident_id).fields["status"] == winner


def test_filters(world: World) -> None:
    report(world, 0.5, 0.5, community=1)
    report(world, 0.5, 0.5, community=1, category="街面秩序/占道经营")
    staff = world.as_role("staff")

    def ids(query: str) -> list[str]:
        answer = world.client.get(f"/api/incidents?{query}", headers=staff)
        assert answer.status_code == 200, answer.text
        return [i["id"] for i in answer.json()["incidents"]]

    everything = ids("")
    assert len(everything) == 3
    x0, y0 = handmade.point_in(1, 0, 0)
    x1, y1 = handmade.point_in(1, 1, 1)
    assert len(ids(f"bbox={x0},{y0},{x1},{y1}")) == 2
    assert ids("category=街面秩序/占道经营") == [everything[-1]]
    assert ids(f"grid={world.grid_codes[0]}") == [world.incident_id]
    assert ids("status=reported") == everything and ids("status=closed") == []
    assert ids("since=2000-01-01T00:00:00Z") == everything
    assert ids("until=2000-01-01T00:00:00Z") == []
    assert ids("overdue=true") == []
    assert ids("limit=2") == everything[:2] and ids("limit=2&offset=2") == everything[2:]
    bad = world.client.get("/api/incidents?bbox=1,2,3", headers=staff)
    assert bad.status_code == 422
    naive = world.client.get("/api/incidents?since=2026-01-01T00:00:00", headers=staff)
    assert naive.status_code == 422


def test_overdue_flag(world: World) -> None:
    long_ago = dt.datetime(2020, 1, 1, tzinfo=dt.UTC)
    made = world.store.add_incident(
        {
            "category": "突发事件",
            "status": "registered",
            "lon": 106.562,
            "lat": 29.522,
            "deadline": long_ago + dt.timedelta(hours=2),
        },
        actor="sam",
        event=IncidentEvent("", 1, long_ago, "sam", "report", None, "registered"),
    )
    answer = world.client.get("/api/incidents?overdue=true", headers=world.as_role("staff"))
    assert [i["id"] for i in answer.json()["incidents"]] == [made.id]


def test_workflow_rules() -> None:
    assert STATUSES[0] == "reported" and STATUSES[-1] == "evaluated"
    assert STATUSES[: STATUSES.index("closed")] == OPEN_STATUSES
    assert {"return", "reject", "redispatch"} <= RETURN_ACTIONS
    assert next_status("handled", "reject") == "handling"
    with pytest.raises(InputError, match="allowed: none"):
        next_status("evaluated", "register")
    at = dt.datetime(2026, 3, 1, tzinfo=dt.UTC)
    hours = {"*": 72, "市容环境": 24, "市容环境/暴露垃圾": 12}
    assert deadline_for("市容环境/暴露垃圾", at, hours) - at == dt.timedelta(hours=12)
    assert deadline_for("市容环境/其他", at, hours) - at == dt.timedelta(hours=24)
    assert deadline_for("其他", at, hours) - at == dt.timedelta(hours=72)
    assert deadline_for("其他", at, {"市容环境": 24}) is None  # no override: working hours
    late = at + dt.timedelta(days=5)
    assert is_overdue("handling", at, at, late) and not is_overdue("handling", late, at, at)
    assert is_overdue("closed", at, late, late) and not is_overdue("closed", late, at, late)
    assert not is_overdue("handling", None, at, late)


def test_reporter_contact_is_kept_for_the_office(world: World) -> None:
    got = world.client.get(f"/api/incidents/{world.incident_id}", headers=world.as_role("staff"))
    assert got.json()["incident"]["reporter_contact"] == REPORTER_CONTACT
