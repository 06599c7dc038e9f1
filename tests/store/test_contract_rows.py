"""Row-level writes held by the database, both engines: incidents moved by a publication in
its transaction, and staff changes checked against the etag read."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest
from storedata import C1, make_plan

from gridmap.errors import InputError, NotFoundError
from gridmap.store import Store
from gridmap.store.contract import IncidentEvent, StaleStaffError

AT = dt.datetime(2026, 3, 1, tzinfo=dt.UTC)


def incident(store: Store, grid: str, status: str = "reported") -> str:
    fields = {"status": status, "lon": 106.5605, "lat": 29.5205, "grid_code": grid}
    first = IncidentEvent("", 1, AT, "sam", "report", None, status)
    return store.add_incident(fields, actor="sam", event=first).id


def test_publish_moves_the_incidents_it_is_given_in_its_transaction(store: Store) -> None:
    plan = make_plan(store, C1)
    moving, staying, leaving = (incident(store, f"{C1}009") for _ in range(3))
    store.publish(
        [plan],
        actor="ada",
        incident_grids={moving: f"{C1}001", staying: f"{C1}009", leaving: None},
    )
    moved = store.incident(moving)
    assert (moved.fields["grid_code"], moved.fields["community_code"], moved.version) == (
        f"{C1}001",
        C1,
        2,
    )
    assert moved.fields["street_code"] == C1[:9] + "000"
    event = store.incident_events(moving)[-1]
    assert (event.action, event.actor, event.from_status, event.to_status) == (
        "regrid",
        "ada",
        "reported",
        "reported",
    )
    assert f"{C1}009" in (event.note or "") and f"plan {plan} revision 1" in (event.note or "")
    assert store.incident(staying).version == 1  # already there: untouched
    assert store.incident(leaving).fields["grid_code"] is None
    regrid = [a for a in store.audit() if a.action == "regrid_incidents"]
    assert [a.detail for a in regrid] == [{"moved": 2, "asked": 3}]


def test_a_publish_naming_an_unknown_incident_publishes_nothing(store: Store) -> None:
    plan = make_plan(store, C1)
    known = incident(store, f"{C1}009")
    with pytest.raises(NotFoundError, match="999"):
        store.publish([plan], actor="ada", incident_grids={known: f"{C1}001", "999": None})
    assert store.publication_history() == [] and store.plan(plan).status == "draft"
    assert store.incident(known).fields["grid_code"] == f"{C1}009"
    with pytest.raises(InputError, match="incident_grids"):
        store.publish([plan], actor="ada", incident_grids={known: 42})  # type: ignore[dict-item]


def test_staff_changes_name_the_etag_they_read(store: Store) -> None:
    staff = pd.DataFrame({"id": ["S1", "S2"], "name": ["张三", "李四"], "role": ["police"] * 2})
    store.write({"staff": staff}, actor="loader")
    read = store.staff_member("S1")
    changed = store.update_staff("S1", read["etag"], {"phone_public": "023-1"}, actor="ada")
    assert changed["phone_public"] == "023-1" and changed["etag"] != read["etag"]
    with pytest.raises(StaleStaffError) as lost:
        store.update_staff("S1", read["etag"], {"name": "王五"}, actor="bob")
    assert lost.value.current == changed
    assert store.staff_member("S1")["name"] == "张三"
    assert [a.outcome for a in store.audit() if a.action == "update_staff"] == ["ok", "conflict"]
    with pytest.raises(InputError, match="unknown field"):
        store.update_staff("S1", changed["etag"], {"id": "S9"}, actor="ada")

    store.assign_staff("S2", f"{C1}001", "police", actor="ada")
    with pytest.raises(StaleStaffError):
        store.remove_staff("S2", read["etag"], actor="ada")
    store.remove_staff("S2", store.staff_member("S2")["etag"], actor="ada")
    with pytest.raises(NotFoundError, match="S2"):
        store.staff_member("S2")
    assert store.staff_assignments(staff_id="S2") == []
    assert list(store.read("staff")["id"]) == ["S1"]
