"""node_coverage: only cells on community borders are renoded, the same in one or two processes."""

from __future__ import annotations

import itertools

import geopandas as gpd
import numpy as np
import shapely

from gridmap.engine.plan import WorkerPool, node_coverage


def two_communities(bow: float = 0.0) -> gpd.GeoDataFrame:
    """Community A: 10 × 10 unit squares west of x = 10; community B east of it, in rows offset
    by half a unit, so no vertex of B's west edge is one of A's; the west edge of B's middle
    cell bows ``bow`` east (a sliver between the two communities)."""
    a = [shapely.box(i, j, i + 1, j + 1) for i in range(10) for j in range(10)]
    rows = [0.0, *np.arange(0.5, 10, 1.0), 10.0]
    b = [
        shapely.box(10 + i, lo, 11 + i, hi)
        for i in range(10)
        for lo, hi in itertools.pairwise(rows)
    ]
    b[5] = shapely.Polygon([(10, 4.5), (11, 4.5), (11, 5.5), (10, 5.5), (10 + bow, 5)])
    return gpd.GeoDataFrame(
        {"community_code": ["A"] * len(a) + ["B"] * len(b)}, geometry=[*a, *b], crs=4326
    )


def test_border_cells_gain_their_neighbours_vertices_and_the_rest_stay_as_they_are() -> None:
    cells = two_communities()
    assert not shapely.coverage_is_valid(cells.geometry.values)
    noded = node_coverage(cells)
    geoms = np.asarray(noded.geometry.values)
    assert shapely.coverage_is_valid(geoms)
    assert shapely.equals(geoms, np.asarray(cells.geometry.values)).all()
    # A's column along x = 9..10 gains B's vertices; cells a unit away from B do not change
    west_of_border = (cells.geometry.bounds["maxx"] < 9.5).to_numpy()
    assert (geoms[west_of_border] == np.asarray(cells.geometry.values)[west_of_border]).all()
    gained = shapely.get_num_coordinates(geoms) - shapely.get_num_coordinates(
        np.asarray(cells.geometry.values)
    )
    # each side gains the other's vertices along x = 10 (A: 0.5…9.5; B: 1…9 but 5, which its
    # middle cell has), nothing else
    assert (gained[:100].sum(), gained[100:110].sum(), gained[110:].sum()) == (10, 8, 0)


def test_two_processes_give_the_same_cells_and_hairline_gaps_are_filled() -> None:
    cells = two_communities(bow=1e-7)  # a sliver 1e-7° wide: narrower than a hairline (5e-7°)
    one = np.asarray(node_coverage(cells, workers=1).geometry.values)
    two = np.asarray(node_coverage(cells, workers=2).geometry.values)
    assert shapely.equals_exact(shapely.normalize(one), shapely.normalize(two), 0).all()
    with WorkerPool(2) as pool:  # a run's processes, started by the step before
        pool.submit(abs, -1).result()
        shared = np.asarray(node_coverage(cells, workers=2, pool=pool).geometry.values)
    assert shapely.equals_exact(shapely.normalize(one), shapely.normalize(shared), 0).all()
    assert shapely.coverage_is_valid(two)
    assert shapely.area(cells.geometry.values).sum() < 200.0 - 4e-8
    assert abs(shapely.area(two).sum() - 200.0) < 1e-12  # the sliver went to a cell beside it
