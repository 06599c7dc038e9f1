"""Two rules of the partition beside balance: units that are a grid of their own, and a
maximum grid area.

- 专属网格: a unit whose ``own_grid`` is true (a university, a big hospital, an industrial
  park) becomes one grid whatever its residents; the other atoms are partitioned around it.
  Its polygon is kept apart from other units' (:func:`clip_to_own_grids`), else its atom
  would merge into theirs; one that still merges is named (:func:`own_grids_merged`).
- A maximum area (``max_area_km2``): a grid larger than it (a large, thinly populated village)
  is split into grids of about equal area, which a grid worker can walk.
"""

from __future__ import annotations

import math
import re
from typing import TYPE_CHECKING, Any

import geopandas as gpd
import numpy as np
import shapely

from gridmap.engine.graph import Adjacency
from gridmap.engine.partition.solve import partition_graph

if TYPE_CHECKING:
    from gridmap.engine.partition.community import CommunityGraph

__all__ = [
    "clip_to_own_grids",
    "own_grid_units",
    "own_grids_merged",
    "solve_with_own_grids",
    "split_large",
    "subgraph",
]

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


_CLIP_MARGIN_DEG = 1e-6  # about 10 cm: own-grid polygons kept apart from other units'


def clip_to_own_grids(
    units: gpd.GeoDataFrame, own: list[str], buildings: gpd.GeoDataFrame
) -> tuple[gpd.GeoDataFrame, list[str]]:
    """Units with own-grid units (专属网格) kept apart from the others, and a note per change.

    Atoms whose footprints overlap merge, and a merged atom takes the compound's unit: a
    hospital's polygon drawn over a compound's corner would lose its own grid. So the
    own-grid polygons are cut out of every other unit's polygon, and the footprints of other
    units' buildings out of the own-grid polygons; the hospital stays an atom, and a grid, of
    its own. What still overlaps (a building of the hospital inside the compound's) merges,
    and :func:`own_grids_merged` reports it.
    """
    if not own or units.empty:
        return units, []
    is_own = units["id"].isin(own).to_numpy()
    geoms = units.geometry.values.copy()
    notes = []
    others = (
        buildings["unit_id"].notna() & ~buildings["unit_id"].isin(own)
        if "unit_id" in buildings.columns
        else np.zeros(len(buildings), dtype=bool)
    )
    # cut with a margin: the pieces of a cut in lon/lat overlap by rounding, and atoms merge
    # over any overlap (OVERLAP_M2)
    theirs = shapely.buffer(
        shapely.union_all(buildings.geometry.values[np.asarray(others)]), _CLIP_MARGIN_DEG
    )
    for i in np.flatnonzero(is_own):
        if shapely.is_empty(theirs) or not _overlaps(geoms[i], theirs):
            continue
        clipped = shapely.difference(geoms[i], theirs)
        if not shapely.is_empty(clipped):
            geoms[i] = clipped
            notes.append(
                f"unit {units['id'].iloc[i]} (own grid, 专属网格): other units' buildings "
                "overlapping its polygon cut out of it"
            )
    mask = shapely.buffer(shapely.union_all(geoms[is_own]), _CLIP_MARGIN_DEG)
    for r in np.flatnonzero(~is_own):
        if not _overlaps(geoms[r], mask):
            continue
        clipped = shapely.difference(geoms[r], mask)
        if shapely.is_empty(clipped):
            continue  # wholly inside: left as drawn, the merge is reported
        over = [
            str(units["id"].iloc[i])
            for i in np.flatnonzero(is_own)
            if _overlaps(geoms[r], geoms[i])
        ]
        geoms[r] = clipped
        notes.append(
            f"unit {units['id'].iloc[r]}: its polygon overlaps own-grid unit(s) "
            f"{', '.join(over)} (专属网格), cut out of it so that they stay grids of their own"
        )
    if not notes:
        return units, []
    units = units.copy()
    units["geometry"] = geoms
    return units, notes


def _overlaps(a: shapely.Geometry, b: shapely.Geometry) -> bool:
    """Whether ``a`` and ``b`` share area (touching along an edge is not sharing)."""
    return bool(shapely.intersects(a, b)) and shapely.area(shapely.intersection(a, b)) > 0


def own_grids_merged(canvas: Any, own: list[str]) -> list[str]:
    """A note per own-grid unit whose atom merged into another unit's (its buildings overlap
    that unit's): it is then not a grid of its own, and the report says so and where."""
    if not own:
        return []
    kept = set(canvas.atoms["unit_id"].dropna().astype(str))
    notes = []
    for uid in own:
        if uid in kept:
            continue
        merged = [m for m in canvas.report.get("merged_atoms", []) if uid in m["units"]]
        into = merged[0]["atom_id"] if merged else "another atom"
        others = [u for u in (merged[0]["units"] if merged else []) if u != uid]
        notes.append(
            f"unit {uid}: own grid (专属网格) not kept: its buildings or polygon overlap "
            f"{', '.join(others) or 'other buildings'}, merged with them into atom {into}; "
            "fix the polygons or the buildings' unit_id"
        )
    return notes


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
