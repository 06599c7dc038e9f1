"""Vector tiles and TileJSON on both engines: real MVT bytes, decoded with mapbox-vector-tile."""

from __future__ import annotations

import mapbox_vector_tile
import numpy as np
import pytest
import shapely
from published import (
    REPLANNED,
    client,
    engine,
    make_client,
    sample_gpkg,
    sample_postgis,
    sample_store,
    tile_of,
)

from gridmap.api.tiles_common import TILE_FIELDS, lonlat_bounds

MVT = "application/vnd.mapbox-vector-tile"

__all__ = [  # fixtures of the published sample, imported for pytest to find
    "client",
    "engine",
    "make_client",
    "sample_gpkg",
    "sample_postgis",
    "sample_store",
]


def decode(data: bytes) -> dict:  # type: ignore[type-arg]
    return mapbox_vector_tile.decode(data) if data else {}


def _tiles(sample_store, count: int) -> list[tuple[int, int, int]]:
    """Tiles at zooms 11-15 around random grids of the sample (seeded)."""
    grids = sample_store.grids_at()
    rng = np.random.default_rng(1)
    points = grids.geometry.representative_point().iloc[rng.choice(len(grids), count)]
    zooms = rng.integers(11, 16, count)
    pairs = zip(points, zooms, strict=True)
    return sorted({(int(z), *tile_of(p.x, p.y, int(z))) for p, z in pairs})


def test_each_tile_holds_every_grid_the_layer_endpoint_returns_for_its_bbox(
    client, sample_store
) -> None:
    tiles = _tiles(sample_store, 12)
    assert len(tiles) >= 8
    for z, x, y in tiles:
        answer = client.get(f"/tiles/grids/{z}/{x}/{y}.mvt")
        assert answer.status_code == 200 and answer.headers["content-type"] == MVT
        layer = decode(answer.content)["grids"]
        assert layer["extent"] == 4096
        in_tile = {f["properties"]["code"] for f in layer["features"]}
        bbox = ",".join(f"{v:.9f}" for v in lonlat_bounds(z, x, y))
        listed = client.get("/api/layers/grids", params={"bbox": bbox}).json()["features"]
        assert listed, (z, x, y)
        assert {f["id"] for f in listed} <= in_tile, (z, x, y)
        for feature in layer["features"]:
            assert feature["geometry"]["type"] in ("Polygon", "MultiPolygon")


def test_grid_tiles_carry_code_name_residents_and_deviation(client, sample_store) -> None:
    z, x, y = _tiles(sample_store, 1)[0]
    features = decode(client.get(f"/tiles/grids/{z}/{x}/{y}.mvt").content)["grids"]["features"]
    grids = sample_store.grids_at().set_index("code")
    for feature in features:
        props = feature["properties"]
        assert set(props) <= set(TILE_FIELDS["grids"])
        assert {"code", "community_code", "residents", "deviation"} <= set(props)
        row = grids.loc[props["code"]]
        assert props["residents"] == row["residents"]
        target = 2000 if row["community_code"] == REPLANNED else 3000
        assert props["deviation"] == pytest.approx(row["residents"] / target - 1, abs=1e-4)


@pytest.mark.postgis
def test_both_engines_put_the_same_attributes_in_the_same_tile(make_client) -> None:
    z, x, y = 14, *tile_of(106.5712, 29.5236, 14)
    decoded = {}
    for kind in ("gpkg", "postgis"):
        with make_client(kind) as other:
            for layer in TILE_FIELDS:
                data = other.get(f"/tiles/{layer}/{z}/{x}/{y}.mvt").content
                features = decode(data).get(layer, {"features": []})["features"]
                decoded[kind, layer] = {
                    str(f["properties"].get("code", f["properties"].get("id"))): f["properties"]
                    for f in features
                }
    for layer in TILE_FIELDS:
        gpkg, postgis = decoded["gpkg", layer], decoded["postgis", layer]
        assert gpkg, layer
        assert set(gpkg) == set(postgis), layer
        for key, props in gpkg.items():
            assert set(props) == set(postgis[key]), (layer, key)
            for name, value in props.items():
                assert (
                    postgis[key][name] == pytest.approx(value)
                    if isinstance(value, float)
                    else postgis[key][name] == value
                )


def test_tiles_have_etags_cache_control_and_answer_304(client) -> None:
    path = "/tiles/communities/13/{}/{}.mvt".format(*tile_of(106.5712, 29.5236, 13))
    first = client.get(path)
    assert first.status_code == 200 and first.content
    etag = first.headers["etag"]
    assert first.headers["cache-control"].startswith("public, max-age=")
    again = client.get(path, headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.content == b"" and again.headers["etag"] == etag
    other = client.get(path, headers={"If-None-Match": '"something-else"'})
    assert other.status_code == 200 and other.content == first.content


def test_invalidate_forgets_cached_tiles(client) -> None:
    tiles = client.app.state.tiles
    path = "/tiles/grids/12/{}/{}.mvt".format(*tile_of(106.5712, 29.5236, 12))
    before = client.get(path).content
    misses = tiles.misses
    client.get(path)
    assert tiles.misses == misses  # served from the cache
    tiles.invalidate()
    after = client.get(path).content
    assert tiles.misses == misses + 1 and after == before  # encoded again, same grids


def test_landcover_tiles_hold_the_river_and_parks(client, sample_store) -> None:
    cover = sample_store.read("landcover")
    river = cover.loc[cover["kind"] == "water"].geometry.iloc[0].representative_point()
    z, (x, y) = 13, tile_of(river.x, river.y, 13)
    layer = decode(client.get(f"/tiles/landcover/{z}/{x}/{y}.mvt").content)["landcover"]
    water = [f["properties"] for f in layer["features"] if f["properties"]["kind"] == "water"]
    assert water and water[0]["name"] == "长江" and set(water[0]) == {"id", "kind", "name"}
    assert client.get("/tiles/landcover/9/0/0.mvt").content == b""  # below its zooms: empty
    described = client.get("/tiles/landcover.json").json()
    assert described["vector_layers"][0]["id"] == "landcover"
    assert "water" in described["description"]


def test_buildings_tile_holds_the_buildings_of_its_bbox(client, sample_store) -> None:
    z, (x, y) = 15, tile_of(106.5712, 29.5236, 15)
    layer = decode(client.get(f"/tiles/buildings/{z}/{x}/{y}.mvt").content)["buildings"]
    in_tile = {f["properties"]["id"] for f in layer["features"]}
    listed = sample_store.read("buildings", bbox=lonlat_bounds(z, x, y))
    inside = listed[listed.intersects(shapely.box(*lonlat_bounds(z, x, y)))]
    assert len(inside) > 20 and set(inside["id"]) <= in_tile


def test_a_draft_plans_grids_are_served_with_plan_and_low_zooms_are_empty(client) -> None:
    z, (x, y) = 14, tile_of(106.5594, 29.5162, 14)  # 南湖社区
    plan2 = decode(client.get(f"/tiles/grids/{z}/{x}/{y}.mvt", params={"plan": "2"}).content)
    codes = {f["properties"]["code"] for f in plan2["grids"]["features"]}
    assert codes and all(c.startswith(REPLANNED) for c in codes)
    assert client.get(f"/tiles/grids/{z}/{x}/{y}.mvt", params={"plan": "999"}).status_code == 404
    low = client.get("/tiles/buildings/9/{}/{}.mvt".format(*tile_of(106.57, 29.52, 9)))
    assert low.status_code == 200 and low.content == b""


@pytest.mark.parametrize(
    "path",
    ["/tiles/grids/3/8/1.mvt", "/tiles/grids/21/0/0.mvt", "/tiles/persons/14/1/1.mvt"],
)
def test_tiles_out_of_range_or_unknown_are_refused(client, path) -> None:
    answer = client.get(path)
    assert answer.status_code == 422 and answer.json()["error"] == "bad_input"


def test_tilejson_describes_the_layer_and_its_url_serves_tiles(client, sample_store) -> None:
    doc = client.get("/tiles/grids.json").json()
    assert doc["tilejson"] == "3.0.0" and doc["minzoom"] <= 12 <= doc["maxzoom"]
    assert doc["vector_layers"][0]["id"] == "grids"
    assert set(doc["vector_layers"][0]["fields"]) == set(TILE_FIELDS["grids"])
    west, south, east, north = doc["bounds"]
    gx0, gy0, gx1, gy1 = sample_store.grids_at().total_bounds
    assert west <= gx0 and east >= gx1 and south <= gy0 and north >= gy1
    url = doc["tiles"][0]
    assert "{z}/{x}/{y}.mvt" in url
    x, y = tile_of(*doc["center"][:2], 13)
    answer = client.get(url.replace("{z}", "13").replace("{x}", str(x)).replace("{y}", str(y)))
    assert answer.status_code == 200 and decode(answer.content)["grids"]["features"]
