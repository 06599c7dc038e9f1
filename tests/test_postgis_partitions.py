"""Buildings and grids partitioned by district in PostGIS: where rows land, and migration 002."""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterator
from importlib import resources

import geopandas as gpd
import pandas as pd
import psycopg
import pytest
from psycopg import sql
from shapely.geometry import Point, box

from gridmap.store.postgis import PostgisLayers, apply_migrations, available_migrations

pytestmark = pytest.mark.postgis

# Two districts of Chongqing, side by side (the shapes are made up).
NANAN, YUZHONG = "500108000000", "500103000000"
C_NANAN, C_YUZHONG = "500108001001", "500103001001"
X, Y = 106.56, 29.52


@pytest.fixture
def url(postgis_url: str, drop_database: Callable[[str, str], None]) -> Iterator[str]:
    """A database of its own (created empty, dropped afterwards) on the test server."""
    name = f"gridmap_part_{secrets.token_hex(4)}"
    with psycopg.connect(postgis_url, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    fresh = psycopg.conninfo.make_conninfo(postgis_url, dbname=name)
    try:
        yield fresh
    finally:
        drop_database(postgis_url, name)


def divisions() -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {
            "code": [NANAN, C_NANAN, YUZHONG, C_YUZHONG],
            "name": ["南岸区", "南湖社区", "渝中区", "解放碑社区"],
            "level": ["district", "community", "district", "community"],
        },
        geometry=[
            box(X, Y, X + 1, Y + 1),
            box(X, Y, X + 0.5, Y + 1),
            box(X - 1, Y, X, Y + 1),
            box(X - 1, Y, X - 0.5, Y + 1),
        ],
        crs=4326,
    )


def buildings() -> gpd.GeoDataFrame:
    """Interleaved: Nan'an, Yuzhong, Nan'an, nowhere, Yuzhong."""
    points = [(X + 0.1, Y + 0.1), (X - 0.1, Y + 0.1), (X + 0.7, Y + 0.2), (X + 5, Y), (X - 0.7, Y)]
    return gpd.GeoDataFrame(
        {
            "id": ["B1", "B2", "B3", "B4", "B5"],
            "residents": [10, 20, 30, 40, 50],
            "residents_estimated": [False] * 5,
        },
        geometry=[box(x, y, x + 0.001, y + 0.001) for x, y in points],
        crs=4326,
    )


def grids() -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {"code": [C_NANAN + "001", C_YUZHONG + "001"], "community_code": [C_NANAN, C_YUZHONG]},
        geometry=[box(X, Y, X + 0.5, Y + 1), box(X - 1, Y, X - 0.5, Y + 1)],
        crs=4326,
    )


def placed(url: str, table: str, key: str) -> dict[str, str]:
    """id → the partition (table name) holding it."""
    query = sql.SQL("SELECT {}, tableoid::regclass::text FROM {}").format(
        sql.Identifier(key), sql.Identifier("gridmap", table)
    )
    with psycopg.connect(url) as conn:
        return {k: where.removeprefix("gridmap.") for k, where in conn.execute(query)}


def partition_names(url: str, table: str) -> list[str]:
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid"
            " WHERE i.inhparent = %s::regclass ORDER BY 1",
            (f"gridmap.{table}",),
        ).fetchall()
    return [name for (name,) in rows]


@pytest.mark.parametrize("replace", [True, False], ids=["bulk replace", "append"])
def test_buildings_of_two_districts_land_in_two_partitions(url, replace):
    store = PostgisLayers(url)
    store.write({"divisions": divisions(), "buildings": buildings()}, replace=replace)
    assert placed(url, "buildings", "id") == {
        "B1": f"buildings_{NANAN}",
        "B2": f"buildings_{YUZHONG}",
        "B3": f"buildings_{NANAN}",
        "B4": "buildings_default",  # in no district
        "B5": f"buildings_{YUZHONG}",
    }
    # Read back in the order written, across partitions.
    assert store.read("buildings")["id"].tolist() == ["B1", "B2", "B3", "B4", "B5"]
    # Every partition has its primary key and GiST index (built on attach for a bulk load).
    with psycopg.connect(url) as conn:
        indexes = conn.execute(
            "SELECT tablename, indexdef FROM pg_indexes WHERE schemaname = 'gridmap'"
            " AND tablename = ANY(%s)",
            ([f"buildings_{NANAN}", f"buildings_{YUZHONG}"],),
        ).fetchall()
    for part in (f"buildings_{NANAN}", f"buildings_{YUZHONG}"):
        kinds = {d.split(" USING ")[1].split(" ")[0] for t, d in indexes if t == part}
        assert kinds == {"btree", "gist"}, part


def test_grids_are_partitioned_by_their_community_district(url):
    store = PostgisLayers(url)
    store.write({"grids": grids()}, replace=True)
    assert placed(url, "grids", "code") == {
        C_NANAN + "001": f"grids_{NANAN}",
        C_YUZHONG + "001": f"grids_{YUZHONG}",
    }


def test_replace_drops_the_partitions_of_districts_gone(url):
    store = PostgisLayers(url)
    store.write({"divisions": divisions(), "buildings": buildings()}, replace=True)
    only_nanan = buildings().iloc[[0, 2]]
    store.write({"buildings": only_nanan}, replace=True)
    assert partition_names(url, "buildings") == [f"buildings_{NANAN}", "buildings_default"]
    assert store.read("buildings")["id"].tolist() == ["B1", "B3"]


def test_an_id_in_another_district_is_still_a_duplicate(url):
    from gridmap.errors import DuplicateIdError

    store = PostgisLayers(url)
    store.write({"divisions": divisions(), "buildings": buildings()})
    moved = buildings().iloc[[0]].set_geometry([box(X - 0.2, Y, X - 0.199, Y + 0.001)])
    with pytest.raises(DuplicateIdError, match="B1"):
        store.write({"buildings": moved})  # B1 again, now in Yuzhong
    assert placed(url, "buildings", "id")["B1"] == f"buildings_{NANAN}"


def test_divisions_written_later_move_buildings_into_their_partitions(url):
    store = PostgisLayers(url)
    store.write({"buildings": buildings()})
    assert set(placed(url, "buildings", "id").values()) == {"buildings_default"}
    store.write({"divisions": divisions()})
    where = placed(url, "buildings", "id")
    assert where["B1"] == f"buildings_{NANAN}" and where["B2"] == f"buildings_{YUZHONG}"
    assert where["B4"] == "buildings_default"


def test_migration_002_moves_rows_of_a_version_1_database_into_partitions(url):
    """A database made by 001 alone, holding data, keeps every row through 002…"""
    first = resources.files("gridmap.store").joinpath("sql", "001_layers.sql").read_bytes()
    with psycopg.connect(url) as conn:
        conn.execute(first)
        conn.execute(
            "CREATE TABLE public.gridmap_migrations (version integer PRIMARY KEY,"
            " applied_at timestamptz NOT NULL DEFAULT now())"
        )
        conn.execute("INSERT INTO public.gridmap_migrations VALUES (1)")
        for key, district, x in [("B1", NANAN, X + 0.1), ("B2", None, X + 9), ("B3", NANAN, X)]:
            conn.execute(
                "INSERT INTO gridmap.buildings (id, residents, residents_estimated, geom,"
                " district_code) VALUES (%s, 1, false, ST_SetSRID(ST_MakePoint(%s, %s), 4326), %s)",
                (key, x, Y, district),
            )
        conn.commit()
        assert apply_migrations(conn) == [v for v, _ in available_migrations()][1:]
    assert placed(url, "buildings", "id") == {
        "B1": f"buildings_{NANAN}",
        "B2": "buildings_default",
        "B3": f"buildings_{NANAN}",
    }
    frame = PostgisLayers(url).read("buildings")
    assert frame["id"].tolist() == ["B1", "B2", "B3"]
    assert frame.geometry.tolist() == [Point(X + 0.1, Y), Point(X + 9, Y), Point(X, Y)]
    # … and the sequence goes on after the rows it had.
    PostgisLayers(url).write(
        {
            "buildings": gpd.GeoDataFrame(
                {"id": ["B4"], "residents": [1], "residents_estimated": [True]},
                geometry=[Point(X, Y)],
                crs=4326,
            )
        }
    )
    assert PostgisLayers(url).read("buildings")["id"].tolist() == ["B1", "B2", "B3", "B4"]


def test_the_partition_function_is_safe_to_call_twice(url):
    with psycopg.connect(url) as conn:
        apply_migrations(conn)
        made = conn.execute("SELECT gridmap.district_partition('grids', %s)", (NANAN,)).fetchone()
        again = conn.execute("SELECT gridmap.district_partition('grids', %s)", (NANAN,)).fetchone()
        odd = conn.execute("SELECT gridmap.district_partition('grids', 'x; drop')").fetchone()
    assert made == again == (f"grids_{NANAN}",)
    assert odd == ("grids_default",)  # not a 12-digit code: no partition made for it
    assert partition_names(url, "grids") == [f"grids_{NANAN}", "grids_default"]


def test_read_is_the_same_whichever_way_the_layer_was_written(url):
    bulk = PostgisLayers(url)
    bulk.write({"divisions": divisions(), "buildings": buildings()}, replace=True)
    first = bulk.read("buildings")
    bulk.write({"buildings": buildings().iloc[:0]}, replace=True)
    bulk.write({"buildings": buildings()})
    appended = bulk.read("buildings")
    pd.testing.assert_frame_equal(pd.DataFrame(first), pd.DataFrame(appended))
