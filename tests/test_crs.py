"""gridmap.crs against reference pairs published by other projects, and round trips."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pyproj
import pytest
import shapely
from hypothesis import given, settings
from hypothesis import strategies as st
from shapely.geometry import LineString, MultiPolygon, Point, Polygon

from gridmap.crs import (
    DATUMS,
    bd09_to_gcj02,
    bd09_to_wgs84,
    gcj02_to_bd09,
    gcj02_to_wgs84,
    metric_crs,
    outside_china,
    to_wgs84,
    wgs84_to_bd09,
    wgs84_to_gcj02,
)
from gridmap.errors import InputError

GEOD = pyproj.Geod(ellps="WGS84")

# Sources of the published pairs (all lon, lat; reordered where the source writes lat first):
#   [coordtransform] wandergis/coordtransform, test/app.js ("//result" block, input 116.404, 39.915)
#   [eviltransform]  googollee/eviltransform, python/test.py, TESTS
#   [gcoord]         hujiulong/gcoord, test/fixtures/china-cities.json (7 decimals, ~1 cm).
#                    Its WGS84 column sits a steady 0.65-0.69 m from the formula (its GCJ02/BD09
#                    pairs agree to 1 cm): within the 1 m bound, not within a much tighter one.

# (wgs84 lon, lat, gcj02 lon, lat)
WGS_GCJ = {
    "coordtransform 116.404,39.915": (116.404, 39.915, 116.41024449916938, 39.91640428150164),
    "eviltransform shanghai": (121.5272106, 31.1774276, 121.531541859215, 31.17530398364597),
    "eviltransform shenzhen": (113.912316, 22.543847, 113.9171764808363, 22.540796131694766),
    "eviltransform beijing": (116.377817, 39.911954, 116.38404722455657, 39.91334545536069),
    "gcoord 郑州市": (113.6192856, 34.7478004, 113.6253334, 34.7466173),
    "gcoord 沈阳市": (123.4253306, 41.8032629, 123.4314787, 41.8057023),
    "gcoord 那曲地区": (92.0499619, 31.4784436, 92.0512438, 31.4762063),
    "gcoord 酒泉市": (98.4937175, 39.7319946, 98.4943595, 39.7328234),
    "gcoord 钦州市": (108.6503952, 21.9828281, 108.6541485, 21.9799392),
    "gcoord 锡林郭勒盟": (116.0414035, 43.9312805, 116.0482308, 43.9334573),
    "gcoord 泸州市": (105.4386655, 28.8748404, 105.4422659, 28.871815),
}

# (gcj02 lon, lat, bd09 lon, lat)
GCJ_BD = {
    # coordtransform gcj02tobd09(116.404, 39.915)
    "coordtransform gcj02tobd09": (116.404, 39.915, 116.41036949371029, 39.92133699351021),
    # coordtransform bd09togcj02(116.404, 39.915): its one-step inverse, within 1 m of ours
    "coordtransform bd09togcj02": (116.39762729119315, 39.90865673957631, 116.404, 39.915),
    "gcoord 郑州市": (113.6253334, 34.7466173, 113.6317519, 34.7528605),
    "gcoord 那曲地区": (92.0512438, 31.4762063, 92.0576832, 31.4824421),
    "gcoord 钦州市": (108.6541485, 21.9799392, 108.6607283, 21.9856319),
    "gcoord 锡林郭勒盟": (116.0482308, 43.9334573, 116.0546232, 43.9397782),
}

# (bd09 lon, lat, wgs84 lon, lat)
# Not used: eviltransform's TESTS_bd. They were written against an old bd2gcj that multiplied by
# pi instead of x_pi (python/eviltransform.py at 40db2ed) and sit 10 m and 41 m from the formula.
BD_WGS = {
    "gcoord 郑州市": (113.6317519, 34.7528605, 113.6192856, 34.7478004),
    "gcoord 沈阳市": (123.438095, 41.8114013, 123.4253306, 41.8032629),
    "gcoord 那曲地区": (92.0576832, 31.4824421, 92.0499619, 31.4784436),
    "gcoord 酒泉市": (98.5008441, 39.7388949, 98.4937175, 39.7319946),
    "gcoord 泸州市": (105.4487888, 28.8776874, 105.4386655, 28.8748404),
}

INDEX = [10, 3, 7, 42]  # not a RangeIndex, so a lost index shows
OUTSIDE = [(2.3522, 48.8566), (-74.006, 40.7128), (151.2093, -33.8688), (0.0, 0.0), (140.0, 36.0)]


def metres(lon1, lat1, lon2, lat2) -> np.ndarray:
    """Geodesic distance on WGS-84, in metres."""
    lon1, lat1, lon2, lat2 = np.broadcast_arrays(lon1, lat1, lon2, lat2)
    return np.asarray(GEOD.inv(lon1, lat1, lon2, lat2)[2])


def as_table(pairs: dict) -> tuple[np.ndarray, ...]:
    return tuple(np.array(list(pairs.values())).T)


@pytest.mark.parametrize(("wlon", "wlat", "glon", "glat"), WGS_GCJ.values(), ids=WGS_GCJ.keys())
def test_wgs84_gcj02_published_pairs(wlon, wlat, glon, glat):
    assert metres(*wgs84_to_gcj02(wlon, wlat), glon, glat) < 1.0
    assert metres(*gcj02_to_wgs84(glon, glat), wlon, wlat) < 1.0


@pytest.mark.parametrize(("glon", "glat", "blon", "blat"), GCJ_BD.values(), ids=GCJ_BD.keys())
def test_gcj02_bd09_published_pairs(glon, glat, blon, blat):
    assert metres(*gcj02_to_bd09(glon, glat), blon, blat) < 1.0
    assert metres(*bd09_to_gcj02(blon, blat), glon, glat) < 1.0


@pytest.mark.parametrize(("blon", "blat", "wlon", "wlat"), BD_WGS.values(), ids=BD_WGS.keys())
def test_bd09_wgs84_published_pairs(blon, blat, wlon, wlat):
    assert metres(*bd09_to_wgs84(blon, blat), wlon, wlat) < 1.0
    assert metres(*wgs84_to_bd09(wlon, wlat), blon, blat) < 1.0


def test_forward_formulas_match_coordtransform_to_the_last_digits():
    # same published formulas, so the same doubles up to rounding
    np.testing.assert_allclose(
        wgs84_to_gcj02(116.404, 39.915), (116.41024449916938, 39.91640428150164), rtol=0, atol=1e-12
    )
    np.testing.assert_allclose(
        gcj02_to_bd09(116.404, 39.915), (116.41036949371029, 39.92133699351021), rtol=0, atol=1e-12
    )


def test_gcj02_to_wgs84_is_exact_not_the_one_step_approximation():
    # coordtransform's gcj02towgs84(116.404, 39.915) is the one-step approximation
    approx = (116.39775550083061, 39.91359571849836)
    exact = gcj02_to_wgs84(116.404, 39.915)
    assert 0.01 < metres(*exact, *approx) < 1.0
    assert metres(*wgs84_to_gcj02(*exact), 116.404, 39.915) < 1e-4
    # and the published forward pair inverts to its input to the floating-point noise
    assert metres(*gcj02_to_wgs84(116.41024449916938, 39.91640428150164), 116.404, 39.915) < 1e-4


def test_vectorized_over_all_pairs_at_once():
    wlon, wlat, glon, glat = as_table(WGS_GCJ)
    lon, lat = gcj02_to_wgs84(glon, glat)
    assert lon.shape == wlon.shape
    assert metres(lon, lat, wlon, wlat).max() < 1.0
    blon, blat, wlon, wlat = as_table(BD_WGS)
    assert metres(*bd09_to_wgs84(blon, blat), wlon, wlat).max() < 1.0


def test_shapes_scalars_and_nan():
    lon, lat = wgs84_to_gcj02(106.55, 29.56)
    assert isinstance(lon, np.floating) and isinstance(lat, np.floating)
    grid_lon, grid_lat = np.meshgrid(np.linspace(106, 107, 4), np.linspace(29, 30, 3))
    lon, lat = gcj02_to_wgs84(grid_lon, grid_lat)
    assert lon.shape == lat.shape == (3, 4)
    lon, lat = gcj02_to_wgs84([106.55, np.nan], [29.56, 29.56])
    assert np.isfinite(lon[0]) and np.isnan(lon[1])
    assert wgs84_to_gcj02([], [])[0].shape == (0,)


china_points = st.lists(
    st.tuples(
        st.floats(72.1, 137.7, allow_nan=False, allow_infinity=False),
        st.floats(0.9, 55.7, allow_nan=False, allow_infinity=False),
    ),
    min_size=1,
    max_size=200,
)


@settings(max_examples=200, deadline=None)
@given(china_points)
def test_round_trips_inside_china(points):
    lon, lat = np.array(points).T
    assert not outside_china(lon, lat).any()
    # the residual bound of 1e-10 degrees is about 1e-5 m; typically it is far smaller
    assert metres(*gcj02_to_wgs84(*wgs84_to_gcj02(lon, lat)), lon, lat).max() < 2e-5
    assert metres(*bd09_to_wgs84(*wgs84_to_bd09(lon, lat)), lon, lat).max() < 2e-5
    assert metres(*bd09_to_gcj02(*gcj02_to_bd09(lon, lat)), lon, lat).max() < 2e-5


def test_outside_china_is_untouched():
    lon, lat = np.array(OUTSIDE).T
    assert outside_china(lon, lat).all()
    assert not outside_china(106.55, 29.56)
    for convert in (wgs84_to_gcj02, gcj02_to_wgs84):
        out_lon, out_lat = convert(lon, lat)
        np.testing.assert_array_equal(out_lon, lon)
        np.testing.assert_array_equal(out_lat, lat)


def chongqing_frame() -> gpd.GeoDataFrame:
    shell = [(106.5, 29.5), (106.6, 29.5), (106.6, 29.6), (106.5, 29.6)]
    hole = [(106.52, 29.52), (106.54, 29.52), (106.54, 29.54), (106.52, 29.54)]
    geoms = [
        Polygon(shell, [hole]),
        MultiPolygon(
            [shapely.box(106.6, 29.5, 106.61, 29.51), shapely.box(106.62, 29.5, 106.63, 29.51)]
        ),
        Point(106.57, 29.56),
        LineString([(106.5, 29.5), (106.55, 29.55), (106.6, 29.52)]),
    ]
    return gpd.GeoDataFrame(
        {
            "name": ["南湖社区", "弹子石", "点", "线"],
            "centre": gpd.GeoSeries(geoms).centroid.values,
        },
        geometry=geoms,
        index=INDEX,
        crs="EPSG:4326",
    )


@pytest.mark.parametrize(
    ("datum", "convert"), [("gcj02", gcj02_to_wgs84), ("BD-09", bd09_to_wgs84)]
)
def test_to_wgs84_geodataframe_keeps_index_crs_and_types(datum, convert):
    gdf = chongqing_frame()
    before = gdf.copy()
    out = to_wgs84(gdf, datum)
    assert type(out) is gpd.GeoDataFrame
    assert list(out.index) == INDEX
    assert out.crs == gdf.crs and out["centre"].crs == gdf["centre"].crs
    assert out.geometry.name == "geometry"
    assert list(out.geom_type) == ["Polygon", "MultiPolygon", "Point", "LineString"]
    assert len(out.geometry.iloc[0].interiors) == 1
    assert list(out["name"]) == list(gdf["name"])
    for column in ("geometry", "centre"):
        coords = shapely.get_coordinates(np.asarray(gdf[column].array))
        expected = np.column_stack(convert(coords[:, 0], coords[:, 1]))
        np.testing.assert_allclose(shapely.get_coordinates(np.asarray(out[column].array)), expected)
    assert gdf.equals(before)  # the input is not modified


def test_to_wgs84_geoseries_geometry_and_array():
    gs = chongqing_frame().geometry.rename("g")
    out = to_wgs84(gs, "gcj02")
    assert type(out) is gpd.GeoSeries
    assert out.name == "g" and list(out.index) == INDEX and out.crs == gs.crs
    point = to_wgs84(Point(106.57, 29.56, 250.0), "gcj02")
    assert isinstance(point, Point) and point.z == 250.0
    assert metres(point.x, point.y, *gcj02_to_wgs84(106.57, 29.56)) < 1e-6
    arr = to_wgs84(np.asarray(gs.array), "bd09")
    assert isinstance(arr, np.ndarray) and list(shapely.get_type_id(arr)) == [3, 6, 0, 1]


def test_to_wgs84_wgs84_is_a_copy():
    gdf = chongqing_frame()
    out = to_wgs84(gdf, "wgs84")
    assert out is not gdf and out.geom_equals_exact(gdf, tolerance=0).all()


def test_to_wgs84_rejects_unknown_datum_and_projected_data():
    with pytest.raises(InputError, match=r"datum='cgcs2000'.*wgs84, gcj02, bd09"):
        to_wgs84(Point(106.5, 29.5), "cgcs2000")
    assert DATUMS == ("wgs84", "gcj02", "bd09")
    with pytest.raises(InputError, match="EPSG:32648"):
        to_wgs84(chongqing_frame().to_crs(32648), "gcj02")


@pytest.mark.parametrize(
    ("data", "epsg"),
    [
        ((106.4, 29.3, 106.8, 29.7), 32648),  # Chongqing
        ([106.6, 29.5, 106.6, 29.5], 32648),
        (Point(121.47, 31.23), 32651),  # Shanghai
        ((-43.3, -23.0, -43.1, -22.8), 32723),  # Rio de Janeiro
        ((179.5, 10.0, 180.0, 10.5), 32660),
    ],
)
def test_metric_crs_utm_zone(data, epsg):
    assert metric_crs(data).to_epsg() == epsg


def test_metric_crs_from_frames_and_configured_epsg():
    gdf = chongqing_frame()
    assert metric_crs(gdf).to_epsg() == 32648
    assert metric_crs(gdf.to_crs(3857)).to_epsg() == 32648
    assert metric_crs(gdf, epsg=4547).to_epsg() == 4547
    with pytest.raises(InputError, match="epsg=4326"):
        metric_crs(gdf, epsg=4326)
    with pytest.raises(InputError, match="no coordinates"):
        metric_crs(gpd.GeoSeries([Point()], crs=4326))
    with pytest.raises(InputError, match="not lon/lat"):
        metric_crs((500000.0, 3200000.0, 510000.0, 3210000.0))
