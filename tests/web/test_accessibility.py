"""Accessibility: axe-core (vendored from npm, injected into the page, so nothing is fetched)
finds no serious or critical WCAG 2 A/AA violation on the three pages, signed in and with
their main panels filled; the hit list is usable from the keyboard."""

from __future__ import annotations

from pathlib import Path

import pytest
from test_office import sign_in
from webmap import STREET

AXE = Path(__file__).resolve().parents[2] / "web" / "vendor" / "axe" / "axe.min.js"


def serious_violations(page) -> list[str]:  # type: ignore[no-untyped-def]
    """axe-core's serious and critical WCAG 2 A/AA violations on the page, one line each."""
    page.add_script_tag(content=AXE.read_text(encoding="utf-8"))
    result = page.evaluate(
        """async () => (await axe.run(document, {
            runOnly: {type: "tag", values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]},
        })).violations"""
    )
    return [
        f"{v['id']} ({v['impact']}): {v['help']} at "
        + ", ".join(str(node["target"]) for node in v["nodes"][:4])
        for v in result
        if v["impact"] in ("serious", "critical")
    ]


@pytest.mark.viewport(390, 844)
def test_resident_page_on_a_phone(page, web_server: str) -> None:  # type: ignore[no-untyped-def]
    import httpx

    # A community of the published street (its grids are in force).
    features = httpx.get(f"{web_server}/api/layers/communities").json()["features"]
    short = next(f["properties"]["short_name"] for f in features if f["id"].startswith(STREET[:9]))
    page.goto("/")
    page.wait_for_selector("body[data-ready=true][data-grids-loaded]")
    page.fill("#q", short)
    page.keyboard.press("Enter")
    page.wait_for_selector("#hits [data-kind=community]")
    # The hit list works from the keyboard: arrows move, Enter chooses; a community offers
    # its grids, and a grid opens the card.
    page.keyboard.press("ArrowDown")
    assert page.locator("#hits [aria-selected=true]").get_attribute("data-kind") == "community"
    page.keyboard.press("Enter")
    page.wait_for_selector("#hits [data-kind=grid]")
    assert page.locator("#hits [data-kind=community]").count() == 0
    page.keyboard.press("ArrowDown")
    page.keyboard.press("Enter")
    page.wait_for_selector("#card[data-code]")
    assert serious_violations(page) == []


@pytest.mark.viewport(390, 844)
def test_office_page_on_a_phone(page) -> None:  # type: ignore[no-untyped-def]
    page.goto("/office")
    page.wait_for_selector("#signin")
    assert serious_violations(page) == []
    sign_in(page, "/office", "clerk")
    page.wait_for_selector("#incidents")
    assert serious_violations(page) == []
    # The title stays on one line (it was cut as 事/件), nothing scrolls sideways.
    title = page.locator("header h1")
    line = page.evaluate(
        "parseFloat(getComputedStyle(document.querySelector('header h1')).lineHeight) || 24"
    )
    assert title.bounding_box()["height"] <= line * 1.5
    assert page.evaluate("document.documentElement.scrollWidth") <= 390


def test_planner_page_in_english(page) -> None:  # type: ignore[no-untyped-def]
    sign_in(page, "/planner?lang=en", "planner")
    page.wait_for_selector("body[data-plan]")
    assert serious_violations(page) == []
