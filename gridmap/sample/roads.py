"""Road centre lines: a few main roads across the district, block streets, village lanes."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import shapely

from gridmap.sample.geography import Frame, Landscape, lonlat_xy
from gridmap.sample.names import NameMaker

__all__ = ["RoadSet", "chaikin", "make_main_roads", "wiggly_line"]

# Main roads as lon/lat waypoints: (class, word for the name, waypoints). The riverside road
# (南滨路) is derived from the river border instead.
_MAIN = (
    (
        "primary",
        ["江南"],
        (
            (106.590, 29.566),
            (106.578, 29.548),
            (106.568, 29.534),
            (106.560, 29.518),
            (106.556, 29.500),
            (106.556, 29.480),
        ),
    ),
    (
        "primary",
        ["通江", "茶园"],
        (
            (106.538, 29.522),
            (106.560, 29.526),
            (106.585, 29.524),
            (106.610, 29.522),
            (106.640, 29.522),
            (106.665, 29.520),
            (106.700, 29.515),
            (106.740, 29.510),
        ),
    ),
    (
        "primary",
        ["广阳"],
        (
            (106.662, 29.526),
            (106.686, 29.545),
            (106.712, 29.558),
            (106.745, 29.568),
            (106.785, 29.585),
        ),
    ),
    (
        "secondary",
        ["南山"],
        (
            (106.588, 29.552),
            (106.600, 29.544),
            (106.612, 29.535),
            (106.618, 29.520),
            (106.620, 29.500),
            (106.626, 29.478),
        ),
    ),
    (
        "secondary",
        ["长生", "迎龙"],
        (
            (106.600, 29.487),
            (106.630, 29.490),
            (106.660, 29.490),
            (106.690, 29.500),
            (106.716, 29.515),
            (106.737, 29.540),
            (106.762, 29.566),
        ),
    ),
    (
        "secondary",
        ["涂山", "鸡冠石"],
        ((106.596, 29.574), (106.612, 29.575), (106.625, 29.590), (106.640, 29.602)),
    ),
    (
        "secondary",
        ["峡江"],
        ((106.652, 29.548), (106.675, 29.562), (106.700, 29.563), (106.725, 29.568)),
    ),
)
_RIVERSIDE_OFFSET = 380.0


@dataclass
class RoadSet:
    """Roads collected while the district is drawn (metric)."""

    geoms: list = field(default_factory=list)
    names: list = field(default_factory=list)
    classes: list = field(default_factory=list)

    def add(self, geom, name: str | None, cls: str, min_length: float = 60.0) -> None:
        for part in shapely.get_parts(
            shapely.line_merge(geom) if geom.geom_type.startswith("Multi") else geom
        ):
            if part.geom_type == "LineString" and part.length >= min_length:
                self.geoms.append(part)
                self.names.append(name)
                self.classes.append(cls)

    def buffer_array(self, widths: dict[str, float]) -> np.ndarray:
        """Each road buffered by the half-width of its class (roads of other classes left out)."""
        g = np.array(self.geoms, dtype=object)
        w = np.array([widths.get(c, 0.0) for c in self.classes])
        keep = w > 0
        return shapely.buffer(g[keep], w[keep], quad_segs=2, cap_style="flat")

    def buffers(self, widths: dict[str, float]) -> shapely.Geometry:
        """The union of buffer_array."""
        return shapely.union_all(self.buffer_array(widths))


def chaikin(xy: np.ndarray, iterations: int = 3) -> np.ndarray:
    """Corner-cutting smoothing of an open polyline (keeps both ends)."""
    for _ in range(iterations):
        q = 0.75 * xy[:-1] + 0.25 * xy[1:]
        r = 0.25 * xy[:-1] + 0.75 * xy[1:]
        mid = np.empty((2 * len(q), 2))
        mid[0::2], mid[1::2] = q, r
        xy = np.vstack([xy[:1], mid, xy[-1:]])
    return xy


def wiggly_line(rng: np.random.Generator, xy: np.ndarray, sigma: float) -> shapely.LineString:
    """A smoothed polyline through ``xy`` with its inner points moved by ~``sigma`` metres."""
    xy = np.asarray(xy, dtype=float).copy()
    if len(xy) == 2:  # add a bend in the middle
        xy = np.vstack([xy[0], xy.mean(axis=0), xy[1]])
    xy[1:-1] += rng.normal(0, sigma, (len(xy) - 2, 2))
    return shapely.LineString(chaikin(xy))


def make_main_roads(
    rng: np.random.Generator, frame: Frame, land: Landscape, names: NameMaker
) -> RoadSet:
    """Primary and secondary roads crossing the district, and the riverside 南滨路."""
    roads = RoadSet()
    inner = frame.district.buffer(-40.0)
    for cls, words, pts in _MAIN:
        xy = np.array([lonlat_xy(lon, lat) for lon, lat in pts])
        line = wiggly_line(rng, xy, 120.0)
        line = shapely.difference(shapely.intersection(line, inner), land.no_build)
        roads.add(line, names.road(words), cls, min_length=300.0)
    ring = frame.district.buffer(-_RIVERSIDE_OFFSET).exterior
    along = shapely.intersection(ring, land.river_line.buffer(_RIVERSIDE_OFFSET + 60.0))
    west = shapely.box(-1e9, -1e9, lonlat_xy(106.645, 29.5)[0], 1e9)
    roads.add(shapely.intersection(along, west), "南滨路", "primary", min_length=800.0)
    east = shapely.difference(along, west)
    roads.add(east, names.road(["广阳", "峡口"]), "secondary", min_length=800.0)
    return roads
