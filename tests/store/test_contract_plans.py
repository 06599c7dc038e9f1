"""Plans and revisions: create, read back, commit from the head, stale bases, copies."""

from __future__ import annotations

import datetime as dt

import pytest
import shapely
from storedata import C1, C2, cells_of, grids_of, make_plan, moved

from gridmap.errors import InputError, NotFoundError
from gridmap.store import Store
from gridmap.store.contract import StaleRevisionError


def test_create_plan_is_a_draft_with_revision_1(store: Store) -> None:
    cells = cells_of(C1)
    before = dt.datetime.now(dt.UTC)
    made = store.create_plan(
        cells, grids_of(cells), name="南湖 2026", params={"target": 3000, "seed": 7}, actor="alice"
    )
    assert (made.number, made.base, made.created_by, made.operation) == (
        1,
        None,
        "alice",
        "partition",
    )
    assert made.created_at >= before - dt.timedelta(seconds=1)
    assert made.created_at.tzinfo is not None
    info = store.plan(made.plan_id)
    assert (info.name, info.status, info.head, info.communities) == ("南湖 2026", "draft", 1, (C1,))
    assert info.params == {"target": 3000, "seed": 7} and info.copied_from is None
    assert [p.id for p in store.plans()] == [made.plan_id]
    assert store.revisions(made.plan_id) == [made]


def test_revision_reads_back_what_was_stored(store: Store) -> None:
    cells = cells_of(C1)
    plan_id = make_plan(store)
    back = store.revision(plan_id)
    assert back.info.number == 1
    assert back.cells.index.tolist() == cells.index.tolist()
    for col in ("community_code", "atom_id", "grid"):
        assert back.cells[col].tolist() == cells[col].tolist()
    assert back.cells["residents"].tolist() == cells["residents"].tolist()
    assert back.cells["households"].tolist() == cells["households"].tolist()
    assert shapely.equals(back.cells.geometry.values, cells.geometry.values).all()
    assert back.cells.crs.to_epsg() == 4326
    grids = grids_of(cells)
    assert back.grids["code"].tolist() == grids["code"].tolist()
    assert back.grids["residents"].tolist() == grids["residents"].tolist()
    assert shapely.equals(back.grids.geometry.values, grids.geometry.values).all()


def test_commit_from_the_head_adds_the_next_revision(store: Store) -> None:
    plan_id = make_plan(store)
    head = store.revision(plan_id)
    edited = moved(head.cells, f"{C1}-C0002", f"{C1}002")
    made = store.commit(
        plan_id, 1, edited, grids_of(edited), actor="bob", operation="move", detail={"n": 1}
    )
    assert (made.number, made.base, made.created_by, made.operation) == (2, 1, "bob", "move")
    assert made.detail == {"n": 1}
    assert store.plan(plan_id).head == 2
    assert store.revision(plan_id).cells.loc[f"{C1}-C0002", "grid"] == f"{C1}002"
    # revisions are immutable: revision 1 is as it was
    assert store.revision(plan_id, 1).cells.loc[f"{C1}-C0002", "grid"] == f"{C1}001"
    assert [r.number for r in store.revisions(plan_id)] == [1, 2]


def test_stale_base_is_refused_naming_the_winner(store: Store) -> None:
    plan_id = make_plan(store)
    base = store.revision(plan_id)
    mine = moved(base.cells, f"{C1}-C0000", f"{C1}002")
    theirs = moved(base.cells, f"{C1}-C0005", f"{C1}001")
    won = store.commit(plan_id, 1, theirs, grids_of(theirs), actor="bob", operation="move")
    with pytest.raises(StaleRevisionError) as caught:
        store.commit(plan_id, 1, mine, grids_of(mine), actor="carol", operation="move")
    err = caught.value
    assert err.plan_id == plan_id and err.base == 1
    assert (err.winner.number, err.winner.created_by) == (2, "bob")
    assert err.winner.created_at == won.created_at
    assert "revision 2 by bob" in str(err) and won.created_at.isoformat() in str(err)
    # nothing of the refused edit was written; the winner's edit is intact
    assert store.plan(plan_id).head == 2
    head = store.revision(plan_id).cells
    assert head.loc[f"{C1}-C0005", "grid"] == f"{C1}001"
    assert head.loc[f"{C1}-C0000", "grid"] == f"{C1}001"
    attempts = [a for a in store.audit(plan_id=plan_id) if a.action == "commit"]
    assert [(a.actor, a.outcome) for a in attempts] == [("bob", "ok"), ("carol", "conflict")]


def test_a_base_two_behind_names_the_head(store: Store) -> None:
    plan_id = make_plan(store)
    cells = store.revision(plan_id).cells
    for i, actor in ((1, "bob"), (2, "dora")):
        edited = moved(cells, f"{C1}-C000{i}", f"{C1}002")
        store.commit(plan_id, i, edited, grids_of(edited), actor=actor, operation="move")
    with pytest.raises(StaleRevisionError) as caught:
        store.commit(plan_id, 1, cells, grids_of(cells), actor="carol", operation="move")
    assert (caught.value.winner.number, caught.value.winner.created_by) == (3, "dora")


def test_unknown_plan_or_revision_is_not_found(store: Store) -> None:
    plan_id = make_plan(store)
    cells = cells_of(C1)
    with pytest.raises(NotFoundError, match="99"):
        store.plan("99")
    with pytest.raises(NotFoundError, match="99"):
        store.revision("99")
    with pytest.raises(NotFoundError, match="99"):
        store.revisions("99")
    with pytest.raises(NotFoundError, match="7"):
        store.revision(plan_id, 7)
    with pytest.raises(NotFoundError):
        store.commit("99", 1, cells, grids_of(cells), actor="bob", operation="move")
    with pytest.raises(NotFoundError, match="5"):
        store.commit(plan_id, 5, cells, grids_of(cells), actor="bob", operation="move")
    assert store.plan(plan_id).head == 1


def test_bad_frames_are_input_errors(store: Store) -> None:
    cells = cells_of(C1)
    grids = grids_of(cells)
    with pytest.raises(InputError, match="grid"):
        store.create_plan(cells.drop(columns="grid"), grids, name="x", params={}, actor="a")
    with pytest.raises(InputError, match="repeated"):
        store.create_plan(cells.iloc[[0, 0]], grids, name="x", params={}, actor="a")
    with pytest.raises(InputError, match="4326"):
        store.create_plan(cells.to_crs(3857), grids, name="x", params={}, actor="a")
    assert store.plans() == []


def test_only_a_draft_takes_revisions(store: Store) -> None:
    plan_id = make_plan(store)
    store.publish([plan_id], actor="alice")
    cells = store.revision(plan_id).cells
    with pytest.raises(InputError, match="draft"):
        store.commit(plan_id, 1, cells, grids_of(cells), actor="bob", operation="move")
    assert store.plan(plan_id).head == 1
    assert store.audit(plan_id=plan_id)[-1].outcome == "refused"


def test_copy_plan_makes_a_draft_of_the_head(store: Store) -> None:
    plan_id = make_plan(store)
    cells = store.revision(plan_id).cells
    edited = moved(cells, f"{C1}-C0002", f"{C1}002")
    store.commit(plan_id, 1, edited, grids_of(edited), actor="bob", operation="move")
    store.publish([plan_id], actor="alice")
    made = store.copy_plan(plan_id, name="南湖 v2", actor="carol")
    assert made.plan_id != plan_id and made.number == 1 and made.created_by == "carol"
    copy = store.plan(made.plan_id)
    assert (copy.status, copy.copied_from, copy.name, copy.head) == ("draft", plan_id, "南湖 v2", 1)
    assert copy.communities == (C1,) and copy.params == {"target": 3000}
    back = store.revision(made.plan_id).cells
    assert back["grid"].tolist() == edited["grid"].tolist()
    # the copy takes edits; the original stays as published
    again = moved(back, f"{C1}-C0003", f"{C1}001")
    store.commit(made.plan_id, 1, again, grids_of(again), actor="carol", operation="move")
    assert store.plan(plan_id).head == 2 and store.plan(plan_id).status == "published"
    with pytest.raises(NotFoundError):
        store.copy_plan("99", name="x", actor="carol")


def test_plans_by_status_and_community(store: Store) -> None:
    first, second = make_plan(store, C1), make_plan(store, C2)
    store.publish([second], actor="alice")
    assert [p.id for p in store.plans()] == [first, second]
    assert [p.id for p in store.plans(status="draft")] == [first]
    assert [p.id for p in store.plans(status="published")] == [second]
    assert [p.id for p in store.plans(community=C2)] == [second]
    assert store.plans(community="500108999999") == []


def test_actor_must_be_named(store: Store) -> None:
    cells = cells_of(C1)
    with pytest.raises(InputError, match="actor"):
        store.create_plan(cells, grids_of(cells), name="x", params={}, actor="")
