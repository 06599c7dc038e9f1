"""The importer: every feature accounted for; bad input stops before the workspace changes."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pyogrio
import pytest
import shapely

from gridmap.errors import DuplicateIdError, InputError, MissingColumnError
from gridmap.io.importer import ImportOptions, import_file
from gridmap.store import Workspace

REFERENCE = Path(__file__).resolve().parent.parent / "data" / "chongqing"
# Two communities of 南坪街道 side by side, about 1 km × 1 km each, near 106.57E 29.52N.
COMMUNITIES = gpd.GeoDataFrame(
    {
        "code": ["500108003001", "500108003002"],
        "name": ["福红路社区居民委员会", "百货街社区居民委员会"],
    },
    geometry=[
        shapely.box(106.560, 29.520, 106.570, 29.530),
        shapely.box(106.570, 29.520, 106.580, 29.530),
    ],
    crs=4326,
)


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
def workspace(tmp_path: Path) -> Workspace:
    src = tmp_path / "communities.geojson"
    COMMUNITIES.to_file(src)
    ws = Workspace(tmp_path / "w.gpkg")
    report = import_file(ws, src, "divisions")
    assert report.imported == 2 and not report.rejected
    return ws


def write(frame: gpd.GeoDataFrame, path: Path) -> Path:
    pyogrio.write_dataframe(frame, path)
    return path


def test_chongqing_districts_are_all_accounted_for(tmp_path: Path) -> None:
    report = import_file(
        Workspace(tmp_path / "cq.gpkg"), REFERENCE / "districts.geojson", "divisions"
    )
    assert report.read == 38 and report.imported == 38 and not report.rejected
    assert report.accounted
    repaired = sorted(issue.name for issue in report.repaired)
    assert repaired == sorted(
        ["大渡口区", "九龙坡区", "长寿区", "合川区", "铜梁区", "潼南区", "奉节县"]
    )
    assert all("make_valid" in issue.detail for issue in report.repaired)
    missing = {i.name: i for i in report.warnings if i.kind == "missing_code"}
    assert set(missing) == {"梁平县", "武隆县"}
    assert missing["梁平县"].id == "500155000000" and "梁平区" in missing["梁平县"].detail
    stored = Workspace(tmp_path / "cq.gpkg").read("divisions")
    assert stored.is_valid.all() and len(stored) == 38
    assert stored.set_index("code").at["500108000000", "name"] == "南岸区"
    assert set(stored["level"]) == {"district"}


def test_gbk_shapefile_without_cpg_keeps_chinese_names(
    workspace: Workspace, tmp_path: Path
) -> None:
    units = gpd.GeoDataFrame(
        {
            "id": ["U1", "U2"],
            "kind": ["封闭小区", "社会单位"],
            "name": ["南湖小区", "南坪实验小学"],
        },
        geometry=[
            shapely.box(106.561, 29.521, 106.563, 29.523),
            shapely.box(106.571, 29.521, 106.573, 29.523),
        ],
        crs=4326,
    )
    shp = tmp_path / "units.shp"
    pyogrio.write_dataframe(units, shp, encoding="GBK")
    shp.with_suffix(".cpg").unlink()
    report = import_file(workspace, shp, "units")
    assert report.imported == 2
    assert any("GB18030" in note or "GBK" in note for note in report.notes)
    stored = workspace.read("units").set_index("id")
    assert stored.at["U1", "name"] == "南湖小区" and stored.at["U2", "name"] == "南坪实验小学"
    assert stored.at["U1", "kind"] == "compound" and stored.at["U2", "kind"] == "social_unit"
    # The community was not given: it is filled from where the unit lies, and said so.
    assert stored.at["U2", "community_code"] == "500108003002"
    assert any(w.kind == "community_code_filled" for w in report.warnings)


def test_swapped_lon_lat_is_flagged_and_swap_xy_fixes_it(
    workspace: Workspace, tmp_path: Path
) -> None:
    csv = tmp_path / "points.csv"
    csv.write_text(
        "id,lon,lat,floors,residents\nB1,29.525,106.565,3,20\nB2,106.575,29.525,3,30\n",
        encoding="utf-8",
    )
    report = import_file(workspace, csv, "buildings")
    assert [(i.id, i.kind) for i in report.rejected] == [("B1", "lonlat_swapped")]
    assert "--swap-xy" in report.rejected[0].detail
    assert report.rejected[0].where == "line 2"
    swapped = tmp_path / "swapped.csv"
    swapped.write_text("id,lon,lat,floors,residents\nB3,29.525,106.565,3,20\n", encoding="utf-8")
    fixed = import_file(workspace, swapped, "buildings", options=ImportOptions(swap_xy=True))
    assert fixed.imported == 1 and not fixed.warnings
    point = workspace.read("buildings").set_index("id").at["B3", "geometry"]
    assert point.x == pytest.approx(106.565) and point.y == pytest.approx(29.525)


def test_gcj02_points_are_converted_to_wgs84(workspace: Workspace, tmp_path: Path) -> None:
    from gridmap.crs import wgs84_to_gcj02

    lon, lat = 106.565, 29.525
    glon, glat = wgs84_to_gcj02(lon, lat)
    csv = tmp_path / "gcj.csv"
    csv.write_text(f"id,lon,lat,residents\nB1,{glon},{glat},10\n", encoding="utf-8")
    report = import_file(workspace, csv, "buildings", options=ImportOptions(datum="gcj02"))
    assert report.imported == 1
    point = workspace.read("buildings").geometry.iloc[0]
    geod_dist = pyproj_distance(point.x, point.y, lon, lat)
    assert geod_dist < 0.01  # metres


def pyproj_distance(lon1: float, lat1: float, lon2: float, lat2: float) -> float:
    from pyproj import Geod

    return abs(Geod(ellps="WGS84").inv(lon1, lat1, lon2, lat2)[2])


def test_duplicate_ids_stop_the_import_and_leave_the_workspace_unchanged(
    workspace: Workspace, tmp_path: Path
) -> None:
    before = digest(workspace.path)
    frame = gpd.GeoDataFrame(
        {"id": ["B1", "B2", "B1"], "residents": [1, 2, 3]},
        geometry=[shapely.Point(106.565, 29.525)] * 3,
        crs=4326,
    )
    with pytest.raises(DuplicateIdError) as caught:
        import_file(workspace, write(frame, tmp_path / "dup.geojson"), "buildings")
    assert "B1" in str(caught.value) and "feature 1" in str(caught.value)
    assert "feature 3" in str(caught.value) and "dup.geojson" in str(caught.value)
    assert digest(workspace.path) == before


def test_ids_already_in_the_workspace_are_duplicates_too(
    workspace: Workspace, tmp_path: Path
) -> None:
    frame = gpd.GeoDataFrame(
        {"id": ["B1"], "residents": [1]}, geometry=[shapely.Point(106.565, 29.525)], crs=4326
    )
    import_file(workspace, write(frame, tmp_path / "one.geojson"), "buildings")
    before = digest(workspace.path)
    with pytest.raises(DuplicateIdError, match="already in the workspace"):
        import_file(workspace, tmp_path / "one.geojson", "buildings")
    assert digest(workspace.path) == before
    replaced = import_file(
        workspace, tmp_path / "one.geojson", "buildings", options=ImportOptions(replace=True)
    )
    assert replaced.imported == 1 and len(workspace.read("buildings")) == 1


def test_missing_required_column_stops_the_import(workspace: Workspace, tmp_path: Path) -> None:
    before = digest(workspace.path)
    frame = gpd.GeoDataFrame(
        {"名字": ["南湖小区"]}, geometry=[shapely.box(106.561, 29.521, 106.562, 29.522)], crs=4326
    )
    with pytest.raises(MissingColumnError) as caught:
        import_file(workspace, write(frame, tmp_path / "units.geojson"), "units")
    assert caught.value.missing == ["id"] and "units.geojson" in str(caught.value)
    assert "--field" in str(caught.value)
    assert digest(workspace.path) == before


def test_field_mapping_reads_other_column_names(workspace: Workspace, tmp_path: Path) -> None:
    csv = tmp_path / "staff.csv"
    csv.write_text(
        "工号,姓名,岗位,电话\nS1,张某一,警员,023-0000-0001\nS2,李某二,police,\n", encoding="gb18030"
    )
    report = import_file(workspace, csv, "staff", options=ImportOptions(field_map={"id": "工号"}))
    assert report.imported == 2, report
    staff = workspace.read("staff").set_index("id")
    assert list(staff["role"]) == ["police", "police"]
    assert staff.at["S1", "name"] == "张某一" and staff.at["S1", "phone_public"] == "023-0000-0001"
    with pytest.raises(InputError, match="no column '编号'"):
        import_file(workspace, csv, "staff", options=ImportOptions(field_map={"id": "编号"}))


def test_rejected_features_are_reported_and_written_aside(
    workspace: Workspace, tmp_path: Path
) -> None:
    csv = tmp_path / "buildings.csv"
    csv.write_text(
        "id,name,wkt,floors,residents\n"
        'B1,一栋,"POLYGON((106.561 29.521,106.5612 29.521,106.5612 29.5212,106.561 29.5212,'
        '106.561 29.521))",6,\n'
        "B2,二栋,,3,10\n"
        'B3,三栋,"LINESTRING(106.561 29.521,106.562 29.522)",3,10\n'
        "B4,四栋,POINT(106.575 29.525),many,10\n"
        "B5,五栋,not wkt,3,10\n"
        "B6,六栋,POINT(106.9 29.9),2,\n",
        encoding="utf-8",
    )
    report = import_file(workspace, csv, "buildings")
    assert report.read == 6 and report.imported == 2 and report.accounted
    reasons = {i.id: (i.kind, i.where) for i in report.rejected}
    assert reasons == {
        "B2": ("no_geometry", "line 3"),
        "B3": ("wrong_geometry_type", "line 4"),
        "B4": ("bad_floors", "line 5"),
        "B5": ("bad_geometry", "line 6"),
    }
    aside = gpd.read_file(report.rejected_file)
    assert sorted(aside["id"]) == ["B2", "B3", "B4", "B5"]
    assert aside.set_index("id").at["B4", "_reason"] == "floors is not a number: many"
    assert aside.set_index("id").at["B3", "name"] == "三栋"
    warnings = {(w.id, w.kind) for w in report.warnings}
    assert ("B6", "outside_communities") in warnings
    assert ("B6", "residents_unknown") in warnings
    stored = workspace.read("buildings").set_index("id")
    # B1: footprint ≈ 19.4 m × 22.2 m, 6 floors, 0.025 persons/m² → about 65 residents.
    assert stored.at["B1", "residents_estimated"]
    assert 55 < stored.at["B1", "residents"] < 75


def test_invalid_polygon_is_repaired_and_named(workspace: Workspace, tmp_path: Path) -> None:
    bowtie = shapely.Polygon(
        [
            (106.561, 29.521),
            (106.563, 29.523),
            (106.563, 29.521),
            (106.561, 29.523),
            (106.561, 29.521),
        ]
    )
    frame = gpd.GeoDataFrame(
        {"id": ["U1"], "kind": ["compound"], "name": ["蝴蝶小区"]}, geometry=[bowtie], crs=4326
    )
    report = import_file(workspace, write(frame, tmp_path / "bowtie.geojson"), "units")
    assert [(i.id, i.name, i.kind) for i in report.repaired] == [
        ("U1", "蝴蝶小区", "self_intersection")
    ]
    assert workspace.read("units").is_valid.all()


def test_projected_file_without_crs_needs_crs_option(workspace: Workspace, tmp_path: Path) -> None:
    frame = gpd.GeoDataFrame(
        {"id": ["B1"], "residents": [3]}, geometry=[shapely.Point(650000, 3266000)]
    )
    path = write(frame, tmp_path / "utm.geojson")
    with pytest.raises(InputError, match="--crs"):
        import_file(workspace, path, "buildings")
    report = import_file(workspace, path, "buildings", options=ImportOptions(crs="EPSG:32648"))
    assert report.imported == 1
    point = workspace.read("buildings").geometry.iloc[0]
    assert 106.5 < point.x < 106.6 and 29.4 < point.y < 29.6


def test_cli_import_prints_one_json_object(workspace: Workspace, tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from gridmap.cli import app

    result = CliRunner().invoke(
        app,
        [
            "import",
            str(REFERENCE / "districts.geojson"),
            "--layer",
            "divisions",
            "--workspace",
            str(tmp_path / "x.gpkg"),
            "--json",
        ],
    )
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    assert payload["read"] == 38 and payload["accounted"] is True
    bad = CliRunner().invoke(
        app,
        [
            "import",
            str(tmp_path / "nope.csv"),
            "--layer",
            "staff",
            "--workspace",
            str(tmp_path / "x.gpkg"),
            "--json",
        ],
    )
    assert bad.exit_code == 2
    assert json.loads(bad.stdout.splitlines()[0])["error"] == "bad_input"


def test_csv_of_staff_with_unknown_role_is_rejected(workspace: Workspace, tmp_path: Path) -> None:
    csv = tmp_path / "staff.csv"
    csv.write_text("id,name,role\nS1,王某三,网格长\nS2,赵某四,保安\n", encoding="utf-8")
    report = import_file(workspace, csv, "staff")
    assert report.imported == 1
    assert [(i.id, i.kind) for i in report.rejected] == [("S2", "bad_role")]
    assert "grid_head (网格长)" in report.rejected[0].detail
    assert pd.isna(workspace.read("staff").iloc[0]["phone_private"])
