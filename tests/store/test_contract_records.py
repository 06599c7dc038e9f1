"""Staff assignments, incidents and their events, users and the audit log."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from gridmap.errors import ConflictError, InputError, NotFoundError
from gridmap.store import Store
from gridmap.store.contract import IncidentEvent, StaleVersionError

G1, G2 = "500108003002001", "500108003002002"


def with_staff(store: Store) -> Store:
    people = pd.DataFrame(
        {"id": ["P1", "P2"], "name": ["张某一", "李某二"], "role": ["police"] * 2}
    )
    store.write({"staff": people}, actor="im")
    return store


def test_a_person_may_hold_roles_in_several_grids(store: Store) -> None:
    with_staff(store)
    store.assign_staff("P1", G1, "police", actor="alice")
    store.assign_staff("P1", G2, "police", actor="alice")
    store.assign_staff("P1", G1, "grid_head", actor="alice")
    store.assign_staff("P1", G1, "police", actor="alice")  # idempotent
    store.assign_staff("P2", G2, "mediation", actor="bob")
    mine = store.staff_assignments(staff_id="P1")
    assert sorted((a.grid_code, a.role) for a in mine) == [
        (G1, "grid_head"),
        (G1, "police"),
        (G2, "police"),
    ]
    assert all(a.assigned_by == "alice" and a.assigned_at.tzinfo for a in mine)
    assert sorted(a.staff_id for a in store.staff_assignments(grid_code=G2)) == ["P1", "P2"]
    assert len(store.staff_assignments()) == 4
    store.unassign_staff("P1", G2, "police", actor="alice")
    assert [a.grid_code for a in store.staff_assignments(grid_code=G2)] == [G2]
    with pytest.raises(NotFoundError, match="P1"):
        store.unassign_staff("P1", G2, "police", actor="alice")
    with pytest.raises(NotFoundError, match="P9"):
        store.assign_staff("P9", G1, "police", actor="alice")
    actions = [a.action for a in store.audit()]
    assert actions.count("assign_staff") >= 4 and actions.count("unassign_staff") == 1


def report(store: Store, **extra: object) -> str:
    fields = {
        "category": "市容环境/暴露垃圾",
        "status": "reported",
        "description": "垃圾堆放",
        "lon": 106.561,
        "lat": 29.521,
        "grid_code": G1,
        "reporter_contact": "13800000000",
        **extra,
    }
    return store.add_incident(fields, actor="resident").id


def test_incidents_and_their_events(store: Store) -> None:
    deadline = dt.datetime(2026, 3, 2, 8, tzinfo=dt.UTC)
    first = report(store, deadline=deadline)
    incident = store.incident(first)
    assert incident.version == 1 and incident.created_at == incident.updated_at
    assert incident.fields["category"] == "市容环境/暴露垃圾"
    assert incident.fields["deadline"] == deadline and incident.fields["lon"] == 106.561
    assert incident.fields["assignee"] is None
    [reported] = store.incident_events(first)
    assert (reported.seq, reported.action, reported.actor) == (1, "report", "resident")
    step = IncidentEvent(
        first,
        0,
        dt.datetime.now(dt.UTC),
        "dispatcher",
        "dispatch",
        "reported",
        "dispatched",
        "to P1",
    )
    updated = store.update_incident(
        first, 1, {"status": "dispatched", "assignee": "P1"}, actor="dispatcher", event=step
    )
    assert updated.version == 2 and updated.fields["status"] == "dispatched"
    assert updated.updated_at >= incident.updated_at
    events = store.incident_events(first)
    assert [(e.seq, e.action, e.to_status, e.note) for e in events] == [
        (1, "report", "reported", None),
        (2, "dispatch", "dispatched", "to P1"),
    ]
    assert events[1].incident_id == first


def test_a_stale_incident_update_is_refused(store: Store) -> None:
    first = report(store)
    step = IncidentEvent(first, 0, dt.datetime.now(dt.UTC), "a", "register", None, "registered")
    store.update_incident(first, 1, {"status": "registered"}, actor="a", event=step)
    with pytest.raises(StaleVersionError) as caught:
        store.update_incident(first, 1, {"status": "closed"}, actor="b", event=step)
    assert caught.value.current.version == 2 and caught.value.expected == 1
    assert store.incident(first).fields["status"] == "registered"
    assert len(store.incident_events(first)) == 2


def test_incident_filters(store: Store) -> None:
    t0 = dt.datetime.now(dt.UTC)
    a = report(store)
    b = report(store, grid_code=G2, status="closed", lon=106.70, lat=29.60)
    c = report(store, category="街面秩序/占道经营")
    assert [i.id for i in store.incidents()] == [a, b, c]
    assert [i.id for i in store.incidents(grid_code=G2)] == [b]
    assert [i.id for i in store.incidents(status="closed")] == [b]
    assert [i.id for i in store.incidents(category="街面秩序/占道经营")] == [c]
    assert [i.id for i in store.incidents(bbox=(106.69, 29.59, 106.71, 29.61))] == [b]
    assert len(store.incidents(since=t0 - dt.timedelta(minutes=1))) == 3
    assert store.incidents(until=t0 - dt.timedelta(minutes=1)) == []
    assert store.incidents(grid_code=G1, status="closed") == []


def test_incident_errors(store: Store) -> None:
    with pytest.raises(InputError, match="colour"):
        store.add_incident({"colour": "red"}, actor="a")
    with pytest.raises(InputError, match="time zone"):
        store.add_incident({"deadline": dt.datetime(2026, 3, 1)}, actor="a")
    with pytest.raises(InputError, match="time zone"):
        store.incidents(since=dt.datetime(2026, 3, 1))
    with pytest.raises(NotFoundError, match="99"):
        store.incident("99")
    with pytest.raises(NotFoundError, match="99"):
        store.incident_events("99")
    step = IncidentEvent("99", 0, dt.datetime.now(dt.UTC), "a", "register", None, None)
    with pytest.raises(NotFoundError, match="99"):
        store.update_incident("99", 1, {}, actor="a", event=step)
    assert store.incidents() == []


def test_users(store: Store) -> None:
    made = store.add_user("wang", "planner", "argon2$hash", actor="admin")
    store.add_user("chen", "staff", "argon2$other", actor="admin")
    assert (made.name, made.role, made.password_hash, made.active) == (
        "wang",
        "planner",
        "argon2$hash",
        True,
    )
    assert store.user("wang") == made
    assert [u.name for u in store.users()] == ["chen", "wang"]
    with pytest.raises(ConflictError, match="wang"):
        store.add_user("wang", "admin", "x", actor="admin")
    assert store.user("wang").role == "planner"
    with pytest.raises(NotFoundError, match="li"):
        store.user("li")


def test_audit_log(store: Store) -> None:
    t0 = dt.datetime.now(dt.UTC)
    store.add_user("wang", "planner", "h", actor="admin")
    report(store)
    entries = store.audit()
    assert [e.seq for e in entries] == sorted(e.seq for e in entries)
    assert [(e.actor, e.action, e.outcome) for e in entries] == [
        ("admin", "add_user", "ok"),
        ("resident", "add_incident", "ok"),
    ]
    assert all(e.at >= t0 - dt.timedelta(seconds=1) for e in entries)
    assert store.audit(since=entries[1].at)[0].action == "add_incident"
    assert store.audit(since=t0 + dt.timedelta(days=1)) == []
    assert store.audit(plan_id="1") == []


def test_events_of_the_incidents_of_a_period(store: Store) -> None:
    t0 = dt.datetime.now(dt.UTC)
    a, b = report(store), report(store)
    step = IncidentEvent(a, 0, dt.datetime.now(dt.UTC), "x", "register", "reported", "registered")
    store.update_incident(a, 1, {"status": "registered"}, actor="x", event=step)
    got = store.events_of_incidents(since=t0 - dt.timedelta(minutes=1))
    assert sorted((e.incident_id, e.seq, e.action) for e in got) == sorted(
        [(a, 1, "report"), (a, 2, "register"), (b, 1, "report")]
    )
    assert [e.seq for e in got if e.incident_id == a] == [1, 2]
    assert store.events_of_incidents(until=t0 - dt.timedelta(minutes=1)) == []


def test_subsidy_rules_are_replaced_whole_and_audited(store: Store) -> None:
    assert store.subsidy_rules() is None
    rules = {
        "base_yuan": 100,
        "assessed_yuan": 100,
        "full_share": 0.9,
        "pro_rata": True,
        "reopened_deduction_yuan": 20,
    }
    saved = store.set_subsidy_rules(rules, actor="ada")
    assert {k: saved[k] for k in rules} == rules and saved["updated_by"] == "ada"
    again = store.set_subsidy_rules(rules | {"pro_rata": False, "full_share": 1}, actor="bo")
    assert store.subsidy_rules() == again
    assert again["pro_rata"] is False and again["full_share"] == 1.0
    assert [e.action for e in store.audit()][-2:] == ["set_subsidy_rules"] * 2
    for bad, word in (
        ({**rules, "full_share": 1.2}, "full_share"),
        ({**rules, "base_yuan": "100"}, "base_yuan"),
        ({**rules, "pro_rata": 1}, "pro_rata"),
        ({k: v for k, v in rules.items() if k != "assessed_yuan"}, "assessed_yuan"),
        ({**rules, "colour": 1}, "colour"),
    ):
        with pytest.raises(InputError, match=word):
            store.set_subsidy_rules(bad, actor="ada")
    assert store.subsidy_rules() == again
