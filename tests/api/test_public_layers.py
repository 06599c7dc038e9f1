"""GeoJSON layers (/api/layers/{layer}) on both engines."""

from __future__ import annotations

import contextlib

import shapely
from published import (
    client,
    engine,
    sample_gpkg,
    sample_postgis,
    sample_store,
)

from gridmap.api.auth import hash_password, issue_token
from gridmap.errors import ConflictError

BBOX = (106.55, 29.50, 106.58, 29.53)

__all__ = [  # fixtures of the published sample, imported for pytest to find
    "client",
    "engine",
    "sample_gpkg",
    "sample_postgis",
    "sample_store",
]


def test_grids_in_force_as_an_rfc7946_feature_collection(client, sample_store) -> None:
    answer = client.get("/api/layers/grids")
    assert answer.status_code == 200
    assert answer.headers["content-type"] == "application/geo+json"
    body = answer.json()
    assert body["type"] == "FeatureCollection" and "crs" not in body  # RFC 7946: no crs member
    grids = sample_store.grids_at().set_index("code")
    assert {f["id"] for f in body["features"]} == set(grids.index)
    feature = body["features"][0]
    assert feature["geometry"]["type"] in ("Polygon", "MultiPolygon")
    shape = shapely.geometry.shape(feature["geometry"])
    lon, lat = shapely.get_coordinates(shape)[0]
    assert 106 < lon < 107 and 29 < lat < 30  # lon, lat order
    props = feature["properties"]
    assert props["residents"] == grids.loc[feature["id"], "residents"]
    assert set(props) >= {"code", "name", "community_code", "residents", "deviation", "plan_id"}
    # Rounded to 1e-6 degree (0.1 m), what a map shows.
    assert shape.equals_exact(grids.loc[feature["id"], "geometry"], 1e-6)


def test_bbox_returns_exactly_the_features_that_meet_it(client, sample_store) -> None:
    box = shapely.box(*BBOX)
    for layer, frame, key in (
        ("grids", sample_store.grids_at(), "code"),
        ("units", sample_store.read("units"), "id"),
        ("buildings", sample_store.read("buildings", bbox=BBOX), "id"),
    ):
        expected = set(frame.loc[frame.intersects(box), key])
        answer = client.get(f"/api/layers/{layer}", params={"bbox": ",".join(map(str, BBOX))})
        got = {f["id"] for f in answer.json()["features"]}
        assert expected and got == expected, layer


def test_streets_communities_and_a_plans_head(client, sample_store) -> None:
    divisions = sample_store.read("divisions")
    streets = client.get("/api/layers/streets").json()["features"]
    assert {f["id"] for f in streets} == set(divisions.query("level == 'street'")["code"])
    assert any(f["properties"]["name"] == "南坪街道" for f in streets)
    communities = client.get("/api/layers/communities").json()["features"]
    assert len(communities) == (divisions["level"] == "community").sum()
    plan2 = client.get("/api/layers/grids", params={"plan": "2"}).json()["features"]
    head = sample_store.revision("2").grids
    assert {f["id"] for f in plan2} == set(head["code"])
    assert {f["properties"]["plan_id"] for f in plan2} == {"2"}


def test_bad_requests_are_json_errors(client) -> None:
    for params, status in (
        ({"bbox": "1,2,3"}, 422),
        ({"bbox": "106.6,29.5,106.5,29.6"}, 422),
        ({"plan": "999"}, 404),
    ):
        answer = client.get("/api/layers/grids", params=params)
        assert answer.status_code == status, params
        assert set(answer.json()) == {"error", "detail"}
    assert client.get("/api/layers/units", params={"plan": "1"}).status_code == 422
    assert client.get("/api/layers/persons").status_code == 422


def test_incidents_only_for_signed_in_staff(client, sample_store) -> None:
    assert client.get("/api/layers/incidents").status_code == 401
    for name, role in (("layers_resident", "public"), ("layers_clerk", "staff")):
        with contextlib.suppress(ConflictError):  # made already by an earlier run on this store
            sample_store.add_user(name, role, hash_password("pw-" + name), actor="tester")
    secret = client.app.state.settings.token_secret.get_secret_value()
    tokens = {
        role: issue_token(sample_store.user(name), secret, 5)
        for name, role in (("layers_resident", "public"), ("layers_clerk", "staff"))
    }
    resident = client.get(
        "/api/layers/incidents", headers={"Authorization": f"Bearer {tokens['public']}"}
    )
    assert resident.status_code == 403 and resident.json()["error"] == "forbidden"
    clerk = client.get(
        "/api/layers/incidents", headers={"Authorization": f"Bearer {tokens['staff']}"}
    )
    assert clerk.status_code == 200 and clerk.json()["type"] == "FeatureCollection"
    assert clerk.headers["cache-control"] == "private, no-store"
