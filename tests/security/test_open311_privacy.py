"""Issue 12 item 2: Open311 shows residents' reports only, without free text unless staff made
it public, at a place rounded to ~100 m; office cases never appear (both engines)."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "api"))  # the seeded world
from seeded import REPORTER_CONTACT, World, seeded_gpkg, seeded_postgis, world

__all__ = ["seeded_gpkg", "seeded_postgis", "world"]

SECRET_TEXT = "家暴 3单元301"
LON, LAT = 106.571234, 29.521234


def point_in(world: World) -> tuple[float, float]:
    inside = world.store.grids_at().geometry.iloc[0].representative_point()
    return round(inside.x, 6), round(inside.y, 6)


def test_an_office_case_never_appears_on_open311(world: World) -> None:
    lon, lat = point_in(world)
    made = world.client.post(
        "/api/incidents",
        json={
            "lon": lon,
            "lat": lat,
            "category": "sanitation",
            "description": SECRET_TEXT,
            "address": "3单元301",
        },
        headers=world.as_role("staff"),
    )
    assert made.status_code == 201, made.text
    office_id = made.json()["incident"]["id"]
    for fmt in ("json", "xml"):
        assert world.client.get(f"/open311/v2/requests/{office_id}.{fmt}").status_code == 404
        listing = world.client.get(f"/open311/v2/requests.{fmt}")
        assert listing.status_code == 200 and SECRET_TEXT not in listing.text
        by_id = world.client.get(f"/open311/v2/requests.{fmt}?service_request_id={office_id}")
        assert SECRET_TEXT not in by_id.text and "3单元301" not in by_id.text
    note = world.client.patch(
        f"/api/incidents/{office_id}",
        json={"version": 1, "public_note": SECRET_TEXT},
        headers=world.as_role("staff"),
    )
    assert note.status_code == 422 and "office case" in note.json()["detail"]


def test_a_residents_report_is_public_without_text_and_to_about_100_m(world: World) -> None:
    lon, lat = point_in(world)
    code = world.client.get("/open311/v2/services.json").json()[0]["service_code"]
    posted = world.client.post(
        "/open311/v2/requests.json",
        data={
            "service_code": code,
            "lat": lat,
            "long": lon,
            "description": "楼道灯坏了, 我住5楼",
            "address_string": "5栋2单元",
            "phone": REPORTER_CONTACT,
        },
    )
    assert posted.status_code == 201, posted.text
    report = posted.json()[0]["service_request_id"]
    [row] = world.client.get(f"/open311/v2/requests/{report}.json").json()
    assert row["description"] is None and row["address"] is None
    assert (row["lat"], row["long"]) == (round(lat, 3), round(lon, 3))
    shown = world.client.get(f"/open311/v2/requests/{report}.xml").text
    assert "5栋2单元" not in shown and "5楼" not in shown and REPORTER_CONTACT not in shown

    made_public = world.client.patch(
        f"/api/incidents/{report}",
        json={"version": 1, "public_note": "楼道灯已报修"},
        headers=world.as_role("staff"),
    )
    assert made_public.status_code == 200, made_public.text
    [row] = world.client.get(f"/open311/v2/requests/{report}.json").json()
    assert row["description"] == "楼道灯已报修"
