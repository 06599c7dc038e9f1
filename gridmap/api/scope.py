"""Where a user may act: staff and planners work in the streets or communities an admin set as
their scope (``User.scope``, division codes; empty: city-wide); admins are city-wide.

Staff see and change only the incidents, and the staff's private phones, of their scope;
planners create, read and edit only plans whose communities lie in it. A request outside the
scope is a 403 naming the scope; lists leave out what lies outside.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Annotated

from fastapi import Depends

from gridmap.api.auth import require
from gridmap.api.deps import StoreDep
from gridmap.api.errors import ApiError
from gridmap.codes import in_scope
from gridmap.store.contract import User

__all__ = ["PlanPlanner", "require_in_scope", "scope_of", "sees"]


def scope_of(user: User) -> tuple[str, ...]:
    """The user's scope; () (everywhere) for an admin."""
    return () if user.role == "admin" else tuple(user.scope)


def sees(user: User, code: str | None) -> bool:
    """Whether a community, grid or street ``code`` lies in the user's scope."""
    return in_scope(scope_of(user), code)


def require_in_scope(user: User, codes: Iterable[str | None], what: str) -> None:
    """403 unless every one of ``codes`` lies in the user's scope."""
    outside = sorted({str(c) for c in codes if not sees(user, c)})
    if outside:
        shown = ", ".join(outside[:5]) + (" …" if len(outside) > 5 else "")
        raise ApiError(
            "forbidden",
            f"权限不足 (outside your scope): {what} {shown}; {user.name} works in "
            f"{', '.join(scope_of(user))}",
        )


def _planner_of_plan(
    store: StoreDep, plan_id: str, user: Annotated[User, Depends(require("planner"))]
) -> User:
    require_in_scope(user, store.plan(plan_id).communities, f"plan {plan_id}: communities")
    return user


# A planner whose scope holds every community of the plan named by the path's ``plan_id``.
PlanPlanner = Annotated[User, Depends(_planner_of_plan)]
