"""Scattered low-rise houses (not in any unit): hamlets in villages, lanes between them."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import shapely

from gridmap.sample.layout import COMMUNITY_MARGIN
from gridmap.sample.roads import RoadSet, wiggly_line
from gridmap.sample.tessellate import Cells

__all__ = ["HOUSE_RESIDENTS", "Hamlets", "make_hamlets", "make_houses", "village_lanes"]

# Houses sit on a hexagonal lattice of 26 m, at most one per site, each within 13 m of its
# site (half-diagonal <= 8.5 m plus <= 4.4 m of jitter): houses never overlap.
_LATTICE = 26.0
_HOUSE_W, _HOUSE_H = (8.0, 13.0), (7.0, 11.0)
_HOUSE_FLOORS, _FLOOR_P = (2, 3, 4), (0.35, 0.45, 0.20)
# Expected residents of a house by the importer's estimate (area × floors × 0.025).
HOUSE_RESIDENTS = (
    np.mean(_HOUSE_W) * np.mean(_HOUSE_H) * float(np.dot(_HOUSE_FLOORS, _FLOOR_P)) * 0.025
)


@dataclass(frozen=True)
class Hamlets:
    xy: np.ndarray  # (n, 2) centres
    community: np.ndarray
    sigma: np.ndarray  # spread (m)
    share: np.ndarray  # share of the village's houses
    group: np.ndarray  # 1-based number within its village (村民小组, 组)


def make_hamlets(
    rng: np.random.Generator,
    cells: Cells,
    community_of_cell: np.ndarray,
    villages: np.ndarray,
    houses_needed: np.ndarray,
    forest: shapely.Geometry,
    no_build: shapely.Geometry,
    scattered: int = -1,
) -> Hamlets:
    """Hamlet centres of each village: on open ground, rarely in the forest.

    The village ``scattered`` (a community index) spreads its houses over the most hamlets, of
    even size: a large, thinly populated village.
    """
    in_forest = shapely.contains_xy(forest, cells.x, cells.y)
    in_nobuild = shapely.contains_xy(no_build, cells.x, cells.y)
    weight = cells.area * np.where(in_forest, 0.2, 1.0) * ~in_nobuild
    xy, comm, sigma, share, group = [], [], [], [], []
    for v, need in zip(villages, houses_needed, strict=True):
        idx = np.flatnonzero(community_of_cell == v)
        p = weight[idx]
        if p.sum() <= 0:
            p = cells.area[idx]
        thin = v == scattered
        n = 12 if thin else int(np.clip(round(need / 45), 3, 12))
        pick = rng.choice(idx, size=min(n, len(idx)), replace=False, p=p / p.sum())
        xy.append(np.column_stack([cells.x[pick], cells.y[pick]]))
        comm.append(np.full(len(pick), v))
        sigma.append(rng.uniform(50, 130, len(pick)))
        share.append(rng.dirichlet(np.full(len(pick), 8.0 if thin else 2.0)))
        group.append(np.arange(1, len(pick) + 1))
    return Hamlets(*(np.concatenate(a) for a in (xy, comm, sigma, share, group)))


def _spanning_tree(xy: np.ndarray) -> list[tuple[int, int]]:
    """Edges of the Euclidean minimum spanning tree of a few points (Prim's algorithm)."""
    n = len(xy)
    d = np.hypot(xy[:, None, 0] - xy[None, :, 0], xy[:, None, 1] - xy[None, :, 1])
    inside = np.zeros(n, dtype=bool)
    inside[0] = True
    best, parent = d[0].copy(), np.zeros(n, dtype=np.int64)
    edges = []
    for _ in range(n - 1):
        k = int(np.argmin(np.where(inside, np.inf, best)))
        edges.append((int(parent[k]), k))
        inside[k] = True
        closer = d[k] < best
        best[closer], parent[closer] = d[k][closer], k
    return edges


def village_lanes(
    rng: np.random.Generator,
    hamlets: Hamlets,
    hubs: dict[int, tuple[float, float]],
    communities: np.ndarray,
    no_build: shapely.Geometry,
    roads: RoadSet,
    names: list[str],
) -> None:
    """Lanes joining each village's hub (its committee) and hamlets: a spanning tree."""
    for v in sorted(hubs):
        mine = np.flatnonzero(hamlets.community == v)
        xy = np.vstack([np.asarray(hubs[v])[None, :], hamlets.xy[mine]])
        for a, b in _spanning_tree(xy):
            if np.hypot(*(xy[a] - xy[b])) < 120:
                continue
            line = wiggly_line(rng, xy[[a, b]], 0.12 * np.hypot(*(xy[a] - xy[b])))
            line = shapely.difference(shapely.intersection(line, communities[v]), no_build)
            roads.add(line, names[v], "residential", 100.0)


def make_houses(
    rng: np.random.Generator,
    hamlets: Hamlets,
    villages: np.ndarray,
    houses_needed: np.ndarray,
    communities: np.ndarray,
    avoid: np.ndarray,
    unit_tree: shapely.STRtree,
) -> dict[str, np.ndarray]:
    """Houses around hamlet centres, inside their village, off ``avoid`` (an array of polygons:
    river, road buffers) and clear of units.

    Returns arrays geom, community, floors, group (the hamlet's 组 number).
    """
    need_of = dict(zip(villages.tolist(), houses_needed.tolist(), strict=True))
    total = np.array([need_of[int(v)] for v in hamlets.community], dtype=float)
    per = np.maximum(4, np.round(hamlets.share * total * 2.2)).astype(np.int64)
    owner = np.repeat(np.arange(len(hamlets.xy)), per)
    # A hamlet spreads with its size: about one house per two lattice sites near its centre.
    sigma = np.maximum(hamlets.sigma, 16.0 * np.sqrt(hamlets.share * total))
    r = rng.standard_normal((len(owner), 2)) * sigma[owner, None]
    # A few houses stray far from the hamlet, along the fields.
    stray = rng.random(len(owner)) < 0.12
    r[stray] *= 4.0
    xy = hamlets.xy[owner] + r
    row_h = _LATTICE * np.sqrt(3) / 2
    j = np.round(xy[:, 1] / row_h).astype(np.int64)
    i = np.round(xy[:, 0] / _LATTICE - 0.5 * (j % 2)).astype(np.int64)
    ij = np.column_stack([i, j])
    # One house per lattice square over the whole district (first in a random order wins).
    order = rng.permutation(len(owner))
    _, first = np.unique(ij[order], axis=0, return_index=True)
    keep = np.sort(order[first])
    owner, ij = owner[keep], ij[keep]
    jr = np.sqrt(rng.random(len(owner))) * 4.4
    ja = rng.uniform(0, 2 * np.pi, len(owner))
    centre = np.column_stack(
        [
            (ij[:, 0] + 0.5 * (ij[:, 1] % 2)) * _LATTICE + jr * np.cos(ja),
            ij[:, 1] * row_h + jr * np.sin(ja),
        ]
    )
    angle = rng.normal(0, 1, len(hamlets.xy))[owner] * 0.6 + rng.normal(0, 0.15, len(owner))
    w = rng.uniform(*_HOUSE_W, len(owner)) / 2
    h = rng.uniform(*_HOUSE_H, len(owner)) / 2
    c, s = np.cos(angle), np.sin(angle)
    dx = np.array([-1, 1, 1, -1])[None, :] * w[:, None]
    dy = np.array([-1, -1, 1, 1])[None, :] * h[:, None]
    px = centre[:, 0, None] + c[:, None] * dx - s[:, None] * dy
    py = centre[:, 1, None] + s[:, None] * dx + c[:, None] * dy
    boxes = shapely.polygons(np.stack([px, py], axis=-1))
    comm = hamlets.community[owner]
    eroded = shapely.buffer(communities, -COMMUNITY_MARGIN, join_style="mitre")
    shapely.prepare(eroded)
    ok = shapely.contains(eroded[comm], boxes)
    for tree in (shapely.STRtree(avoid), unit_tree):
        alive = np.flatnonzero(ok)
        ok[alive[tree.query(boxes[alive], predicate="intersects")[0]]] = False
    boxes, comm, owner = boxes[ok], comm[ok], owner[ok]
    # Keep as many houses as each village needs, at random.
    rank_order = np.lexsort((rng.random(len(comm)), comm))
    sorted_comm = comm[rank_order]
    rank = np.arange(len(comm)) - np.searchsorted(sorted_comm, sorted_comm)
    need = np.array([need_of[int(v)] for v in sorted_comm])
    sel = np.sort(rank_order[rank < need])
    floors = rng.choice(_HOUSE_FLOORS, size=len(sel), p=_FLOOR_P)
    return {
        "geom": boxes[sel],
        "community": comm[sel],
        "floors": floors,
        "group": hamlets.group[owner[sel]],
    }
