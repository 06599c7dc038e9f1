"""Residents (/): find the grid by search, by clicking the map and by location; phone screen."""

from __future__ import annotations

from pathlib import Path

import pytest
import shapely
from webmap import click_lonlat

from gridmap.store import GpkgStore


@pytest.fixture(scope="module")
def grids(web_workspace: Path):  # type: ignore[no-untyped-def]
    with GpkgStore(web_workspace) as store:
        return store.grids_at()


def grid_at(grids, lon: float, lat: float) -> str:  # type: ignore[no-untyped-def]
    hit = grids[grids.contains(shapely.Point(lon, lat))]
    assert len(hit) == 1
    return str(hit["code"].iloc[0])


def open_page(page, path: str = "/") -> None:  # type: ignore[no-untyped-def]
    page.goto(path)
    page.wait_for_selector("body[data-ready=true][data-grids-loaded]")


def test_search_finds_the_grid(page, grids, web_server: str) -> None:  # type: ignore[no-untyped-def]
    import httpx

    community = grids.sort_values("code").iloc[0]["community_code"]
    name = httpx.get(f"{web_server}/api/layers/communities").json()["features"]
    short = next(f["properties"]["short_name"] for f in name if f["id"] == community)
    open_page(page)
    page.fill("#q", short)
    page.click("#search button[type=submit]")
    # One hit goes straight to the card; several make a list to choose from.
    page.wait_for_selector("#card[data-code], #hits li")
    if page.locator("#hits li").count():
        page.locator("#hits li").first.click()
    page.wait_for_selector("#card[data-code]")
    hit = httpx.get(f"{web_server}/api/search", params={"q": short, "limit": 10}).json()["hits"]
    expected = grid_at(grids, hit[0]["lon"], hit[0]["lat"])
    assert page.get_attribute("#card", "data-code") == expected
    assert page.text_content("[data-testid=grid-code]") == expected
    assert short in page.text_content("[data-testid=community]")
    phones = page.locator("[data-testid=staff] a.tel")
    assert phones.count() >= 5  # the grid head and the five staff roles, each with a phone
    assert phones.first.get_attribute("href").startswith("tel:")
    # The grid is drawn highlighted: exactly one path in the highlight colour.
    assert page.locator("path[stroke='#c0392b'][stroke-width='3']").count() == 1


def test_clicking_the_map_finds_the_grid(page, grids) -> None:  # type: ignore[no-untyped-def]
    target = grids.sort_values("code").iloc[len(grids) // 2]
    point = target.geometry.representative_point()
    open_page(page, f"/#map=16/{point.y:.6f}/{point.x:.6f}")
    click_lonlat(page, point.x, point.y)
    page.wait_for_selector(f"#card[data-code='{target['code']}']")
    assert page.text_content("[data-testid=grid-name]")


def share_location(page, grids) -> str:  # type: ignore[no-untyped-def]
    """The browser's location set inside one grid; that grid's code."""
    grid = grids.sort_values("code").iloc[-1]
    point = grid.geometry.representative_point()
    page.context.set_geolocation({"longitude": point.x, "latitude": point.y})
    return str(grid["code"])


def test_my_location_and_english(page, grids) -> None:  # type: ignore[no-untyped-def]
    open_page(page)
    code = share_location(page, grids)
    page.click("#locate")
    page.wait_for_selector(f"#card[data-code='{code}']")
    assert page.text_content("header h1") == "我的网格"
    page.click("#lang")
    assert page.text_content("header h1") == "My grid"
    assert "Grid code" in page.text_content("#card")


@pytest.mark.viewport(390, 844)
def test_phone_screen(page, grids) -> None:  # type: ignore[no-untyped-def]
    open_page(page)
    share_location(page, grids)
    page.click("#locate")
    page.wait_for_selector("#card[data-code]")
    card = page.locator("#card").bounding_box()
    the_map = page.locator("#map").bounding_box()
    assert card["width"] <= 390 and the_map["width"] <= 390
    assert the_map["height"] >= 200  # the map is still there, below the panel
    assert page.evaluate("document.documentElement.scrollWidth") <= 390  # no sideways scrolling
