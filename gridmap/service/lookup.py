"""Which grid, community and street a point is in, and who to call: the lookup of a store.

:class:`Locator` (the API keeps one on ``app.state.locator``) keeps the grids in force in a
:class:`~gridmap.service.grids.GridLocator`, built at startup and again on
:meth:`Locator.refresh` (after a publication). The index knows until when it holds: the next
effective date of a publication (one made for a later date) or end of one; a lookup after that
refreshes it first, so a plan published for a later date is answered from that date on with
no one acting. A lookup at an earlier date uses the grids in force then: one index per set of
publications, a few kept (least recently used first out).
Whatever else is built from the grids in force (the search index) subscribes to the refresh.

A lookup is the API's hot path, so everything of an answer that depends on the grid alone (its
district, street and community, name, counts, plan and public staff board) is assembled once per
grid when an index is built; :meth:`Locator.locate` then finds the grid and adds the point's
own figures, with no pandas on the way (``.loc`` cost 45-95 µs a lookup).

Answers carry public contacts only: a person's ``phone_public``, never ``phone_private``.
"""

from __future__ import annotations

import datetime as dt
import math
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import geopandas as gpd
import pandas as pd

from gridmap.codes import community_of_grid, district_of, grid_sequence, street_of
from gridmap.errors import InputError, NotFoundError
from gridmap.service.grids import NEAR_M, GridLocator
from gridmap.settings import Settings
from gridmap.store.contract import Store

__all__ = ["CHINA_TZ", "Locator", "grid_display_name", "parse_at"]

CHINA_TZ = dt.timezone(dt.timedelta(hours=8), "CST")  # Beijing time: all of China, no DST


def parse_at(text: str | None) -> dt.datetime | None:
    """A lookup date: ``YYYY-MM-DD`` is the end of that day, Beijing time (what was in force as
    the day closed); an ISO time without a zone is Beijing time. InputError otherwise.

    Examples
    --------
    >>> parse_at("2026-03-01").isoformat()
    '2026-03-01T23:59:59.999999+08:00'
    >>> parse_at("2026-03-01T08:00:00Z").isoformat()
    '2026-03-01T08:00:00+00:00'
    """
    if text is None or not text.strip():
        return None
    text = text.strip()
    try:
        if len(text) == 10:
            day = dt.date.fromisoformat(text)
            return dt.datetime.combine(day, dt.time.max, tzinfo=CHINA_TZ)
        when = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise InputError(f"at: expected a date (2026-03-01) or an ISO time, got {text!r}") from None
    when = when if when.tzinfo is not None else when.replace(tzinfo=CHINA_TZ)
    try:
        when.astimezone(dt.UTC)  # 9999-12-31T23:59:59-23:59 overflows: a 422, not a 500
    except OverflowError:
        raise InputError(f"at: {when.isoformat()} is out of range once converted to UTC") from None
    return when


def grid_display_name(name: Any, code: str, community_short: str | None) -> str:
    """A grid's name, or for a grid without one "<community>第N网格" from its code's sequence.

    Examples
    --------
    >>> grid_display_name(None, "500108003002003", "南湖社区")
    '南湖社区第3网格'
    """
    if isinstance(name, str) and name.strip():
        return name
    tail = grid_sequence(code)
    sequence = int(tail) if tail.isascii() and tail.isdigit() else tail
    return f"{community_short or community_of_grid(code)}第{sequence}网格"


@dataclass
class _Coverage:
    """The grids of one set of publications, indexed, with each grid's part of an answer."""

    key: tuple[tuple[str, str, int], ...]
    where: GridLocator  # .grids indexed by code: name, community_code, residents, plan_id…
    # grid code → {"district", "street", "community", "grid"} of its lookup answers (shared by
    # every answer: read, never change) and grid code → display name
    answers: dict[str, dict[str, Any]] = field(default_factory=dict)
    names: dict[str, str] = field(default_factory=dict)


@dataclass
class _Board:
    """What does not depend on the date: division names and the staff's public board."""

    divisions: dict[str, dict[str, Any]] = field(default_factory=dict)
    staff: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    # community code → its office (居委会): name, address, phone, hours, lon, lat
    offices: dict[str, dict[str, Any]] = field(default_factory=dict)

    def named(self, code: str) -> dict[str, Any]:
        """{"code", "name", "short_name"} of a division (names None when unknown)."""
        return self.divisions.get(code) or {"code": code, "name": None, "short_name": None}


class Locator:
    """The lookup index of one store.

    Parameters
    ----------
    store : Store
    settings : Settings
        ``roles`` orders and names the staff roles.
    keep : int, default 8
        How many past publication sets keep their index.
    clock : callable, optional
        The current time (aware); default the system clock.
    """

    def __init__(
        self,
        store: Store,
        settings: Settings,
        *,
        keep: int = 8,
        clock: Callable[[], dt.datetime] | None = None,
    ) -> None:
        self.store, self.settings, self.keep = store, settings, keep
        self.clock = clock or (lambda: dt.datetime.now(dt.UTC))
        self.expires: dt.datetime | None = None  # the next change of the grids in force
        self._lock = threading.Lock()
        self._refreshing = threading.Lock()
        self._past: OrderedDict[tuple[Any, ...], _Coverage] = OrderedDict()
        self._board = _Board()
        self._current = _Coverage((), _no_grids())
        self._subscribers: list[Callable[[Locator], None]] = []

    @property
    def grids(self) -> pd.DataFrame:
        """The grids in force at the last refresh, indexed by code."""
        return self._current.where.grids

    @property
    def current(self) -> GridLocator:
        """The index of the grids in force at the last refresh."""
        return self._current.where

    def subscribe(self, rebuild: Callable[[Locator], None]) -> None:
        """Call ``rebuild(locator)`` after every refresh (the search index does)."""
        self._subscribers.append(rebuild)

    def grid_name(self, code: str) -> str:
        """The display name of a grid in force (see :func:`grid_display_name`)."""
        return self._grid_name(self._current, code)

    def division(self, code: str) -> dict[str, Any] | None:
        """{"code", "name", "short_name"} of a division, None when unknown."""
        return self._board.divisions.get(code)

    def staff(self, grid_code: str) -> list[dict[str, Any]]:
        """The public board of a grid: role, role name, name, public phone, duties."""
        return self._board.staff.get(grid_code, [])

    def refresh(self) -> None:
        """Reload the grids in force, the divisions and the staff (after a publication, or
        after staff assignments changed)."""
        when = self.clock().astimezone(dt.UTC)
        board = self._load_board()
        key = self._key(when)
        current = self._coverage(key, when, board)
        later = [
            t
            for p in self.store.publication_history()
            for t in (p.valid_from, p.valid_to)
            if t is not None and t > when
        ]
        with self._lock:
            self._board, self._current = board, current
            self.expires = min(later, default=None)
            self._past.clear()
        for rebuild in self._subscribers:
            rebuild(self)

    def locate(self, lon: float, lat: float, at: dt.datetime | None = None) -> dict[str, Any]:
        """The lookup answer for one lon/lat point (see docs/api.md).

        The answer's ``district``, ``street``, ``community`` and ``grid`` are shared with the
        index (and every other answer in that grid): read them, do not change them. Without
        ``at`` nothing here touches the store unless the index has :meth:`expired` (an async
        handler calls :meth:`refresh_if_expired` in a thread first, then this on its loop); a
        past date may read the store and build an index.

        Raises InputError for coordinates out of range and NotFoundError, with the reason,
        for a point outside every grid in force.
        """
        lon, lat = _check_point(lon, lat)
        if at is None:
            self.refresh_if_expired()
        coverage = self._current if at is None else self._at(at)
        where = coverage.where.locate_one(lon, lat, near_m=NEAR_M)
        if where is None:
            when = "now" if at is None else at.isoformat()
            raise NotFoundError(f"没有生效的网格 (no grids in force {when}): nothing is published")
        if where.grid is None:
            nearest = str(where.nearest)
            raise NotFoundError(
                f"该位置不在网格覆盖范围内 (outside the grids in force): ({lon}, {lat}) is "
                f"{where.distance_to_edge_m:,.0f} m from the nearest grid, {nearest} "
                f"({self._grid_name(coverage, nearest)})"
            )
        neighbour = None
        if where.neighbour is not None:
            other = str(where.neighbour)
            neighbour = {
                "code": other,
                "name": self._grid_name(coverage, other),
                "distance_m": round(float(where.neighbour_distance_m), 1),
            }
        return {
            "lon": lon,
            "lat": lat,
            "at": None if at is None else at.isoformat(),
            **coverage.answers[str(where.grid)],  # district, street, community, grid
            "distance_to_edge_m": round(float(where.distance_to_edge_m), 1),
            "neighbour": neighbour,
        }

    def expired(self) -> bool:
        """Whether a publication's effective date (or end) has passed since the last refresh:
        the index in memory no longer holds the grids in force."""
        return self.expires is not None and self.clock() >= self.expires

    def refresh_if_expired(self) -> bool:
        """Rebuild the index if it has :meth:`expired` (True when this call rebuilt it).

        It reads the store and takes seconds on a district: an async caller runs it in a thread
        (one thread rebuilds; the others wait for its index), so the event loop keeps serving.
        """
        if not self.expired():
            return False
        with self._refreshing:
            if self.expired():
                self.refresh()
                return True
        return False

    def has_index_for(self, at: dt.datetime) -> bool:
        """Whether a lookup at ``at`` is answered from an index already built (the grids in
        force now, or one of the :attr:`keep` past sets used last)."""
        key = self._key(at)
        with self._lock:
            return key == self._current.key or key in self._past

    # -- private ---------------------------------------------------------------------------

    def _key(self, at: dt.datetime | None) -> tuple[tuple[str, str, int], ...]:
        when = self.clock() if at is None else at
        pubs = self.store.publications(at=when.astimezone(dt.UTC))
        return tuple(sorted((p.community_code, p.plan_id, p.revision) for p in pubs))

    def _at(self, at: dt.datetime) -> _Coverage:
        key = self._key(at)
        with self._lock:
            if key == self._current.key:
                return self._current
            found = self._past.get(key)
            if found is not None:
                self._past.move_to_end(key)
                return found
        built = self._coverage(key, at, self._board)
        with self._lock:
            self._past[key] = built
            while len(self._past) > self.keep:
                self._past.popitem(last=False)
        return built

    def _coverage(self, key: tuple[Any, ...], at: dt.datetime | None, board: _Board) -> _Coverage:
        when = self.clock() if at is None else at
        grids = self.store.grids_at(when.astimezone(dt.UTC))
        if grids.empty:
            return _Coverage(key, _no_grids())
        where = GridLocator(grids)
        answers, names = _grid_answers(where.grids, board)
        return _Coverage(key, where, answers, names)

    def _load_board(self) -> _Board:
        divisions = self.store.read("divisions")
        names = {
            str(r.code): {
                "code": str(r.code),
                "name": r.name,
                "short_name": r.short_name if isinstance(r.short_name, str) else r.name,
            }
            for r in divisions[["code", "name", "short_name"]].itertuples()
        }
        people = self.store.read("staff")
        staff = dict(
            zip(
                people["id"],
                people[["name", "phone_public", "duties"]].to_dict("records"),
                strict=True,
            )
        )
        role_names = self.settings.all_roles()  # building and group leaders after the staff
        roles = list(role_names)
        board: dict[str, list[dict[str, Any]]] = {}
        for a in self.store.staff_assignments():
            person = staff.get(a.staff_id)
            if person is None:
                continue
            board.setdefault(a.grid_code, []).append(
                {
                    "role": a.role,
                    "role_name": role_names.get(a.role, a.role),
                    "name": person["name"],
                    "phone": _text(person["phone_public"]),  # never phone_private
                    "duties": _text(person["duties"]),
                }
            )
        order = {role: i for i, role in enumerate(roles)}
        for team in board.values():
            team.sort(key=lambda p: (order.get(p["role"], len(order)), p["name"]))
        return _Board(names, board, self._load_offices())

    def _load_offices(self) -> dict[str, dict[str, Any]]:
        """Each community's office: every answer carries it, so that a grid without staff
        still gives a resident somewhere to go and a phone to call."""
        from gridmap.boards.offices import community_offices

        frame, _ = community_offices(self.store)
        offices = {}
        for code, row in frame.iterrows():
            point = row["geometry"]
            has_point = point is not None and not point.is_empty
            offices[str(code)] = {
                "name": _text(row["name"]),
                "address": _text(row["address"]),
                "phone": _text(row["phone"]),
                "hours": _text(row["hours"]),
                "lon": round(point.x, 6) if has_point else None,
                "lat": round(point.y, 6) if has_point else None,
            }
        return offices

    def _grid_name(self, coverage: _Coverage, code: str) -> str:
        name = coverage.names.get(code)
        if name is not None:
            return name
        short = self._board.named(community_of_grid(code)).get("short_name")
        return grid_display_name(None, code, short)


def _grid_answers(
    grids: pd.DataFrame, board: _Board
) -> tuple[dict[str, dict[str, Any]], dict[str, str]]:
    """Per grid code, the part of a lookup answer that depends on the grid alone, and its
    display name."""
    named = board.named
    answers: dict[str, dict[str, Any]] = {}
    names: dict[str, str] = {}
    columns = ["code", "name", "community_code", "residents", "households", "plan_id"]
    table = grids.reindex(columns=[*columns, "revision"])
    for code, name, community, residents, households, plan_id, revision in zip(
        *(table[c].tolist() for c in table.columns), strict=True
    ):
        code, community = str(code), str(community)
        names[code] = grid_display_name(name, code, named(community).get("short_name"))
        answers[code] = {
            "district": named(district_of(community)),
            "street": named(street_of(community)),
            "community": named(community),
            "office": board.offices.get(community),
            "grid": {
                "code": code,
                "name": names[code],
                "residents": _int(residents),
                "households": _int(households),
                "plan_id": str(plan_id),
                "revision": _int(revision),
                "staff": board.staff.get(code, []),
            },
        }
    return answers, names


def _check_point(lon: Any, lat: Any) -> tuple[float, float]:
    try:
        x, y = float(lon), float(lat)
    except (TypeError, ValueError):
        raise InputError(f"lon/lat: expected numbers, got {lon!r}, {lat!r}") from None
    if not (math.isfinite(x) and math.isfinite(y) and -180 <= x <= 180 and -90 <= y <= 90):
        raise InputError(
            f"坐标超出范围 (coordinates out of range): lon={lon!r} must be within ±180 and "
            f"lat={lat!r} within ±90 (WGS-84 degrees)"
        )
    return x, y


def _no_grids() -> GridLocator:
    columns = ["code", "name", "community_code", "residents", "households", "plan_id"]
    empty = gpd.GeoDataFrame(columns=[*columns, "revision"], geometry=[], crs=4326)
    return GridLocator(empty)


def _int(value: Any) -> int | None:
    return None if value is None or pd.isna(value) else int(value)


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None
