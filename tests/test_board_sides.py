"""四至 of a grid: the neighbouring grids and the roads along each side (metric boxes)."""

from __future__ import annotations

from shapely import LineString, box

from gridmap.boards import grid_page_url, sides_of

GRID = box(0, 0, 300, 300)
AROUND = {
    "东格": box(300, 0, 600, 300),
    "南格": box(0, -300, 300, 0),
    "西格": box(-300, 0, 0, 300),
    "北格": box(0, 300, 300, 600),
    "东北角": box(300, 300, 600, 600),  # touches at a corner only: no side
    "远处": box(1000, 0, 1300, 300),
}


def test_each_neighbour_on_its_side() -> None:
    sides = sides_of(GRID, AROUND)
    assert sides == {"东": ["东格"], "南": ["南格"], "西": ["西格"], "北": ["北格"]}


def test_roads_along_a_side_but_not_across_it() -> None:
    roads = [
        ("南滨路", LineString([(-50, -10), (350, -10)])),  # along the south edge
        ("横穿路", LineString([(150, -500), (150, 800)])),  # crosses the grid north-south
        ("远路", LineString([(0, 900), (300, 900)])),
    ]
    sides = sides_of(GRID, {}, roads)
    assert sides == {"东": [], "南": ["南滨路"], "西": [], "北": []}


def test_at_most_two_roads_a_side_longest_first() -> None:
    roads = [
        ("短路", LineString([(0, 310), (150, 310)])),
        ("长路", LineString([(0, 305), (300, 305)])),
        ("中路", LineString([(0, 315), (220, 315)])),
    ]
    assert sides_of(GRID, {"北格": AROUND["北格"]}, roads)["北"] == ["北格", "长路", "中路"]


def test_grid_page_url() -> None:
    assert (
        grid_page_url("http://h:8000", "500108002001001") == "http://h:8000/?grid=500108002001001"
    )
