"""Grid codes: numbering grids within their community, and keeping codes stable across edits.

Two layouts (pluggable through :data:`SCHEMES`):

- ``db11`` (default, Beijing DB11): the community's 12-digit statistical code + a 3-digit
  sequence, 15 digits: 500108003002001.
- ``cjt349`` (CJ/T 349-2010, 数字社区管理与服务 网格划分与编码规则): 6-digit management or
  service object code (CJ/T 348; a major class ends in 00) + the 12-digit community code
  (county 6, street 3, community 3) + a 2-digit grid sequence, 20 digits.

Both number the grids of a community "from left to right, top to bottom": in rows from north
to south, west to east within a row. A row is a band of the community as tall as a typical
grid (the square root of the median grid area), so slightly staggered grids still read as a
row instead of zig-zagging.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd
import shapely

from gridmap.errors import InputError

__all__ = [
    "SCHEMES",
    "CodeScheme",
    "crosswalk",
    "number_grids",
    "reading_order",
    "stable_codes",
]


@dataclass(frozen=True)
class CodeScheme:
    """How a grid code is made from its community code and its sequence number."""

    name: str
    digits: int
    max_sequence: int
    make: Callable[[str, int], str]
    sequence_of: Callable[[str], int]


def _db11(community: str, seq: int) -> str:
    return f"{community}{seq:03d}"


def _cjt349(community: str, seq: int, service_object: str = "010000") -> str:
    return f"{service_object}{community}{seq:02d}"


SCHEMES: dict[str, CodeScheme] = {
    "db11": CodeScheme("db11", 15, 999, _db11, lambda code: int(code[12:15])),
    "cjt349": CodeScheme("cjt349", 20, 99, _cjt349, lambda code: int(code[18:20])),
}


def reading_order(points: np.ndarray, band: float | None = None) -> np.ndarray:
    """Positions of ``points`` (shapely Points, metric) in north→south rows, west→east within.

    Examples
    --------
    >>> import shapely
    >>> pts = shapely.points([(0, 0), (10, 0), (0, 10), (10, 10.5)])
    >>> reading_order(pts, band=5).tolist()
    [2, 3, 0, 1]
    """
    x, y = shapely.get_x(points), shapely.get_y(points)
    if len(points) == 0:
        return np.array([], dtype=int)
    band = band or 1.0
    row = np.floor((y.max() - y) / band + 0.5)
    return np.lexsort((x, row))


def number_grids(
    grids: pd.DataFrame,
    *,
    community_column: str = "community_code",
    scheme: str = "db11",
    metric: Callable[..., tuple[np.ndarray, np.ndarray]] | None = None,
) -> pd.Series:
    """Fresh codes for ``grids`` (a GeoDataFrame), numbered 1, 2, … in reading order per community.

    ``metric`` converts lon/lat arrays to metres (x, y) for the row bands; without it degrees
    are used, which keeps the order but not the band width.

    Examples
    --------
    >>> import geopandas as gpd, shapely
    >>> g = gpd.GeoDataFrame({"community_code": ["500108003002"] * 3},
    ...     geometry=[shapely.box(0, 0, 1, 1), shapely.box(1, 0, 2, 1), shapely.box(0, 1, 2, 2)])
    >>> number_grids(g).tolist()
    ['500108003002002', '500108003002003', '500108003002001']
    """
    layout = _scheme(scheme)
    codes = pd.Series(None, index=grids.index, dtype="object")
    for community, members in grids.groupby(community_column, sort=True):
        if len(members) > layout.max_sequence:
            raise InputError(
                f"community {community}: {len(members)} grids, but the {layout.name} layout "
                f"numbers at most {layout.max_sequence}"
            )
        points, band = _anchor_points(members.geometry.values, metric)
        order = reading_order(points, band)
        seqs = np.empty(len(members), dtype=int)
        seqs[order] = np.arange(1, len(members) + 1)
        codes.loc[members.index] = [layout.make(str(community), int(s)) for s in seqs]
    return codes


def stable_codes(
    old_codes: pd.Series,
    new_labels: pd.Series,
    weights: pd.Series,
    new_grids: pd.DataFrame,
    *,
    community_column: str = "community_code",
    scheme: str = "db11",
    metric: Callable[..., tuple[np.ndarray, np.ndarray]] | None = None,
) -> pd.Series:
    """Codes for the new grids that keep old codes where the grid kept most of its residents.

    ``old_codes`` and ``new_labels`` map the same units (cells or buildings, same index) to
    the old grid code and the new grid label; ``weights`` are the units' residents.
    ``new_grids`` (indexed by new label) gives each new grid's community and geometry. A new
    grid takes an old grid's code when it holds more than half of that old grid's weight (at
    most one new grid can), and the old code belongs to the same community; the other new grids
    take the next free numbers of their community, in reading order.
    """
    layout = _scheme(scheme)
    table = pd.DataFrame({"old": old_codes, "new": new_labels, "w": weights.astype(float)})
    shared = table.groupby(["old", "new"], dropna=True)["w"].sum().reset_index()
    totals = table.groupby("old")["w"].sum()
    shared["of_old"] = shared["w"] / shared["old"].map(totals).replace(0, np.nan)
    keep = shared[shared["of_old"] > 0.5]
    result = pd.Series(None, index=new_grids.index, dtype="object")
    communities = new_grids[community_column]
    for row in keep.sort_values(["w", "old"], ascending=[False, True]).itertuples():
        if pd.notna(result.get(row.new)):
            continue
        if _in_community(str(row.old), str(communities[row.new]), layout):
            result[row.new] = row.old
    used = set(result.dropna()) | set(old_codes.dropna())
    for community, members in new_grids[result.isna()].groupby(community_column, sort=True):
        points, band = _anchor_points(members.geometry.values, metric)
        order = reading_order(points, band)
        taken = {layout.sequence_of(c) for c in used if _in_community(c, str(community), layout)}
        nxt = max(taken, default=0)
        for position in order:
            nxt += 1
            if nxt > layout.max_sequence:
                raise InputError(f"community {community}: grid numbers exhausted")
            result[members.index[position]] = layout.make(str(community), nxt)
    return result


def crosswalk(old_codes: pd.Series, new_codes: pd.Series, weights: pd.Series) -> pd.DataFrame:
    """Old→new code pairs with the weight (residents) that moved between them.

    Examples
    --------
    >>> old = pd.Series(["A", "A", "B"]); new = pd.Series(["A", "C", "C"])
    >>> crosswalk(old, new, pd.Series([10, 5, 7])).values.tolist()
    [['A', 'A', 10], ['A', 'C', 5], ['B', 'C', 7]]
    """
    table = pd.DataFrame({"old_code": old_codes, "new_code": new_codes, "residents": weights})
    out = table.groupby(["old_code", "new_code"], dropna=False)["residents"].sum().reset_index()
    out["residents"] = out["residents"].astype(int)
    return out


def _scheme(name: str) -> CodeScheme:
    try:
        return SCHEMES[name]
    except KeyError:
        raise InputError(f"grid code scheme {name!r}: choose one of {', '.join(SCHEMES)}") from None


def _in_community(code: str, community: str, layout: CodeScheme) -> bool:
    if layout.name == "cjt349":
        return code[6:18] == community
    return code[:12] == community


def _anchor_points(geoms: np.ndarray, metric) -> tuple[np.ndarray, float]:  # type: ignore[no-untyped-def]
    points = shapely.point_on_surface(geoms)
    areas = shapely.area(geoms)
    if metric is not None:
        points = shapely.transform(points, metric, interleaved=False)
        areas = shapely.area(shapely.transform(geoms, metric, interleaved=False))
    band = float(np.sqrt(np.median(areas))) if len(areas) else 1.0
    return points, band or 1.0
