"""gridmap partition, check, locate and export --plan on the sample workspace."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import geopandas as gpd
import pytest
import shapely
from typer.testing import CliRunner

from gridmap.cli import app
from gridmap.store import Workspace

COMMUNITIES = ["500108003002", "500108003004", "500108108205"]


def run(*args: str) -> tuple[int, dict]:  # type: ignore[type-arg]
    result = CliRunner().invoke(app, [*args, "--json"])
    return result.exit_code, json.loads(result.stdout)


@pytest.fixture(scope="module")
def planned(sample_build: dict, tmp_path_factory: pytest.TempPathFactory) -> Path:  # type: ignore[type-arg]
    path = tmp_path_factory.mktemp("plans") / "nanan.gpkg"
    shutil.copyfile(sample_build["workspace"], path)
    args = ["partition", "--workspace", str(path), "--workers", "1"]
    for code in COMMUNITIES:
        args += ["--community", code]
    code, report = run(*args)
    assert code == 0, report
    assert report["plan"] == "1" and report["communities"] == 3
    return path


def test_partition_reports_every_grid_out_of_band(planned: Path) -> None:
    _, grids = Workspace(planned).read("plans"), Workspace(planned).read("plan_grids")
    assert set(grids["community_code"]) == set(COMMUNITIES)
    assert grids["code"].str.len().eq(15).all()
    out_of_band = grids[(grids["residents"] - 3000).abs() > 600]
    # every grid outside the band is explained in the report stored with the run
    code, report = run(
        "partition", "--workspace", str(planned), "--workers", "1", "--community", COMMUNITIES[0]
    )
    assert code == 0 and report["plan"] == "2"
    explained = " ".join(report["explained"])
    for grid in out_of_band[out_of_band["community_code"] == COMMUNITIES[0]]["code"]:
        assert grid in explained


def test_check_of_the_plan_is_valid(planned: Path) -> None:
    code, report = run("check", "--workspace", str(planned), "--plan", "1")
    errors = [i for i in report["issues"] if i["severity"] == "error"]
    assert code == 0 and report["ok"] and not errors, errors


def test_check_of_a_hand_drawn_layer_finds_its_gap(planned: Path, tmp_path: Path) -> None:
    grids = Workspace(planned).read("plan_grids")
    grids = grids[grids["plan_id"] == "1"].copy()
    first = grids.index[0]
    grids.loc[first, "geometry"] = grids.loc[first, "geometry"].buffer(-0.0003)
    drawn = tmp_path / "drawn.geojson"
    grids[["code", "geometry"]].to_file(drawn)
    divisions = Workspace(planned).read("divisions")
    boundary = tmp_path / "communities.geojson"
    divisions[divisions["code"].isin(COMMUNITIES)][["code", "geometry"]].to_file(boundary)
    code, report = run("check", "--grids", str(drawn), "--boundary", str(boundary))
    assert code == 1 and not report["ok"]
    gaps = [i for i in report["issues"] if i["kind"] in ("gap", "sliver")]
    assert gaps and grids.loc[first, "code"] in gaps[0]["grids"]


def test_locate_names_grid_community_street(planned: Path) -> None:
    grids = Workspace(planned).read("plan_grids")
    grid = grids[grids["plan_id"] == "1"].iloc[0]
    point = shapely.point_on_surface(grid.geometry)
    code, answer = run(
        "locate", str(point.x), str(point.y), "--workspace", str(planned), "--plan", "1"
    )
    assert code == 0
    assert answer["grid"]["code"] == grid["code"]
    assert answer["community"]["code"] == grid["community_code"]
    assert answer["street"]["name"].endswith(("街道", "镇"))
    assert answer["district"]["name"] == "南岸区"
    assert answer["distance_to_edge_m"] > 0
    code, outside = run("locate", "106.40", "29.40", "--workspace", str(planned))
    assert code == 0 and outside["grid"] is None


def test_export_plan(planned: Path, tmp_path: Path) -> None:
    out = tmp_path / "plan1.gpkg"
    code, result = run("export", "--workspace", str(planned), "--plan", "1", "--out", str(out))
    assert code == 0 and result["plan"] == "1"
    back = gpd.read_file(out)
    stored = Workspace(planned).read("plan_grids")
    assert sorted(back["code"]) == sorted(stored[stored["plan_id"] == "1"]["code"])
    code, missing = run(
        "export", "--workspace", str(planned), "--plan", "9", "--out", str(tmp_path / "x.gpkg")
    )
    assert code == 2 and missing["error"] == "not_found"


def test_partition_max_area_splits_large_grids_and_reports_areas(planned: Path) -> None:
    args = ["partition", "--workspace", str(planned), "--workers", "1"]
    _, before = run(*args, "--community", COMMUNITIES[0])
    largest = max(before["by_community"][0]["grid_areas_km2"].values())
    code, report = run(*args, "--community", COMMUNITIES[0], "--max-area-km2", str(largest * 0.6))
    assert code == 0, report
    areas = report["by_community"][0]["grid_areas_km2"]
    assert len(areas) > before["grids"]
    assert any("split by area" in note for note in report["explained"])
