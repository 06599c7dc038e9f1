"""OGC API – Features at /ogc: through TestClient on both engines, and GDAL's OAPIF driver
(ogrinfo) against a real ``gridmap serve``."""

from __future__ import annotations

import shutil
import subprocess

import pytest
import shapely
from published import (
    client,
    engine,
    live_server,
    sample_gpkg,
    sample_postgis,
    sample_store,
)

from gridmap.api.features import LAYERS
from gridmap.api.ogc import CONFORMANCE

__all__ = [  # fixtures of the published sample, imported for pytest to find
    "client",
    "engine",
    "live_server",
    "sample_gpkg",
    "sample_postgis",
    "sample_store",
]


def test_landing_page_and_conformance(client) -> None:
    landing = client.get("/ogc").json()
    rels = {link["rel"]: link["href"] for link in landing["links"]}
    assert {"self", "service-desc", "conformance", "data"} <= set(rels)
    assert client.get(rels["service-desc"]).json()["openapi"].startswith("3.")
    assert client.get(rels["conformance"]).json()["conformsTo"] == CONFORMANCE
    collections = client.get(rels["data"]).json()["collections"]
    assert [c["id"] for c in collections] == list(LAYERS)
    grids = next(c for c in collections if c["id"] == "grids")
    assert grids["itemType"] == "feature" and grids["title"].startswith("网格")
    assert any(link["rel"] == "items" for link in grids["links"])


def test_items_page_through_every_grid_with_next_links(client, sample_store) -> None:
    codes: list[str] = []
    url: str | None = "/ogc/collections/grids/items?limit=150"
    pages = 0
    while url:
        answer = client.get(url)
        assert answer.headers["content-type"].startswith("application/geo+json")
        page = answer.json()
        assert page["numberMatched"] == len(sample_store.grids_at())
        assert page["numberReturned"] == len(page["features"]) <= 150
        codes += [f["id"] for f in page["features"]]
        url = next((link["href"] for link in page["links"] if link["rel"] == "next"), None)
        pages += 1
    assert pages == -(-len(codes) // 150) and len(codes) == len(set(codes))
    assert set(codes) == set(sample_store.grids_at()["code"])


def test_items_filter_by_bbox_and_one_item_by_id(client, sample_store) -> None:
    bbox = "106.55,29.50,106.57,29.52"
    page = client.get("/ogc/collections/communities/items", params={"bbox": bbox}).json()
    communities = sample_store.read("divisions").query("level == 'community'")
    expected = communities[communities.intersects(shapely.box(106.55, 29.5, 106.57, 29.52))]
    assert {f["id"] for f in page["features"]} == set(expected["code"])
    one = client.get("/ogc/collections/communities/items/500108002001").json()
    assert one["properties"]["short_name"] == "南湖社区"
    assert one["geometry"]["type"] in ("Polygon", "MultiPolygon")
    missing = client.get("/ogc/collections/communities/items/nothing")
    assert missing.status_code == 404 and missing.json()["error"] == "not_found"
    assert client.get("/ogc/collections/persons").status_code == 404
    assert client.get("/ogc/collections/grids/items", params={"limit": 0}).status_code == 422


@pytest.mark.gdal
def test_ogrinfo_lists_the_collections_and_reads_chinese_names(live_server) -> None:
    if shutil.which("ogrinfo") is None:
        pytest.skip("GDAL TESTS SKIPPED: ogrinfo (gdal-bin) is not installed")
    url = f"OAPIF:{live_server}/ogc"
    listing = subprocess.run(
        ["ogrinfo", "-ro", "-q", url], capture_output=True, text=True, timeout=120, check=True
    ).stdout
    for name in LAYERS:
        assert name in listing
    communities = subprocess.run(
        ["ogrinfo", "-ro", "-al", "-q", url, "communities"],
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    ).stdout
    assert "南湖社区居民委员会" in communities and "short_name (String) = 南湖社区" in communities
    assert communities.count("OGRFeature(communities):") >= 150  # all of them, paging included
    grids = subprocess.run(
        ["ogrinfo", "-ro", "-so", url, "grids"], capture_output=True, text=True, timeout=120
    ).stdout
    assert "Feature Count:" in grids and "residents" in grids
