"""gridmap.service: one GridLocator for every point-to-grid question; the Locator of a store
and the search that follows its refreshes. Hand-drawn grids in a real GeoPackage store."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import pytest
import shapely

from gridmap.errors import NotFoundError
from gridmap.service.grids import GridLocator, locate_points
from gridmap.service.lookup import Locator
from gridmap.service.search import Search
from gridmap.settings import Settings
from gridmap.store import open_store

C1 = "500108003002"
G1, G2 = C1 + "001", C1 + "002"


@pytest.fixture
def grids() -> gpd.GeoDataFrame:
    east = shapely.box(106.56, 29.55, 106.57, 29.56)
    west = shapely.box(106.55, 29.55, 106.56, 29.56)
    return gpd.GeoDataFrame(
        {"code": [G2, G1], "community_code": C1, "name": [None, "南湖一网格"]},
        geometry=[east, west],
        crs=4326,
    )


def test_points_footprints_and_none(grids: gpd.GeoDataFrame) -> None:
    where = GridLocator(grids)
    points = shapely.points([106.555, 106.56, 106.565, 107.0], [29.555] * 4)
    # a point on the shared edge goes to the smallest code, every time; outside: None
    assert where.grid_codes(points) == [G1, G1, G2, None]
    assert locate_points(grids, points) == [G1, G1, G2, None]
    straddling = gpd.GeoSeries([shapely.box(106.559, 29.551, 106.5615, 29.552)], crs=4326)
    assert where.assign(straddling) == [G2]  # most of its area is in G2
    one = where.locate_one(106.5599, 29.555)
    assert one is not None and (one.grid, one.neighbour) == (G1, G2)
    assert where.community_of(G2) == C1


def test_no_grids_answer_none_rather_than_fail(grids: gpd.GeoDataFrame) -> None:
    empty = GridLocator(grids.iloc[:0])
    assert empty.locate_one(106.555, 29.555) is None
    assert empty.grid_codes(([106.555, 106.6], [29.555, 29.555])) == [None, None]
    assert empty.assign(grids.geometry) == [None, None]
    assert empty.inner_points()[0] == []


def test_locator_and_search_follow_a_publication(grids: gpd.GeoDataFrame, tmp_path: Path) -> None:
    store = open_store(tmp_path / "w.gpkg")
    try:
        locator = Locator(store, Settings(workspace=tmp_path / "w.gpkg"))
        search = Search(locator)
        locator.refresh()
        with pytest.raises(NotFoundError, match="nothing is published"):
            locator.locate(106.555, 29.555)
        assert search.search("网格") == []
        cells = grids.rename(columns={"code": "grid"}).assign(
            atom_id=["a2", "a1"], residents=[10, 20], households=[4, 8]
        )
        cells.index = ["c2", "c1"]
        cells.index.name = "cell_id"
        made = store.create_plan(
            cells[["community_code", "atom_id", "residents", "households", "grid", "geometry"]],
            grids[["code", "community_code", "geometry"]],
            name="hand",
            params={},
            actor="test",
        )
        store.publish([made.plan_id], actor="test")
        locator.refresh()
        answer = locator.locate(106.5599, 29.555)
        assert answer["grid"]["code"] == G1 and answer["neighbour"]["code"] == G2
        assert answer["street"]["code"] == "500108003000"
        hits = search.search(G2)  # rebuilt by the refresh it subscribed to
        assert [h["id"] for h in hits] == [G2] and hits[0]["name"] == "500108003002第2网格"
    finally:
        store.close()
