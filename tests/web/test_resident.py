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


def test_a_community_offers_all_its_grids(page, grids, web_server: str) -> None:  # type: ignore[no-untyped-def]
    import httpx

    counts = grids.groupby("community_code")["code"].apply(sorted)
    community = next(c for c, codes in counts.items() if len(codes) >= 3)
    name = httpx.get(f"{web_server}/api/layers/communities").json()["features"]
    short = next(f["properties"]["short_name"] for f in name if f["id"] == community)
    open_page(page)
    page.fill("#q", short)
    page.click("#search button[type=submit]")
    # The community's hit (if others match too) leads to all its grids, not the one under its
    # label point: residents of every grid get their own contacts.
    page.wait_for_selector("#hits [role=option]")
    if page.locator("#hits [data-kind=community]").count():
        page.locator("#hits [data-kind=community]").first.click()
    page.wait_for_function(
        "document.querySelectorAll('#hits [role=option]').length > 0 &&"
        " !document.querySelector('#hits [role=option]:not([data-kind=grid])')"
    )
    options = page.locator("#hits [role=option]")
    assert options.count() == len(counts[community])
    assert page.locator("#hits .kind").first.text_content() == "网格"
    assert page.locator("path.leaflet-interactive[stroke='#1d4ed8']").count() >= len(
        counts[community]
    )  # the grids to choose from, and a marker per option
    options.nth(1).click()
    expected = counts[community][1]
    page.wait_for_selector(f"#card[data-code='{expected}']")
    assert page.text_content("[data-testid=grid-code]") == expected
    assert short in page.text_content("[data-testid=community]")
    phones = page.locator("[data-testid=staff] a.tel")
    assert phones.count() >= 5  # the grid head first, the five staff roles behind 更多
    assert phones.first.get_attribute("href").startswith("tel:")
    assert page.locator("[data-testid=staff] .person.first .role").text_content() == "网格长"
    # The grid is drawn highlighted: exactly one path in the highlight colour.
    assert page.locator("path[stroke='#c0392b'][stroke-width='3']").count() == 1
    # A search that finds nothing clears the card and the highlight.
    page.fill("#q", "没有这个地方")
    page.keyboard.press("Enter")
    page.wait_for_selector("#status[data-state=nothing]")
    assert page.locator("#card").is_hidden()
    assert page.locator("path[stroke='#c0392b'][stroke-width='3']").count() == 0


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
    # Roles in English too (the names of people and their duties are data, kept as they are).
    assert page.locator("#card .person.first .role").text_content() == "Grid head"
    assert "网格长" not in page.text_content("#card")


def inside(box, outer) -> bool:  # type: ignore[no-untyped-def]
    return (
        box["x"] >= outer["x"] - 1
        and box["y"] >= outer["y"] - 1
        and box["x"] + box["width"] <= outer["x"] + outer["width"] + 1
        and box["y"] + box["height"] <= outer["y"] + outer["height"] + 1
    )


@pytest.mark.viewport(390, 844)
def test_phone_screen(page, grids) -> None:  # type: ignore[no-untyped-def]
    open_page(page)
    code = share_location(page, grids)
    page.click("#locate")
    page.wait_for_selector(f"#card[data-code='{code}']")
    # The sheet's growth resizes the map (a ResizeObserver), which fits the grid again: wait
    # until the grid's outline lies inside the map (it fails after the default timeout if not).
    page.wait_for_function(
        """() => {
            const map = document.querySelector('#map').getBoundingClientRect();
            const grid = document.querySelector("path[stroke='#c0392b'][stroke-width='3']");
            const box = grid && grid.getBoundingClientRect();
            return box && box.top >= map.top - 1 && box.bottom <= map.bottom + 1
                && box.left >= map.left - 1 && box.right <= map.right + 1;
        }"""
    )
    screen = {"x": 0, "y": 0, "width": 390, "height": 844}
    card = page.locator("#card").bounding_box()
    the_map = page.locator("#map").bounding_box()
    assert card["width"] <= 390 and the_map["width"] <= 390
    assert inside(the_map, screen) and the_map["height"] >= 200  # the map above the sheet
    # The position and the whole grid are on the map, on the screen.
    you = page.locator("path.leaflet-interactive[fill='#1d4ed8'][stroke='#fff']").bounding_box()
    grid = page.locator("path[stroke='#c0392b'][stroke-width='3']").bounding_box()
    assert inside(you, the_map) and inside(grid, the_map), (you, grid, the_map)
    assert page.evaluate("document.documentElement.scrollWidth") <= 390  # no sideways scrolling
    assert page.locator("#card .person.first a.call").is_visible()  # the call button first
    # Far outside the district (Beijing): no card, no grid highlighted, the distance and the
    # hotline said.
    page.context.set_geolocation({"longitude": 116.397, "latitude": 39.909})
    page.click("#locate")
    page.wait_for_selector("#status[data-state=outside]")
    assert page.locator("#card").is_hidden()
    assert page.locator("path[stroke='#c0392b'][stroke-width='3']").count() == 0
    assert "公里" in page.text_content("#status")
    assert page.locator("#status a[href='tel:12345']").count() == 1
    page.watch.errors[:] = [e for e in page.watch.errors if "status of 404" not in e]


def test_a_board_qr_code_opens_its_grid(page, grids) -> None:  # type: ignore[no-untyped-def]
    from gridmap.boards.content import grid_page_url

    code = str(sorted(grids["code"])[len(grids) // 2])
    url = grid_page_url("http://any.host", code)
    path = url.split("any.host", 1)[1]
    assert path == f"/?grid={code}"
    page.goto(path)
    page.wait_for_selector(f"#card[data-code='{code}']")
    assert page.text_content("[data-testid=grid-code]") == code
    assert page.locator("[data-testid=you]").count() == 0  # a grid, not a position
    page.goto("/?grid=500108999999999")
    page.wait_for_selector("#status.error")
    assert "500108999999999" in page.text_content("#status")
