"""Plans in the workspace: saved whole, loaded back as they were, dissolved grids exact."""

from __future__ import annotations

import geopandas as gpd
import pandas as pd
import pytest
import shapely

from gridmap.engine.plan import dissolve_grids
from gridmap.errors import NotFoundError
from gridmap.store import Workspace
from gridmap.store.plans import list_plans, load_plan, save_plan


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
    ws = Workspace(tmp_path / "w.gpkg")
    first = save_plan(ws, cells, grids, {"target": 3000, "tolerance": 0.2, "seed": 1})
    second = save_plan(ws, cells, grids, {"target": 2500})
    assert (first, second) == ("1", "2")
    meta, back_cells, back_grids = load_plan(ws, "1")
    assert meta["status"] == "draft" and meta["target"] == 3000 and meta["seed"] == 1
    assert back_cells.index.tolist() == cells.index.tolist()
    assert back_cells["grid"].tolist() == cells["grid"].tolist()
    assert back_grids["code"].tolist() == grids["code"].tolist()
    assert list_plans(ws)["id"].tolist() == ["1", "2"]
    assert ws.summary()["plans"] == 2


def test_unknown_plan_names_the_known_ones(tmp_path, cells) -> None:  # type: ignore[no-untyped-def]
    ws = Workspace(tmp_path / "w.gpkg")
    grids = dissolve_grids(cells).assign(compactness=0.5)
    save_plan(ws, cells, grids, {})
    with pytest.raises(NotFoundError, match="no plan 9; the plans are: 1"):
        load_plan(ws, "9")
