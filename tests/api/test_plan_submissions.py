"""Planners submit a draft for publication, admins publish it or send it back, on both engines:
who submitted which revision with what note, stale after an edit, withdrawn, refused with a
reason, listed for the admins, and who may do what (resident and staff 403, a planner outside
the plan's scope 403, only an admin refuses)."""

from __future__ import annotations

from typing import Any

import handmade
from seeded import World, seeded_gpkg, seeded_postgis, world

__all__ = ["seeded_gpkg", "seeded_postgis", "world"]


def _draft(w: World) -> str:
    made = w.client.post("/api/plans", json={"mode": "copy"}, headers=w.as_role("planner"))
    assert made.status_code == 201, made.text
    return str(made.json()["plan"]["id"])


def _submit(w: World, plan: str, role: str | None, note: str | None = None) -> Any:
    body = {} if note is None else {"note": note}
    return w.client.post(f"/api/plans/{plan}/submit", json=body, headers=w.as_role(role))


def _refuse(w: World, plan: str, role: str | None, reason: str | None) -> Any:
    body = {} if reason is None else {"reason": reason}
    return w.client.post(f"/api/plans/{plan}/refuse", json=body, headers=w.as_role(role))


def _submission(w: World, plan: str, role: str = "planner") -> Any:
    answer = w.client.get(f"/api/plans/{plan}", headers=w.as_role(role))
    assert answer.status_code == 200, answer.text
    return answer.json()["plan"]["submission"]


def _waiting(w: World) -> list[str]:
    listed = w.client.get("/api/plans?submitted=true", headers=w.as_role("admin"))
    assert listed.status_code == 200, listed.text
    return [p["id"] for p in listed.json()["plans"]]


def test_submit_edit_refuse_submit_again_and_withdraw(world: World) -> None:
    plan = _draft(world)
    assert _submission(world, plan) is None and plan not in _waiting(world)
    made = _submit(world, plan, "planner", "  第1网格按街道意见调整  ")
    assert made.status_code == 200, made.text
    sub = made.json()["submission"]
    assert (sub["state"], sub["revision"], sub["stale"]) == ("submitted", 1, False)
    assert (sub["submitted_by"], sub["note"]) == ("paula", "第1网格按街道意见调整")
    assert _submission(world, plan, "admin") == sub
    assert plan in _waiting(world)
    others = world.client.get("/api/plans?submitted=false", headers=world.as_role("admin"))
    assert plan not in [p["id"] for p in others.json()["plans"]]
    [listed] = [p for p in others.json()["plans"] if p["id"] == world.plan_id]
    assert listed["submission"] is None

    # an edit after the submission does not withdraw it: the admin sees it is stale
    grids = world.client.get(f"/api/plans/{plan}", headers=world.as_role("planner")).json()
    a, b = sorted(f["properties"]["code"] for f in grids["grids"]["features"])[:2]
    body = {"operation": "merge", "base_revision": 1, "grids": [a, b]}
    edited = world.client.post(
        f"/api/plans/{plan}/edits", json=body, headers=world.as_role("planner")
    )
    assert edited.status_code == 201, edited.text
    stale = _submission(world, plan, "admin")
    assert (stale["revision"], stale["stale"], stale["state"]) == (1, True, "submitted")

    # an admin sends it back, with a reason
    assert _refuse(world, plan, "admin", None).status_code == 422
    assert _refuse(world, plan, "admin", "").status_code == 422
    refused = _refuse(world, plan, "admin", "第2网格人口超标")
    assert refused.status_code == 200, refused.text
    back = refused.json()["submission"]
    assert (back["state"], back["refused_by"], back["reason"]) == (
        "refused",
        "ada",
        "第2网格人口超标",
    )
    assert back["note"] == "第1网格按街道意见调整" and back["refused_at"] is not None
    assert _submission(world, plan) == back  # the planner sees why
    assert plan not in _waiting(world)
    again = _refuse(world, plan, "admin", "twice")
    assert again.status_code == 409 and "refused" in again.json()["detail"]

    # the planner submits again: the head, no longer refused; then withdraws
    resubmitted = _submit(world, plan, "planner").json()["submission"]
    assert (resubmitted["state"], resubmitted["revision"], resubmitted["stale"]) == (
        "submitted",
        2,
        False,
    )
    assert resubmitted["note"] is None and resubmitted["reason"] is None
    withdrawn = world.client.delete(f"/api/plans/{plan}/submit", headers=world.as_role("planner"))
    assert withdrawn.status_code == 200 and withdrawn.json()["submission"] is None
    assert plan not in _waiting(world)
    twice = world.client.delete(f"/api/plans/{plan}/submit", headers=world.as_role("planner"))
    assert twice.status_code == 200  # nothing to withdraw
    refuse_none = _refuse(world, plan, "admin", "nothing here")
    assert refuse_none.status_code == 409 and "not submitted" in refuse_none.json()["detail"]

    acts = [(e.action, e.actor, e.revision) for e in world.store.audit(plan_id=plan)]
    assert [x for x in acts if "submi" in x[0]] == [
        ("submit_plan", "paula", 1),
        ("refuse_submission", "ada", 1),
        ("submit_plan", "paula", 2),
        ("withdraw_submission", "paula", 2),
    ]


def test_who_may_submit_withdraw_and_refuse(world: World) -> None:
    plan = _draft(world)
    assert _submit(world, plan, None).status_code == 401
    for role in ("public", "staff", "acceptor"):
        answer = _submit(world, plan, role, "x")
        assert answer.status_code == 403, (role, answer.text)
    assert _submit(world, "404", "planner").status_code == 404
    long = _submit(world, plan, "planner", "长" * 1001)
    assert long.status_code == 422 and "note" in long.text
    published = _submit(world, world.plan_id, "planner")
    assert published.status_code == 422 and "draft" in published.json()["detail"]
    assert _submission(world, plan) is None  # nothing recorded by the refused calls

    assert _submit(world, plan, "planner", "请审核").status_code == 200
    for role in ("public", "staff", "planner"):
        assert _refuse(world, plan, role, "no").status_code == 403, role
    staff_withdraw = world.client.delete(
        f"/api/plans/{plan}/submit", headers=world.as_role("staff")
    )
    assert staff_withdraw.status_code == 403
    assert _submission(world, plan)["state"] == "submitted"

    # a planner whose scope does not hold the plan's communities: 403, and not listed
    communities = world.store.plan(plan).communities
    assert handmade.C1 in communities
    world.store.update_user("paula", actor="ada", scope=[handmade.C2])
    for answer in (
        _submit(world, plan, "planner", "x"),
        world.client.delete(f"/api/plans/{plan}/submit", headers=world.as_role("planner")),
    ):
        assert answer.status_code == 403 and "scope" in answer.json()["detail"]
    listed = world.client.get("/api/plans?submitted=true", headers=world.as_role("planner"))
    assert plan not in [p["id"] for p in listed.json()["plans"]]
    world.store.update_user("paula", actor="ada", scope=[])

    # only the planner who submitted withdraws (an admin may withdraw any)
    assert _submit(world, plan, "admin", "mine").json()["submission"]["submitted_by"] == "ada"
    taken = world.client.delete(f"/api/plans/{plan}/submit", headers=world.as_role("planner"))
    assert taken.status_code == 409 and "ada" in taken.json()["detail"]
    assert _submission(world, plan)["submitted_by"] == "ada"


def test_an_admin_publishes_a_submitted_plan(world: World) -> None:
    plan = _draft(world)
    assert _submit(world, plan, "planner", "可以发布").status_code == 200
    assert (
        world.client.post(
            f"/api/plans/{plan}/publish", headers=world.as_role("planner")
        ).status_code
        == 403
    )
    done = world.client.post(f"/api/plans/{plan}/publish", json={}, headers=world.as_role("admin"))
    assert done.status_code == 200, done.text
    assert done.json()["plan"]["status"] == "published"
    assert plan not in _waiting(world)  # published: no longer waiting
    kept = _submission(world, plan, "admin")  # the record of what was asked stays
    assert (kept["state"], kept["submitted_by"], kept["note"]) == ("submitted", "paula", "可以发布")
    late = _submit(world, plan, "planner")
    assert late.status_code == 422 and "draft" in late.json()["detail"]
    assert _refuse(world, plan, "admin", "too late").status_code == 409
