"""What both tile encoders share: the tile grid, the attributes per layer, the zoom range.

Tiles are Web Mercator (EPSG:3857) XYZ tiles, extent 4096 with a 64-unit buffer; each tile has
one MVT layer named as the gridmap layer. Both encoders (PostGIS ST_AsMVT and the Python
encoder on a GeoPackage) put exactly the attributes of :data:`TILE_FIELDS` in it.
"""

from __future__ import annotations

import math

__all__ = [
    "BASE_LAYERS",
    "BUFFER",
    "EXTENT",
    "MAX_ZOOM",
    "MIN_ZOOM",
    "TILE_FIELDS",
    "lonlat_bounds",
    "mercator_bounds",
]

EXTENT = 4096
BUFFER = 64
_HALF = 20037508.342789244  # half the Web Mercator world, metres

# layer → attributes in its tiles (the GeoJSON layer has a few more)
TILE_FIELDS: dict[str, tuple[str, ...]] = {
    "streets": ("code", "name", "short_name"),
    "communities": ("code", "name", "short_name"),
    "grids": ("code", "name", "community_code", "residents", "deviation"),
    "units": ("id", "kind", "name", "community_code"),
    "buildings": ("id", "name", "unit_id", "households", "residents"),
    "roads": ("name", "class"),  # the base map's roads (tiles only: no GeoJSON layer)
    "landcover": ("id", "kind", "name"),  # the base map's water and green areas (tiles only)
}
# Layers drawn only as the base map, read from the store's reference layers, not from
# gridmap.api.features.LAYERS (no GeoJSON or OGC layer of their own).
BASE_LAYERS = ("roads", "landcover")
# Below these zooms a layer's features are a few pixels wide: the tile is empty.
MIN_ZOOM = {
    "streets": 8,
    "communities": 10,
    "grids": 10,
    "units": 13,
    "buildings": 14,
    "roads": 11,
    "landcover": 10,
}
MAX_ZOOM = 20


def mercator_bounds(z: int, x: int, y: int) -> tuple[float, float, float, float]:
    """(minx, miny, maxx, maxy) in metres of XYZ tile z/x/y (y counted from the north).

    Examples
    --------
    >>> mercator_bounds(0, 0, 0)[2]
    20037508.342789244
    """
    size = 2 * _HALF / (1 << z)
    x0 = -_HALF + x * size
    y1 = _HALF - y * size
    return (x0, y1 - size, x0 + size, y1)


def lonlat_bounds(z: int, x: int, y: int) -> tuple[float, float, float, float]:
    """(west, south, east, north) in degrees of tile z/x/y.

    Examples
    --------
    >>> [round(v, 4) for v in lonlat_bounds(14, 13042, 6784)]  # 南坪, Nan'an
    [106.5674, 29.5161, 106.5894, 29.5352]
    """
    n = 1 << z

    def lat(row: int) -> float:
        return math.degrees(math.atan(math.sinh(math.pi * (1 - 2 * row / n))))

    return (x / n * 360 - 180, lat(y + 1), (x + 1) / n * 360 - 180, lat(y))
