"""Exact, organic tilings: Voronoi cells grouped by region growing on their adjacency graph.

Every street and every community is a union of whole cells of one tessellation of the district,
so the streets tile the district and the communities tile each street by construction. Regions
grow from seed cells in order of (distance to the seed / the region's scale + smooth noise), only
through shared edges, so each region is edge-connected (a single polygon) and its boundary
wanders like a real one instead of following straight Voronoi bisectors.
"""

from __future__ import annotations

import heapq
import math
from dataclasses import dataclass

import numpy as np
import shapely

__all__ = [
    "Cells",
    "components",
    "fill_orphans",
    "fit_regions",
    "grow",
    "make_cells",
    "seed_cells",
    "smooth_noise",
]


@dataclass(frozen=True)
class Cells:
    polys: np.ndarray  # shapely polygons, metric
    x: np.ndarray  # centroids
    y: np.ndarray
    area: np.ndarray  # what region sizes count (the cell's area, or its land area)
    indptr: np.ndarray  # CSR adjacency through shared edges
    indices: np.ndarray

    def __len__(self) -> int:
        return len(self.polys)


def smooth_noise(
    rng: np.random.Generator,
    x: np.ndarray,
    y: np.ndarray,
    wavelengths: tuple[float, float],
    n_waves: int = 14,
) -> np.ndarray:
    """A smooth random field of unit standard deviation: a sum of random plane waves."""
    lam = np.exp(rng.uniform(np.log(wavelengths[0]), np.log(wavelengths[1]), n_waves))
    theta = rng.uniform(0, np.pi, n_waves)
    phase = rng.uniform(0, 2 * np.pi, n_waves)
    k = 2 * np.pi / lam
    arg = np.outer(x, k * np.cos(theta)) + np.outer(y, k * np.sin(theta)) + phase
    return np.sin(arg).sum(axis=1) / np.sqrt(n_waves / 2)


def _adjacency(polys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Cells sharing an identical edge segment (a valid coverage shares its vertices)."""
    rings = shapely.get_exterior_ring(polys)
    coords, owner = shapely.get_coordinates(rings, return_index=True)
    q = np.round(coords * 1000).astype(np.int64)  # millimetres
    same = owner[:-1] == owner[1:]
    a, b = q[:-1][same], q[1:][same]
    cell = owner[:-1][same]
    swap = (a[:, 0] > b[:, 0]) | ((a[:, 0] == b[:, 0]) & (a[:, 1] > b[:, 1]))
    lo = np.where(swap[:, None], b, a)
    hi = np.where(swap[:, None], a, b)
    keys = np.column_stack([lo, hi])
    order = np.lexsort(keys.T[::-1])
    keys, cell = keys[order], cell[order]
    dup = np.all(keys[1:] == keys[:-1], axis=1) & (cell[1:] != cell[:-1])
    i, j = cell[:-1][dup], cell[1:][dup]
    src = np.concatenate([i, j])
    dst = np.concatenate([j, i])
    pairs = np.unique(np.column_stack([src, dst]), axis=0)
    indptr = np.searchsorted(pairs[:, 0], np.arange(len(polys) + 1))
    return indptr, pairs[:, 1].copy()


def make_cells(rng: np.random.Generator, region: shapely.Polygon, density, n: int) -> Cells:
    """About ``n`` Voronoi cells clipped to ``region``, denser where ``density(x, y)`` is high.

    ``density`` returns relative weights in (0, 1]; points are drawn by rejection sampling.
    """
    x0, y0, x1, y1 = region.bounds
    shapely.prepare(region)
    xs, ys = np.empty(0), np.empty(0)
    while len(xs) < n:
        m = 4 * n
        px, py = rng.uniform(x0, x1, m), rng.uniform(y0, y1, m)
        keep = shapely.contains_xy(region, px, py) & (rng.random(m) < density(px, py))
        xs, ys = np.concatenate([xs, px[keep]]), np.concatenate([ys, py[keep]])
    xs, ys = xs[:n], ys[:n]
    vor = shapely.voronoi_polygons(shapely.multipoints(np.column_stack([xs, ys])), extend_to=region)
    cells = np.asarray(shapely.get_parts(vor))
    inside = shapely.contains(region, cells)
    cells[~inside] = shapely.intersection(cells[~inside], region)
    parts = shapely.get_parts(cells)
    parts = parts[shapely.get_type_id(parts) == 3]
    parts = parts[shapely.area(parts) > 1e-3]
    # A stable order independent of GEOS' output order: by rounded centroid.
    c = shapely.centroid(parts)
    cx, cy = shapely.get_x(c), shapely.get_y(c)
    order = np.lexsort((np.round(cx, 3), np.round(cy, 3)))
    parts, cx, cy = parts[order], cx[order], cy[order]
    indptr, indices = _adjacency(parts)
    return Cells(parts, cx, cy, shapely.area(parts), indptr, indices)


def _weighted_argmin(cells: Cells, idx, sx, sy, scale, noise) -> np.ndarray:
    d = np.hypot(cells.x[idx, None] - sx[None, :], cells.y[idx, None] - sy[None, :])
    return np.argmin(d / scale[None, :] + noise[idx, None], axis=1)


def grow(
    cells: Cells,
    idx: np.ndarray,
    seeds: np.ndarray,
    scale: np.ndarray,
    noise: np.ndarray,
    cap: np.ndarray | None = None,
) -> np.ndarray:
    """Multi-source growth over cells ``idx`` from ``seeds`` (cell numbers).

    A region stops growing once its area reaches ``cap``. Returns a label per cell of ``idx``;
    -1 where no region reached.
    """
    local = np.full(len(cells), -1, dtype=np.int64)
    local[idx] = np.arange(len(idx))
    lab = [-1] * len(idx)
    xs, ys, nz, ar = cells.x.tolist(), cells.y.tolist(), noise.tolist(), cells.area.tolist()
    sxl, syl = cells.x[seeds].tolist(), cells.y[seeds].tolist()
    scl = scale.tolist()
    room = [math.inf] * len(seeds) if cap is None else cap.tolist()
    indptr, indices = cells.indptr.tolist(), cells.indices.tolist()
    loc = local.tolist()
    heap = [(nz[c], int(c), r) for r, c in enumerate(seeds)]
    heapq.heapify(heap)
    hypot = math.hypot
    while heap:
        _, c, r = heapq.heappop(heap)
        lc = loc[c]
        if lab[lc] >= 0 or room[r] <= 0:
            continue
        lab[lc] = r
        room[r] -= ar[c]
        for k in range(indptr[c], indptr[c + 1]):
            nb = indices[k]
            ln = loc[nb]
            if ln >= 0 and lab[ln] < 0:
                p = hypot(xs[nb] - sxl[r], ys[nb] - syl[r]) / scl[r] + nz[nb]
                heapq.heappush(heap, (p, nb, r))
    return np.array(lab, dtype=np.int64)


def fill_orphans(cells: Cells, idx: np.ndarray, label: np.ndarray) -> np.ndarray:
    """Give each unlabelled cell of ``idx`` the label of a labelled neighbour, until none is left.

    Regions stay edge-connected: an orphan joins a region it shares an edge with.
    """
    label = label.copy()
    local = np.full(len(cells), -1, dtype=np.int64)
    local[idx] = np.arange(len(idx))
    while (label < 0).any():
        orphan = np.flatnonzero(label < 0)
        c = idx[orphan]
        counts = cells.indptr[c + 1] - cells.indptr[c]
        owner = np.repeat(orphan, counts)
        # Positions of each orphan's neighbours in the CSR arrays.
        pos = np.repeat(cells.indptr[c], counts) + (
            np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts)
        )
        nb = local[cells.indices[pos]]
        ok = nb >= 0
        owner, nb = owner[ok], nb[ok]
        ok = label[nb] >= 0
        if not ok.any():
            raise RuntimeError("cells with no edge to any region")
        owner, nb = owner[ok], nb[ok]
        first = np.unique(owner, return_index=True)[1]
        label[owner[first]] = label[nb[first]]
    return label


def components(cells: Cells, idx: np.ndarray) -> np.ndarray:
    """Connected component (0, 1, ...) of each cell of ``idx`` on the edge-adjacency graph."""
    local = np.full(len(cells), -1, dtype=np.int64)
    local[idx] = np.arange(len(idx))
    comp = np.full(len(idx), -1, dtype=np.int64)
    indptr, indices = cells.indptr, cells.indices
    n = 0
    for start in range(len(idx)):
        if comp[start] >= 0:
            continue
        comp[start] = n
        stack = [start]
        while stack:
            c = idx[stack.pop()]
            for nb in local[indices[indptr[c] : indptr[c + 1]]]:
                if nb >= 0 and comp[nb] < 0:
                    comp[nb] = n
                    stack.append(nb)
        n += 1
    return comp


def seed_cells(cells: Cells, idx: np.ndarray, seeds_xy: np.ndarray) -> np.ndarray:
    """The cell of ``idx`` nearest to each seed point, distinct per seed."""
    d = np.hypot(
        cells.x[idx, None] - seeds_xy[None, :, 0], cells.y[idx, None] - seeds_xy[None, :, 1]
    )
    seeds = np.empty(len(seeds_xy), dtype=np.int64)
    taken: set[int] = set()
    for r in range(len(seeds_xy)):
        for cand in np.argsort(d[:, r], kind="stable"):
            if int(cand) not in taken:
                taken.add(int(cand))
                seeds[r] = idx[cand]
                break
    return seeds


def fit_regions(
    cells: Cells,
    idx: np.ndarray,
    seeds_xy: np.ndarray,
    target_area: np.ndarray,
    noise: np.ndarray,
    iterations: int = 25,
) -> np.ndarray:
    """Group cells ``idx`` into len(seeds_xy) connected regions of about ``target_area``.

    Returns the region label of each cell of ``idx``, or -1 for cells no region could reach
    (cut off from every seed; see fill_orphans).
    """
    idx = np.asarray(idx)
    seeds = seed_cells(cells, idx, seeds_xy)
    area = cells.area[idx]
    for _ in range(4):
        label = _fit(cells, idx, seeds, target_area, noise, iterations)
        got = np.bincount(label[label >= 0], weights=area[label >= 0], minlength=len(seeds))
        tiny = np.flatnonzero(got < 0.3 * target_area)
        if not len(tiny):
            break
        # A seed trapped by its neighbours: move it to the open ground farthest from the others.
        for r in tiny:
            others = np.delete(seeds, r)
            d = np.hypot(
                cells.x[idx, None] - cells.x[others][None, :],
                cells.y[idx, None] - cells.y[others][None, :],
            ).min(axis=1)
            seeds[r] = idx[int(np.argmax(np.where(area > 0, d, -1.0)))]
    return label


def _fit(cells, idx, seeds, target_area, noise, iterations) -> np.ndarray:
    sx, sy = cells.x[seeds], cells.y[seeds]
    area = cells.area[idx]
    scale = np.sqrt(target_area).astype(float)
    for _ in range(iterations):
        lab = _weighted_argmin(cells, idx, sx, sy, scale, noise)
        got = np.bincount(lab, weights=area, minlength=len(sx))
        scale *= np.clip((target_area / np.maximum(got, 1.0)) ** 0.35, 0.7, 1.4)
    label = grow(cells, idx, seeds, scale, noise)
    # Correct once what contiguity changed.
    got = np.bincount(label[label >= 0], weights=area[label >= 0], minlength=len(sx))
    scale *= np.clip((target_area / np.maximum(got, 1.0)) ** 0.4, 0.8, 1.25)
    return grow(cells, idx, seeds, scale, noise)
