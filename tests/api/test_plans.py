"""Plans through the API on both engines: create (copy, partition), edits with compare-and-set,
report, diff, export, publish (refused with errors; moves open incidents; refreshes lookup)."""

from __future__ import annotations

import io
import json
import zipfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import handmade
import pyogrio
import pytest
from seeded import World, seeded_gpkg, seeded_postgis, world

from gridmap.store.contract import IncidentEvent

__all__ = ["seeded_gpkg", "seeded_postgis", "world"]


def draft(w: World) -> dict[str, Any]:
    """A draft copied from the plan in force."""
    made = w.client.post("/api/plans", json={"mode": "copy"}, headers=w.as_role("planner"))
    assert made.status_code == 201, made.text
    return made.json()["plan"]


def grid_codes(w: World, plan_id: str) -> list[str]:
    plan = w.client.get(f"/api/plans/{plan_id}", headers=w.as_role("planner")).json()
    return sorted(f["properties"]["code"] for f in plan["grids"]["features"])


def edit(w: World, plan_id: str, body: dict[str, Any], role: str = "planner") -> Any:
    return w.client.post(f"/api/plans/{plan_id}/edits", json=body, headers=w.as_role(role))


def test_list_and_copy_the_plan_in_force(world: World) -> None:
    plans = world.client.get("/api/plans", headers=world.as_role("planner")).json()["plans"]
    assert [(p["id"], p["status"]) for p in plans] == [(world.plan_id, "published")]
    plan = draft(world)
    assert plan["status"] == "draft" and plan["copied_from"] == world.plan_id
    assert grid_codes(world, plan["id"]) == world.grid_codes
    drafts = world.client.get("/api/plans?status=draft", headers=world.as_role("planner"))
    assert [p["id"] for p in drafts.json()["plans"]] == [plan["id"]]


def test_partition_with_target_and_tolerance(world: World) -> None:
    made = world.client.post(
        "/api/plans",
        json={"mode": "partition", "communities": [handmade.C2], "target": 2000, "tolerance": 0.2},
        headers=world.as_role("planner"),
    )
    assert made.status_code == 202, made.text
    job = world.finished_job(made.headers["Location"])
    assert job["state"] == "done" and job["result"]["grids"] == 3  # 6,000 / 2,000
    plan = world.client.get(
        f"/api/plans/{job['result_plan']}", headers=world.as_role("planner")
    ).json()["plan"]
    assert plan["communities"] == [handmade.C2] and plan["params"]["target"] == 2000
    report = world.client.get(
        f"/api/plans/{plan['id']}/report", headers=world.as_role("planner")
    ).json()
    assert report["ok"] and report["stats"]["grids"] == 3
    unknown = world.client.post(
        "/api/plans",
        json={"mode": "partition", "communities": ["500108999999"]},
        headers=world.as_role("planner"),
    )
    assert unknown.status_code == 404


def test_edit_answers_revision_diff_and_report(world: World) -> None:
    plan = draft(world)
    a, b = grid_codes(world, plan["id"])[:2]  # the two grids of community C1
    answer = edit(world, plan["id"], {"operation": "merge", "base_revision": 1, "grids": [a, b]})
    assert answer.status_code == 201, answer.text
    body = answer.json()
    assert body["revision"]["number"] == 2 and body["revision"]["base"] == 1
    assert body["revision"]["created_by"] == "paula" and body["revision"]["operation"] == "merge"
    assert body["report"]["ok"] and body["diff"]["residents_moved"] > 0
    assert len(grid_codes(world, plan["id"])) == len(world.grid_codes) - 1
    split = edit(world, plan["id"], {"operation": "split", "base_revision": 2, "grid": b})
    merged = a if a in grid_codes(world, plan["id"]) else b
    if split.status_code == 422:  # the merge kept the other code
        split = edit(world, plan["id"], {"operation": "split", "base_revision": 2, "grid": merged})
    assert split.status_code == 201, split.text
    assert split.json()["revision"]["number"] == 3 and split.json()["report"]["ok"]


def test_an_edit_changes_one_community_and_answers_its_grids(world: World) -> None:
    plan = draft(world)
    before = world.store.revision(plan["id"], 1)
    a, b = grid_codes(world, plan["id"])[:2]  # the two grids of community C1
    answer = edit(world, plan["id"], {"operation": "merge", "base_revision": 1, "grids": [a, b]})
    assert answer.status_code == 201, answer.text
    body = answer.json()
    community = a[:12]
    assert body["communities"] == [community]
    assert {f["properties"]["community_code"] for f in body["grids"]["features"]} == {community}
    after = world.store.revision(plan["id"], 2)
    assert sorted(f["properties"]["code"] for f in body["grids"]["features"]) == sorted(
        after.grids.loc[after.grids["community_code"] == community, "code"]
    )
    # every other community's cells and grids are carried over unchanged, in the same order
    assert after.cells.index.tolist() == before.cells.index.tolist()
    others = before.cells["community_code"] != community
    assert (after.cells.loc[others, "grid"] == before.cells.loc[others, "grid"]).all()
    kept = before.grids[before.grids["community_code"] != community].set_index("code")
    again = after.grids.set_index("code").loc[kept.index]
    assert kept.geometry.geom_equals(again.geometry).all()
    assert (kept["residents"] == again["residents"]).all()


def test_revert_undoes_and_redoes_any_edit(world: World) -> None:
    plan = draft(world)
    a, b = grid_codes(world, plan["id"])[:2]
    merged = edit(world, plan["id"], {"operation": "merge", "base_revision": 1, "grids": [a, b]})
    assert merged.status_code == 201, merged.text
    undo = edit(world, plan["id"], {"operation": "revert", "base_revision": 2, "to_revision": 1})
    assert undo.status_code == 201, undo.text
    body = undo.json()
    assert body["revision"]["number"] == 3 and body["revision"]["operation"] == "revert"
    assert body["diff"]["residents_moved"] == merged.json()["diff"]["residents_moved"]
    first, third = world.store.revision(plan["id"], 1), world.store.revision(plan["id"], 3)
    assert (first.cells["grid"] == third.cells.loc[first.cells.index, "grid"]).all()
    assert sorted(third.grids["code"]) == sorted(first.grids["code"])
    redo = edit(world, plan["id"], {"operation": "revert", "base_revision": 3, "to_revision": 2})
    assert redo.status_code == 201 and len(grid_codes(world, plan["id"])) == len(first.grids) - 1
    same = edit(world, plan["id"], {"operation": "revert", "base_revision": 4, "to_revision": 2})
    assert same.status_code == 422 and same.json()["reason"] == "no_change"
    stale = edit(world, plan["id"], {"operation": "revert", "base_revision": 3, "to_revision": 1})
    assert stale.status_code == 409 and stale.json()["winner"]["number"] == 4


def test_stale_base_is_409_naming_the_winner_and_writes_nothing(world: World) -> None:
    plan = draft(world)
    a, b, c, d = grid_codes(world, plan["id"])
    first = edit(world, plan["id"], {"operation": "merge", "base_revision": 1, "grids": [a, b]})
    assert first.status_code == 201
    late = edit(
        world, plan["id"], {"operation": "merge", "base_revision": 1, "grids": [c, d]}, "admin"
    )
    assert late.status_code == 409
    body = late.json()
    assert body["error"] == "stale_revision" and body["base"] == 1
    assert body["winner"]["number"] == 2 and body["winner"]["created_by"] == "paula"
    assert body["winner"]["operation"] == "merge"
    assert world.store.plan(plan["id"]).head == 2
    assert {c, d} <= set(grid_codes(world, plan["id"]))  # the late merge was not applied


def test_two_planners_racing_from_one_base_one_wins(world: World) -> None:
    plan = draft(world)
    a, b, c, d = grid_codes(world, plan["id"])
    bodies = [
        ({"operation": "merge", "base_revision": 1, "grids": [a, b]}, "planner"),
        ({"operation": "merge", "base_revision": 1, "grids": [c, d]}, "admin"),
    ]
    with ThreadPoolExecutor(2) as pool:
        answers = list(pool.map(lambda x: edit(world, plan["id"], *x), bodies))
    assert sorted(r.status_code for r in answers) == [201, 409]
    assert [r.number for r in world.store.revisions(plan["id"])] == [1, 2]
    loser = next(r for r in answers if r.status_code == 409).json()
    assert loser["winner"]["number"] == 2


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ({"operation": "merge", "grids": ["{0}", "{2}"]}, "other_community"),
        ({"operation": "move", "to_grid": "{1}", "cells": ["no-such-cell"]}, "unknown_cell"),
        ({"operation": "split", "grid": "500108003002999"}, "unknown_grid"),
    ],
)
def test_refused_edit_is_422_with_reason(world: World, body: dict[str, Any], reason: str) -> None:
    plan = draft(world)
    codes = grid_codes(world, plan["id"])
    text = json.dumps(body)
    for i, code in enumerate(codes):
        text = text.replace(f"{{{i}}}", code)
    filled = json.loads(text) | {"base_revision": 1}
    answer = edit(world, plan["id"], filled)
    assert answer.status_code == 422, answer.text
    assert answer.json()["error"] == "edit_refused" and answer.json()["reason"] == reason
    assert world.store.plan(plan["id"]).head == 1


def test_reshape_and_bad_geometry(world: World) -> None:
    plan = draft(world)
    a = grid_codes(world, plan["id"])[0]
    x0, y0 = handmade.point_in(0, 0.0, 0.0)
    x1, y1 = handmade.point_in(0, 0.6, 1.0)
    ring = [[x0, y0], [x1, y0], [x1, y1], [x0, y1], [x0, y0]]
    polygon = {"type": "Polygon", "coordinates": [ring]}
    body = {"operation": "reshape", "base_revision": 1, "grid": a, "polygon": polygon}
    answer = edit(world, plan["id"], body)
    assert answer.status_code in (201, 422), answer.text  # 422 only as an engine refusal
    if answer.status_code == 422:
        assert answer.json()["error"] == "edit_refused"
    bowtie = [[x0, y0], [x1, y1], [x1, y0], [x0, y1], [x0, y0]]
    bad = edit(world, plan["id"], body | {"polygon": {"type": "Polygon", "coordinates": [bowtie]}})
    assert bad.status_code == 422 and bad.json()["error"] == "bad_input"


def test_edits_on_a_published_plan_are_refused(world: World) -> None:
    a, b = world.grid_codes[:2]
    answer = edit(world, world.plan_id, {"operation": "merge", "base_revision": 1, "grids": [a, b]})
    assert answer.status_code == 422
    assert world.store.plan(world.plan_id).head == 1


def test_diff_against_published_and_a_revision(world: World) -> None:
    plan = draft(world)
    a, b = grid_codes(world, plan["id"])[:2]
    edit(world, plan["id"], {"operation": "merge", "base_revision": 1, "grids": [a, b]})
    planner = world.as_role("planner")
    published = world.client.get(f"/api/plans/{plan['id']}/diff", headers=planner).json()
    assert published["against"] == "published" and published["residents_moved"] > 0
    assert len(published["removed"]) == 1
    same = world.client.get(
        f"/api/plans/{plan['id']}/diff?against={plan['id']}@2", headers=planner
    ).json()
    assert same["residents_moved"] == 0 and same["removed"] == []
    bad = world.client.get(f"/api/plans/{plan['id']}/diff?against=x@y", headers=planner)
    assert bad.status_code == 422


@pytest.mark.parametrize("fmt", ["gpkg", "geojson", "shp", "csv"])
def test_export_formats(world: World, fmt: str, tmp_path: Path) -> None:
    answer = world.client.get(
        f"/api/plans/{world.plan_id}/export?format={fmt}", headers=world.as_role("planner")
    )
    assert answer.status_code == 200
    assert "attachment" in answer.headers["content-disposition"]
    if fmt == "csv":
        text = answer.content.decode("utf-8-sig")
        assert all(code in text for code in world.grid_codes)
        return
    path = tmp_path / f"out.{'zip' if fmt == 'shp' else fmt}"
    path.write_bytes(answer.content)
    if fmt == "shp":
        assert any(
            n.endswith(".dbf") for n in zipfile.ZipFile(io.BytesIO(answer.content)).namelist()
        )
        frame = pyogrio.read_dataframe(f"/vsizip/{path}")
    else:
        frame = pyogrio.read_dataframe(path)
    assert sorted(frame["code"]) == world.grid_codes and frame.crs.to_epsg() == 4326


def test_publish_is_refused_while_the_report_has_errors(world: World) -> None:
    rev = world.store.revision(world.plan_id)
    cells = rev.cells.drop(index=rev.cells.index[0])  # a gap
    from gridmap.engine.plan import dissolve_grids

    grids = dissolve_grids(cells)
    grids["compactness"] = 0.5
    made = world.store.create_plan(cells, grids, name="with a gap", params={}, actor="paula")
    answer = world.client.post(f"/api/plans/{made.plan_id}/publish", headers=world.as_role("admin"))
    assert answer.status_code == 409
    body = answer.json()
    assert body["error"] == "publish_refused" and not body["report"]["ok"]
    assert "gap" in body["report"]["stats"]["kinds"]
    assert world.store.plan(made.plan_id).status == "draft"
    assert {p.plan_id for p in world.store.publications()} == {world.plan_id}


def test_publish_moves_open_incidents_and_refreshes_lookup(world: World) -> None:
    store = world.store
    seeded = store.incident(world.incident_id)
    lon, lat = seeded.fields["lon"], seeded.fields["lat"]
    # Filed under a grid of the other community, so the publication must move it.
    old = world.grid_codes[-1]
    note = IncidentEvent("", 0, seeded.created_at, "sam", "edit", "reported", "reported")
    seeded = store.update_incident(
        seeded.id, seeded.version, {"grid_code": old}, actor="sam", event=note
    )
    closed = store.add_incident(
        dict(seeded.fields) | {"status": "closed"},
        actor="sam",
        event=IncidentEvent("", 1, seeded.created_at, "sam", "report", None, "closed"),
    )
    plan = draft(world)
    a, b = grid_codes(world, plan["id"])[:2]
    merged = edit(world, plan["id"], {"operation": "merge", "base_revision": 1, "grids": [a, b]})
    new = next(c for c in grid_codes(world, plan["id"]) if c in (a, b))
    published = world.client.post(
        f"/api/plans/{plan['id']}/publish", headers=world.as_role("admin")
    )
    assert merged.status_code == 201 and published.status_code == 200, published.text
    assert published.json()["incidents_regridded"] == 1
    moved = store.incident(world.incident_id)
    assert moved.fields["grid_code"] == new and moved.version == seeded.version + 1
    assert moved.fields["community_code"] == handmade.C1
    last = store.incident_events(world.incident_id)[-1]
    assert last.action == "regrid" and old in (last.note or "") and new in (last.note or "")
    assert last.from_status == last.to_status == "reported" and last.actor == "ada"
    assert store.incident(closed.id).fields["grid_code"] == old  # closed: left as it was
    lookup = world.client.get(f"/api/lookup?lon={lon}&lat={lat}")
    assert lookup.status_code == 200 and lookup.json()["grid"]["code"] == new
    assert lookup.json()["grid"]["plan_id"] == plan["id"]
