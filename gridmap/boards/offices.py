"""The community offices (居委会) of a store, and how well they are placed.

Reads the ``offices`` layer when the store has one, else the committee-office units the sample
has; :func:`reach_in_store` runs :func:`gridmap.engine.offices.office_reach` over the store's
layers (for ``gridmap offices`` and ``GET /api/offices/reach``).
"""

from __future__ import annotations

from collections.abc import Sequence

import geopandas as gpd
import pandas as pd
import shapely

from gridmap.engine.offices import OfficeReach, ReachRules, office_reach
from gridmap.errors import InputError
from gridmap.store.contract import Store

BBox = tuple[float, float, float, float]

__all__ = ["community_offices", "reach_in_store"]


_COLUMNS = ["id", "name", "address", "phone", "hours", "geometry"]


def community_offices(store: Store, bbox: BBox | None = None) -> tuple[pd.DataFrame, str]:
    """The community offices (居委会) as a frame indexed by community code, and where from.

    The ``offices`` layer when the store has it (id, name, address, phone, hours, point); else
    the committee-office units the sample has (a unit named as its community's formal name),
    with their first building's address. ``bbox`` (lon/lat) limits the reading to the offices
    there. Returns the frame (columns id, name, address, phone, hours, geometry) and
    ``"offices"`` or ``"units"``.
    """
    if "offices" in store.layers():
        frame = gpd.GeoDataFrame(store.read("offices", bbox=bbox)).copy()
        for column in _COLUMNS:
            if column not in frame:
                frame[column] = None
        frame = frame.drop_duplicates("community_code").set_index("community_code")
        return frame[_COLUMNS], "offices"
    units = store.read("units", bbox=bbox)
    divisions = store.read("divisions").set_index("code")["name"]
    # The sample's committee office is a unit named as its community's formal name
    # (南湖社区居民委员会); other offices in the same category are office towers.
    named = units["community_code"].map(divisions)
    committee = units[units["community_code"].notna() & (units["name"] == named)]
    # only the buildings around the committee units: their addresses
    around = None if bbox is None or committee.empty else tuple(committee.total_bounds)
    buildings = store.read("buildings", bbox=around)
    first = buildings[buildings["unit_id"].isin(committee["id"])].drop_duplicates("unit_id")
    address = dict(zip(first["unit_id"], first["address"], strict=True))
    frame = gpd.GeoDataFrame(
        {
            "community_code": committee["community_code"].to_numpy(),
            "id": committee["id"].to_numpy(),
            "name": committee["name"].to_numpy(),
            "address": [address.get(i) for i in committee["id"]],
            "phone": None,
            "hours": None,
        },
        geometry=shapely.point_on_surface(committee.geometry.to_numpy()),
        crs=4326,
    )
    frame = frame.drop_duplicates("community_code").set_index("community_code")
    return frame[_COLUMNS], "units"


def reach_in_store(
    store: Store,
    communities: Sequence[str] | None = None,
    *,
    rules: ReachRules | None = None,
    metric_epsg: int | None = None,
) -> tuple[OfficeReach, str]:
    """The offices report of ``communities`` (default every one) and where the offices came
    from (``"offices"`` or ``"units"``). InputError names an unknown community code."""
    divisions = store.read("divisions")
    chosen = divisions[divisions["level"] == "community"]
    if communities:
        unknown = sorted(set(communities) - set(chosen["code"]))
        if unknown:
            raise InputError(f"community {', '.join(unknown)}: no such community")
        chosen = chosen[chosen["code"].isin(communities)]
    offices, source = community_offices(store)
    offices = offices.reset_index()
    offices["id"] = offices["id"].fillna(offices["community_code"])
    report = office_reach(
        chosen,
        store.read("buildings"),
        store.read("roads"),
        offices,
        rules=rules,
        metric_epsg=metric_epsg,
    )
    return report, source
