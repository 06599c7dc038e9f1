"""``GET /api/plans/{id}/atoms``: a plan's atoms as GeoJSON, for the planner's paint tool.

An atom (a compound, a social unit, a cluster of scattered buildings) is the smallest thing an
edit moves; the map draws each as its cells dissolved, with the grid it is in now and the grid
in force for it (``published_grid``, null where nothing is published), so the page can paint
atoms to a neighbouring grid (``POST /api/plans/{id}/edits`` with ``operation: move`` and the
atom's ``cell``) and highlight what differs from the published plan.
"""

from __future__ import annotations

import json
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Response
from fastapi.concurrency import run_in_threadpool

from gridmap.api.auth import require
from gridmap.api.deps import StoreDep
from gridmap.api.params import MAX_NUMBER
from gridmap.api.scope import PlanPlanner
from gridmap.service.edit import atoms_of
from gridmap.store.contract import User

__all__ = ["router"]

router = APIRouter(prefix="/api/plans", tags=["plans"])

Planner = Annotated[User, Depends(require("planner"))]


@router.get("/{plan_id}/atoms", summary="A plan's atoms (cells dissolved) with their grids")
async def get_atoms(
    store: StoreDep,
    plan_id: str,
    user: PlanPlanner,
    community: Annotated[list[str] | None, Query(max_length=500)] = None,
    revision: Annotated[int | None, Query(ge=1, le=MAX_NUMBER)] = None,
) -> Response:
    """GeoJSON of the atoms of ``community`` (repeatable; default all the plan's)."""
    body = await run_in_threadpool(atoms_of, store, plan_id, revision, list(community or []))
    return Response(
        json.dumps(body, ensure_ascii=False, separators=(",", ":")),
        media_type="application/geo+json",
        headers={"Cache-Control": "private, no-store"},
    )
