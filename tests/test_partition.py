"""partition_graph: contiguous, balanced, compact parts on tessellations built with shapely."""

from __future__ import annotations

import json

import numpy as np
import pytest
import shapely
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gridmap.engine.graph import Adjacency, adjacency, connected_parts
from gridmap.engine.partition.solve import PartitionResult, n_parts_for, partition_graph
from gridmap.errors import InputError

# --- tessellations ----------------------------------------------------------------------------


def voronoi(n: int, seed: int, side: float = 1000.0) -> np.ndarray:
    """About ``n`` cells of a jittered lattice's Voronoi diagram, clipped to a square."""
    rng = np.random.default_rng(seed)
    m = int(np.ceil(np.sqrt(n)))
    lattice = np.stack(np.meshgrid(np.arange(m), np.arange(m)), -1).reshape(-1, 2)[:n]
    points = (lattice + 0.5 + rng.uniform(-0.4, 0.4, lattice.shape)) * (side / m)
    box = shapely.box(0, 0, side, side)
    cells = shapely.get_parts(shapely.voronoi_polygons(shapely.multipoints(points), extend_to=box))
    cells = shapely.intersection(cells, box)
    return cells[~shapely.is_empty(cells)]


def squares(nx: int, ny: int, x0: float = 0.0) -> np.ndarray:
    """An nx × ny grid of unit squares, row by row, starting at x = ``x0``."""
    return np.array(
        [shapely.box(x0 + i, j, x0 + i + 1, j + 1) for j in range(ny) for i in range(nx)]
    )


def run(polys: np.ndarray, weights, n_parts: int, **options) -> tuple[PartitionResult, Adjacency]:  # type: ignore[no-untyped-def]
    adj = adjacency(polys)
    centroids = shapely.centroid(polys)
    result = partition_graph(
        np.asarray(weights, dtype=float),
        adj,
        n_parts,
        centroids=np.column_stack([shapely.get_x(centroids), shapely.get_y(centroids)]),
        areas=shapely.area(polys),
        perimeters=shapely.length(polys),
        **options,
    )
    return result, adj


def assert_valid(result: PartitionResult, adj: Adjacency, weights) -> None:  # type: ignore[no-untyped-def]
    """Every unit labelled, every label used, every part one connected piece, weight kept."""
    labels = result.labels
    assert labels.shape == (adj.n,)
    assert set(labels.tolist()) == set(range(result.n_parts))
    for part in range(result.n_parts):
        assert connected_parts(adj, labels == part).max() == 0, f"part {part} is in pieces"
    assert result.contiguous.all()
    assert result.part_weights.sum() == pytest.approx(float(np.sum(weights)))
    assert np.allclose(result.part_weights, np.bincount(labels, weights=weights))
    expected = np.abs(result.part_weights - result.target) <= result.tolerance * result.target
    assert (result.in_band == expected).all()
    assert ((result.compactness > 0) & (result.compactness <= 1)).all()


# --- properties ---------------------------------------------------------------------------------


@st.composite
def tessellations(draw):  # type: ignore[no-untyped-def]
    n = draw(st.integers(12, 250))
    seed = draw(st.integers(0, 10_000))
    rng = np.random.default_rng(seed)
    cells = voronoi(n, seed)
    weights = rng.lognormal(3.0, 0.7, len(cells))
    weights[rng.random(len(cells)) < draw(st.sampled_from([0.0, 0.1, 0.4]))] = 0.0
    heavy = rng.random(len(cells)) < draw(st.sampled_from([0.0, 0.02]))
    weights[heavy] *= 30
    n_parts = draw(st.integers(1, max(1, len(cells) // 3)))
    return cells, weights, n_parts, seed


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(tessellations())
def test_every_part_is_used_connected_and_the_weight_is_kept(case) -> None:  # type: ignore[no-untyped-def]
    cells, weights, n_parts, seed = case
    result, adj = run(cells, weights, n_parts, seed=seed)
    assert_valid(result, adj, weights)
    if not any("instead of" in note for note in result.notes):
        assert result.n_parts == n_parts
    again, _ = run(cells, weights, n_parts, seed=seed)
    assert np.array_equal(again.labels, result.labels), "the same seed must give the same plan"
    json.dumps(result.to_dict())


@settings(max_examples=10, deadline=None)
@given(st.integers(60, 400), st.integers(2, 12), st.integers(0, 10_000))
def test_many_small_equal_units_balance_within_the_band(n, n_parts, seed) -> None:  # type: ignore[no-untyped-def]
    cells = voronoi(n, seed)
    n_parts = min(n_parts, len(cells) // 8)
    result, adj = run(cells, np.ones(len(cells)), n_parts, seed=seed)
    assert_valid(result, adj, np.ones(len(cells)))
    assert result.in_band.all(), result.notes
    # within ±10%, give or take one unit (89 units make no ten parts of 8.01–9.79)
    assert np.abs(result.part_weights / result.target - 1).max() <= 0.1 + 1 / result.target


# --- cases --------------------------------------------------------------------------------------


def test_a_grid_splits_into_equal_compact_squares() -> None:
    cells = squares(20, 20)
    result, adj = run(cells, np.ones(400), 16)
    assert_valid(result, adj, np.ones(400))
    assert np.abs(result.part_weights / 25 - 1).max() <= 0.1  # the inner band: ±10% for ±20%
    assert result.compactness.mean() >= 0.6
    assert result.compactness.min() >= 0.4


def test_one_part_takes_everything() -> None:
    cells = voronoi(50, 1)
    weights = np.arange(len(cells), dtype=float)
    result, adj = run(cells, weights, 1)
    assert_valid(result, adj, weights)
    assert (result.labels == 0).all() and result.in_band.all() and result.notes == []


def test_as_many_parts_as_units_gives_each_unit_its_own() -> None:
    cells = voronoi(30, 2)
    weights = np.ones(len(cells))
    result, adj = run(cells, weights, len(cells))
    assert_valid(result, adj, weights)
    assert sorted(result.labels.tolist()) == list(range(len(cells)))


def test_parts_never_span_two_islands() -> None:
    cells = np.concatenate([squares(6, 6), squares(3, 3, x0=10)])  # 36 + 9 units
    weights = np.concatenate([np.full(36, 3.0), np.full(9, 4.0)])  # 108 and 36: 3 + 1 parts
    result, adj = run(cells, weights, 4)
    assert_valid(result, adj, weights)
    left, right = set(result.labels[:36].tolist()), set(result.labels[36:].tolist())
    assert not left & right
    assert (len(left), len(right)) == (3, 1)
    assert any("separate pieces" in note for note in result.notes)
    assert result.in_band.all()


def test_more_islands_than_parts_makes_a_part_per_island_and_says_so() -> None:
    cells = np.concatenate([squares(4, 4), squares(2, 2, x0=10)])
    result, adj = run(cells, np.ones(20), 1)
    assert_valid(result, adj, np.ones(20))
    assert result.n_parts == 2
    assert any("2 parts made instead of n_parts=1" in note for note in result.notes)


def test_a_unit_above_the_maximum_is_a_part_of_its_own_and_reported() -> None:
    cells = squares(10, 10)
    weights = np.ones(100)
    weights[44] = 60.0  # target (159/4 ≈ 40) ± 20%: 60 is above the maximum
    result, adj = run(cells, weights, 4)
    assert_valid(result, adj, weights)
    heavy = result.labels[44]
    assert (result.labels == heavy).sum() == 1
    assert not result.in_band[heavy]
    assert any(f"part {heavy}:" in n and "exceeds the maximum" in n for n in result.notes)
    assert any("are parts of their own: unit 44 (60)" in note for note in result.notes)


def test_a_heavy_unit_that_cuts_the_graph_leaves_connected_parts() -> None:
    cells = squares(9, 1)  # a row: the heavy middle unit splits the rest in two
    weights = np.array([1, 1, 1, 1, 20, 1, 1, 1, 1], dtype=float)
    result, adj = run(cells, weights, 3, target=4.0)
    assert_valid(result, adj, weights)
    assert result.labels.tolist() == [0, 0, 0, 0, 1, 2, 2, 2, 2]


def test_zero_weight_units_are_still_in_connected_parts() -> None:
    cells = voronoi(200, 3)
    rng = np.random.default_rng(3)
    weights = np.where(rng.random(len(cells)) < 0.5, 0.0, rng.lognormal(2, 0.5, len(cells)))
    centroids = shapely.centroid(cells)
    weights[shapely.get_x(centroids) < 400] = 0.0  # a wide stretch of empty land
    result, adj = run(cells, weights, 6)
    assert_valid(result, adj, weights)
    assert result.in_band.all()


def test_all_zero_weights_balance_by_area() -> None:
    cells = squares(8, 8)
    result, adj = run(cells, np.zeros(64), 4)
    assert_valid(result, adj, np.zeros(64))
    assert np.bincount(result.labels).tolist() == [16, 16, 16, 16]
    assert any("balanced by area" in note for note in result.notes)


def test_boundaries_follow_cheap_edges() -> None:
    cells = squares(10, 10)
    adj = adjacency(cells)
    x = shapely.get_x(shapely.centroid(cells))
    road = (x[adj.left] < 5) != (x[adj.right] < 5)  # the edges along x = 5
    plain, _ = run(cells, np.ones(100), 2, seed=1)
    roads, _ = run(cells, np.ones(100), 2, seed=1, edge_cost=np.where(road, 0.1, 1.0))
    cut = roads.labels[adj.left] != roads.labels[adj.right]
    assert (cut == road).all(), "the boundary must run along the cheap edges"
    assert roads.part_weights.tolist() == [50.0, 50.0]
    assert plain.part_weights.tolist() == [50.0, 50.0]


def test_a_target_sets_the_band_and_explains_what_misses_it() -> None:
    cells = squares(10, 10)
    result, adj = run(cells, np.full(100, 10.0), 2, target=300.0)  # 500 each: above 360
    assert_valid(result, adj, np.full(100, 10.0))
    assert not result.in_band.any()
    assert all("above the maximum 360" in n and "500 per part" in n for n in result.notes)


def test_a_time_budget_is_respected() -> None:
    cells = voronoi(400, 4)
    weights = np.random.default_rng(4).lognormal(0, 0.6, len(cells))
    result, adj = run(cells, weights, 40, time_budget_s=0.3)
    assert_valid(result, adj, weights)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"n_parts": 0}, "n_parts must be between 1 and the number of units (4), not 0"),
        ({"n_parts": 5}, "n_parts must be between 1 and the number of units (4), not 5"),
        ({"n_parts": 2.0}, "n_parts must be an integer, not 2.0"),
        ({"weights": [1, 2, 3]}, "weights must have shape (4,), not (3,)"),
        (
            {"weights": [1, -2, 3, 4]},
            "weights must be finite and ≥ 0; 1 value(s) are not, the first at position 1: -2.0",
        ),
        ({"weights": [1, np.nan, 3, 4]}, "weights must be finite and ≥ 0"),
        ({"areas": np.ones(3)}, "areas must have shape (4,), not (3,)"),
        ({"centroids": np.zeros((4, 3))}, "centroids must be finite with shape (4, 2), not (4, 3)"),
        ({"edge_cost": np.ones(2)}, "edge_cost must have shape (3,), not (2,)"),
        ({"tolerance": -0.1}, "tolerance must be a finite number ≥ 0, not -0.1"),
        ({"target": -5.0}, "target must be a finite number > 0, not -5.0"),
    ],
)
def test_bad_input_names_the_argument(change, message) -> None:  # type: ignore[no-untyped-def]
    cells = squares(4, 1)
    args = {
        "weights": np.ones(4),
        "n_parts": 2,
        "centroids": np.column_stack([np.arange(4) + 0.5, np.full(4, 0.5)]),
        "areas": np.ones(4),
    } | change
    with pytest.raises(InputError) as caught:
        partition_graph(args.pop("weights"), adjacency(cells), args.pop("n_parts"), **args)
    assert message in str(caught.value)


def test_n_parts_for() -> None:
    totals = (0, 1400, 1600, 4400, 4600, 31_000)
    assert [n_parts_for(t, 3000) for t in totals] == [1, 1, 1, 1, 2, 10]
    # with a band: the count whose mean is in band, where the rounded one's is not
    totals = (1400, 4400, 5000, 7380, 7439, 7100, 10_900)
    assert [n_parts_for(t, 3000, 0.2) for t in totals] == [1, 1, 2, 3, 3, 2, 4]
    with pytest.raises(InputError, match="target must be positive"):
        n_parts_for(100, 0)


def test_the_search_keeps_its_running_totals_exact() -> None:
    """After the whole schedule, the incremental weights, areas and perimeters match a recount."""
    from gridmap.engine.partition.build import first_plan
    from gridmap.engine.partition.improve import improve
    from gridmap.engine.partition.search import Search, part_scorer, part_scorer_array
    from gridmap.engine.partition.solve import _piece, _priced_perimeters

    cells = voronoi(300, 5)
    adj = adjacency(cells)
    rng = np.random.default_rng(5)
    weights = rng.lognormal(0, 0.6, len(cells))
    cost = np.where(rng.random(len(adj.left)) < 0.2, 0.3, 1.0)
    c = shapely.centroid(cells)
    xy = np.column_stack([shapely.get_x(c), shapely.get_y(c)])
    pcost = _priced_perimeters(adj, shapely.length(cells), cost)
    piece = _piece(np.arange(adj.n), adj, weights, xy, shapely.area(cells), pcost, cost)
    k, target = 20, weights.sum() / 20
    search = Search(piece, first_plan(piece, k, target, rng), k, target, 0.2)
    improve(search)
    labels = search.labels()
    fresh = Search(piece, labels, k, target, 0.2)
    assert np.allclose(search.W, fresh.W) and np.allclose(search.A, fresh.A)
    assert np.allclose(search.P, fresh.P) and np.allclose(search.cur, fresh.cur)
    assert [set(m) for m in search.members] == [set(np.flatnonzero(labels == p)) for p in range(k)]
    one, many = part_scorer(1.0, 1.2, 0.2), part_scorer_array(1.0, 1.2, 0.2)
    w, a, p = np.array([0.5, 0.9, 1.0, 1.5]), np.array([1.0, 2.0, 3.0, 4.0]), np.full(4, 8.0)
    assert np.allclose(many(w, a, p), [one(*x) for x in zip(w, a, p, strict=True)])


def test_the_seed_draw_is_the_generators_own_choice() -> None:
    """k-means++ draws its seeds by the steps of Generator.choice (without its checks): the
    same units from the same generator, so plans do not change with the shortcut."""
    from gridmap.engine.partition.build import _draw

    source = np.random.default_rng(11)
    for n in (1, 2, 7, 30, 200):
        for seed in range(20):
            p = source.random(n) * (source.random(n) < 0.7)
            p = p / p.sum() if p.sum() > 0 else np.full(n, 1.0 / n)
            ours, theirs = np.random.default_rng(seed), np.random.default_rng(seed)
            assert [_draw(ours, p) for _ in range(5)] == [theirs.choice(n, p=p) for _ in range(5)]
