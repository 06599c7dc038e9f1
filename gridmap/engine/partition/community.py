"""Partition communities into grids: canvas → atoms graph → balanced contiguous parts → codes.

Atoms are never split: the partition runs on the graph of atoms (each atom's cells merged),
then every cell takes its atom's grid. Cells tile the community, so the grids do too.
"""

from __future__ import annotations

import contextlib
import itertools
import math
from collections.abc import Callable
from concurrent.futures import as_completed
from dataclasses import dataclass, field
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from gridmap.crs import lonlat_to, metric_crs, transformer
from gridmap.engine.canvas.build import build_canvas
from gridmap.engine.canvas.split_units import split_heavy_units
from gridmap.engine.graph import (
    Adjacency,
    connected_parts,
    firm_contacts,
    firm_mask,
    shared_segments,
)
from gridmap.engine.gridcodes import number_grids
from gridmap.engine.partition.rules import (
    clip_to_own_grids,
    own_grid_units,
    own_grids_merged,
    solve_with_own_grids,
    split_large,
)
from gridmap.engine.partition.solve import n_parts_for
from gridmap.engine.plan import CELL_COLUMNS, WorkerPool, dissolve_grids, grid_table
from gridmap.errors import InputError

__all__ = [
    "CommunityGraph",
    "CommunityResult",
    "community_graph",
    "partition_communities",
    "partition_community",
]


# Neighbours must share at least this much boundary (metres) to join one grid: Voronoi cells
# often touch along millimetres, and a grid joined to itself only there is a bow-tie.
MIN_CONTACT_M = 1.0
# A boundary along a road (its stretch within ROAD_CORRIDOR_M of a road's centre line) costs
# ROAD_EDGE_COST of a boundary elsewhere, so that grids end at streets where they can.
ROAD_CORRIDOR_M = 12.0
ROAD_EDGE_COST = 0.6
ROAD_STEP_M = 5.0
# Scattered buildings are grouped into atoms weighing at most this share of the band's width
# (±20% of 3,000: 420 residents), never less than MIN_CLUSTER_SHARE of the target: atoms
# merely under the band's maximum (31 atoms of ~800) cannot be balanced into a ±600 band, and
# atoms of half the width (600) left Prague's real footprints at a target of 1,000 less
# compact than pymetis on the buildings (0.66 against 0.71; 0.72 at 0.35, with the polish).
CLUSTER_SHARE_OF_BAND = 0.35
MIN_CLUSTER_SHARE = 0.05


@dataclass
class CommunityResult:
    """The cells of one community with their grid codes, and what happened."""

    community_code: str
    cells: gpd.GeoDataFrame
    grids: gpd.GeoDataFrame
    building_atom: pd.Series
    report: dict[str, object] = field(default_factory=dict)


@dataclass
class CommunityGraph:
    """What the partition of one community works on: its canvas and the graph of its atoms.

    ``weights``, ``graph``, ``areas``, ``perimeters`` and ``centroids`` (metres) are per atom, in
    the order of ``canvas.atoms``; ``cell_atom`` is each cell's atom position; ``n_parts`` the
    number of grids; ``notes`` say how heavy units were split and how the count was chosen;
    ``own_atoms`` are the atoms of units that are a grid of their own (``own_grid``).
    """

    code: str
    canvas: Any
    cell_atom: np.ndarray
    weights: np.ndarray
    graph: Adjacency
    areas: np.ndarray
    perimeters: np.ndarray
    centroids: np.ndarray
    n_parts: int
    notes: list[str]
    metric: Any
    edge_road: np.ndarray  # per edge of ``graph``: metres of the shared boundary along roads
    own_atoms: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))

    @property
    def edge_cost(self) -> np.ndarray:
        """Per edge of ``graph``: 1, down to ROAD_EDGE_COST where the boundary follows a road."""
        share = np.clip(self.edge_road / np.maximum(self.graph.shared, 1e-9), 0.0, 1.0)
        return 1.0 - (1.0 - ROAD_EDGE_COST) * share


def community_graph(
    community_code: str,
    community: shapely.Geometry,
    buildings: gpd.GeoDataFrame,
    units: gpd.GeoDataFrame,
    *,
    roads: gpd.GeoDataFrame | None = None,
    target: float = 3000,
    tolerance: float = 0.2,
    weight: str = "residents",
    seed: int = 0,
    metric_epsg: int | None = None,
) -> CommunityGraph:
    """Heavy units split, the canvas built, and the atoms' graph of one community."""
    crs = metric_crs(community.bounds, metric_epsg)
    metric = lonlat_to(crs)
    to_lonlat = transformer(crs, 4326)
    own = own_grid_units(units)
    units, clip_notes = clip_to_own_grids(units, own, buildings)
    buildings, split, split_notes = split_heavy_units(
        buildings,
        units[~units["id"].isin(own)] if own else units,
        target=target,
        maximum=target * (1 + tolerance),
        weight=weight,
        metric=(metric, lambda x, y: to_lonlat.transform(x, y)),
        part_max=cluster_cap(target, tolerance),
    )
    units = pd.concat([split, units[units["id"].isin(own)]], ignore_index=True) if own else split
    canvas = build_canvas(
        community_code,
        community,
        buildings,
        units,
        roads=roads,
        metric=crs,
        max_atom_weight=target * (1 + tolerance),
        max_cluster_weight=cluster_cap(target, tolerance),
        seed=seed,
    )
    atom_ids = canvas.atoms.index.to_numpy()
    position = pd.Series(np.arange(len(atom_ids)), index=atom_ids)
    cell_atom = position[canvas.cells["atom_id"].to_numpy()].to_numpy()
    weights = canvas.atoms[weight].astype(float).fillna(0).to_numpy()
    own_atoms = np.flatnonzero(canvas.atoms["unit_id"].isin(own).to_numpy())
    lost = own_grids_merged(canvas, own)
    rest = np.setdiff1d(np.arange(len(atom_ids)), own_atoms)
    total = float(weights[rest].sum())
    n_parts = min(n_parts_for(total, target, tolerance), len(rest)) if len(rest) else 0
    n_parts += len(own_atoms)
    notes = list(clip_notes) + list(split_notes) + lost
    for a in own_atoms:
        notes.append(
            f"unit {canvas.atoms['unit_id'].iloc[a]} {canvas.atoms['name'].iloc[a]}: its own "
            f"grid (专属网格) with {weights[a]:,.0f} {weight}"
        )
    rounded = n_parts_for(total, target) + len(own_atoms)
    if len(rest) and n_parts != min(rounded, len(atom_ids)):
        notes.append(
            f"{total:,.0f} {weight} in {rounded - len(own_atoms)} grid(s) would make "
            f"{total / (rounded - len(own_atoms)):,.0f} each, outside {target:,.0f} ± "
            f"{tolerance:.0%}; {n_parts - len(own_atoms)} grids of "
            f"{total / (n_parts - len(own_atoms)):,.0f} instead"
        )
    graph, areas, perimeters, centroids, road = _atom_graph(
        canvas.cells,
        cell_atom,
        len(atom_ids),
        canvas.adjacency,
        metric,
        _along_roads(canvas.cells, canvas.adjacency, roads, metric),
    )
    firm = firm_mask(graph, MIN_CONTACT_M)
    graph = Adjacency(graph.n, graph.left[firm], graph.right[firm], graph.shared[firm])
    return CommunityGraph(
        community_code,
        canvas,
        cell_atom,
        weights,
        graph,
        areas,
        perimeters,
        centroids,
        n_parts,
        notes,
        metric,
        road[firm],
        own_atoms,
    )


def cluster_cap(target: float, tolerance: float) -> float:
    """The heaviest atom of scattered buildings: about a third of the band's width.

    Examples
    --------
    >>> round(cluster_cap(3000, 0.2), 6), cluster_cap(3000, 0.0)
    (420.0, 150.0)
    """
    share = CLUSTER_SHARE_OF_BAND * 2 * tolerance
    return float(target * max(share, MIN_CLUSTER_SHARE))


def _along_roads(cells, cell_adj: Adjacency, roads, metric) -> np.ndarray:  # type: ignore[no-untyped-def]
    """Metres of each cell contact that run within ROAD_CORRIDOR_M of a road's centre line.

    The cells share their vertices (a canvas), so each contact is a set of segments both
    cells have (:func:`~gridmap.engine.graph.shared_segments`); each segment is cut into
    pieces of at most ROAD_STEP_M, and a piece whose midpoint lies in the roads' corridor
    (in the buffer of one of them, each prepared and asked about the midpoints in its box;
    their union would cost more to build than it saves) counts whole. Vectorized over the
    midpoints: no point objects, no intersection of cell boundaries."""
    if roads is None or roads.empty or not len(cell_adj.left):
        return np.zeros(len(cell_adj.left))
    ends, left, right = shared_segments(cells.geometry.values)
    x, y = metric(ends[:, :, 0].ravel(), ends[:, :, 1].ravel())
    x, y = np.asarray(x).reshape(-1, 2), np.asarray(y).reshape(-1, 2)
    length = np.hypot(x[:, 1] - x[:, 0], y[:, 1] - y[:, 0])
    pieces = np.maximum(np.ceil(length / ROAD_STEP_M), 1).astype(np.int64)
    segment = np.repeat(np.arange(len(length)), pieces)
    first = np.cumsum(pieces) - pieces
    t = (np.arange(len(segment)) - first[segment] + 0.5) / pieces[segment]
    px = x[segment, 0] + t * (x[segment, 1] - x[segment, 0])
    py = y[segment, 0] + t * (y[segment, 1] - y[segment, 0])
    lines = shapely.transform(roads.geometry.values, metric, interleaved=False)
    near = np.zeros(len(px), dtype=bool)
    buffers = shapely.buffer(lines, ROAD_CORRIDOR_M)
    shapely.prepare(buffers)
    for buffer, (x0, y0, x1, y1) in zip(buffers, shapely.bounds(buffers), strict=True):
        # the pieces in this road's box not found near another road yet
        ask = np.flatnonzero(~near & (px >= x0) & (px <= x1) & (py >= y0) & (py <= y1))
        if len(ask):
            near[ask] = shapely.intersects_xy(buffer, px[ask], py[ask])
    metres = np.bincount(
        segment[near], weights=(length / pieces)[segment[near]], minlength=len(length)
    )
    n = cell_adj.n
    contact = cell_adj.left.astype(np.int64) * n + cell_adj.right
    order = np.argsort(contact, kind="stable")
    where = np.searchsorted(contact, left * n + right, sorter=order)
    found = where < len(contact)
    found[found] = contact[order[where[found]]] == (left * n + right)[found]
    return np.bincount(order[where[found]], weights=metres[found], minlength=len(contact))


def partition_community(
    community_code: str,
    community: shapely.Geometry,
    buildings: gpd.GeoDataFrame,
    units: gpd.GeoDataFrame,
    *,
    roads: gpd.GeoDataFrame | None = None,
    target: float = 3000,
    tolerance: float = 0.2,
    weight: str = "residents",
    seed: int = 0,
    scheme: str = "db11",
    metric_epsg: int | None = None,
    max_area_km2: float | None = None,
) -> CommunityResult:
    """Grids for one community: about ``target`` ``weight`` each, contiguous, atoms whole.

    A unit with ``own_grid`` true is a grid of its own, whatever its weight. With
    ``max_area_km2``, a grid larger than that (a thinly populated village) is split into
    grids of about equal area, each under it where its atoms allow; the report gives each
    grid's area (``grid_areas_km2``).
    """
    if max_area_km2 is not None and not (math.isfinite(max_area_km2) and max_area_km2 > 0):
        raise InputError(f"max_area_km2 must be a positive number, not {max_area_km2!r}")
    g = community_graph(
        community_code,
        community,
        buildings,
        units,
        roads=roads,
        target=target,
        tolerance=tolerance,
        weight=weight,
        seed=seed,
        metric_epsg=metric_epsg,
    )
    canvas, cells, cell_atom, metric = g.canvas, g.canvas.cells, g.cell_atom, g.metric
    labels, part_notes = solve_with_own_grids(g, target, tolerance, seed)
    if max_area_km2 is not None:
        labels, area_notes = split_large(g, labels, max_area_km2 * 1e6, seed)
        part_notes += area_notes
    labelled = cells.copy()
    labelled["community_code"] = community_code
    cell_labels, moved = _reconnect(
        labels[cell_atom],
        cells[weight].astype(float).fillna(0).to_numpy(),
        firm_contacts(canvas.adjacency, MIN_CONTACT_M),
        cell_atom,
    )
    labelled["grid"] = cell_labels
    grids = dissolve_grids(labelled[[*CELL_COLUMNS, "geometry"]])
    codes = number_grids(grids, scheme=scheme, metric=metric)
    grids["code"] = codes.to_numpy()
    labelled["grid"] = labelled["grid"].map(dict(zip(grids.index, codes, strict=True)))
    table = grid_table(grids, metric, target, weight)
    grids["compactness"] = table["compactness"].to_numpy()
    in_band = np.abs(table["deviation"].to_numpy()) <= tolerance
    report = {
        "community": community_code,
        weight: int(g.weights.sum()),
        "grids": len(grids),
        "in_band": int(in_band.sum()),
        "atoms": len(g.weights),
        "cells": len(cells),
        "mean_compactness": round(float(table["compactness"].mean()), 3),
        "boundary_on_roads": _on_roads(g, labels),
        "grid_areas_km2": {
            c: round(float(a) / 1e6, 3)
            for c, a in zip(table["code"], table["area_m2"], strict=True)
        },
        "out_of_band": [
            {"code": c, weight: int(w), "deviation": round(float(d), 3)}
            for c, w, d, ok in zip(
                table["code"], table[weight], table["deviation"], in_band, strict=True
            )
            if not ok
        ],
        "notes": g.notes
        + part_notes
        + (
            [f"{moved} empty cell(s) detached from their grid joined the neighbouring grid"]
            if moved
            else []
        ),
        "canvas": canvas.report,
    }
    return CommunityResult(community_code, labelled, grids, canvas.building_atom, report)


def _on_roads(g: CommunityGraph, labels: np.ndarray) -> float | None:
    """Share of the boundaries between grids (metres) that run along roads; None: no such
    boundary."""
    cut = labels[g.graph.left] != labels[g.graph.right]
    length = float(g.graph.shared[cut].sum())
    return round(float(g.edge_road[cut].sum()) / length, 3) if length > 0 else None


def _reconnect(
    labels: np.ndarray, weights: np.ndarray, adj: Adjacency, cell_atom: np.ndarray
) -> tuple[np.ndarray, int]:
    """Give cells cut off from the rest of their grid to the neighbour they touch most.

    An atom may own several cells (its footprint and stretches of empty land), so a grid that is
    contiguous as a set of atoms can still be apart on the map: an atom joined to the grid by
    its empty land may hold its buildings in a cell that touches only other grids. Cells
    without buildings move freely; a detached piece holding buildings moves whole when none of
    its atoms has buildings in the rest of the grid (so no atom is split), which makes every
    grid one piece again.
    """
    labels = labels.copy()
    moved = 0
    for _ in range(len(labels)):
        stray: list[int] = []
        for grid in np.unique(labels):
            members = labels == grid
            parts = connected_parts(adj, members)
            if parts.max() < 1:
                continue
            heaviest = np.argmax(np.bincount(parts[members], weights=weights[members]))
            stray.extend(np.flatnonzero(members & (parts != heaviest) & (weights == 0)))
            held = members & (weights > 0)
            for part in set(parts[members].tolist()) - {int(heaviest)}:
                piece = members & (parts == part)
                mine = set(cell_atom[piece & held].tolist())
                rest = set(cell_atom[held & ~piece].tolist())
                if mine and not mine & rest:
                    stray.extend(np.flatnonzero(piece & held))
        if not stray:
            break
        matrix = adj.matrix().tocsr()
        for cell in stray:
            row = matrix.getrow(cell)
            others = [
                (length, labels[j])
                for j, length in zip(row.indices, row.data, strict=True)
                if labels[j] != labels[cell]
            ]
            if others:
                totals: dict[int, float] = {}
                for length, grid in others:
                    totals[int(grid)] = totals.get(int(grid), 0.0) + float(length)
                labels[cell] = max(totals, key=lambda g: (totals[g], -g))
                moved += 1
    return labels, moved


def _atom_graph(cells, cell_atom, n_atoms, cell_adj: Adjacency, metric, road):  # type: ignore[no-untyped-def]
    """Atoms' adjacency (shared lengths summed), areas, external perimeters, centroids, and
    the metres of each atom contact along roads (``road``: per cell contact)."""
    projected = shapely.transform(cells.geometry.values, metric, interleaved=False)
    cell_area = shapely.area(projected)
    cell_perimeter = shapely.length(projected)
    a, b = cell_atom[cell_adj.left], cell_atom[cell_adj.right]
    internal = a == b
    inner_shared = np.bincount(a[internal], weights=cell_adj.shared[internal], minlength=n_atoms)
    lo, hi = np.minimum(a[~internal], b[~internal]), np.maximum(a[~internal], b[~internal])
    # one edge per atom pair (lo, hi), in their order, with the contacts' lengths summed
    pair, edge = np.unique(lo.astype(np.int64) * n_atoms + hi, return_inverse=True)
    shared = np.bincount(edge, weights=cell_adj.shared[~internal], minlength=len(pair))
    graph = Adjacency(n_atoms, pair // n_atoms, pair % n_atoms, shared.astype(np.float64))
    edge_road = np.bincount(edge, weights=road[~internal], minlength=len(pair))
    areas = np.bincount(cell_atom, weights=cell_area, minlength=n_atoms)
    perimeters = (
        np.bincount(cell_atom, weights=cell_perimeter, minlength=n_atoms) - 2 * inner_shared
    )
    centres = shapely.centroid(projected)
    weighted = (
        np.column_stack([shapely.get_x(centres), shapely.get_y(centres)]) * cell_area[:, None]
    )
    sums = [np.bincount(cell_atom, weights=weighted[:, i], minlength=n_atoms) for i in (0, 1)]
    centroids = np.column_stack(sums) / areas[:, None]
    return graph, areas, perimeters, centroids, edge_road


def partition_communities(
    communities: gpd.GeoDataFrame,
    buildings: gpd.GeoDataFrame,
    units: gpd.GeoDataFrame,
    *,
    roads: gpd.GeoDataFrame | None = None,
    workers: int = 1,
    progress: Callable[[str], None] | None = None,
    pool: WorkerPool | None = None,
    **options: Any,
) -> list[CommunityResult]:
    """:func:`partition_community` for each row of ``communities`` (code, geometry).

    Communities are independent, so with ``workers`` > 1 they run in separate processes (those
    of ``pool`` when given: a run's, shared with the steps after this one). ``progress`` is
    called with each community's code as soon as it is done (in the order they finish); the
    results come back in the order of ``communities``.
    """
    done = progress or (lambda code: None)
    jobs = _Jobs(communities, buildings, units, roads, options)
    if workers <= 1:
        results = []
        for k, code in enumerate(jobs.codes):
            results.append(jobs.run(k))
            done(code)
        return results
    # The heaviest communities first (by buildings and units): a large community started last
    # would leave the other workers idle while it runs.
    heaviest_first = sorted(range(len(jobs.codes)), key=lambda k: -jobs.size(k))
    with contextlib.nullcontext(pool) if pool is not None else WorkerPool(workers) as run:
        # Processes forked from here on inherit the jobs: each is sent as its number, and the
        # frames are cut out in the worker. Otherwise (already started, or no fork), pickled.
        token = None
        if run.inherits:
            token = next(_TOKENS)
            _RUNNING[token] = jobs
        try:
            futures: list[Any] = [None] * len(jobs.codes)
            for k in heaviest_first:
                futures[k] = (
                    run.submit(_run_job, token, k)
                    if token is not None
                    else run.submit(_run_inputs, jobs.inputs(k), options)
                )
            code_of = {f: code for f, code in zip(futures, jobs.codes, strict=True)}
            for future in as_completed(futures):
                future.result()  # a failure stops the run here, not after every community
                done(code_of[future])
            return [f.result() for f in futures]
        finally:
            if token is not None:
                del _RUNNING[token]


class _Jobs:
    """The communities to partition, each with the buildings, units and roads it meets."""

    def __init__(self, communities, buildings, units, roads, options):  # type: ignore[no-untyped-def]
        self.codes = communities["code"].tolist()
        self.geoms = list(communities.geometry.values)
        self.buildings, self.units, self.options = buildings, units, options
        self.roads = None if roads is None or roads.empty else roads
        trees = [
            shapely.STRtree(f.geometry.values)
            for f in (buildings, units, self.roads)
            if f is not None
        ]
        self.hits = [
            [tree.query(geom, predicate="intersects") for tree in trees] for geom in self.geoms
        ]

    def size(self, k: int) -> int:
        return len(self.hits[k][0]) + len(self.hits[k][1])

    def inputs(self, k: int) -> tuple[Any, ...]:
        """(code, geometry, buildings, units, roads) of job ``k``."""
        hits = self.hits[k]
        in_r = None if self.roads is None else self.roads.iloc[hits[2]]
        return (
            self.codes[k],
            self.geoms[k],
            self.buildings.iloc[hits[0]],
            self.units.iloc[hits[1]],
            in_r,
        )

    def run(self, k: int) -> CommunityResult:
        return _run_inputs(self.inputs(k), self.options)


# The runs whose worker processes inherit their jobs (by token): set before the processes
# fork, so a job sent to them is a token and a number, not pickled frames.
_RUNNING: dict[int, _Jobs] = {}
_TOKENS = itertools.count()


def _run_job(token: int, k: int) -> CommunityResult:
    return _RUNNING[token].run(k)


def _run_inputs(inputs: tuple[Any, ...], options: dict[str, Any]) -> CommunityResult:
    code, geom, in_b, in_u, in_r = inputs
    return partition_community(code, geom, in_b, in_u, roads=in_r, **options)
