"""Reference layers through the Store: round trip, bbox through the index, all-or-nothing."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

from gridmap.errors import DuplicateIdError, InputError
from gridmap.schema import LAYERS
from gridmap.store import Store, open_store

D, S, C = "500108000000", "500108003000", "500108003002"


def divisions() -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {
            "code": [D, S, C],
            "name": ["南岸区", "南坪街道办事处", "南湖社区居民委员会"],
            "short_name": [None, "南坪街道", "南湖社区"],
            "level": ["district", "street", "community"],
            "parent_code": [None, D, S],
        },
        geometry=[shapely.box(106.5, 29.5, 106.7, 29.6)] * 2
        + [shapely.box(106.5, 29.5, 106.6, 29.55)],
        crs=4326,
    )


def buildings(n: int = 400, start: int = 0) -> gpd.GeoDataFrame:
    i = np.arange(start, start + n)
    x, y = 106.5 + (i % 20) * 0.001, 29.5 + (i // 20) * 0.001
    geoms = shapely.box(x, y, x + 0.0005, y + 0.0005).astype(object)
    geoms[0] = shapely.Point(x[0], y[0])  # a building known only as a point
    return gpd.GeoDataFrame(
        {
            "id": [f"B{k}" for k in i],
            "name": [f"{k}栋" for k in i],
            "floors": pd.array([6] * (n - 1) + [None], dtype="Int64"),
            "households": 10,
            "residents": 26,
            "residents_estimated": False,
        },
        geometry=geoms,
        crs=4326,
    )


def staff() -> pd.DataFrame:
    return pd.DataFrame(
        {"id": ["P1", "P2"], "name": ["张某一", "李某二"], "role": ["police", "grid_head"]}
    )


def test_layers_round_trip(store: Store) -> None:
    assert store.layers() == []
    store.write({"divisions": divisions(), "buildings": buildings(), "staff": staff()}, actor="im")
    assert store.layers() == ["divisions", "buildings", "staff"]
    div = store.read("divisions")
    assert div["code"].tolist() == [D, S, C] and div["name"].iloc[0] == "南岸区"
    assert div["short_name"].isna().tolist() == [True, False, False]
    assert div.crs.to_epsg() == 4326 and div.geometry.iloc[0].geom_type == "Polygon"
    bld = store.read("buildings")
    assert len(bld) == 400 and bld.geometry.iloc[0].geom_type == "Point"
    assert shapely.equals(bld.geometry.values, buildings().geometry.values).all()
    assert bld["floors"].isna().tolist()[-1] and bld["floors"].iloc[0] == 6
    assert store.read("staff")["name"].tolist() == ["张某一", "李某二"]
    assert any(a.action == "write" and a.actor == "im" for a in store.audit())


def test_read_by_bbox(store: Store) -> None:
    store.write({"buildings": buildings()}, actor="im")
    inside = store.read("buildings", bbox=(106.5012, 29.5012, 106.5032, 29.5022))
    assert sorted(inside["id"]) == ["B21", "B22", "B23", "B41", "B42", "B43"]
    assert store.read("buildings", bbox=(107.0, 30.0, 107.1, 30.1)).empty
    with pytest.raises(InputError, match="bbox"):
        store.read("buildings", bbox=(1.0, 2.0, 0.0, 3.0))


def test_empty_and_unknown_layers(store: Store) -> None:
    empty = store.read("roads")
    assert empty.empty and list(empty.columns) == [*LAYERS["roads"].column_names, "geometry"]
    with pytest.raises(InputError, match="nowhere"):
        store.read("nowhere")
    with pytest.raises(InputError):
        store.read("plans")  # a store table, not a reference layer


def test_append_replace_and_all_or_nothing(store: Store) -> None:
    store.write({"buildings": buildings(10)}, actor="im")
    store.write({"buildings": buildings(5, start=10)}, actor="im")
    assert len(store.read("buildings")) == 15
    with pytest.raises(DuplicateIdError, match="B3"):
        store.write({"divisions": divisions(), "buildings": buildings(5)}, actor="im")
    assert "divisions" not in store.layers() and len(store.read("buildings")) == 15
    bad = buildings(3, start=100)
    bad.loc[1, "geometry"] = shapely.LineString([(106.5, 29.5), (106.6, 29.6)])
    with pytest.raises(InputError, match="B101"):
        store.write({"staff": staff(), "buildings": bad}, actor="im")
    assert store.layers() == ["buildings"]
    store.write({"buildings": buildings(2)}, replace=True, actor="im")
    assert store.read("buildings")["id"].tolist() == ["B0", "B1"]


def test_store_tables_are_not_reference_layers(store: Store) -> None:
    with pytest.raises(InputError, match="plans"):
        store.write({"plans": pd.DataFrame({"id": ["1"]})}, actor="im")


def test_open_store_picks_the_engine(store_target: tuple[str, str]) -> None:
    engine, target = store_target
    with open_store(target) as opened:  # type: ignore[attr-defined]
        assert type(opened).__name__ == {"gpkg": "GpkgStore", "postgis": "PostgisStore"}[engine]
        assert isinstance(opened, Store) and opened.plans() == []
