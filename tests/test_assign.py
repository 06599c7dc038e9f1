"""Assigning buildings to grids and locating points (gridmap.engine.assign), on box() grids."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
import pytest
import shapely
from hypothesis import given, settings
from hypothesis import strategies as st
from shapely import MultiPolygon, Point, box

from gridmap.engine import assign as assign_module
from gridmap.engine.assign import GridIndex, Location, assign_buildings, locate
from gridmap.errors import DuplicateIdError, InputError

# Two 10×10 grids side by side, coded so that the smallest code is NOT the first row:
#   y=10 +-------+-------+
#        |  "B"  |  "A"  |
#   y=0  +-------+-------+
#        x=0    x=10    x=20
ROW = gpd.GeoDataFrame({"code": ["B", "A"]}, geometry=[box(0, 0, 10, 10), box(10, 0, 20, 10)])

# A 3×3 tiling of 100 m boxes in UTM 48N (Chongqing), codes "r{row}c{col}" (row 0 at the top).
X0, Y0, SIDE = 660_000.0, 3_270_000.0, 100.0
TILES = gpd.GeoDataFrame(
    {"code": [f"r{2 - r}c{c}" for r in range(3) for c in range(3)]},
    geometry=[
        box(X0 + c * SIDE, Y0 + r * SIDE, X0 + (c + 1) * SIDE, Y0 + (r + 1) * SIDE)
        for r in range(3)
        for c in range(3)
    ],
    crs=32648,
)

# Two lon/lat grids in Chongqing, 0.01° × 0.01° (about 968 m × 1,112 m), sharing lon 106.56.
LON0, LAT0 = 106.55, 29.55
CHONGQING = gpd.GeoDataFrame(
    {"code": ["500108001001001", "500108001001002"]},
    geometry=[
        box(LON0, LAT0, LON0 + 0.01, LAT0 + 0.01),
        box(LON0 + 0.01, LAT0, LON0 + 0.02, 29.56),
    ],
    crs=4326,
)
GEOD = pyproj.Geod(ellps="WGS84")


def _one(geometry, grids=ROW) -> pd.Series:  # type: ignore[no-untyped-def]
    return assign_buildings(gpd.GeoDataFrame(geometry=[geometry], crs=grids.crs), grids).iloc[0]


# -- assign_buildings -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("footprint", "grid", "share", "touched"),
    [
        (box(2, 2, 4, 4), "B", 1.0, 1),  # wholly inside
        (box(8, 1, 11, 2), "B", 2 / 3, 2),  # straddles, most in B
        (box(9, 1, 12, 2), "A", 2 / 3, 2),  # straddles, most in A
        (box(9, 1, 11, 2), "A", 0.5, 2),  # a tie: the smallest code
        (box(0, 0, 10, 10), "B", 1.0, 1),  # the grid itself (touches A along an edge only)
        (box(9, 9, 10, 10), "B", 1.0, 1),  # inside, on the boundary
        (box(-1, 1, 2, 2), "B", 2 / 3, 1),  # partly outside every grid
        (box(-1, 1, 21, 2), "A", 10 / 22, 2),  # across both and out on both sides: a tie
        (MultiPolygon([box(1, 1, 2, 2), box(12, 1, 15, 2)]), "A", 0.75, 2),
        (MultiPolygon([box(1, 1, 2, 2), box(3, 3, 4, 4)]), "B", 1.0, 1),
        (box(30, 0, 31, 1), None, 0.0, 0),  # in no grid
    ],
)
def test_footprint_goes_to_the_grid_holding_most_of_it(footprint, grid, share, touched) -> None:  # type: ignore[no-untyped-def]
    row = _one(footprint)
    assert row["grid"] == grid
    assert row["share"] == pytest.approx(share, abs=1e-12)
    assert row["grids_touched"] == touched
    assert row["straddles"] == (touched > 1)


@pytest.mark.parametrize(
    ("point", "grid", "touched"),
    [
        (Point(5, 5), "B", 1),
        (Point(15, 5), "A", 1),
        (Point(10, 5), "A", 2),  # on the shared edge: the smallest code, every time
        (Point(10, 10), "A", 2),  # a shared corner
        (Point(0, 5), "B", 1),  # on the outer boundary
        (Point(25, 5), None, 0),
        (Point(), None, 0),  # empty
        (None, None, 0),  # missing
    ],
)
def test_point_goes_to_the_grid_holding_it(point, grid, touched) -> None:  # type: ignore[no-untyped-def]
    row = _one(point)
    assert row["grid"] == grid
    assert row["share"] == (1.0 if grid else 0.0)
    assert row["grids_touched"] == touched


def test_corner_of_four_grids_goes_to_the_smallest_code() -> None:
    codes = ["r0c1", "r1c0", "r1c2", "r0c0"]
    grids = TILES[TILES["code"].isin(codes)].iloc[::-1]
    corner = Point(X0 + SIDE, Y0 + 2 * SIDE)  # shared by r0c0, r0c1, r1c0, r1c1
    assert _one(corner, grids)["grid"] == "r0c0"
    assert _one(corner, TILES)["grids_touched"] == 4


def test_overlapping_grids_tie_on_a_building_inside_both() -> None:
    grids = gpd.GeoDataFrame({"code": ["2", "1"]}, geometry=[box(0, 0, 10, 10), box(5, 0, 15, 10)])
    row = _one(box(6, 1, 7, 2), grids)
    assert (row["grid"], row["share"], row["grids_touched"]) == ("1", 1.0, 2)


def test_index_is_kept_and_inputs_untouched() -> None:
    buildings = gpd.GeoDataFrame(
        {"name": ["甲", "乙", "丙", "丁"]},
        geometry=[box(1, 1, 2, 2), Point(15, 5), box(8, 1, 11, 2), Point(50, 50)],
        index=pd.Index(["b-9", "b-2", "b-2", "x"], name="id"),  # strings, one repeated
    )
    before, grids_before = buildings.copy(), ROW.copy()
    out = assign_buildings(buildings, ROW)
    pd.testing.assert_index_equal(out.index, buildings.index)
    assert out["grid"].tolist() == ["B", "A", "B", None]
    assert list(out.columns) == ["grid", "share", "grids_touched", "straddles"]
    assert out.dtypes.astype(str).tolist() == ["object", "float64", "int64", "bool"]
    pd.testing.assert_frame_equal(buildings, before)
    pd.testing.assert_frame_equal(ROW, grids_before)
    assert not shapely.is_prepared(ROW.geometry.array).any()


def test_crs_mismatch_names_both() -> None:
    buildings = gpd.GeoDataFrame(geometry=[Point(106.55, 29.55)], crs=4326)
    with pytest.raises(InputError, match=r"EPSG:4326.*EPSG:32648"):
        assign_buildings(buildings, TILES)
    with pytest.raises(InputError, match=r"no CRS.*EPSG:32648"):
        assign_buildings(buildings.set_crs(None, allow_override=True), TILES)


@pytest.mark.parametrize(
    ("grids", "error", "match"),
    [
        (ROW.rename(columns={"code": "id"}), InputError, "no column 'code'"),
        (ROW.assign(code=["A", "A"]), DuplicateIdError, "duplicate code: A"),
        (ROW.assign(code=["A", None]), InputError, "empty in rows"),
        (pd.DataFrame({"code": ["A"]}), InputError, "must be a GeoDataFrame"),
    ],
)
def test_bad_grids_are_refused(grids, error, match) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(error, match=match):
        assign_buildings(gpd.GeoDataFrame(geometry=[Point(1, 1)]), grids)


def test_empty_inputs() -> None:
    none = gpd.GeoDataFrame(geometry=[], crs=32648)
    out = assign_buildings(none, TILES)
    assert out.empty and list(out.columns) == ["grid", "share", "grids_touched", "straddles"]
    buildings = gpd.GeoDataFrame(geometry=[Point(X0 + 1, Y0 + 1), box(X0, Y0, X0 + 5, Y0 + 5)])
    out = assign_buildings(buildings.set_crs(32648), TILES.iloc[:0])
    assert out["grid"].tolist() == [None, None] and out["share"].tolist() == [0.0, 0.0]
    located = locate(gpd.GeoSeries([Point(X0, Y0)], crs=32648), TILES.iloc[:0])
    assert located["grid"].tolist() == [None] and np.isnan(located["distance_to_edge_m"][0])
    assert locate(gpd.GeoSeries([], crs=32648), TILES).empty


def test_thread_chunks_give_the_same_answer(monkeypatch: pytest.MonkeyPatch) -> None:
    rng = np.random.default_rng(0)
    x, y = rng.uniform(X0 - 20, X0 + 320, 400), rng.uniform(Y0 - 20, Y0 + 320, 400)
    points = gpd.GeoSeries.from_xy(x, y, crs=32648)
    footprints = points.buffer(15, quad_segs=2)
    serial = GridIndex(TILES, workers=1)
    expected = [serial.assign(points), serial.assign(footprints), serial.locate(points)]
    monkeypatch.setattr(assign_module, "_CHUNK", 7)  # every bulk step now runs in 3 threads
    monkeypatch.setattr(assign_module, "_MANY", 7)  # … with prepared copies of the grids
    monkeypatch.setattr(assign_module, "_BLOCK", 5)  # … and points looked up 5 at a time
    threaded = GridIndex(TILES, workers=3)
    got = [threaded.assign(points), threaded.assign(footprints), threaded.locate(points)]
    for a, b in zip(expected, got, strict=True):
        pd.testing.assert_frame_equal(a, b)


# -- locate -----------------------------------------------------------------------------------


def _analytic(x: float, y: float, near_m: float = 50.0) -> tuple[str | None, float, str | None]:
    """The box of TILES holding (x, y) (smallest code on edges), the distance to its edge, and
    the nearest other box within near_m."""
    boxes = [(f"r{2 - r}c{c}", X0 + c * SIDE, Y0 + r * SIDE) for r in range(3) for c in range(3)]
    inside = [
        (code, min(x - x0, x0 + SIDE - x, y - y0, y0 + SIDE - y))
        for code, x0, y0 in boxes
        if x0 <= x <= x0 + SIDE and y0 <= y <= y0 + SIDE
    ]
    grid, edge = min(inside) if inside else (None, np.nan)
    away = {
        code: np.hypot(max(x0 - x, 0, x - x0 - SIDE), max(y0 - y, 0, y - y0 - SIDE))
        for code, x0, y0 in boxes
        if code != grid
    }
    low = min(away.values())  # equal within 1e-9 m (the documented tie): the smallest code
    tied = [code for code, d in away.items() if d <= low + 1e-9 * max(1.0, low)]
    neighbour = min(tied) if low <= near_m else None
    return grid, edge, neighbour


coordinate = st.floats(0, 3 * SIDE, allow_nan=False) | st.sampled_from([0.0, 50.0, 100.0, 200.0])


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(coordinate, coordinate), min_size=1, max_size=30))
def test_random_points_get_their_box_and_the_distance_to_its_edge(offsets) -> None:  # type: ignore[no-untyped-def]
    x = np.array([X0 + dx for dx, _ in offsets])
    y = np.array([Y0 + dy for _, dy in offsets])
    out = locate(gpd.GeoSeries.from_xy(x, y, crs=32648), TILES)
    for (_, row), xi, yi in zip(out.iterrows(), x, y, strict=True):
        grid, edge, neighbour = _analytic(xi, yi)
        assert row["grid"] == grid
        assert row["distance_to_edge_m"] == pytest.approx(edge, abs=1e-6)
        assert row["neighbour"] == neighbour


@pytest.mark.parametrize(
    ("dx", "dy", "near_m", "grid", "nearest", "neighbour", "gap"),
    [
        (150, 151, 50, "r1c1", "r1c1", "r0c1", 49.0),  # 49 m below the top row
        (150, 151, 48.9, "r1c1", "r1c1", None, np.nan),  # … which is beyond 48.9 m
        (160, 150, 50, "r1c1", "r1c1", "r1c2", 40.0),
        (160, 150, 39.99, "r1c1", "r1c1", None, np.nan),
        (150, 150, 50, "r1c1", "r1c1", "r0c1", 50.0),  # four at exactly 50 m: smallest code
        (100, 150, 50, "r1c0", "r1c0", "r1c1", 0.0),  # on an edge: the other grid at 0 m
        (-10, 150, 50, None, "r1c0", None, np.nan),  # outside: r0c0 and r2c0 are 51 m away
        (-10, 150, 60, None, "r1c0", "r0c0", np.hypot(10, 50)),
    ],
)
def test_neighbour_within_near_m(dx, dy, near_m, grid, nearest, neighbour, gap) -> None:  # type: ignore[no-untyped-def]
    points = gpd.GeoSeries.from_xy([X0 + dx], [Y0 + dy], crs=32648)
    row = locate(points, TILES, near_m=near_m).iloc[0]
    assert (row["grid"], row["nearest"], row["neighbour"]) == (grid, nearest, neighbour)
    np.testing.assert_allclose(row["neighbour_distance_m"], gap, atol=1e-9)


def test_outside_point_measures_to_the_nearest_grid() -> None:
    row = locate(gpd.GeoSeries.from_xy([X0 + 330], [Y0 + 340], crs=32648), TILES).iloc[0]
    assert row["grid"] is None and row["nearest"] == "r0c2"
    assert row["distance_to_edge_m"] == pytest.approx(50.0)


def test_chongqing_lonlat_distances_match_the_ellipsoid() -> None:
    # Near the shared meridian 106.56, well inside each grid, and west of both grids.
    lon = np.array([106.5597, 106.5575, 106.5603, 106.5499])
    lat = np.array([29.5505, 29.5520, 29.5590, 29.5550])
    out = locate((lon, lat), CHONGQING)
    first, second = CHONGQING["code"]
    assert out["grid"].tolist() == [first, first, second, None]
    assert out["nearest"].tolist() == [first, first, second, first]

    along = np.full(4, 1.0)
    meridian = np.asarray(GEOD.inv(lon, lat, 106.56 * along, lat)[2])
    west = np.asarray(GEOD.inv(lon, lat, 106.55 * along, lat)[2])
    south = np.asarray(GEOD.inv(lon, lat, lon, 29.55 * along)[2])
    north = np.asarray(GEOD.inv(lon, lat, lon, 29.56 * along)[2])
    edges = np.column_stack([meridian, south, north])  # the nearest edges of these points
    expected = [edges[0].min(), edges[1].min(), edges[2].min(), west[3]]
    np.testing.assert_allclose(out["distance_to_edge_m"], expected, atol=0.5)
    assert out["neighbour"].tolist() == [second, None, first, None]
    np.testing.assert_allclose(out["neighbour_distance_m"][[0, 2]], meridian[[0, 2]], atol=0.5)
    assert 20 < meridian[0] < 50 and 20 < meridian[2] < 50 and meridian[1] > 200


@pytest.mark.parametrize(
    "points",
    [
        pytest.param(([106.5597, 106.5650], [29.5505, 29.5550]), id="lon-lat arrays"),
        pytest.param([Point(106.5597, 29.5505), Point(106.565, 29.555)], id="list of points"),
        pytest.param(
            gpd.GeoSeries([Point(106.5597, 29.5505), Point(106.565, 29.555)], crs=4326),
            id="GeoSeries",
        ),
        pytest.param(
            gpd.GeoSeries([Point(106.5597, 29.5505), Point(106.565, 29.555)], crs=4326).to_crs(
                32648
            ),
            id="GeoSeries in UTM",
        ),
    ],
)
def test_point_inputs(points) -> None:  # type: ignore[no-untyped-def]
    out = locate(points, CHONGQING)
    assert out["grid"].tolist() == ["500108001001001", "500108001001002"]
    index = GridIndex(CHONGQING)
    lonlats = [(106.5597, 29.5505), (106.565, 29.555)]
    for (_, row), lonlat in zip(out.iterrows(), lonlats, strict=True):
        one = index.locate_one(*lonlat)
        assert isinstance(one, Location)
        assert one.grid == row["grid"] and one.neighbour == row["neighbour"]
        assert one.distance_to_edge_m == pytest.approx(row["distance_to_edge_m"], abs=1e-6)


def test_locate_keeps_the_index_and_reports_missing_points() -> None:
    points = gpd.GeoSeries(
        [Point(106.555, 29.555), None, Point(), Point(106.565, 29.555)],
        index=["p1", "p2", "p3", "p4"],
        crs=4326,
    )
    out = locate(points, CHONGQING)
    pd.testing.assert_index_equal(out.index, points.index)
    assert out["grid"].tolist() == ["500108001001001", None, None, "500108001001002"]
    assert out["nearest"].tolist()[1:3] == [None, None]
    assert out["distance_to_edge_m"].isna().tolist() == [False, True, True, False]


def test_locate_one_outside_every_grid() -> None:
    one = GridIndex(CHONGQING).locate_one(106.545, 29.555)
    assert (one.grid, one.nearest, one.neighbour) == (None, "500108001001001", None)
    assert one.distance_to_edge_m == pytest.approx(
        GEOD.inv(106.545, 29.555, 106.55, 29.555)[2], abs=0.5
    )
    assert np.isnan(one.neighbour_distance_m)


def test_metric_crs_choice() -> None:
    assert GridIndex(CHONGQING).metric_crs.to_epsg() == 32648
    assert GridIndex(TILES).metric_crs.to_epsg() == 32648  # the grids' own CRS
    gauss_kruger = GridIndex(CHONGQING, metric=4545).metric_crs  # CGCS2000 3° GK CM 105E
    assert gauss_kruger.to_epsg() == 4545
    by_crs = locate(([106.5597], [29.5505]), CHONGQING, metric=pyproj.CRS.from_epsg(32648))
    assert by_crs["distance_to_edge_m"][0] == pytest.approx(
        locate(([106.5597], [29.5505]), CHONGQING)["distance_to_edge_m"][0]
    )
    with pytest.raises(InputError, match="not a projected CRS"):
        locate(([106.5597], [29.5505]), CHONGQING, metric="EPSG:4490")
    with pytest.raises(InputError, match="no CRS"):
        locate([Point(1, 1)], ROW)


@pytest.mark.parametrize(
    ("points", "near_m", "match"),
    [
        ([box(0, 0, 1, 1)], 50.0, "locate takes points"),
        ([Point(106.555, 29.555)], -1.0, "near_m"),
        ([Point(106.555, 29.555)], float("nan"), "near_m"),
    ],
)
def test_locate_refuses_bad_input(points, near_m, match) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(InputError, match=match):
        locate(points, CHONGQING, near_m=near_m)


def test_one_index_serves_many_threads(monkeypatch: pytest.MonkeyPatch) -> None:
    from concurrent.futures import ThreadPoolExecutor

    rng = np.random.default_rng(1)
    lon, lat = rng.uniform(106.548, 106.572, 2000), rng.uniform(29.548, 29.562, 2000)
    index = GridIndex(CHONGQING, workers=2)
    serial = [index.locate_one(x, y) for x, y in zip(lon, lat, strict=True)]
    monkeypatch.setattr(assign_module, "_CHUNK", 500)  # each bulk call in 2 threads of its own
    monkeypatch.setattr(assign_module, "_MANY", 100)  # … with prepared copies of the grids
    with ThreadPoolExecutor(8) as pool:
        threaded = list(pool.map(index.locate_one, lon, lat))
        bulk = list(pool.map(lambda _: index.locate((lon, lat)), range(8)))
    assert threaded == serial
    for frame in bulk:
        assert frame["grid"].tolist() == [where.grid for where in serial]


def test_overlapping_grids_still_find_the_nearer_neighbour() -> None:
    # B overlaps A's east part: a point in A only, 50 m from A's edge, is 10 m from B. The
    # shortcut "no neighbour nearer than the own edge" holds only for a tiling; this is none.
    grids = gpd.GeoDataFrame(
        {"code": ["A", "B"]},
        geometry=[box(X0, Y0, X0 + 100, Y0 + 100), box(X0 + 60, Y0, X0 + 200, Y0 + 100)],
        crs=32648,
    )
    row = locate(gpd.GeoSeries.from_xy([X0 + 50], [Y0 + 50], crs=32648), grids, near_m=20).iloc[0]
    assert (row["grid"], row["neighbour"]) == ("A", "B")
    assert row["distance_to_edge_m"] == pytest.approx(50.0)
    assert row["neighbour_distance_m"] == pytest.approx(10.0)


_box = st.tuples(
    st.floats(-50, 50), st.floats(-50, 50), st.floats(0, 30) | st.just(0.0), st.floats(0, 30)
)


@settings(max_examples=400, deadline=None)
@given(
    st.lists(_box | st.just(None) | st.just("empty"), min_size=1, max_size=40),
    st.lists(st.tuples(st.floats(-60, 90), st.floats(-60, 90)), min_size=1, max_size=40),
    st.sampled_from([(0.0, 0.0), (X0, Y0), (LON0, LAT0)]),
    st.sampled_from([1.0, 1e-4]),  # metres, or about degrees
)
def test_buckets_find_the_same_candidates_as_the_rtree(boxes, coords, origin, scale) -> None:  # type: ignore[no-untyped-def]
    # The bulk point path looks up bounding boxes in buckets instead of the STRtree: it must
    # give exactly the tree's pairs, with grids of any size, missing or empty ones included,
    # and points on the boxes' edges (their corners are among the points).
    def at(u: float, v: float) -> tuple[float, float]:
        return origin[0] + u * scale, origin[1] + v * scale

    grids = [
        shapely.Polygon()
        if t == "empty"
        else None
        if t is None
        else box(*at(*t[:2]), *at(t[0] + t[2], t[1] + t[3]))
        for t in boxes
    ]
    geoms = np.array(grids, dtype=object)
    corners = [c for g in grids if g is not None and not g.is_empty for c in g.exterior.coords]
    points = [at(*c) for c in coords] + corners
    x, y = np.array([p[0] for p in points]), np.array([p[1] for p in points])
    i, j = assign_module._Buckets.build(geoms).candidates(x, y)
    ti, tj = shapely.STRtree(geoms).query(shapely.points(x, y))
    assert sorted(zip(i.tolist(), j.tolist(), strict=True)) == sorted(
        zip(ti.tolist(), tj.tolist(), strict=True)
    )


def test_grids_without_geometry_are_skipped() -> None:
    grids = CHONGQING.iloc[:1].copy()
    grids = pd.concat(
        [
            grids,
            gpd.GeoDataFrame({"code": ["x", "y"]}, geometry=[None, shapely.Polygon()], crs=4326),
        ]
    )
    out = locate(([106.555, 106.565], [29.555, 29.555]), grids)
    assert out["grid"].tolist() == [CHONGQING["code"][0], None]
    assert out["nearest"].tolist() == [CHONGQING["code"][0]] * 2
    many = gpd.GeoDataFrame(geometry=[Point(106.555, 29.555)] * 6000, crs=4326)  # bulk path
    assert set(assign_buildings(many, grids)["grid"]) == {CHONGQING["code"][0]}


def test_a_point_beyond_the_metric_projection_is_in_no_grid_with_a_geodesic_distance() -> None:
    # The Gulf of Guinea is outside Chongqing's metric zone: pyproj answers inf there, and the
    # lookup raised on an empty nearest-grid query (POST /api/incidents answered 500).
    grids = gpd.GeoDataFrame(
        {"code": ["a", "b"]},
        crs=4326,
        geometry=[box(106.55, 29.55, 106.56, 29.56), box(106.56, 29.55, 106.57, 29.56)],
    )
    where = GridIndex(grids).locate_one(18.23, 0.02)
    assert where.grid is None and where.nearest == "a"
    assert 9_000_000 < where.distance_to_edge_m < 11_000_000  # about 9,850 km on the ellipsoid
