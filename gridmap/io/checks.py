"""Checks across layers during an import: they warn, never reject (the data may be right)."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

__all__ = ["community_of", "outside_communities", "overlapping_divisions"]


def outside_communities(features: gpd.GeoSeries, communities: gpd.GeoSeries) -> np.ndarray:
    """Positions of ``features`` that touch no community."""
    if len(features) == 0:
        return np.array([], dtype=int)
    tree = shapely.STRtree(communities.values)
    hit = tree.query(features.values, predicate="intersects")[0]
    return np.setdiff1d(np.arange(len(features)), hit)


def community_of(features: gpd.GeoSeries, communities: gpd.GeoDataFrame) -> pd.Series:
    """Code of the community holding most of each feature (None where none touches it)."""
    result = pd.Series(None, index=features.index, dtype="object")
    if len(features) == 0 or len(communities) == 0:
        return result
    tree = shapely.STRtree(communities.geometry.values)
    left, right = tree.query(features.values, predicate="intersects")
    shared = shapely.area(
        shapely.intersection(features.values[left], communities.geometry.values[right])
    )
    points = shapely.get_type_id(features.values[left]) == shapely.GeometryType.POINT
    shared = np.where(points, 1.0, shared)
    order = np.lexsort((-shared, left))
    first = np.unique(left[order], return_index=True)[1]
    best = order[first]
    result.iloc[left[best]] = communities["code"].to_numpy()[right[best]]
    return result


def overlapping_divisions(
    divisions: gpd.GeoDataFrame, metric, min_area_m2: float
) -> list[tuple[str, str, float, shapely.Geometry]]:
    """Pairs of divisions of the same level that overlap by more than ``min_area_m2``.

    ``metric`` converts lon/lat arrays to metres (for the area). Returns (code, code, m², where).
    """
    out = []
    for _, same in divisions.groupby("level"):
        geoms = same.geometry.values
        tree = shapely.STRtree(geoms)
        left, right = tree.query(geoms, predicate="intersects")
        keep = left < right
        left, right = left[keep], right[keep]
        if not len(left):
            continue
        overlap = shapely.intersection(geoms[left], geoms[right])
        area = shapely.area(shapely.transform(overlap, metric, interleaved=False))
        codes = same["code"].to_numpy()
        for i in np.flatnonzero(area > min_area_m2):
            out.append(
                (
                    codes[left[i]],
                    codes[right[i]],
                    float(area[i]),
                    shapely.point_on_surface(overlap[i]),
                )
            )
    return out
