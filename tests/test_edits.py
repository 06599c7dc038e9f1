"""Edits of a plan (gridmap.engine.edits) on a hand-built lattice of 100 m cells in Chongqing."""

from __future__ import annotations

import json

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
import pytest
import shapely
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from shapely import box

from gridmap.engine.edits.operations import (
    EditRefused,
    EditResult,
    diff_plans,
    merge_grids,
    move_atoms,
    move_cells,
    rebalance,
    reshape_grid,
    split_grid,
)
from gridmap.engine.graph import adjacency, connected_parts
from gridmap.errors import InputError

# The lattice: cells of 100 m in UTM 48N (EPSG:32648) around 106.55E 29.55N, stored in lon/lat.
# Rows are listed north to south, one character per cell = the grid's last digit:
#
#        c0 c1 c2 c3 c4 c5
#   r0 |  1  1  2  2  3  3 |     K1 = compound over r1c2 + r1c3 (grid 2)
#   r1 |  1  1  2  2  3  3 |     K2 = compound over r2c4 + r2c5 (grid 3)
#   r2 |  1  1  4  4  3  3 |     every other cell is its own atom
#   r3 |  1  1  4  4  4  4 |
X0, Y0, SIDE = 650_000.0, 3_270_000.0, 100.0
COMMUNITY = "500108003002"
PLAN = ["112233", "112233", "114433", "114444"]
COMPOUNDS = {"K1": [(1, 2), (1, 3)], "K2": [(2, 4), (2, 5)]}
UTM = pyproj.CRS.from_epsg(32648)
TO_LONLAT = pyproj.Transformer.from_crs(UTM, 4326, always_xy=True)
TO_METRIC = pyproj.Transformer.from_crs(4326, UTM, always_xy=True)


def code(digit: int | str, community: str = COMMUNITY) -> str:
    return f"{community}{int(digit):03d}"


def G(digit: int) -> str:
    return code(digit)


def cell_box(r: int, c: int, n_rows: int) -> shapely.Polygon:
    y = Y0 + (n_rows - 1 - r) * SIDE
    return box(X0 + c * SIDE, y, X0 + (c + 1) * SIDE, y + SIDE)


def to_lonlat(geom: shapely.Geometry) -> shapely.Geometry:
    return shapely.transform(geom, lambda x, y: TO_LONLAT.transform(x, y), interleaved=False)


def lattice(
    plan: list[str],
    compounds: dict[str, list[tuple[int, int]]] | None = None,
    community: str = COMMUNITY,
) -> gpd.GeoDataFrame:
    """A plan's cells: one per character of ``plan`` (rows north to south)."""
    compounds = COMPOUNDS if compounds is None else compounds
    atom_of = {rc: name for name, cells in compounds.items() for rc in cells}
    n_rows, n_cols = len(plan), len(plan[0])
    rows = []
    for r in range(n_rows):
        for c in range(n_cols):
            residents = 100 + 10 * (r * n_cols + c)
            rows.append(
                {
                    "cell_id": f"r{r}c{c}",
                    "community_code": community,
                    "atom_id": atom_of.get((r, c), f"A{r}{c}"),
                    "residents": residents,
                    "households": residents // 3,
                    "grid": code(plan[r][c], community),
                    "geometry": to_lonlat(cell_box(r, c, n_rows)),
                }
            )
    cells = gpd.GeoDataFrame(rows, crs=4326).set_index("cell_id")
    for column in ("residents", "households"):
        cells[column] = cells[column].astype("Int64")
    return cells


@pytest.fixture
def cells() -> gpd.GeoDataFrame:
    return lattice(PLAN)


def grids_of(cells: gpd.GeoDataFrame) -> dict[str, list[str]]:
    return {g: sorted(part.index) for g, part in cells.groupby("grid")}


def residents_of(cells: gpd.GeoDataFrame) -> dict[str, int]:
    return {g: int(v) for g, v in cells.groupby("grid")["residents"].sum().items()}


def metric(geoms: object) -> np.ndarray:
    values = np.asarray(geoms, dtype=object)
    return shapely.transform(values, lambda x, y: TO_METRIC.transform(x, y), interleaved=False)


def assert_valid_plan(before: gpd.GeoDataFrame, result: EditResult) -> None:
    """The new plan tiles exactly what the old one did: contiguous grids, atoms whole, codes ok."""
    after = result.cells
    assert list(after.index) == list(before.index)
    assert after.crs == before.crs
    assert after.drop(columns="grid").equals(before.drop(columns="grid"))
    # atoms whole
    assert (after.groupby("atom_id")["grid"].nunique() == 1).all()
    # grids: one Polygon each, tiling the union of the cells, no overlaps, coverage valid
    grids = result.grids
    assert sorted(grids["code"]) == sorted(after["grid"].unique())
    geoms = metric(grids.geometry.values)
    assert (shapely.get_type_id(geoms) == 3).all(), "a grid is not one polygon"
    community = shapely.coverage_union_all(metric(before.geometry.values))
    union = shapely.union_all(geoms)
    assert abs(union.area - community.area) <= 1e-6 * community.area
    assert shapely.symmetric_difference(union, community).area <= 1e-6 * community.area
    assert abs(shapely.area(geoms).sum() - union.area) <= 1e-6 * community.area
    assert bool(shapely.coverage_is_valid(geoms))
    # contiguity on the cells' own graph too
    adj = adjacency(metric(after.geometry.values))
    for g in grids["code"]:
        assert connected_parts(adj, (after["grid"] == g).to_numpy()).max() == 0, g
    # codes: 15 digits in the community, unique; crosswalk adds up
    assert all(len(c) == 15 and c.startswith(COMMUNITY) for c in grids["code"])
    assert grids["code"].is_unique
    assert int(result.crosswalk["residents"].sum()) == int(before["residents"].sum())
    assert int(grids["residents"].sum()) == int(before["residents"].sum())
    assert (grids["compactness"] > 0).all()
    json.dumps(result.to_dict())


# -- move ------------------------------------------------------------------------------------


def test_move_cell_to_a_neighbour(cells: gpd.GeoDataFrame) -> None:
    before = residents_of(cells)
    moved = int(cells.loc["r0c1", "residents"])
    result = move_cells(cells, ["r0c1"], G(2))
    assert_valid_plan(cells, result)
    assert result.cells.loc["r0c1", "grid"] == G(2)
    after = residents_of(result.cells)
    assert after[G(1)] == before[G(1)] - moved
    assert after[G(2)] == before[G(2)] + moved
    assert after[G(3)] == before[G(3)] and after[G(4)] == before[G(4)]
    # both grids keep their codes: each keeps most of its residents
    assert sorted(result.grids["code"]) == [G(1), G(2), G(3), G(4)]
    assert result.diff.residents_moved == moved
    assert result.diff.households_moved == int(cells.loc["r0c1", "households"])
    assert result.diff.flows == ((G(1), G(2), moved, moved // 3, 1),)
    assert result.diff.added == () and result.diff.removed == () and result.diff.recoded == ()
    walk = result.crosswalk.set_index(["old_code", "new_code"])["residents"]
    assert walk[(G(1), G(2))] == moved
    assert result.changed == [
        f"atom A01 (1 cell, {moved} residents, {moved // 3} households) moves from {G(1)} to {G(2)}"
    ]


def test_moving_one_cell_of_a_compound_moves_the_compound(cells: gpd.GeoDataFrame) -> None:
    result = move_cells(cells, ["r1c2"], G(1))
    assert_valid_plan(cells, result)
    assert result.cells.loc[["r1c2", "r1c3"], "grid"].tolist() == [G(1), G(1)]
    assert "r1c3" in result.changed[0] and "never split" in result.changed[0]
    assert result.diff.atoms_moved == 1 and result.diff.cells_moved == 2


def test_move_atoms(cells: gpd.GeoDataFrame) -> None:
    result = move_atoms(cells, ["K2"], G(4))
    assert_valid_plan(cells, result)
    assert result.cells.loc[["r2c4", "r2c5"], "grid"].tolist() == [G(4), G(4)]
    grids = grids_of(result.cells)
    assert grids[G(3)] == ["r0c4", "r0c5", "r1c4", "r1c5"]


@pytest.mark.parametrize(
    ("ids", "to", "reason", "message"),
    [
        (["r0c0"], 3, "not_adjacent", "shares no boundary"),
        # taking row 1 out of grid 1 cuts it in two
        (["r1c0", "r1c1"], 2, "disconnects", f"grid {G(1)} would fall into 2 pieces"),
        (["r0c2", "r0c3", "r1c2"], 1, "empties", f"grid {G(2)} would be left empty"),
        # two separate groups, only one touching the target: the target would be in pieces
        (["r0c1", "r3c1"], 2, "disconnects", f"grid {G(2)} would fall into 2 pieces"),
        (["r0c1"], 1, "no_change", "already"),
        (["nope"], 1, "unknown_cell", "nope"),
        (["r0c1"], 9, "unknown_grid", G(9)),
    ],
)
def test_move_refused(
    cells: gpd.GeoDataFrame, ids: list[str], to: int, reason: str, message: str
) -> None:
    with pytest.raises(EditRefused) as info:
        move_cells(cells, ids, G(to))
    assert info.value.reason == reason
    assert message in str(info.value)
    assert isinstance(info.value, InputError)


def test_move_refused_across_communities() -> None:
    cells = lattice(PLAN)
    east = cells["grid"] == G(3)
    cells.loc[east, "community_code"] = "500108003003"
    cells.loc[east, "grid"] = code(1, "500108003003")
    with pytest.raises(EditRefused) as info:
        move_cells(cells, ["r0c3"], code(1, "500108003003"))
    assert info.value.reason == "other_community"


def test_move_unknown_atom(cells: gpd.GeoDataFrame) -> None:
    with pytest.raises(EditRefused, match="no atom X9") as info:
        move_atoms(cells, ["X9"], G(1))
    assert info.value.reason == "unknown_atom"


def test_given_adjacency_is_used_and_checked(cells: gpd.GeoDataFrame) -> None:
    adj = adjacency(metric(cells.geometry.values))
    result = move_cells(cells, ["r0c1"], G(2), adjacency=adj, metric=32648)
    assert result.cells.loc["r0c1", "grid"] == G(2)
    with pytest.raises(InputError, match="adjacency is over"):
        move_cells(cells.iloc[:-1], ["r0c1"], G(2), adjacency=adj)


def test_bad_cells_are_input_errors(cells: gpd.GeoDataFrame) -> None:
    with pytest.raises(InputError, match="missing column"):
        move_cells(cells.drop(columns="atom_id"), ["r0c1"], G(2))
    with pytest.raises(InputError, match="EPSG:4326"):
        move_cells(cells.to_crs(32648), ["r0c1"], G(2))


def test_a_move_that_takes_most_of_a_grid_follows_stable_codes(cells: gpd.GeoDataFrame) -> None:
    # grid 2 holds r0c2, r0c3 and K1; moving K1 (most of its residents) to grid 4 leaves a
    # remnant with a minority of grid 2's residents: stable_codes gives it the next number.
    result = move_atoms(cells, ["K1"], G(4))
    assert_valid_plan(cells, result)
    assert sorted(result.grids["code"]) == [G(1), G(3), G(4), G(5)]
    assert result.cells.loc[["r0c2", "r0c3"], "grid"].tolist() == [G(5), G(5)]
    assert f"new grid {G(5)}" in result.changed and f"code {G(2)} retired" in result.changed


# -- merge -----------------------------------------------------------------------------------


def test_merge_keeps_the_code_of_the_bigger_grid(cells: gpd.GeoDataFrame) -> None:
    people = residents_of(cells)
    assert people[G(1)] > people[G(2)]
    result = merge_grids(cells, G(2), G(1))
    assert_valid_plan(cells, result)
    assert sorted(result.grids["code"]) == [G(1), G(3), G(4)]
    assert residents_of(result.cells)[G(1)] == people[G(1)] + people[G(2)]
    assert result.diff.removed == (G(2),)
    assert result.diff.residents_moved == people[G(2)]
    assert f"code {G(2)} retired" in result.changed


@pytest.mark.parametrize(
    ("a", "b", "reason"),
    [(1, 3, "not_adjacent"), (1, 1, "same_grid"), (1, 7, "unknown_grid")],
)
def test_merge_refused(cells: gpd.GeoDataFrame, a: int, b: int, reason: str) -> None:
    with pytest.raises(EditRefused) as info:
        merge_grids(cells, G(a), G(b))
    assert info.value.reason == reason


# -- split along a line ----------------------------------------------------------------------


def line_lonlat(*points: tuple[float, float]) -> shapely.LineString:
    """A line drawn in lattice metres (x from the west edge, y from the south edge)."""
    return to_lonlat(shapely.LineString([(X0 + x, Y0 + y) for x, y in points]))


def test_split_along_a_line_snaps_to_cell_borders(cells: gpd.GeoDataFrame) -> None:
    # grid 1 is columns 0-1, rows 0-3; a west→east line, not quite straight, stopping short
    # of the grid's east edge, runs through r2 (y 100..200) at about y 170: r2 lies 70% south.
    line = line_lonlat((-50, 172), (60, 168), (150, 170))
    result = split_grid(cells, G(1), line=line)
    assert_valid_plan(cells, result)
    grids = grids_of(result.cells)
    north = ["r0c0", "r0c1", "r1c0", "r1c1"]
    south = ["r2c0", "r2c1", "r3c0", "r3c1"]
    # the south half holds more residents (later rows weigh more), so it keeps the code
    assert grids[G(1)] == south
    assert grids[G(5)] == north
    assert result.diff.added == (G(5),)
    assert result.diff.residents_moved == int(cells.loc[north, "residents"].sum())


def test_split_line_keeps_a_compound_whole(cells: gpd.GeoDataFrame) -> None:
    # grid 3 (columns 4-5, rows 0-2); a north→south line 10 m into column 5 cuts K2 = r2c4+r2c5,
    # 110 m of its 200 m width west of the line: all of K2 goes west.
    line = line_lonlat((510, 450), (510, -50))
    result = split_grid(cells, G(3), line=line)
    assert_valid_plan(cells, result)
    after = result.cells["grid"]
    assert after["r2c4"] == after["r2c5"]
    west = after[["r0c4", "r1c4", "r2c4"]].unique()
    east = after[["r0c5", "r1c5"]].unique()
    assert len(west) == 1 and len(east) == 1 and west[0] != east[0]


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        # far east of grid 1: every atom on one side
        (((550, -50), (550, 450)), "empty_side"),
        # a tongue from the west over rows 1-2: rows 0 and 3 are the other side, in 2 pieces
        (((-50, 290), (250, 290), (250, 110), (-50, 110)), "disconnects"),
        # extended past its ends, the line crosses itself
        (((0, 0), (150, 300), (150, 100), (0, 300)), "bad_line"),
    ],
)
def test_split_line_refused(
    cells: gpd.GeoDataFrame, line: tuple[tuple[float, float], ...], reason: str
) -> None:
    with pytest.raises(EditRefused) as info:
        split_grid(cells, G(1), line=line_lonlat(*line))
    assert info.value.reason == reason
    assert G(1) in str(info.value) or reason == "bad_line"


def test_drawn_shapes_must_be_lon_lat(cells: gpd.GeoDataFrame) -> None:
    with pytest.raises(InputError, match="lon/lat"):
        split_grid(cells, G(1), line=shapely.LineString([(X0, Y0), (X0 + 100, Y0 + 500)]))
    with pytest.raises(InputError, match="lon/lat"):
        reshape_grid(cells, G(1), box(X0, Y0, X0 + 100, Y0 + 100))
    with pytest.raises(InputError, match="LineString"):
        split_grid(cells, G(1), line=box(0, 0, 1, 1))  # type: ignore[arg-type]


def test_split_of_a_single_atom_is_refused() -> None:
    cells = lattice(["12"], compounds={})
    with pytest.raises(EditRefused) as info:
        split_grid(cells, G(1), line=line_lonlat((50, -10), (50, 110)))
    assert info.value.reason == "single_atom"


def test_split_automatic_balances(cells: gpd.GeoDataFrame) -> None:
    result = split_grid(cells, G(1), seed=3)
    assert_valid_plan(cells, result)
    people = residents_of(result.cells)
    total = residents_of(cells)[G(1)]
    assert set(people) == {G(1), G(2), G(3), G(4), G(5)}
    assert people[G(1)] + people[G(5)] == total
    assert abs(people[G(1)] - people[G(5)]) <= 0.25 * total
    again = split_grid(cells, G(1), seed=3)
    assert again.cells["grid"].equals(result.cells["grid"])


# -- reshape ---------------------------------------------------------------------------------


def polygon_lonlat(*boxes: tuple[float, float, float, float]) -> shapely.Geometry:
    return to_lonlat(
        shapely.union_all([box(X0 + a, Y0 + b, X0 + c, Y0 + d) for a, b, c, d in boxes])
    )


def test_reshape_takes_cells_mostly_inside_and_gives_away_the_rest(
    cells: gpd.GeoDataFrame,
) -> None:
    # grid 2 = r0c2, r0c3 and K1 (r1c2+r1c3). The new shape leaves out r0c2 (5% inside), keeps
    # K1 (52.5% inside) and takes 60% of r0c4 from grid 3.
    shape = polygon_lonlat((295, 300, 460, 405), (295, 195, 400, 300))
    result = reshape_grid(cells, G(2), shape)
    assert_valid_plan(cells, result)
    grids = grids_of(result.cells)
    assert grids[G(2)] == ["r0c3", "r0c4", "r1c2", "r1c3"]
    # r0c2 touches grid 1 only (its other neighbours are grid 2's): it goes there
    assert result.cells.loc["r0c2", "grid"] == G(1)
    assert any("A02" in line and f"leaves {G(2)} for {G(1)}" in line for line in result.changed)
    assert any("A04" in line and f"joins {G(2)} from {G(3)}" in line for line in result.changed)
    assert result.diff.cells_moved == 2


def test_reshape_gives_atoms_to_the_longest_shared_boundary(cells: gpd.GeoDataFrame) -> None:
    # grid 2 redrawn as row 0 from column 2 to 60% of column 4: K1 leaves. K1 shares 200 m with
    # grid 4 (r2c2, r2c3) and 100 m with grids 1 and 3: it goes to grid 4. The reshaped grid
    # keeps only 40% of its residents, so by stable_codes it takes a new number.
    result = reshape_grid(cells, G(2), polygon_lonlat((195, 300, 460, 405)))
    assert_valid_plan(cells, result)
    assert result.cells.loc[["r1c2", "r1c3"], "grid"].tolist() == [G(4), G(4)]
    assert grids_of(result.cells)[G(5)] == ["r0c2", "r0c3", "r0c4"]
    assert any("K1" in line and f"leaves {G(2)} for {G(4)}" in line for line in result.changed)


@pytest.mark.parametrize(
    ("target", "boxes", "reason", "message"),
    [
        # grid 2 takes row 1 of grid 3 (r1c4, r1c5): grid 3 falls into r0 and r2 pieces
        (2, [(200, 300, 400, 400), (200, 200, 600, 300)], "disconnects", f"grid {G(3)} would"),
        # grid 1 reduced to its first and last rows: grid 1 itself in 2 pieces
        (1, [(0, 300, 200, 400), (0, 0, 200, 100)], "disconnects", f"grid {G(1)} would"),
        # a polygon away from grid 2: it would be left empty
        (2, [(0, 0, 40, 40)], "empties", f"grid {G(2)} would be left empty"),
        # a polygon that is exactly grid 2 changes nothing
        (2, [(200, 200, 400, 400)], "no_change", "changes nothing"),
    ],
)
def test_reshape_refused(
    cells: gpd.GeoDataFrame,
    target: int,
    boxes: list[tuple[float, float, float, float]],
    reason: str,
    message: str,
) -> None:
    with pytest.raises(EditRefused) as info:
        reshape_grid(cells, G(target), polygon_lonlat(*boxes))
    assert info.value.reason == reason
    assert message in str(info.value)


# -- rebalance -------------------------------------------------------------------------------


def test_rebalance_evens_out_neighbouring_grids(cells: gpd.GeoDataFrame) -> None:
    # make grid 1 heavy: 5 cells of grid 2 and 3 light
    heavy = lattice(["111233", "111233", "114433", "114444"], {"K2": COMPOUNDS["K2"]})
    people = residents_of(heavy)
    result = rebalance(heavy, [G(1), G(2)], seed=1)
    assert_valid_plan(heavy, result)
    after = residents_of(result.cells)
    total = people[G(1)] + people[G(2)]
    codes = [g for g in after if g not in (G(3), G(4))]
    assert len(codes) == 2 and sum(after[g] for g in codes) == total
    spread_before = abs(people[G(1)] - people[G(2)])
    spread_after = abs(after[codes[0]] - after[codes[1]])
    assert spread_after < spread_before
    assert after[G(3)] == people[G(3)] and after[G(4)] == people[G(4)]


def test_rebalance_refused(cells: gpd.GeoDataFrame) -> None:
    with pytest.raises(EditRefused) as info:
        rebalance(cells, [G(1), G(3)])
    assert info.value.reason == "not_adjacent"
    with pytest.raises(EditRefused) as info:
        rebalance(cells, [G(1)])
    assert info.value.reason == "too_few_grids"


# -- diff ------------------------------------------------------------------------------------


def test_a_pure_recode_moves_nobody(cells: gpd.GeoDataFrame) -> None:
    swap = {G(1): G(2), G(2): G(3), G(3): G(1), G(4): G(4)}
    recoded = cells.assign(grid=cells["grid"].map(swap))
    diff = diff_plans(cells, recoded)
    assert diff.residents_moved == 0 and diff.cells_moved == 0 and diff.flows == ()
    assert diff.recoded == ((G(1), G(2)), (G(2), G(3)), (G(3), G(1)))
    assert diff.added == () and diff.removed == ()
    assert not diff.unchanged
    assert diff_plans(cells, cells).unchanged


def test_diff_counts_and_buildings(cells: gpd.GeoDataFrame) -> None:
    result = move_atoms(cells, ["K2"], G(4))
    moved = cells.loc[["r2c4", "r2c5"]]
    building_atom = pd.Series({"B1": "K2", "B2": "A00", "B3": None, "B4": "K2"})
    diff = diff_plans(cells, result.cells, building_atom=building_atom)
    assert diff.residents_moved == int(moved["residents"].sum())
    assert diff.households_moved == int(moved["households"].sum())
    assert diff.cells_moved == 2 and diff.atoms_moved == 1
    assert diff.buildings_moved == ("B1", "B4")
    # the same from an atom_id column, and from footprints placed by the R-tree
    frame = pd.DataFrame({"atom_id": building_atom})
    assert diff_plans(cells, result.cells, buildings=frame).buildings_moved == ("B1", "B4")
    centres = [
        shapely.centroid(cells.geometry[cell]).buffer(1e-5) for cell in ("r2c4", "r0c0", "r2c5")
    ]
    footprints = gpd.GeoDataFrame(geometry=centres, index=["B1", "B2", "B4"], crs=4326)
    assert diff_plans(cells, result.cells, buildings=footprints).buildings_moved == ("B1", "B4")
    as_json = json.loads(json.dumps(diff.to_dict()))
    assert as_json["flows"] == [
        {
            "from": G(3),
            "to": G(4),
            "residents": diff.residents_moved,
            "households": diff.households_moved,
            "cells": 2,
        }
    ]


def test_diff_needs_the_same_canvas(cells: gpd.GeoDataFrame) -> None:
    with pytest.raises(InputError, match="different canvases"):
        diff_plans(cells, cells.iloc[1:])


# -- random sequences of edits ---------------------------------------------------------------


@st.composite
def random_plans(draw: st.DrawFn) -> gpd.GeoDataFrame:
    """A random lattice with some 2-cell compounds, grown from seeds into contiguous grids."""
    n_rows = draw(st.integers(3, 5))
    n_cols = draw(st.integers(3, 6))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    compounds: dict[str, list[tuple[int, int]]] = {}
    used: set[tuple[int, int]] = set()
    for k in range(int(rng.integers(0, 4))):
        r, c = int(rng.integers(n_rows)), int(rng.integers(n_cols - 1))
        if (r, c) not in used and (r, c + 1) not in used:
            compounds[f"K{k}"] = [(r, c), (r, c + 1)]
            used |= {(r, c), (r, c + 1)}
    atom_of = {rc: name for name, rcs in compounds.items() for rc in rcs}
    atom = {(r, c): atom_of.get((r, c), f"A{r}{c}") for r in range(n_rows) for c in range(n_cols)}
    atoms = sorted(set(atom.values()))
    members = {a: [rc for rc, name in atom.items() if name == a] for a in atoms}

    def neighbours(a: str) -> set[str]:
        out = set()
        for r, c in members[a]:
            for rr, cc in ((r + 1, c), (r - 1, c), (r, c + 1), (r, c - 1)):
                if (rr, cc) in atom and atom[(rr, cc)] != a:
                    out.add(atom[(rr, cc)])
        return out

    k = draw(st.integers(2, min(4, len(atoms))))
    seeds = [atoms[i] for i in rng.choice(len(atoms), size=k, replace=False)]
    grid = {a: i + 1 for i, a in enumerate(seeds)}
    while len(grid) < len(atoms):
        frontier = sorted({(b, grid[a]) for a in grid for b in neighbours(a) if b not in grid})
        b, g = frontier[int(rng.integers(len(frontier)))]
        grid[b] = g
    plan = ["".join(str(grid[atom[(r, c)]]) for c in range(n_cols)) for r in range(n_rows)]
    return lattice(plan, compounds)


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(plan=random_plans(), data=st.data())
def test_random_edits_keep_the_plan_valid(plan: gpd.GeoDataFrame, data: st.DataObject) -> None:
    cells = plan
    bounds = shapely.total_bounds(metric(cells.geometry.values))
    for _ in range(data.draw(st.integers(1, 6))):
        kind = data.draw(st.sampled_from(["move", "merge", "split_line", "split_auto"]))
        grids = sorted(cells["grid"].unique())
        try:
            if kind == "move":
                cell = data.draw(st.sampled_from(sorted(cells.index)))
                r, c = (int(v) for v in cell[1:].split("c"))
                around = [f"r{r + 1}c{c}", f"r{r - 1}c{c}", f"r{r}c{c + 1}", f"r{r}c{c - 1}"]
                near = sorted(
                    set(cells["grid"].reindex(around).dropna()) - {cells.at[cell, "grid"]}
                )
                # mostly to a neighbouring grid (the interesting case), sometimes anywhere
                anywhere = data.draw(st.booleans()) and data.draw(st.booleans())
                target = data.draw(st.sampled_from(grids if anywhere or not near else near))
                result = move_cells(cells, [cell], target)
            elif kind == "merge":
                if len(grids) < 2:
                    continue
                a, b = data.draw(st.permutations(grids).map(lambda g: g[:2]))
                result = merge_grids(cells, a, b)
            elif kind == "split_line":
                g = data.draw(st.sampled_from(grids))
                fx = data.draw(st.tuples(st.floats(0, 1), st.floats(0, 1)))
                fy = data.draw(st.tuples(st.floats(0, 1), st.floats(0, 1)))
                xs = bounds[0] + np.array(fx) * (bounds[2] - bounds[0])
                ys = bounds[1] + np.array(fy) * (bounds[3] - bounds[1])
                if np.hypot(xs[1] - xs[0], ys[1] - ys[0]) < 1:
                    continue
                line = to_lonlat(shapely.LineString(list(zip(xs, ys, strict=True))))
                result = split_grid(cells, g, line=line)
            else:
                g = data.draw(st.sampled_from(grids))
                result = split_grid(cells, g, seed=data.draw(st.integers(0, 3)))
        except EditRefused as refused:
            assert refused.reason in {
                "not_adjacent",
                "disconnects",
                "empties",
                "no_change",
                "same_grid",
                "empty_side",
                "single_atom",
                "bad_line",
            }
            continue
        assert_valid_plan(cells, result)
        assert int(result.diff.residents_moved) <= int(cells["residents"].sum())
        cells = result.cells
