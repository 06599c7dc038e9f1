"""A planner's edit of a draft plan, from a named base revision; and a plan's atoms to paint.

:func:`edit_plan` runs one of the engine's operations (move, merge, split, reshape, rebalance,
revert) on the community it is about, commits the whole revision with compare-and-set (a stale
base raises :class:`~gridmap.store.contract.StaleRevisionError`, naming the winner) and
answers the new revision with what changed, its diff and its validation report. An edit the
engine refuses (it would break the plan) raises :class:`EditRefused`, with a one-word reason.
An edit that would change a grid a planner has locked (:meth:`Store.lock_grid`) raises
:class:`GridLockedError` naming the grid and who locked it; nothing is written.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import geopandas as gpd
import pandas as pd
import shapely

from gridmap.codes import community_of_grid
from gridmap.engine.edits.operations import EditRefused
from gridmap.engine.plan import CELL_COLUMNS, GRID_COLUMNS
from gridmap.errors import ConflictError, InputError, NotFoundError
from gridmap.service.plans import coverage_report, published_cells
from gridmap.settings import Settings
from gridmap.store.contract import GridLock, Revision, RevisionInfo, Store

__all__ = ["OPERATIONS", "EditRefused", "GridLockedError", "atoms_of", "edit_plan"]

OPERATIONS = ("move", "merge", "split", "reshape", "rebalance", "revert")
_TIME_BUDGET_S = 5.0


class GridLockedError(ConflictError):
    """An edit that would change a locked grid."""

    code = "grid_locked"

    def __init__(self, lock: GridLock, others: int = 0):
        self.lock = lock
        more = f" (and {others} other locked grid(s))" if others else ""
        super().__init__(
            f"网格 {lock.grid_code} 已被 {lock.locked_by} 锁定，不能修改{more}: grid "
            f"{lock.grid_code} is locked by {lock.locked_by}; ask them to unlock it"
        )


def refuse_locked(store: Store, plan_id: str, old: gpd.GeoDataFrame, new: gpd.GeoDataFrame) -> None:
    """GridLockedError when a cell moves out of or into a locked grid between ``old`` and
    ``new`` (the cells of two revisions, same canvas)."""
    locks = {lock.grid_code: lock for lock in store.grid_locks(plan_id)}
    if not locks:
        return
    after = new.loc[old.index, "grid"]
    moved = old["grid"].to_numpy() != after.to_numpy()
    touched = set(old.loc[moved, "grid"].astype(str)) | set(after[moved].astype(str))
    hit = sorted(touched & set(locks))
    if hit:
        raise GridLockedError(locks[hit[0]], len(hit) - 1)


def edit_plan(
    store: Store,
    settings: Settings,
    plan_id: str,
    edit: Mapping[str, Any],
    *,
    actor: str,
) -> tuple[RevisionInfo, dict[str, Any]]:
    """Apply ``edit`` to plan ``plan_id`` and commit it; (the new revision, what it did).

    Parameters
    ----------
    edit : mapping
        ``operation`` (one of :data:`OPERATIONS`), ``base_revision`` and the operation's
        arguments, as ``POST /api/plans/{id}/edits`` takes them (docs/api.md); lines and
        polygons are GeoJSON geometries in lon/lat.

    Returns
    -------
    (RevisionInfo, dict)
        The dict holds "communities", "changed", "diff", "crosswalk", "report" and "grids"
        (the edited community's grids as GeoJSON).

    Raises
    ------
    StaleRevisionError
        ``base_revision`` is not the plan's head any more; nothing is written.
    EditRefused
        The edit would break the plan (``reason`` says why).
    """
    operation = edit.get("operation")
    if operation not in OPERATIONS:
        raise InputError(f"operation {operation!r}: choose one of {', '.join(OPERATIONS)}")
    base = store.revision(plan_id, int(edit["base_revision"]))
    if operation == "revert":
        return _revert(store, settings, plan_id, edit, base, actor)
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
    refuse_locked(store, plan_id, base.cells, cells)
    made = store.commit(
        plan_id,
        base.info.number,
        cells[[*CELL_COLUMNS, "geometry"]],
        grids[[*GRID_COLUMNS, "geometry"]],
        actor=actor,
        operation=str(operation),
        detail={"request": dict(edit), "changed": list(result.changed)},
    )
    report = coverage_report(
        store, plan_id, made.number, settings, communities=communities, grids=grids
    )
    return made, {
        "communities": communities,
        "changed": list(result.changed),
        "diff": result.diff.to_dict(),
        "crosswalk": result.to_dict()["crosswalk"],
        "report": report.to_dict(),
        "grids": json.loads(changed.to_json(na="null", drop_id=True)),
    }


def atoms_of(
    store: Store, plan_id: str, revision: int | None, communities: list[str]
) -> dict[str, Any]:
    """The atoms of ``plan_id`` (its head, or ``revision``) in ``communities`` (all when empty),
    as GeoJSON: each atom's cells dissolved, its grid now and the grid in force for it."""
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
    return json.loads(atoms.set_index("id").to_json(na="null"))  # type: ignore[no-any-return]


def _geometry(shape: Mapping[str, Any]) -> shapely.Geometry:
    try:
        geom = shapely.geometry.shape(shape)
    except (KeyError, TypeError, ValueError, shapely.errors.GEOSException) as exc:
        raise InputError(f"{shape.get('type')}: not a GeoJSON geometry ({exc})") from None
    if not geom.is_valid or geom.is_empty:
        raise InputError(
            f"{shape.get('type')}: not a valid geometry ({shapely.is_valid_reason(geom)})"
        )
    return geom


def _run(edit: Mapping[str, Any], cells: gpd.GeoDataFrame, settings: Settings) -> Any:
    from gridmap.engine import edits

    operation = edit["operation"]
    common: dict[str, Any] = {"metric": settings.metric_epsg}
    if operation == "move":
        if bool(edit.get("cells")) == bool(edit.get("atoms")):
            raise InputError("move: give either cells or atoms (one non-empty list)")
        if edit.get("cells"):
            return edits.move_cells(cells, edit["cells"], edit["to_grid"], **common)
        return edits.move_atoms(cells, edit["atoms"], edit["to_grid"], **common)
    if operation == "merge":
        return edits.merge_grids(cells, edit["grids"][0], edit["grids"][1], **common)
    if operation == "split":
        line = None if edit.get("line") is None else _geometry(edit["line"])
        return edits.split_grid(
            cells,
            edit["grid"],
            line=line,
            seed=int(edit.get("seed", 0)),
            weight=settings.weight,
            tolerance=settings.tolerance,
            time_budget_s=_TIME_BUDGET_S,
            **common,
        )
    if operation == "reshape":
        return edits.reshape_grid(cells, edit["grid"], _geometry(edit["polygon"]), **common)
    return edits.rebalance(
        cells,
        edit["grids"],
        target=settings.target,
        tolerance=settings.tolerance,
        seed=int(edit.get("seed", 0)),
        weight=settings.weight,
        time_budget_s=_TIME_BUDGET_S,
        **common,
    )


def _communities(edit: Mapping[str, Any]) -> list[str]:
    """The communities an edit works in: every edit names grids, and a grid code starts with
    its community's 12 digits (grids of two communities: the engine refuses, and says why)."""
    codes = [edit.get("to_grid"), edit.get("grid"), *(edit.get("grids") or [])]
    return sorted({community_of_grid(str(code)) for code in codes if code})


def _revert(
    store: Store,
    settings: Settings,
    plan_id: str,
    edit: Mapping[str, Any],
    base: Revision,
    actor: str,
) -> tuple[RevisionInfo, dict[str, Any]]:
    """Commit revision ``edit["to_revision"]``'s cells and grids again, from the base."""
    from gridmap.engine.edits.diff import diff_plans

    to_revision = int(edit["to_revision"])
    target = store.revision(plan_id, to_revision)
    old, new = base.cells, target.cells
    if not old.index.sort_values().equals(new.index.sort_values()):
        raise InputError(f"plan {plan_id}: revision {to_revision} lies on another canvas")
    moved = old["grid"].to_numpy() != new.loc[old.index, "grid"].to_numpy()
    communities = sorted(set(old.loc[moved, "community_code"]))
    if not communities and store.plan(plan_id).head == base.info.number:
        raise EditRefused(
            "no_change", f"revision {base.info.number} has the grids of {to_revision}"
        )
    refuse_locked(store, plan_id, old, new)
    made = store.commit(  # a stale base is refused here, before anything else
        plan_id,
        base.info.number,
        new[[*CELL_COLUMNS, "geometry"]],
        target.grids[[*GRID_COLUMNS, "geometry"]],
        actor=actor,
        operation="revert",
        detail={"request": dict(edit)},
    )
    inside = old["community_code"].isin(communities).to_numpy()
    diff = diff_plans(old[inside], new.loc[old.index[inside]])
    grids = target.grids
    report = coverage_report(
        store, plan_id, made.number, settings, communities=communities, grids=grids
    )
    changed = grids[grids["community_code"].isin(communities)][[*GRID_COLUMNS, "geometry"]]
    return made, {
        "communities": communities,
        "changed": [
            f"back to revision {to_revision} in {len(communities)} community(ies): "
            f"{diff.residents_moved:,} residents change grid"
        ],
        "diff": diff.to_dict(),
        "crosswalk": [],
        "report": report.to_dict(),
        "grids": json.loads(changed.to_json(na="null", drop_id=True)),
    }
