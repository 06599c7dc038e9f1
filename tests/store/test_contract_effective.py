"""Publications from a later date, taking effect once; grid locks of a draft (both engines)."""

from __future__ import annotations

import datetime as dt

import pytest
from storedata import C1, C2, X0, Y0, grids_of, make_plan, moved

from gridmap.errors import ConflictError, InputError
from gridmap.store import Store
from gridmap.store.contract import IncidentEvent

MARCH_1 = dt.datetime(2026, 3, 1, tzinfo=dt.UTC)


def _replanned(store: Store) -> tuple[str, str]:
    """(old, new): ``old`` in force since 1 March; ``new`` a draft moving cell 2 to grid 002."""
    old = make_plan(store, C1)
    store.publish([old], actor="alice", at=MARCH_1)
    new = store.copy_plan(old, name="v2", actor="bob").plan_id
    cells = store.revision(new).cells
    edited = moved(cells, f"{C1}-C0002", f"{C1}002")
    store.commit(new, 1, edited, grids_of(edited), actor="bob", operation="move")
    return old, new


def test_a_publication_from_a_later_date_changes_nothing_before_it(store: Store) -> None:
    old, new = _replanned(store)
    later = dt.datetime.now(dt.UTC) + dt.timedelta(days=3)
    with pytest.raises(InputError, match="incident_grids"):
        store.publish([new], actor="ada", at=later, incident_grids={"1": f"{C1}002"})
    [made] = store.publish([new], actor="ada", at=later)
    assert made.valid_from == later and made.regridded_at is None
    assert [p.plan_id for p in store.publications()] == [old]  # in force now: the old plan
    assert set(store.grids_at()["plan_id"]) == {old}
    assert set(store.grids_at(later)["plan_id"]) == {new}
    # the old plan is in force until then: not archived yet
    assert store.plan(old).status == "published" and store.plan(new).status == "published"
    history = store.publication_history(C1)
    assert [(p.plan_id, p.valid_to) for p in history] == [(old, later), (new, None)]
    assert history[0].regridded_at is not None  # made in the past: took effect at once


def test_take_effect_moves_incidents_once_and_archives_the_replaced_plan(store: Store) -> None:
    old, new = _replanned(store)
    later = dt.datetime.now(dt.UTC) + dt.timedelta(days=3)
    store.publish([new], actor="ada", at=later)
    lon, lat = X0 + 0.0025, Y0 + 0.0005  # in cell 2: grid 001 under old, 002 under new
    first = IncidentEvent("", 0, MARCH_1, "sam", "report", None, "reported")
    incident = store.add_incident(
        {"status": "reported", "lon": lon, "lat": lat, "grid_code": f"{C1}001"},
        actor="sam",
        event=first,
    ).id
    due = [p for p in store.publication_history() if p.regridded_at is None]
    assert [p.plan_id for p in due] == [new]
    with pytest.raises(InputError, match="after"):  # not due yet at that time
        store.take_effect(due, actor="gridmap", at=later - dt.timedelta(hours=1))
    assert store.incident(incident).fields["grid_code"] == f"{C1}001"

    moves = {incident: f"{C1}002"}
    marked = store.take_effect(due, actor="gridmap", at=later, incident_grids=moves)
    assert [(p.plan_id, p.regridded_at) for p in marked] == [(new, later)]
    assert store.incident(incident).fields["grid_code"] == f"{C1}002"
    assert store.plan(old).status == "archived"
    # a second process noticing the date too finds the marker and does nothing
    assert store.take_effect(due, actor="other", at=later, incident_grids=moves) == []
    regrids = [e for e in store.incident_events(incident) if e.action == "regrid"]
    assert len(regrids) == 1 and regrids[0].actor == "gridmap"
    [after] = [p for p in store.publication_history() if p.plan_id == new]
    assert after.regridded_at == later
    assert [a.action for a in store.audit() if a.action == "take_effect"] == ["take_effect"]


def test_grid_locks(store: Store) -> None:
    plan = make_plan(store, C1)
    grid = f"{C1}001"
    made = store.lock_grid(plan, grid, actor="alice")
    assert (made.plan_id, made.grid_code, made.locked_by) == (plan, grid, "alice")
    assert store.lock_grid(plan, grid, actor="alice") == store.grid_locks(plan)[0]  # idempotent
    with pytest.raises(ConflictError, match="locked by alice"):
        store.lock_grid(plan, grid, actor="bob")
    with pytest.raises(ConflictError, match="locked by alice"):
        store.unlock_grid(plan, grid, actor="bob")
    with pytest.raises(InputError, match="grid_code"):
        store.lock_grid(plan, f"{C2}001", actor="alice")  # another community's grid
    store.lock_grid(plan, f"{C1}002", actor="bob")
    assert [(x.grid_code, x.locked_by) for x in store.grid_locks(plan)] == [
        (grid, "alice"),
        (f"{C1}002", "bob"),
    ]
    store.unlock_grid(plan, grid, actor="alice")
    store.unlock_grid(plan, grid, actor="alice")  # not locked: nothing to do
    store.unlock_grid(plan, f"{C1}002", actor="ada", force=True)  # an admin's force
    assert store.grid_locks(plan) == []
    store.publish([plan], actor="ada", at=MARCH_1)
    with pytest.raises(InputError, match="only a draft"):
        store.lock_grid(plan, grid, actor="alice")
    assert [a.action for a in store.audit(plan_id=plan) if "lock" in a.action] == [
        "lock_grid",
        "lock_grid",
        "unlock_grid",
        "unlock_grid",
    ]


def test_archiving_a_scheduled_plan_cancels_it(store: Store) -> None:
    old, new = _replanned(store)
    later = dt.datetime.now(dt.UTC) + dt.timedelta(days=3)
    store.publish([new], actor="ada", at=later)
    assert store.archive(new, actor="ada").status == "archived"
    assert [(p.plan_id, p.valid_to) for p in store.publication_history(C1)] == [(old, None)]
    assert set(store.grids_at(later + dt.timedelta(days=1))["plan_id"]) == {old}
    assert store.plan(old).status == "published"
