"""Community offices within reach: a hand-built community whose office sits at its far edge,
figures worked out by hand; and ``gridmap offices`` on the sample."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
import shapely
from shapely import LineString, Point, box

from gridmap.engine.offices import office_reach, road_graph

# A community 1,600 m (east-west) × 600 m, in UTM 48N metres from this origin; a road runs
# along its middle (y = 300, a vertex every 20 m); 20 buildings of 100 residents stand 20 m north
# of it at x = 40, 120, …, 1560.
X0, Y0 = 660_000.0, 3_270_000.0
UTM = 32648


def _lonlat(geoms: list[shapely.Geometry]) -> gpd.GeoSeries:
    moved = [shapely.affinity.translate(g, X0, Y0) for g in geoms]
    return gpd.GeoSeries(moved, crs=UTM).to_crs(4326)


def _world(office_at: tuple[float, float], *, roads: bool = True):  # type: ignore[no-untyped-def]
    communities = gpd.GeoDataFrame(
        {"code": ["500108002001"], "short_name": ["长条社区"]},
        geometry=_lonlat([box(0, 0, 1600, 600)]),
    )
    xs = 40 + 80 * np.arange(20)
    buildings = gpd.GeoDataFrame(
        {"residents": np.full(20, 100)}, geometry=_lonlat([Point(x, 320) for x in xs])
    )
    lines = [LineString([(x, 300) for x in range(0, 1601, 20)])] if roads else []
    road_frame = gpd.GeoDataFrame(geometry=_lonlat(lines) if lines else gpd.GeoSeries(crs=4326))
    offices = gpd.GeoDataFrame(
        {"id": ["O1"], "community_code": ["500108002001"], "name": ["长条社区居民委员会"]},
        geometry=_lonlat([Point(*office_at)]),
    )
    return communities, buildings, road_frame, offices


def test_an_office_at_the_far_edge_is_named_with_its_figures() -> None:
    # The office stands at (1595, 290): 5 m from the east edge, its road node (1600, 300) is
    # 11.180 m away. A building at x walks 20 + (1600 - x) + 11.180 m, i.e. 71.180 + 80 j m
    # for j = 0 … 19, at 75 m/min.
    report = office_reach(*_world((1595, 290)), metric_epsg=UTM)
    (row,) = report.table.to_dict("records")
    assert row["office_id"] == "O1" and row["buildings"] == 20 and row["residents"] == 2000
    assert row["median_min"] == 10.5  # j = 9: 791.180 m
    assert row["p90_min"] == 19.1  # j = 17: 1,431.180 m
    assert row["max_min"] == 21.2  # j = 19: 1,591.180 m
    assert row["share_over_15"] == 0.3  # j = 14 … 19 walk more than 1,125 m
    assert row["share_over_30"] == 0.0
    assert row["edge_m"] == 5.0 and row["depth_m"] == 300.0
    assert row["straight_line_buildings"] == 0
    # From the centre (800, 300) the 90th percentile is 20 + 680 m = 9.3 min: far, and at
    # the edge (5 m against a tenth of 300 m).
    assert row["badly_placed"] and row["flags"] == ["edge", "far"]
    assert "5 m" in row["problems"][0] and "19 min" in row["problems"][1]
    assert report.to_json()["badly_placed"] == 1


def test_an_office_in_the_middle_is_well_placed() -> None:
    report = office_reach(*_world((800, 290)), metric_epsg=UTM)
    (row,) = report.table.to_dict("records")
    assert row["p90_min"] == pytest.approx((20 + 680 + 10) / 75, abs=0.05)
    assert row["edge_m"] == 290.0 and not row["badly_placed"] and row["flags"] == []


def test_without_roads_every_walk_is_a_straight_line() -> None:
    report = office_reach(*_world((1595, 290), roads=False), metric_epsg=UTM)
    (row,) = report.table.to_dict("records")
    assert row["straight_line_buildings"] == 20
    # the farthest building, (40, 320) to (1595, 290)
    assert row["max_min"] == pytest.approx(np.hypot(1555, 30) / 75, abs=0.05)


def test_an_office_outside_its_community_and_a_community_without_one() -> None:
    communities, buildings, roads, offices = _world((1700, 290))
    report = office_reach(communities, buildings, roads, offices, metric_epsg=UTM)
    assert report.table.loc[0, "flags"][0] == "outside" and report.table.loc[0, "edge_m"] < 0
    none = office_reach(communities, buildings, roads, offices.iloc[:0], metric_epsg=UTM)
    assert none.table.loc[0, "flags"] == ["no_office"]
    with pytest.raises(Exception, match="offices lacks column"):
        office_reach(communities, buildings, roads, offices.drop(columns="name"))


def test_dead_ends_short_of_a_street_are_joined() -> None:
    street = LineString([(0, 0), (400, 0)])
    lane = LineString([(200, 20), (200, 200)])  # stops 20 m short of the street
    graph, xy = road_graph(np.array([street, lane]))
    far_end = int(np.flatnonzero((xy[:, 0] == 200) & (xy[:, 1] == 200))[0])
    import networkx as nx

    assert nx.has_path(graph, 0, far_end)


def test_gridmap_offices_on_the_sample(sample_build: dict, tmp_path: Path) -> None:  # type: ignore[type-arg]
    # a copy: opening a workspace as a store adds the store's tables, and other tests compare
    # the session's sample with what they load from it
    workspace = tmp_path / "nanan.gpkg"
    shutil.copyfile(sample_build["workspace"], workspace)
    done = subprocess.run(
        [
            str(Path(sys.executable).with_name("gridmap")),
            "offices",
            "--json",
            "--workspace",
            str(workspace),
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    answer = json.loads(done.stdout)
    rows = answer["rows"]
    assert answer["communities"] == len(rows) > 100
    bad = [r for r in rows if r["badly_placed"]]
    assert answer["badly_placed"] == len(bad) > 0
    assert all(r["office_name"] and r["flags"] and r["problems"] for r in bad)
    # badly placed first; each figure where it belongs
    assert rows[: len(bad)] == bad
    good = rows[len(bad) :]
    assert all(0 <= r["share_over_30"] <= r["share_over_15"] <= 1 for r in rows if r["office_id"])
    assert all(r["median_min"] <= r["p90_min"] <= r["max_min"] for r in good)
