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
