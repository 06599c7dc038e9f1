"""Two rules of the partition beside balance: units that are a grid of their own, and a
maximum grid area.

- 专属网格: a unit whose ``own_grid`` is true (a university, a big hospital, an industrial
  park) becomes one grid whatever its residents; the other atoms are partitioned around it.
- A maximum area (``max_area_km2``): a grid larger than it (a large, thinly populated village)
  is split into grids of about equal area, which a grid worker can walk.
"""

from __future__ import annotations

import math
import re
from typing import TYPE_CHECKING

import geopandas as gpd
import numpy as np

from gridmap.engine.graph import Adjacency
from gridmap.engine.partition.solve import partition_graph

if TYPE_CHECKING:
    from gridmap.engine.partition.community import CommunityGraph

__all__ = ["own_grid_units", "solve_with_own_grids", "split_large", "subgraph"]

# `gridmap partition` lets the compactness polish use the whole band (target ± tolerance, the
# rule of DESIGN.md), not only the search's inner band: on Prague's real footprints at a
# target of 1,000 that is mean Polsby-Popper 0.72 against 0.68 (bench/README.md), at the
# price of fewer grids within ±5%.
POLISH_BAND = 1.0


def own_grid_units(units: gpd.GeoDataFrame) -> list[str]:
    """Ids of the units that are a grid of their own (``own_grid`` true; missing: false)."""
    if "own_grid" not in units.columns or units.empty:
        return []
    flags = units["own_grid"].astype("boolean").fillna(False).to_numpy(dtype=bool)
    return [str(u) for u in units["id"].to_numpy()[flags]]


def subgraph(g: CommunityGraph, atoms: np.ndarray) -> tuple[Adjacency, np.ndarray]:
    """The atom graph on ``atoms`` (sorted), renumbered, and the cost of each of its edges."""
    local = np.full(g.graph.n, -1, dtype=np.int64)
    local[atoms] = np.arange(len(atoms))
    keep = (local[g.graph.left] >= 0) & (local[g.graph.right] >= 0)
    adj = Adjacency(
        len(atoms), local[g.graph.left[keep]], local[g.graph.right[keep]], g.graph.shared[keep]
    )
    return adj, g.edge_cost[keep]


def solve_with_own_grids(
    g: CommunityGraph, target: float, tolerance: float, seed: int
) -> tuple[np.ndarray, list[str]]:
    """Part of each atom, and the partition's notes; own-grid atoms are parts of their own.

    The other atoms are partitioned into ``g.n_parts`` less the own-grid atoms' count (their
    graph without the own-grid atoms may fall apart: the solver gives each piece its parts).
    """
    own = g.own_atoms
    rest = np.setdiff1d(np.arange(g.graph.n), own)
    labels = np.zeros(g.graph.n, dtype=np.int64)
    notes: list[str] = []
    k_rest = g.n_parts - len(own)
    if len(rest) and k_rest > 0:
        adj, cost = (g.graph, g.edge_cost) if not len(own) else subgraph(g, rest)
        result = partition_graph(
            g.weights[rest],
            adj,
            k_rest,
            centroids=g.centroids[rest],
            areas=g.areas[rest],
            perimeters=g.perimeters[rest],
            target=target,
            tolerance=tolerance,
            seed=seed,
            edge_cost=cost,
            polish_band=POLISH_BAND,
        )
        labels[rest] = result.labels
        notes = [_name_units(note, g, rest) for note in result.notes]
        k_rest = int(result.labels.max()) + 1
    labels[own] = max(k_rest, 0) + np.arange(len(own))
    return labels, notes


def _name_units(note: str, g: CommunityGraph, atoms: np.ndarray) -> str:
    """The solver's note with each "unit N" (a position in ``atoms``) named by its atom id and
    its unit, so that the report says which compound or cluster."""
    ids = g.canvas.atoms.index.to_numpy()
    unit_ids = g.canvas.atoms["unit_id"].to_numpy()
    names = g.canvas.atoms["name"].to_numpy()

    def name(match: re.Match[str]) -> str:
        a = int(atoms[int(match.group(1))])
        if unit_ids[a] is None or unit_ids[a] != unit_ids[a]:  # None or NaN: scattered
            return f"atom {ids[a]} (scattered buildings)"
        label = f"{unit_ids[a]} {names[a]}" if names[a] else f"{unit_ids[a]}"
        return f"atom {ids[a]} ({label})"

    return re.sub(r"\bunit \(?(\d+)\)?", name, note)


def split_large(
    g: CommunityGraph, labels: np.ndarray, max_area_m2: float, seed: int
) -> tuple[np.ndarray, list[str]]:
    """Split every part larger than ``max_area_m2`` (own-grid units aside) into parts of about
    equal area: a thinly populated village into grids a grid worker can walk."""
    labels = labels.copy()
    notes: list[str] = []
    own = set(labels[g.own_atoms].tolist())
    next_label = int(labels.max()) + 1
    for part in range(next_label):
        atoms = np.flatnonzero(labels == part)
        area = float(g.areas[atoms].sum())
        if part in own or area <= max_area_m2:
            continue
        k = min(math.ceil(area / max_area_m2), len(atoms))
        if k < 2:
            notes.append(
                f"part {part}: {area / 1e6:,.2f} km² is above the maximum "
                f"{max_area_m2 / 1e6:,.2f} km², but it is one atom and cannot be split"
            )
            continue
        adj, cost = subgraph(g, atoms)
        split = partition_graph(
            g.areas[atoms],
            adj,
            k,
            centroids=g.centroids[atoms],
            areas=g.areas[atoms],
            perimeters=g.perimeters[atoms],
            target=area / k,
            tolerance=0.2,
            seed=seed,
            edge_cost=cost,
        )
        made = int(split.labels.max()) + 1
        labels[atoms] = np.where(split.labels == 0, part, next_label + split.labels - 1)
        next_label += made - 1
        sizes = ", ".join(f"{a / 1e6:,.2f}" for a in split.part_weights)
        notes.append(
            f"part {part}: {area / 1e6:,.2f} km² is above the maximum {max_area_m2 / 1e6:,.2f} "
            f"km²; split by area into {made} grids of {sizes} km²"
        )
    return labels, notes
