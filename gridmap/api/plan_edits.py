"""``POST /api/plans/{id}/edits``: the engine's edits on a draft, from a named base revision.

The body names ``operation`` (move, merge, split, reshape, rebalance, revert), its arguments and
``base_revision``. The edit is computed on that revision and committed with compare-and-set:
when somebody else's revision came first the answer is 409 with ``winner`` (number, author,
time, operation), and nothing is written. A success answers the new revision with what changed,
its diff and its validation report.
"""

from __future__ import annotations

import json
from typing import Annotated, Any, Literal

import shapely
from fastapi import APIRouter, Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from gridmap.api.auth import require
from gridmap.api.errors import error_body
from gridmap.api.params import MAX_NUMBER
from gridmap.api.plan_data import GRID_COLUMNS, plan_report
from gridmap.api.plans import revision_json
from gridmap.api.write_limits import LimitedRoute
from gridmap.errors import InputError
from gridmap.settings import Settings
from gridmap.store.contract import StaleRevisionError, Store, User

__all__ = ["router"]

router = APIRouter(prefix="/api/plans", tags=["plans"], route_class=LimitedRoute)

Planner = Annotated[User, Depends(require("planner"))]
Coord = Annotated[float, Field(ge=-180, le=180, allow_inf_nan=False)]
Position = tuple[Coord, Coord]
Code = Annotated[str, Field(min_length=1, max_length=20)]
_TIME_BUDGET_S = 5.0


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


def _geometry(shape: LineString | Polygon) -> shapely.Geometry:
    geom = (
        shapely.LineString(shape.coordinates)
        if isinstance(shape, LineString)
        else shapely.Polygon(shape.coordinates[0], shape.coordinates[1:])
    )
    if not geom.is_valid or geom.is_empty:
        raise InputError(f"{shape.type}: not a valid geometry ({shapely.is_valid_reason(geom)})")
    return geom


def _run(edit: Any, cells: Any, settings: Settings) -> Any:
    from gridmap.engine import edits

    common: dict[str, Any] = {"metric": settings.metric_epsg}
    if isinstance(edit, MoveEdit):
        if bool(edit.cells) == bool(edit.atoms):
            raise InputError("move: give either cells or atoms (one non-empty list)")
        if edit.cells:
            return edits.move_cells(cells, edit.cells, edit.to_grid, **common)
        return edits.move_atoms(cells, edit.atoms or [], edit.to_grid, **common)
    if isinstance(edit, MergeEdit):
        return edits.merge_grids(cells, edit.grids[0], edit.grids[1], **common)
    if isinstance(edit, SplitEdit):
        line = None if edit.line is None else _geometry(edit.line)
        return edits.split_grid(
            cells,
            edit.grid,
            line=line,
            seed=edit.seed,
            weight=settings.weight,
            tolerance=settings.tolerance,
            time_budget_s=_TIME_BUDGET_S,
            **common,
        )
    if isinstance(edit, ReshapeEdit):
        return edits.reshape_grid(cells, edit.grid, _geometry(edit.polygon), **common)
    return edits.rebalance(
        cells,
        edit.grids,
        target=settings.target,
        tolerance=settings.tolerance,
        seed=edit.seed,
        weight=settings.weight,
        time_budget_s=_TIME_BUDGET_S,
        **common,
    )


def _communities(edit: Any) -> list[str]:
    """The communities an edit works in: every edit names grids, and a grid code starts with
    its community's 12 digits (grids of two communities: the engine refuses, and says why)."""
    codes = [getattr(edit, "to_grid", None), getattr(edit, "grid", None)]
    codes += list(getattr(edit, "grids", None) or [])
    return sorted({str(code)[:12] for code in codes if code})


def _edit(request: Request, plan_id: str, edit: Any, user: User) -> dict[str, Any]:
    """Edit the one community the edit is about, then commit the whole revision: the other
    communities' cells and grids are carried over as they are (an edit never crosses a
    community line), which keeps an edit of a district plan under a second."""
    import geopandas as gpd
    import pandas as pd

    from gridmap.engine.plan import CELL_COLUMNS

    store: Store = request.app.state.store
    settings: Settings = request.app.state.settings
    base = store.revision(plan_id, edit.base_revision)
    if isinstance(edit, RevertEdit):
        return _revert(store, settings, plan_id, edit, base, user)
    communities = _communities(edit)
    inside = base.cells["community_code"].isin(communities).to_numpy()
    if not inside.any():
        raise InputError(f"plan {plan_id} has no grid in community {', '.join(communities)}")
    result = _run(edit, base.cells[inside], settings)
    cells = pd.concat([base.cells[~inside], result.cells[[*CELL_COLUMNS, "geometry"]]])
    cells = gpd.GeoDataFrame(cells.loc[base.cells.index], crs=base.cells.crs)
    kept = base.grids[~base.grids["community_code"].isin(communities)]
    changed = result.grids[[*GRID_COLUMNS, "geometry"]]
    grids = gpd.GeoDataFrame(pd.concat([kept, changed], ignore_index=True), crs=base.grids.crs)
    made = store.commit(
        plan_id,
        edit.base_revision,
        cells[[*CELL_COLUMNS, "geometry"]],
        grids[[*GRID_COLUMNS, "geometry"]],
        actor=user.name,
        operation=edit.operation,
        detail={"request": edit.model_dump(mode="json"), "changed": list(result.changed)},
    )
    report = plan_report(
        store, plan_id, made.number, settings, communities=communities, grids=grids
    )
    return {
        "plan": plan_id,
        "revision": revision_json(made),
        "communities": communities,
        "changed": list(result.changed),
        "diff": result.diff.to_dict(),
        "crosswalk": result.to_dict()["crosswalk"],
        "report": report.to_dict(),
        "grids": json.loads(changed.to_json(na="null", drop_id=True)),
    }


def _revert(
    store: Store, settings: Settings, plan_id: str, edit: RevertEdit, base: Any, user: User
) -> dict[str, Any]:
    """Commit revision ``edit.to_revision``'s cells and grids again, from the base."""
    from gridmap.engine.edits.diff import diff_plans
    from gridmap.engine.edits.operations import EditRefused
    from gridmap.engine.plan import CELL_COLUMNS

    target = store.revision(plan_id, edit.to_revision)
    old, new = base.cells, target.cells
    if not old.index.sort_values().equals(new.index.sort_values()):
        raise InputError(f"plan {plan_id}: revision {edit.to_revision} lies on another canvas")
    moved = old["grid"].to_numpy() != new.loc[old.index, "grid"].to_numpy()
    communities = sorted(set(old.loc[moved, "community_code"]))
    if not communities and store.plan(plan_id).head == edit.base_revision:
        raise EditRefused(
            "no_change", f"revision {edit.base_revision} has the grids of {edit.to_revision}"
        )
    made = store.commit(  # a stale base is refused here, before anything else
        plan_id,
        edit.base_revision,
        new[[*CELL_COLUMNS, "geometry"]],
        target.grids[[*GRID_COLUMNS, "geometry"]],
        actor=user.name,
        operation="revert",
        detail={"request": edit.model_dump(mode="json")},
    )
    inside = old["community_code"].isin(communities).to_numpy()
    diff = diff_plans(old[inside], new.loc[old.index[inside]])
    grids = target.grids
    report = plan_report(
        store, plan_id, made.number, settings, communities=communities, grids=grids
    )
    changed = grids[grids["community_code"].isin(communities)][[*GRID_COLUMNS, "geometry"]]
    return {
        "plan": plan_id,
        "revision": revision_json(made),
        "communities": communities,
        "changed": [
            f"back to revision {edit.to_revision} in {len(communities)} community(ies): "
            f"{diff.residents_moved:,} residents change grid"
        ],
        "diff": diff.to_dict(),
        "crosswalk": [],
        "report": report.to_dict(),
        "grids": json.loads(changed.to_json(na="null", drop_id=True)),
    }


@router.post("/{plan_id}/edits", status_code=201, summary="Edit a draft plan from a base revision")
async def post_edit(request: Request, plan_id: str, edit: Edit, user: Planner) -> Any:
    """Move, merge, split, reshape or rebalance; 409 with ``winner`` on a stale base;
    422 with ``reason`` when the engine refuses the edit (it would break the plan). The answer
    carries the new revision, what changed, the diff, the validation report of the edited
    community and its grids (GeoJSON), so a client need not reload the plan."""
    from gridmap.engine.edits.operations import EditRefused

    try:
        return await run_in_threadpool(_edit, request, plan_id, edit, user)
    except StaleRevisionError as exc:
        body = error_body(exc.code, str(exc)) | {
            "base": exc.base,
            "winner": revision_json(exc.winner),
        }
        return JSONResponse(body, status_code=409)
    except EditRefused as exc:
        body = error_body(exc.code, str(exc)) | {"reason": exc.reason}
        return JSONResponse(body, status_code=422)
