"""Search by name or address: buildings, compounds, social units, communities, streets, grids.

Chinese text matches as a substring (南湖 finds 南湖社区 and 南湖小区); Latin letters also
match the pinyin initials of names (``nhsq`` finds 南湖社区), computed once with pypinyin.
Buildings match by name and address (their initials are not indexed: pypinyin takes about
0.5 ms a string, 16 s for a district's addresses). Queries and the index are compared in
:func:`gridmap.search_text.normalise`'s form (full-width → half-width, no spaces); Latin
letters match full pinyin too (``nanhu``); "南湖社区3栋" finds building 3 of that place when
nothing matches the whole text. Every hit carries its grid.

:class:`Search` keeps the index of a :class:`~gridmap.service.lookup.Locator`'s grids in force
and rebuilds it whenever the locator refreshes (search depends on lookup, never the reverse).
"""

from __future__ import annotations

import re
import threading
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from gridmap.codes import community_of_grid
from gridmap.errors import InputError
from gridmap.search_text import building_query, full_pinyin, normalise
from gridmap.service.lookup import Locator
from gridmap.store.contract import Store

__all__ = ["Search", "SearchIndex", "initials"]

_KIND_ORDER = {"community": 0, "grid": 1, "street": 2, "compound": 3, "social_unit": 4}
_LATIN = re.compile(r"^[a-z0-9]+$")
_MAX_QUERY = 64


def initials(text: str) -> str:
    """Lower-case pinyin initials of the Han characters of ``text``; other characters kept.

    Examples
    --------
    >>> initials("南湖社区")
    'nhsq'
    >>> initials("重庆市第8中学")
    'cqsd8zx'
    """
    from pypinyin import Style, lazy_pinyin

    return "".join(lazy_pinyin(text, style=Style.FIRST_LETTER, errors="default")).lower()


class Search:
    """The search of a locator's store, rebuilt on each :meth:`Locator.refresh`.

    Parameters
    ----------
    locator : Locator
        Built now when the locator has been refreshed already, else on its first refresh.
    """

    def __init__(self, locator: Locator) -> None:
        self._lock = threading.Lock()
        self._index: SearchIndex | None = None
        locator.subscribe(self.rebuild)

    def rebuild(self, locator: Locator) -> None:
        """Index the names of ``locator``'s store again, with its grids in force."""
        built = SearchIndex.build(locator.store, locator)
        with self._lock:
            self._index = built

    def search(self, q: str, limit: int = 20) -> list[dict[str, Any]]:
        """Names and addresses matching ``q``, best first (see :meth:`SearchIndex.search`)."""
        index = self._index
        if index is None:  # not built yet: the query is still checked
            return SearchIndex(_no_entries()).search(q, limit)
        return index.search(q, limit)


class SearchIndex:
    """Searchable names of one coverage; build with :meth:`build`."""

    def __init__(self, entries: pd.DataFrame) -> None:
        self.entries = entries.reset_index(drop=True)
        self._text = self.entries["text"].to_numpy(dtype=str)
        self._initials = self.entries["initials"].to_numpy(dtype=str)
        pinyin = self.entries["pinyin"] if "pinyin" in self.entries else self.entries["initials"]
        self._pinyin = pinyin.fillna("").to_numpy(dtype=str)
        self._names = self.entries["name"].astype(object).fillna("").to_numpy(dtype=str)
        self._lower = np.char.lower(self._names)  # once: ~60 ms for a district's names

    def __len__(self) -> int:
        return len(self.entries)

    @classmethod
    def build(cls, store: Store, locator: Locator) -> SearchIndex:
        """Index the store's divisions, units and buildings and the grids in force."""
        divisions = store.read("divisions")
        grids = locator.grids
        frames = [
            _divisions(divisions, grids),
            _grids(grids, locator),
            _units(store.read("units"), locator),
            _buildings(store.read("buildings"), locator),
        ]
        filled = [f for f in frames if len(f)]
        if not filled:  # an empty workspace: nothing to find
            return cls(_no_entries())
        return cls(pd.concat(filled, ignore_index=True))

    def search(self, q: str, limit: int = 20) -> list[dict[str, Any]]:
        """Best hits first: exact name, name prefix, name, initials, then address matches;
        within each, communities, grids, streets, units, then buildings, shortest name first."""
        query = normalise(q)
        if not query:
            raise InputError("q: type a name, an address or pinyin initials (e.g. nhsq)")
        if len(query) > _MAX_QUERY:
            raise InputError(f"q: at most {_MAX_QUERY} characters, got {len(query)}")
        if not len(self.entries):
            return []
        names = self._lower
        in_text = np.char.find(self._text, query) >= 0
        by_initials = np.zeros(len(names), bool)
        if _LATIN.match(query):
            by_initials = (np.char.find(self._initials, query) >= 0) | (
                np.char.find(self._pinyin, query) >= 0
            )
        hit = np.flatnonzero(in_text | by_initials)
        if not len(hit):
            return self._buildings_of_place(query, limit)
        rank = np.select(
            [
                names[hit] == query,
                np.char.startswith(names[hit], query),
                np.char.find(names[hit], query) >= 0,
                by_initials[hit],
            ],
            [0, 1, 2, 3],
            4,
        )
        kinds = self.entries["kind"].to_numpy()[hit]
        kind_rank = np.array([_KIND_ORDER.get(k, 5) for k in kinds])
        order = np.lexsort((np.char.str_len(names[hit]), kind_rank, rank))[:limit]
        rows = self.entries.iloc[hit[order]]
        return [_hit(r) for r in rows.to_dict("records")]

    def _buildings_of_place(self, query: str, limit: int) -> list[dict[str, Any]]:
        """Hits of "南湖社区3栋": buildings named 3栋 (3幢, 3号楼) in the communities whose
        name matches the place, or in the compounds named so (their name is in the address)."""
        wanted = building_query(query)
        if wanted is None:
            return []
        places = [
            h for h in self.search(wanted.place, 50) if h["kind"] in ("community", "compound")
        ]
        if not places:
            return []
        kinds = self.entries["kind"].to_numpy()
        named = (kinds == "building") & np.isin(self._names, wanted.names())
        communities = [h["id"] for h in places if h["kind"] == "community"]
        in_place = self.entries["community_code"].isin(communities).to_numpy()
        for compound in (h["name"] for h in places if h["kind"] == "compound" and h["name"]):
            in_place |= np.char.find(self._text, normalise(compound)) >= 0
        rows = self.entries.iloc[np.flatnonzero(named & in_place)[:limit]]
        return [_hit(r) for r in rows.to_dict("records")]


_COLUMNS = [
    "kind",
    "id",
    "name",
    "address",
    "lon",
    "lat",
    "grid_code",
    "grid_name",
    "community_code",
]


def _no_entries() -> pd.DataFrame:
    return pd.DataFrame(columns=[*_COLUMNS, "text", "initials", "pinyin"])


def _hit(row: dict[str, Any]) -> dict[str, Any]:
    grid = None
    if isinstance(row["grid_code"], str):
        grid = {"code": row["grid_code"], "name": row["grid_name"]}
    return {
        "kind": row["kind"],
        "id": row["id"],
        "name": row["name"] if isinstance(row["name"], str) else None,  # a building may have none
        "address": row["address"] if isinstance(row["address"], str) else None,
        "lon": None if pd.isna(row["lon"]) else round(float(row["lon"]), 6),
        "lat": None if pd.isna(row["lat"]) else round(float(row["lat"]), 6),
        "community_code": row["community_code"] if isinstance(row["community_code"], str) else None,
        "grid": grid,
        "grids": row.get("grids") if isinstance(row.get("grids"), list) else None,
    }


def _points(frame: gpd.GeoDataFrame) -> tuple[np.ndarray, np.ndarray]:
    if frame.empty:
        return np.empty(0), np.empty(0)
    points = shapely.point_on_surface(np.asarray(frame.geometry.array))
    return shapely.get_x(points), shapely.get_y(points)


def _finish(frame: pd.DataFrame, *, with_initials: bool) -> pd.DataFrame:
    text = (
        frame["name"].fillna("").astype(str)
        + "|"
        + frame["address"].fillna("").astype(str)
        + "|"
        + frame["id"].astype(str)
    )
    frame["text"] = text.map(normalise)
    names = frame["name"].fillna("").astype(str)
    frame["initials"] = names.map(initials) if with_initials else ""
    frame["pinyin"] = names.map(full_pinyin) if with_initials else ""
    return frame


def _divisions(divisions: gpd.GeoDataFrame, grids: pd.DataFrame) -> pd.DataFrame:
    chosen = divisions[divisions["level"].isin(["street", "community"])]
    x, y = _points(chosen)
    by_community = (
        grids.groupby("community_code")["code"].apply(list).to_dict() if len(grids) else {}
    )
    frame = pd.DataFrame(
        {
            "kind": chosen["level"].to_numpy(),
            "id": chosen["code"].to_numpy(),
            "name": chosen["short_name"].fillna(chosen["name"]).to_numpy(),
            "address": chosen["name"].to_numpy(),  # the formal name, e.g. 南湖社区居民委员会
            "lon": x,
            "lat": y,
            "grid_code": None,
            "grid_name": None,
            "community_code": np.where(chosen["level"] == "community", chosen["code"], None),
        }
    )
    frame["grids"] = [by_community.get(c) for c in frame["id"]]
    return _finish(frame, with_initials=True)


def _grids(grids: pd.DataFrame, locator: Locator) -> pd.DataFrame:
    if grids.empty:
        return pd.DataFrame(columns=_COLUMNS)
    codes, x, y = locator.current.inner_points()
    table = grids.loc[codes]
    names = [locator.grid_name(c) for c in codes]
    frame = pd.DataFrame(
        {
            "kind": "grid",
            "id": codes,
            "name": names,
            "address": None,
            "lon": x,
            "lat": y,
            "grid_code": codes,
            "grid_name": names,
            "community_code": table["community_code"].to_numpy(),
        }
    )
    return _finish(frame, with_initials=True)


def _located(frame: gpd.GeoDataFrame, locator: Locator) -> tuple[list[Any], list[Any]]:
    """(grid code, grid name) of each feature: the grid holding most of it."""
    codes = locator.current.assign(frame.geometry)
    names = [None if c is None else locator.grid_name(c) for c in codes]
    return codes, names


def _units(units: gpd.GeoDataFrame, locator: Locator) -> pd.DataFrame:
    units = units[units["kind"].isin(["compound", "social_unit"])]
    x, y = _points(units)
    codes, names = _located(units, locator)
    frame = pd.DataFrame(
        {
            "kind": units["kind"].to_numpy(),
            "id": units["id"].to_numpy(),
            "name": units["name"].to_numpy(),
            "address": units["category"].to_numpy(),
            "lon": x,
            "lat": y,
            "grid_code": codes,
            "grid_name": names,
            "community_code": units["community_code"].to_numpy(),
        }
    )
    return _finish(frame, with_initials=True)


def _buildings(buildings: gpd.GeoDataFrame, locator: Locator) -> pd.DataFrame:
    x, y = _points(buildings)
    codes, names = _located(buildings, locator)
    frame = pd.DataFrame(
        {
            "kind": "building",
            "id": buildings["id"].to_numpy(),
            "name": buildings["name"].to_numpy(),
            "address": buildings["address"].to_numpy(),
            "lon": x,
            "lat": y,
            "grid_code": codes,
            "grid_name": names,
            "community_code": [None if c is None else community_of_grid(c) for c in codes],
        }
    )
    return _finish(frame, with_initials=False)
