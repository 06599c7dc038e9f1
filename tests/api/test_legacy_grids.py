"""Legacy grid layers: ``gridmap check --grids`` weighs them by the workspace's buildings.

The workspace is the hand-made district with community C1 lightened to 5,000 residents
(25 buildings of 200); the legacy layer cuts C1 into ten grids (the inconsistency found in
practice) and C2 (6,000 residents) into two grids.
"""

from __future__ import annotations

import itertools
import json
import shutil
from pathlib import Path

import geopandas as gpd
import handmade
import pytest
import shapely
from typer.testing import CliRunner

from gridmap.cli import app
from gridmap.engine.edits import merge_grids
from gridmap.engine.plan import node_coverage
from gridmap.store import GpkgStore


def run(*args: str) -> tuple[int, dict]:  # type: ignore[type-arg]
    environment = {"GRIDMAP_WORKSPACE": "/nonexistent/workspace.gpkg"}
    result = CliRunner().invoke(app, [*args, "--json"], env=environment)
    return result.exit_code, json.loads(result.stdout)


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("legacy") / "district.gpkg"
    layers = handmade.layers()
    buildings = layers["buildings"]
    buildings.loc[buildings["id"].str.startswith(handmade.C1), "residents"] = 200
    with GpkgStore(path) as store:
        store.write(layers, actor="test")
    return path


def pieces(community: int, columns: list[int], rows: list[int]) -> list[shapely.Polygon]:
    """Boxes of a community cut between its rows and columns of buildings (5 × 5, step 1/5)."""
    x0, step = handmade.X0 + community * handmade.SIDE, handmade.SIDE / 5
    return [
        shapely.box(x0 + a * step, handmade.Y0 + b * step, x0 + c * step, handmade.Y0 + d * step)
        for b, d in itertools.pairwise(rows)
        for a, c in itertools.pairwise(columns)
    ]


def legacy_layer(tmp_path: Path) -> Path:
    # C1: 5 columns × 2 rows of grids, 10 in all; C2: 3 columns and 2 (3,600 and 2,400)
    geoms = pieces(0, [0, 1, 2, 3, 4, 5], [0, 2, 5]) + pieces(1, [0, 3, 5], [0, 5])
    codes = [f"{handmade.C1}{k:03d}" for k in range(1, 11)]
    codes += [f"{handmade.C2}{k:03d}" for k in range(1, 3)]
    path = tmp_path / "legacy.geojson"
    # The file's own populations are stale: the workspace's buildings decide.
    frame = gpd.GeoDataFrame({"code": codes, "residents": 3000}, geometry=geoms, crs=4326)
    frame = node_coverage(frame)  # C2's west edge gains the vertex where C1's rows meet
    frame.to_file(path)
    return path


def test_a_community_of_5000_cut_into_10_grids_is_a_defect(workspace: Path, tmp_path: Path) -> None:
    layer = legacy_layer(tmp_path)
    code, report = run("check", "--grids", str(layer), "--workspace", str(workspace))
    assert code == 1 and not report["ok"]
    (fragmented,) = [i for i in report["issues"] if i["kind"] == "fragmented_community"]
    assert fragmented["severity"] == "error"
    assert fragmented["related"] == [handmade.C1]
    assert fragmented["grids"] == [f"{handmade.C1}{k:03d}" for k in range(1, 11)]
    assert "5,000 residents in 10 grids" in fragmented["detail"]
    far = [i for i in report["issues"] if i["kind"] == "far_out_of_band"]
    assert len(far) == 10 and sorted({i["weight"] for i in far}) == [400, 600]
    assert report["stats"]["weight_total"] == 11_000
    # The other kinds of error stay silent: the strips tile the communities exactly.
    assert {i["kind"] for i in report["issues"] if i["severity"] == "error"} == {
        "fragmented_community"
    }


def test_the_target_decides_what_is_too_many(workspace: Path, tmp_path: Path) -> None:
    layer = legacy_layer(tmp_path)
    args = ("check", "--grids", str(layer), "--workspace", str(workspace), "--target", "500")
    code, report = run(*args)
    assert code == 0 and report["ok"] and report["stats"]["target"] == 500
    assert not [i for i in report["issues"] if i["kind"] == "fragmented_community"]


def test_without_a_workspace_the_file_is_checked_as_drawn(tmp_path: Path) -> None:
    layer = legacy_layer(tmp_path)
    code, report = run("check", "--grids", str(layer))
    assert code == 0 and report["ok"] and report["stats"]["weight"] is None
    code, report = run("check", "--grids", str(layer), "--target", "3000")
    assert code == 0 and report["stats"]["weight"] == "residents"  # the file's column
    code, report = run("check", "--grids", str(layer), "--workspace", str(tmp_path / "none.gpkg"))
    assert code == 2 and "no such workspace" in report["detail"]


def hand_drawn(tmp_path: Path) -> Path:
    """Two grids a community, drawn by hand: C1's overlap by 0.2 of a building row and leave a
    strip uncovered at the east; C2's leave a sliver between them and reach beyond the north."""
    step = handmade.SIDE / 5
    x1, x2, y0 = handmade.X0, handmade.X0 + handmade.SIDE, handmade.Y0
    top = y0 + handmade.SIDE
    geoms = [
        shapely.box(x1, y0, x1 + 2.6 * step, top),
        shapely.box(x1 + 2.4 * step, y0, x1 + 4.8 * step, top),  # overlap, then a gap
        shapely.box(x2, y0, x2 + 2.99 * step, top + 0.1 * step),  # beyond the community
        shapely.box(x2 + 3.0 * step, y0, x2 + 5 * step, top),  # a sliver between
    ]
    codes = [f"{handmade.C1}001", f"{handmade.C1}002", f"{handmade.C2}001", f"{handmade.C2}002"]
    path = tmp_path / "drawn.shp"
    gpd.GeoDataFrame({"wgbm": codes}, geometry=geoms, crs=4326).to_file(path)
    return path


def test_repair_mends_a_hand_drawn_layer_that_check_then_passes(
    workspace: Path, tmp_path: Path
) -> None:
    drawn = hand_drawn(tmp_path)
    check = ("check", "--workspace", str(workspace), "--code-field", "wgbm", "--grids")
    code, before = run(*check, str(drawn))
    kinds = {i["kind"] for i in before["issues"] if i["severity"] == "error"}
    assert code == 1 and {"overlap", "gap", "sliver"} <= kinds, kinds

    mended = tmp_path / "mended.gpkg"
    args = ["repair", "--grids", str(drawn), "--code-field", "wgbm", "--out", str(mended)]
    code, report = run(*args, "--workspace", str(workspace), "--tolerance", "10")
    assert code == 0, report
    assert report["grids"] == 4 and report["out"] == str(mended)
    assert report["changed_cells"] == len(report["changes"]) > 0
    reasons = {c["reason"] for c in report["changes"]}
    assert {"overlap_resolved", "gap_filled"} <= reasons
    assert all(c["area_m2"] > 0 for c in report["changes"])
    assert report["beyond_tolerance"] == sum(c["area_m2"] > 10 for c in report["changes"])

    code, after = run("check", "--workspace", str(workspace), "--grids", str(mended))
    assert code == 0 and after["ok"], [i["detail"] for i in after["issues"]]
    assert after["stats"]["weight_total"] == 11_000  # every building in one grid
    residents = dict(zip(*gpd.read_file(mended)[["code", "residents"]].T.values, strict=True))
    assert sum(residents.values()) == 11_000


def test_repair_refuses_what_it_cannot_read(workspace: Path, tmp_path: Path) -> None:
    drawn = hand_drawn(tmp_path)
    out = str(tmp_path / "out.gpkg")
    code, report = run("repair", "--grids", str(drawn), "--out", out, "--workspace", str(workspace))
    assert code == 2 and "no column 'code'" in report["detail"] and "wgbm" in report["detail"]
    code, report = run("repair", "--grids", str(tmp_path / "none.shp"), "--out", out)
    assert code == 2 and "no such" in report["detail"]


def test_importing_a_hand_drawn_layer_makes_a_draft_plan(workspace: Path, tmp_path: Path) -> None:
    copy = tmp_path / "district.gpkg"
    shutil.copyfile(workspace, copy)
    drawn = hand_drawn(tmp_path)
    args = ["import", str(drawn), "--layer", "grids", "--field", "code=wgbm"]
    code, report = run(*args, "--workspace", str(copy))
    assert code == 0 and report["imported"] == 4, report
    plan = report["plan"]
    assert plan["plan"] == "1" and plan["grids"] == 4 and plan["changed_cells"] > 0
    # The overlap of C1's grids split a column of buildings down the middle: each went to
    # one drawn grid, and snapping gave the column to the other.
    snapped = {s["building"]: s for s in report["snapped"]}
    assert snapped and all(s["residents"] == 200 for s in snapped.values())
    assert all(b.startswith(handmade.C1) for b in snapped)
    assert {(s["from"], s["to"]) for s in snapped.values()} == {
        (f"{handmade.C1}001", f"{handmade.C1}002")
    }
    code, check = run("check", "--workspace", str(copy), "--plan", "1")
    assert code == 0 and check["ok"], check["issues"]
    with GpkgStore(copy) as store:
        assert store.plan("1").status == "draft"
        cells = store.revision("1").cells
    merged = merge_grids(cells, f"{handmade.C1}001", f"{handmade.C1}002")  # the planner edits
    assert len(merged.grids) == 3


def test_a_plan_is_checked_at_the_target_it_was_made_for(workspace: Path, tmp_path: Path) -> None:
    # 5,000 residents in 5 grids is a defect at 3,000 a grid, and the plan at 1,000.
    copy = tmp_path / "district.gpkg"
    shutil.copyfile(workspace, copy)
    code, made = run("partition", "--workspace", str(copy), "--target", "1000", "--workers", "1")
    assert code == 0 and made["plan"] == "1"
    code, report = run("check", "--workspace", str(copy), "--plan", "1")
    assert code == 0 and report["ok"] and report["stats"]["target"] == 1000, report["issues"]
