"""Search as residents type: spaces, full-width digits, full pinyin, "community + building
number"; a community hit lists all its grids (plain HTTP against the web test server)."""

from __future__ import annotations

import re
from pathlib import Path

import httpx
import pytest
from webmap import STREET

from gridmap.search_text import full_pinyin
from gridmap.store import GpkgStore

FULL_WIDTH = str.maketrans("0123456789", "０１２３４５６７８９")


@pytest.fixture(scope="module")
def places(web_workspace: Path) -> dict:  # type: ignore[type-arg]
    """A street address, a community with several grids and a numbered building in it."""
    with GpkgStore(web_workspace) as store:
        grids = store.grids_at()
        divisions = store.read("divisions")
        buildings = store.read("buildings")
    counts = grids.groupby("community_code")["code"].apply(sorted)
    community = next(c for c, codes in counts.items() if len(codes) >= 3)
    row = divisions.set_index("code").loc[community]
    plain = buildings[buildings["address"].str.fullmatch(r".*[路街]\d+号", na=False)]
    inside = buildings[buildings["name"].str.fullmatch(r"\d+栋", na=False)]
    inside = inside[[str(u) != "nan" for u in inside["unit_id"]]]
    # A numbered building in the community (the one holding it in grids in force).
    area = grids[grids["community_code"] == community].union_all()
    numbered = inside[inside.geometry.representative_point().within(area)].iloc[0]
    address = str(plain.iloc[0]["address"])
    return {
        "community": community,
        "short_name": str(row["short_name"]),
        "grids": counts[community],
        "address": address,
        "numbered": numbered,
    }


def search(base: str, q: str) -> list[dict]:  # type: ignore[type-arg]
    answer = httpx.get(f"{base}/api/search", params={"q": q, "limit": 20})
    assert answer.status_code == 200, answer.text
    return answer.json()["hits"]


def test_a_community_hit_lists_all_its_grids(web_server: str, places: dict) -> None:  # type: ignore[type-arg]
    hit = next(h for h in search(web_server, places["short_name"]) if h["kind"] == "community")
    assert sorted(hit["grids"]) == places["grids"] and len(hit["grids"]) >= 3
    assert STREET.startswith(hit["id"][:9])


def test_spaces_full_width_pinyin_and_building_numbers(web_server: str, places: dict) -> None:  # type: ignore[type-arg]
    address = places["address"]
    road, number = re.fullmatch(r".*?区(.*?[路街])(\d+号)", address).groups()
    for typed in (f"{road} {number}", f"{road}{number.translate(FULL_WIDTH)}"):
        found = [h["address"] for h in search(web_server, typed)]
        assert address in found, f"{typed!r} does not find {address}"
    pinyin = full_pinyin(places["short_name"].removesuffix("社区"))
    found = search(web_server, pinyin)
    assert any(h["id"] == places["community"] for h in found), f"{pinyin!r} finds {found[:3]}"
    numbered = places["numbered"]
    typed = f"{places['short_name']}{numbered['name']}"
    found = search(web_server, typed)
    assert numbered["id"] in [h["id"] for h in found], f"{typed!r} finds {found[:3]}"
