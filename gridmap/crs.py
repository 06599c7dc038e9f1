"""Coordinate helpers: China's map datums (GCJ-02, BD-09) to WGS-84, and a metric CRS for the data.

Amap and Tencent publish coordinates in GCJ-02, Baidu in BD-09; both are WGS-84 plus a
deterministic offset of a few hundred metres. The forward transforms are the well-known public
formulas. The ways back are exact: they invert the forward transform by fixed-point iteration to
a residual below ``1e-10`` degrees (about 0.01 mm), instead of the common one-step approximation,
which can be a metre or more off.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache
from typing import Any, TypeVar

import geopandas as gpd
import numpy as np
import pyproj
import shapely
from numpy.typing import ArrayLike, NDArray

from gridmap.errors import InputError

__all__ = [
    "DATUMS",
    "bd09_to_gcj02",
    "bd09_to_wgs84",
    "gcj02_to_bd09",
    "gcj02_to_wgs84",
    "lonlat_to",
    "metric_crs",
    "outside_china",
    "to_wgs84",
    "wgs84_to_bd09",
    "wgs84_to_gcj02",
]

DATUMS = ("wgs84", "gcj02", "bd09")

_A = 6378245.0  # semi-major axis of Krasovsky 1940, as the GCJ-02 formula uses it
_EE = 0.00669342162296594323
_X_PI = np.pi * 3000.0 / 180.0
_TOLERANCE = 1e-10  # degrees
_MAX_ITERATIONS = 30

_Coords = tuple[Any, Any]
_Converter = Callable[[ArrayLike, ArrayLike], _Coords]
_Data = TypeVar("_Data")


def _arrays(lon: ArrayLike, lat: ArrayLike) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    a, b = np.broadcast_arrays(np.asarray(lon, dtype=float), np.asarray(lat, dtype=float))
    return a, b


def _out(lon: NDArray[np.float64], lat: NDArray[np.float64]) -> _Coords:
    # a 0-d input gives numpy scalars back, anything else arrays of the broadcast shape
    return lon[()], lat[()]


def outside_china(lon: ArrayLike, lat: ArrayLike) -> Any:
    """Whether points lie outside the rough bounding box where GCJ-02 applies.

    The box (lon 72.004–137.8347, lat 0.8293–55.8271) is the test every public implementation
    uses; the forward transform leaves points outside it unchanged. NaN counts as outside.

    Examples
    --------
    >>> outside_china([106.6, 2.35], [29.5, 48.85])
    array([False,  True])
    """
    lon, lat = _arrays(lon, lat)
    inside = (lon >= 72.004) & (lon <= 137.8347) & (lat >= 0.8293) & (lat <= 55.8271)
    return (~inside)[()]


def _gcj02_offset(lon: NDArray[np.float64], lat: NDArray[np.float64]) -> _Coords:
    """The GCJ-02 shift, in degrees, of WGS-84 points (the public transformlat/lon polynomials)."""
    x, y = lon - 105.0, lat - 35.0
    wave = (20.0 * np.sin(6.0 * x * np.pi) + 20.0 * np.sin(2.0 * x * np.pi)) * 2.0 / 3.0
    dlat = -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * np.sqrt(np.abs(x))
    dlat += wave + (20.0 * np.sin(y * np.pi) + 40.0 * np.sin(y / 3.0 * np.pi)) * 2.0 / 3.0
    dlat += (160.0 * np.sin(y / 12.0 * np.pi) + 320.0 * np.sin(y * np.pi / 30.0)) * 2.0 / 3.0
    dlon = 300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * np.sqrt(np.abs(x))
    dlon += wave + (20.0 * np.sin(x * np.pi) + 40.0 * np.sin(x / 3.0 * np.pi)) * 2.0 / 3.0
    dlon += (150.0 * np.sin(x / 12.0 * np.pi) + 300.0 * np.sin(x / 30.0 * np.pi)) * 2.0 / 3.0
    radlat = lat / 180.0 * np.pi
    magic = 1.0 - _EE * np.sin(radlat) ** 2
    sqrtmagic = np.sqrt(magic)
    dlat = dlat * 180.0 / (_A * (1.0 - _EE) / (magic * sqrtmagic) * np.pi)
    dlon = dlon * 180.0 / (_A / sqrtmagic * np.cos(radlat) * np.pi)
    return dlon, dlat


def _invert(forward: _Converter, lon: ArrayLike, lat: ArrayLike, start: _Coords) -> _Coords:
    """Solve ``forward(x) == (lon, lat)`` by fixed-point iteration from ``start``.

    The offsets change by about 1e-3 degree per degree, so each step gains three digits; the
    loop stops once every finite residual is below ``_TOLERANCE``, or after ``_MAX_ITERATIONS``
    (only reached on the edge of the China box, where the forward transform jumps).
    """
    target_lon, target_lat = _arrays(lon, lat)
    x, y = _arrays(*start)
    for _ in range(_MAX_ITERATIONS):
        fx, fy = _arrays(*forward(x, y))
        rx, ry = fx - target_lon, fy - target_lat
        residual = np.fmax(np.abs(rx), np.abs(ry))
        if not np.any(residual >= _TOLERANCE):  # NaN residuals (NaN input) never block
            break
        x, y = x - rx, y - ry
    return _out(x, y)


def wgs84_to_gcj02(lon: ArrayLike, lat: ArrayLike) -> _Coords:
    """Convert WGS-84 lon/lat to GCJ-02 (Amap, Tencent); points outside China are unchanged.

    Examples
    --------
    >>> lon, lat = wgs84_to_gcj02([116.404, 2.35], [39.915, 48.85])
    >>> lon.round(8).tolist(), lat.round(8).tolist()
    ([116.4102445, 2.35], [39.91640428, 48.85])
    """
    lon, lat = _arrays(lon, lat)
    dlon, dlat = _gcj02_offset(lon, lat)
    outside = outside_china(lon, lat)
    return _out(np.where(outside, lon, lon + dlon), np.where(outside, lat, lat + dlat))


def gcj02_to_wgs84(lon: ArrayLike, lat: ArrayLike) -> _Coords:
    """Convert GCJ-02 lon/lat to WGS-84 exactly (residual below 1e-10 degrees).

    Examples
    --------
    >>> lon, lat = gcj02_to_wgs84(116.41024449916938, 39.91640428150164)
    >>> print(f"{lon:.9f} {lat:.9f}")
    116.404000000 39.915000000
    """
    return _invert(wgs84_to_gcj02, lon, lat, start=_arrays(lon, lat))


def gcj02_to_bd09(lon: ArrayLike, lat: ArrayLike) -> _Coords:
    """Convert GCJ-02 lon/lat to BD-09 (Baidu), with Baidu's published formula.

    Examples
    --------
    >>> lon, lat = gcj02_to_bd09(116.404, 39.915)
    >>> print(f"{lon:.8f} {lat:.8f}")
    116.41036949 39.92133699
    """
    x, y = _arrays(lon, lat)
    z = np.hypot(x, y) + 0.00002 * np.sin(y * _X_PI)
    theta = np.arctan2(y, x) + 0.000003 * np.cos(x * _X_PI)
    return _out(z * np.cos(theta) + 0.0065, z * np.sin(theta) + 0.006)


def _bd09_to_gcj02_approx(lon: ArrayLike, lat: ArrayLike) -> _Coords:
    x, y = _arrays(lon, lat)
    x, y = x - 0.0065, y - 0.006
    z = np.hypot(x, y) - 0.00002 * np.sin(y * _X_PI)
    theta = np.arctan2(y, x) - 0.000003 * np.cos(x * _X_PI)
    return z * np.cos(theta), z * np.sin(theta)


def bd09_to_gcj02(lon: ArrayLike, lat: ArrayLike) -> _Coords:
    """Convert BD-09 lon/lat to GCJ-02 exactly, iterating on :func:`gcj02_to_bd09`.

    Examples
    --------
    >>> lon, lat = bd09_to_gcj02(*gcj02_to_bd09(116.404, 39.915))
    >>> print(f"{lon:.9f} {lat:.9f}")
    116.404000000 39.915000000
    """
    return _invert(gcj02_to_bd09, lon, lat, start=_bd09_to_gcj02_approx(lon, lat))


def bd09_to_wgs84(lon: ArrayLike, lat: ArrayLike) -> _Coords:
    """Convert BD-09 lon/lat to WGS-84 (via GCJ-02, both steps exact).

    Examples
    --------
    >>> lon, lat = bd09_to_wgs84(*wgs84_to_bd09(106.55, 29.56))
    >>> print(f"{lon:.9f} {lat:.9f}")
    106.550000000 29.560000000
    """
    return gcj02_to_wgs84(*bd09_to_gcj02(lon, lat))


def wgs84_to_bd09(lon: ArrayLike, lat: ArrayLike) -> _Coords:
    """Convert WGS-84 lon/lat to BD-09 (via GCJ-02).

    Examples
    --------
    >>> lon, lat = wgs84_to_bd09(106.55, 29.56)
    >>> bool(outside_china(106.55, 29.56)), bool(lon > 106.55)
    (False, True)
    """
    return gcj02_to_bd09(*wgs84_to_gcj02(lon, lat))


_TO_WGS84: dict[str, _Converter | None] = {
    "wgs84": None,
    "gcj02": gcj02_to_wgs84,
    "bd09": bd09_to_wgs84,
}


def to_wgs84(data: _Data, datum: str) -> _Data:
    """Convert every coordinate of geometries given in ``datum`` to WGS-84.

    Parameters
    ----------
    data : shapely.Geometry, array of geometries, GeoSeries or GeoDataFrame
        Lon/lat coordinates (EPSG:4326 axis order), as the map provider published them.
        Every geometry column of a GeoDataFrame is converted; Z values are kept.
    datum : {"wgs84", "gcj02", "bd09"}
        The datum the coordinates are in. ``"wgs84"`` returns the data unchanged (a copy for
        GeoSeries and GeoDataFrame).

    Returns
    -------
    The same type as ``data``, with the same index and CRS.

    Raises
    ------
    InputError
        ``datum`` is not one of :data:`DATUMS`, or a geometry column has a projected CRS.

    Examples
    --------
    >>> from shapely import Point, to_wkt
    >>> to_wkt(to_wgs84(Point(116.41024449916938, 39.91640428150164), "gcj02"), 9)
    'POINT (116.404 39.915)'
    """
    key = str(datum).lower().replace("-", "").replace("_", "")
    if key not in _TO_WGS84:
        raise InputError(f"datum={datum!r} is not known; use one of {', '.join(DATUMS)}")
    convert = _TO_WGS84[key]
    if isinstance(data, gpd.GeoDataFrame):
        out = data.copy()
        for column in data.columns[data.dtypes == "geometry"]:
            out[column] = _convert_series(data[column], convert, f"column {column!r}")
        return out
    if isinstance(data, gpd.GeoSeries):
        return _convert_series(data, convert, "the GeoSeries")  # type: ignore[return-value]
    return _convert_geometries(data, convert)  # type: ignore[no-any-return]


def _convert_series(series: gpd.GeoSeries, convert: _Converter | None, name: str) -> gpd.GeoSeries:
    if series.crs is not None and not series.crs.is_geographic:
        raise InputError(
            f"to_wgs84 needs lon/lat coordinates (EPSG:4326); {name} is in {series.crs.to_string()}"
        )
    values = _convert_geometries(np.asarray(series.array), convert)
    return gpd.GeoSeries(values, index=series.index, crs=series.crs, name=series.name)


def _convert_geometries(geoms: Any, convert: _Converter | None) -> Any:
    if convert is None:
        return geoms

    def apply(x: NDArray[np.float64], y: NDArray[np.float64], *z: NDArray[np.float64]):
        lon, lat = convert(x, y)
        return (np.asarray(lon), np.asarray(lat), *z)  # Z, where there is one, is kept

    # include_z=None keeps 2D geometries 2D and 3D ones 3D
    return shapely.transform(geoms, apply, include_z=None, interleaved=False)


def metric_crs(bounds_or_geoms: Any, epsg: int | None = None) -> pyproj.CRS:
    """A metric CRS for measuring the data: the configured EPSG code, else a WGS-84 UTM zone.

    Parameters
    ----------
    bounds_or_geoms : (minx, miny, maxx, maxy), geometries, GeoSeries or GeoDataFrame
        Lon/lat bounds or geometries; a GeoSeries/GeoDataFrame in another CRS is reprojected.
    epsg : int, optional
        The configured EPSG code; it must name a projected CRS in metres.

    Returns
    -------
    pyproj.CRS
        ``epsg`` if given, else the UTM zone (north or south) holding the centre of the data.

    Examples
    --------
    >>> metric_crs((106.4, 29.3, 106.8, 29.7)).to_epsg()  # Chongqing
    32648
    >>> metric_crs((-43.3, -23.0, -43.1, -22.8)).to_epsg()  # Rio de Janeiro
    32723
    >>> metric_crs(None, epsg=4547).name
    'CGCS2000 / 3-degree Gauss-Kruger CM 114E'
    """
    if epsg is not None:
        try:
            crs = pyproj.CRS.from_epsg(epsg)
        except (pyproj.exceptions.CRSError, TypeError, ValueError) as exc:
            raise InputError(f"epsg={epsg!r} is not a known EPSG code") from exc
        if not crs.is_projected or crs.axis_info[0].unit_name != "metre":
            raise InputError(f"epsg={epsg!r} ({crs.name}) is not a projected CRS in metres")
        return crs
    lon, lat = _centre_lonlat(bounds_or_geoms)
    zone = min(int((lon + 180.0) // 6.0) + 1, 60)
    return pyproj.CRS.from_epsg((32600 if lat >= 0 else 32700) + zone)


def _centre_lonlat(data: Any) -> tuple[float, float]:
    crs = None
    if isinstance(data, gpd.GeoDataFrame | gpd.GeoSeries):
        bounds, crs = data.total_bounds, data.crs
    elif isinstance(data, shapely.Geometry):
        bounds = shapely.total_bounds(data)
    else:
        raw = np.asarray(data, dtype=object)
        if raw.shape == (4,) and all(isinstance(v, int | float | np.number) for v in raw):
            bounds = raw.astype(float)
        else:
            bounds = shapely.total_bounds(raw)
    if not np.all(np.isfinite(bounds)):
        raise InputError("metric_crs: the data has no coordinates (empty geometries?)")
    lon, lat = (bounds[0] + bounds[2]) / 2.0, (bounds[1] + bounds[3]) / 2.0
    if crs is not None and not crs.is_geographic:
        lon, lat = pyproj.Transformer.from_crs(crs, 4326, always_xy=True).transform(lon, lat)
    if not (-180.0 <= lon <= 180.0 and -90.0 <= lat <= 90.0):
        raise InputError(
            f"metric_crs: centre ({lon:g}, {lat:g}) is not lon/lat; "
            "give lon/lat bounds or data with a CRS"
        )
    return float(lon), float(lat)


def lonlat_to(crs: pyproj.CRS | int | str) -> Callable[..., tuple[Any, ...]]:
    """A function ``f(x, y) -> (x, y)`` from lon/lat (EPSG:4326) to ``crs``, for
    ``shapely.transform(..., interleaved=False)``.

    Examples
    --------
    >>> import shapely
    >>> to_utm = lonlat_to(32648)
    >>> round(shapely.transform(shapely.Point(105, 0), to_utm, interleaved=False).x)
    500000
    """
    to_crs = transformer(4326, crs)
    return lambda x, y: to_crs.transform(x, y)


def transformer(
    source: pyproj.CRS | int | str, target: pyproj.CRS | int | str
) -> pyproj.Transformer:
    """The (x, y) transformer from ``source`` to ``target`` (anything :class:`pyproj.CRS`
    takes), made once per process and pair: making one takes milliseconds, about as long as
    projecting a community's buildings, and pyproj's transformers are thread-safe.

    Examples
    --------
    >>> transformer(4326, 32648) is transformer(pyproj.CRS.from_epsg(4326), "EPSG:32648")
    True
    """
    return _transformer_between(_crs_key(source), _crs_key(target))


def _crs_key(crs: pyproj.CRS | int | str) -> str:
    found = crs if isinstance(crs, pyproj.CRS) else pyproj.CRS.from_user_input(crs)
    return found.srs or found.to_wkt()


@lru_cache(maxsize=64)
def _transformer_between(source: str, target: str) -> pyproj.Transformer:
    return pyproj.Transformer.from_crs(source, target, always_xy=True)
