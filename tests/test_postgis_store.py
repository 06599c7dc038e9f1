"""PostgisLayers against a real PostGIS: migrations, round trips, indexes, all-or-nothing writes."""

from __future__ import annotations

import re

import geopandas as gpd
import numpy as np
import pandas as pd
import psycopg
import pytest
import shapely
from psycopg_pool import ConnectionPool
from shapely.geometry import LineString, MultiLineString, MultiPolygon, Point, Polygon, box

from gridmap.errors import DuplicateIdError, InputError, StoreError
from gridmap.schema import LAYERS, conform, layer
from gridmap.store.gpkg import Workspace
from gridmap.store.postgis import (
    PostgisLayers,
    apply_migrations,
    available_migrations,
    dump_to_workspace,
    load_workspace,
)

pytestmark = pytest.mark.postgis

X, Y = 106.5612345678, 29.5234567891  # 南岸区, with digits enough to notice any rounding
D = "500108000000"  # 南岸区
S = "500108001000"  # 南坪街道
C1, C2 = "500108001001", "500108001002"  # two communities of 南坪街道


def _box(i: float, j: float, size: float = 0.01) -> Polygon:
    return box(X + i * 0.01, Y + j * 0.01, X + i * 0.01 + size, Y + j * 0.01 + size)


def sample_frames() -> dict[str, pd.DataFrame]:
    """One small frame per layer: Chinese text, nulls, Polygon/Point/MultiPolygon geometries."""
    divisions = gpd.GeoDataFrame(
        {
            "code": [D, S, C1, C2],
            "name": ["南岸区", "南坪街道办事处", "南湖社区居民委员会", "江南社区居民委员会"],
            "short_name": [None, "南坪街道", "南湖社区", None],
            "level": ["district", "street", "community", "community"],
            "parent_code": [None, D, S, S],
        },
        geometry=[
            MultiPolygon([_box(0, 0, 0.02), _box(5, 5)]),  # an exclave: two parts
            _box(0, 0, 0.02),
            _box(0, 0),
            _box(1, 0),
        ],
        crs=4326,
    )
    units = gpd.GeoDataFrame(
        {
            "id": ["U1", "U2"],
            "kind": ["compound", "social_unit"],
            "name": ["金科·天籁城", "重庆市第十一中学校"],
            "category": [None, "school"],
            "community_code": [C1, C2],
            "own_grid": pd.array([None, True], dtype="boolean"),
        },
        geometry=[
            _box(0.1, 0.1, 0.004),
            MultiPolygon([_box(1.1, 0.1, 0.002), _box(1.5, 0.5, 0.002)]),
        ],
        crs=4326,
    )
    buildings = gpd.GeoDataFrame(
        {
            "id": ["B1", "B2", "B3", "B4"],
            "name": ["1栋", None, "教学楼", "门卫室"],
            "address": ["南坪东路1号", "南坪东路2号", None, None],
            "unit_id": ["U1", None, "U2", "U2"],
            "floors": pd.array([18, None, 5, None], dtype="Int64"),
            "households": pd.array([120, None, None, 0], dtype="Int64"),
            "residents": pd.array([312, 7, 0, 0], dtype="Int64"),
            "residents_estimated": pd.array([False, True, False, True], dtype="boolean"),
        },
        geometry=[
            Polygon(
                [
                    (X + 0.001, Y + 0.001),
                    (X + 0.0012, Y + 0.001),
                    (X + 0.0012, Y + 0.0013),
                    (X + 0.001, Y + 0.001),
                ]
            ),
            Point(X + 0.005, Y + 0.005),
            MultiPolygon([_box(1.1, 0.1, 0.0005), _box(1.15, 0.1, 0.0005)]),
            Point(X + 0.0155, Y + 0.0051),
        ],
        crs=4326,
    )
    roads = gpd.GeoDataFrame(
        {"id": ["R1", "R2"], "name": ["南坪东路", None], "class": ["primary", None]},
        geometry=[
            MultiLineString([[(X, Y + 0.005), (X + 0.02, Y + 0.005)]]),
            MultiLineString([[(X + 0.01, Y), (X + 0.01, Y + 0.01)], [(X, Y), (X + 0.001, Y)]]),
        ],
        crs=4326,
    )
    staff = pd.DataFrame(
        {
            "id": ["P1", "P2"],
            "name": ["张某一", "李某二"],
            "role": ["police", "grid_head"],
            "phone_public": ["023-62345678", None],
            "phone_private": [None, "13800000000"],
            "duties": ["治安巡查、矛盾纠纷排查", None],
            "community_code": [C1, None],
        }
    )
    grids = gpd.GeoDataFrame(
        {
            "code": [C1 + "001", C1 + "002"],
            "name": ["南湖一网格", None],
            "community_code": [C1, C1],
        },
        geometry=[_box(0, 0, 0.005), box(X + 0.005, Y, X + 0.01, Y + 0.01)],
        crs=4326,
    )
    offices = gpd.GeoDataFrame(
        {
            "id": ["O1", "O2"],
            "community_code": [C1, None],
            "name": ["南湖社区居民委员会", "江南社区居民委员会"],
            "address": ["重庆市南岸区南坪东路3号", None],
            "phone": ["023-0001-0001", None],
            "hours": ["周一至周五 09:00-12:00 14:00-17:30", None],
        },
        geometry=[Point(X + 0.002, Y + 0.002), Point(X + 0.012, Y + 0.002)],
        crs=4326,
    )
    return {
        "divisions": divisions,
        "units": units,
        "buildings": buildings,
        "roads": roads,
        "staff": staff,
        "grids": grids,
        "offices": offices,
        "landcover": gpd.GeoDataFrame(
            {"id": ["L1", "L2"], "kind": ["water", "park"], "name": ["长江", None]},
            geometry=[_box(0, 0, 0.02), MultiPolygon([_box(1, 1, 0.002), _box(2, 2, 0.002)])],
            crs=4326,
        ),
    }


def assert_layer_equal(got: pd.DataFrame, want: pd.DataFrame) -> None:
    """Same columns, dtypes, index and values; geometries equal within 1e-9 degrees."""
    geometry = want.geometry.name if isinstance(want, gpd.GeoDataFrame) else None
    assert type(got) is type(want)
    assert list(got.columns) == list(want.columns)
    pd.testing.assert_frame_equal(
        pd.DataFrame(got.drop(columns=geometry) if geometry else got),
        pd.DataFrame(want.drop(columns=geometry) if geometry else want),
    )
    if geometry:
        assert got.crs == want.crs
        g, w = got.geometry.to_numpy(), want.geometry.to_numpy()
        assert got.geom_type.tolist() == want.geom_type.tolist()
        present = ~shapely.is_missing(w)
        assert (shapely.is_missing(g) == ~present).all()
        assert shapely.equals_exact(g[present], w[present], tolerance=1e-9).all()


@pytest.fixture
def url(postgis_url: str) -> str:
    """The test database, emptied of gridmap's tables."""
    with psycopg.connect(postgis_url, autocommit=True) as conn:
        conn.execute("DROP SCHEMA IF EXISTS gridmap CASCADE")
        conn.execute("DROP TABLE IF EXISTS public.gridmap_migrations")
    return postgis_url


@pytest.fixture
def store(url: str) -> PostgisLayers:
    return PostgisLayers(url)


def test_migrations_are_idempotent(url):
    every = [number for number, _ in available_migrations()]
    assert every == list(range(1, len(every) + 1))  # numbered 1, 2, … without a gap
    with psycopg.connect(url) as conn:
        assert apply_migrations(conn) == every
        assert apply_migrations(conn) == []
        rows = conn.execute(
            "SELECT version, applied_at FROM gridmap_migrations ORDER BY version"
        ).fetchall()
    with psycopg.connect(url) as conn:
        assert apply_migrations(conn) == []
    assert [v for v, _ in rows] == every
    assert all(at is not None for _, at in rows)


_PG_TYPE = {"str": "text", "int": "integer", "bool": "boolean", "float": "double precision"}
_GEOMETRY_TYPE = {
    "polygon": "MULTIPOLYGON",
    "line": "MULTILINESTRING",
    "polygon_or_point": "GEOMETRY",
    "point": "POINT",
}


@pytest.mark.parametrize("name", list(LAYERS))
def test_tables_follow_the_schema(url, name):
    lyr = layer(name)
    with psycopg.connect(url) as conn:
        apply_migrations(conn)
        columns = conn.execute(
            "SELECT column_name, data_type, is_nullable FROM information_schema.columns"
            " WHERE table_schema = 'gridmap' AND table_name = %s ORDER BY ordinal_position",
            (name,),
        ).fetchall()
        geometry = conn.execute(
            "SELECT type, srid FROM geometry_columns WHERE f_table_schema = 'gridmap'"
            " AND f_table_name = %s AND f_geometry_column = 'geom'",
            (name,),
        ).fetchall()
        key = conn.execute(
            "SELECT a.attname FROM pg_index i"
            " JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey)"
            " WHERE i.indrelid = %s::regclass AND i.indisprimary",
            (f"gridmap.{name}",),
        ).fetchall()
    expected = [
        (c.name, _PG_TYPE[c.dtype], "NO" if c.name == lyr.id_column or not c.nullable else "YES")
        for c in lyr.columns
    ]
    # The store's own columns come after the schema's, or after a column a migration added.
    own = {"fid", "geom", "district_code"}
    assert [c for c in columns if c[0] not in own] == expected
    extra = {c for c, _, _ in columns if c not in {e[0] for e in expected}}
    assert extra == {"fid"} | ({"geom"} if lyr.geometry else set()) | (
        {"district_code"} if name in ("buildings", "grids") else set()
    )
    assert geometry == ([(_GEOMETRY_TYPE[lyr.geometry], 4326)] if lyr.geometry else [])
    # Partitioned layers carry the partition key in their primary key, as PostgreSQL requires.
    partitioned = name in ("buildings", "grids")
    assert sorted(key) == sorted([(lyr.id_column,)] + ([("district_code",)] if partitioned else []))


def test_every_geometry_has_a_gist_index(url):
    with psycopg.connect(url) as conn:
        apply_migrations(conn)
        indexed = {
            table
            for table, definition in conn.execute(
                "SELECT tablename, indexdef FROM pg_indexes WHERE schemaname = 'gridmap'"
            )
            if "USING gist (geom)" in definition
        }
        with_geometry = {
            table
            for (table,) in conn.execute(
                "SELECT f_table_name FROM geometry_columns WHERE f_table_schema = 'gridmap'"
            )
        }
    assert {name for name, lyr in LAYERS.items() if lyr.geometry} <= with_geometry
    assert {"plan_grids", "canvas_cells", "incidents"} <= with_geometry
    assert with_geometry <= indexed


@pytest.mark.parametrize("name", list(LAYERS))
def test_round_trip_of_each_layer(store, tmp_path, name):
    frame = sample_frames()[name]
    store.write({name: frame})
    got = store.read(name)
    assert_layer_equal(got, conform(frame, layer(name)))
    # ... and typed exactly as the GeoPackage workspace gives the same layer back.
    ws = Workspace(tmp_path / "w.gpkg")
    ws.write({name: frame})
    assert_layer_equal(got, ws.read(name))


def test_round_trip_keeps_chinese_text_nulls_and_geometry_kinds(store):
    store.write(sample_frames())
    bld = store.read("buildings")
    assert bld["name"].tolist()[::2] == ["1栋", "教学楼"]
    assert bld["floors"].isna().tolist() == [False, True, False, True]
    assert str(bld["floors"].dtype) == "Int64"
    assert str(bld["residents_estimated"].dtype) == "boolean"
    assert bld.geom_type.tolist() == ["Polygon", "Point", "MultiPolygon", "Point"]
    div = store.read("divisions")
    assert div.geom_type.tolist() == ["MultiPolygon", "Polygon", "Polygon", "Polygon"]
    assert store.layers() == list(LAYERS)


def test_single_parts_come_back_as_written_to_a_workspace(store, tmp_path):
    # A LineString road is stored as MultiLineString, a one-part MultiPolygon as a Polygon.
    frames = {
        "roads": gpd.GeoDataFrame(
            {"id": ["R9"]}, geometry=[LineString([(X, Y), (X + 0.01, Y)])], crs=4326
        ),
        "grids": gpd.GeoDataFrame(
            {"code": [C1 + "009"]}, geometry=[MultiPolygon([_box(0, 0)])], crs=4326
        ),
    }
    store.write(frames)
    ws = Workspace(tmp_path / "w.gpkg")
    ws.write(frames)
    for name in frames:
        assert_layer_equal(store.read(name), ws.read(name))
    assert store.read("roads").geom_type.tolist() == ["MultiLineString"]
    assert store.read("grids").geom_type.tolist() == ["Polygon"]


def test_append_and_replace(store):
    frames = sample_frames()
    staff = frames["staff"]
    store.write({"staff": staff.iloc[:1]})
    store.write({"staff": staff.iloc[1:]})
    assert store.read("staff")["id"].tolist() == ["P1", "P2"]  # in the order written
    store.write({"staff": staff.iloc[1:]}, replace=True)
    assert store.read("staff")["id"].tolist() == ["P2"]


def test_bbox_keeps_what_intersects_it_like_the_workspace(store, tmp_path):
    frames = sample_frames()
    store.write(frames)
    ws = Workspace(tmp_path / "w.gpkg")
    ws.write(frames)
    bbox = (X + 0.004, Y + 0.004, X + 0.012, Y + 0.008)
    for name in ("divisions", "buildings", "roads", "grids"):
        assert_layer_equal(store.read(name, bbox=bbox), ws.read(name, bbox=bbox))
    assert store.read("buildings", bbox=bbox)["id"].tolist() == ["B2"]


def test_absent_layers_read_empty_like_the_workspace(store, tmp_path):
    assert store.layers() == []
    ws = Workspace(tmp_path / "w.gpkg")
    for name in LAYERS:
        assert_layer_equal(store.read(name), ws.read(name))


def _clashing_units(frames):
    return "units", frames["units"].assign(id=["U9", "U1"])  # U1 is already in the layer


def _overflowing_buildings(frames):
    floors = pd.array([2**31, 1, 1, 1], dtype="Int64")  # beyond PostgreSQL's integer
    return "buildings", frames["buildings"].assign(floors=floors)


@pytest.mark.parametrize(
    ("second", "replace", "error", "message"),
    [
        (_clashing_units, False, DuplicateIdError, "U1 (rows 1; already in the layer)"),
        (_overflowing_buildings, False, StoreError, "integer out of range"),
        (_overflowing_buildings, True, StoreError, "integer out of range"),
    ],
    ids=["id clash", "overflow", "overflow on replace"],
)
def test_write_is_all_or_nothing(store, second, replace, error, message):
    """A layer that fails in the database after another was written leaves both as they were."""
    frames = sample_frames()
    store.write({"divisions": frames["divisions"].iloc[:2], "units": frames["units"].iloc[:1]})
    before = {name: store.read(name) for name in ("divisions", "units", "buildings")}
    name, bad = second(frames)
    with pytest.raises(error, match=re.escape(message)):
        store.write({"divisions": frames["divisions"].iloc[2:], name: bad}, replace=replace)
    for name, frame in before.items():
        assert_layer_equal(store.read(name), frame)


BAD_INPUT = {
    "null level": (
        "divisions",
        lambda f: f.assign(level=[None, *f["level"][1:]]),
        InputError,
        "divisions: level is empty for code 500108000000",
    ),
    "null boolean": (
        "buildings",
        lambda f: f.assign(residents_estimated=pd.array([None, 1, 1, 1], dtype="boolean")),
        InputError,
        "buildings: residents_estimated is empty for id B1",
    ),
    "id twice": (
        "buildings",
        lambda f: f.assign(id=["B1", "B1", "B3", "B4"]),
        DuplicateIdError,
        "duplicate id: B1 (rows 0, 1)",
    ),
    "no id": ("roads", lambda f: f.assign(id=[None, "R2"]), InputError, "no id in row(s) 0"),
    "point grid": (
        "grids",
        lambda f: f.set_geometry([Point(X, Y), _box(0, 0)]),
        InputError,
        "grids: geometry must be POLYGON or MULTIPOLYGON; not so for 500108001001001 (Point)",
    ),
    "crs": ("units", lambda f: f.to_crs(3857), InputError, "must be lon/lat EPSG:4326"),
    "no geometry": ("units", pd.DataFrame, InputError, "units: expected a GeoDataFrame"),
}


@pytest.mark.parametrize(("name", "change", "error", "message"), BAD_INPUT.values(), ids=BAD_INPUT)
def test_bad_input_is_refused_before_anything_is_written(store, name, change, error, message):
    frames = sample_frames()
    with pytest.raises(error, match=re.escape(message)):
        store.write({"staff": frames["staff"], name: change(frames[name])})
    assert store.layers() == []


@pytest.mark.parametrize("divisions_later", [True, False])
def test_district_code_is_the_community_district(store, url, divisions_later):
    frames = sample_frames()
    outside = gpd.GeoDataFrame(
        {"id": ["B9"], "residents": [0], "residents_estimated": [False]},
        geometry=[Point(X - 1, Y)],
        crs=4326,
    )
    buildings = pd.concat([frames["buildings"], outside], ignore_index=True)
    if divisions_later:  # buildings already there get their district when the divisions come
        store.write({"buildings": buildings, "grids": frames["grids"]})
        store.write({"divisions": frames["divisions"]})
    else:
        store.write({"divisions": frames["divisions"], "grids": frames["grids"]})
        store.write({"divisions": frames["divisions"], "buildings": buildings}, replace=True)
    with psycopg.connect(url) as conn:
        codes = dict(conn.execute("SELECT id, district_code FROM gridmap.buildings"))
        grids = dict(conn.execute("SELECT code, district_code FROM gridmap.grids"))
    assert codes == {"B1": D, "B2": D, "B3": D, "B4": D, "B9": ""}  # "": in no district
    assert grids == {C1 + "001": D, C1 + "002": D}


def test_a_connection_pool_works_like_a_url(url):
    frames = sample_frames()
    with ConnectionPool(url, min_size=1, max_size=2) as pool:
        pooled = PostgisLayers(pool)
        pooled.write({"staff": frames["staff"]})
        assert_layer_equal(pooled.read("staff"), PostgisLayers(url).read("staff"))


def test_unreachable_database_is_a_store_error():
    with pytest.raises(StoreError, match=re.escape("127.0.0.1:1")):
        PostgisLayers("postgresql://postgres@127.0.0.1:1/none?connect_timeout=2").layers()


def test_workspace_to_postgis_to_workspace_is_identical(url, tmp_path):
    frames = sample_frames()
    del frames["roads"]  # an absent layer stays absent
    source = Workspace(tmp_path / "source.gpkg")
    source.write(frames)
    counts = load_workspace(source, url)
    assert counts == {name: len(frame) for name, frame in frames.items()}
    back = Workspace(tmp_path / "back.gpkg")
    assert dump_to_workspace(url, back) == counts
    assert back.layers() == source.layers()
    for name in LAYERS:
        assert_layer_equal(back.read(name), source.read(name))
    assert back.summary() | {"workspace": ""} == source.summary() | {"workspace": ""}


def test_many_buildings_round_trip(store):
    rng = np.random.default_rng(7)
    n = 5_000
    points = shapely.points(X + rng.random(n) * 0.02, Y + rng.random(n) * 0.02)
    frame = gpd.GeoDataFrame(
        {
            "id": [f"B{i:05d}" for i in range(n)],
            "name": [f"{i}栋" for i in range(n)],
            "floors": pd.array(
                np.where(rng.random(n) < 0.2, None, rng.integers(1, 30, n)), dtype="Int64"
            ),
            "residents": rng.integers(0, 300, n),
            "residents_estimated": rng.random(n) < 0.5,
        },
        geometry=shapely.buffer(points, 0.0001, quad_segs=2),
        crs=4326,
    )
    store.write({"buildings": frame})
    assert_layer_equal(store.read("buildings"), conform(frame, layer("buildings")))
