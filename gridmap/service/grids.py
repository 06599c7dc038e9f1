"""One answer to every point-to-grid question: :class:`GridLocator` over a set of grids.

The lookup of the public API, the incident desk, the command line's ``gridmap locate``, search
(which grid holds a building) and publishing (which grid an open incident moves to) all ask
it. It wraps the engine's R-tree index (:class:`gridmap.engine.assign.GridIndex`): the rules of
a point on a shared edge (the smallest code) and of a footprint across a boundary (the grid
holding most of its area) are the engine's, stated once.
"""

from __future__ import annotations

from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from gridmap.engine.assign import GridIndex, Location

__all__ = ["NEAR_M", "GridLocator", "Location", "locate_points"]

NEAR_M = 50.0  # a point closer than this to another grid is "near a boundary"


class GridLocator:
    """An in-memory index of grids (built once) answering where points and footprints are.

    Parameters
    ----------
    grids : GeoDataFrame
        Grid polygons in lon/lat with a unique ``code``; other columns (``community_code``,
        ``name``, ``residents``…) are kept in :attr:`grids`, indexed by code.

    Examples
    --------
    >>> from shapely import box
    >>> grids = gpd.GeoDataFrame(
    ...     {"code": ["500108003002001", "500108003002002"], "community_code": "500108003002"},
    ...     geometry=[box(106.55, 29.55, 106.56, 29.56), box(106.56, 29.55, 106.57, 29.56)],
    ...     crs=4326,
    ... )
    >>> where = GridLocator(grids)
    >>> where.locate_one(106.5599, 29.555).neighbour
    '500108003002002'
    >>> where.grid_codes(shapely.points([106.555, 106.565, 106.9], [29.555, 29.555, 29.555]))
    ['500108003002001', '500108003002002', None]
    """

    def __init__(self, grids: gpd.GeoDataFrame) -> None:
        table = pd.DataFrame(grids.drop(columns=grids.geometry.name))
        self.grids: pd.DataFrame = table.set_index("code", drop=False)
        self.index: GridIndex | None = None
        self._geoms = np.asarray(grids.geometry.array, dtype=object)
        if len(grids):
            self.index = GridIndex(gpd.GeoDataFrame(grids[["code", grids.geometry.name]]))

    def __len__(self) -> int:
        return len(self.grids)

    def locate_one(self, lon: float, lat: float, *, near_m: float = NEAR_M) -> Location | None:
        """Where one lon/lat point is (grid, distance to its edge, neighbour); None without
        grids. A point outside every grid has ``grid`` None and ``nearest`` the closest."""
        if self.index is None:
            return None
        return self.index.locate_one(lon, lat, near_m=near_m)

    def locate(self, points: Any, *, near_m: float = NEAR_M) -> pd.DataFrame:
        """Every point's grid, nearest grid, neighbour and distances (see
        :func:`gridmap.engine.assign.locate`); points without grids get None."""
        if self.index is not None:
            return self.index.locate(points, near_m=near_m)
        n = len(points[0]) if isinstance(points, tuple) else len(points)
        index = points.index if isinstance(points, pd.Series) else pd.RangeIndex(n)
        none = pd.Series([None] * n, index=index, dtype=object)
        nan = pd.Series(np.nan, index=index)
        return pd.DataFrame(
            {
                "grid": none,
                "distance_to_edge_m": nan,
                "nearest": none,
                "neighbour": none,
                "neighbour_distance_m": nan,
            }
        )

    def grid_codes(self, points: Any) -> list[str | None]:
        """The code of the grid holding each point (None outside every grid)."""
        found = self.locate(points, near_m=0.0)["grid"]
        return [None if code is None or pd.isna(code) else str(code) for code in found]

    def assign(self, features: gpd.GeoDataFrame | gpd.GeoSeries) -> list[str | None]:
        """The grid of each feature: a footprint goes to the grid holding most of its area."""
        if self.index is None or not len(features):
            return [None] * len(features)
        found = self.index.assign(features)["grid"]
        return [None if code is None or pd.isna(code) else str(code) for code in found]

    def community_of(self, code: str) -> str:
        """The community of a grid of this locator."""
        return str(self.grids.at[code, "community_code"])

    def inner_points(self) -> tuple[list[str], np.ndarray, np.ndarray]:
        """(codes, lon, lat): a point inside each grid, in the grids' order."""
        points = shapely.point_on_surface(self._geoms)
        codes = [str(c) for c in self.grids["code"]]
        return codes, shapely.get_x(points), shapely.get_y(points)


def locate_points(grids: gpd.GeoDataFrame, points: Any) -> list[str | None]:
    """The code of the grid of ``grids`` holding each point (None outside every grid).

    Parameters
    ----------
    grids : GeoDataFrame
        Grids with a unique ``code``, in lon/lat.
    points : array of shapely Points, GeoSeries, or a (lon, lat) pair of arrays

    Examples
    --------
    >>> from shapely import box
    >>> grids = gpd.GeoDataFrame({"code": ["a", "b"]}, crs=4326,
    ...     geometry=[box(106.55, 29.55, 106.56, 29.56), box(106.56, 29.55, 106.57, 29.56)])
    >>> locate_points(grids, ([106.555, 106.56, 107.0], [29.555, 29.555, 29.555]))
    ['a', 'a', None]
    """
    return GridLocator(grids).grid_codes(points)
