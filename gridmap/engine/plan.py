"""A plan: every cell of the canvas assigned to one grid. Grids are derived, never edited raw.

Because cells tile each community exactly, any assignment of cells gives grids that cover the
community with no gap and no overlap; what a plan can get wrong is only balance, contiguity
and shape, which :func:`grid_table` measures.
"""

from __future__ import annotations

from collections.abc import Callable

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

__all__ = ["CELL_COLUMNS", "dissolve_grids", "grid_table"]

# The columns a plan's cells carry (index: cell_id); `grid` is the assignment.
CELL_COLUMNS = ("community_code", "atom_id", "residents", "households", "grid")


def dissolve_grids(cells: gpd.GeoDataFrame, grid_column: str = "grid") -> gpd.GeoDataFrame:
    """One row per grid: code, community_code, residents, households, cells, geometry.

    Cells of a grid form a coverage, so GEOS's coverage union (fast, exact on shared edges)
    dissolves them.

    Examples
    --------
    >>> cells = gpd.GeoDataFrame({"community_code": ["c"] * 3, "residents": [1, 2, 3],
    ...     "households": [1, 1, 1], "grid": ["g1", "g1", "g2"]},
    ...     geometry=[shapely.box(0, 0, 1, 1), shapely.box(1, 0, 2, 1), shapely.box(2, 0, 3, 1)])
    >>> grids = dissolve_grids(cells)
    >>> grids[["code", "residents", "cells"]].values.tolist(), grids.geometry.iloc[0].area
    ([['g1', 3, 2], ['g2', 3, 1]], 2.0)
    """
    groups = cells.groupby(grid_column, sort=True)
    geoms = [shapely.coverage_union_all(part.geometry.values) for _, part in groups]
    table = groups.agg(
        community_code=("community_code", "first"),
        residents=("residents", "sum"),
        households=("households", "sum"),
        cells=("community_code", "size"),
    )
    table.index.name = "code"
    out = gpd.GeoDataFrame(table.reset_index(), geometry=geoms, crs=cells.crs)
    for column in ("residents", "households", "cells"):
        out[column] = out[column].astype("Int64")
    return out


def grid_table(
    grids: gpd.GeoDataFrame,
    metric: Callable[..., tuple[np.ndarray, np.ndarray]],
    target: float,
    weight: str = "residents",
) -> pd.DataFrame:
    """Per grid: weight, deviation from target, Polsby-Popper compactness, parts.

    ``metric`` converts lon/lat arrays to metres.
    """
    projected = shapely.transform(grids.geometry.values, metric, interleaved=False)
    area = shapely.area(projected)
    perimeter = shapely.length(projected)
    with np.errstate(divide="ignore", invalid="ignore"):
        compactness = np.where(perimeter > 0, 4 * np.pi * area / perimeter**2, 0.0)
    values = grids[weight].astype(float).to_numpy()
    return pd.DataFrame(
        {
            "code": grids["code"].to_numpy(),
            "community_code": grids["community_code"].to_numpy(),
            weight: values,
            "deviation": values / target - 1,
            "compactness": compactness,
            "area_m2": area,
            "parts": shapely.get_num_geometries(projected),
        },
        index=grids.index,
    )
