"""validate_coverage: each defect planted in a valid 3×3 plan is reported, and nothing else.

The plan: nine 300 m boxes drawn in UTM 48N and converted to lon/lat at 106.55E, 29.55N,
numbered west→east, north→south (grid 1 is the north-west one, grid 5 the centre).
Local coordinates are metres from the south-west corner of the plan.
"""

from __future__ import annotations

import json

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
import pytest
import shapely
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from shapely import MultiPolygon, Point, Polygon, box

from gridmap.engine.validate.check import (
    ISSUE_KINDS,
    WARNING_KINDS,
    CoverageReport,
    coverage_report_exit_code,
    validate_coverage,
)
from gridmap.errors import InputError

COMMUNITY = "500108001001"
SIZE = 300.0
_TO_UTM = pyproj.Transformer.from_crs(4326, 32648, always_xy=True)
_TO_LONLAT = pyproj.Transformer.from_crs(32648, 4326, always_xy=True)
X0, Y0 = _TO_UTM.transform(106.55, 29.55)


def lonlat(geom):  # type: ignore[no-untyped-def]
    """Local metres → UTM 48N → lon/lat."""
    return shapely.transform(
        geom, lambda x, y: _TO_LONLAT.transform(x + X0, y + Y0), interleaved=False
    )


def code(k: int, community: str = COMMUNITY) -> str:
    return f"{community}{k:03d}"


def cell(k: int, cols: int = 3, rows: int = 3) -> Polygon:
    """Grid k's box (1-based, west→east then north→south)."""
    row, col = divmod(k - 1, cols)
    y = (rows - 1 - row) * SIZE
    return box(col * SIZE, y, (col + 1) * SIZE, y + SIZE)


def outline(cols: int = 3, rows: int = 3) -> Polygon:
    """The plan's outer boundary, through every corner of the boxes along it."""
    south = [(i * SIZE, 0.0) for i in range(cols)]
    east = [(cols * SIZE, j * SIZE) for j in range(rows)]
    north = [((cols - i) * SIZE, rows * SIZE) for i in range(cols)]
    west = [(0.0, (rows - j) * SIZE) for j in range(rows)]
    return Polygon(south + east + north + west)


BOUNDARY = lonlat(outline())


def plan(
    changes: dict[int, object] | None = None,
    residents: dict[int, float] | None = None,
    codes: dict[int, str] | None = None,
    cols: int = 3,
    rows: int = 3,
) -> gpd.GeoDataFrame:
    """The valid plan with some grids' geometry, residents or code changed."""
    n = cols * rows
    changes, residents, codes = changes or {}, residents or {}, codes or {}
    geoms = [changes.get(k, cell(k, cols, rows)) for k in range(1, n + 1)]
    return gpd.GeoDataFrame(
        {
            "code": [codes.get(k, code(k)) for k in range(1, n + 1)],
            "community_code": COMMUNITY,
            "residents": [residents.get(k, 3000.0) for k in range(1, n + 1)],
        },
        geometry=[None if g is None else lonlat(g) for g in geoms],
        crs=4326,
    )


def frame(rows: list[dict[str, object]]) -> gpd.GeoDataFrame:
    """A layer (buildings, units, communities) from local geometries."""
    return gpd.GeoDataFrame(
        [{k: v for k, v in r.items() if k != "geometry"} for r in rows],
        geometry=[lonlat(r["geometry"]) for r in rows],
        crs=4326,
    )


def found(report: CoverageReport) -> list[tuple[str, tuple[str, ...]]]:
    return sorted((i.kind, i.grids) for i in report.issues)


def ring(*points: tuple[float, float]) -> Polygon:
    return Polygon(points)


C = {k: code(k) for k in range(1, 10)}


def centre_with(*east_edge: tuple[float, float]) -> Polygon:
    """Grid 5 with extra vertices on its east edge (x = 600), listed south to north."""
    return ring((300, 300), (600, 300), *east_edge, (600, 600), (300, 600))


CASES = {
    "valid": ({}, {}, []),
    "gap": (
        {5: centre_with((600, 400), (590, 400), (590, 500), (600, 500))},
        {},
        [("gap", (C[5], C[6]))],
    ),
    "sliver": (
        {5: centre_with((600, 400), (599, 400), (599, 500), (600, 500))},
        {},
        [("sliver", (C[5], C[6]))],
    ),
    # 10 cm wide, 9 m long: 0.9 m², below min_area_m2 but a sliver all the same
    "thin sliver": (
        {5: centre_with((600, 400), (599.9, 400), (599.9, 409), (600, 409))},
        {},
        [("sliver", (C[5], C[6]))],
    ),
    # 2 cm wide: thinner than any gap reported (5 cm), but the edges of 5 and 6 do not match
    "hairline gap": (
        {5: centre_with((600, 350), (599.98, 350), (599.98, 500), (600, 500))},
        {},
        [("mismatched_edge", (C[5], C[6]))],
    ),
    # 5's new corners lie on the edges of 2 and 8, which GEOS flags too: they are named
    "overlap": ({5: box(300, 300, 610, 600)}, {}, [("overlap", (C[2], C[5], C[6], C[8]))]),
    # a vertex of 5 on its shared edge with 6 that 6 does not have (a T-junction)
    "t-junction": ({5: centre_with((600, 450))}, {}, [("mismatched_edge", (C[5], C[6]))]),
    # that vertex moved 0.5 m into 6: an overlap of 0.5 m², below min_area_m2
    "vertex 0.5 m into neighbour": (
        {5: centre_with((600, 449), (600.5, 450), (600, 451))},
        {},
        [("mismatched_edge", (C[5], C[6]))],
    ),
    # and 0.5 m back into 5: a gap of 0.5 m², 2 m long
    "vertex 0.5 m back": (
        {5: centre_with((600, 449), (599.5, 450), (600, 451))},
        {},
        [("mismatched_edge", (C[5], C[6]))],
    ),
    "outside boundary": (
        {2: box(300, 600, 600, 920)},
        {},
        [("outside_boundary", (C[1], C[2], C[3]))],
    ),
    "multipart": (
        {
            1: box(0, 600, 300, 900).difference(box(0, 850, 50, 900)),
            5: MultiPolygon([cell(5), box(0, 850, 50, 900)]),
        },
        {},
        [("multipart", (C[5],))],
    ),
    "invalid spike": (
        {5: ring((300, 300), (600, 300), (600, 600), (300, 600), (300, 300), (400, 400))},
        {},
        [("invalid_geometry", (C[5],))],
    ),
    # the bow-tie covers two of the four triangles of its box: the others are gaps
    "invalid bow-tie": (
        {5: ring((300, 300), (600, 600), (600, 300), (300, 600))},
        {},
        [("gap", (C[2], C[5])), ("gap", (C[5], C[8])), ("invalid_geometry", (C[5],))],
    ),
    "empty geometry": (
        {5: None},
        {},
        [("empty_geometry", (C[5],)), ("gap", (C[2], C[4], C[6], C[8]))],
    ),
    "not a polygon": (
        {5: shapely.LineString([(300, 300), (600, 600)])},
        {},
        [("gap", (C[2], C[4], C[6], C[8])), ("invalid_geometry", (C[5],))],
    ),
    "over target": ({}, {5: 4000.0}, [("over_target", (C[5],))]),
    "under target": ({}, {5: 2000.0}, [("under_target", (C[5],))]),
    "far out of band": ({}, {5: 1000.0}, [("far_out_of_band", (C[5],))]),
}


@pytest.mark.parametrize("name", list(CASES))
def test_planted_defect_is_reported_alone(name: str) -> None:
    changes, residents, expected = CASES[name]
    report = validate_coverage(plan(changes, residents), BOUNDARY, target=3000)
    assert found(report) == sorted(expected), [i.detail for i in report.issues]
    errors = [kind for kind, _ in expected if kind not in WARNING_KINDS]
    assert report.ok is (not errors)
    assert coverage_report_exit_code(report) == (1 if errors else 0)


def test_valid_plan_reports_nothing_with_every_layer() -> None:
    buildings = frame(
        [
            {"id": "b1", "geometry": box(400, 400, 420, 420)},
            {"id": "b2", "geometry": box(580, 440, 600, 460)},  # touches 6 along its edge
            {"id": "b3", "geometry": Point(450, 450)},
        ]
    )
    units = frame(
        [
            {"id": "u1", "name": "南湖小区", "geometry": box(320, 320, 580, 580)},
            {"id": "u2", "name": "学校", "geometry": box(600, 300, 900, 400)},  # shares 5's edge
        ]
    )
    communities = frame([{"code": COMMUNITY, "geometry": outline()}])
    report = validate_coverage(
        plan(), BOUNDARY, buildings, units, communities=communities, target=3000
    )
    assert report.ok and report.issues == ()
    assert report.stats["grids"] == 9
    assert report.stats["area_m2"] == pytest.approx(810_000, rel=1e-3)
    assert report.stats["covered_m2"] == pytest.approx(report.stats["area_m2"])
    assert report.stats["metric_crs"] == "EPSG:32648"


def test_valid_plan_without_boundary_or_target() -> None:
    report = validate_coverage(plan())
    assert report.ok and report.issues == ()
    assert report.stats["boundary"] == "outer shell of the grids"


def test_duplicate_code() -> None:
    report = validate_coverage(plan(codes={5: C[4]}), BOUNDARY)
    assert found(report) == [("duplicate_code", (C[4],))]
    assert report.issues[0].measure == 2


def test_tiny_hole_below_min_area_is_ignored() -> None:
    holed = cell(5).difference(box(450, 450, 450.7, 450.7))
    assert validate_coverage(plan({5: holed}), BOUNDARY).issues == ()


def test_hole_is_a_gap_without_boundary() -> None:
    holed = cell(5).difference(box(400, 400, 450, 450))
    report = validate_coverage(plan({5: holed}))
    assert found(report) == [("gap", (C[5],))]
    assert report.issues[0].measure == pytest.approx(2500, rel=1e-3)


WEDGE = ring((600, 600), (900, 600), (900, 900), (601, 900), (600, 850))  # 25 m² notch at 2 | 3


@pytest.mark.parametrize("boundary", [BOUNDARY, None], ids=["boundary", "outer shell"])
def test_notch_opening_to_the_outside_is_a_sliver(boundary: object) -> None:
    report = validate_coverage(plan({3: WEDGE}), boundary)
    assert found(report) == [("sliver", (C[2], C[3]))]
    assert report.issues[0].measure == pytest.approx(25, rel=1e-3)


def test_narrow_inlet_of_the_boundary_itself_is_no_defect() -> None:
    # A community whose own outline has a 1 m wide, 30 m deep inlet where grids 3 and 6
    # meet: GEOS's gap_width test flags both grids' edges along it, but the inlet is outside
    # the community, not a gap. Checked alone (as after an edit) the community must check as
    # clean as in the whole district, where the neighbour's grid fills the inlet.
    inlet = box(870, 599.5, 901, 600.5)
    boundary = lonlat(outline().difference(inlet))
    grids = plan({3: cell(3).difference(inlet), 6: cell(6).difference(inlet)})
    assert validate_coverage(grids, boundary).issues == ()
    neighbour = plan(codes={k: code(k, "500108001002") for k in range(1, 10)})
    neighbour["geometry"] = [lonlat(box(900, 300, 1200, 900).union(inlet))] + [None] * 8
    both = pd.concat([grids, neighbour.iloc[:1]], ignore_index=True)
    assert validate_coverage(both, boundary.union(neighbour.geometry.iloc[0])).issues == ()


def test_split_unit_names_unit_and_grids() -> None:
    units = frame(
        [
            {"id": "u1", "name": "南湖小区", "geometry": box(250, 400, 350, 500)},
            {"id": "u2", "name": "学校", "geometry": box(320, 320, 580, 580)},
        ]
    )
    report = validate_coverage(plan(), BOUNDARY, units=units)
    assert found(report) == [("split_unit", (C[4], C[5]))]
    issue = report.issues[0]
    assert issue.related == ("u1",) and "南湖小区" in issue.detail
    assert issue.measure == pytest.approx(5000, rel=1e-3)


@pytest.mark.parametrize(
    ("geometry", "expected"),
    [
        (box(-60, -60, -40, -40), [("unassigned_building", ())]),
        (box(590, 440, 610, 460), [("building_in_two_grids", (C[5], C[6]))]),
        (Point(600, 450), [("building_in_two_grids", (C[5], C[6]))]),
        (Point(600, 600), [("building_in_two_grids", (C[2], C[3], C[5], C[6]))]),
        (box(599.5, 440, 600.5, 441), []),  # 0.5 m² each side: minor share not above 1 m²
    ],
    ids=["outside every grid", "straddles 5|6", "point on edge", "point on corner", "tiny"],
)
def test_buildings(geometry: object, expected: list[tuple[str, tuple[str, ...]]]) -> None:
    buildings = frame([{"id": "b9", "geometry": geometry}, {"id": "b1", "geometry": Point(1, 1)}])
    report = validate_coverage(plan(), BOUNDARY, buildings)
    assert found(report) == expected
    assert all(issue.related == ("b9",) for issue in report.issues)


def test_crosses_community_names_communities() -> None:
    other = box(650, 400, 900, 500)
    communities = frame(
        [
            {"code": COMMUNITY, "geometry": outline().difference(other)},
            {"code": "500108001002", "geometry": other},
        ]
    )
    report = validate_coverage(plan(), BOUNDARY, communities=communities)
    assert found(report) == [("crosses_community", (C[6],))]
    issue = report.issues[0]
    assert issue.related == (COMMUNITY, "500108001002")
    assert issue.measure == pytest.approx(25_000, rel=1e-3)
    assert "500108001002" in issue.detail


def test_five_thousand_residents_in_ten_grids() -> None:
    grids = plan(residents={k: 500.0 for k in range(1, 11)}, cols=5, rows=2)
    report = validate_coverage(grids, target=3000)
    kinds = [i.kind for i in report.issues]
    assert kinds.count("far_out_of_band") == 10
    assert kinds.count("fragmented_community") == 1 and len(kinds) == 11
    crowded = report.of_kind("fragmented_community")[0]
    assert crowded.grids == tuple(code(k) for k in range(1, 11))
    assert crowded.related == (COMMUNITY,)
    assert crowded.measure == 8  # 10 grids where round(5000 / 3000) = 2 are needed
    assert "5,000 residents in 10 grids" in crowded.detail
    assert not report.ok and coverage_report_exit_code(report) == 1  # the defect of practice


def test_a_few_grids_too_many_is_a_warning() -> None:
    # 12,000 residents in 6 grids of 2,000: 4 needed, 6 is more than one spare but fewer
    # than twice as many: too many grids (a warning), not a fragmented community.
    grids = plan(residents={k: 2000.0 for k in range(1, 7)}, cols=3, rows=2)
    report = validate_coverage(grids, target=3000)
    assert sorted({i.kind for i in report.issues}) == ["too_many_grids", "under_target"]
    assert report.ok


def test_a_community_with_one_grid_is_never_far_out_of_band() -> None:
    grids = plan(residents={1: 400.0}, cols=1, rows=1)
    report = validate_coverage(grids, target=3000)
    assert [i.kind for i in report.issues] == ["under_target"] and report.ok


def test_one_spare_grid_is_allowed() -> None:
    # 3 grids of 2,000: round(6000 / 3000) = 2 needed, 3 is one spare: no too_many_grids
    grids = plan(residents={k: 2000.0 for k in range(1, 4)}, cols=3, rows=1)
    report = validate_coverage(grids, target=3000, tolerance=0.4)
    assert report.issues == ()


def test_community_from_code_prefix_when_no_column() -> None:
    grids = plan(residents={k: 500.0 for k in range(1, 11)}, cols=5, rows=2)
    report = validate_coverage(grids.drop(columns="community_code"), target=3000)
    assert [i.related for i in report.of_kind("fragmented_community")] == [(COMMUNITY,)]


def test_serializations_are_json_in_lonlat() -> None:
    changes = {5: centre_with((600, 400), (590, 400), (590, 500), (600, 500)), 2: None}
    report = validate_coverage(plan(changes, {1: 4000.0}), BOUNDARY, target=3000)
    as_dict = json.loads(json.dumps(report.to_dict(), allow_nan=False))
    assert as_dict["ok"] is False and as_dict["stats"]["errors"] == 3
    assert {i["kind"] for i in as_dict["issues"]} == {"gap", "empty_geometry", "over_target"}
    gap = min((i for i in as_dict["issues"] if i["kind"] == "gap"), key=lambda i: i["area_m2"])
    assert gap["severity"] == "error" and gap["area_m2"] == pytest.approx(1000, rel=1e-3)
    assert gap["geometry"]["type"] == "Polygon"
    assert "lon 106.5" in gap["detail"] and "lat 29.5" in gap["detail"]
    collection = json.loads(json.dumps(report.to_geojson(), allow_nan=False))
    assert collection["type"] == "FeatureCollection"
    assert len(collection["features"]) == len(report.issues)
    for feature in collection["features"]:
        assert feature["type"] == "Feature" and "kind" in feature["properties"]
        if feature["geometry"] is None:
            continue
        xy = shapely.get_coordinates(shapely.from_geojson(json.dumps(feature["geometry"])))
        assert np.all((xy[:, 0] > 106.5) & (xy[:, 0] < 106.6))
        assert np.all((xy[:, 1] > 29.5) & (xy[:, 1] < 29.6))
    warning = next(f for f in collection["features"] if f["properties"]["kind"] == "over_target")
    assert warning["properties"]["severity"] == "warning"
    assert warning["properties"]["weight"] == 4000


def test_every_kind_has_a_measure_name_and_is_tested() -> None:
    tested = {kind for _, _, expected in CASES.values() for kind, _ in expected}
    tested |= {
        "duplicate_code",
        "split_unit",
        "unassigned_building",
        "building_in_two_grids",
        "crosses_community",
        "too_many_grids",
        "fragmented_community",
    }
    assert tested == set(ISSUE_KINDS)


def test_grids_in_another_crs_are_converted() -> None:
    report = validate_coverage(plan().to_crs(32648), BOUNDARY)
    assert report.issues == ()


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"code_column": "grid_code"}, "no column 'grid_code'"),
        ({"tolerance": 1.5}, "tolerance"),
        ({"target": 0}, "target"),
        ({"metric": 4326}, "not a projected CRS"),
        ({"boundary": "everywhere"}, "boundary must be"),
        ({"metric": 32648, "sliver_width_m": -1}, "sliver_width_m"),
    ],
)
def test_bad_input_is_refused(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(InputError, match=message):
        validate_coverage(plan(), **kwargs)  # type: ignore[arg-type]


def test_projected_coordinates_without_crs_are_refused() -> None:
    grids = plan().to_crs(32648).set_crs(None, allow_override=True)
    with pytest.raises(InputError, match="not lon/lat"):
        validate_coverage(grids, metric=32648)


def test_missing_code_is_refused() -> None:
    grids = plan()
    grids.loc[3, "code"] = None
    with pytest.raises(InputError, match="have no code"):
        validate_coverage(grids)


# A jittered lattice's Voronoi cells, built in lon/lat (an equirectangular frame around
# 106.55E, 29.55N) and clipped to a lon/lat box: a valid tiling of that box.
_M_PER_DEG_LAT, _M_PER_DEG_LON = 110_574.0, 111_320.0 * np.cos(np.radians(29.55))


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.integers(0, 2**32 - 1),
    cols=st.integers(2, 8),
    rows=st.integers(1, 8),
    jitter=st.floats(0.0, 0.45),
)
def test_jittered_voronoi_tilings_are_valid(seed: int, cols: int, rows: int, jitter: float) -> None:
    rng = np.random.default_rng(seed)
    ij = np.stack(np.meshgrid(np.arange(cols), np.arange(rows)), axis=-1).reshape(-1, 2)
    xy = (ij + 0.5 + rng.uniform(-jitter, jitter, ij.shape)) * SIZE
    lon = 106.55 + xy[:, 0] / _M_PER_DEG_LON
    lat = 29.55 + xy[:, 1] / _M_PER_DEG_LAT
    area = box(
        106.55, 29.55, 106.55 + cols * SIZE / _M_PER_DEG_LON, 29.55 + rows * SIZE / _M_PER_DEG_LAT
    )
    cells = shapely.get_parts(
        shapely.voronoi_polygons(shapely.multipoints(np.column_stack([lon, lat])), extend_to=area)
    )
    cells = shapely.intersection(cells, area)
    grids = gpd.GeoDataFrame(
        {"code": [code(k + 1) for k in range(len(cells))]}, geometry=cells, crs=4326
    )
    for boundary in (area, None):
        report = validate_coverage(grids, boundary)
        assert report.ok and report.issues == (), [i.detail for i in report.issues]
        assert report.stats["covered_m2"] == pytest.approx(report.stats["area_m2"], rel=1e-9)
