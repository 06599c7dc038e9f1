"""Plans for planners: list, create (copy, or partition as a background job), report, diff,
export, publish.

Reading and making plans needs ``planner``; publishing needs ``admin`` (planners submit a
draft for publication: :mod:`gridmap.api.plan_submissions`; an admin may publish any draft,
submitted or not). Edits are in
:mod:`gridmap.api.plan_edits`. Publishing moves open incidents to their new grids in the
same transaction (:func:`gridmap.service.publish.publish_plans`) and refreshes the locator and
tile caches when those exist.
"""

from __future__ import annotations

import json
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from gridmap.api.auth import require
from gridmap.api.deps import SettingsDep, StoreDep, settings_in, store_in
from gridmap.api.errors import error_body
from gridmap.api.jobs import wake_workers
from gridmap.api.params import MAX_NUMBER
from gridmap.api.plan_locks import lock_json
from gridmap.api.plan_submissions import submission_json
from gridmap.api.scope import PlanPlanner, require_in_scope, scope_of, sees
from gridmap.api.tiles import request_build
from gridmap.api.watch import refresh
from gridmap.api.write_limits import LimitedRoute
from gridmap.errors import InputError
from gridmap.service.jobs import job_summary, submit_partition
from gridmap.service.plans import coverage_report as plan_report
from gridmap.service.plans import (
    diff_against,
    division_communities,
    export_grids,
    published_plan_for,
)
from gridmap.store.contract import PlanInfo, Publication, RevisionInfo, Submission, User

__all__ = ["plan_json", "revision_json", "router"]

router = APIRouter(prefix="/api/plans", tags=["plans"], route_class=LimitedRoute)

Planner = Annotated[User, Depends(require("planner"))]
Admin = Annotated[User, Depends(require("admin"))]
PlanStatusQ = Literal["draft", "published", "archived"]


class NewPlan(BaseModel):
    """A new draft: a copy of a plan (default: the one in force), or an automatic partition."""

    mode: Literal["copy", "partition"] = "copy"
    name: str | None = Field(None, max_length=200)
    from_plan: str | None = Field(None, max_length=64, description="copy: the plan to copy")
    community: str | None = Field(
        None, max_length=12, description="copy: the plan in force for this community"
    )
    communities: list[Annotated[str, Field(max_length=12)]] | None = Field(
        None, max_length=500, description="partition: community codes (default all)"
    )
    division: str | None = Field(
        None,
        min_length=12,
        max_length=12,
        pattern=r"^[0-9]{12}$",
        description="partition: every community of this district or street (12-digit code)",
    )
    target: int | None = Field(None, gt=0, le=1_000_000, description="partition: weight per grid")
    tolerance: float | None = Field(None, ge=0, lt=1)
    seed: int = Field(0, ge=0, le=2**31 - 1)


class PublishRequest(BaseModel):
    """When the plan takes effect, and an optional note for the audit log."""

    effective_from: str | None = Field(
        None,
        max_length=40,
        description="A date (2026-12-05: from the start of that day, Beijing time; today: now) "
        "or an ISO time; default now. Until then the plan in force stays in force and the open "
        "incidents stay on their grids; they move when the date comes. A past date is refused.",
        examples=["2026-12-05"],
    )
    note: str | None = Field(None, max_length=500)


def plan_json(info: PlanInfo) -> dict[str, Any]:
    """A plan as JSON."""
    return {
        "id": info.id,
        "name": info.name,
        "status": info.status,
        "communities": list(info.communities),
        "head": info.head,
        "created_at": info.created_at.isoformat(),
        "created_by": info.created_by,
        "params": dict(info.params),
        "copied_from": info.copied_from,
    }


def publication_json(p: Publication) -> dict[str, Any]:
    """A publication as JSON; ``pending`` while its effective date is ahead."""
    return {
        "community_code": p.community_code,
        "revision": p.revision,
        "valid_from": p.valid_from.isoformat(),
        "valid_to": None if p.valid_to is None else p.valid_to.isoformat(),
        "pending": p.regridded_at is None,
    }


def revision_json(info: RevisionInfo) -> dict[str, Any]:
    """A revision's metadata as JSON."""
    return {
        "number": info.number,
        "base": info.base,
        "created_at": info.created_at.isoformat(),
        "created_by": info.created_by,
        "operation": info.operation,
        "detail": dict(info.detail),
    }


@router.get("", summary="Plans, oldest first")
def list_plans(
    store: StoreDep,
    user: Planner,
    status: PlanStatusQ | None = None,
    community: Annotated[str | None, Query(max_length=12)] = None,
    submitted: Annotated[
        bool | None,
        Query(description="true: only drafts submitted for publication; false: all others"),
    ] = None,
) -> dict[str, Any]:
    """Every plan (optionally of one status, covering one community, or submitted), each with
    its ``submission`` (null: none)."""
    plans = store.plans(status=status, community=community)
    mine = [p for p in plans if all(sees(user, c) for c in p.communities)]  # in the scope
    subs = {s.plan_id: s for s in store.submissions()}
    if submitted is not None:
        mine = [p for p in mine if _waiting(p, subs.get(p.id)) == submitted]
    return {
        "plans": [plan_json(p) | {"submission": submission_json(subs.get(p.id), p)} for p in mine]
    }


def _waiting(plan: PlanInfo, sub: Submission | None) -> bool:
    """Whether ``plan`` is a draft submitted for publication (not sent back)."""
    return plan.status == "draft" and sub is not None and sub.state == "submitted"


@router.post(
    "",
    status_code=201,
    summary="A new draft plan: a copy (201), or a partition run in the background (202)",
    responses={202: {"description": "The partition job, queued; Location: /api/jobs/{id}"}},
)
def create_plan(
    request: Request, store: StoreDep, settings: SettingsDep, body: NewPlan, user: Planner
) -> Any:
    """``mode=copy`` copies ``from_plan`` or the plan in force (201, the new plan).
    ``mode=partition`` queues a job partitioning ``communities`` (default all) with ``target``
    and ``tolerance`` (default: the settings'): 202 with the job and its ``Location``; follow
    ``GET /api/jobs/{id}`` until its state is done (``result_plan``) or failed (``error``)."""
    if body.mode == "partition":
        communities = body.communities
        if body.division is not None:
            if communities:
                raise InputError("division: give communities or a division, not both")
            communities = division_communities(store, body.division)
        if scope_of(user) and not communities:
            raise InputError(
                f"communities: {user.name} works in {', '.join(scope_of(user))}; name the "
                "communities (or the division) to partition"
            )
        require_in_scope(user, communities or [], "communities")
        job = submit_partition(
            store,
            settings,
            communities=communities,
            target=body.target,
            tolerance=body.tolerance,
            seed=body.seed,
            actor=user.name,
            name=body.name,
        )
        wake_workers(request)
        location = f"/api/jobs/{job.id}"
        return JSONResponse(
            {"job": job_summary(job)}, status_code=202, headers={"Location": location}
        )
    source = (
        store.plan(body.from_plan) if body.from_plan else published_plan_for(store, body.community)
    )
    require_in_scope(user, source.communities, f"plan {source.id}: communities")
    made = store.copy_plan(source.id, name=body.name or f"copy of {source.name}", actor=user.name)
    return {"plan": plan_json(store.plan(made.plan_id)), "revision": revision_json(made)}


@router.get("/{plan_id}", summary="One plan, its revisions and its grids (GeoJSON)")
def get_plan(
    store: StoreDep,
    plan_id: str,
    user: PlanPlanner,
    revision: Annotated[int | None, Query(ge=1, le=MAX_NUMBER)] = None,
) -> dict[str, Any]:
    """The plan, its revisions, and the grids of ``revision`` (default the head) as GeoJSON."""
    info = store.plan(plan_id)
    rev = store.revision(plan_id, revision)
    subs = store.submissions(info.id)
    return {
        "plan": plan_json(info) | {"submission": submission_json(subs[0] if subs else None, info)},
        "revisions": [revision_json(r) for r in store.revisions(plan_id)],
        "publications": [
            publication_json(p) for p in store.publication_history() if p.plan_id == info.id
        ],
        "locks": [lock_json(lock) for lock in store.grid_locks(info.id)],
        "revision": rev.info.number,
        "grids": json.loads(rev.grids.to_json(na="null", drop_id=True)),
    }


@router.get("/{plan_id}/report", summary="The validation report of a revision")
def get_report(
    store: StoreDep,
    settings: SettingsDep,
    plan_id: str,
    user: PlanPlanner,
    revision: Annotated[int | None, Query(ge=1, le=MAX_NUMBER)] = None,
    format: Literal["json", "geojson"] = "json",
) -> dict[str, Any]:
    """Gaps, overlaps, slivers, split units, grids off the target band… with their places."""
    report = plan_report(store, plan_id, revision, settings)
    return report.to_geojson() if format == "geojson" else report.to_dict()


@router.get("/{plan_id}/diff", summary="What changes against another plan or the plan in force")
def get_diff(
    store: StoreDep,
    plan_id: str,
    user: PlanPlanner,
    against: Annotated[
        str, Query(max_length=80, description="'published', PLAN or PLAN@REVISION")
    ] = "published",
    revision: Annotated[int | None, Query(ge=1, le=MAX_NUMBER)] = None,
) -> dict[str, Any]:
    """Grids added, removed, recoded; residents, cells, atoms and buildings that move."""
    return diff_against(store, plan_id, revision, against)


@router.get("/{plan_id}/export", summary="The grids as a file: gpkg, geojson, shp (zip), csv")
def export_plan(
    store: StoreDep,
    plan_id: str,
    user: PlanPlanner,
    format: Literal["gpkg", "geojson", "shp", "csv"] = "geojson",
    revision: Annotated[int | None, Query(ge=1, le=MAX_NUMBER)] = None,
) -> Response:
    """A revision's grids, downloaded as a file."""
    rev = store.revision(plan_id, revision)
    stem = f"plan-{plan_id}-r{rev.info.number}"
    data, media, filename = export_grids(rev.grids, format, stem)
    headers = {"Content-Disposition": f'attachment; filename="{filename}"'}
    return Response(data, media_type=media, headers=headers)


@router.post("/{plan_id}/publish", summary="Put a plan in force (refused while it has errors)")
async def publish_plan(
    request: Request, plan_id: str, user: Admin, body: PublishRequest | None = None
) -> Any:
    """Publish the plan's head for its communities from ``effective_from`` (default now),
    move open incidents to their new grids (one transaction:
    :func:`gridmap.service.publish.publish_plans`, as ``gridmap publish``; for a later date,
    when it comes), refresh the locator and the tiles. 409 with the report while the report
    has errors; 422 naming ``effective_from`` for a date in the past."""
    from gridmap.service.publish import PublishRefusedError, parse_effective, publish_plans

    store, settings = store_in(request), settings_in(request)
    when = parse_effective(None if body is None else body.effective_from)
    try:
        done = await run_in_threadpool(
            lambda: publish_plans(store, [plan_id], actor=user.name, settings=settings, at=when)
        )
    except PublishRefusedError as exc:
        body_json = error_body(exc.code, str(exc)) | {"report": exc.report.to_dict()}
        return JSONResponse(body_json, status_code=409)
    publications = done.publications
    moved = len(done.incidents_regridded)
    await refresh(request.app)  # this process's indexes and tiles; the watch loop then skips it
    request_build(request.app)  # the prebuilt tiles, in the background; live until then
    return {
        "plan": plan_json(await run_in_threadpool(store.plan, plan_id)),
        "publications": [publication_json(p) for p in publications],
        "effective_from": min((p.valid_from.isoformat() for p in publications), default=None),
        "incidents_regridded": moved,
    }
