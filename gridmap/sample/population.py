"""Residents: a target per community, households fitted to it, and the grid staff."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from gridmap.sample.geography import Frame
from gridmap.sample.names import NameMaker

__all__ = [
    "BIG_COMPOUND_RESIDENTS",
    "HPF",
    "PERSONS_PER_HOUSEHOLD",
    "PERSONS_PER_M2",
    "STAFF_COVERS",
    "TOTAL_RESIDENTS",
    "community_targets",
    "fit_households",
    "grids_for",
    "make_staff",
    "rebalance",
]

TOTAL_RESIDENTS = 1_200_000
PERSONS_PER_M2 = 0.025  # the importer's default estimate (Settings.persons_per_m2)
PERSONS_PER_HOUSEHOLD = 2.6
SMALL_COMMUNITY_RESIDENTS = 4500
BIG_COMPOUND_RESIDENTS = 11500
# Households per floor of a residential building: Chongqing's towers put 4 to 16 flats on a
# floor (200-1,500 residents in a tower of 18-33 floors).
HPF = (4.0, 16.0)

_DUTIES = {
    "grid_head": "统筹网格内各项工作，组织网格员开展巡查走访，协调解决群众诉求",
    "police": "社区民警，负责所包网格的治安巡逻、矛盾纠纷排查和安全防范宣传，协助处置警情",
    "city_management": "巡查所包网格的市容环境、违法建设和占道经营，及时劝导并上报问题",
    "floating_population": "登记核查所包网格的流动人口和出租房屋信息，做好服务管理",
    "mediation": "排查化解所包网格的矛盾纠纷，受理群众信访诉求并跟踪办理",
    "safety_fire": "检查所包网格的消防通道、消防设施和安全隐患，开展消防安全宣传",
}


# Community sizes that make whole grids of 3,000 ± 20% with room to spare (a margin for the
# noise of the houses' counts and for coarse compounds): one grid, or two and more. Offices
# draw community lines so that a community makes whole grids; below 2,400 or between 3,600
# and 4,800 residents no number of grids is in band.
_PLANNABLE = ((2700.0, 3300.0), (5400.0, math.inf))


def community_targets(rng: np.random.Generator, frame: Frame) -> tuple[np.ndarray, np.ndarray]:
    """Planned residents of each community, and the (low, high) range it may be moved within.

    Targets avoid the sizes that no whole number of grids fits (_UNPLANNABLE), and each range
    stays on the target's side of them, except for two hard cases for planners: one core 社区
    kept small (about 4,500; its range is that single value) and the smallest village (one
    grid below the band).
    """
    means: list[float] = []
    los: list[float] = []
    his: list[float] = []
    for street in frame.streets:
        for c in street.communities:
            if c.is_village:
                means.append(street.village_mean)
                los.append(1500)
                his.append(4000)
            else:
                means.append(street.shequ_mean)
                los.append(5000 if street.kind in ("core", "newtown") else 3500)
                his.append(15000)
    mean, lo, hi = np.array(means), np.array(los, dtype=float), np.array(his, dtype=float)
    target = np.clip(mean * rng.lognormal(0, 0.22, len(mean)), lo, hi)
    # The small one: the last 社区 of 龙门浩 (old riverside streets), by code order.
    small = max(
        k
        for k, c in enumerate(c for s in frame.streets for c in s.communities)
        if c.code.startswith("500108005")
    )
    comms = [c for s in frame.streets for c in s.communities]
    villages = [k for k, c in enumerate(comms) if c.is_village]
    tiny = min(villages, key=lambda k: (target[k], k)) if villages else -1
    for k in range(len(target)):
        if k != tiny:
            target[k], lo[k], hi[k] = _plannable(target[k], lo[k], hi[k])
    target[small] = lo[small] = hi[small] = SMALL_COMMUNITY_RESIDENTS
    return rebalance(target, lo, hi, TOTAL_RESIDENTS), np.column_stack([lo, hi])


def _plannable(target: float, lo: float, hi: float) -> tuple[float, float, float]:
    """``target`` moved into the nearest plannable size within [lo, hi], and the range
    narrowed to that plannable span.

    Examples
    --------
    >>> _plannable(3800, 3500, 15000), _plannable(1800, 1500, 4000)
    ((5400.0, 5400.0, 15000.0), (2700.0, 2700.0, 3300.0))
    """
    spans = [(max(a, lo), min(b, hi)) for a, b in _PLANNABLE if max(a, lo) <= min(b, hi)]
    if not spans:
        return float(target), lo, hi
    low, high = min(spans, key=lambda s: max(s[0] - target, target - s[1], 0.0))
    return float(np.clip(target, low, high)), float(low), float(high)


def rebalance(target: np.ndarray, lo: np.ndarray, hi: np.ndarray, total: float) -> np.ndarray:
    """Scale ``target`` to sum to ``total``, each value kept within [lo, hi].

    Examples
    --------
    >>> rebalance(np.array([1.0, 1.0]), np.array([0.0, 0.0]), np.array([3.0, 9.0]), 10.0)
    array([3., 7.])
    """
    t = np.clip(target, lo, hi).astype(float)
    for _ in range(30):
        gap = total - t.sum()
        if abs(gap) < 0.5:
            break
        movable = (t < hi) if gap > 0 else (t > lo)
        if not movable.any():
            break
        t[movable] = np.clip(t[movable] * (1 + gap / t[movable].sum()), lo[movable], hi[movable])
    return np.round(t)


def fit_households(
    rng: np.random.Generator,
    community: np.ndarray,
    residential: np.ndarray,
    floors: np.ndarray,
    unit: np.ndarray,
    fixed: np.ndarray,
    target: np.ndarray,
    big_unit_mask: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Households and residents of each residential building (compound buildings).

    ``unit`` is each building's unit (a compound keeps at least one building). ``fixed`` holds
    the residents a community already has outside compounds (houses). In each community,
    households per floor are chosen so that the compounds make up the rest of its target;
    where that would mean fewer than about 7 households a floor, some towers are left out
    (returned with keep False). ``big_unit_mask`` marks the buildings of the compound that
    must hold BIG_COMPOUND_RESIDENTS.

    Where even HPF[1] households a floor are not enough, towers (10 floors or more) are built
    higher, up to 33 floors: ``floors`` is updated in place.

    Returns (households, keep) for every building; households is 0 where not residential.
    """
    n = len(community)
    hh = np.zeros(n, dtype=np.int64)
    keep = np.ones(n, dtype=bool)
    jitter = rng.uniform(0.8, 1.2, n)
    big = residential & big_unit_mask
    if big.any():
        base = BIG_COMPOUND_RESIDENTS / PERSONS_PER_HOUSEHOLD / (floors[big] * jitter[big]).sum()
        hh[big] = np.maximum(1, np.round(floors[big] * jitter[big] * base))
    fixed_by = np.bincount(community, weights=fixed, minlength=len(target))
    big_by = np.bincount(
        community[big], weights=hh[big] * PERSONS_PER_HOUSEHOLD, minlength=len(target)
    )
    free = residential & ~big
    order = np.argsort(community[free], kind="stable")
    idx = np.flatnonzero(free)[order]
    bounds = np.searchsorted(community[idx], np.arange(len(target) + 1))
    for c in range(len(target)):
        mine = idx[bounds[c] : bounds[c + 1]]
        if not len(mine):
            continue
        need = max(target[c] - fixed_by[c] - big_by[c], 0.0) / PERSONS_PER_HOUSEHOLD
        weight = floors[mine] * jitter[mine]
        base = need / weight.sum()
        if base < 7.0:  # too many towers for the people: leave some out, never a whole unit
            units_here = np.unique(unit[mine])
            k = max(len(units_here), int(np.ceil(len(mine) * base / 9.0)))
            # Rank of each building within its unit, so the first of every unit stays.
            o = np.lexsort((rng.random(len(mine)), unit[mine]))
            su = unit[mine][o]
            rank = np.empty(len(mine))
            rank[o] = np.arange(len(mine)) - np.searchsorted(su, su)
            order = np.lexsort((rng.random(len(mine)), rank))
            drop = mine[order[k:]]
            keep[drop] = False
            mine = np.sort(mine[order[:k]])
            weight = floors[mine] * jitter[mine]
            base = need / weight.sum()
        if base > HPF[1]:  # too few floors for the people: build the towers higher
            tower = mine[floors[mine] >= 10]
            floors[tower] = np.minimum(33, np.ceil(floors[tower] * base / HPF[1]))
            weight = floors[mine] * jitter[mine]
            base = need / weight.sum()
        base = float(np.clip(base, *HPF))
        hh[mine] = np.maximum(1, np.round(weight * base))
    return hh, keep


# How many grids one person of a role covers. Every grid has its own head (网格长); the police
# officer and the assistants work for the whole 社区, one of each for up to this many grids.
STAFF_COVERS = {
    "grid_head": 1,
    "police": 4,
    "city_management": 4,
    "floating_population": 3,
    "mediation": 5,
    "safety_fire": 5,
}


def grids_for(residents: float, target: float = 3000.0, tolerance: float = 0.2) -> int:
    """The number of grids a 社区 of ``residents`` makes: round(residents / target), moved by one
    when that count's mean lies outside the band and the next count's does not.

    Examples
    --------
    >>> grids_for(7299), grids_for(13221), grids_for(1500)
    (3, 4, 1)
    """
    k = max(1, round(residents / target))
    if residents / k > target * (1 + tolerance):
        k += 1
    elif (
        k > 1
        and residents / k < target * (1 - tolerance)
        and residents / (k - 1) <= target * (1 + tolerance)
    ):
        k -= 1
    return k


def make_staff(
    residents_by_community: np.ndarray,
    community_codes: list[str],
    roles: dict[str, str],
    names: NameMaker,
    target_per_grid: int = 3000,
) -> pd.DataFrame:
    """Staff of every 社区, as a real one is staffed.

    A 社区 expecting g grids (:func:`grids_for`) has g grid heads and, for every other role,
    ceil(g / STAFF_COVERS[role]) people who share its grids (a role not in STAFF_COVERS: one
    for up to 4 grids). Names and phone numbers are obviously fictitious (张某一,
    023-0000-0001).
    """
    rows: list[dict[str, str]] = []
    for code, residents in zip(community_codes, residents_by_community, strict=True):
        g = grids_for(float(residents), float(target_per_grid))
        for role in roles:
            for _ in range(math.ceil(g / STAFF_COVERS.get(role, 4))):
                k = len(rows) + 1
                rows.append(
                    {
                        "id": f"S{k:05d}",
                        "name": names.staff(),
                        "role": role,
                        "phone_public": f"023-0000-{k:04d}",
                        "phone_private": f"100-0000-{k:04d}",
                        "duties": _DUTIES.get(role, f"负责网格内{roles[role]}相关工作"),
                        "community_code": code,
                    }
                )
    return pd.DataFrame(rows)
