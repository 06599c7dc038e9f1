"""Street office (/office): a clerk (受理员) records an incident on the map and registers it; the
rest of the case is other roles' work (test_office_workflow.py)."""

from __future__ import annotations

from pathlib import Path

import shapely
from webmap import OVERDUE_CATEGORY, PASSWORD, click_lonlat

from gridmap.store import GpkgStore


def sign_in(page, path: str, user: str) -> None:  # type: ignore[no-untyped-def]
    page.goto(path)
    page.fill("#signin input[name=username]", user)
    page.fill("#signin input[name=password]", PASSWORD)
    page.click("#signin button[type=submit]")
    page.wait_for_selector("body[data-ready=true]")


def test_clerk_records_an_incident_and_registers_it(page, web_workspace: Path) -> None:  # type: ignore[no-untyped-def]
    with GpkgStore(web_workspace) as store:
        grids = store.grids_at().sort_values("code")
    grid = grids.iloc[3]
    point = grid.geometry.representative_point()
    sign_in(page, f"/office#map=17/{point.y:.6f}/{point.x:.6f}", "clerk")
    before = int(page.get_attribute("body", "data-incidents"))

    click_lonlat(page, point.x, point.y)
    form = page.locator("#new-incident")
    form.wait_for()
    # Before saving: the grid (first candidate, checked), and its staff.
    first = form.locator("[data-testid=candidates] input[type=radio]").first
    assert first.get_attribute("value") == grid["code"]
    assert first.is_checked()
    assert form.locator("[data-testid=draft-staff] li").count() >= 5
    form.locator("select[name=category]").select_option("市容环境/暴露垃圾")
    form.locator("textarea[name=description]").fill("小区门口垃圾堆放")
    form.locator("button[type=submit]").click()

    detail = page.locator("#detail[data-status=reported]")
    detail.wait_for()
    page.wait_for_selector(f"body[data-incidents='{before + 1}']")
    assert grid["code"] in detail.text_content()
    # The clerk may register or dismiss, nothing else.
    buttons = page.locator("[data-testid=actions] button")
    assert sorted(buttons.nth(i).get_attribute("data-action") for i in range(buttons.count())) == [
        "dismiss",
        "register",
    ]
    page.click("[data-testid=actions] button[data-action=register]")
    page.wait_for_selector("#detail[data-status=registered]")
    assert page.locator("[data-testid=actions]").count() == 0  # dispatching is not the clerk's
    page.locator("[data-testid=no-actions]").wait_for()
    events = page.locator("[data-testid=timeline] li")
    assert [events.nth(i).get_attribute("data-action") for i in range(events.count())] == [
        "report",
        "register",
    ]
    # The list, filtered to registered incidents, holds it.
    page.select_option("#filter-status", "registered")
    page.wait_for_function(
        "[...document.querySelectorAll('#incidents li[data-status]')]"
        ".every(li => li.dataset.status === 'registered')"
    )
    assert (
        page.locator("#incidents li[data-status]").count()
        == page.locator("#incidents li[data-status=registered]").count()
    )
    assert shapely.Point(point.x, point.y).within(grid.geometry)


def test_overdue_incidents_are_highlighted(page, web_workspace: Path) -> None:  # type: ignore[no-untyped-def]
    with GpkgStore(web_workspace) as store:
        grid = store.grids_at().sort_values("code").iloc[5]
    point = grid.geometry.representative_point()
    sign_in(page, f"/office#map=17/{point.y:.6f}/{point.x:.6f}", "clerk")
    click_lonlat(page, point.x, point.y)
    form = page.locator("#new-incident")
    form.locator("select[name=category]").select_option(OVERDUE_CATEGORY)
    form.locator("button[type=submit]").click()
    page.wait_for_selector("#detail[data-status=reported]")
    overdue = page.locator("#incidents li.overdue")
    assert overdue.count() >= 1
    assert overdue.first.get_attribute("data-overdue") == "true"
    page.check("#filter-overdue")
    page.wait_for_function(
        "[...document.querySelectorAll('#incidents li[data-status]')]"
        ".every(li => li.dataset.overdue === 'true')"
    )
    assert page.locator("#incidents li[data-status]").count() == overdue.count()


def test_an_expired_sign_in_asks_again_and_keeps_the_report(page, web_workspace: Path) -> None:  # type: ignore[no-untyped-def]
    with GpkgStore(web_workspace) as store:
        grid = store.grids_at().sort_values("code").iloc[8]  # a grid no other test reports in
    point = grid.geometry.representative_point()
    sign_in(page, f"/office#map=17/{point.y:.6f}/{point.x:.6f}", "clerk")
    before = int(page.get_attribute("body", "data-incidents"))
    click_lonlat(page, point.x, point.y)
    form = page.locator("#new-incident")
    form.wait_for()
    form.locator("textarea[name=description]").fill("路灯不亮")
    # The token expires while the clerk types (a forged one answers 401 like an expired one).
    page.evaluate("sessionStorage.setItem('gridmap.token', 'expired')")
    form.locator("button[type=submit]").click()
    again = page.locator("#signin-again")
    again.wait_for()
    assert form.locator("textarea[name=description]").input_value() == "路灯不亮"
    again.locator("input[name=username]").fill("clerk")
    again.locator("input[name=password]").fill(PASSWORD)
    again.locator("button[type=submit]").click()
    page.wait_for_selector(f"body[data-incidents='{before + 1}']")
    assert page.locator("#signin-again").count() == 0
    page.wait_for_selector("#detail[data-status=reported]")  # the list comes before the case
    assert "路灯不亮" in page.locator("#detail").text_content()
    # The one 401 was expected: the browser logs it as a failed resource.
    page.watch.errors[:] = [e for e in page.watch.errors if "status of 401" not in e]
