"""Plans in the workspace file: partition output stored as revision 1, read back as it was."""

from __future__ import annotations

import geopandas as gpd
import pandas as pd
import pytest
import shapely

from gridmap.engine.plan import dissolve_grids
from gridmap.errors import NotFoundError
from gridmap.service.plans import plan_grids
from gridmap.store import GpkgStore, Workspace


@pytest.fixture
def cells() -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {
            "community_code": ["500108003002"] * 4,
            "atom_id": ["A1", "A2", "A3", "A4"],
            "residents": [1000, 2000, 1500, 1500],
            "households": [400, 700, 600, 500],
            "grid": ["500108003002001"] * 2 + ["500108003002002"] * 2,
        },
        geometry=[
            shapely.box(106.55 + i * 0.001, 29.55, 106.551 + i * 0.001, 29.551) for i in range(4)
        ],
        crs=4326,
        index=pd.Index([f"500108003002-C000{i}" for i in range(1, 5)], name="cell_id"),
    )


def test_plan_round_trip(tmp_path, cells) -> None:  # type: ignore[no-untyped-def]
    grids = dissolve_grids(cells)
    grids["compactness"] = 0.7
    assert grids["residents"].tolist() == [3000, 3000]
    assert shapely.equals(
        grids.geometry.iloc[0], shapely.box(106.55, 29.55, 106.552, 29.551).normalize()
    )
    with GpkgStore(tmp_path / "w.gpkg") as store:
        first = store.create_plan(cells, grids, name="a", params={"target": 3000}, actor="t")
        second = store.create_plan(cells, grids, name="b", params={"target": 2500}, actor="t")
        assert (first.plan_id, second.plan_id) == ("1", "2")
        back = store.revision("1")
    assert back.cells.index.tolist() == cells.index.tolist()
    assert back.cells["grid"].tolist() == cells["grid"].tolist()
    assert back.grids["code"].tolist() == grids["code"].tolist()
    ws = Workspace(tmp_path / "w.gpkg")
    assert ws.read("plans")["id"].tolist() == ["1", "2"]
    assert ws.summary()["plans"] == 2
    with GpkgStore(ws.path) as store:
        assert plan_grids(store, None)[0] == "2"


def test_unknown_plan_names_the_known_ones(tmp_path, cells) -> None:  # type: ignore[no-untyped-def]
    with GpkgStore(tmp_path / "w.gpkg") as store:
        store.create_plan(cells, dissolve_grids(cells), name="a", params={}, actor="t")
    with (
        GpkgStore(tmp_path / "w.gpkg") as store,
        pytest.raises(NotFoundError, match="no plan 9; the plans are: 1"),
    ):
        plan_grids(store, "9")
