"""Issue 12 item 1: a planner's draft is not public on the layer, tile and TileJSON routes;
plans ever published are (both engines)."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "api"))  # the seeded world
from seeded import World, seeded_gpkg, seeded_postgis, world

__all__ = ["seeded_gpkg", "seeded_postgis", "world"]


def draft_of(world: World) -> str:
    made = world.client.post("/api/plans", json={"mode": "copy"}, headers=world.as_role("planner"))
    assert made.status_code == 201, made.text
    return str(made.json()["plan"]["id"])


def urls(plan: str) -> list[str]:
    return [
        f"/api/layers/grids?plan={plan}",
        f"/tiles/grids/14/13230/6794.mvt?plan={plan}",
        f"/tiles/grids.json?plan={plan}",
    ]


def test_a_draft_needs_a_planner_everywhere(world: World) -> None:
    draft = draft_of(world)
    for url in urls(draft):
        anonymous = world.client.get(url)
        assert anonymous.status_code == 401, (url, anonymous.text)
        assert anonymous.headers["www-authenticate"] == "Bearer"
        assert world.client.get(url, headers=world.as_role("public")).status_code == 403
        assert world.client.get(url, headers=world.as_role("staff")).status_code == 403
        planner = world.client.get(url, headers=world.as_role("planner"))
        assert planner.status_code == 200, (url, planner.text)
        if not url.endswith(".json?plan=" + draft):
            assert "public" not in planner.headers["cache-control"], url


def test_a_published_plan_stays_public_and_an_unknown_one_is_404(world: World) -> None:
    for url in urls(world.plan_id):
        assert world.client.get(url).status_code == 200, url
    assert world.client.get("/api/layers/grids?plan=999").status_code == 404
