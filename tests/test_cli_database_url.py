"""``gridmap partition|check|locate|export --database-url``: the plan commands on PostGIS.

The Nan'an sample is loaded with ``gridmap db load`` into a database of its own; every command
runs as a real process against it, and answers as it does on the GeoPackage workspace.
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import geopandas as gpd
import psycopg
import pytest
import shapely
from psycopg import sql

from gridmap.store import open_store
from gridmap.store.tilesets import ready_tile_set, source_stamp

pytestmark = pytest.mark.postgis

GRIDMAP = str(Path(sys.executable).with_name("gridmap"))  # the installed command
COMMUNITY = "500108003002"


def gridmap(*args: str) -> tuple[int, dict]:  # type: ignore[type-arg]
    """Run ``gridmap ARGS --json`` in its own process: (exit code, the JSON it printed)."""
    env = {**os.environ, "GRIDMAP_DATABASE_URL": "", "GRIDMAP_WORKSPACE": "/nonexistent/w.gpkg"}
    done = subprocess.run(
        [GRIDMAP, *args, "--json"], capture_output=True, text=True, timeout=600, env=env
    )
    lines = done.stdout.strip().splitlines()
    assert lines, done.stderr
    return done.returncode, json.loads(lines[-1])


@pytest.fixture(scope="module")
def url(sample_build: dict, postgis_url: str) -> Iterator[str]:  # type: ignore[type-arg]
    """A database holding the sample's layers (``gridmap db load``) and one partitioned
    community (``gridmap partition --database-url``), dropped afterwards."""
    name = f"gridmap_cliurl_{secrets.token_hex(4)}"
    with psycopg.connect(postgis_url, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    fresh = urlunsplit(urlsplit(postgis_url)._replace(path=f"/{name}"))
    try:
        code, loaded = gridmap("db", "load", "--from", str(sample_build["workspace"]),
                               "--database-url", fresh)  # fmt: skip
        assert code == 0, loaded
        yield fresh
    finally:
        with psycopg.connect(postgis_url, autocommit=True) as conn:
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )


@pytest.fixture(scope="module")
def planned(url: str) -> dict:  # type: ignore[type-arg]
    """The report of ``gridmap partition --database-url`` of one community."""
    code, report = gridmap("partition", "--database-url", url, "--community", COMMUNITY,
                           "--workers", "1")  # fmt: skip
    assert code == 0, report
    return report


def test_load_prebuilt_the_tiles_of_the_layers(url: str) -> None:
    # `gridmap db load` prebuilds the tiles by default (test_postgis_db_cli's loads pass
    # --no-tiles); first in the module, before a plan is made.
    store = open_store(url)
    try:
        found = ready_tile_set(store, source_stamp(store))
    finally:
        store.close()
    assert found is not None and found.tiles > 0


def test_partition_stores_a_draft_plan_in_the_database(url: str, planned: dict) -> None:  # type: ignore[type-arg]
    assert planned["plan"] == "1" and planned["communities"] == 1 and planned["grids"] >= 2
    store = open_store(url)
    try:
        grids = store.revision("1").grids
        assert store.plan("1").status == "draft"
    finally:
        store.close()
    assert set(grids["community_code"]) == {COMMUNITY} and len(grids) == planned["grids"]


def test_check_proves_the_plan_s_coverage(url: str, planned: dict) -> None:  # type: ignore[type-arg]
    code, report = gridmap("check", "--database-url", url, "--plan", planned["plan"])
    errors = [i for i in report["issues"] if i["severity"] == "error"]
    assert code == 0 and report["ok"] and not errors, errors
    assert report["stats"]["grids"] == planned["grids"]


def test_locate_names_grid_community_street_district(url: str, planned: dict) -> None:  # type: ignore[type-arg]
    store = open_store(url)
    try:
        grid = store.revision(planned["plan"]).grids.iloc[0]
    finally:
        store.close()
    point = shapely.point_on_surface(grid.geometry)
    code, answer = gridmap("locate", str(point.x), str(point.y), "--database-url", url)
    assert code == 0, answer
    assert answer["plan"] == planned["plan"] and answer["grid"]["code"] == grid["code"]
    assert answer["community"]["code"] == COMMUNITY
    assert answer["street"]["code"] == "500108003000" and answer["street"]["name"]
    assert answer["district"]["name"] == "南岸区"


def test_export_writes_the_plan_and_a_layer(url: str, planned: dict, tmp_path: Path) -> None:  # type: ignore[type-arg]
    out = tmp_path / "plan.geojson"
    code, result = gridmap("export", "--database-url", url, "--plan", "1", "--out", str(out))
    assert code == 0 and result["plan"] == "1" and result["features"] == planned["grids"]
    assert len(gpd.read_file(out)) == planned["grids"]
    out = tmp_path / "divisions.gpkg"
    code, result = gridmap("export", "--database-url", url, "--layer", "divisions",
                           "--out", str(out))  # fmt: skip
    assert code == 0, result
    assert COMMUNITY in set(gpd.read_file(out)["code"])


def test_a_missing_plan_and_two_targets_are_clear_errors(url: str, tmp_path: Path) -> None:
    code, missing = gridmap("check", "--database-url", url, "--plan", "9")
    assert code == 2 and missing["error"] == "not_found" and "no plan 9" in missing["detail"]
    code, both = gridmap("locate", "106.5", "29.5", "--database-url", url,
                         "--workspace", str(tmp_path / "w.gpkg"))  # fmt: skip
    assert code == 2 and "not both" in both["detail"]
    code, absent = gridmap("check", "--workspace", str(tmp_path / "none.gpkg"))
    assert code == 2 and absent["error"] == "not_found" and "none.gpkg" in absent["detail"]
    assert not (tmp_path / "none.gpkg").exists()  # a read never creates a workspace
    code, not_url = gridmap("partition", "--database-url", "dbname=gridmap host=db")
    assert code == 2 and "expected a URL postgresql://" in not_url["detail"]
