"""Publishing: atomic over several plans, one publication per community, grids by date."""

from __future__ import annotations

import datetime as dt

import pytest
from storedata import C1, C2, cells_of, grids_of, make_plan, moved

from gridmap.errors import ConflictError, InputError, NotFoundError
from gridmap.store import Store

MARCH_1 = dt.datetime(2026, 3, 1, tzinfo=dt.UTC)
APRIL_1 = dt.datetime(2026, 4, 1, tzinfo=dt.UTC)


def test_publish_several_plans_at_once(store: Store) -> None:
    first, second = make_plan(store, C1), make_plan(store, C2)
    made = store.publish([first, second], actor="alice", at=MARCH_1)
    assert sorted((p.community_code, p.plan_id, p.revision) for p in made) == [
        (C1, first, 1),
        (C2, second, 1),
    ]
    assert all(p.valid_from == MARCH_1 and p.valid_to is None for p in made)
    assert all(p.published_by == "alice" for p in made)
    assert {store.plan(p).status for p in (first, second)} == {"published"}
    assert len(store.publications()) == 2
    assert [p.plan_id for p in store.publications(community=C2)] == [second]
    audit = [a for a in store.audit() if a.action == "publish"]
    assert sorted(a.plan_id for a in audit) == sorted([first, second])  # type: ignore[type-var]


def test_publish_is_all_or_nothing(store: Store) -> None:
    first, second = make_plan(store, C1), make_plan(store, C2)
    overlapping = make_plan(store, C1)
    with pytest.raises(InputError, match=C1):
        store.publish([first, second, overlapping], actor="alice")
    with pytest.raises(NotFoundError, match="99"):
        store.publish([first, second, "99"], actor="alice")
    assert store.publication_history() == []
    assert {store.plan(p).status for p in (first, second, overlapping)} == {"draft"}


def test_publish_refuses_a_head_that_moved_since_it_was_checked(store: Store) -> None:
    plan = make_plan(store, C1)
    checked = store.plan(plan).head  # a planner validates revision 1 …
    cells = store.revision(plan).cells
    other = sorted(set(cells["grid"]))[-1]
    first = cells.index[cells["grid"] != other][0]
    changed = moved(cells, first, other)
    store.commit(plan, 1, changed, grids_of(changed), actor="bob", operation="move")
    with pytest.raises(ConflictError, match=r"revision 1 was checked.*now at revision 2"):
        store.publish([plan], actor="alice", expected_heads={plan: checked})  # … not 2
    assert store.publication_history() == [] and store.plan(plan).status == "draft"
    made = store.publish([plan], actor="alice", expected_heads={plan: 2})
    assert [p.revision for p in made] == [2]


def test_one_publication_per_community_and_grids_by_date(store: Store) -> None:
    old = make_plan(store, C1)
    store.publish([old], actor="alice", at=MARCH_1)
    cells = store.revision(old).cells
    new = store.copy_plan(old, name="v2", actor="bob").plan_id
    edited = moved(cells, f"{C1}-C0002", f"{C1}002")
    store.commit(new, 1, edited, grids_of(edited), actor="bob", operation="move")
    store.publish([new], actor="bob", at=APRIL_1)

    in_force = store.publications()
    assert [(p.community_code, p.plan_id, p.revision) for p in in_force] == [(C1, new, 2)]
    history = store.publication_history(C1)
    assert [(p.plan_id, p.valid_from, p.valid_to) for p in history] == [
        (old, MARCH_1, APRIL_1),
        (new, APRIL_1, None),
    ]
    assert store.plan(old).status == "archived"  # none of its publications is in force

    before = store.grids_at(dt.datetime(2026, 2, 1, tzinfo=dt.UTC))
    assert before.empty
    march = store.grids_at(dt.datetime(2026, 3, 15, tzinfo=dt.UTC))
    april = store.grids_at(APRIL_1 + dt.timedelta(days=1))
    now = store.grids_at()
    assert set(march["plan_id"]) == {old} and set(march["revision"]) == {1}
    assert set(april["plan_id"]) == {new} and set(april["revision"]) == {2}
    assert now["residents"].tolist() == april["residents"].tolist()
    by_code = dict(zip(march["code"], march["residents"], strict=True))
    assert by_code[f"{C1}001"] == sum(cells["residents"].iloc[:3])
    by_code = dict(zip(april["code"], april["residents"], strict=True))
    assert by_code[f"{C1}001"] == sum(cells["residents"].iloc[:2])
    assert march.crs.to_epsg() == 4326
    assert {"code", "community_code", "plan_id", "revision"} <= set(march.columns)
    # at the very instant of the switch the new plan is in force
    assert set(store.grids_at(APRIL_1)["plan_id"]) == {new}
    assert [p.plan_id for p in store.publications(at=MARCH_1)] == [old]


def test_grids_at_filters_by_community_and_bbox(store: Store) -> None:
    first = make_plan(store, C1)
    far = cells_of(C2, x0=106.60)
    second = store.create_plan(far, grids_of(far), name="far", params={}, actor="a").plan_id
    store.publish([first, second], actor="alice", at=MARCH_1)
    assert set(store.grids_at(community=C2)["plan_id"]) == {second}
    west = store.grids_at(bbox=(106.559, 29.519, 106.5615, 29.5215))
    assert west["code"].tolist() == [f"{C1}001"]
    assert len(store.grids_at()) == 4


def test_a_publication_cannot_start_before_the_one_in_force(store: Store) -> None:
    old, new = make_plan(store, C1), make_plan(store, C1)
    store.publish([old], actor="alice", at=APRIL_1)
    with pytest.raises(InputError, match=C1):
        store.publish([new], actor="bob", at=MARCH_1)
    assert [p.plan_id for p in store.publication_history()] == [old]


def test_archive(store: Store) -> None:
    draft, published = make_plan(store, C1), make_plan(store, C2)
    store.publish([published], actor="alice", at=MARCH_1)
    assert store.archive(draft, actor="alice").status == "archived"
    archived = store.archive(published, actor="alice")
    assert archived.status == "archived"
    assert store.publications() == []
    [ended] = store.publication_history(C2)
    assert ended.valid_to is not None and ended.valid_to > MARCH_1
    assert not store.grids_at(MARCH_1 + dt.timedelta(days=1)).empty  # history stays queryable
    cells = store.revision(draft).cells
    with pytest.raises(InputError):
        store.commit(draft, 1, cells, grids_of(cells), actor="bob", operation="move")
    with pytest.raises(NotFoundError):
        store.archive("99", actor="alice")


def test_naive_times_are_input_errors(store: Store) -> None:
    plan_id = make_plan(store)
    naive = dt.datetime(2026, 3, 1)
    with pytest.raises(InputError, match="time zone"):
        store.publish([plan_id], actor="alice", at=naive)
    with pytest.raises(InputError, match="time zone"):
        store.publications(at=naive)
    with pytest.raises(InputError, match="time zone"):
        store.grids_at(naive)
    with pytest.raises(InputError, match="time zone"):
        store.audit(since=naive)
    assert store.publication_history() == []
