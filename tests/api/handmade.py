"""A small hand-made district for the API tests: box communities with box buildings.

One district, one street, two communities side by side (each 0.004° square, 5 × 5 buildings of
240 residents, so 6,000 residents: two grids of 3,000), one closed compound, and the staff of a
grid. Fast to partition (well under a second per community).
"""

from __future__ import annotations

import geopandas as gpd
import pandas as pd
import shapely

from gridmap.store.contract import Store

DISTRICT, STREET = "500108000000", "500108003000"
C1, C2 = "500108003002", "500108003004"
X0, Y0, SIDE = 106.56, 29.52, 0.004


def community_box(i: int) -> shapely.Polygon:
    """The square of the ``i``-th community (0, 1), west to east."""
    return shapely.box(X0 + i * SIDE, Y0, X0 + (i + 1) * SIDE, Y0 + SIDE)


def layers() -> dict[str, pd.DataFrame]:
    """divisions, units, buildings and staff of the hand-made district."""
    whole = shapely.box(X0, Y0, X0 + 2 * SIDE, Y0 + SIDE)
    divisions = gpd.GeoDataFrame(
        {
            "code": [DISTRICT, STREET, C1, C2],
            "name": ["南岸区", "南坪街道办事处", "甲社区居民委员会", "乙社区居民委员会"],
            "short_name": ["南岸区", "南坪街道", "甲社区", "乙社区"],
            "level": ["district", "street", "community", "community"],
            "parent_code": [None, DISTRICT, STREET, STREET],
        },
        geometry=[whole, whole, community_box(0), community_box(1)],
        crs=4326,
    )
    rows, geoms = [], []
    step = SIDE / 5
    for c, code in enumerate((C1, C2)):
        for i in range(5):
            for j in range(5):
                x = X0 + c * SIDE + i * step + step * 0.3
                y = Y0 + j * step + step * 0.3
                rows.append(
                    {
                        "id": f"{code}-B{i}{j}",
                        "name": None,
                        "address": f"{code} 号楼 {i}{j}",
                        "unit_id": "U1" if (c == 0 and i == 0 and j < 2) else None,
                        "floors": 6,
                        "households": 90,
                        "residents": 240,
                        "residents_estimated": False,
                    }
                )
                geoms.append(shapely.box(x, y, x + step * 0.4, y + step * 0.4))
    buildings = gpd.GeoDataFrame(rows, geometry=geoms, crs=4326)
    units = gpd.GeoDataFrame(
        {
            "id": ["U1"],
            "kind": ["compound"],
            "name": ["南湖小区"],
            "category": [None],
            "community_code": [C1],
        },
        geometry=[shapely.box(X0, Y0, X0 + step, Y0 + 2 * step)],
        crs=4326,
    )
    roles = ["grid_head", "police", "city_management", "floating_population", "mediation"]
    staff = pd.DataFrame(
        {
            "id": [f"S{k}" for k in range(len(roles))],
            "name": ["张三", "李四", "王五", "赵六", "钱七"],
            "role": roles,
            "phone_public": [f"023-6288{k:04d}" for k in range(len(roles))],
            "phone_private": [f"1390000{k:04d}" for k in range(len(roles))],
            "duties": ["巡查"] * len(roles),
            "community_code": [C1] * len(roles),
        }
    )
    return {"divisions": divisions, "units": units, "buildings": buildings, "staff": staff}


def fill(store: Store) -> None:
    """Write the hand-made layers into an empty ``store``."""
    store.write(layers(), actor="test")


def point_in(community: int, fx: float = 0.5, fy: float = 0.5) -> tuple[float, float]:
    """(lon, lat) at fractions ``fx``, ``fy`` of community ``community``'s square."""
    return X0 + (community + fx) * SIDE, Y0 + fy * SIDE
