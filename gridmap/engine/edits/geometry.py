"""Drawn shapes against cells: the two sides of a drawn line, the share of a drawn polygon.

Private helpers of :mod:`gridmap.engine.edits.operations`; every geometry here is metric.

Sides of a line. Testing each cell's representative point against the nearest segment is
fragile: beyond the line's ends and near its vertices the "side" flips with the point's
position, and a cell cut in two by the line is decided by one point. Instead the line is
extended straight past both ends to well outside a frame around the cells and the line, and
the frame is split in two by it (:func:`shapely.ops.split`): for a line that does not cross
itself this gives exactly two regions, its left and its right, whatever the line's shape or
how often it crosses the grid. Each cell then has an exact share of its area on the left.
"""

from __future__ import annotations

import numpy as np
import shapely
from numpy.typing import NDArray
from shapely.ops import split

from gridmap.engine.edits.plan import Problem

__all__ = ["left_share", "share_inside"]


def left_share(
    line: shapely.LineString, geoms: NDArray[np.object_]
) -> tuple[NDArray[np.float64] | None, Problem | None]:
    """Fraction of each polygon's area left of ``line`` (extended straight past its ends).

    Returns the fractions, or None and the problem when the line cannot split the plane in two.

    Examples
    --------
    >>> cells = np.array([shapely.box(0, 0, 1, 1), shapely.box(1, 0, 2, 1)])
    >>> share, _ = left_share(shapely.LineString([(1.5, 0.2), (1.5, 0.8)]), cells)
    >>> share.round(3).tolist()
    [1.0, 0.5]
    """
    coords = _distinct(np.asarray(shapely.get_coordinates(line)))
    if len(coords) < 2:
        return None, ("bad_line", "the line has fewer than two distinct points")
    bounds = shapely.total_bounds(np.concatenate([geoms, [line]]))
    diagonal = float(np.hypot(bounds[2] - bounds[0], bounds[3] - bounds[1])) or 1.0
    margin = 0.1 * diagonal + 1.0
    frame = shapely.box(
        bounds[0] - margin, bounds[1] - margin, bounds[2] + margin, bounds[3] + margin
    )
    reach = 4.0 * diagonal + 4.0 * margin
    start = coords[0] + reach * _unit(coords[0] - coords[1])
    end = coords[-1] + reach * _unit(coords[-1] - coords[-2])
    extended = shapely.LineString(np.vstack([start, coords, end]))
    if not extended.is_simple:
        return None, (
            "bad_line",
            "the line, extended straight past its ends, crosses itself; draw it without loops",
        )
    pieces = shapely.get_parts(split(frame, extended))
    if len(pieces) != 2:
        return None, ("bad_line", f"the line cuts the area into {len(pieces)} parts, not 2")
    left = _left_piece(coords, pieces)
    area = shapely.area(geoms)
    inside = shapely.area(shapely.intersection(geoms, left))
    return np.where(area > 0, inside / np.where(area > 0, area, 1.0), 0.0), None


def share_inside(polygon: shapely.Geometry, geoms: NDArray[np.object_]) -> NDArray[np.float64]:
    """Area of each of ``geoms`` inside ``polygon``, in the geoms' units.

    Examples
    --------
    >>> cells = np.array([shapely.box(0, 0, 1, 1), shapely.box(1, 0, 2, 1)])
    >>> share_inside(shapely.box(0.5, 0, 2, 1), cells).tolist()
    [0.5, 1.0]
    """
    shapely.prepare(polygon)
    out = np.zeros(len(geoms))
    hit = shapely.intersects(polygon, geoms)
    out[hit] = shapely.area(shapely.intersection(geoms[hit], polygon))
    return out


def _distinct(coords: NDArray[np.float64]) -> NDArray[np.float64]:
    """Coordinates without consecutive repeats (a double click draws a zero-length segment)."""
    if len(coords) < 2:
        return coords
    keep = np.r_[True, np.any(np.diff(coords[:, :2], axis=0) != 0, axis=1)]
    return coords[keep][:, :2]


def _unit(vector: NDArray[np.float64]) -> NDArray[np.float64]:
    return vector / float(np.hypot(*vector))


def _left_piece(coords: NDArray[np.float64], pieces: NDArray[np.object_]) -> shapely.Geometry:
    """The piece on the left of the first segment (drawing direction)."""
    a, b = coords[0], coords[1]
    direction = _unit(b - a)
    length = float(np.hypot(*(b - a)))
    normal = np.array([-direction[1], direction[0]])
    probe = shapely.Point(*((a + b) / 2 + normal * min(1e-3 * length, 0.01)))
    distance = shapely.distance(pieces, probe)
    return pieces[int(np.argmin(distance))]
