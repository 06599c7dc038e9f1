"""Where a lon/lat is on a page's Leaflet map: the view is read from the address
(#map=zoom/lat/lon, which the pages keep in sync) and projected in Web Mercator, as Leaflet does."""

from __future__ import annotations

import math
import re
from typing import Any

TILE = 256


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


def click_lonlat(page: Any, lon: float, lat: float, selector: str = "#map") -> None:
    """Click the map at (lon, lat) with the mouse."""
    zoom, clat, clon = view_of(page)
    box = page.locator(selector).bounding_box()
    cx, cy = _world(clon, clat, zoom)
    px, py = _world(lon, lat, zoom)
    x, y = box["width"] / 2 + px - cx, box["height"] / 2 + py - cy
    assert 0 <= x <= box["width"] and 0 <= y <= box["height"], "the point is off the map"
    page.mouse.click(box["x"] + x, box["y"] + y)
