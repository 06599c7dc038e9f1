"""``POST /api/plans/{id}/edits``: the engine's edits on a draft, from a named base revision.

The route checks the body and the role; :func:`gridmap.service.edit.edit_plan` does the edit.

The body names ``operation`` (move, merge, split, reshape, rebalance, revert), its arguments and
``base_revision``. The edit is computed on that revision and committed with compare-and-set:
when somebody else's revision came first the answer is 409 with ``winner`` (number, author,
time, operation), and nothing is written. A success answers the new revision with what changed,
its diff and its validation report.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from gridmap.api.auth import require
from gridmap.api.deps import SettingsDep, StoreDep
from gridmap.api.errors import error_body
from gridmap.api.params import MAX_NUMBER
from gridmap.api.plans import revision_json
from gridmap.api.scope import PlanPlanner
from gridmap.api.write_limits import LimitedRoute
from gridmap.service.edit import EditRefused, GridLockedError, edit_plan
from gridmap.settings import Settings
from gridmap.store.contract import StaleRevisionError, Store, User

__all__ = ["router"]

router = APIRouter(prefix="/api/plans", tags=["plans"], route_class=LimitedRoute)

Planner = Annotated[User, Depends(require("planner"))]
Coord = Annotated[float, Field(ge=-180, le=180, allow_inf_nan=False)]
Position = tuple[Coord, Coord]
Code = Annotated[str, Field(min_length=1, max_length=20)]


class LineString(BaseModel):
    """A GeoJSON LineString in lon/lat."""

    type: Literal["LineString"]
    coordinates: Annotated[list[Position], Field(min_length=2, max_length=10_000)]


class Polygon(BaseModel):
    """A GeoJSON Polygon in lon/lat (outer ring, then holes)."""

    type: Literal["Polygon"]
    coordinates: Annotated[
        list[Annotated[list[Position], Field(min_length=4, max_length=10_000)]],
        Field(min_length=1, max_length=100),
    ]


class _Edit(BaseModel):
    base_revision: int = Field(ge=1, le=MAX_NUMBER, description="the revision the edit starts from")


class MoveEdit(_Edit):
    """Move cells or atoms (whole) to the neighbouring grid ``to_grid``."""

    operation: Literal["move"]
    to_grid: Code
    cells: Annotated[list[Code], Field(max_length=10_000)] | None = None
    atoms: (
        Annotated[list[Annotated[str, Field(max_length=64)]], Field(max_length=10_000)] | None
    ) = None


class MergeEdit(_Edit):
    """Merge two neighbouring grids."""

    operation: Literal["merge"]
    grids: Annotated[list[Code], Field(min_length=2, max_length=2)]


class SplitEdit(_Edit):
    """Split a grid in two: balanced, or along ``line``."""

    operation: Literal["split"]
    grid: Code
    line: LineString | None = None
    seed: int = Field(0, ge=0, le=2**31 - 1)


class ReshapeEdit(_Edit):
    """Redraw a grid as ``polygon``, snapped to whole atoms."""

    operation: Literal["reshape"]
    grid: Code
    polygon: Polygon


class RebalanceEdit(_Edit):
    """Re-partition neighbouring grids into as many, balanced."""

    operation: Literal["rebalance"]
    grids: Annotated[list[Code], Field(min_length=2, max_length=50)]
    seed: int = Field(0, ge=0, le=2**31 - 1)


class RevertEdit(_Edit):
    """Go back to revision ``to_revision``'s grids, as a new revision (revisions are never
    changed): the undo and redo of any edit."""

    operation: Literal["revert"]
    to_revision: int = Field(ge=1, le=MAX_NUMBER)


Edit = Annotated[
    MoveEdit | MergeEdit | SplitEdit | ReshapeEdit | RebalanceEdit | RevertEdit,
    Field(discriminator="operation"),
]


def _edit(store: Store, settings: Settings, plan_id: str, edit: Any, user: User) -> dict[str, Any]:
    made, done = edit_plan(store, settings, plan_id, edit.model_dump(mode="json"), actor=user.name)
    return {"plan": plan_id, "revision": revision_json(made), **done}


@router.post("/{plan_id}/edits", status_code=201, summary="Edit a draft plan from a base revision")
async def post_edit(
    store: StoreDep, settings: SettingsDep, plan_id: str, edit: Edit, user: PlanPlanner
) -> Any:
    """Move, merge, split, reshape or rebalance; 409 with ``winner`` on a stale base;
    422 with ``reason`` when the engine refuses the edit (it would break the plan). The answer
    carries the new revision, what changed, the diff, the validation report of the edited
    community and its grids (GeoJSON), so a client need not reload the plan."""
    try:
        return await run_in_threadpool(_edit, store, settings, plan_id, edit, user)
    except StaleRevisionError as exc:
        body = error_body(exc.code, str(exc)) | {
            "base": exc.base,
            "winner": revision_json(exc.winner),
        }
        return JSONResponse(body, status_code=409)
    except EditRefused as exc:
        body = error_body(exc.code, str(exc)) | {"reason": exc.reason}
        return JSONResponse(body, status_code=422)
    except GridLockedError as exc:
        lock = exc.lock
        body = error_body(exc.code, str(exc)) | {
            "grid": lock.grid_code,
            "locked_by": lock.locked_by,
            "locked_at": lock.locked_at.isoformat(),
        }
        return JSONResponse(body, status_code=409)
