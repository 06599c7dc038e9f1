"""Grid locks of a draft plan: ``PUT`` and ``DELETE /api/plans/{id}/grids/{code}/lock``.

A planner locks a grid so that no edit changes it (:mod:`gridmap.store.locks`); the locks are
kept in the store, listed with the plan (``GET /api/plans/{id}``: ``locks``), and every edit
that would change a locked grid is refused with 409 ``grid_locked`` naming the grid and who
locked it (:func:`gridmap.service.edit.refuse_locked`). Only the planner who locked a grid,
or an admin, unlocks it.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path
from fastapi.concurrency import run_in_threadpool

from gridmap.api.deps import StoreDep
from gridmap.api.scope import PlanPlanner
from gridmap.api.write_limits import LimitedRoute
from gridmap.store.contract import GridLock

__all__ = ["lock_json", "router"]

router = APIRouter(prefix="/api/plans", tags=["plans"], route_class=LimitedRoute)

GridCode = Annotated[str, Path(max_length=40, pattern=r"^[0-9]+$")]


def lock_json(lock: GridLock) -> dict[str, Any]:
    """A lock as JSON."""
    return {
        "grid": lock.grid_code,
        "locked_by": lock.locked_by,
        "locked_at": lock.locked_at.isoformat(),
    }


@router.get("/{plan_id}/locks", summary="The locked grids of a plan")
async def get_locks(store: StoreDep, plan_id: str, user: PlanPlanner) -> dict[str, Any]:
    """Every lock of the plan: grid, who, when."""
    locks = await run_in_threadpool(store.grid_locks, plan_id)
    return {"locks": [lock_json(lock) for lock in locks]}


@router.put("/{plan_id}/grids/{code}/lock", summary="Lock a grid of a draft: no edit changes it")
async def put_lock(store: StoreDep, plan_id: str, code: GridCode, user: PlanPlanner) -> Any:
    """Lock ``code`` for the signed-in planner (again: nothing changes); 409 naming the
    planner who holds it already; 422 when the plan is not a draft or has no such grid."""
    lock = await run_in_threadpool(lambda: store.lock_grid(plan_id, code, actor=user.name))
    locks = await run_in_threadpool(store.grid_locks, plan_id)
    return {"lock": lock_json(lock), "locks": [lock_json(x) for x in locks]}


@router.delete("/{plan_id}/grids/{code}/lock", summary="Unlock a grid")
async def delete_lock(store: StoreDep, plan_id: str, code: GridCode, user: PlanPlanner) -> Any:
    """Unlock ``code`` (nothing to do when it is not locked); 409 when another planner holds
    the lock (an admin may take it away)."""
    force = user.role == "admin"
    await run_in_threadpool(lambda: store.unlock_grid(plan_id, code, actor=user.name, force=force))
    locks = await run_in_threadpool(store.grid_locks, plan_id)
    return {"locks": [lock_json(x) for x in locks]}
