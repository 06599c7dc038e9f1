"""Who may read a plan's grids by ``?plan=`` on the public layer, tile and TileJSON routes.

A plan that was ever published (in force now, in the past, or dated for the future) is public:
anyone may read it. A plan never published is a planner's draft: it needs a planner's token
(401 without one, 403 for a lesser role), as ``GET /api/plans/{id}`` does, and its answers are
never cached by shared caches.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from gridmap.api.auth import optional_user, require
from gridmap.store.contract import Store, User

__all__ = ["PlanAccess", "plan_access"]


class PlanVisibility:
    """The outcome of :func:`plan_access`: whether the answer may be cached publicly."""

    def __init__(self, public: bool) -> None:
        self.public = public

    @property
    def cache_control(self) -> str | None:
        """``Cache-Control`` for an answer of a draft (None: the route's own)."""
        return None if self.public else "private, no-store"


def plan_access(
    request: Request,
    user: Annotated[User | None, Depends(optional_user)],
    plan: str | None = None,
) -> PlanVisibility:
    """Let anyone read a published plan (or the grids in force); a draft needs a planner."""
    if plan is None:
        return PlanVisibility(public=True)
    store: Store = request.app.state.store
    store.plan(plan)  # NotFoundError → 404 for an unknown plan
    if any(p.plan_id == plan for p in store.publication_history()):
        return PlanVisibility(public=True)
    require("planner")(user)
    return PlanVisibility(public=False)


PlanAccess = Annotated[PlanVisibility, Depends(plan_access)]
