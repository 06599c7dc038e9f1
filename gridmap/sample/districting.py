"""Streets tiling the district and communities tiling each street, as unions of cells."""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import shapely

from gridmap.sample.geography import Frame, Street
from gridmap.sample.tessellate import (
    Cells,
    components,
    fill_orphans,
    fit_regions,
    grow,
    make_cells,
    seed_cells,
    smooth_noise,
)

__all__ = ["Divisions", "make_divisions"]

# Area of a 社区 in a street that also has villages (km²), by street kind.
_SHEQU_KM2 = {"core": 0.8, "newtown": 1.6, "town": 1.0, "mountain": 0.8}
N_CELLS = 26000


@dataclass(frozen=True)
class Divisions:
    cells: Cells
    street_of_cell: np.ndarray  # index into frame.streets
    community_of_cell: np.ndarray  # global community index (streets' communities in order)
    streets: np.ndarray  # metric polygons, one per street
    communities: np.ndarray  # metric polygons, one per community


def _density(frame: Frame):
    """Relative density of cells: fine where communities are small (the urban north-west)."""
    cores = np.array([s.seed for s in frame.streets if s.kind == "core"])
    towns = np.array([s.seed for s in frame.streets if s.kind != "core"])

    def density(x: np.ndarray, y: np.ndarray) -> np.ndarray:
        d = np.full(len(x), 0.06)
        for (cx, cy), w, sigma in [(c, 1.0, 1600.0) for c in cores] + [
            (c, 0.35, 1300.0) for c in towns
        ]:
            d += w * np.exp(-((x - cx) ** 2 + (y - cy) ** 2) / (2 * sigma**2))
        return np.minimum(d, 1.0)

    return density


def _kmeans(rng, x, y, w, k, iterations=10) -> np.ndarray:
    """Area-weighted k-means of points; seeds start by farthest-point sampling."""
    n = len(x)
    first = int(rng.integers(n))
    chosen = [first]
    dmin = np.hypot(x - x[first], y - y[first])
    for _ in range(1, k):
        nxt = int(np.argmax(dmin))
        chosen.append(nxt)
        dmin = np.minimum(dmin, np.hypot(x - x[nxt], y - y[nxt]))
    c = np.column_stack([x[chosen], y[chosen]])
    for _ in range(iterations):
        lab = np.argmin((x[:, None] - c[None, :, 0]) ** 2 + (y[:, None] - c[None, :, 1]) ** 2, 1)
        ws = np.bincount(lab, weights=w, minlength=k)
        ok = ws > 0
        c[ok, 0] = np.bincount(lab, weights=w * x, minlength=k)[ok] / ws[ok]
        c[ok, 1] = np.bincount(lab, weights=w * y, minlength=k)[ok] / ws[ok]
    return c


def _order_seeds(c: np.ndarray) -> np.ndarray:
    """Seeds north-west first, so codes run roughly like real numbering (deterministic)."""
    return c[np.lexsort((c[:, 0], -np.round(c[:, 1], -2)))]


def _tile_street(rng, cells: Cells, idx: np.ndarray, street: Street, noise) -> np.ndarray:
    """Community label (index into street.communities) of each cell of ``idx``.

    A street of only 社区 (or only 村) is cut into equal areas. A town's 社区 form its centre:
    they grow first, each up to its share of the centre's area; the villages share the rest.
    """
    n = len(street.communities)
    x, y, w = cells.x[idx], cells.y[idx], cells.area[idx]
    total = w.sum()
    shequ = [k for k, c in enumerate(street.communities) if not c.is_village]
    village = [k for k, c in enumerate(street.communities) if c.is_village]
    if not village or not shequ:
        seeds = _order_seeds(_kmeans(rng, x, y, w, n))
        lab = fit_regions(cells, idx, seeds, np.full(n, total / n), noise)
        return fill_orphans(cells, idx, lab)
    a_shequ = min(len(shequ) * _SHEQU_KM2[street.kind] * 1e6, 0.55 * total)
    d = np.hypot(x - street.seed[0], y - street.seed[1])
    order = np.argsort(d, kind="stable")
    inner = order[: int(np.searchsorted(np.cumsum(w[order]), a_shequ)) + 1]
    cs = _order_seeds(_kmeans(rng, x[inner], y[inner], w[inner], len(shequ)))
    cap = np.full(len(shequ), a_shequ / len(shequ))
    lab_s = grow(cells, idx, seed_cells(cells, idx[inner], cs), np.sqrt(cap), noise, cap)
    label = np.full(len(idx), -1, dtype=np.int64)
    label[lab_s >= 0] = np.asarray(shequ)[lab_s[lab_s >= 0]]
    rest = np.flatnonzero(lab_s < 0)
    # Pockets of ground the centre left cut off are too small for a village: they join a
    # neighbour (fill_orphans); the villages share the large pieces.
    comp = components(cells, idx[rest])
    size = np.bincount(comp, weights=w[rest])
    rest = rest[size[comp] >= 0.3 * size.sum() / len(village)]
    cv = _order_seeds(_kmeans(rng, x[rest], y[rest], w[rest], len(village)))
    target = np.full(len(village), w[rest].sum() / len(village))
    lab_v = fit_regions(cells, idx[rest], cv, target, noise)
    label[rest[lab_v >= 0]] = np.asarray(village)[lab_v[lab_v >= 0]]
    return fill_orphans(cells, idx, label)


def make_divisions(
    rng: np.random.Generator, frame: Frame, water: shapely.Geometry | None = None
) -> Divisions:
    """Tile the district into its streets and each street into its communities.

    Sizes count land only: a riverside community reaching into the river (``water``) is
    larger, so that it has ground for its people like the others.
    """
    cells = make_cells(rng, frame.district, _density(frame), N_CELLS)
    if water is not None and not water.is_empty:
        wet = shapely.STRtree(cells.polys).query(water, predicate="intersects")
        land = cells.area.copy()
        land[wet] -= shapely.area(shapely.intersection(cells.polys[wet], water))
        cells = replace(cells, area=np.maximum(land, 0.0))
    # Street seeds: the profile's position, jittered a little so seeds differ in detail.
    seeds = np.array([s.seed for s in frame.streets]) + rng.normal(0, 120, (len(frame.streets), 2))
    target = np.array([s.area_km2 for s in frame.streets])
    target = target / target.sum() * cells.area.sum()
    noise = 0.13 * smooth_noise(rng, cells.x, cells.y, (700, 4000)) + 0.02 * rng.standard_normal(
        len(cells)
    )
    all_idx = np.arange(len(cells))
    street_of = fill_orphans(cells, all_idx, fit_regions(cells, all_idx, seeds, target, noise))

    cnoise = 0.12 * smooth_noise(rng, cells.x, cells.y, (250, 1500)) + 0.03 * rng.standard_normal(
        len(cells)
    )
    community_of = np.full(len(cells), -1, dtype=np.int64)
    offset = 0
    for s, street in enumerate(frame.streets):
        idx = np.flatnonzero(street_of == s)
        community_of[idx] = _tile_street(rng, cells, idx, street, cnoise) + offset
        offset += len(street.communities)

    streets = _dissolve(cells.polys, street_of, len(frame.streets))
    communities = _dissolve(cells.polys, community_of, offset)
    return Divisions(cells, street_of, community_of, streets, communities)


def _dissolve(polys: np.ndarray, label: np.ndarray, n: int) -> np.ndarray:
    order = np.argsort(label, kind="stable")
    bounds = np.searchsorted(label[order], np.arange(n + 1))
    out = np.empty(n, dtype=object)
    for k in range(n):
        out[k] = shapely.coverage_union_all(polys[order[bounds[k] : bounds[k + 1]]])
    return out
