"""``GET /api/plans/{id}/atoms``: a plan's atoms as GeoJSON, for the planner's paint tool.

An atom (a compound, a social unit, a cluster of scattered buildings) is the smallest thing an
edit moves; the map draws each as its cells dissolved, with the grid it is in now and the grid
in force for it (``published_grid``, null where nothing is published), so the page can paint
atoms to a neighbouring grid (``POST /api/plans/{id}/edits`` with ``operation: move`` and the
atom's ``cell``) and highlight what differs from the published plan.
"""

from __future__ import annotations

import json
from typing import Annotated, Any

import geopandas as gpd
from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.concurrency import run_in_threadpool

from gridmap.api.auth import require
from gridmap.api.params import MAX_NUMBER
from gridmap.api.plan_data import published_cells
from gridmap.errors import NotFoundError
from gridmap.store.contract import Store, User

__all__ = ["atoms_of", "router"]

router = APIRouter(prefix="/api/plans", tags=["plans"])

Planner = Annotated[User, Depends(require("planner"))]


def atoms_of(
    store: Store, plan_id: str, revision: int | None, communities: list[str]
) -> dict[str, Any]:
    """The atoms of ``plan_id`` (its head, or ``revision``) in ``communities`` (all when empty)."""
    cells = store.revision(plan_id, revision).cells
    if communities:
        cells = cells[cells["community_code"].isin(communities)]
    if cells.empty:
        raise NotFoundError(f"plan {plan_id} has no cells in {', '.join(communities)}")
    try:
        in_force = published_cells(store, sorted(set(cells["community_code"])))["grid"]
    except NotFoundError:
        in_force = None
    frame = cells.reset_index()
    frame["published_grid"] = None if in_force is None else frame["cell_id"].map(in_force)
    atoms = frame.dissolve(
        by=["community_code", "atom_id"],
        aggfunc={
            "cell_id": "first",
            "grid": "first",
            "residents": "sum",
            "households": "sum",
            "published_grid": "first",
        },
    ).reset_index()
    atoms = gpd.GeoDataFrame(atoms.rename(columns={"cell_id": "cell"}), crs=4326)
    atoms["id"] = atoms["community_code"] + "/" + atoms["atom_id"]
    return json.loads(atoms.set_index("id").to_json(na="null"))


@router.get("/{plan_id}/atoms", summary="A plan's atoms (cells dissolved) with their grids")
async def get_atoms(
    request: Request,
    plan_id: str,
    user: Planner,
    community: Annotated[list[str] | None, Query(max_length=500)] = None,
    revision: Annotated[int | None, Query(ge=1, le=MAX_NUMBER)] = None,
) -> Response:
    """GeoJSON of the atoms of ``community`` (repeatable; default all the plan's)."""
    body = await run_in_threadpool(
        atoms_of, request.app.state.store, plan_id, revision, list(community or [])
    )
    return Response(
        json.dumps(body, ensure_ascii=False, separators=(",", ":")),
        media_type="application/geo+json",
        headers={"Cache-Control": "private, no-store"},
    )
