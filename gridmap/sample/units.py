"""Closed compounds and social units, with their buildings."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import shapely

from gridmap.sample.layout import (
    COMMUNITY_MARGIN,
    TEMPLATES,
    Pieces,
    lattice_footprints,
)
from gridmap.sample.names import NameMaker

__all__ = ["Buildings", "SmallUnit", "Units", "place_small_units", "units_from_pieces"]

_CATEGORY = {
    "school": "school",
    "hospital": "hospital",
    "enterprise": "enterprise",
    "factory": "enterprise",
    "office": "office",
    "government": "government",
    "university": "school",
    "big_hospital": "hospital",
    "industrial": "enterprise",
}


@dataclass
class Units:
    geoms: list = field(default_factory=list)
    kind: list = field(default_factory=list)
    name: list = field(default_factory=list)
    category: list = field(default_factory=list)
    community: list = field(default_factory=list)
    template: list = field(default_factory=list)  # building template of its buildings
    own_grid: list = field(default_factory=list)  # 专属网格: one grid whatever its residents

    def add(self, geom, kind, name, category, community, template) -> int:
        self.own_grid.append(False)
        self.geoms.append(geom)
        self.kind.append(kind)
        self.name.append(name)
        self.category.append(category)
        self.community.append(int(community))
        self.template.append(template)
        return len(self.geoms) - 1


@dataclass
class Buildings:
    """Building parts collected as arrays; concatenated at the end."""

    parts: list = field(default_factory=list)

    def add(self, geoms, unit, community, floors, template) -> None:
        n = len(geoms)
        self.parts.append(
            {
                "geom": np.asarray(geoms, dtype=object),
                "unit": np.broadcast_to(np.asarray(unit, dtype=np.int64), (n,)).copy(),
                "community": np.broadcast_to(np.asarray(community, dtype=np.int64), (n,)).copy(),
                "floors": np.asarray(floors, dtype=np.int64),
                "template": np.full(n, template, dtype=object),
            }
        )

    def arrays(self) -> dict[str, np.ndarray]:
        return {k: np.concatenate([p[k] for p in self.parts]) for k in self.parts[0]}


def _floors(rng, template: str, n: int, kind: str) -> np.ndarray:
    lo, hi = TEMPLATES[template][3]
    if template == "new":
        lo, hi = {"core": (18, 33), "newtown": (24, 33), "town": (11, 24), "mountain": (7, 18)}[
            kind
        ]
        # Towers cluster in the upper half of the range.
        return np.round(lo + (hi - lo) * rng.beta(2.2, 1.4, n)).astype(np.int64)
    return rng.integers(lo, hi + 1, n)


def units_from_pieces(
    rng: np.random.Generator,
    pieces: Pieces,
    units: Units,
    buildings: Buildings,
    names: NameMaker,
    street_kind: list[str],
    community_stem: list[str],
) -> np.ndarray:
    """Turn block pieces into units with buildings; returns the unit index of each piece (-1)."""
    unit_of_piece = np.full(len(pieces.geoms), -1, dtype=np.int64)
    for template in TEMPLATES:
        sel = np.flatnonzero(pieces.role == template)
        if not len(sel):
            continue
        boxes, owner = lattice_footprints(
            rng, pieces.geoms[sel], template, pieces.bearing[sel], pieces.origin[sel]
        )
        piece = sel[owner]
        if template == "low":  # old houses, not a unit: keep about half of the lattice
            keep = rng.random(len(boxes)) < 0.55
            floors = rng.integers(2, 7, keep.sum())
            buildings.add(boxes[keep], -1, pieces.community[piece[keep]], floors, "low")
            continue
        if template == "tower":  # towers standing in the street, not a unit
            floors = _floors(rng, template, len(boxes), "core")
            buildings.add(boxes, -1, pieces.community[piece], floors, "tower")
            continue
        limit = TEMPLATES[template][4]
        order = np.lexsort((rng.random(len(piece)), piece))
        boxes, piece = boxes[order], piece[order]
        rank = np.arange(len(piece)) - np.searchsorted(piece, piece)
        if limit is not None:
            cap = rng.integers(limit[0], limit[1] + 1, len(pieces.geoms))
            keep = rank < cap[piece]
            boxes, piece = boxes[keep], piece[keep]
        for p in np.unique(piece):
            comm = int(pieces.community[p])
            kind = street_kind[int(pieces.street[p])]
            if template in ("new", "old"):
                name = names.compound(community_stem[comm], old=template == "old")
                u = units.add(pieces.geoms[p], "compound", name, None, comm, template)
            else:
                category = _CATEGORY[template]
                name = names.social_unit(category, community_stem[comm])
                u = units.add(pieces.geoms[p], "social_unit", name, category, comm, template)
            unit_of_piece[p] = u
            mine = piece == p
            buildings.add(
                boxes[mine], u, comm, _floors(rng, template, int(mine.sum()), kind), template
            )
    return unit_of_piece


@dataclass(frozen=True)
class SmallUnit:
    """A unit to place on free ground: a committee office, a street office, a village school."""

    community: int
    name: str
    category: str
    template: str
    n_buildings: int
    candidates: np.ndarray  # (k, 2) points to try, best first
    bearing: float


def _rotated_boxes(cx, cy, w, h, bearing: float) -> np.ndarray:
    """Rectangles of size w × h centred on (cx, cy), rotated by ``bearing`` degrees."""
    a = np.radians(bearing)
    c, s = np.cos(a), np.sin(a)
    dx = np.array([-1, 1, 1, -1])[None, :] * (np.asarray(w)[:, None] / 2)
    dy = np.array([-1, -1, 1, 1])[None, :] * (np.asarray(h)[:, None] / 2)
    x = np.asarray(cx)[:, None] + c * dx - s * dy
    y = np.asarray(cy)[:, None] + s * dx + c * dy
    return shapely.polygons(np.stack([x, y], axis=-1))


def place_small_units(
    rng: np.random.Generator,
    requests: list[SmallUnit],
    communities: np.ndarray,
    blocked: np.ndarray,
    units: Units,
    buildings: Buildings,
    street_kind_of_community: list[str],
) -> list[int]:
    """Place each request on the first candidate point where it fits; returns unit indices.

    A unit fits when it lies inside its community (with the margin), off ``blocked`` ground
    (an array of polygons: river, road buffers) and clear of every unit placed so far. A
    request that finds no place is skipped (-1).
    """
    blocked_tree = shapely.STRtree(blocked)
    existing = shapely.STRtree(np.array(units.geoms, dtype=object))
    eroded: dict[int, shapely.Geometry] = {}
    placed: dict[int, list[shapely.Geometry]] = {}  # by community: units never cross one
    out = []
    for req in requests:
        if req.community not in eroded:
            eroded[req.community] = shapely.buffer(
                communities[req.community], -COMMUNITY_MARGIN, join_style="mitre"
            )
            shapely.prepare(eroded[req.community])
        (w0, w1), (h0, h1) = TEMPLATES[req.template][:2]
        n = req.n_buildings
        w, h = n * (w1 + 8.0) + 8.0, h1 + 16.0  # a row of n buildings with 8 m around each
        c = req.candidates
        rects = _rotated_boxes(
            c[:, 0], c[:, 1], np.full(len(c), w), np.full(len(c), h), req.bearing
        )
        ok = shapely.contains(eroded[req.community], rects)
        for tree in (blocked_tree, existing):
            if ok.any():
                alive = np.flatnonzero(ok)
                ok[alive[tree.query(rects[alive], predicate="intersects")[0]]] = False
        here = placed.setdefault(req.community, [])
        if ok.any() and here:
            ok &= ~shapely.intersects(rects, shapely.union_all(here))
        if not ok.any():
            out.append(-1)
            continue
        rect = rects[int(np.argmax(ok))]
        here.append(rect)
        u = units.add(rect, "social_unit", req.name, req.category, req.community, req.template)
        k = int(np.argmax(ok))
        a = np.radians(req.bearing)
        along = -w / 2 + 8.0 + (w1 + 8.0) * np.arange(n) + w1 / 2
        bx, by = c[k, 0] + along * np.cos(a), c[k, 1] + along * np.sin(a)
        boxes = _rotated_boxes(bx, by, rng.uniform(w0, w1, n), rng.uniform(h0, h1, n), req.bearing)
        kind = street_kind_of_community[req.community]
        buildings.add(
            boxes, u, req.community, _floors(rng, req.template, len(boxes), kind), req.template
        )
        out.append(u)
    return out
