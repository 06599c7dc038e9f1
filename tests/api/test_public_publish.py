"""A publication through ``gridmap publish`` reaches lookups and tiles once the app refreshes
(what the publish endpoint does): on a copy of the published sample workspace."""

from __future__ import annotations

import json
import shutil

import mapbox_vector_tile
from fastapi.testclient import TestClient
from published import ACTOR, REPLANNED, api_settings, sample_gpkg, tile_of
from typer.testing import CliRunner

from gridmap.api import create_app
from gridmap.cli import app as cli
from gridmap.store import GpkgStore

__all__ = [  # fixtures of the published sample, imported for pytest to find
    "sample_gpkg",
]


def _codes(client: TestClient, path: str) -> set[str]:
    layer = mapbox_vector_tile.decode(client.get(path).content)["grids"]
    return {f["properties"]["code"] for f in layer["features"]}


def test_publish_command_then_refresh_and_invalidate_show_the_new_grids(
    sample_gpkg, tmp_path
) -> None:
    path = tmp_path / "copy.gpkg"
    shutil.copyfile(sample_gpkg, path)
    with GpkgStore(path) as store:
        draft = store.copy_plan("1", name="back to plan 1 in 南湖", actor=ACTOR).plan_id
        plan1 = store.revision("1").grids
        plan2 = store.revision("2").grids
    mine = plan1.loc[plan1["community_code"] == REPLANNED]
    point = mine.geometry.iloc[0].representative_point()
    tile = "/tiles/grids/15/{}/{}.mvt".format(*tile_of(point.x, point.y, 15))
    # No watch loop and no prebuilt tiles: this test is about refresh() and invalidate()
    # (the watch loop's own test is test_processes_agree's; prebuilt tiles have theirs).
    settings = api_settings(workspace=path, refresh_seconds=0, tiles_prebuilt=False)
    with TestClient(create_app(settings)) as client:
        before = client.get("/api/lookup", params={"lon": point.x, "lat": point.y}).json()
        assert before["grid"]["plan_id"] == "2"
        tile_before = _codes(client, tile)
        assert tile_before & set(plan2["code"])

        ran = CliRunner().invoke(
            cli,
            ["publish", draft, "--workspace", str(path), "--actor", ACTOR, "--json", "--no-tiles"],
        )
        assert ran.exit_code == 0, ran.output
        assert json.loads(ran.stdout)["communities"] == plan1["community_code"].nunique()

        stale = client.get("/api/lookup", params={"lon": point.x, "lat": point.y}).json()
        assert stale["grid"]["plan_id"] == "2"  # the index is kept until refreshed
        assert _codes(client, tile) == tile_before  # and so is the cached tile
        client.app.state.locator.refresh()
        client.app.state.tiles.invalidate()
        after = client.get("/api/lookup", params={"lon": point.x, "lat": point.y}).json()
        assert after["grid"]["plan_id"] == draft
        expected = set(mine.loc[mine.intersects(point), "code"])
        assert after["grid"]["code"] in expected
        in_community = {c for c in _codes(client, tile) if c.startswith(REPLANNED)}
        assert in_community and in_community <= set(mine["code"])
        grids = client.get("/api/layers/grids").json()["features"]
        assert {f["properties"]["plan_id"] for f in grids} == {draft}


def test_publish_command_reports_an_unknown_plan(sample_gpkg, tmp_path) -> None:
    path = tmp_path / "copy.gpkg"
    shutil.copyfile(sample_gpkg, path)
    ran = CliRunner().invoke(cli, ["publish", "99", "--workspace", str(path), "--json"])
    assert ran.exit_code == 2
    assert json.loads(ran.stdout.splitlines()[0])["error"] == "not_found"


def test_an_empty_workspace_serves_empty_answers(tmp_path) -> None:
    with TestClient(create_app(api_settings(workspace=tmp_path / "empty.gpkg"))) as client:
        lookup = client.get("/api/lookup", params={"lon": 106.57, "lat": 29.52})
        assert lookup.status_code == 404 and "nothing is published" in lookup.json()["detail"]
        assert client.get("/api/search", params={"q": "nhsq"}).json()["hits"] == []
        assert client.get("/api/layers/grids").json()["features"] == []
        tile = client.get("/tiles/grids/12/3260/1696.mvt")
        assert tile.status_code == 200 and tile.content == b""
        collections = client.get("/ogc/collections").json()["collections"]
        assert len(collections) == 5


def test_search_hits_without_a_name_or_address_answer_null() -> None:
    import numpy as np
    import pandas as pd

    from gridmap.api.public import SearchAnswer
    from gridmap.service.search import SearchIndex

    entries = pd.DataFrame(
        {
            "kind": ["building"],
            "id": ["B1"],
            "name": [np.nan],
            "address": ["重庆市南岸区南坪西路10号"],
            "lon": [106.57],
            "lat": [np.nan],
            "grid_code": [None],
            "grid_name": [None],
            "community_code": [np.nan],
            "text": ["重庆市南岸区南坪西路10号 b1"],
            "initials": [""],
        }
    )
    hits = SearchIndex(entries).search("10")
    assert hits[0]["name"] is None and hits[0]["lat"] is None and hits[0]["grid"] is None
    SearchAnswer(q="10", hits=hits)  # what the endpoint validates its answer against
