"""Helpers shared by the coverage checks: the metric frame, sentences, pieces of area.

Part of :mod:`gridmap.engine.validate.check`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyproj
import shapely
from numpy.typing import NDArray

__all__ = [
    "NOISE_WIDTH_M",
    "SLIVER_MIN_LENGTH_M",
    "TOUCH_M",
    "MetricSpace",
    "and_list",
    "kept_pieces",
    "m",
    "m2",
    "polygonal",
    "sharing",
    "where",
]

# Parts of uncovered or outside pieces thinner than this are artefacts, not gaps: rounding (a
# vertex "on" an edge is off it by ~1e-9 m) and projection (an edge drawn straight in UTM bows
# up to 1 cm from the same edge straight in lon/lat over 1 km, 10 cm over 3 km). Between two
# grids such hairlines still show, as mismatched edges.
NOISE_WIDTH_M = 0.05
# A narrow piece below the minimum area is still reported when it is at least this long: a
# 5 mm strip along a 300 m edge covers 1.5 m², but it is a gap all the same.
SLIVER_MIN_LENGTH_M = 5.0
# Two things closer than this are touching (a vertex "on" an edge, up to rounding).
TOUCH_M = 0.001

# Edges longer than this are cut before they are projected (see MetricSpace.metres).
_SEGMENT_M = 10.0

Geoms = NDArray[np.object_]


@dataclass(frozen=True)
class MetricSpace:
    """Where topology meets measurement.

    Topology (gaps, overlaps, edges) is decided in lon/lat, where the data were drawn: an edge
    is straight in lon/lat, as stored and as every GIS draws it, and is curved in UTM (a 3 km
    edge along a parallel bows about 10 cm), so deciding it in UTM would invent gaps between a
    boundary and the grids along it. Sizes are measured in the metric CRS: pieces are
    transformed there to take their area, length and width. Distances given in metres are
    turned into degrees with ``deg_per_m`` (of longitude at the data's latitude, the larger).
    """

    crs: pyproj.CRS
    forward: pyproj.Transformer
    deg_per_m: float

    @classmethod
    def of(cls, crs: pyproj.CRS, latitude: float) -> MetricSpace:
        scale = 1.0 / (111_320.0 * max(math.cos(math.radians(latitude)), 0.01))
        return cls(crs, pyproj.Transformer.from_crs(4326, crs, always_xy=True), scale)

    def metres(self, geoms: Any) -> Any:
        """Lon/lat geometries (scalar or array) in the metric CRS.

        Edges are first cut every 10 m, so that an edge straight in lon/lat stays (within
        a micrometre) where it was: a sliver a centimetre wide and a kilometre long would
        otherwise turn inside out, its width being what a 1 km edge bows in UTM.
        """
        dense = shapely.segmentize(geoms, _SEGMENT_M * self.deg_per_m)
        return shapely.transform(dense, self.forward.transform, interleaved=False)

    def area(self, geoms: Any) -> Any:
        """Area in m² of lon/lat geometries."""
        return shapely.area(self.metres(geoms))

    def length(self, geoms: Any) -> Any:
        """Length in m of lon/lat geometries (perimeter for polygons)."""
        return shapely.length(self.metres(geoms))

    def degrees(self, metres: float) -> float:
        """A distance in metres as degrees (of longitude: never too short)."""
        return metres * self.deg_per_m


def where(geom: shapely.Geometry | None) -> str:
    """'at lon 106.551234, lat 29.551234': a point on the lon/lat geometry ``geom``."""
    if geom is None or shapely.is_empty(geom):
        return "at an unknown place"
    point = shapely.point_on_surface(geom)
    return f"at lon {shapely.get_x(point):.6f}, lat {shapely.get_y(point):.6f}"


def m2(value: float) -> str:
    """An area for a sentence: '1,234.5 m²'."""
    return f"{value:,.1f} m²" if value >= 0.1 or value == 0 else f"{value:.3g} m²"


def m(value: float) -> str:
    """A length for a sentence: '12.3 m'."""
    return f"{value:,.1f} m" if value >= 0.1 or value == 0 else f"{value:.3g} m"


def and_list(names: Any) -> str:
    """'A', 'A and B', 'A, B and C'."""
    names = [str(n) for n in names]
    if len(names) <= 1:
        return "".join(names)
    return f"{', '.join(names[:-1])} and {names[-1]}"


def polygonal(geoms: Geoms) -> Geoms:
    """The polygonal part of each geometry (intersections also return lines and points)."""
    geoms = np.asarray(geoms, dtype=object)
    kind = shapely.get_type_id(geoms)
    plain = (kind == shapely.GeometryType.POLYGON) | (kind == shapely.GeometryType.MULTIPOLYGON)
    out = geoms.copy()
    for i in np.flatnonzero(~plain & (kind >= 0)):
        parts = shapely.get_parts(geoms[i])
        parts = parts[shapely.get_type_id(parts) == shapely.GeometryType.POLYGON]
        out[i] = shapely.multipolygons(parts) if len(parts) else shapely.Polygon()
    return out


def kept_pieces(
    pieces: Geoms, space: MetricSpace, sliver_width_m: float, min_area_m2: float
) -> tuple[NDArray[np.bool_], NDArray[np.bool_], NDArray[np.float64], NDArray[np.float64]]:
    """Which lon/lat pieces of area (gaps) are reported, which are narrow, their m² and length.

    The rule, in metres: first the parts of a piece thinner than :data:`NOISE_WIDTH_M` are
    dropped as noise (a morphological opening: shrink by half that width, grow back); a piece
    with nothing left is not reported. What is left is reported when its area is at least
    ``min_area_m2``, or when it is narrow and at least :data:`SLIVER_MIN_LENGTH_M` long
    (half its perimeter). Narrow means a negative buffer of half ``sliver_width_m`` leaves
    nothing: no point of it is ``sliver_width_m / 2`` from its edge. The length returned is
    that of the piece without its hairlines.
    """
    metric = space.metres(pieces)
    half = NOISE_WIDTH_M / 2.0
    shrunk = shapely.buffer(metric, -half, quad_segs=1, join_style="mitre")
    solid = ~shapely.is_empty(shrunk)
    opened = shapely.buffer(shrunk, half, quad_segs=1, join_style="mitre")
    area = shapely.area(opened)
    length = shapely.length(opened) / 2.0
    if sliver_width_m > 0:
        narrow = shapely.is_empty(shapely.buffer(metric, -sliver_width_m / 2.0, quad_segs=2))
    else:
        narrow = np.zeros(len(pieces), dtype=bool)
    keep = solid & ((area >= min_area_m2) | (narrow & (length >= SLIVER_MIN_LENGTH_M)))
    return keep, narrow, shapely.area(metric), length


def sharing(
    geom: shapely.Geometry, grids: Geoms, tree: shapely.STRtree, touch: float
) -> NDArray[np.int64]:
    """Positions of the grids that share a stretch of boundary with ``geom`` (lon/lat).

    ``touch`` is the touching distance in degrees. Grids that only touch it at a point are left
    out, unless no grid shares more.
    """
    near = np.sort(tree.query(geom, predicate="dwithin", distance=touch))
    if len(near) <= 1:
        return near.astype(np.int64)
    edge = shapely.boundary(geom)
    shared = shapely.length(shapely.intersection(edge, shapely.buffer(grids[near], touch)))
    along = near[shared > 4 * touch]
    return (along if len(along) else near).astype(np.int64)
