"""What a grid's public board (网格公示牌) shows, gathered from a store.

One :class:`GridBoard` per grid in force: its boundary with the roads, buildings and neighbouring
grids around it (for the map), 四至 (the neighbours on each side), the staff with their roles,
public phones and duties, the community office, and the URL of the grid's page. Only public data:
``phone_public`` of the staff layer, never ``phone_private``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import shapely

from gridmap.boards.offices import community_offices
from gridmap.crs import lonlat_to, metric_crs
from gridmap.errors import InputError, NotFoundError
from gridmap.store.contract import Store

__all__ = [
    "SIDES",
    "BoardSelection",
    "GridBoard",
    "collect_boards",
    "grid_page_url",
    "sides_of",
]

# 四至 in the order a board lists them: 东 south 西 北 (east, south, west, north).
SIDES = ("东", "南", "西", "北")
_MAP_MARGIN = 0.25  # the map shows this share of the grid's extent around it
_ROAD_NEAR_M = 30.0  # a road this close to the grid's edge bounds that side


@dataclass(frozen=True)
class BoardSelection:
    """Which grids get a board: one grid, every grid of a community, or of a street."""

    grid: str | None = None
    community: str | None = None
    street: str | None = None

    def prefix(self) -> str:
        """The code prefix the chosen grids share; InputError unless exactly one is given."""
        given = [(k, v) for k, v in vars(self).items() if v]
        if len(given) != 1:
            raise InputError("give exactly one of --grid, --community or --street")
        kind, code = given[0]
        digits = {"grid": (15,), "community": (12,), "street": (9, 12)}[kind]
        if not (code.isascii() and code.isdigit()) or len(code) not in digits:
            wanted = " or ".join(str(d) for d in digits)
            raise InputError(f"--{kind} {code!r}: expected a {wanted}-digit code")
        return code[:9] if kind == "street" else code


@dataclass
class GridBoard:
    """Everything one grid's board shows. Geometries are lon/lat (EPSG:4326)."""

    code: str
    name: str
    community_code: str
    community_name: str
    street_name: str
    residents: int | None
    households: int | None
    boundary: shapely.Geometry
    url: str
    staff: list[dict[str, Any]] = field(default_factory=list)
    sides: dict[str, list[str]] = field(default_factory=dict)
    office: dict[str, Any] | None = None
    buildings: np.ndarray = field(default_factory=lambda: np.empty(0, dtype=object))
    roads: np.ndarray = field(default_factory=lambda: np.empty(0, dtype=object))
    road_names: list[tuple[str, shapely.Geometry]] = field(default_factory=list)
    neighbours: np.ndarray = field(default_factory=lambda: np.empty(0, dtype=object))


def grid_page_url(base_url: str, code: str) -> str:
    """The URL of a grid's page on the residents' site: the QR code on its board.

    Examples
    --------
    >>> grid_page_url("https://wg.example.cn/", "500108002001001")
    'https://wg.example.cn/?grid=500108002001001'
    """
    return f"{base_url.rstrip('/')}/?grid={code}"


def sides_of(
    grid: shapely.Geometry,
    neighbours: Mapping[str, shapely.Geometry],
    roads: Iterable[tuple[str, shapely.Geometry]] = (),
    *,
    touch_m: float = 1.0,
    road_near_m: float = _ROAD_NEAR_M,
    max_roads: int = 2,
) -> dict[str, list[str]]:
    """四至: the neighbouring grids, then the named roads, on each side of a grid.

    A neighbour sharing at least ``5 × touch_m`` of edge, or a road running at least
    ``4 × road_near_m`` within ``road_near_m`` of the edge (at most ``max_roads`` per side,
    longest first), lies on the side (东 南 西 北) the middle of the shared stretch faces from the
    grid's centre. Coordinates must be metric.

    Examples
    --------
    >>> from shapely import box, LineString
    >>> road = ("中山路", LineString([(0, 210), (200, 210)]))
    >>> sides_of(box(0, 0, 200, 200), {"B": box(200, 0, 400, 200)}, [road])
    {'东': ['B'], '南': [], '西': [], '北': ['中山路']}
    """
    found: dict[str, list[str]] = {side: [] for side in SIDES}
    centre = grid.centroid
    edge = grid.boundary

    def side_of(part: shapely.Geometry) -> str:
        at = part.centroid
        angle = math.degrees(math.atan2(at.y - centre.y, at.x - centre.x)) % 360
        return SIDES[int(((angle + 45) % 360) // 90) * 3 % 4]  # 0°: 东, 90°: 北, 180°: 西

    for name, other in neighbours.items():
        shared = edge.intersection(other.buffer(touch_m))
        if shared.length >= 5 * touch_m:
            found[side_of(shared)].append(name)
    # A road along a side runs in the band around the edge for a long stretch; a road that only
    # crosses the edge passes the band in about 2 × road_near_m.
    band = edge.buffer(road_near_m)
    along: dict[str, list[tuple[float, str]]] = {side: [] for side in SIDES}
    for name, line in roads:
        near = shapely.line_merge(line.intersection(band))
        # each stretch on its own: a road crossing the grid enters the band twice, briefly
        for stretch in shapely.get_parts(near):
            if stretch.length >= 4 * road_near_m:
                along[side_of(stretch)].append((stretch.length, name))
    for side, found_roads in along.items():
        names = dict.fromkeys(name for _, name in sorted(found_roads, reverse=True))
        found[side].extend([n for n in names if n not in found[side]][:max_roads])
    return found


def collect_boards(
    store: Store,
    selection: BoardSelection,
    *,
    roles: Mapping[str, str],
    base_url: str,
    photos: Path | None = None,
) -> list[GridBoard]:
    """The boards of the grids in force that ``selection`` names, in code order.

    Parameters
    ----------
    store : Store
    selection : BoardSelection
    roles : mapping
        Role key → display name, in board order (``Settings.roles``).
    base_url : str
        The residents' site; each board's QR code opens ``grid_page_url(base_url, code)``.
    photos : Path, optional
        A folder of staff photos named ``<staff id>.jpg`` or ``.png``; a board shows those found.

    Raises NotFoundError when no grid in force matches.
    """
    prefix = selection.prefix()
    in_force = store.grids_at()
    chosen = in_force[in_force["code"].astype(str).str.startswith(prefix)].sort_values("code")
    if chosen.empty:
        raise NotFoundError(f"no grid in force has a code starting {prefix}; publish a plan first")
    divisions = store.read("divisions").set_index("code")
    short = divisions["short_name"].fillna(divisions["name"]).to_dict()
    long_name = divisions["name"].to_dict()
    x0, y0, x1, y1 = chosen.total_bounds
    pad = max(x1 - x0, y1 - y0) * _MAP_MARGIN + 0.002
    bbox = (x0 - pad, y0 - pad, x1 + pad, y1 + pad)
    # a grid's community office may stand outside the grids' extent, not outside its community
    mine = divisions[divisions.index.isin(chosen["community_code"].astype(str))]
    offices, _ = community_offices(store, bbox=tuple(mine.total_bounds) if len(mine) else bbox)
    buildings = store.read("buildings", bbox=bbox).geometry.to_numpy()
    roads = store.read("roads", bbox=bbox)
    near = in_force[in_force.intersects(shapely.box(*bbox))]

    crs = metric_crs(chosen.total_bounds)
    to_m = lonlat_to(crs)

    def metric(geoms: Any) -> Any:
        return shapely.transform(np.asarray(geoms), to_m, interleaved=False)

    near_m = dict(zip(near["code"], metric(near.geometry.to_numpy()), strict=True))
    named_roads = roads[roads["name"].notna() & (roads["name"].astype(str) != "")]
    road_m = list(zip(named_roads["name"], metric(named_roads.geometry.to_numpy()), strict=True))
    staff = store.read("staff").set_index("id")
    order = {role: k for k, role in enumerate(roles)}

    def display(code: str, name: Any) -> str:
        from gridmap.service.lookup import grid_display_name

        return grid_display_name(name, code, short.get(code[:12]))

    names = {str(r.code): display(str(r.code), r.name) for r in near.itertuples()}
    boards = []
    for row in chosen.itertuples():
        code, community = str(row.code), str(row.community_code)
        shape = row.geometry
        x0, y0, x1, y1 = shape.bounds
        pad = max(x1 - x0, y1 - y0) * _MAP_MARGIN + 0.0005
        view = shapely.box(x0 - pad, y0 - pad, x1 + pad, y1 + pad)
        others = {
            names[c]: g for c, g in near_m.items() if c != code and g.distance(near_m[code]) < 2
        }
        board = GridBoard(
            code=code,
            name=names[code],
            community_code=community,
            community_name=str(short.get(community, community)),
            street_name=str(short.get(community[:9] + "000", "")),
            residents=_int(getattr(row, "residents", None)),
            households=_int(getattr(row, "households", None)),
            boundary=shape,
            url=grid_page_url(base_url, code),
            sides=sides_of(near_m[code], others, road_m),
            buildings=buildings[shapely.intersects(buildings, view)],
            roads=roads.geometry.to_numpy()[shapely.intersects(roads.geometry.to_numpy(), view)],
            road_names=[
                (str(n), g)
                for n, g in zip(named_roads["name"], named_roads.geometry, strict=True)
                if g.intersects(shape)
            ],
            neighbours=near.geometry.to_numpy()[
                (near["code"] != code).to_numpy() & near.intersects(view).to_numpy()
            ],
        )
        board.staff = _staff_of(store, staff, code, roles, order, photos)
        if community in offices.index:
            office = offices.loc[community]
            board.office = {
                "name": _text(office["name"]) or long_name.get(community),
                "address": _text(office["address"]),
                "phone": _text(office["phone"]),
                "hours": _text(office["hours"]),
            }
        boards.append(board)
    return boards


def _staff_of(
    store: Store,
    staff: pd.DataFrame,
    code: str,
    roles: Mapping[str, str],
    order: Mapping[str, int],
    photos: Path | None,
) -> list[dict[str, Any]]:
    people = []
    for a in store.staff_assignments(grid_code=code):
        if a.staff_id not in staff.index:
            continue
        person = staff.loc[a.staff_id]
        photo = None
        if photos is not None:
            photo = next(
                (p for p in (photos / f"{a.staff_id}.{e}" for e in ("jpg", "png")) if p.is_file()),
                None,
            )
        people.append(
            {
                "role": a.role,
                "role_name": roles.get(a.role, a.role),
                "name": str(person["name"]),
                "phone": _text(person["phone_public"]),  # never phone_private
                "duties": _text(person["duties"]),
                "photo": photo,
            }
        )
    people.sort(key=lambda p: (order.get(str(p["role"]), len(order)), str(p["name"])))
    return people


def _int(value: Any) -> int | None:
    return None if value is None or pd.isna(value) else int(value)


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value.strip() else None
