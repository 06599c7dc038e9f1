"""Submissions for publication kept by the store (both engines): one per plan, replaced,
withdrawn, refused with a reason, stale after an edit, every act audited."""

from __future__ import annotations

import pytest
from storedata import C1, grids_of, make_plan, moved

from gridmap.errors import ConflictError, InputError, NotFoundError
from gridmap.store import Store


def test_submit_refuse_withdraw(store: Store) -> None:
    plan = make_plan(store, C1)
    other = make_plan(store, C1)
    assert store.submissions(plan) == [] and store.submissions() == []
    made = store.submit_plan(plan, "  请审核 ", actor="alice")
    assert (made.plan_id, made.revision, made.state, made.note) == (plan, 1, "submitted", "请审核")
    assert store.submissions(plan) == [made]
    assert store.submissions(other) == []
    with pytest.raises(NotFoundError):
        store.submissions("999")

    cells = store.revision(plan).cells
    edited = moved(cells, f"{C1}-C0002", f"{C1}002")
    store.commit(plan, 1, edited, grids_of(edited), actor="alice", operation="move")
    [kept] = store.submissions(plan)
    assert kept.revision == 1 and store.plan(plan).head == 2  # stale, not withdrawn

    with pytest.raises(InputError, match="reason"):
        store.refuse_submission(plan, "  ", actor="ada")
    refused = store.refuse_submission(plan, "人口超标", actor="ada")
    assert (refused.state, refused.refused_by, refused.reason) == ("refused", "ada", "人口超标")
    assert store.submissions(plan) == [refused]
    with pytest.raises(ConflictError, match="refused"):
        store.refuse_submission(plan, "again", actor="ada")

    again = store.submit_plan(plan, None, actor="alice")
    assert (again.revision, again.state, again.note, again.reason) == (2, "submitted", None, None)
    with pytest.raises(ConflictError, match="alice"):
        store.withdraw_submission(plan, actor="bob")
    store.withdraw_submission(plan, actor="alice")
    store.withdraw_submission(plan, actor="alice")  # nothing to withdraw
    assert store.submissions() == []

    store.submit_plan(other, "x", actor="bob")
    store.withdraw_submission(other, actor="ada", force=True)  # an admin's force
    with pytest.raises(InputError, match="note"):
        store.submit_plan(plan, "长" * 2001, actor="alice")
    store.publish([plan], actor="ada")
    with pytest.raises(InputError, match="only a draft"):
        store.submit_plan(plan, None, actor="alice")
    acts = [(a.action, a.actor) for a in store.audit(plan_id=plan) if "submi" in a.action]
    assert acts == [
        ("submit_plan", "alice"),
        ("refuse_submission", "ada"),
        ("submit_plan", "alice"),
        ("withdraw_submission", "alice"),
    ]
