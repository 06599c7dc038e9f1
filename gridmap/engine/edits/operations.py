"""Edits of a plan: operations on the assignment of cells to grids, never on grid polygons.

Each operation takes a plan's cells (index cell_id; community_code, atom_id, residents,
households, grid, geometry in EPSG:4326), checks the edit, and returns an :class:`EditResult`:
the new cells, the dissolved grids, the diff and the code crosswalk. The rules:

- Atoms are never split: moving any cell of an atom moves the whole atom.
- Cells move only to a grid they share a boundary with, within their community.
- No edit leaves a grid empty (merging retires one on purpose) or in more pieces than it had;
  such an edit is refused with :class:`EditRefused`, whose message names the grid and why.
- Codes are recomputed with :func:`gridmap.engine.gridcodes.stable_codes`: a grid that keeps
  most of its residents keeps its code; a new grid takes the next free number.

Because the cells tile the community, every result covers it exactly, with no gap or overlap.

``adjacency`` (optional, every operation) is the cells' :class:`~gridmap.engine.graph.Adjacency`
in metres in the order of ``cells`` (``Canvas.adjacency``); without it it is computed.
``metric`` is the metric CRS (EPSG code, pyproj CRS, or a (lon, lat) → (x, y) callable);
None takes the UTM zone of the cells. ``scheme`` is the grid code layout (``"db11"``).

The examples use ``_row_of_cells("1122")``: four 100 m-wide cells in a row near 106.55E
29.55N, atoms a–d with 10, 20, 30 and 40 residents, in grids 500108003002001 and …002.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from numpy.typing import NDArray

from gridmap.engine.edits.diff import PlanDiff, diff_plans
from gridmap.engine.edits.geometry import share_inside
from gridmap.engine.edits.plan import Metric, Plan, Problem, load_plan
from gridmap.engine.edits.steps import (
    EditResult,
    as_polygon,
    assemble,
    atom_sentence,
    auto_sides,
    line_sides,
    listed,
    partition_atoms,
    send_away,
    shown,
)
from gridmap.engine.graph import Adjacency, connected_parts
from gridmap.errors import InputError

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

_NEW = "\x00new"  # label of a grid being made, until stable_codes numbers it


class EditRefused(InputError):
    """An edit that would break the plan: ``reason`` says why in one word, the message in full.

    Reasons: unknown_grid, unknown_cell, unknown_atom, no_change, same_grid, other_community,
    not_adjacent, disconnects, empties, empty_side, bad_line, single_atom, too_few_grids,
    too_few_atoms, no_neighbour.
    """

    code = "edit_refused"

    def __init__(self, reason: str, message: str) -> None:
        self.reason = reason
        super().__init__(message)


def move_cells(
    cells: gpd.GeoDataFrame,
    cell_ids: Iterable[Any],
    to_grid: str,
    *,
    adjacency: Adjacency | None = None,
    metric: Metric = None,
    scheme: str = "db11",
) -> EditResult:
    """Move cells — with the rest of their atoms — to the neighbouring grid ``to_grid``.

    Raises
    ------
    EditRefused
        An unknown cell or grid; ``to_grid`` in another community or sharing no boundary with
        the cells; a grid that would be left empty or fall into pieces.

    Examples
    --------
    >>> cells = _row_of_cells("1122")
    >>> result = move_cells(cells, ["c3"], "500108003002001")
    >>> result.cells["grid"].str[-3:].tolist(), result.diff.residents_moved
    (['001', '001', '001', '002'], 30)
    >>> move_cells(_row_of_cells("1222"), ["c1"], "500108003002002")
    Traceback (most recent call last):
    ...
    gridmap.engine.edits.operations.EditRefused: grid 500108003002001 would be left empty
    """
    plan = load_plan(cells, adjacency, metric)
    ids = listed(cell_ids, "cell_ids")
    pos, unknown = plan.positions(ids)
    if unknown:
        raise EditRefused("unknown_cell", f"no cell {shown(unknown)} in the plan")
    atoms = np.unique(plan.atom[pos])
    along = plan.cells_of_atoms(atoms)
    along[pos] = False
    along &= plan.grid != str(to_grid)
    changed = []
    if along.any():
        changed.append(f"cell(s) {shown(plan.cells.index[along])} move too: atoms are never split")
    return _move(plan, atoms, str(to_grid), changed, scheme)


def move_atoms(
    cells: gpd.GeoDataFrame,
    atom_ids: Iterable[Any],
    to_grid: str,
    *,
    adjacency: Adjacency | None = None,
    metric: Metric = None,
    scheme: str = "db11",
) -> EditResult:
    """Move whole atoms (all their cells) to the neighbouring grid ``to_grid``.

    Raises
    ------
    EditRefused
        As :func:`move_cells`.

    Examples
    --------
    >>> result = move_atoms(_row_of_cells("1122"), ["c"], "500108003002001")
    >>> result.changed[0]
    'atom c (1 cell, 30 residents, 12 households) moves from 500108003002002 to 500108003002001'
    >>> try:
    ...     move_atoms(_row_of_cells("1123"), ["a"], "500108003002003")
    ... except EditRefused as refused:
    ...     print(refused)
    grid 500108003002003 shares no boundary with cell(s) c1
    """
    plan = load_plan(cells, adjacency, metric)
    numbers, unknown = plan.atom_numbers(listed(atom_ids, "atom_ids"))
    if unknown:
        raise EditRefused("unknown_atom", f"no atom {shown(unknown)} in the plan")
    return _move(plan, numbers, str(to_grid), [], scheme)


def merge_grids(
    cells: gpd.GeoDataFrame,
    a: str,
    b: str,
    *,
    adjacency: Adjacency | None = None,
    metric: Metric = None,
    scheme: str = "db11",
) -> EditResult:
    """Merge two neighbouring grids; the merged grid keeps the code of the one with more residents.

    Raises
    ------
    EditRefused
        Unknown grids, the same grid twice, grids of two communities, or not neighbours.

    Examples
    --------
    >>> result = merge_grids(_row_of_cells("1122"), "500108003002001", "500108003002002")
    >>> result.grids["code"].tolist(), result.changed[-1]
    (['500108003002002'], 'code 500108003002001 retired')
    """
    plan = load_plan(cells, adjacency, metric)
    a, b = str(a), str(b)
    _known(plan, [a, b])
    if a == b:
        raise EditRefused("same_grid", f"cannot merge grid {a} with itself")
    _same_community(plan, [a, b])
    in_b = plan.grid == b
    if a not in plan.shared_with(in_b, plan.grid):
        raise EditRefused("not_adjacent", f"grids {a} and {b} share no boundary")
    labels = plan.grid.copy()
    labels[in_b | (plan.grid == a)] = _NEW
    before = {_NEW: max(plan.pieces(plan.grid, a), plan.pieces(plan.grid, b))}
    _refuse(plan.problems(labels, [_NEW], before=before))
    people = {g: int(plan.residents[plan.grid == g].sum()) for g in (a, b)}
    return assemble(
        plan,
        labels,
        scheme,
        lambda code: [
            f"grids {a} ({people[a]} residents) and {b} ({people[b]} residents) merge "
            f"into {code[_NEW]}"
        ],
    )


def split_grid(
    cells: gpd.GeoDataFrame,
    code: str,
    *,
    line: shapely.LineString | None = None,
    seed: int = 0,
    weight: str = "residents",
    tolerance: float = 0.2,
    time_budget_s: float | None = None,
    adjacency: Adjacency | None = None,
    metric: Metric = None,
    scheme: str = "db11",
) -> EditResult:
    """Split a grid in two: balanced automatically, or along a line the planner drew.

    Without ``line`` the grid's atoms are partitioned in two by ``weight`` with
    :func:`gridmap.engine.partition.solve.partition_graph`. With ``line`` (EPSG:4326), the line is
    extended straight past its ends and each atom goes to the side holding most of its area
    (exactly half: the right side), so the cut follows cell borders; see
    :mod:`gridmap.engine.edits.geometry` for why sides are taken this way. The side keeping
    most residents keeps the code; the other takes the next free number.

    Raises
    ------
    EditRefused
        An unknown grid, a grid of one atom, a line that crosses itself, a side left empty
        (``empty_side``) or in pieces (``disconnects``).

    Examples
    --------
    >>> cells = _row_of_cells("1111")
    >>> x = 106.55 + 0.0021  # across the third cell, most of it on the right
    >>> result = split_grid(cells, "500108003002001",
    ...                     line=shapely.LineString([(x, 29.549), (x, 29.552)]))
    >>> result.cells["grid"].str[-3:].tolist()
    ['002', '002', '001', '001']
    """
    plan = load_plan(cells, adjacency, metric)
    code = str(code)
    _known(plan, [code])
    members = plan.grid == code
    if len(np.unique(plan.atom[members])) < 2:
        raise EditRefused("single_atom", f"grid {code} is a single atom, and atoms are never split")
    if line is None:
        side, names, notes = auto_sides(plan, members, code, seed, weight, tolerance, time_budget_s)
    else:
        found, names = line_sides(plan, members, code, line)
        if found is None:
            raise EditRefused(*names)
        side, notes = found, []
    for s in (0, 1):
        if not (side == s).any():
            raise EditRefused(
                "empty_side",
                f"{names[s]} would be empty: every atom of grid {code} lies on the other side",
            )
    sides = (f"{_NEW}0", f"{_NEW}1")
    labels = plan.grid.copy()
    labels[members] = np.asarray(sides, dtype=object)[side]
    before = {sides[0]: plan.pieces(plan.grid, code), sides[1]: 1}
    _refuse(plan.problems(labels, sides, names=dict(zip(sides, names, strict=True)), before=before))
    counts = [int(plan.residents[labels == lab].sum()) for lab in sides]
    return assemble(
        plan,
        labels,
        scheme,
        lambda c: [
            *notes,
            f"grid {code} splits into {c[sides[0]]} ({counts[0]} residents) "
            f"and {c[sides[1]]} ({counts[1]} residents)",
        ],
    )


def reshape_grid(
    cells: gpd.GeoDataFrame,
    code: str,
    polygon: shapely.Geometry,
    *,
    adjacency: Adjacency | None = None,
    metric: Metric = None,
    scheme: str = "db11",
) -> EditResult:
    """Redraw a grid as ``polygon`` (EPSG:4326), snapped to whole atoms of its community.

    Atoms with more than half of their area inside the polygon join the grid; atoms of the
    grid with less than half inside leave it, each to the neighbouring grid it shares the
    longest boundary with (atoms deep inside go after their outer neighbours have gone).

    Raises
    ------
    EditRefused
        An unknown grid, a polygon that changes nothing, an atom with nowhere to go, or a grid
        left empty or in pieces.

    Examples
    --------
    >>> cells = _row_of_cells("1122")
    >>> area = shapely.box(106.5499, 29.5499, 106.5526, 29.5511)  # cells 1, 2 and most of 3
    >>> reshape_grid(cells, "500108003002001", area).cells["grid"].str[-3:].tolist()
    ['001', '001', '001', '002']
    """
    plan = load_plan(cells, adjacency, metric)
    code = str(code)
    _known(plan, [code])
    shape = as_polygon(polygon)
    community = plan.community_of(code)
    same = plan.community == community
    inside = np.zeros(len(plan.area))
    inside[same] = share_inside(
        shapely.transform(shape, plan.metric, interleaved=False), plan.projected[same]
    )
    n_atoms = len(plan.atom_ids)
    atom_area = np.bincount(plan.atom, weights=np.where(same, plan.area, 0.0), minlength=n_atoms)
    atom_in = np.bincount(plan.atom, weights=inside, minlength=n_atoms)
    fraction = np.divide(atom_in, atom_area, out=np.zeros(n_atoms), where=atom_area > 0)
    cell_fraction = fraction[plan.atom]
    labels = plan.grid.copy()
    joining = same & (cell_fraction > 0.5) & (labels != code)
    labels[joining] = code
    leaving = same & (labels == code) & (cell_fraction < 0.5)
    if not joining.any() and not leaving.any():
        raise EditRefused(
            "no_change",
            f"the polygon changes nothing: no atom outside grid {code} lies mostly inside it "
            "and no atom of it lies mostly outside",
        )
    changed = [
        atom_sentence(plan, a, f"joins {code} from {plan.grid[plan.atom == a][0]}", fraction[a])
        for a in np.unique(plan.atom[joining])
    ]
    receivers = send_away(plan, labels, leaving, code)
    if isinstance(receivers, tuple):
        raise EditRefused(*receivers)
    for a in np.unique(plan.atom[leaving]):
        to = labels[np.flatnonzero(plan.atom == a)[0]]
        changed.append(atom_sentence(plan, a, f"leaves {code} for {to}", fraction[a]))
    others = sorted(set(plan.community[~same & (inside > 0)]))
    if others:
        changed.append(
            f"the polygon reaches into community {', '.join(others)}; its cells there stay put"
        )
    donors = set(plan.grid[joining]) | set(receivers)
    _refuse(plan.problems(labels, [code, *sorted(donors)]))
    return assemble(plan, labels, scheme, lambda _: changed)


def rebalance(
    cells: gpd.GeoDataFrame,
    codes: Iterable[str],
    *,
    target: float | None = None,
    tolerance: float = 0.2,
    seed: int = 0,
    weight: str = "residents",
    time_budget_s: float | None = None,
    adjacency: Adjacency | None = None,
    metric: Metric = None,
    scheme: str = "db11",
) -> EditResult:
    """Re-partition the atoms of neighbouring grids into as many grids, balanced by ``weight``.

    ``target`` defaults to the grids' mean weight. Codes stay stable: a new grid holding most
    of an old grid's residents keeps that code.

    Raises
    ------
    EditRefused
        Unknown grids, fewer than two, grids of several communities or not forming one area,
        fewer atoms than grids, or a partition that leaves a grid empty or in pieces.

    Examples
    --------
    >>> result = rebalance(_row_of_cells("11222"), ["500108003002001", "500108003002002"])
    >>> result.grids["residents"].tolist(), result.diff.residents_moved
    ([60, 90], 30)
    """
    plan = load_plan(cells, adjacency, metric)
    wanted = list(dict.fromkeys(str(c) for c in listed(codes, "codes")))
    if len(wanted) < 2:
        raise EditRefused("too_few_grids", f"rebalance needs two grids or more, not {wanted}")
    _known(plan, wanted)
    _same_community(plan, wanted)
    members = np.isin(plan.grid, wanted)
    if connected_parts(plan.linked, members).max() > 0:
        raise EditRefused("not_adjacent", f"grids {shown(wanted)} do not form one area")
    graph = plan.atom_graph(members, weight)
    k = len(wanted)
    if graph.adjacency.n < k:
        raise EditRefused("too_few_atoms", f"{graph.adjacency.n} atoms cannot make {k} grids")
    result = partition_atoms(
        graph, k, target or float(graph.weights.sum()) / k, tolerance, seed, time_budget_s
    )
    parts = [f"{_NEW}{i}" for i in range(k)]
    labels = plan.grid.copy()
    labels[graph.cells] = np.asarray(parts, dtype=object)[result.labels[graph.unit]]
    names = {p: f"new grid {i + 1} of {k}" for i, p in enumerate(parts)}
    _refuse(plan.problems(labels, parts, names=names, before=dict.fromkeys(parts, 1)))
    values = pd.to_numeric(plan.cells[weight], errors="coerce").fillna(0).to_numpy(float)
    before = {g: values[plan.grid == g].sum() for g in wanted}
    after = {p: values[labels == p].sum() for p in parts}

    def describe(code_of: dict[Any, str]) -> list[str]:
        old = ", ".join(f"{g} {before[g]:g}" for g in wanted)
        new = ", ".join(
            f"{code_of[p]} {after[p]:g}" for p in sorted(parts, key=lambda p: code_of[p])
        )
        return [*map(str, result.notes), f"{weight} before: {old}; after: {new}"]

    return assemble(plan, labels, scheme, describe)


# -- private ---------------------------------------------------------------------------------


def _move(
    plan: Plan, atoms: NDArray[np.int64], to_grid: str, changed: list[str], scheme: str
) -> EditResult:
    _known(plan, [to_grid])
    members = plan.cells_of_atoms(atoms) & (plan.grid != to_grid)
    if not members.any():
        raise EditRefused("no_change", f"nothing to move: the cells are in grid {to_grid} already")
    community = plan.community_of(to_grid)
    foreign = sorted(set(plan.community[members]) - {community})
    if foreign:
        raise EditRefused(
            "other_community",
            f"grid {to_grid} is in community {community}, the cells in {', '.join(foreign)}",
        )
    if to_grid not in plan.shared_with(members, plan.grid):
        raise EditRefused(
            "not_adjacent",
            f"grid {to_grid} shares no boundary with cell(s) {shown(plan.cells.index[members])}",
        )
    labels = plan.grid.copy()
    labels[members] = to_grid
    donors = sorted(set(plan.grid[members]))
    _refuse(plan.problems(labels, [*donors, to_grid]))
    for a in np.unique(plan.atom[members]):
        donor = ", ".join(sorted(set(plan.grid[members & (plan.atom == a)])))
        changed.append(atom_sentence(plan, a, f"moves from {donor} to {to_grid}"))
    return assemble(plan, labels, scheme, lambda _: changed)


def _known(plan: Plan, codes: Iterable[str]) -> None:
    present = set(plan.grid.tolist())
    missing = [c for c in codes if c not in present]
    if missing:
        raise EditRefused("unknown_grid", f"no grid {shown(missing)} in the plan")


def _same_community(plan: Plan, codes: list[str]) -> None:
    found = {c: plan.community_of(c) for c in codes}
    if len(set(found.values())) > 1:
        where = ", ".join(f"{c} in {k}" for c, k in found.items())
        raise EditRefused("other_community", f"grids of different communities: {where}")


def _refuse(problems: list[Problem]) -> None:
    if problems:
        raise EditRefused(problems[0][0], "; ".join(message for _, message in problems))


def _row_of_cells(grids: str) -> gpd.GeoDataFrame:
    """The examples' plan: one cell per character of ``grids`` ("1122": grids 001 and 002)."""
    x = [106.55 + i * 0.001 for i in range(len(grids) + 1)]
    n = len(grids)
    return gpd.GeoDataFrame(
        {
            "community_code": ["500108003002"] * n,
            "atom_id": list("abcdefghij"[:n]),
            "residents": pd.array([10 * (i + 1) for i in range(n)], dtype="Int64"),
            "households": pd.array([4 * (i + 1) for i in range(n)], dtype="Int64"),
            "grid": [f"500108003002{int(g):03d}" for g in grids],
        },
        index=pd.Index([f"c{i + 1}" for i in range(n)], name="cell_id"),
        geometry=[shapely.box(x[i], 29.55, x[i + 1], 29.551) for i in range(n)],
        crs=4326,
    )
