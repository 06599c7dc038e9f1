"""The offices layer through the importer: CSV points, the community filled from where they are."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import pytest
import shapely

from gridmap.io.importer import import_file
from gridmap.store import Workspace

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


@pytest.fixture
def workspace(tmp_path: Path) -> Workspace:
    src = tmp_path / "communities.geojson"
    COMMUNITIES.to_file(src)
    ws = Workspace(tmp_path / "w.gpkg")
    assert import_file(ws, src, "divisions").imported == 2
    return ws


def test_offices_csv_with_lon_lat(workspace: Workspace, tmp_path: Path) -> None:
    csv = tmp_path / "offices.csv"
    csv.write_text(
        "id,name,address,phone,hours,lon,lat,community_code\n"
        "O1,福红路社区居民委员会,重庆市南岸区福红路1号,023-0001-0001,"
        "周一至周五 09:00-12:00 14:00-17:30,106.565,29.525,\n"
        "O2,百货街社区居民委员会,,,,106.575,29.525,500108003002\n",
        encoding="utf-8",
    )
    report = import_file(workspace, csv, "offices")
    assert report.imported == 2 and not report.rejected
    assert "community_code_filled" in {w.kind for w in report.warnings}
    offices = workspace.read("offices").set_index("id")
    assert offices.at["O1", "community_code"] == "500108003001"  # filled from the point
    assert offices.at["O1", "hours"].startswith("周一至周五")
    assert offices.geometry.geom_type.tolist() == ["Point", "Point"]
    assert offices["phone"].isna().tolist() == [False, True]


def test_an_office_that_is_not_a_point_is_rejected(workspace: Workspace, tmp_path: Path) -> None:
    src = tmp_path / "offices.geojson"
    gpd.GeoDataFrame(
        {"id": ["O1", "O2"], "name": ["福红路社区居民委员会", "百货街社区居民委员会"]},
        geometry=[shapely.Point(106.565, 29.525), shapely.box(106.571, 29.521, 106.572, 29.522)],
        crs=4326,
    ).to_file(src)
    report = import_file(workspace, src, "offices")
    assert report.imported == 1
    [rejected] = report.rejected
    assert rejected.id == "O2" and rejected.kind == "wrong_geometry_type"
    assert "this layer takes points" in rejected.detail
