"""Blocks of the built-up 社区: a rotated block grid per street, its streets, and what each
block holds (a closed compound, a social unit, old low-rise houses, or a park).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import shapely

from gridmap.sample.geography import Frame
from gridmap.sample.names import NameMaker, place_stem
from gridmap.sample.roads import RoadSet

__all__ = ["ROLES", "TEMPLATES", "Pieces", "lattice_footprints", "make_pieces", "rotate"]

# What a block piece becomes, by street kind (probabilities in ROLES order).
ROLES = ("new", "old", "school", "hospital", "enterprise", "office", "park", "low")
_ROLE_P = {
    "core": (0.46, 0.20, 0.05, 0.02, 0.03, 0.04, 0.10, 0.10),
    "newtown": (0.54, 0.06, 0.06, 0.02, 0.08, 0.05, 0.14, 0.05),
    "town": (0.16, 0.28, 0.05, 0.02, 0.07, 0.01, 0.13, 0.28),
    "mountain": (0.10, 0.20, 0.04, 0.02, 0.02, 0.02, 0.30, 0.30),
}
# Building templates: footprint width/height ranges (m, in the block grid's frame), lattice
# spacing (m), floors range, how many buildings a unit keeps (None = as many as fit).
TEMPLATES = {
    "new": ((18, 24), (24, 32), (44, 56), (18, 33), None),
    "old": ((40, 58), (11, 14), (66, 30), (6, 9), None),
    "low": ((9, 15), (8, 12), (19, 17), (2, 6), None),
    "school": ((48, 60), (14, 16), (72, 40), (4, 6), (2, 4)),
    "hospital": ((30, 40), (22, 28), (52, 44), (6, 20), (2, 4)),
    "enterprise": ((26, 30), (26, 30), (48, 48), (12, 30), (1, 3)),
    "factory": ((50, 70), (30, 40), (84, 56), (1, 3), (2, 5)),
    "office": ((28, 32), (20, 26), (50, 44), (8, 25), (1, 2)),
    "government": ((36, 44), (16, 20), (60, 36), (5, 8), (1, 2)),
    "committee": ((20, 26), (12, 15), (40, 30), (3, 5), (1, 1)),
    # Set by homes.choose_homes, never drawn at random: towers standing in the street (no
    # compound), and the social units that are a grid of their own.
    "tower": ((18, 24), (24, 32), (48, 58), (25, 33), None),
    "university": ((48, 62), (15, 18), (76, 44), (5, 12), None),
    "big_hospital": ((34, 44), (24, 30), (56, 48), (8, 24), None),
    "industrial": ((50, 70), (30, 40), (84, 56), (1, 4), None),
}
SETBACK = 6.0  # buildings keep this far inside their unit or block piece
COMMUNITY_MARGIN = 4.0  # units and buildings keep this far inside their community


@dataclass(frozen=True)
class Pieces:
    """Block pieces: a block cut by community boundaries, rivers and main roads."""

    geoms: np.ndarray  # metric polygons
    community: np.ndarray  # global community index
    street: np.ndarray
    role: np.ndarray  # str, one of ROLES (enterprise → factory outside the core)
    bearing: np.ndarray  # degrees, the block grid's rotation
    origin: np.ndarray  # (n, 2) rotation origin


def rotate(geoms, degrees: float, origin) -> np.ndarray:
    """Rotate geometries counter-clockwise by ``degrees`` about ``origin`` (vectorized)."""
    a = np.radians(degrees)
    c, s = np.cos(a), np.sin(a)
    ox, oy = origin

    def f(xy):
        x, y = xy[:, 0] - ox, xy[:, 1] - oy
        return np.column_stack([ox + c * x - s * y, oy + s * x + c * y])

    return shapely.transform(geoms, f)


def _edges(rng, lo: float, hi: float, size: tuple[int, int]) -> np.ndarray:
    edges = [lo - rng.uniform(0, size[1])]
    while edges[-1] < hi:
        edges.append(edges[-1] + rng.uniform(*size))
    return np.array(edges)


def _grid(rng, bounds, size, origin, bearing, region, roads: RoadSet, names, stems):
    """Blocks of one street's built-up area and the streets between them."""
    x0, y0, x1, y1 = bounds
    xe, ye = _edges(rng, x0, x1, size), _edges(rng, y0, y1, size)
    # Every third or fourth line is a wider secondary road.
    xw = np.where(rng.random(len(xe)) < 0.3, 26.0, rng.uniform(14, 18, len(xe)))
    yw = np.where(rng.random(len(ye)) < 0.3, 26.0, rng.uniform(14, 18, len(ye)))
    gx, gy = np.meshgrid(np.arange(len(xe) - 1), np.arange(len(ye) - 1), indexing="ij")
    ix, iy = gx.ravel(), gy.ravel()
    blocks = shapely.box(
        xe[ix] + xw[ix] / 2,
        ye[iy] + yw[iy] / 2,
        xe[ix + 1] - xw[ix + 1] / 2,
        ye[iy + 1] - yw[iy + 1] / 2,
    )
    blocks = rotate(blocks, bearing, origin)
    grid_lines = [shapely.LineString([(x, ye[0]), (x, ye[-1])]) for x in xe] + [
        shapely.LineString([(xe[0], y), (xe[-1], y)]) for y in ye
    ]
    widths = np.concatenate([xw, yw])
    lines = rotate(np.array(grid_lines, dtype=object), bearing, origin)
    clipped = shapely.intersection(lines, region)
    for line, w in zip(clipped, widths, strict=True):
        if not line.is_empty and line.length > 120:
            roads.add(line, names.road(stems), "secondary" if w > 20 else "residential", 80.0)
    return blocks


def make_pieces(
    rng: np.random.Generator,
    frame: Frame,
    communities: np.ndarray,
    no_build: shapely.Geometry,
    roads: RoadSet,
    names: NameMaker,
) -> Pieces:
    """Block pieces of every 社区 (villages get hamlets instead, see scatter.py)."""
    main_buffer = roads.buffers({"primary": 16.0, "secondary": 11.0})
    blocked = shapely.union(no_build, main_buffer)
    shapely.prepare(blocked)
    out: dict[str, list[np.ndarray]] = {
        k: [] for k in ("geoms", "community", "street", "role", "bearing", "origin")
    }
    offset = 0
    for s, street in enumerate(frame.streets):
        comm_idx = [offset + k for k, c in enumerate(street.communities) if not c.is_village]
        offset += len(street.communities)
        if not comm_idx:
            continue
        region = shapely.difference(shapely.coverage_union_all(communities[comm_idx]), no_build)
        bearing = street.bearing + rng.normal(0, 4)
        origin = street.seed
        bounds = rotate(np.array([region]), -bearing, origin)[0].bounds
        stems = [place_stem(c.short_name) for c in street.communities] + [place_stem(street.name)]
        blocks = _grid(rng, bounds, street.block, origin, bearing, region, roads, names, stems)
        eroded = shapely.buffer(communities[comm_idx], -COMMUNITY_MARGIN, join_style="mitre")
        tree = shapely.STRtree(blocks)
        ci, bi = tree.query(eroded, predicate="intersects")
        parts = shapely.intersection(blocks[bi], eroded[ci])
        parts = shapely.difference(parts, blocked)
        geoms, which = shapely.get_parts(parts, return_index=True)
        comm = np.asarray(comm_idx)[ci[which]]
        ok = (shapely.get_type_id(geoms) == 3) & (shapely.area(geoms) > 2500)
        ok &= ~shapely.is_empty(shapely.buffer(geoms, -12.0))
        geoms, comm = geoms[ok], comm[ok]
        p = np.array(_ROLE_P[street.kind])
        role = np.asarray(ROLES)[rng.choice(len(ROLES), size=len(geoms), p=p / p.sum())]
        if street.kind != "core":
            role = np.where(role == "enterprise", "factory", role)
        out["geoms"].append(geoms)
        out["community"].append(comm)
        out["street"].append(np.full(len(geoms), s))
        out["role"].append(role.astype(object))  # roles longer than ROLES' come later
        out["bearing"].append(np.full(len(geoms), bearing))
        out["origin"].append(np.tile(origin, (len(geoms), 1)))
    return Pieces(**{k: np.concatenate(v) for k, v in out.items()})


def lattice_footprints(
    rng: np.random.Generator,
    polys: np.ndarray,
    template: str,
    bearing: np.ndarray,
    origin: np.ndarray,
    setback: float = SETBACK,
) -> tuple[np.ndarray, np.ndarray]:
    """Footprints laid on a lattice inside each polygon, aligned with its block grid.

    Returns (footprints, index of the polygon holding each). Footprints never overlap: each
    stays inside its own lattice cell, and the polygons are disjoint.
    """
    (w0, w1), (h0, h1), (sx, sy), _, _ = TEMPLATES[template]
    owners: list[np.ndarray] = []
    xs_all: list[np.ndarray] = []
    ys_all: list[np.ndarray] = []
    for k, poly in enumerate(polys):
        local = rotate(np.array([poly]), -bearing[k], origin[k])[0]
        x0, y0, x1, y1 = local.bounds
        ox, oy = rng.uniform(0, sx), rng.uniform(0, sy)
        xs = np.arange(x0 + setback + ox % sx - sx, x1, sx) + sx / 2
        ys = np.arange(y0 + setback + oy % sy - sy, y1, sy) + sy / 2
        gx, gy = np.meshgrid(xs, ys)
        owners.append(np.full(gx.size, k))
        xs_all.append(gx.ravel())
        ys_all.append(gy.ravel())
    if not owners:
        return np.empty(0, dtype=object), np.empty(0, dtype=np.int64)
    owner = np.concatenate(owners)
    cx, cy = np.concatenate(xs_all), np.concatenate(ys_all)
    w = rng.uniform(w0, w1, len(owner)) / 2
    h = rng.uniform(h0, h1, len(owner)) / 2
    boxes = shapely.box(cx - w, cy - h, cx + w, cy + h)
    a = np.radians(bearing[owner])
    ox, oy = origin[owner, 0], origin[owner, 1]
    coords, idx = shapely.get_coordinates(boxes, return_index=True)
    x, y = coords[:, 0] - ox[idx], coords[:, 1] - oy[idx]
    c, s = np.cos(a[idx]), np.sin(a[idx])
    coords = np.column_stack([ox[idx] + c * x - s * y, oy[idx] + s * x + c * y])
    boxes = shapely.set_coordinates(boxes, coords)
    inner = shapely.buffer(polys, -setback, join_style="mitre")
    shapely.prepare(inner)
    ok = shapely.contains(inner[owner], boxes)
    return boxes[ok], owner[ok]
