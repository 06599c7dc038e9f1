"""Building names and postal addresses: door numbers along the nearest road, 组 in villages."""

from __future__ import annotations

import numpy as np
import shapely

__all__ = ["address_buildings"]

_LABELS = {
    "school": ("教学楼", "综合楼", "实验楼", "宿舍楼"),
    "hospital": ("门诊楼", "住院楼", "医技楼", "行政楼"),
    "enterprise": ("办公楼", "研发楼", "综合楼"),
    "factory": ("1号厂房", "2号厂房", "3号厂房", "4号厂房", "5号厂房"),
    "office": ("主楼", "副楼"),
    "government": ("办公楼", "综合楼"),
    "committee": ("办公楼",),
    "university": ("第一教学楼", "第二教学楼", "图书馆", "实验楼", "行政楼"),
    "big_hospital": ("门诊楼", "住院楼", "医技楼", "急诊楼", "行政楼", "科研楼"),
    "industrial": ("1号厂房", "2号厂房", "3号厂房", "4号厂房", "5号厂房", "6号厂房"),
}
_PREFIX = "重庆市南岸区"


def _rank(*keys: np.ndarray) -> np.ndarray:
    """0-based rank of each row within its group (keys[0]), ordered by the other keys."""
    order = np.lexsort(tuple(reversed(keys)))
    g = keys[0][order]
    rank = np.empty(len(g), dtype=np.int64)
    rank[order] = np.arange(len(g)) - np.searchsorted(g, g)
    return rank


def _door_numbers(points: np.ndarray, roads: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Nearest road of each point and its door number: odd on the left, even on the right."""
    tree = shapely.STRtree(roads)
    _, road = tree.query_nearest(points, all_matches=False)
    line = roads[road]
    pos = shapely.line_locate_point(line, points)
    a = shapely.line_interpolate_point(line, np.maximum(pos - 1.0, 0.0))
    b = shapely.line_interpolate_point(line, pos + 1.0)
    ax, ay, bx, by = shapely.get_x(a), shapely.get_y(a), shapely.get_x(b), shapely.get_y(b)
    px, py = shapely.get_x(points), shapely.get_y(points)
    right = ((bx - ax) * (py - ay) - (by - ay) * (px - ax)) < 0
    rank = _rank(road * 2 + right, pos)
    return road, 2 * rank + 1 + right


def address_buildings(
    rng, b, group, unit_geoms, units, road_geoms, road_names, frame, comms, street_of_comm
) -> tuple[list, list]:
    """Names and addresses of the buildings ``b`` (arrays as built by generate)."""
    n = len(b["geom"])
    unit = b["unit"]
    template = b["template"]
    named = np.array([nm is not None for nm in road_names])
    roads = road_geoms[named]
    rnames = np.asarray(road_names, dtype=object)[named]
    # Door numbers: one per unit (its gate, the unit's centroid) and per old house or tower
    # standing in the street.
    low = np.flatnonzero(np.isin(template, ("low", "tower")))
    pts = np.concatenate([shapely.centroid(unit_geoms), shapely.centroid(b["geom"][low])])
    road, number = _door_numbers(pts, roads)
    n_units = len(unit_geoms)
    c = shapely.centroid(b["geom"])
    # Buildings of a unit numbered west to east, then north to south.
    within = _rank(np.where(unit >= 0, unit, -1), np.round(-shapely.get_y(c), -1), shapely.get_x(c))
    house = np.flatnonzero(template == "house")
    house_no = np.zeros(n, dtype=np.int64)
    house_no[house] = _rank(b["community"][house] * 100 + group[house], shapely.get_x(c[house]))
    low_pos = np.full(n, -1, dtype=np.int64)
    low_pos[low] = np.arange(len(low))
    names, addresses = [], []
    for i in range(n):
        t = template[i]
        if unit[i] >= 0:
            u = int(unit[i])
            k = int(within[i]) + 1
            if t in ("new", "old"):
                label = f"{k}栋"
            else:
                labels = _LABELS[t]
                label = labels[k - 1] if k <= len(labels) else f"{k}号楼"
            names.append(label)
            addresses.append(f"{_PREFIX}{rnames[road[u]]}{number[u]}号{units.name[u]}{label}")
        elif t in ("low", "tower"):
            j = n_units + int(low_pos[i])
            names.append(f"{number[j]}号")
            addresses.append(f"{_PREFIX}{rnames[road[j]]}{number[j]}号")
        else:
            comm = int(b["community"][i])
            town = frame.streets[int(street_of_comm[comm])].name
            names.append(f"{house_no[i] + 1}号")
            addresses.append(
                f"{_PREFIX}{town}{comms[comm].short_name}{group[i]}组{house_no[i] + 1}号"
            )
    return names, addresses
