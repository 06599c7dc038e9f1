"""What the pages download: JSON layers gzipped, with an ETag that revalidates to 304, and
coordinates rounded to what a map shows (no browser needed: plain HTTP against the server)."""

from __future__ import annotations

import re

import httpx


def test_grids_layer_is_gzipped_rounded_and_revalidates(web_server: str) -> None:
    with httpx.Client(base_url=web_server) as client:
        answer = client.get("/api/layers/grids", headers={"Accept-Encoding": "gzip"})
        assert answer.status_code == 200
        assert answer.headers["content-encoding"] == "gzip"
        raw = int(answer.headers["content-length"])
        body = answer.content
        assert raw < len(body) / 4, f"gzip saves too little: {raw} of {len(body)} bytes"
        # No coordinate carries more than 6 decimals (0.1 m).
        coordinates = re.findall(rb"-?\d+\.(\d+)", body.split(b'"geometry"', 1)[1][:20000])
        assert coordinates and max(len(c) for c in coordinates) <= 6
        etag = answer.headers["etag"]
        again = client.get("/api/layers/grids", headers={"If-None-Match": etag})
        assert again.status_code == 304 and again.content == b""
        assert again.headers["etag"] == etag
        other = client.get("/api/layers/grids", headers={"If-None-Match": '"stale"'})
        assert other.status_code == 200 and other.content == body


def test_roads_tiles_carry_names_for_the_base_map(web_server: str, web_workspace) -> None:  # type: ignore[no-untyped-def]
    import mapbox_vector_tile

    from gridmap.api.tiles_common import lonlat_bounds
    from gridmap.store import GpkgStore

    with GpkgStore(web_workspace) as store:
        road = store.read("roads").dropna(subset=["name"]).iloc[0]
    point = road.geometry.interpolate(0.5, normalized=True)
    z = 15
    n = 1 << z
    x = int((point.x + 180) / 360 * n)
    y = next(row for row in range(n) if lonlat_bounds(z, x, row)[1] <= point.y)
    answer = httpx.get(f"{web_server}/tiles/roads/{z}/{x}/{y}.mvt")
    assert answer.status_code == 200 and answer.headers["etag"]
    names = {
        f["properties"].get("name")
        for f in mapbox_vector_tile.decode(answer.content)["roads"]["features"]
    }
    assert road["name"] in names
    assert httpx.get(f"{web_server}/tiles/roads.json").json()["minzoom"] == 11
