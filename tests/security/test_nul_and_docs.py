"""Issue 12 items 6 and 11: a NUL character in any text input is a 422 naming the parameter on
both engines (PostGIS answered 503, GeoPackage stored it), and /docs and /redoc load nothing
from another host."""

from __future__ import annotations

import re
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "api"))  # the seeded world
from seeded import World, seeded_gpkg, seeded_postgis, world

__all__ = ["seeded_gpkg", "seeded_postgis", "world"]

LAT, LON = 29.52, 106.57


def assert_nul_refused(answer, named: str) -> None:  # type: ignore[no-untyped-def]
    assert answer.status_code == 422, answer.text
    body = answer.json()
    assert body["error"] == "bad_input" and "NUL" in body["detail"]
    assert named in body["detail"], body["detail"]


def test_nul_in_open311_text_is_refused_and_nothing_is_stored(world: World) -> None:
    before = world.client.get("/open311/v2/requests.json").json()
    for field in ("description", "service_code", "address_string"):
        form = {"service_code": "sanitation", "lat": LAT, "long": LON, "description": "垃圾"}
        form[field] = "堆放\x003单元"
        answer = world.client.post("/open311/v2/requests.json", data=form)
        assert_nul_refused(answer, repr(field))
    assert world.client.get("/open311/v2/requests.json").json() == before


def test_nul_in_a_sign_in_name_is_refused(world: World) -> None:
    answer = world.client.post("/api/token", data={"username": "ada\x00", "password": "x"})
    assert_nul_refused(answer, "'username'")


def test_nul_in_json_bodies_queries_and_paths_is_refused(world: World) -> None:
    staff = world.as_role("staff")
    answer = world.client.post(
        "/api/incidents",
        json={"lon": LON, "lat": LAT, "category": "sanitation", "description": "a\x00b"},
        headers=staff,
    )
    assert_nul_refused(answer, "'description'")
    assert_nul_refused(world.client.get("/api/search?q=%E5%8D%97%00"), "'q'")
    assert_nul_refused(world.client.get("/web/%00"), "URL path")
    assert_nul_refused(world.client.get("/open311/v2/requests/1%00.json"), "URL path")


def test_api_docs_load_only_from_this_server(world: World) -> None:
    for page in ("/docs", "/redoc"):
        html = world.client.get(page)
        assert html.status_code == 200
        urls = re.findall(r"""(?:src|href|url)\s*[=:(]\s*['"]([^'"]+)['"]""", html.text)
        assert urls, f"{page} names no asset"
        for url in urls:
            assert not re.match(r"^(?:[a-z]+:)?//", url), f"{page} loads {url} from another host"
            assert world.client.get(url).status_code == 200, f"{page}: {url} is missing"
