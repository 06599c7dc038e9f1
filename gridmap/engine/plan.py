"""A plan: every cell of the canvas assigned to one grid. Grids are derived, never edited raw.

Because cells tile each community exactly, any assignment of cells gives grids that cover the
community with no gap and no overlap; what a plan can get wrong is only balance, contiguity
and shape, which :func:`grid_table` measures.
"""

from __future__ import annotations

import contextlib
import multiprocessing
from collections.abc import Callable
from concurrent.futures import Future, ProcessPoolExecutor
from types import TracebackType
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

__all__ = [
    "CELL_COLUMNS",
    "GRID_COLUMNS",
    "WorkerPool",
    "dissolve_grids",
    "grid_table",
    "node_coverage",
    "union_groups",
]

# The columns a plan's cells carry (index: cell_id); `grid` is the assignment.
CELL_COLUMNS = ("community_code", "atom_id", "residents", "households", "grid")
# The columns a plan's grids carry (besides the polygon): dissolve_grids's, and compactness.
GRID_COLUMNS = ("code", "community_code", "residents", "households", "cells", "compactness")
# node_coverage renodes the cells within this many hairlines of another community's cells.
BORDER_REACH = 20
# What noding a strip of border cells costs grows with its vertices, and with its cells as if
# each had this many more (fitted on the sample's strips): strips are cut to equal such costs.
TILE_CELL_VERTICES = 35


class WorkerPool:
    """``workers`` processes shared by the steps of one run (the partition's communities, then
    :func:`node_coverage`'s strips), so they start once; they start at the first
    :meth:`submit` and stop when the ``with`` block ends.

    Where the platform can, the processes are forked (the "fork" start method): they inherit
    the modules loaded and whatever this process set before the first submit, so a step that
    submits first may leave its inputs in module state and send each job as a number
    (``inherits``). Elsewhere they are the platform's default, and every job is pickled.
    """

    def __init__(self, workers: int) -> None:
        self.workers = workers
        self.forks = "fork" in multiprocessing.get_all_start_methods()
        self._pool: ProcessPoolExecutor | None = None

    @property
    def inherits(self) -> bool:
        """Whether processes started by the next submit inherit this process's state (they
        fork, and have not started yet)."""
        return self.forks and self._pool is None

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future[Any]:
        if self._pool is None:
            context = multiprocessing.get_context("fork" if self.forks else None)
            self._pool = ProcessPoolExecutor(max_workers=self.workers, mp_context=context)
        return self._pool.submit(fn, *args, **kwargs)

    def __enter__(self) -> WorkerPool:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        if self._pool is not None:
            # Done, the processes exit on their own (nothing to wait for). A failure stops the
            # run: the jobs not started yet are dropped, and the running ones awaited.
            failed = kind is not None
            self._pool.shutdown(wait=failed, cancel_futures=failed)
            self._pool = None


def dissolve_grids(cells: gpd.GeoDataFrame, grid_column: str = "grid") -> gpd.GeoDataFrame:
    """One row per grid: code, community_code, residents, households, cells, geometry.

    Cells of a grid form a coverage, so GEOS's coverage union (fast, exact on shared edges)
    dissolves them.

    Examples
    --------
    >>> cells = gpd.GeoDataFrame({"community_code": ["c"] * 3, "residents": [1, 2, 3],
    ...     "households": [1, 1, 1], "grid": ["g1", "g1", "g2"]},
    ...     geometry=[shapely.box(0, 0, 1, 1), shapely.box(1, 0, 2, 1), shapely.box(2, 0, 3, 1)])
    >>> grids = dissolve_grids(cells)
    >>> grids[["code", "residents", "cells"]].values.tolist(), grids.geometry.iloc[0].area
    ([['g1', 3, 2], ['g2', 3, 1]], 2.0)
    """
    group, codes = pd.factorize(cells[grid_column], sort=True)
    held = group >= 0  # a cell without grid (NaN) is in none, as groupby drops it
    group = group[held]
    n = len(codes)
    geoms = np.asarray(cells.geometry.values, dtype=object)[held]
    order = np.argsort(group, kind="stable")
    count = np.bincount(group, minlength=n)
    first = order[np.cumsum(count) - count]  # the first cell of each grid
    columns: dict[str, Any] = {
        "code": codes.to_numpy(),
        "community_code": cells["community_code"].to_numpy()[held][first],
    }
    for column in ("residents", "households"):
        values = pd.to_numeric(cells[column], errors="coerce").to_numpy(dtype=float)[held]
        sums = np.bincount(group, weights=np.nan_to_num(values), minlength=n)
        columns[column] = pd.array(np.rint(sums).astype(np.int64), dtype="Int64")
    columns["cells"] = pd.array(count, dtype="Int64")
    # built whole (a frame grown column by column, then reordered, costs more than the union)
    geometry = gpd.array.from_shapely(union_groups(geoms, group, n), crs=cells.crs)
    return gpd.GeoDataFrame(columns, geometry=geometry)


def union_groups(geoms: np.ndarray, group: np.ndarray, n: int) -> np.ndarray:
    """Coverage union of the ``geoms`` of each group 0..n-1 (an empty collection for none).

    The geometries go into a (groups × largest group) table padded with None, unioned row by
    row in one call to GEOS: no Python loop over groups.

    Examples
    --------
    >>> boxes = np.array([shapely.box(i, 0, i + 1, 1) for i in range(3)])
    >>> [g.area for g in union_groups(boxes, np.array([1, 0, 1]), 2)]
    [1.0, 2.0]
    """
    if not n:
        return np.empty(0, dtype=object)
    order = np.argsort(group, kind="stable")
    count = np.bincount(group, minlength=n)
    slot = np.arange(len(order)) - np.repeat(np.cumsum(count) - count, count)
    table = np.full((n, max(int(count.max()), 1)), None, dtype=object)
    table[group[order], slot] = geoms[order]
    try:
        return np.asarray(shapely.coverage_union_all(table, axis=1), dtype=object)
    except shapely.errors.GEOSException:  # not noded vertex for vertex: group by group
        return np.array([_union(row[: count[k]]) for k, row in enumerate(table)], dtype=object)


def _union(polygons: np.ndarray) -> shapely.Geometry:
    try:
        return shapely.coverage_union_all(polygons)
    except shapely.errors.GEOSException:  # cells not noded vertex for vertex: the slow, sure way
        return shapely.union_all(polygons)


def grid_table(
    grids: gpd.GeoDataFrame,
    metric: Callable[..., tuple[np.ndarray, np.ndarray]],
    target: float,
    weight: str = "residents",
) -> pd.DataFrame:
    """Per grid: weight, deviation from target, Polsby-Popper compactness, parts.

    ``metric`` converts lon/lat arrays to metres.
    """
    projected = shapely.transform(grids.geometry.values, metric, interleaved=False)
    area = shapely.area(projected)
    perimeter = shapely.length(projected)
    with np.errstate(divide="ignore", invalid="ignore"):
        compactness = np.where(perimeter > 0, 4 * np.pi * area / perimeter**2, 0.0)
    values = grids[weight].astype(float).to_numpy()
    return pd.DataFrame(
        {
            "code": grids["code"].to_numpy(),
            "community_code": grids["community_code"].to_numpy(),
            weight: values,
            "deviation": values / target - 1,
            "compactness": compactness,
            "area_m2": area,
            "parts": shapely.get_num_geometries(projected),
        },
        index=grids.index,
    )


def node_coverage(
    cells: gpd.GeoDataFrame,
    hairline_deg: float = 5e-7,
    communities: gpd.GeoDataFrame | None = None,
    community_column: str = "community_code",
    workers: int = 1,
    pool: WorkerPool | None = None,
) -> gpd.GeoDataFrame:
    """Make cells from separately built canvases match vertex for vertex along shared lines.

    Each community's canvas is laid on its own, so where two communities meet, a cell edge of
    one side ends at a point where the other side has no vertex. The line is still shared (no
    gap, no overlap), but a coverage must match vertex for vertex (GEOS's coverage validator and
    coverage union need it). The boundaries of the cells on community borders are noded
    together and polygonized; each face goes back to the cell holding its interior point, so
    every cell keeps its shape and gains the vertices of its neighbours. A cell farther than
    :data:`BORDER_REACH` hairlines from every cell of another community is left as it is: its
    canvas is noded by construction. With ``workers`` > 1 the border cells are cut into
    ``workers`` strips (west to east, of about equal cost), each noded in its own process with
    the border cells around it (the processes of ``pool`` when given: a run's, started already).

    Examples
    --------
    >>> a = shapely.box(0, 0, 1, 2)
    >>> b, c = shapely.box(1, 0, 2, 1), shapely.box(1, 1, 2, 2)
    >>> out = node_coverage(gpd.GeoDataFrame(geometry=[a, b, c]))
    >>> int(shapely.get_num_coordinates(out.geometry.iloc[0])), bool(shapely.coverage_is_valid(
    ...     out.geometry.values))
    (6, True)
    """
    geoms = np.asarray(cells.geometry.values, dtype=object)  # shapely's ufuncs, not pandas'
    if len(geoms) < 2:
        return cells
    codes = cells[community_column].to_numpy() if community_column in cells else None
    reach = hairline_deg * BORDER_REACH
    border = _border_cells(shapely.STRtree(geoms), geoms, codes, reach)
    home = (
        None
        if communities is None or codes is None
        else dict(zip(communities["code"].to_numpy(), communities.geometry.values, strict=True))
    )
    strips = _strips(geoms, border, workers, reach)
    jobs = []
    for own, around in strips:
        tile = np.concatenate([own, around])
        rest = _near(geoms, np.flatnonzero(~border), tile)
        jobs.append((geoms[tile], None if codes is None else codes[tile], len(own), geoms[rest]))
    # this process nodes the first strip itself while the workers node the others
    with contextlib.ExitStack() as stack:
        if pool is None and len(jobs) > 1:
            pool = stack.enter_context(WorkerPool(len(jobs) - 1))
        futures = [
            pool.submit(_node_tile, *job, home, hairline_deg)
            for job in jobs[1:]
            if pool is not None
        ]
        noded = [_node_tile(*jobs[0], home, hairline_deg), *(f.result() for f in futures)]
    geometry = geoms.copy()
    for (own, _), result in zip(strips, noded, strict=True):
        geometry[own] = result
    out = cells.copy()
    out["geometry"] = geometry
    return out


def _strips(
    geoms: np.ndarray, border: np.ndarray, n: int, reach: float
) -> list[tuple[np.ndarray, np.ndarray]]:
    """The border cells cut into ``n`` strips by the x of their centres, each of about the
    same cost to node (:data:`TILE_CELL_VERTICES`): per strip, its own cells and the border
    cells of other strips within twice ``reach`` of them."""
    cells = np.flatnonzero(border)
    if n <= 1 or len(cells) < 2 * n:
        return [(cells, cells[:0])]
    x = shapely.get_x(shapely.centroid(geoms[cells]))
    order = np.argsort(x, kind="stable")
    cost = np.cumsum(shapely.get_num_coordinates(geoms[cells])[order] + TILE_CELL_VERTICES)
    cuts = x[order][np.searchsorted(cost, cost[-1] * np.arange(1, n) / n)]
    strip = np.searchsorted(cuts, x, side="right")
    out = []
    for k in range(n):
        own = cells[strip == k]
        out.append((own, _near(geoms, cells[strip != k], own, 2 * reach)))
    return out


def _near(geoms: np.ndarray, candidates: np.ndarray, of: np.ndarray, reach: float = 0.0):  # type: ignore[no-untyped-def]
    """The ``candidates`` whose box, grown by ``reach``, meets the box of a cell of ``of``."""
    if not len(candidates) or not len(of):
        return candidates[:0]
    bounds = shapely.bounds(geoms[of])
    boxes = shapely.box(*(bounds[:, :2] - reach).T, *(bounds[:, 2:] + reach).T)
    return candidates[np.unique(shapely.STRtree(geoms[candidates]).query(boxes)[1])]


def _node_tile(
    edge: np.ndarray,
    codes: np.ndarray | None,
    n_own: int,
    rest: np.ndarray,
    home: dict[str, shapely.Geometry] | None,
    hairline_deg: float,
) -> np.ndarray:
    """The first ``n_own`` cells of ``edge`` noded with all of ``edge``; ``rest``: the cells
    left as they are around them, ``home``: each community's polygon."""
    lines = shapely.union_all(shapely.boundary(edge))
    faces = shapely.get_parts(shapely.polygonize(shapely.get_parts(lines)))
    inner = shapely.point_on_surface(faces)
    tree = shapely.STRtree(edge)
    face_idx, cell_idx = tree.query(inner, predicate="within")
    owner = np.full(len(faces), -1)
    owner[face_idx[::-1]] = cell_idx[::-1]  # a face inside two cells (an overlap): the first
    if home is not None and codes is not None and len(face_idx):
        # ...unless the face lies in another one's community: the community decides.
        doubled = np.flatnonzero(np.bincount(face_idx, minlength=len(faces)) > 1)
        for f in doubled:
            for c in cell_idx[face_idx == f]:
                area = home.get(codes[c])
                if area is not None and shapely.contains(area, inner[f]):
                    owner[f] = c
                    break
    # Faces of the noded border cells in none of them: the land of the cells left as they are
    # (it lies inside one of those), or hairline faces, where two canvases' edges run a few
    # millimetres apart (an edge straight in metres bows in lon/lat). Hairline faces join the
    # cell they share most boundary with; wider faces in no cell are real holes (an excluded
    # river) and stay out.
    orphans = np.flatnonzero(owner < 0)
    if len(orphans) and len(rest):
        orphans = orphans[~_inside_any(shapely.STRtree(rest), inner[orphans])]
    if len(orphans):
        thin = orphans[shapely.is_empty(shapely.buffer(faces[orphans], -hairline_deg / 2))]
        face, near = tree.query(faces[thin], predicate="intersects")
        shared = shapely.length(
            shapely.intersection(edge[near], shapely.boundary(faces[thin])[face])
        )
        # per face, the cell sharing the longest boundary (the first of equals, as argmax)
        order = np.lexsort((np.arange(len(face)), -shared, face))
        first = order[np.unique(face[order], return_index=True)[1]]
        owner[thin[face[first]]] = near[first]
    noded = edge[:n_own].copy()
    mine = (owner >= 0) & (owner < n_own)
    unioned = union_groups(faces[mine], owner[mine], n_own)
    held = np.bincount(owner[mine], minlength=n_own) > 0
    noded[held] = unioned[held]
    return noded


def _border_cells(
    tree: shapely.STRtree, geoms: np.ndarray, codes: np.ndarray | None, reach: float
) -> np.ndarray:
    """Mask of the cells within ``reach`` of a cell of another community (all of them when
    cells carry no community)."""
    if codes is None:
        return np.ones(len(geoms), dtype=bool)
    # boxes grown by ``reach`` first (cheap), then the distance between the shapes themselves
    bounds = shapely.bounds(geoms)
    low, high = bounds[:, :2] - reach, bounds[:, 2:] + reach
    left, right = tree.query(shapely.box(low[:, 0], low[:, 1], high[:, 0], high[:, 1]))
    other = (codes[left] != codes[right]) & (left < right)  # each pair once
    left, right = left[other], right[other]
    near = shapely.dwithin(geoms[left], geoms[right], reach)
    border = np.zeros(len(geoms), dtype=bool)
    border[left[near]] = True
    border[right[near]] = True
    return border


def _inside_any(tree: shapely.STRtree, points: np.ndarray) -> np.ndarray:
    """Mask of the points inside (or on the boundary of) any geometry of ``tree``."""
    inside = np.zeros(len(points), dtype=bool)
    inside[tree.query(points, predicate="intersects")[0]] = True
    return inside
