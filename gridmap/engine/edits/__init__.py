"""Edits: operations on a plan's cell assignment, each giving a new revision with its diff.

``plan`` loads a revision into the atoms' graph the operations work on, ``steps`` holds the
steps they share, ``geometry`` the drawn-line and drawn-polygon tests, ``diff`` the buildings and
residents that change grid, ``operations`` the planner's operations (move, merge, split,
reshape, rebalance).
"""

from gridmap.engine.edits.diff import PlanDiff, diff_plans
from gridmap.engine.edits.operations import (
    EditRefused,
    EditResult,
    merge_grids,
    move_atoms,
    move_cells,
    rebalance,
    reshape_grid,
    split_grid,
)

__all__ = [
    "EditRefused",
    "EditResult",
    "PlanDiff",
    "diff_plans",
    "merge_grids",
    "move_atoms",
    "move_cells",
    "rebalance",
    "reshape_grid",
    "split_grid",
]
