"""`gridmap sample`: the Nan'an workspace, built through the importer, as the README promises."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from gridmap.sample import SAMPLE_LAYERS
from gridmap.store import Workspace


def test_summary_has_the_real_frame_and_a_city_below_it(sample_build: dict) -> None:
    summary = sample_build["summary"]
    assert (summary["districts"], summary["streets"], summary["communities"]) == (1, 15, 153)
    assert 1_140_000 <= summary["residents"] <= 1_260_000
    assert summary["buildings"] > 15_000 and summary["roads"] > 100
    assert summary["units"]["compound"] > 250 and summary["units"]["social_unit"] > 153
    # about 3,000 residents per grid makes a few hundred grids, and staff for them: a grid
    # head each, the police and assistants shared by a community's grids
    assert 350 <= summary["residents"] / 3000 <= 450
    assert 2 * 350 <= summary["staff"] <= 4 * 450


def test_every_layer_went_through_the_importer_without_loss(sample_build: dict) -> None:
    reports = {r["layer"]: r for r in sample_build["imports"]}
    assert tuple(reports) == SAMPLE_LAYERS
    for report in reports.values():
        assert report["accounted"] and report["read"] == report["imported"]
        assert not report["rejected"] and not report["repaired"]
    warned = {w["kind"] for r in reports.values() for w in r["warnings"]}
    assert "outside_communities" not in warned and "divisions_overlap" not in warned
    # some low-rise buildings come without residents: the importer estimated them
    assert sample_build["summary"]["residents_estimated_buildings"] > 1000


def test_workspace_layers_match_the_summary(sample_build: dict) -> None:
    ws = Workspace(sample_build["workspace"])
    assert ws.layers() == list(SAMPLE_LAYERS)
    divisions = ws.read("divisions").set_index("code")
    assert divisions.at["500108000000", "name"] == "南岸区"
    assert divisions.at["500108003000", "name"] == "南坪街道"
    community = divisions[divisions["level"] == "community"].iloc[0]
    assert community["short_name"] in community["name"] and community["name"].endswith("委员会")
    staff = ws.read("staff")
    assert staff["phone_public"].str.startswith("023-0000-").all()
    assert staff["name"].str.contains("某").all()


def test_same_seed_same_workspace(sample_build: dict, sample_build_again: dict) -> None:
    again = sample_build_again  # build_sample(…, seed=0) again, generated anew
    first, second = Workspace(sample_build["workspace"]), Workspace(again["workspace"])
    for name in SAMPLE_LAYERS:
        a, b = first.read(name), second.read(name)
        assert a.equals(b), name


def test_cli_sample_prints_its_summary(tmp_path: Path) -> None:
    gridmap = Path(sys.executable).with_name("gridmap")
    run = subprocess.run(
        [str(gridmap), "sample", "--out", str(tmp_path / "n.gpkg"), "--seed", "3", "--json"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 0, run.stderr
    payload = json.loads(run.stdout)
    assert payload["seed"] == 3 and payload["summary"]["communities"] == 153
    shown = subprocess.run(
        [str(gridmap), "summary", "--workspace", str(tmp_path / "n.gpkg")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert shown.returncode == 0 and "153" in shown.stdout and "communities" in shown.stdout


@pytest.mark.postgis
def test_sample_round_trips_through_postgis(
    sample_build: dict, postgis_url: str, tmp_path: Path
) -> None:
    import psycopg
    import shapely

    from gridmap.store import dump_to_workspace, load_workspace

    source = Workspace(sample_build["workspace"])
    load_workspace(source, postgis_url)
    with psycopg.connect(postgis_url) as conn:
        indexed = {
            row[0]
            for row in conn.execute(
                "SELECT tablename FROM pg_indexes WHERE schemaname = 'gridmap' "
                "AND indexdef ILIKE '%USING gist%'"
            )
        }
    assert {"divisions", "units", "buildings", "roads"} <= indexed
    back = Workspace(tmp_path / "back.gpkg")
    dump_to_workspace(postgis_url, back)
    for name in SAMPLE_LAYERS:
        a, b = source.read(name), back.read(name)
        assert len(a) == len(b) and list(a.columns) == list(b.columns), name
        attrs = [c for c in a.columns if c != "geometry"]
        assert a[attrs].equals(b[attrs]), name
        if "geometry" in a:
            assert shapely.equals_exact(
                a.geometry.values, b.geometry.values, tolerance=1e-9
            ).all(), name
