"""``GET /api/offices/reach``: the offices report for planners, on both engines."""

from __future__ import annotations

import handmade
from seeded import World, seeded_gpkg, seeded_postgis, world

__all__ = ["seeded_gpkg", "seeded_postgis", "world"]


def test_planners_get_the_offices_report(world: World) -> None:
    answer = world.client.get("/api/offices/reach", headers=world.as_role("planner"))
    assert answer.status_code == 200, answer.text
    report = answer.json()
    # the hand-made district has no offices layer and no committee-office unit
    assert report["source"] == "units" and report["communities"] == 2
    assert {r["community_code"] for r in report["rows"]} == {handmade.C1, handmade.C2}
    assert all(r["flags"] == ["no_office"] and r["badly_placed"] for r in report["rows"])
    assert all(r["residents"] == 6000 for r in report["rows"])
    one = world.client.get(
        f"/api/offices/reach?community={handmade.C1}", headers=world.as_role("admin")
    ).json()
    assert [r["community_code"] for r in one["rows"]] == [handmade.C1]


def test_the_report_is_for_planners(world: World) -> None:
    assert world.client.get("/api/offices/reach").status_code == 401
    staff = world.client.get("/api/offices/reach", headers=world.as_role("staff"))
    assert staff.status_code == 403
    unknown = world.client.get("/api/offices/reach?community=999", headers=world.as_role("planner"))
    assert unknown.status_code == 422 and "999" in unknown.json()["detail"]
