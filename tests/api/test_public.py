"""Lookup and search on the published sample, on both engines."""

from __future__ import annotations

import json

import geopandas as gpd
import numpy as np
import pytest
import shapely
from published import (
    REPLANNED,
    STAFFED_STREET,
    client,
    engine,
    make_client,
    sample_gpkg,
    sample_postgis,
    sample_store,
)

from gridmap.engine.assign import locate

__all__ = [  # fixtures of the published sample, imported for pytest to find
    "client",
    "engine",
    "make_client",
    "sample_gpkg",
    "sample_postgis",
    "sample_store",
]


def test_lookup_agrees_with_the_engine_at_1000_random_points(client, sample_store) -> None:
    grids = sample_store.grids_at()
    communities = sample_store.read("divisions").query("level == 'community'")
    x0, y0, x1, y1 = communities.total_bounds
    rng = np.random.default_rng(0)
    lon, lat = rng.uniform(x0, x1, 1000), rng.uniform(y0, y1, 1000)
    expected = locate(gpd.GeoSeries.from_xy(lon, lat, crs=4326), grids)
    inside = 0
    for i in range(1000):
        answer = client.get("/api/lookup", params={"lon": lon[i], "lat": lat[i]})
        want = expected.iloc[i]
        if want["grid"] is None:
            assert answer.status_code == 404, answer.text
            assert answer.json()["error"] == "not_found"
            continue
        inside += 1
        assert answer.status_code == 200, answer.text
        body = answer.json()
        assert body["grid"]["code"] == want["grid"]
        assert body["distance_to_edge_m"] == pytest.approx(want["distance_to_edge_m"], abs=0.06)
        neighbour = body["neighbour"]["code"] if body["neighbour"] else None
        assert neighbour == want["neighbour"]
        community = body["community"]["code"]
        assert body["grid"]["code"].startswith(community)
        assert body["street"]["code"] == community[:9] + "000"
        assert body["district"]["name"] == "南岸区"
    assert inside > 300  # the district's box is mostly covered: the test compared real answers


def _point_in(grids: gpd.GeoDataFrame, code: str) -> tuple[float, float]:
    point = shapely.point_on_surface(grids.set_index("code").geometry[code])
    return point.x, point.y


def test_lookup_shows_staff_with_public_phones_only(client, sample_store) -> None:
    grids = sample_store.grids_at()
    staffed = sorted(c for c in grids["code"] if c.startswith(STAFFED_STREET))[0]
    lon, lat = _point_in(grids, staffed)
    answer = client.get("/api/lookup", params={"lon": lon, "lat": lat})
    assert answer.status_code == 200
    body = answer.json()
    assert body["grid"]["code"] == staffed
    staff = sample_store.read("staff").set_index("name")
    board = body["grid"]["staff"]
    assert {p["role"] for p in board} == set(staff["role"])  # a whole team: every role
    assert board[0]["role"] == "grid_head" and board[0]["role_name"] == "网格长"
    for person in board:
        assert person["phone"] == staff.loc[person["name"], "phone_public"]
        assert staff.loc[person["name"], "phone_private"] not in answer.text
    assert "phone_private" not in answer.text


def test_every_grid_answers_with_a_contact_its_community_office_at_least(
    client, sample_store
) -> None:
    # Only one street's staff are assigned in this fixture: the other grids have none, and a
    # resident there must still get somewhere to go and a phone (the community office).
    grids = sample_store.grids_at()
    offices = sample_store.read("offices").set_index("community_code")
    unstaffed = 0
    for code in grids["code"]:
        lon, lat = _point_in(grids, code)
        body = client.get("/api/lookup", params={"lon": lon, "lat": lat}).json()
        assert body["grid"]["code"] == code
        office = body["office"]
        if not body["grid"]["staff"]:
            unstaffed += 1
            assert office is not None and office["name"] and office["phone"], code
        if office is not None:
            want = offices.loc[body["community"]["code"]]
            assert (office["name"], office["phone"]) == (want["name"], want["phone"])
    assert unstaffed > 0  # the case this test is about occurred


@pytest.mark.parametrize(
    ("lon", "lat"),
    [(181, 29.5), (-181, 29.5), (106.5, 90.5), (106.5, -91), ("东经", 29.5), ("nan", 29.5)],
)
def test_lookup_refuses_coordinates_out_of_range(client, lon, lat) -> None:
    answer = client.get("/api/lookup", params={"lon": lon, "lat": lat})
    assert answer.status_code == 422
    assert answer.json()["error"] == "bad_input"


def test_lookup_outside_coverage_is_404_with_the_reason(client) -> None:
    answer = client.get("/api/lookup", params={"lon": 116.397, "lat": 39.909})  # Beijing
    assert answer.status_code == 404
    body = answer.json()
    assert body["error"] == "not_found"
    assert "不在网格覆盖范围内" in body["detail"] and "nearest grid" in body["detail"]


def test_lookup_at_a_date_uses_the_grids_in_force_then(client, sample_store) -> None:
    plan1 = sample_store.revision("1").grids
    lon, lat = _point_in(plan1, sorted(plan1.loc[plan1["community_code"] == REPLANNED, "code"])[0])
    now = client.get("/api/lookup", params={"lon": lon, "lat": lat}).json()
    march = client.get("/api/lookup", params={"lon": lon, "lat": lat, "at": "2026-03-01"}).json()
    assert now["grid"]["plan_id"] == "2" and march["grid"]["plan_id"] == "1"
    expected = locate(shapely.points([lon], [lat]), plan1)["grid"].iloc[0]
    assert march["grid"]["code"] == expected and march["at"].startswith("2026-03-01T23:59")
    before = client.get("/api/lookup", params={"lon": lon, "lat": lat, "at": "2025-12-31"})
    assert before.status_code == 404 and "no grids in force" in before.json()["detail"]
    again = client.get("/api/lookup", params={"lon": lon, "lat": lat, "at": "2026-03-02"})
    assert again.json()["grid"] == march["grid"]  # the same publication set, cached
    bad = client.get("/api/lookup", params={"lon": lon, "lat": lat, "at": "March 1st"})
    assert bad.status_code == 422 and "at:" in bad.json()["detail"]


def test_search_finds_communities_by_pinyin_initials_and_by_substring(client) -> None:
    hits = client.get("/api/search", params={"q": "nhsq"}).json()["hits"]
    assert hits[0]["kind"] == "community" and hits[0]["name"] == "南湖社区"
    assert hits[0]["id"] == REPLANNED and hits[0]["grids"]
    assert all(h["grids"][0].startswith(REPLANNED) for h in hits[:1])
    by_text = client.get("/api/search", params={"q": "南湖"}).json()["hits"]
    assert any(h["kind"] == "community" and h["id"] == REPLANNED for h in by_text)
    assert all("南湖" in (h["name"] or "") + (h["address"] or "") for h in by_text)


def test_search_finds_compounds_and_buildings_with_their_grid(client, sample_store) -> None:
    grids = sample_store.grids_at()
    units = sample_store.read("units").query("kind == 'compound'")
    unit = units.iloc[len(units) // 2]
    part = unit["name"][1:4]  # a piece from the middle of the name
    hits = client.get("/api/search", params={"q": part, "limit": 100}).json()["hits"]
    found = [h for h in hits if h["id"] == unit["id"]]
    assert found and found[0]["kind"] == "compound"
    holder = grids[grids.intersects(unit.geometry)]
    assert found[0]["grid"]["code"] in set(holder["code"])
    building = sample_store.read("buildings").iloc[1234]
    hits = client.get("/api/search", params={"q": building["address"]}).json()["hits"]
    assert hits[0]["id"] == building["id"] and hits[0]["kind"] == "building"
    point = shapely.Point(hits[0]["lon"], hits[0]["lat"])
    assert hits[0]["grid"]["code"] in set(grids[grids.intersects(point.buffer(1e-4))]["code"])


def test_search_finds_a_grid_by_its_code_and_refuses_an_empty_query(client, sample_store) -> None:
    code = sorted(sample_store.grids_at()["code"])[7]
    hits = client.get("/api/search", params={"q": code}).json()["hits"]
    assert hits[0]["kind"] == "grid" and hits[0]["grid"]["code"] == code
    assert client.get("/api/search", params={"q": ""}).status_code == 422
    assert client.get("/api/search", params={"q": "  "}).json()["error"] == "bad_input"


def test_public_endpoints_are_rate_limited_per_client(make_client, engine) -> None:
    with make_client(engine, rate_limit_per_second=0.01, rate_limit_burst=3) as limited:
        codes = [limited.get("/api/search", params={"q": "nhsq"}).status_code for _ in range(4)]
        assert codes == [200, 200, 200, 429]
        refused = limited.get("/api/lookup", params={"lon": 106.57, "lat": 29.52})
        assert refused.status_code == 429
        assert refused.json()["error"] == "too_many_requests"
        assert int(refused.headers["Retry-After"]) >= 1
        assert limited.get("/healthz").status_code == 200  # not a public data endpoint


def test_cors_is_closed_unless_origins_are_configured(client, make_client, engine) -> None:
    origin = {"Origin": "https://map.example.cn"}
    closed = client.get("/api/search", params={"q": "nhsq"}, headers=origin)
    assert "access-control-allow-origin" not in closed.headers
    with make_client(engine, cors_origins=["https://map.example.cn"]) as opened:
        answer = opened.get("/api/search", params={"q": "nhsq"}, headers=origin)
        assert answer.headers["access-control-allow-origin"] == "https://map.example.cn"


def test_openapi_documents_the_public_side_with_examples(client) -> None:
    spec = client.get("/openapi.json").json()
    for path in ("/api/lookup", "/api/search", "/api/layers/{layer}", "/ogc/collections"):
        assert path in spec["paths"], path
    assert "/tiles/{layer}/{z}/{x}/{y}.mvt" in spec["paths"]
    text = json.dumps(spec, ensure_ascii=False)
    assert "南湖社区第1网格" in text and "nhsq" in text
    lookup = spec["paths"]["/api/lookup"]["get"]
    assert {"200", "404", "422"} <= set(lookup["responses"])


def _fields(model: type) -> set[str]:
    return set(model.model_fields)  # type: ignore[attr-defined]


def test_answers_hold_exactly_the_fields_their_models_document(client, sample_store) -> None:
    # The routes answer with orjson bytes and no response model runs per request, so nothing
    # drops a field that should not be there: the answer itself must match the documentation.
    from gridmap.api.public import (
        Division,
        GridAnswer,
        LookupAnswer,
        Neighbour,
        SearchAnswer,
        SearchHit,
        StaffMember,
    )

    grids = sample_store.grids_at()
    staffed = sorted(c for c in grids["code"] if c.startswith(STAFFED_STREET))[0]
    lon, lat = _point_in(grids, staffed)
    answer = client.get("/api/lookup", params={"lon": lon, "lat": lat})
    assert answer.headers["content-type"] == "application/json"
    body = answer.json()
    assert LookupAnswer.model_validate(body).model_dump() == body
    assert set(body) == _fields(LookupAnswer)
    for level in ("district", "street", "community"):
        assert set(body[level]) == _fields(Division)
    assert set(body["grid"]) == _fields(GridAnswer)
    assert body["grid"]["staff"] and all(
        set(p) == _fields(StaffMember) for p in body["grid"]["staff"]
    )
    # a point just inside a corner of the grid: another grid is within 50 m
    corner = shapely.get_coordinates(grids.set_index("code").geometry[staffed].exterior)[0]
    x, y = corner + (np.array([lon, lat]) - corner) * 0.01
    edge = client.get("/api/lookup", params={"lon": x, "lat": y}).json()
    assert edge["neighbour"] is not None and set(edge["neighbour"]) == _fields(Neighbour)
    found = client.get("/api/search", params={"q": "南湖"}).json()
    assert SearchAnswer.model_validate(found).model_dump() == found
    assert all(set(hit) == _fields(SearchHit) for hit in found["hits"])
