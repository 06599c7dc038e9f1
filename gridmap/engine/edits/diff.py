"""What changes between two plans on the same canvas: grids added, removed, recoded, and who moves.

Part of :mod:`gridmap.engine.edits.operations` (re-exported there).

Codes alone do not say who moved: an edit may renumber grids. So old and new grids are first
matched one to one, greedily by the residents they share (then by shared area, then keeping
the same code): a matched pair is the same grid, recoded when its codes differ. A cell changes
grid when its new grid is not the match of its old one, so a pure renumbering moves nobody.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from gridmap.engine.assign import assign_buildings
from gridmap.engine.plan import dissolve_grids
from gridmap.errors import InputError

__all__ = ["PlanDiff", "diff_plans"]


@dataclass(frozen=True)
class PlanDiff:
    """The difference between two plans.

    Attributes
    ----------
    added, removed : tuple of str
        New grids that continue no old grid; old grids that no new grid continues.
    recoded : tuple of (old, new)
        Grids that continue under another code.
    residents_moved, households_moved, cells_moved, atoms_moved : int
        What changes grid (a renumbered grid's cells do not).
    flows : tuple of (from, to, residents, households, cells)
        The moves, summed by old and new code.
    buildings_moved : tuple of str, or None
        Ids of the buildings that change grid, when buildings were given.
    """

    added: tuple[str, ...]
    removed: tuple[str, ...]
    recoded: tuple[tuple[str, str], ...]
    residents_moved: int
    households_moved: int
    cells_moved: int
    atoms_moved: int
    flows: tuple[tuple[str, str, int, int, int], ...]
    buildings_moved: tuple[str, ...] | None = None

    @property
    def unchanged(self) -> bool:
        """True when no grid is added, removed or recoded and nobody moves."""
        return not (self.added or self.removed or self.recoded or self.cells_moved)

    def to_dict(self) -> dict[str, Any]:
        """JSON-serializable form."""
        return {
            "added": list(self.added),
            "removed": list(self.removed),
            "recoded": [{"old_code": o, "new_code": n} for o, n in self.recoded],
            "residents_moved": self.residents_moved,
            "households_moved": self.households_moved,
            "cells_moved": self.cells_moved,
            "atoms_moved": self.atoms_moved,
            "flows": [
                {"from": f, "to": t, "residents": r, "households": h, "cells": c}
                for f, t, r, h, c in self.flows
            ],
            "buildings_moved": None if self.buildings_moved is None else list(self.buildings_moved),
        }


def diff_plans(
    old_cells: gpd.GeoDataFrame,
    new_cells: gpd.GeoDataFrame,
    buildings: pd.DataFrame | None = None,
    building_atom: pd.Series | None = None,
) -> PlanDiff:
    """Grids added, removed and recoded, and the residents, cells and buildings that move.

    Parameters
    ----------
    old_cells, new_cells : GeoDataFrame
        Two plans on the same canvas: the same cell ids, each with ``grid``, ``atom_id``,
        ``residents`` and ``households``.
    buildings : DataFrame, optional
        Buildings indexed by id, with an ``atom_id`` column, or else footprints (a
        GeoDataFrame), which are assigned to the old and the new grids by
        :func:`gridmap.engine.assign.assign_buildings` (the grid holding most of each).
    building_atom : Series, optional
        Building id → atom_id (``Canvas.building_atom``); takes precedence over ``buildings``.

    Returns
    -------
    PlanDiff

    Examples
    --------
    >>> import shapely
    >>> old = gpd.GeoDataFrame({"atom_id": ["a", "b", "c"], "residents": [10, 20, 30],
    ...     "households": [4, 8, 12], "grid": ["G1", "G1", "G2"]},
    ...     index=["c1", "c2", "c3"], geometry=[shapely.box(i, 0, i + 1, 1) for i in range(3)])
    >>> renumbered = old.assign(grid=["G2", "G2", "G1"])
    >>> d = diff_plans(old, renumbered)
    >>> d.recoded, d.residents_moved
    ((('G1', 'G2'), ('G2', 'G1')), 0)
    >>> d = diff_plans(old, old.assign(grid=["G1", "G2", "G2"]),
    ...                building_atom=pd.Series({"B1": "a", "B2": "b"}))
    >>> d.residents_moved, d.flows, d.buildings_moved
    (20, (('G1', 'G2', 20, 8, 1),), ('B2',))
    """
    for name, frame in (("old_cells", old_cells), ("new_cells", new_cells)):
        missing = [c for c in ("grid", "atom_id", "residents", "households") if c not in frame]
        if missing:
            raise InputError(f"{name}: missing column(s) {', '.join(missing)}")
    if len(old_cells) != len(new_cells) or not old_cells.index.isin(new_cells.index).all():
        raise InputError(
            f"the plans are on different canvases: {len(old_cells)} and {len(new_cells)} cells, "
            "not the same cell ids"
        )
    new_grid = new_cells["grid"].reindex(old_cells.index)
    table = pd.DataFrame(
        {
            "old": old_cells["grid"].astype(str).to_numpy(dtype=object),
            "new": new_grid.astype(str).to_numpy(dtype=object),
            "residents": _ints(old_cells["residents"]),
            "households": _ints(old_cells["households"]),
            "area": shapely.area(np.asarray(old_cells.geometry.array)),
            "atom": _atom_keys(old_cells),
        },
        index=old_cells.index,
    )
    match = _match(table)
    moved = table["new"].to_numpy() != table["old"].map(match).to_numpy()
    flows = (
        table[moved]
        .groupby(["old", "new"], sort=True)
        .agg(
            residents=("residents", "sum"), households=("households", "sum"), cells=("atom", "size")
        )
        .reset_index()
    )
    matched_new = set(match.values())
    return PlanDiff(
        added=tuple(sorted(set(table["new"]) - matched_new)),
        removed=tuple(sorted(set(table["old"]) - set(match))),
        recoded=tuple(sorted((o, n) for o, n in match.items() if o != n)),
        residents_moved=int(table["residents"][moved].sum()),
        households_moved=int(table["households"][moved].sum()),
        cells_moved=int(moved.sum()),
        atoms_moved=int(table["atom"][moved].nunique()),
        flows=tuple(
            (str(r.old), str(r.new), int(r.residents), int(r.households), int(r.cells))
            for r in flows.itertuples()
        ),
        buildings_moved=_buildings_moved(old_cells, new_cells, match, buildings, building_atom),
    )


def _match(table: pd.DataFrame) -> dict[str, str]:
    """Old code → the new code continuing it, one to one, greedily by what they share."""
    pairs = table.groupby(["old", "new"], sort=True)[["residents", "area"]].sum().reset_index()
    pairs["same"] = pairs["old"] == pairs["new"]
    pairs = pairs.sort_values(
        ["residents", "area", "same", "old", "new"],
        ascending=[False, False, False, True, True],
        kind="stable",
    )
    match: dict[str, str] = {}
    taken: set[str] = set()
    for old, new in zip(pairs["old"], pairs["new"], strict=True):
        if old not in match and new not in taken:
            match[old] = new
            taken.add(new)
    return match


def _buildings_moved(
    old_cells: gpd.GeoDataFrame,
    new_cells: gpd.GeoDataFrame,
    match: dict[str, str],
    buildings: pd.DataFrame | None,
    building_atom: pd.Series | None,
) -> tuple[str, ...] | None:
    if building_atom is None and buildings is not None and "atom_id" in buildings.columns:
        building_atom = buildings["atom_id"]
    if building_atom is not None:
        keys = _building_keys(old_cells, building_atom)
        old = _atom_grid(old_cells).reindex(keys).to_numpy()
        new = _atom_grid(new_cells).reindex(keys).to_numpy()
        ids = building_atom.index
    elif isinstance(buildings, gpd.GeoDataFrame):
        old = assign_buildings(buildings, dissolve_grids(_as_plan(old_cells)))["grid"].to_numpy()
        new = assign_buildings(buildings, dissolve_grids(_as_plan(new_cells)))["grid"].to_numpy()
        ids = buildings.index
    else:
        if buildings is not None:
            raise InputError("buildings: give an atom_id column or footprints (a GeoDataFrame)")
        return None
    # a building off the canvas (or in no grid) in both plans does not move
    old_code = [o if isinstance(o, str) else None for o in old]
    new_code = [n if isinstance(n, str) else None for n in new]
    moved = np.array(
        [
            (o is not None or n is not None) and (match.get(o) if o else None) != n
            for o, n in zip(old_code, new_code, strict=True)
        ],
        dtype=bool,
    )
    return tuple(str(i) for i in ids[moved])


def _atom_grid(cells: gpd.GeoDataFrame) -> pd.Series:
    """The grid of each atom: the one holding most of its area (atoms are whole in a plan)."""
    table = pd.DataFrame(
        {
            "atom": _atom_keys(cells),
            "grid": cells["grid"].astype(str).to_numpy(dtype=object),
            "area": shapely.area(np.asarray(cells.geometry.array)),
        }
    )
    summed = table.groupby(["atom", "grid"], sort=True)["area"].sum().reset_index()
    best = summed.sort_values(["atom", "area"], ascending=[True, False], kind="stable")
    return best.drop_duplicates("atom").set_index("atom")["grid"].astype(object)


def _atom_keys(cells: pd.DataFrame) -> np.ndarray:
    """Atom ids are unique within a community (a canvas), not across communities."""
    atom = cells["atom_id"].astype(str).to_numpy(dtype=object)
    if "community_code" not in cells.columns:
        return atom
    return cells["community_code"].astype(str).to_numpy(dtype=object) + "\x1f" + atom


def _building_keys(cells: pd.DataFrame, building_atom: pd.Series) -> np.ndarray:
    """The atom keys of ``building_atom``'s atom ids (None for a building off the canvas)."""
    table = pd.DataFrame({"id": cells["atom_id"].astype(str).to_numpy(), "key": _atom_keys(cells)})
    table = table.drop_duplicates()
    repeated = table["id"][table["id"].duplicated()].unique().tolist()
    wanted = {str(a) for a in building_atom.dropna()}
    ambiguous = sorted(wanted & set(repeated))
    if ambiguous:
        raise InputError(
            f"building_atom: atom(s) {', '.join(ambiguous[:10])} exist in several communities; "
            "diff one community at a time"
        )
    key_of = dict(zip(table["id"], table["key"], strict=True))
    return np.array(
        [key_of.get(str(a)) if isinstance(a, str) else None for a in building_atom], dtype=object
    )


def _as_plan(cells: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    if "community_code" in cells.columns:
        return cells
    return cells.assign(community_code="")


def _ints(values: pd.Series) -> np.ndarray:
    return pd.to_numeric(values, errors="coerce").fillna(0).round().astype(np.int64).to_numpy()
