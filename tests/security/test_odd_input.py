"""Issue 12 items 5 and 7: odd input is a 4xx naming the parameter (was a 500), and public
errors name the parameter, not the store's path or host, nor the plans that exist."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "api"))  # the seeded world
from seeded import World, seeded_gpkg, seeded_postgis, world

__all__ = ["seeded_gpkg", "seeded_postgis", "world"]

HUGE = "99999999999999999999"
LATE = "9999-12-31T23:59:59-23:59"  # past year 9999 in UTC
EARLY = "0001-01-01T00:00:00%2B14:00"  # before year 1 in UTC
POINT = "lon=106.57&lat=29.52"


def assert_names(answer, parameter: str) -> None:  # type: ignore[no-untyped-def]
    assert 400 <= answer.status_code < 500, answer.text
    assert parameter in answer.text, answer.text


@pytest.mark.parametrize(
    ("url", "role", "parameter"),
    [
        (f"/api/lookup?{POINT}&at={LATE}", None, "at"),
        (f"/api/lookup?{POINT}&at={EARLY}", None, "at"),
        (f"/api/incidents?since={LATE}", "staff", "since"),
        (f"/api/incidents?until={EARLY}", "staff", "until"),
        (f"/open311/v2/requests.json?start_date={EARLY}", None, "start_date"),
        (f"/open311/v2/requests.json?end_date={LATE}", None, "end_date"),
        (f"/api/plans/PLAN?revision={HUGE}", "planner", "revision"),
        (f"/api/plans/PLAN/report?revision={HUGE}", "planner", "revision"),
        (f"/api/plans/PLAN/atoms?revision={HUGE}", "planner", "revision"),
        (f"/api/plans/PLAN/diff?against=PLAN@{HUGE}", "planner", "against"),
    ],
)
def test_odd_query_values_are_named_4xx(
    world: World, url: str, role: str | None, parameter: str
) -> None:
    answer = world.client.get(url.replace("PLAN", world.plan_id), headers=world.as_role(role))
    assert_names(answer, parameter)


def test_huge_revisions_in_an_edit_are_named_4xx(world: World) -> None:
    planner = world.as_role("planner")
    draft = world.client.post("/api/plans", json={"mode": "copy"}, headers=planner).json()
    url = f"/api/plans/{draft['plan']['id']}/edits"
    for body in (
        {"operation": "merge", "base_revision": 2**63, "grids": world.grid_codes[:2]},
        {"operation": "revert", "base_revision": 1, "to_revision": 2**63},
    ):
        answer = world.client.post(url, json=body, headers=planner)
        assert_names(answer, "revision")


def test_public_errors_name_neither_the_store_nor_other_plans(world: World) -> None:
    store_words = [str(world.settings.workspace)]
    if world.settings.database_url:
        store_words.append(world.settings.database_url.rsplit("/", 1)[-1])  # the database
    for url in ("/api/layers/grids?plan=999", "/open311/v2/requests/999.json"):
        answer = world.client.get(url)
        assert answer.status_code == 404, answer.text
        detail = answer.json()["detail"]
        assert "999" in detail
        assert not any(word in detail for word in store_words), detail
        assert "plans are" not in detail and world.plan_id + "," not in detail, detail
