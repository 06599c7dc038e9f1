"""The atom rules of the partition, on small hand-built communities (metres → lon/lat).

A compound that fits under the band's maximum stays whole; one heavier is split between its
buildings, never through one, and the report says which and why; scattered buildings form
atoms small against the band; a unit flagged ``own_grid`` is one grid whatever its residents;
``max_area_km2`` splits a large, thinly populated village.
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pytest
import shapely
from pyproj import Transformer

from gridmap.engine.assign import assign_buildings
from gridmap.engine.partition.community import community_graph, partition_community
from gridmap.errors import InputError

TO_LONLAT = Transformer.from_crs(32648, 4326, always_xy=True)
X0, Y0 = 660_000.0, 3_270_000.0  # Chongqing, UTM 48N
CODE = "500108003009"


def lonlat(geom):  # type: ignore[no-untyped-def]
    return shapely.transform(geom, lambda x, y: TO_LONLAT.transform(x, y), interleaved=False)


def box(x, y, w, h):  # type: ignore[no-untyped-def]
    return shapely.box(X0 + x, Y0 + y, X0 + x + w, Y0 + y + h)


def frames(buildings, units):  # type: ignore[no-untyped-def]
    """(buildings, units) GeoDataFrames in lon/lat from (id, unit, residents, box) rows."""
    b = gpd.GeoDataFrame(
        {
            "id": [r[0] for r in buildings],
            "unit_id": [r[1] for r in buildings],
            "residents": [r[2] for r in buildings],
            "households": [r[2] // 3 for r in buildings],
        },
        geometry=[lonlat(r[3]) for r in buildings],
        crs=4326,
    )
    u = gpd.GeoDataFrame(
        {
            "id": [r[0] for r in units],
            "kind": [r[1] for r in units],
            "name": [r[2] for r in units],
            "own_grid": [r[3] for r in units],
        },
        geometry=[lonlat(r[4]) for r in units],
        crs=4326,
    )
    return b, u


def towers(prefix, unit, x, y, cols, rows, residents):  # type: ignore[no-untyped-def]
    """A block of cols × rows towers, 20 m square, 40 m apart, from (x, y)."""
    return [
        (f"{prefix}{i}-{j}", unit, residents, box(x + 40 * i, y + 40 * j, 20, 20))
        for i in range(cols)
        for j in range(rows)
    ]


def grids_of(result, buildings):  # type: ignore[no-untyped-def]
    placed = assign_buildings(buildings, result.grids)
    assert (placed["share"] > 0.999).all(), "a building is cut by a grid boundary"
    return placed["grid"].to_numpy()


def test_a_compound_under_the_maximum_stays_whole() -> None:
    # compound of 3,200 (under 3,600) beside 3,000 scattered residents: two grids
    community = box(0, 0, 600, 300)
    inside = towers("C", "U1", 20, 20, 4, 4, 200)
    scattered = towers("S", None, 330, 20, 5, 5, 120)
    b, u = frames(inside + scattered, [("U1", "compound", "渝兴湾", False, box(5, 5, 170, 170))])
    result = partition_community(CODE, lonlat(community), b, u, target=3000)
    grid = grids_of(result, b)
    assert result.report["grids"] == 2
    assert len(set(grid[b["unit_id"].eq("U1").to_numpy()])) == 1
    assert result.report["in_band"] == 2


def test_a_compound_above_the_maximum_is_split_between_its_buildings() -> None:
    # one compound of 7,200 residents: more than one grid holds
    community = box(0, 0, 400, 400)
    inside = towers("C", "U1", 20, 20, 6, 6, 200)
    b, u = frames(inside, [("U1", "compound", "龙湖", False, box(5, 5, 250, 250))])
    result = partition_community(CODE, lonlat(community), b, u, target=3000)
    grid = grids_of(result, b)  # every footprint wholly in one grid
    assert len(set(grid)) == result.report["grids"] >= 2
    assert result.report["in_band"] == result.report["grids"]
    [note] = [n for n in result.report["notes"] if "U1" in n]
    assert "龙湖" in note and "more than one grid holds" in note and "between its buildings" in note


def test_scattered_buildings_make_atoms_small_against_the_band() -> None:
    # 60 houses 25 m apart (one cluster of 6,000) and one heavy building of 900
    community = box(0, 0, 500, 400)
    houses = towers("H", None, 10, 10, 10, 6, 100)
    heavy = [("BIG", None, 900, box(420, 300, 40, 40))]
    b, u = frames(houses + heavy, [])
    g = community_graph(CODE, lonlat(community), b, u, target=3000, tolerance=0.2)
    atoms = g.canvas.atoms
    single = atoms["n_buildings"] == 1
    assert (atoms.loc[~single, "residents"] <= 600).all()  # half the band's width
    assert atoms["residents"].max() == 900  # a single heavy building is the only exception
    assert len(atoms) >= 10


def test_an_own_grid_unit_is_one_grid_whatever_its_residents() -> None:
    # a hospital of 400 residents flagged own_grid, beside 6,000 scattered residents
    community = box(0, 0, 700, 300)
    hospital = [("H1", "U9", 400, box(30, 30, 60, 60))]
    scattered = towers("S", None, 250, 20, 10, 6, 100)
    units = [("U9", "social_unit", "第九人民医院", True, box(10, 10, 150, 150))]
    b, u = frames(hospital + scattered, units)
    result = partition_community(CODE, lonlat(community), b, u, target=3000)
    grid = grids_of(result, b)
    own = grid[0]
    assert (grid[1:] != own).all()  # nothing else in the hospital's grid
    assert result.report["grids"] == 3
    assert any("专属网格" in n and "U9" in n for n in result.report["notes"])
    # without the flag the hospital joins a grid of scattered buildings
    b2, u2 = frames(hospital + scattered, [(*units[0][:3], False, units[0][4])])
    plain = partition_community(CODE, lonlat(community), b2, u2, target=3000)
    assert plain.report["grids"] == 2


def test_an_own_grid_unit_overlapping_a_compound_keeps_its_own_grid() -> None:
    # a hospital (own grid) whose polygon is drawn over a compound's corner: before, the two
    # atoms merged, the compound won and the hospital silently lost its own grid
    community = box(0, 0, 700, 300)
    compound = towers("C", "U1", 20, 20, 4, 4, 200)  # 3,200 residents
    hospital = [("H1", "U9", 400, box(190, 30, 40, 40))]
    scattered = towers("S", None, 330, 20, 5, 5, 120)  # 3,000
    units = [
        ("U1", "compound", "渝兴湾", False, box(5, 5, 170, 170)),
        ("U9", "social_unit", "第九人民医院", True, box(150, 10, 100, 100)),
    ]
    b, u = frames(compound + hospital + scattered, units)
    result = partition_community(CODE, lonlat(community), b, u, target=3000)
    grid = grids_of(result, b)
    is_h = b["id"].eq("H1").to_numpy()
    assert (grid[~is_h] != grid[is_h][0]).all()  # the hospital's grid holds only the hospital
    assert len(set(grid[b["unit_id"].eq("U1").to_numpy()])) == 1
    assert result.report["grids"] == 3
    assert any("U1" in n and "U9" in n and "cut out" in n for n in result.report["notes"])


def test_an_own_grid_unit_merged_into_a_compound_is_reported() -> None:
    # a building of the hospital overlaps one of the compound's: no cut keeps them apart, the
    # atoms merge, and the report names the own grid that was not kept
    community = box(0, 0, 400, 300)
    compound = towers("C", "U1", 20, 20, 2, 2, 200)
    units = [
        ("U1", "compound", "渝兴湾", False, box(15, 15, 70, 70)),
        ("U9", "social_unit", "第九人民医院", True, box(90, 5, 100, 100)),
    ]
    b, u = frames([*compound, ("H1", "U9", 400, box(50, 30, 60, 40))], units)
    g = community_graph(CODE, lonlat(community), b, u, target=3000)
    [note] = [n for n in g.notes if "own grid" in n and "not kept" in n]
    assert "U9" in note and "U1" in note


def test_a_heavy_own_grid_unit_is_not_split() -> None:
    community = box(0, 0, 400, 400)
    campus = towers("C", "U1", 20, 20, 6, 6, 200)  # 7,200 residents: a university
    b, u = frames(campus, [("U1", "social_unit", "重庆大学", True, box(5, 5, 250, 250))])
    result = partition_community(CODE, lonlat(community), b, u, target=3000)
    assert result.report["grids"] == 1
    assert len(set(grids_of(result, b))) == 1


def test_max_area_splits_a_thin_village() -> None:
    # 4 km × 1 km, 30 farmhouses of 20 residents: one grid by residents
    community = box(0, 0, 4000, 1000)
    houses = [
        (f"F{i}", None, 20, box(60 + 130 * i, 400 + 200 * (i % 3), 12, 12)) for i in range(30)
    ]
    b, u = frames(houses, [])
    one = partition_community(CODE, lonlat(community), b, u, target=3000)
    assert one.report["grids"] == 1
    assert list(one.report["grid_areas_km2"].values()) == [pytest.approx(4.0, rel=1e-3)]
    split = partition_community(CODE, lonlat(community), b, u, target=3000, max_area_km2=1.5)
    areas = split.report["grid_areas_km2"]
    assert len(areas) == 3
    assert all(0.9 <= a <= 1.7 for a in areas.values()), areas
    assert np.isclose(sum(areas.values()), 4.0, rtol=1e-3)
    assert any("km²" in n and "split by area" in n for n in split.report["notes"])
    grids_of(split, b)
    with pytest.raises(InputError, match="max_area_km2"):
        partition_community(CODE, lonlat(community), b, u, max_area_km2=0)


def test_a_unit_no_arrangement_can_put_in_band_is_named() -> None:
    from gridmap.engine.graph import adjacency
    from gridmap.engine.partition.solve import partition_graph

    # 1,900 alone is below 2,400; with its only neighbour (2,000) it is above 3,600
    boxes = np.array([shapely.box(i, 0, i + 1, 1) for i in range(4)])
    result = partition_graph(
        np.array([1900.0, 2000.0, 1000.0, 1000.0]),
        adjacency(boxes),
        2,
        centroids=np.c_[np.arange(4) + 0.5, np.full(4, 0.5)],
        areas=np.ones(4),
        target=3000.0,
    )
    assert not result.in_band.all()
    assert any("unit 0 weighs 1,900" in n and "no arrangement" in n for n in result.notes)


def test_progress_names_each_community_once_and_results_keep_their_order() -> None:
    from gridmap.engine.partition.community import partition_communities

    west, east = box(0, 0, 300, 300), box(300, 0, 300, 300)
    houses = towers("W", None, 20, 20, 5, 5, 100) + towers("E", None, 320, 20, 5, 5, 100)
    b, u = frames(houses, [])
    communities = gpd.GeoDataFrame(
        {"code": ["500108003021", "500108003022"]},
        geometry=[lonlat(west), lonlat(east)],
        crs=4326,
    )
    seen: list[str] = []
    results = partition_communities(communities, b, u, workers=1, progress=seen.append)
    assert seen == ["500108003021", "500108003022"]
    assert [r.community_code for r in results] == seen
