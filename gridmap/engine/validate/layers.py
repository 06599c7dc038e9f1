"""Checks of the grids against the other layers: communities, units, buildings, weights.

Part of :mod:`gridmap.engine.validate.check`. One rule for "lies in": a feature is in a grid (or a
grid in a community) when their shared area exceeds ``min_area_m2``; it is split when it is in
two or more.
"""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import shapely
from numpy.typing import NDArray

from gridmap.engine.validate.report import CoverageIssue
from gridmap.engine.validate.space import (
    NOISE_WIDTH_M,
    TOUCH_M,
    MetricSpace,
    and_list,
    m2,
    polygonal,
    where,
)
from gridmap.engine.validate.topology import GridSet

__all__ = ["check_buildings", "check_communities", "check_units", "check_weight"]

_POLYGONAL = (shapely.GeometryType.POLYGON, shapely.GeometryType.MULTIPOLYGON)


def _shares(
    features: NDArray[np.object_],
    containers: NDArray[np.object_],
    left: NDArray[np.intp],
    right: NDArray[np.intp],
    space: MetricSpace,
) -> NDArray[np.float64]:
    """m² of features[left] ∩ containers[right]; inf where the container holds all of it.

    Most pairs are "wholly inside" or merely touching, which ``covers`` settles without an
    overlay; a feature wholly inside one container has nothing in any other.
    """
    area = np.zeros(len(left))
    if not len(left):
        return area
    shapely.prepare(containers[np.unique(right)])  # covers then tests against prepared shapes
    whole = shapely.covers(containers[right], features[left])
    area[whole] = np.inf
    settled = np.zeros(int(left.max()) + 1, dtype=bool)
    settled[left[whole]] = True
    rest = np.flatnonzero(~whole & ~settled[left])
    shared = shapely.intersection(features[left[rest]], containers[right[rest]])
    area[rest] = space.area(shared)
    # A small share may be a hairline where two edges bow apart (straight in metres is not
    # straight in lon/lat): what is thinner than NOISE_WIDTH_M counts nothing, as for gaps.
    small = np.flatnonzero((area[rest] > 0) & (area[rest] < 100.0))
    if len(small):
        half = NOISE_WIDTH_M / 2.0
        metric = space.metres(shared[small])
        opened = shapely.buffer(
            shapely.buffer(metric, -half, quad_segs=1, join_style="mitre"),
            half,
            quad_segs=1,
            join_style="mitre",
        )
        area[rest[small]] = shapely.area(opened)
    return area


def _pairs(
    features: NDArray[np.object_],
    which: NDArray[np.bool_],
    grids: NDArray[np.object_],
    predicate: str,
    distance: float | None = None,
) -> tuple[NDArray[np.intp], NDArray[np.intp]]:
    """(feature, grid) position pairs for the features in ``which``, sorted by feature."""
    chosen = np.flatnonzero(which)
    if not len(chosen):
        return chosen, chosen
    gi, fi = shapely.STRtree(features[chosen]).query(grids, predicate=predicate, distance=distance)
    order = np.lexsort((gi, fi))
    return chosen[fi[order]], gi[order]


def _split(
    left: NDArray[np.intp], right: NDArray[np.intp], area: NDArray[np.float64], min_area_m2: float
) -> dict[int, list[tuple[int, float]]]:
    """For each left item in two or more right items (share > min_area_m2): [(right, share)]."""
    keep = area > min_area_m2
    left, right, area = left[keep], right[keep], area[keep]
    order = np.lexsort((-area, left))
    left, right, area = left[order], right[order], area[order]
    out: dict[int, list[tuple[int, float]]] = {}
    starts = np.flatnonzero(np.r_[True, left[1:] != left[:-1]]).tolist() if len(left) else []
    for s, e in itertools.pairwise([*starts, len(left)] if starts else []):
        if e - s >= 2:
            out[int(left[s])] = [(int(right[i]), float(area[i])) for i in range(s, e)]
    return out


def check_communities(
    grids: GridSet,
    codes: NDArray[np.object_],
    communities: NDArray[np.object_],
    declared: NDArray[np.object_],
    space: MetricSpace,
    min_area_m2: float,
) -> tuple[list[CoverageIssue], NDArray[np.object_]]:
    """crosses_community issues, and the community holding most of each grid (by row).

    A grid's home is first guessed as the community holding a point inside it; when no more
    than ``min_area_m2`` of the grid lies outside it, that is settled with one overlay. The
    grids left are measured against every community they touch.
    """
    main = np.full(len(grids.codes), None, dtype=object)
    tree = shapely.STRtree(communities)
    shapely.prepare(communities)
    home = np.full(len(grids.geoms), -1, dtype=np.int64)
    pg, pc = tree.query(shapely.point_on_surface(grids.geoms), predicate="within")
    home[pg] = pc
    guessed = np.flatnonzero(home >= 0)
    outside = polygonal(shapely.difference(grids.geoms[guessed], communities[home[guessed]]))
    settled = guessed[space.area(outside) <= min_area_m2]
    main[grids.rows[settled]] = codes[home[settled]]
    rest = np.setdiff1d(np.arange(len(grids.geoms)), settled)
    gi, ci = tree.query(grids.geoms[rest], predicate="intersects")
    gi = rest[gi]
    area = _shares(grids.geoms, communities, gi, ci, space)
    best = np.lexsort((-area, gi))
    first = best[np.unique(gi[best], return_index=True)[1]]
    hit = first[area[first] > 0]
    main[grids.rows[gi[hit]]] = codes[ci[hit]]
    issues = []
    for g, shares in _split(gi, ci, area, min_area_m2).items():
        row = grids.rows[g]
        names = [str(codes[c]) for c, _ in shares]
        named = str(declared[row]) if declared[row] in names else names[0]
        at = names.index(named)
        away = sum(a for i, (_, a) in enumerate(shares) if i != at)
        elsewhere = shapely.difference(grids.geoms[g], communities[shares[at][0]])
        elsewhere = polygonal(np.array([elsewhere]))[0]
        listed = and_list(f"{name} ({m2(a)})" for name, (_, a) in zip(names, shares, strict=True))
        issues.append(
            CoverageIssue(
                "crosses_community",
                (grids.code(g),),
                f"Grid {grids.code(g)} lies in {len(shares)} communities: {listed}; "
                f"its part outside {named} is {where(elsewhere)}.",
                elsewhere,
                away,
                tuple(names),
            )
        )
    return issues, main


def check_units(
    grids: GridSet,
    ids: NDArray[np.object_],
    names: NDArray[np.object_],
    units: NDArray[np.object_],
    space: MetricSpace,
    min_area_m2: float,
) -> list[CoverageIssue]:
    """split_unit: a compound or social unit divided between grids."""
    ui, gi = _pairs(units, np.ones(len(units), dtype=bool), grids.geoms, "intersects")
    area = _shares(units, grids.geoms, ui, gi, space)
    issues = []
    for u, shares in _split(ui, gi, area, min_area_m2).items():
        codes = [grids.code(g) for g, _ in shares]
        listed = and_list(f"{code} ({m2(a)})" for code, (_, a) in zip(codes, shares, strict=True))
        name = f" ({names[u]})" if isinstance(names[u], str) and names[u] else ""
        issues.append(
            CoverageIssue(
                "split_unit",
                tuple(sorted(codes)),
                f"Unit {ids[u]}{name} is divided between grids {listed} {where(units[u])}; "
                "a unit is kept whole.",
                units[u],
                sum(a for _, a in shares[1:]),
                (str(ids[u]),),
            )
        )
    return issues


def check_buildings(
    grids: GridSet,
    ids: NDArray[np.object_],
    buildings: NDArray[np.object_],
    space: MetricSpace,
    min_area_m2: float,
) -> list[CoverageIssue]:
    """unassigned_building and building_in_two_grids.

    A footprint is in a grid when they share more than ``min_area_m2``; a point (or a line)
    when it lies within 1 mm of the grid, so a point on a shared edge is in both grids.
    """
    present = ~(shapely.is_missing(buildings) | shapely.is_empty(buildings))
    poly = np.isin(shapely.get_type_id(buildings), _POLYGONAL) & present
    other = ~poly & present
    # Each grid queries a tree of the buildings: a grid is prepared once for many buildings.
    pi, pg = _pairs(buildings, poly, grids.geoms, "intersects")
    oi, og = _pairs(buildings, other, grids.geoms, "dwithin", space.degrees(TOUCH_M))
    touched = np.zeros(len(ids), dtype=bool)
    touched[pi] = touched[oi] = True
    issues = [
        CoverageIssue(
            "unassigned_building",
            (),
            f"Building {ids[b]} lies in no grid {where(buildings[b])}.",
            buildings[b],
            related=(str(ids[b]),),
        )
        for b in np.flatnonzero(present & ~touched)
    ]
    split = _split(pi, pg, _shares(buildings, grids.geoms, pi, pg, space), min_area_m2)
    split |= _split(oi, og, np.ones(len(oi)), 0.0)
    for b, shares in sorted(split.items()):
        codes = [grids.code(g) for g, _ in shares]
        if poly[b]:
            listed = and_list(f"{c} ({m2(a)})" for c, (_, a) in zip(codes, shares, strict=True))
            detail = f"Building {ids[b]} is split between grids {listed}"
            minor = sum(a for _, a in shares[1:])
        else:
            listed = and_list(sorted(codes))
            detail = f"Building {ids[b]} (a point) lies on the edge of grids {listed}"
            minor = 0.0
        issues.append(
            CoverageIssue(
                "building_in_two_grids",
                tuple(sorted(codes)),
                f"{detail} {where(buildings[b])}.",
                buildings[b],
                minor,
                (str(ids[b]),),
            )
        )
    return issues


def check_weight(
    codes: NDArray[np.object_],
    lonlat: NDArray[np.object_],
    weights: NDArray[np.float64],
    community_of: NDArray[np.object_],
    target: float,
    tolerance: float,
    weight: str,
) -> list[CoverageIssue]:
    """The weight band: per grid, then per community.

    Per grid (warnings): ``over_target`` / ``under_target`` outside ``target × (1 ± tolerance)``;
    ``far_out_of_band`` outside twice that deviation (``target × (1 ± 2·tolerance)``, 1,800 and
    4,200 at 3,000 ± 20%), unless the grid is its community's only one (a community lighter or
    heavier than a grid has no choice).

    Per community: a community whose total weight calls for ``n = max(1, round(total /
    target))`` grids but has more than ``n + 1``, and whose grids are below the band on average
    (mean < ``target × (1 - tolerance)``), is ``too_many_grids`` (a warning); with ``2n`` grids
    or more it is ``fragmented_community``, an error. One spare grid is allowed (a river or a
    main road may force it), and a large community of grids inside the band is not flagged for
    rounding. 5,000 residents in 10 grids at a target of 3,000 (n = 2, mean 500) is
    fragmented: the inconsistency found in practice, which no partition by the band makes.
    """
    high, low = target * (1 + tolerance), target * (1 - tolerance)
    far_high, far_low = target * (1 + 2 * tolerance), target * (1 - 2 * tolerance)
    known = np.flatnonzero(pd.notna(community_of))
    names, group = np.unique(community_of[known].astype(str), return_inverse=True)
    count = np.bincount(group, minlength=len(names))
    alone = np.zeros(len(codes), dtype=bool)  # the only grid of its community
    alone[known] = count[group] == 1
    issues = []
    for row in np.flatnonzero(np.isfinite(weights)):
        value = float(weights[row])
        if low <= value <= high:
            continue
        kind, word, bound = ("over_target", "above", high) if value > high else (
            "under_target", "below", low)  # fmt: skip
        if not alone[row] and not far_low <= value <= far_high:
            kind, bound = "far_out_of_band", far_high if value > high else far_low
            word = f"{word} even"
        place = where(lonlat[row])
        issues.append(
            CoverageIssue(
                kind,
                (str(codes[row]),),
                f"Grid {codes[row]} has {value:,.0f} {weight}, {word} {bound:,.0f} "
                f"(target {target:,.0f} ± {tolerance:.0%}) {place}.",
                lonlat[row],
                value,
            )
        )
    if not len(known):
        return issues
    finite = np.isfinite(weights[known])
    total = np.bincount(group[finite], weights[known][finite], minlength=len(names))
    weighed = np.bincount(group[finite], minlength=len(names)) > 0
    needed = np.maximum(1, np.floor(total / target + 0.5))
    crowded = weighed & (count > needed + 1) & (total / count < low)
    for k in np.flatnonzero(crowded):
        rows = known[group == k]
        shown = lonlat[rows][~(shapely.is_missing(lonlat[rows]) | shapely.is_empty(lonlat[rows]))]
        geometry = shapely.geometrycollections(shown) if len(shown) else None
        n, need = int(count[k]), int(needed[k])
        fragmented = n >= 2 * need
        issues.append(
            CoverageIssue(
                "fragmented_community" if fragmented else "too_many_grids",
                tuple(sorted(str(c) for c in codes[rows])),
                f"Community {names[k]} has {total[k]:,.0f} {weight} in {n} grids "
                f"({total[k] / n:,.0f} per grid); at the target of {target:,.0f} it needs "
                f"about {need}{': it is cut into pieces' if fragmented else ''}, "
                f"{where(geometry)}.",
                geometry,
                float(n - need),
                (str(names[k]),),
            )
        )
    return issues
