"""Issue 12 item 4: the rate limit counts cost, not requests. A layer answer too large for one
response asks for a bbox; large answers and lookups at past dates (an index to build) take
tokens by their cost, from the caller only (both engines)."""

from __future__ import annotations

import sys
from pathlib import Path

from fastapi.testclient import TestClient

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "api"))  # the seeded world
from seeded import World, seeded_gpkg, seeded_postgis, world

from gridmap.api import create_app
from gridmap.api.limits import HISTORY_INDEX_TOKENS

__all__ = ["seeded_gpkg", "seeded_postgis", "world"]


def served(world: World, address: str = "10.0.0.1", **settings: object) -> TestClient:
    app = create_app(world.settings.model_copy(update=settings), store=world.store)
    return TestClient(app, client=(address, 40000))


def point(world: World) -> dict[str, float]:
    grids = world.store.grids_at()
    inside = grids.geometry.iloc[0].representative_point()
    return {"lon": inside.x, "lat": inside.y}


def test_a_layer_too_large_for_one_answer_asks_for_a_bbox(world: World) -> None:
    count = len(world.store.read("buildings"))
    with served(world, max_layer_features=count - 1) as client:
        answer = client.get("/api/layers/buildings")
        assert answer.status_code == 422
        assert answer.json()["detail"].startswith(f"bbox: {count:,} buildings")
        assert client.get("/api/layers/buildings?bbox=0,0,0.001,0.001").status_code == 200
    with served(world, max_layer_features=count) as client:
        assert client.get("/api/layers/buildings").status_code == 200


def test_a_lookup_at_a_past_date_costs_its_index_to_the_caller(world: World) -> None:
    # A full bucket pays for the request's own token and exactly one index.
    limits = {"rate_limit_per_second": 0.01, "rate_limit_burst": HISTORY_INDEX_TOKENS + 1}
    here = point(world)
    with served(world, **limits) as client:
        other = TestClient(client.app, client=("10.0.0.2", 40000))  # the same running app
        past = client.get("/api/lookup", params={**here, "at": "2001-01-01"})
        assert past.status_code == 404  # nothing was published then; the index was built
        again = client.get("/api/lookup", params=here)
        assert again.status_code == 429 and int(again.headers["retry-after"]) > 60
        assert other.get("/api/lookup", params=here).status_code == 200  # others pay nothing


def test_past_dates_never_evict_the_live_index(world: World) -> None:
    here = point(world)
    with served(world, rate_limit_per_second=0) as client:
        locator = client.app.state.locator  # type: ignore[attr-defined]
        live = locator._current
        for year in range(2001, 2001 + 2 * locator.keep + 2):
            client.get("/api/lookup", params={**here, "at": f"{year}-01-01"})
        assert locator._current is live
        assert client.get("/api/lookup", params=here).status_code == 200
