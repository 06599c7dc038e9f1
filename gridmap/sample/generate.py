"""A deterministic, realistic sample district: Nan'an (南岸区), Chongqing.

The frame is real (the district boundary, its 15 streets/towns and 153 communities with their
codes and names); everything below it is generated: street and community boundaries that tile
exactly, closed compounds with their towers (homes.py chooses where people live), social units,
scattered houses, roads, residents, grid staff and the community offices.
"""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from gridmap.sample.address import address_buildings
from gridmap.sample.districting import make_divisions
from gridmap.sample.geography import (
    RIVER_HALF_WIDTH,
    Landscape,
    default_data_dir,
    load_frame,
    make_landscape,
    to_lonlat,
)
from gridmap.sample.homes import OWN_GRID, choose_homes
from gridmap.sample.layout import make_pieces
from gridmap.sample.names import NameMaker, place_stem
from gridmap.sample.offices import office_requests, reserve_pieces
from gridmap.sample.population import (
    BIG_COMPOUND_RESIDENTS,
    HPF,
    PERSONS_PER_HOUSEHOLD,
    PERSONS_PER_M2,
    TOTAL_RESIDENTS,
    _plannable,
    community_targets,
    fit_households,
    make_staff,
    rebalance,
)
from gridmap.sample.roads import RoadSet, make_main_roads
from gridmap.sample.scatter import HOUSE_RESIDENTS, make_hamlets, make_houses, village_lanes
from gridmap.sample.units import Buildings, Units, place_small_units, units_from_pieces
from gridmap.schema import LAYERS
from gridmap.settings import DEFAULT_ROLES

__all__ = ["generate_nanan"]

_ROAD_WIDTH = {"primary": 16.0, "secondary": 11.0, "residential": 7.0}


def generate_nanan(
    seed: int = 0, *, data_dir: Path | None = None
) -> dict[str, gpd.GeoDataFrame | pd.DataFrame]:
    """Generate the sample district of Nan'an, Chongqing (南岸区, 500108), in memory.

    Parameters
    ----------
    seed
        Seed of ``numpy.random.default_rng``; the same seed gives identical frames.
    data_dir
        Folder holding districts.geojson and divisions.csv (default: the package's
        data/chongqing).

    Returns
    -------
    dict
        "divisions", "units", "buildings", "roads", "offices", "landcover" (GeoDataFrames in
        EPSG:4326)
        and "staff" (a DataFrame), each with exactly the columns of gridmap.schema's layer.

    Examples
    --------
    >>> layers = generate_nanan(0)
    >>> len(layers["divisions"])
    169
    """
    rng = np.random.default_rng(seed)
    frame = load_frame(Path(data_dir) if data_dir is not None else default_data_dir())
    land = make_landscape(frame)
    div = make_divisions(rng, frame, land.river)
    names = NameMaker(rng)
    comms = [c for s in frame.streets for c in s.communities]
    street_of_comm = np.repeat(
        np.arange(len(frame.streets)), [len(s.communities) for s in frame.streets]
    )
    kind_of_comm = [frame.streets[s].kind for s in street_of_comm]
    stems = [place_stem(c.short_name) for c in comms]
    target, bounds = community_targets(rng, frame)
    small = int(np.flatnonzero(bounds[:, 0] == bounds[:, 1])[0])

    roads = make_main_roads(rng, frame, land, names)
    pieces = make_pieces(rng, frame, div.communities, land.no_build, roads, names)
    big_piece = _hard_cases(frame, pieces, small)
    reserved = reserve_pieces(frame, pieces, big_piece)
    own_piece = choose_homes(
        rng, frame, pieces, target, {big_piece, *reserved.values()}, plain={small}
    )

    units, buildings = Units(), Buildings()
    unit_of_piece = units_from_pieces(rng, pieces, units, buildings, names, kind_of_comm, stems)
    big_unit = int(unit_of_piece[big_piece])
    own_residents: dict[int, int] = {}
    for key, p in own_piece.items():
        _, name, _, residents = OWN_GRID[key]
        u = int(unit_of_piece[p])
        units.name[u], units.own_grid[u] = name, True
        own_residents[u] = residents

    villages = np.array([k for k, c in enumerate(comms) if c.is_village])
    houses_needed = np.round(target[villages] / HOUSE_RESIDENTS).astype(np.int64)
    # The largest village is the thinly populated one: one grid over many square kilometres.
    largest = int(villages[np.argmax(shapely.area(div.communities[villages]))])
    hamlets = make_hamlets(
        rng,
        div.cells,
        div.community_of_cell,
        villages,
        houses_needed,
        land.forest,
        land.no_build,
        scattered=largest,
    )
    # Small units keep off the roads and off the blocks of towers standing in the street.
    blocked = np.concatenate(
        [[land.no_build], roads.buffer_array(_ROAD_WIDTH), pieces.geoms[pieces.role == "tower"]]
    )
    requests = office_requests(rng, frame, div, pieces, reserved, hamlets, comms, stems, names)
    placed = place_small_units(
        rng, requests, div.communities, blocked, units, buildings, kind_of_comm
    )
    committee = {
        r.community: u
        for r, u in zip(requests, placed, strict=True)
        if u >= 0 and r.template == "committee"
    }
    hubs = {
        r.community: tuple(units.geoms[u].centroid.coords[0])
        for r, u in zip(requests, placed, strict=True)
        if u >= 0 and r.category == "office" and comms[r.community].is_village
    }
    unit_geoms = np.array(units.geoms, dtype=object)
    lane_names = [f"{stem}村道" for stem in stems]
    n_before = len(roads.geoms)
    village_lanes(
        rng,
        hamlets,
        hubs,
        div.communities,
        shapely.union(land.no_build, shapely.union_all(unit_geoms)),
        roads,
        lane_names,
    )
    lanes = RoadSet(roads.geoms[n_before:], roads.names[n_before:], roads.classes[n_before:])
    avoid = np.concatenate([blocked, lanes.buffer_array({"residential": 5.0})])
    unit_tree = shapely.STRtree(unit_geoms)
    houses = make_houses(rng, hamlets, villages, houses_needed, div.communities, avoid, unit_tree)

    b = buildings.arrays()
    # Old houses and street towers must not sit under a small unit placed afterwards.
    low = np.flatnonzero(np.isin(b["template"], ("low", "tower")))
    hit = unit_tree.query(b["geom"][low], predicate="intersects")[0]
    b = {k: np.delete(v, low[np.unique(hit)]) for k, v in b.items()}
    n_h = len(houses["geom"])
    b["geom"] = np.concatenate([b["geom"], houses["geom"]])
    b["unit"] = np.concatenate([b["unit"], np.full(n_h, -1)])
    b["community"] = np.concatenate([b["community"], houses["community"]])
    b["floors"] = np.concatenate([b["floors"], houses["floors"]])
    b["template"] = np.concatenate([b["template"], np.full(n_h, "house", dtype=object)])
    group = np.concatenate([np.zeros(len(b["unit"]) - n_h, dtype=np.int64), houses["group"]])

    hh, res, keep = _residents(rng, b, target, bounds, big_unit, own_residents)
    b = {k: v[keep] for k, v in b.items()}
    hh, res, group = hh[keep], res[keep], group[keep]

    road_geoms = np.array(roads.geoms, dtype=object)
    names_b, addresses = address_buildings(
        rng, b, group, unit_geoms, units, road_geoms, roads.names, frame, comms, street_of_comm
    )
    area = shapely.area(b["geom"])
    effective = np.where(res >= 0, res, area * b["floors"] * PERSONS_PER_M2)
    by_comm = np.bincount(b["community"], weights=effective, minlength=len(comms))
    staff = make_staff(by_comm, [c.code for c in comms], DEFAULT_ROLES, names)

    return {
        "divisions": _divisions_frame(frame, div),
        "units": _frame(
            "units",
            {
                "id": [f"U{k + 1:05d}" for k in range(len(units.geoms))],
                "kind": units.kind,
                "name": units.name,
                "category": units.category,
                "community_code": [comms[c].code for c in units.community],
                "own_grid": units.own_grid,
            },
            unit_geoms,
        ),
        "buildings": _frame(
            "buildings",
            {
                "id": [f"B{k + 1:06d}" for k in range(len(b["geom"]))],
                "name": names_b,
                "address": addresses,
                "unit_id": [f"U{u + 1:05d}" if u >= 0 else None for u in b["unit"]],
                "floors": b["floors"],
                "households": _nullable(hh),
                "residents": _nullable(res),
                "residents_estimated": np.zeros(len(b["geom"]), dtype=bool),
            },
            b["geom"],
        ),
        "roads": _frame(
            "roads",
            {
                "id": [f"R{k + 1:04d}" for k in range(len(road_geoms))],
                "name": roads.names,
                "class": roads.classes,
            },
            road_geoms,
        ),
        "staff": _typed(staff, "staff"),
        "offices": _offices_frame(rng, committee, units, b, names_b, addresses, comms),
        "landcover": _landcover_frame(land, frame, pieces, b["geom"]),
    }


def _landcover_frame(land: Landscape, frame, pieces, buildings: np.ndarray) -> gpd.GeoDataFrame:  # type: ignore[no-untyped-def]
    """The base map's water and green: the Yangtze (its whole width, across the border), 广阳岛,
    the wooded ridges, and in each street the largest open piece that holds no building (of
    at least a hectare) as its park, named after the street."""
    tree = shapely.STRtree(buildings)
    open_pieces = np.flatnonzero(pieces.role == "park")
    built = tree.query(pieces.geoms[open_pieces], predicate="intersects")[0]
    open_pieces = np.delete(open_pieces, np.unique(built))
    area = shapely.area(pieces.geoms)
    parks, park_names = [], []
    for s, street in enumerate(frame.streets):
        mine = open_pieces[pieces.street[open_pieces] == s]
        if len(mine) and area[mine].max() >= 10_000:
            parks.append(pieces.geoms[mine[np.argmax(area[mine])]])
            park_names.append(street.name.removesuffix("街道") + "公园")
    shapes = [shapely.buffer(land.river_line, RIVER_HALF_WIDTH), land.island, land.forest, *parks]
    kinds = ["water", "park", "forest", *["park"] * len(parks)]
    names = ["长江", "广阳岛", None, *park_names]
    polygons = [_polygonal(g) for g in shapes]
    keep = [k for k, g in enumerate(polygons) if g is not None]
    return _frame(
        "landcover",
        {
            "id": [f"L{k + 1:03d}" for k in range(len(keep))],
            "kind": [kinds[k] for k in keep],
            "name": [names[k] for k in keep],
        },
        np.array([polygons[k] for k in keep], dtype=object),
    )


def _polygonal(geom: shapely.Geometry) -> shapely.Geometry | None:
    """The polygons of ``geom`` as one (multi)polygon; None when it has none."""
    parts = [p for p in shapely.get_parts(geom) if isinstance(p, shapely.Polygon) and p.area > 0]
    return shapely.union_all(parts) if parts else None


def _hard_cases(frame, pieces, small: int) -> int:
    """Set up the planners' hard cases on the block pieces; returns the big compound's piece.

    The compound too big for one grid takes the largest residential piece of the core; the
    small community keeps compounds on about 5 ha and one old block, the rest open ground.
    """
    core = np.array([frame.streets[s].kind == "core" for s in pieces.street])
    cand = np.flatnonzero(core & np.isin(pieces.role, ("new", "old")) & (pieces.community != small))
    big_piece = cand[np.argmax(shapely.area(pieces.geoms[cand]))]
    pieces.role[big_piece] = "new"
    area = shapely.area(pieces.geoms)
    mine = np.flatnonzero((pieces.community == small) & np.isin(pieces.role, ("new", "old")))
    mine = mine[np.argsort(-area[mine], kind="stable")]
    pieces.role[mine[1:][np.cumsum(area[mine])[:-1] >= 50_000]] = "park"
    pieces.role[mine[:1]] = "new"
    low = np.flatnonzero((pieces.community == small) & (pieces.role == "low"))
    pieces.role[low[1:]] = "park"
    return int(big_piece)


def _residents(rng, b, target, bounds, big_unit, own_residents):
    """Households and residents of every building (-1 = unknown), and which buildings to keep.

    Scattered houses come first (half of them with known residents, half left for the
    importer's estimate), with the towers standing in the street (800-1,100 residents each) and
    the units that are a grid of their own (``own_residents``: unit → residents, shared by
    floors); then each 社区's target is moved within its range and what its houses and
    compounds can hold, so that the district sums to TOTAL_RESIDENTS; compounds' households
    are fitted to the targets.
    """
    n = len(b["geom"])
    template, comm = b["template"], b["community"]
    scattered = np.isin(template, ("low", "house"))
    residential = np.isin(template, ("new", "old"))
    estimate = shapely.area(b["geom"]) * b["floors"] * PERSONS_PER_M2
    known = scattered & (rng.random(n) < 0.5)
    res = np.where(scattered, -1, 0).astype(np.int64)
    res[known] = np.maximum(1, np.round(estimate[known] * rng.uniform(0.7, 1.3, known.sum())))
    hh = np.where(scattered, -1, 0).astype(np.int64)
    hh[known] = np.maximum(1, np.round(res[known] / rng.uniform(2.4, 3.4, known.sum())))
    tower = template == "tower"
    res[tower] = rng.integers(800, 1101, tower.sum())
    hh[tower] = np.round(res[tower] / rng.uniform(2.5, 2.9, tower.sum()))
    k = len(target)
    lo, hi = bounds[:, 0].copy(), bounds[:, 1].copy()
    for u, total in own_residents.items():
        mine = np.flatnonzero(b["unit"] == u)
        share = b["floors"][mine] / b["floors"][mine].sum() * total
        res[mine] = np.floor(share)
        res[mine[np.argsort(share - np.floor(share))[::-1][: total - res[mine].sum()]]] += 1
        hh[mine] = np.maximum(1, np.round(res[mine] / 3.5))  # dormitory rooms
        c = int(comm[mine[0]])
        # The rest of the 社区 still makes whole grids.
        rest = _plannable(target[c] - total, 2700.0, 15000.0 - total)[0]
        lo[c] = hi[c] = total + rest
    fixed = np.where(known | tower | (res > 0), res, np.where(scattered, estimate, 0.0))

    # Old houses of a 社区 hold at most a third of its people: thin them out where they would
    # hold more (a town centre with many old blocks).
    keep = np.ones(n, dtype=bool)
    low = template == "low"
    low_by = np.bincount(comm[low], weights=fixed[low], minlength=k)
    share = np.minimum(1.0, target / 3 / np.maximum(low_by, 1.0))
    keep[low] = rng.random(low.sum()) < share[comm[low]]
    fixed = np.where(keep, fixed, 0.0)

    big = b["unit"] == big_unit
    fixed_by = np.bincount(comm, weights=fixed, minlength=k)
    room = (
        np.bincount(comm[residential & ~big], weights=b["floors"][residential & ~big], minlength=k)
        * PERSONS_PER_HOUSEHOLD
        * HPF[1]
        * 0.85
    )
    has_units = np.bincount(comm[residential], minlength=k) > 0
    lo[~has_units] = hi[~has_units] = fixed_by[~has_units]  # villages: their houses
    big_comm = int(comm[big][0])
    lo[big_comm] = hi[big_comm] = np.clip(target[big_comm], 14000, 15500)
    # At least: the houses, the big compound and one building of every other compound.
    units_res = np.flatnonzero(residential & ~big)
    per_unit = np.bincount(b["unit"][units_res], weights=b["floors"][units_res])
    n_per_unit = np.bincount(b["unit"][units_res])
    first = np.unique(b["unit"][units_res], return_index=True)[1]
    least = np.bincount(
        comm[units_res[first]],
        minlength=k,
        weights=(per_unit / np.maximum(n_per_unit, 1))[b["unit"][units_res[first]]],
    )
    floor_ = fixed_by + least * PERSONS_PER_HOUSEHOLD * HPF[0]
    floor_[big_comm] += BIG_COMPOUND_RESIDENTS
    lo = np.maximum(lo, floor_)
    hi = np.maximum(lo, np.minimum(hi, fixed_by + room))
    target = rebalance(target, lo, hi, TOTAL_RESIDENTS)

    fhh, keep_res = fit_households(
        rng, comm, residential, b["floors"], b["unit"], fixed, target, big
    )
    keep &= keep_res
    hh[residential] = fhh[residential]
    res[residential] = np.round(
        fhh[residential] * PERSONS_PER_HOUSEHOLD * rng.uniform(0.92, 1.08, residential.sum())
    )
    return hh, res, keep


def _offices_frame(rng, committee, units, b, names_b, addresses, comms) -> gpd.GeoDataFrame:
    """The committee offices as points (the office building's centre), with their address,
    a fictitious public phone and opening hours."""
    first: dict[int, int] = {}
    for i, u in enumerate(b["unit"]):
        first.setdefault(int(u), i)
    rows, points = [], []
    for k, (c, u) in enumerate(sorted(committee.items())):
        i = first[u]
        hours = "周一至周五 09:00-12:00 14:00-17:30"
        if rng.random() < 0.3:
            hours += "；周六 09:00-12:00"
        rows.append(
            {
                "id": f"O{k + 1:04d}",
                "community_code": comms[c].code,
                "name": units.name[u],
                "address": addresses[i][: len(addresses[i]) - len(names_b[i])],
                "phone": f"023-0001-{k + 1:04d}",
                "hours": hours,
            }
        )
        points.append(shapely.centroid(b["geom"][i]))
    return _frame("offices", pd.DataFrame(rows).to_dict("list"), np.array(points, dtype=object))


def _nullable(values: np.ndarray) -> pd.arrays.IntegerArray:
    """Integers with -1 meaning unknown, as a nullable Int64 array."""
    return pd.arrays.IntegerArray(np.where(values >= 0, values, 0).astype(np.int64), values < 0)


def _frame(layer: str, columns: dict, geoms_metric: np.ndarray) -> gpd.GeoDataFrame:
    df = _typed(pd.DataFrame(columns), layer)
    return gpd.GeoDataFrame(df, geometry=list(to_lonlat(geoms_metric)), crs=4326)


def _typed(df: pd.DataFrame, layer: str) -> pd.DataFrame:
    """Columns in the schema's order and types (nullable Int64 for integers)."""
    out = pd.DataFrame(index=df.index)
    for col in LAYERS[layer].columns:
        s = df[col.name] if col.name in df else pd.Series([None] * len(df), index=df.index)
        if col.dtype == "int":
            s = s.astype("Int64")
        elif col.dtype == "bool":
            s = s.astype(bool)
        elif col.dtype == "str":
            s = s.astype(object).where(s.notna(), None)
        out[col.name] = s
    return out


def _divisions_frame(frame, div) -> gpd.GeoDataFrame:
    rows = [
        (
            frame.district_code,
            frame.district_name,
            frame.district_name,
            "district",
            frame.district_parent,
        )
    ]
    for s in frame.streets:
        rows.append((s.code, s.name, s.name, "street", frame.district_code))
    for s in frame.streets:
        rows += [(c.code, c.name, c.short_name, "community", s.code) for c in s.communities]
    geoms = np.concatenate(
        [[frame.district_lonlat], to_lonlat(div.streets), to_lonlat(div.communities)]
    )
    df = pd.DataFrame(rows, columns=["code", "name", "short_name", "level", "parent_code"])
    return gpd.GeoDataFrame(_typed(df, "divisions"), geometry=list(geoms), crs=4326)
