"""The base map: roads, compounds, buildings and their names from gridmap's own vector tiles,
drawn under the grids, with nothing fetched from another host (the page fixture fails the test
on any request off-origin)."""

from __future__ import annotations

from pathlib import Path

import shapely

from gridmap.store import GpkgStore


def test_roads_and_names_are_drawn_under_the_grids(page, web_workspace: Path) -> None:  # type: ignore[no-untyped-def]
    with GpkgStore(web_workspace) as store:
        grids = store.grids_at().sort_values("code")
        roads = store.read("roads").dropna(subset=["name"])
    centre = grids.iloc[len(grids) // 2].geometry.representative_point()
    page.goto(f"/?lang=en#map=16/{centre.y:.6f}/{centre.x:.6f}")
    # The first page of a session on a cold server (every grid read and indexed): slow on a
    # busy machine.
    page.wait_for_selector("body[data-ready=true][data-grids-loaded]", timeout=120_000)
    page.wait_for_function(
        "[...document.querySelectorAll('.leaflet-basemap-pane canvas')]"
        ".filter(c => c.dataset.labels !== undefined).length >= 4"
    )
    drawn = page.evaluate(
        "[...document.querySelectorAll('.leaflet-basemap-pane canvas')]"
        ".flatMap(c => (c.dataset.labels || '').split('|')).filter(Boolean)"
    )
    # Roads near the view (about 1.5 km across at zoom 16) are named on the map.
    near = roads[roads.intersects(shapely.Point(centre.x, centre.y).buffer(0.01))]
    assert set(drawn) & set(near["name"]), (
        f"drawn {drawn[:10]}; roads near {list(near['name'])[:10]}"
    )
    # Under the grids: the base map's pane is below the pane the grids are drawn in.
    order = page.evaluate(
        "['basemap', 'overlay'].map(p => Number(getComputedStyle("
        "document.querySelector(`.leaflet-${p}-pane`)).zIndex))"
    )
    assert order[0] < order[1]
    assert page.locator(".leaflet-overlay-pane path").count() > 0
    # The canvas holds paint (not a blank tile): some pixel differs from the ground.
    painted = page.evaluate(
        """() => [...document.querySelectorAll('.leaflet-basemap-pane canvas')].some(c => {
            const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
            for (let i = 3; i < d.length; i += 4) if (d[i] > 0) return true;
            return false;
        })"""
    )
    assert painted


def test_the_river_is_drawn_in_water_blue(page, web_workspace: Path) -> None:  # type: ignore[no-untyped-def]
    with GpkgStore(web_workspace) as store:
        cover = store.read("landcover")
        grids = store.grids_at()
    river = cover.loc[cover["kind"] == "water"].geometry.iloc[0]
    # a point of the river near the published grids (铜元局 lies on the Yangtze)
    point = river.intersection(grids.union_all().buffer(0.02)).representative_point()
    page.goto(f"/?lang=en#map=15/{point.y:.6f}/{point.x:.6f}")
    page.wait_for_selector("body[data-ready=true]")
    page.wait_for_function(
        "[...document.querySelectorAll('.leaflet-basemap-pane canvas')]"
        ".filter(c => c.dataset.labels !== undefined).length >= 4"
    )
    blue = page.evaluate(
        """() => [...document.querySelectorAll('.leaflet-basemap-pane canvas')].some(c => {
            const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
            for (let i = 0; i < d.length; i += 4)
                if (d[i] === 0xaa && d[i + 1] === 0xd3 && d[i + 2] === 0xdf) return true;
            return false;
        })"""
    )
    assert blue, "no pixel of the river's colour #aad3df"
