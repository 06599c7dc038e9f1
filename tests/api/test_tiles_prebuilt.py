"""Prebuilt tiles on both engines: the same features as live ones, served gzipped with ETags,
rebuilt by a publication, and never for a draft plan (whose tiles stay live)."""

from __future__ import annotations

import gzip
import json
import subprocess
import sys
from pathlib import Path

import handmade
import mapbox_vector_tile
import pytest
from published import tile_of
from seeded import World, seeded_gpkg, seeded_postgis, world

from gridmap.api.tiles_build import build_tiles
from gridmap.service.plans import partition_store
from gridmap.store.tilesets import ready_tile_set, source_stamp

__all__ = ["seeded_gpkg", "seeded_postgis", "world"]  # fixtures, imported for pytest to find

LON, LAT = handmade.point_in(0)
# (layer, z) of tiles over the hand-made district, from the first zoom of each layer up
SAMPLES = [("streets", 9), ("communities", 14), ("grids", 16), ("units", 15), ("buildings", 16)]


def decode(data: bytes) -> dict:  # type: ignore[type-arg]
    return mapbox_vector_tile.decode(data) if data else {}


def features(data: bytes, layer: str) -> list[tuple[str, object]]:
    """(properties, geometry) of a tile's features, in a comparable order."""
    found = decode(data).get(layer, {"features": []})["features"]
    return sorted((repr(sorted(f["properties"].items())), f["geometry"]) for f in found)


def codes_in(data: bytes) -> set[str]:
    """The grid codes of a grids tile."""
    return {f["properties"]["code"] for f in decode(data)["grids"]["features"]}


def build(world: World) -> None:
    """Build a tile set inline (as ``gridmap tiles build``) and let the app see it."""
    done = build_tiles(world.store, world.settings, workers=1)
    assert done is not None and done.tiles > 0
    world.client.app.state.tiles.check()


def path(layer: str, z: int) -> str:
    return "/tiles/{}/{}/{}/{}.mvt".format(layer, z, *tile_of(LON, LAT, z))


def wait_for_build(world: World) -> None:
    """Until the app's background build is over (bounded: the build is a few tiles)."""
    builder = world.client.app.state.tile_builder
    builder.wait(timeout=300)
    assert not builder.running and builder.error is None, builder.error


def test_prebuilt_tiles_hold_the_features_live_encoding_gives(world: World) -> None:
    cache = world.client.app.state.tiles
    live = {}
    for layer, z in SAMPLES:
        answer = world.client.get(path(layer, z))
        assert answer.status_code == 200 and answer.headers["x-tile"] == "live", layer
        live[layer] = answer.content
    build(world)
    assert cache.current is not None
    for layer, z in SAMPLES:
        answer = world.client.get(path(layer, z))
        assert answer.status_code == 200 and answer.headers["x-tile"] == "prebuilt", layer
        assert features(answer.content, layer) == features(live[layer], layer), layer
        assert features(answer.content, layer), layer  # not empty: the test can fail
    # beyond the last zoom built, tiles are live again
    deep = world.client.get(path("buildings", world.settings.tile_prebuild_max_zoom + 1))
    assert deep.headers["x-tile"] == "live" and features(deep.content, "buildings")


def test_prebuilt_tiles_are_gzipped_for_who_accepts_it_and_answer_304(world: World) -> None:
    build(world)
    url = path("buildings", 16)
    zipped = world.client.get(url, headers={"Accept-Encoding": "gzip"})
    assert zipped.headers["content-encoding"] == "gzip" and zipped.headers["x-tile"] == "prebuilt"
    plain = world.client.get(url, headers={"Accept-Encoding": "identity"})
    assert "content-encoding" not in plain.headers
    assert plain.content == zipped.content and decode(plain.content)["buildings"]["features"]
    etag = plain.headers["etag"]
    assert zipped.headers["etag"] == etag and "Accept-Encoding" in plain.headers["vary"]
    again = world.client.get(url, headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.content == b"" and again.headers["etag"] == etag
    # An empty tile of a built zoom is not stored: it is answered empty, with the same rules.
    far = world.client.get("/tiles/buildings/16/0/0.mvt")
    assert far.status_code == 200 and far.content == b"" and far.headers["x-tile"] == "prebuilt"


def test_the_stored_tile_is_the_live_tile_byte_for_byte(world: World) -> None:
    build(world)
    cache = world.client.app.state.tiles
    z, (x, y) = 14, tile_of(LON, LAT, 14)
    stored = cache.reader.read(cache.current.id, "grids", z, x, y)
    assert stored is not None
    live = cache.encode(cache.live_key("grids", z, x, y, None))
    assert gzip.decompress(stored[0]) == gzip.decompress(live[0]) and stored[1] == live[1]


def test_a_publication_through_the_api_rebuilds_the_tiles(world: World) -> None:
    build(world)
    cache = world.client.app.state.tiles
    before = cache.current
    url = path("grids", 14)
    old = {
        f["properties"]["code"] for f in decode(world.client.get(url).content)["grids"]["features"]
    }
    plan = partition_store(
        world.store,
        communities=[handmade.C1],
        target=1500,
        tolerance=0.2,
        weight="residents",
        seed=0,
        actor="paula",
    )["plan"]
    published = world.client.post(f"/api/plans/{plan}/publish", headers=world.as_role("admin"))
    assert published.status_code == 200, published.text
    # Until the new set is ready the tiles are live, and already show the new grids.
    assert cache.current is None or cache.current.id != before.id
    live = world.client.get(url)
    new = codes_in(live.content)
    assert new - old, "a publication of more, smaller grids shows new codes"
    wait_for_build(world)
    assert cache.current is not None and cache.current.id > before.id
    assert ready_tile_set(world.store, source_stamp(world.store)) == cache.current
    rebuilt = world.client.get(url)
    assert rebuilt.headers["x-tile"] == "prebuilt"
    assert codes_in(rebuilt.content) == new


def test_a_draft_plans_tiles_are_live_and_need_a_planner(world: World) -> None:
    build(world)
    draft = partition_store(
        world.store,
        communities=[handmade.C1],
        target=1500,
        tolerance=0.2,
        weight="residents",
        seed=0,
        actor="paula",
    )["plan"]
    url = path("grids", 14) + f"?plan={draft}"
    assert world.client.get(url).status_code == 401
    answer = world.client.get(url, headers=world.as_role("planner"))
    assert answer.status_code == 200 and answer.headers["x-tile"] == "live"
    assert answer.headers["cache-control"] == "private, no-store"
    codes = codes_in(answer.content)
    draft_codes = set(world.store.revision(draft).grids["code"])
    assert codes and codes <= draft_codes
    in_force = world.client.get(path("grids", 14))
    assert in_force.headers["x-tile"] == "prebuilt"


@pytest.mark.parametrize("layer", ["grids", "buildings"])
def test_a_set_of_older_data_is_not_served(world: World, layer: str) -> None:
    build(world)
    cache = world.client.app.state.tiles
    world.store.write({"buildings": world.store.read("buildings")}, replace=True, actor="test")
    assert cache.check() is None  # the store's stamp moved on: no set is current
    answer = world.client.get(path(layer, 16))
    assert answer.headers["x-tile"] == "live"


def test_gridmap_tiles_build_makes_the_set_the_server_then_serves(world: World) -> None:
    settings = world.settings
    target = (
        ["--database-url", settings.database_url]
        if settings.database_url
        else ["--workspace", str(settings.workspace)]
    )
    gridmap = str(Path(sys.executable).with_name("gridmap"))
    done = subprocess.run(
        [gridmap, "tiles", "build", *target, "--json"],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["tiles"] > 0 and result["tried"] >= result["tiles"]
    found = ready_tile_set(world.store, source_stamp(world.store))
    assert found is not None and found.id == result["tile_set"] and found.tiles == result["tiles"]
    assert world.client.app.state.tiles.check() == found
    assert world.client.get(path("buildings", 15)).headers["x-tile"] == "prebuilt"
