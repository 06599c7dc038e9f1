"""The planner's report on community offices: ``GET /api/offices/reach[?community=CODE…]``.

Per community, the residents' walk to the office over the roads (median, 90th percentile,
shares beyond 15 and 30 minutes), the office's distance to the community's edge, and whether it
is badly placed and why (see docs/street-office.md). For planners: a whole district takes a few
seconds of CPU.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.concurrency import run_in_threadpool

from gridmap.api.auth import require
from gridmap.boards import reach_in_store
from gridmap.settings import Settings
from gridmap.store.contract import User

__all__ = ["router"]

router = APIRouter(prefix="/api/offices", tags=["offices"])

Planner = Annotated[User, Depends(require("planner"))]


@router.get("/reach", summary="Community offices within reach: walks over the roads, edge distance")
async def reach(
    request: Request,
    user: Planner,
    community: Annotated[
        list[str] | None,
        Query(max_length=200, description="Community codes (12 digits); default every one."),
    ] = None,
) -> dict[str, Any]:
    """The offices report: rules, counts and one row per community, badly placed first;
    ``source`` says whether the offices came from the ``offices`` layer or the committee-office
    units."""
    settings: Settings = request.app.state.settings
    report, source = await run_in_threadpool(
        reach_in_store,
        request.app.state.store,
        community,
        metric_epsg=settings.metric_epsg,
    )
    return {"source": source, **report.to_json()}
