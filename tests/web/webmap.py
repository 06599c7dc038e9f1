"""What the browser tests share: their street, users and screenshot folder, and where a
lon/lat is on a page's Leaflet map (the view is read from the address, #map=zoom/lat/lon,
which the pages keep in sync, and projected in Web Mercator, as Leaflet does)."""

from __future__ import annotations

import itertools
import math
import re
from pathlib import Path
from typing import Any

import shapely

from gridmap.engine.edits.operations import EditRefused, move_cells

TILE = 256
STREET = "500108001000"  # 铜元局街道: 10 communities, 38 grids, a plan without errors
PASSWORD = "web-test-password"
USERS = {"clerk": "staff", "planner": "admin", "drafter": "planner"}  # publishing needs admin
# Staff with the case workflow's roles (name → duties, department): 受理员, 派遣员, a handler of
# 城管 (a department of gridmap/cases/data/departments.csv) and 监督员. The clerk is a 受理员.
WORKFLOW_USERS = {
    "clerk": (("acceptor",), None),
    "shouli": (("acceptor",), None),
    "paiqian": (("dispatcher",), None),
    "chengguan": (("handler",), "chengguan"),
    "jiandu": (("supervisor",), None),
}
OVERDUE_CATEGORY = "突发事件/路面塌陷"  # due at once (0 hours) on the test server
SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"


def _world(lon: float, lat: float, zoom: float) -> tuple[float, float]:
    scale = TILE * 2**zoom
    x = (lon + 180.0) / 360.0 * scale
    s = math.sin(math.radians(lat))
    y = (0.5 - math.log((1 + s) / (1 - s)) / (4 * math.pi)) * scale
    return x, y


def view_of(page: Any) -> tuple[float, float, float]:
    """(zoom, lat, lon) of the map's centre, from the page's address."""
    found = re.search(r"map=([\d.]+)/(-?[\d.]+)/(-?[\d.]+)", page.evaluate("location.hash"))
    assert found, f"no map view in the address {page.url}"
    return float(found[1]), float(found[2]), float(found[3])


def screen_of(page: Any, lon: float, lat: float, selector: str = "#map") -> tuple[float, float]:
    """The page position of (lon, lat) on the map."""
    zoom, clat, clon = view_of(page)
    box = page.locator(selector).bounding_box()
    cx, cy = _world(clon, clat, zoom)
    px, py = _world(lon, lat, zoom)
    x, y = box["width"] / 2 + px - cx, box["height"] / 2 + py - cy
    assert 0 <= x <= box["width"] and 0 <= y <= box["height"], "the point is off the map"
    return box["x"] + x, box["y"] + y


def click_lonlat(
    page: Any, lon: float, lat: float, selector: str = "#map", *, dblclick: bool = False
) -> None:
    """Click (or double-click) the map at (lon, lat) with the mouse."""
    x, y = screen_of(page, lon, lat, selector)
    if dblclick:
        page.mouse.dblclick(x, y)
    else:
        page.mouse.click(x, y)


def movable_atom(cells):  # type: ignore[no-untyped-def]
    """(its grid, a neighbouring grid it may join, residents, a point in it, a point of the
    neighbour) of the lightest inhabited atom the engine lets move."""
    atoms = cells.dissolve(by="atom_id", aggfunc={"grid": "first", "residents": "sum"})
    grids = cells.dissolve(by="grid")
    for atom_id, atom in atoms[atoms["residents"] > 0].sort_values("residents").iterrows():
        edge = atom.geometry.boundary
        for code, grid in grids.iterrows():
            if code == atom["grid"] or shapely.length(edge.intersection(grid.geometry)) == 0:
                continue
            cell = cells.index[cells["atom_id"] == atom_id][0]
            try:
                move_cells(cells, [cell], code)
            except EditRefused:
                continue
            inside = atom.geometry.buffer(-0.00005)
            at = (inside if not inside.is_empty else atom.geometry).representative_point()
            away = grid.geometry.difference(atom.geometry.buffer(0.0003)).representative_point()
            return atom["grid"], code, int(atom["residents"]), at, away
    raise AssertionError("no atom of the community may move")


def draggable_pair(cells):  # type: ignore[no-untyped-def]
    """Two atoms of one grid sharing an edge, both touching a neighbouring grid they may join
    together: (their grid, the neighbour, residents of both, [point in each, a point of their
    shared edge], a point of the neighbour)."""
    atoms = cells.dissolve(by="atom_id", aggfunc={"grid": "first", "residents": "sum"})
    grids = cells.dissolve(by="grid")
    atoms = atoms[atoms["residents"] > 0]
    for code, grid in grids.iterrows():
        edge = grid.geometry.boundary
        touching = atoms[
            (atoms["grid"] != code)
            & (shapely.length(atoms.geometry.boundary.intersection(edge)) > 0.0002)
        ]
        for a, b in itertools.combinations(touching.index, 2):
            first, second = touching.loc[a], touching.loc[b]
            shared = first.geometry.boundary.intersection(second.geometry.boundary)
            if first["grid"] != second["grid"] or shapely.length(shared) < 0.0002:
                continue
            moving = list(cells.index[cells["atom_id"].isin([a, b])])
            try:
                move_cells(cells, moving, code)
            except EditRefused:
                continue
            points = [
                (
                    g.buffer(-0.00005) if not g.buffer(-0.00005).is_empty else g
                ).representative_point()
                for g in (first.geometry, second.geometry)
            ]
            middle = shared.interpolate(0.5, normalized=True)
            away = grid.geometry.difference(touching.geometry.union_all().buffer(0.0003))
            residents = int(first["residents"] + second["residents"])
            return (
                first["grid"],
                code,
                residents,
                [points[0], middle, points[1]],
                (away.representative_point()),
            )
    raise AssertionError("no two neighbouring atoms may move together")
