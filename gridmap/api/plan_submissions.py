"""Submitting a draft for publication: ``POST`` / ``DELETE /api/plans/{id}/submit`` (a planner in
the plan's scope) and ``POST /api/plans/{id}/refuse`` (an admin sends it back with a reason).

Planners do not publish; they submit a draft with a note, and an admin publishes it
(``POST /api/plans/{id}/publish``: the normal path) or sends it back. An admin may still
publish a draft nobody submitted. The submission names the revision submitted: an edit after
it does not withdraw it, but the plan's JSON then says ``stale`` (the admin sees the plan
changed since). The state is kept in the store (:mod:`gridmap.store.submissions`, audited)
and shown with the plan (``GET /api/plans/{id}``: ``plan.submission``; ``GET
/api/plans?submitted=true`` lists the drafts waiting for an admin).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, Field

from gridmap.api.auth import require
from gridmap.api.deps import StoreDep
from gridmap.api.scope import PlanPlanner
from gridmap.api.write_limits import LimitedRoute
from gridmap.store.contract import PlanInfo, Submission, User

__all__ = ["router", "submission_json"]

router = APIRouter(prefix="/api/plans", tags=["plans"], route_class=LimitedRoute)

Admin = Annotated[User, Depends(require("admin"))]


class SubmitRequest(BaseModel):
    """The planner's note to the admin who will publish."""

    note: str | None = Field(None, max_length=1000, examples=["按街道意见调整了第3网格"])


class RefuseRequest(BaseModel):
    """Why the admin sends the plan back (required)."""

    reason: str = Field(min_length=1, max_length=1000, examples=["第2网格人口超标"])


def submission_json(sub: Submission | None, plan: PlanInfo) -> dict[str, Any] | None:
    """A submission as JSON (None: none); ``stale`` when the plan was edited since."""
    if sub is None:
        return None
    refused_at = None if sub.refused_at is None else sub.refused_at.isoformat()
    return {
        "state": sub.state,
        "revision": sub.revision,
        "stale": sub.revision != plan.head,
        "submitted_by": sub.submitted_by,
        "submitted_at": sub.submitted_at.isoformat(),
        "note": sub.note,
        "refused_by": sub.refused_by,
        "refused_at": refused_at,
        "reason": sub.reason,
    }


async def _answer(store: StoreDep, plan_id: str) -> dict[str, Any]:
    info = await run_in_threadpool(store.plan, plan_id)
    subs = await run_in_threadpool(store.submissions, plan_id)
    return {"plan_id": info.id, "submission": submission_json(subs[0] if subs else None, info)}


@router.post("/{plan_id}/submit", summary="Submit a draft for publication, with a note")
async def submit(
    store: StoreDep, plan_id: str, user: PlanPlanner, body: SubmitRequest | None = None
) -> dict[str, Any]:
    """Submit the draft's head (again: replaces the earlier submission or refusal); 422 when
    the plan is not a draft."""
    note = None if body is None else body.note
    await run_in_threadpool(lambda: store.submit_plan(plan_id, note, actor=user.name))
    return await _answer(store, plan_id)


@router.delete("/{plan_id}/submit", summary="Withdraw a submission")
async def withdraw(store: StoreDep, plan_id: str, user: PlanPlanner) -> dict[str, Any]:
    """Withdraw the plan's submission (nothing to do when there is none); 409 when another
    planner submitted it (an admin may withdraw any)."""
    force = user.role == "admin"
    await run_in_threadpool(
        lambda: store.withdraw_submission(plan_id, actor=user.name, force=force)
    )
    return await _answer(store, plan_id)


@router.post("/{plan_id}/refuse", summary="Send a submitted draft back, with a reason (admin)")
async def refuse(store: StoreDep, plan_id: str, body: RefuseRequest, user: Admin) -> dict[str, Any]:
    """Mark the submission refused with ``reason``; the planner sees it with the plan and may
    edit and submit again. 409 when the plan is not submitted."""
    await run_in_threadpool(lambda: store.refuse_submission(plan_id, body.reason, actor=user.name))
    return await _answer(store, plan_id)
