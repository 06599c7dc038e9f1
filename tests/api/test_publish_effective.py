"""Publishing with an effective date, on both engines: a later date changes no lookup until
it comes, and then the plan takes effect with no one acting (the lookup index knows its own
expiry; the open incidents move once). The clock is passed in, never slept on."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from typing import Any

import handmade
from seeded import World, seeded_gpkg, seeded_postgis, world
from typer.testing import CliRunner

from gridmap.cli import app as cli
from gridmap.service.lookup import CHINA_TZ, Locator
from gridmap.service.publish import take_effect_due
from gridmap.store.contract import IncidentEvent

__all__ = ["seeded_gpkg", "seeded_postgis", "world"]


def _merged_draft(w: World) -> tuple[str, str, str]:
    """A draft merging the first two grids; (plan id, the incident's grid now, merged grid)."""
    made = w.client.post("/api/plans", json={"mode": "copy"}, headers=w.as_role("planner"))
    plan = made.json()["plan"]["id"]
    a, b = w.grid_codes[:2]
    body = {"operation": "merge", "base_revision": 1, "grids": [a, b]}
    merged = w.client.post(f"/api/plans/{plan}/edits", json=body, headers=w.as_role("planner"))
    assert merged.status_code == 201, merged.text
    codes = {f["properties"]["code"] for f in merged.json()["grids"]["features"]}
    new = next(c for c in codes if c in (a, b))
    # Filed under the other community's grid, so that taking effect must move it.
    incident = w.store.incident(w.incident_id)
    old = w.grid_codes[-1]
    step = IncidentEvent("", 0, incident.created_at, "sam", "edit", "reported", "reported")
    w.store.update_incident(
        incident.id, incident.version, {"grid_code": old}, actor="sam", event=step
    )
    return plan, old, new


def _on_a_running_loop() -> bool:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


def _lookup(w: World) -> dict[str, Any]:
    lon, lat = handmade.point_in(0, 0.1, 0.1)
    answer = w.client.get("/api/lookup", params={"lon": lon, "lat": lat})
    assert answer.status_code == 200, answer.text
    return answer.json()["grid"]  # type: ignore[no-any-return]


def test_a_later_date_changes_nothing_until_it_comes_then_takes_effect_once(world: World) -> None:
    w = world
    plan, old, new = _merged_draft(w)
    day = (dt.datetime.now(CHINA_TZ) + dt.timedelta(days=3)).date()
    published = w.client.post(
        f"/api/plans/{plan}/publish",
        json={"effective_from": day.isoformat()},
        headers=w.as_role("admin"),
    )
    assert published.status_code == 200, published.text
    body = published.json()
    starts = dt.datetime.combine(day, dt.time(), tzinfo=CHINA_TZ)
    assert dt.datetime.fromisoformat(body["effective_from"]) == starts
    assert body["incidents_regridded"] == 0
    assert all(p["pending"] for p in body["publications"])
    # before the date: lookups, the incident and the plan in force are as they were
    assert _lookup(w)["plan_id"] == w.plan_id
    assert w.store.incident(w.incident_id).fields["grid_code"] == old
    assert w.store.plan(w.plan_id).status == "published"
    listed = w.client.get(f"/api/plans/{plan}", headers=w.as_role("planner")).json()
    assert {dt.datetime.fromisoformat(p["valid_from"]) for p in listed["publications"]} == {starts}

    # the clock moves past the date: a lookup index built before it rebuilds itself
    clock = [starts - dt.timedelta(hours=1)]
    locator = Locator(w.store, w.settings, clock=lambda: clock[0])
    locator.refresh()
    lon, lat = handmade.point_in(0, 0.1, 0.1)
    assert locator.locate(lon, lat)["grid"]["plan_id"] == w.plan_id
    assert locator.expires == starts
    clock[0] = starts + dt.timedelta(minutes=1)
    after = locator.locate(lon, lat)["grid"]
    assert after["plan_id"] == plan and after["code"] == new
    assert take_effect_due(w.store, now=starts - dt.timedelta(hours=1)).publications == []

    # the server's own index too, rebuilt off the event loop (a district takes seconds, and
    # every other request would wait on the loop meanwhile)
    served: Locator = w.client.app.state.locator  # type: ignore[attr-defined]
    assert served.expires == starts
    rebuilt_on_loop: list[bool] = []
    served.subscribe(lambda _: rebuilt_on_loop.append(_on_a_running_loop()))
    served.clock = lambda: clock[0]
    answer = _lookup(w)
    assert (answer["plan_id"], answer["code"]) == (plan, new)
    assert rebuilt_on_loop == [False]

    # the open incidents move once, whichever process notices first
    done = take_effect_due(w.store, now=clock[0])
    assert done.publications and done.incidents_regridded == {w.incident_id: new}
    assert take_effect_due(w.store, now=clock[0]).publications == []
    moved = w.store.incident(w.incident_id)
    assert moved.fields["grid_code"] == new
    regrids = [e for e in w.store.incident_events(w.incident_id) if e.action == "regrid"]
    assert len(regrids) == 1
    assert w.store.plan(w.plan_id).status == "archived"


def test_today_is_now_and_a_past_date_is_refused(world: World) -> None:
    w = world
    plan, _, new = _merged_draft(w)
    yesterday = (dt.datetime.now(CHINA_TZ) - dt.timedelta(days=1)).date().isoformat()
    refused = w.client.post(
        f"/api/plans/{plan}/publish",
        json={"effective_from": yesterday},
        headers=w.as_role("admin"),
    )
    assert refused.status_code == 422, refused.text
    assert "effective_from" in refused.json()["detail"]
    bad = w.client.post(
        f"/api/plans/{plan}/publish", json={"effective_from": "soon"}, headers=w.as_role("admin")
    )
    assert bad.status_code == 422 and "effective_from" in bad.json()["detail"]
    assert w.store.plan(plan).status == "draft"
    planner = w.client.post(
        f"/api/plans/{plan}/publish", json={"effective_from": None}, headers=w.as_role("planner")
    )
    assert planner.status_code == 403
    today = dt.datetime.now(CHINA_TZ).date().isoformat()
    published = w.client.post(
        f"/api/plans/{plan}/publish", json={"effective_from": today}, headers=w.as_role("admin")
    )
    assert published.status_code == 200, published.text
    assert published.json()["incidents_regridded"] == 1
    assert not any(p["pending"] for p in published.json()["publications"])
    assert _lookup(w)["plan_id"] == plan  # in force at once
    assert w.store.incident(w.incident_id).fields["grid_code"] == new


def test_cli_publish_effective(world: World) -> None:
    w = world
    plan, _, _ = _merged_draft(w)
    target = (
        ["--database-url", w.settings.database_url]
        if w.settings.database_url
        else ["--workspace", str(w.settings.workspace)]
    )
    past = ["publish", plan, *target, "--effective", "2020-01-01", "--json"]
    ran = CliRunner().invoke(cli, past)
    assert ran.exit_code != 0 and "effective_from" in ran.output
    day = (dt.datetime.now(CHINA_TZ) + dt.timedelta(days=2)).date()
    effective = ["--effective", day.isoformat(), "--json"]
    ran = CliRunner().invoke(cli, ["publish", plan, *target, *effective])
    assert ran.exit_code == 0, ran.output
    result = json.loads(ran.stdout)
    starts = dt.datetime.combine(day, dt.time(), tzinfo=CHINA_TZ)
    assert dt.datetime.fromisoformat(result["valid_from"]) == starts
    assert result["incidents_regridded"] == 0
    assert [p.plan_id for p in w.store.publications()] == [w.plan_id] * len(w.store.publications())
