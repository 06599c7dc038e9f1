"""Plans in a GeoPackage workspace: the plan row, its cells and its dissolved grids.

A plan is written in one all-or-nothing write of its three tables, so a plan is never half
written. (Revisions, publishing and concurrent editors come with the storage contract.)
"""

from __future__ import annotations

import datetime as dt
import json

import geopandas as gpd
import pandas as pd

from gridmap.errors import NotFoundError
from gridmap.store.gpkg import Workspace

__all__ = ["list_plans", "load_plan", "save_plan"]


def save_plan(
    workspace: Workspace,
    cells: gpd.GeoDataFrame,
    grids: gpd.GeoDataFrame,
    params: dict[str, object],
    *,
    name: str | None = None,
    created_by: str | None = None,
) -> str:
    """Store a draft plan; returns its id ("1", "2", …).

    ``cells`` is indexed by cell_id with community_code, atom_id, residents, households and
    ``grid`` (the code); ``grids`` comes from :func:`gridmap.engine.plan.dissolve_grids` plus
    a ``compactness`` column.
    """
    existing = workspace.read("plans")["id"]
    plan_id = str(int(pd.to_numeric(existing).max()) + 1 if len(existing) else 1)
    plan = pd.DataFrame(
        [
            {
                "id": plan_id,
                "name": name or f"plan {plan_id}",
                "status": "draft",
                "created_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
                "created_by": created_by,
                "weight": params.get("weight"),
                "target": params.get("target"),
                "tolerance": params.get("tolerance"),
                "seed": params.get("seed"),
                "scheme": params.get("scheme", "db11"),
                "params": json.dumps(params, ensure_ascii=False, default=str),
            }
        ]
    )
    cell_rows = cells.reset_index(names="cell_id").rename(columns={"grid": "grid_code"})
    cell_rows["plan_id"] = plan_id
    cell_rows["cell_key"] = plan_id + ":" + cell_rows["cell_id"].astype(str)
    grid_rows = grids.copy()
    grid_rows["plan_id"] = plan_id
    grid_rows["grid_key"] = plan_id + ":" + grid_rows["code"].astype(str)
    workspace.write({"plans": plan, "plan_cells": cell_rows, "plan_grids": grid_rows})
    return plan_id


def list_plans(workspace: Workspace) -> pd.DataFrame:
    """The plans of the workspace, newest last."""
    return workspace.read("plans")


def load_plan(
    workspace: Workspace, plan_id: str
) -> tuple[dict[str, object], gpd.GeoDataFrame, gpd.GeoDataFrame]:
    """(plan row as a dict, cells indexed by cell_id with ``grid``, grids) of ``plan_id``."""
    plans = workspace.read("plans")
    row = plans[plans["id"] == str(plan_id)]
    if row.empty:
        known = ", ".join(plans["id"]) or "none"
        raise NotFoundError(f"{workspace.path}: no plan {plan_id}; the plans are: {known}")
    cells = workspace.read("plan_cells")
    cells = cells[cells["plan_id"] == str(plan_id)].set_index("cell_id")
    cells = cells.rename(columns={"grid_code": "grid"}).drop(columns=["cell_key", "plan_id"])
    grids = workspace.read("plan_grids")
    grids = grids[grids["plan_id"] == str(plan_id)].drop(columns=["grid_key", "plan_id"])
    return row.iloc[0].to_dict(), cells, grids.reset_index(drop=True)
