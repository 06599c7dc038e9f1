"""read_osm against small OSM files written with osmium's own writer, as PBF and as XML."""

from __future__ import annotations

import geopandas as gpd
import osmium
import pandas as pd
import pytest
from osmium.osm.mutable import Node, Relation, Way
from pyproj import Transformer

from gridmap.errors import InputError
from gridmap.io.osm import OSM_LAYERS, OsmRead, read_osm
from gridmap.schema import layer

UTM = "EPSG:32648"  # Chongqing lies in UTM zone 48N
_ORIGIN = Transformer.from_crs("EPSG:4326", UTM, always_xy=True).transform(106.56, 29.52)
_TO_LONLAT = Transformer.from_crs(UTM, "EPSG:4326", always_xy=True)

# Node id -> (east, north) in metres from a point in 南岸区, so areas are known exactly.
NODES = {
    # building way w100: 40 m x 30 m
    1: (0, 0), 2: (40, 0), 3: (40, 30), 4: (0, 30),
    # building node n50
    50: (100, 0),
    # multipolygon building r200: 100 m x 100 m outer (w101), 20 m x 20 m hole (w102)
    11: (200, 0), 12: (300, 0), 13: (300, 100), 14: (200, 100),
    15: (240, 40), 16: (260, 40), 17: (260, 60), 18: (240, 60),
    # broken multipolygon r201: w103 and w104 leave the ring open between 24 and 21
    21: (400, 0), 22: (450, 0), 23: (450, 50), 24: (400, 60),
    # unclosed building way w105
    25: (500, 0), 26: (520, 0), 27: (520, 20),
    # boundary relation r300: 1000 m x 800 m from two open ways, plus a 100 m x 100 m exclave
    31: (-500, -500), 32: (500, -500), 33: (500, 300), 34: (-500, 300),
    35: (1000, 0), 36: (1100, 0), 37: (1100, 100), 38: (1000, 100),
    # community w108 (and w109 at admin_level 7): 200 m x 200 m
    41: (-400, -400), 42: (-200, -400), 43: (-200, -200), 44: (-400, -200),
    # roads
    51: (0, -50), 52: (300, -50), 53: (600, -60),
    54: (0, -100), 55: (30, -100), 56: (30, -130), 57: (0, -130),
}  # fmt: skip

BOUNDARY_8 = {"boundary": "administrative", "admin_level": "8"}
WAYS = {
    100: ([1, 2, 3, 4, 1], {
        "building": "residential", "name": "南湖小区1栋", "building:levels": "6",
        "building:flats": "48", "addr:province": "重庆市", "addr:city": "重庆市",
        "addr:district": "南岸区", "addr:street": "南坪东路", "addr:housenumber": "12",
    }),
    101: ([11, 12, 13, 14, 11], {}),
    102: ([15, 16, 17, 18, 15], {}),
    103: ([21, 22, 23], {}),
    104: ([23, 24], {}),
    105: ([25, 26, 27], {"building": "yes"}),
    106: ([31, 32, 33], BOUNDARY_8),
    107: ([33, 34, 31], BOUNDARY_8),
    108: ([41, 42, 43, 44, 41], {
        "boundary": "administrative", "admin_level": "10", "name": "南湖社区",
        "ref": "NH", "ref:stats": "500108003002",
    }),
    109: ([41, 42, 43, 44, 41], {
        "boundary": "administrative", "admin_level": "7", "name": "测试区", "ISO3166-2": "CN-CQ",
    }),
    110: ([51, 52, 53], {"highway": "primary", "name": "南坪东路"}),
    111: ([54, 55, 56, 57, 54], {"highway": "footway", "area": "yes", "name": "广场"}),
    112: ([52, 999], {"highway": "residential"}),
    113: ([35, 36, 37, 38, 35], BOUNDARY_8),
    114: ([1, 2, 3, 4, 1], {"building": "no"}),
    115: ([25, 26, 998, 25], {"building": "yes"}),  # node 998 is not in the file
    116: ([11, 13, 12, 14, 11], {"building": "yes"}),  # a bow tie
}  # fmt: skip
RELATIONS = {
    200: ([("w", 101, "outer"), ("w", 102, "inner")], {
        "type": "multipolygon", "building": "school", "name": "南坪中学教学楼",
        "building:levels": "5.5", "addr:full": "重庆市南岸区南坪中学内",
    }),
    201: ([("w", 103, "outer"), ("w", 104, "outer")], {"type": "multipolygon", "building": "yes"}),
    202: ([("w", 999, "outer")], {"type": "multipolygon", "building": "yes"}),
    300: ([("w", 106, "outer"), ("w", 107, "outer"), ("w", 113, "outer")], {
        "type": "boundary", **BOUNDARY_8, "name": "南坪街道", "ref": "500108003",
    }),
}  # fmt: skip
NODE_TAGS = {
    50: {
        "building": "yes",
        "name": "Nanping kiosk",
        "name:zh": "南坪岗亭",
        "building:levels": "5;6",
    }
}


@pytest.fixture(params=["osm.pbf", "osm"])
def osm_file(request, tmp_path):
    path = tmp_path / f"nanping.{request.param}"
    with osmium.SimpleWriter(str(path)) as writer:
        for nid, (east, north) in NODES.items():
            lonlat = _TO_LONLAT.transform(_ORIGIN[0] + east, _ORIGIN[1] + north)
            writer.add_node(Node(id=nid, location=lonlat, tags=NODE_TAGS.get(nid, {})))
        for wid, (nodes, tags) in WAYS.items():
            writer.add_way(Way(id=wid, nodes=nodes, tags=tags))
        for rid, (members, tags) in RELATIONS.items():
            writer.add_relation(Relation(id=rid, members=members, tags=tags))
    return path


def rows_by_id(read: OsmRead, column: str = "id") -> dict:
    assert read.frame.crs.to_epsg() == 4326
    assert read.frame.geometry.notna().all()
    assert read.frame[column].is_unique
    return {row[column]: row for row in read.frame.to_dict("records")}


def area_m2(geometry) -> float:
    return float(gpd.GeoSeries([geometry], crs="EPSG:4326").to_crs(UTM).area.iloc[0])


def test_buildings(osm_file):
    read = read_osm(osm_file, "buildings")

    assert list(read.frame.columns) == [
        *layer("buildings").column_names,
        "osm_building",
        "geometry",
    ]
    rows = rows_by_id(read)
    assert sorted(rows) == ["n50", "r200", "w100"]  # building=no (w114) is no building

    way = rows["w100"]
    assert way["name"] == "南湖小区1栋"
    assert way["address"] == "重庆市南岸区南坪东路12号"
    assert (way["floors"], way["households"], way["osm_building"]) == (6, 48, "residential")
    assert way["geometry"].geom_type == "Polygon"
    assert area_m2(way["geometry"]) == pytest.approx(1200, rel=1e-3)

    node = rows["n50"]
    assert (node["name"], node["floors"], node["geometry"].geom_type) == ("南坪岗亭", 6, "Point")

    relation = rows["r200"]
    assert (relation["name"], relation["floors"]) == ("南坪中学教学楼", 5)
    assert relation["address"] == "重庆市南岸区南坪中学内"
    assert relation["geometry"].geom_type == "Polygon"
    assert len(relation["geometry"].interiors) == 1
    assert area_m2(relation["geometry"]) == pytest.approx(100 * 100 - 20 * 20, rel=1e-3)

    assert read.frame["residents"].isna().all()
    assert str(read.frame["floors"].dtype) == "Int64"

    skipped = {s["id"]: s["reason"] for s in read.skipped}
    assert list(skipped) == ["w105", "w115", "w116", "r201", "r202"]
    assert "not closed" in skipped["w105"]
    assert "n998" in skipped["w115"]
    assert "crosses itself" in skipped["w116"]
    assert "rings" in skipped["r201"]
    assert "w999" in skipped["r202"]

    assert read.tag_issues == [
        {"id": "n50", "tag": "building:levels", "value": "5;6",
         "reason": "several values; took the largest, 6"},
        {"id": "r200", "tag": "building:levels", "value": "5.5",
         "reason": "not a whole number; counted whole ones, 5"},
    ]  # fmt: skip


def test_divisions(osm_file):
    read = read_osm(osm_file, "divisions")

    assert list(read.frame.columns) == [
        *layer("divisions").column_names,
        "admin_level",
        "osm_id",
        "geometry",
    ]
    rows = rows_by_id(read, "osm_id")
    assert sorted(rows) == ["r300", "w108", "w109"]

    street = rows["r300"]
    assert (street["code"], street["name"], street["level"]) == (
        "500108003000",
        "南坪街道",
        "street",
    )
    assert street["admin_level"] == 8
    assert street["geometry"].geom_type == "MultiPolygon"
    assert len(street["geometry"].geoms) == 2
    assert area_m2(street["geometry"]) == pytest.approx(1000 * 800 + 100 * 100, rel=1e-3)

    community = rows["w108"]
    assert (community["code"], community["name"]) == ("500108003002", "南湖社区")
    assert community["level"] == "community"
    assert community["geometry"].geom_type == "MultiPolygon"
    assert area_m2(community["geometry"]) == pytest.approx(200 * 200, rel=1e-3)

    other = rows["w109"]
    assert other["admin_level"] == 7
    assert pd.isna(other["level"]) and pd.isna(other["code"])  # CN-CQ is no statistical code
    assert read.frame["parent_code"].isna().all()

    # The exclave w113 is a ring of r300, not a division of its own.
    assert [s["id"] for s in read.skipped] == ["w113"]
    assert "r300" in read.skipped[0]["reason"]


def test_roads(osm_file):
    read = read_osm(osm_file, "roads")

    assert list(read.frame.columns) == [*layer("roads").column_names, "geometry"]
    rows = rows_by_id(read)
    assert list(rows) == ["w110"]  # the footway with area=yes is a square, not a road
    road = rows["w110"]
    assert (road["name"], road["class"], road["geometry"].geom_type) == (
        "南坪东路",
        "primary",
        "LineString",
    )
    assert len(road["geometry"].coords) == 3
    assert read.skipped == [{"id": "w112", "reason": read.skipped[0]["reason"]}]
    assert "n999" in read.skipped[0]["reason"]


def test_empty_file_gives_empty_frames_with_the_schema(tmp_path):
    path = tmp_path / "empty.osm.pbf"
    with osmium.SimpleWriter(str(path)):
        pass
    for name in OSM_LAYERS:
        read = read_osm(path, name)
        assert read.frame.empty and read.skipped == []
        assert set(layer(name).column_names) <= set(read.frame.columns)
        assert read.frame.crs.to_epsg() == 4326


def test_unknown_layer_names_the_allowed_ones(osm_file):
    with pytest.raises(InputError, match=r"'units'.*buildings, divisions, roads"):
        read_osm(osm_file, "units")


@pytest.mark.parametrize(
    ("name", "content", "osmium_says"),
    [
        ("broken.osm.pbf", b"this is no protobuf", "PBF error"),
        ("broken.osm", b"<osm", "XML parsing error"),
        ("notes.txt", b"hello", "Could not detect file format"),
        ("missing.osm.pbf", None, "No such file"),
    ],
)
@pytest.mark.parametrize("layer_name", OSM_LAYERS)
def test_unreadable_file_is_input_error(tmp_path, name, content, osmium_says, layer_name):
    path = tmp_path / name
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(InputError, match=osmium_says) as raised:
        read_osm(path, layer_name)
    assert str(path) in str(raised.value)


def test_import_of_osm_buildings_accounts_for_every_object(osm_file, tmp_path):
    """Through the importer: rows plus skipped objects make up all that was read."""
    from gridmap.io.importer import import_file
    from gridmap.store import Workspace

    workspace = Workspace(tmp_path / "w.gpkg")
    report = import_file(workspace, osm_file, "buildings")
    assert report.accounted and report.imported == 3
    assert {i.id for i in report.rejected} == {"w105", "w115", "w116", "r201", "r202"}
    assert any(w.kind == "osm_tag" and w.id == "r200" for w in report.warnings)
    stored = workspace.read("buildings").set_index("id")
    assert stored.at["w100", "name"] == "南湖小区1栋" and stored.at["w100", "households"] == 48
    # residents come from households (48 × 2.6) when the source has none
    assert stored.at["w100", "residents"] == 125 and stored.at["w100", "residents_estimated"]
