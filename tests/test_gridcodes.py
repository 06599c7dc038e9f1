"""Grid codes: reading-order numbering, the two layouts, stability across edits."""

from __future__ import annotations

import geopandas as gpd
import pandas as pd
import pytest
import shapely

from gridmap.engine.gridcodes import SCHEMES, crosswalk, number_grids, stable_codes
from gridmap.errors import InputError

COMMUNITY = "500108003002"


def boxes(cells: list[tuple[float, float]], community: str = COMMUNITY) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {"community_code": [community] * len(cells)},
        geometry=[shapely.box(x, y, x + 1, y + 1) for x, y in cells],
    )


def test_numbered_west_to_east_then_north_to_south() -> None:
    grid = boxes([(x, y) for y in (0, 1) for x in (0, 1, 2)])  # bottom row first
    codes = number_grids(grid)
    assert list(codes) == [f"{COMMUNITY}{n:03d}" for n in (4, 5, 6, 1, 2, 3)]
    assert all(len(c) == 15 for c in codes)


def test_staggered_rows_still_read_as_rows() -> None:
    grid = boxes([(0, 0), (1, 0.3), (2, -0.2), (0, 1.1), (1, 0.9)])
    seq = [int(c[-3:]) for c in number_grids(grid)]
    assert seq == [3, 4, 5, 1, 2]


def test_each_community_numbers_from_one() -> None:
    grid = pd.concat([boxes([(0, 0), (1, 0)]), boxes([(5, 0)], "500108003003")])
    assert list(number_grids(grid.reset_index(drop=True))) == [
        "500108003002001",
        "500108003002002",
        "500108003003001",
    ]


def test_cjt349_layout_is_20_digits() -> None:
    codes = number_grids(boxes([(0, 0), (1, 0)]), scheme="cjt349")
    assert list(codes) == ["010000500108003002" + "01", "010000500108003002" + "02"]
    assert SCHEMES["cjt349"].sequence_of(codes.iloc[1]) == 2


def test_too_many_grids_and_unknown_scheme_are_refused() -> None:
    with pytest.raises(InputError, match="at most 99"):
        number_grids(boxes([(x, 0) for x in range(100)]), scheme="cjt349")
    with pytest.raises(InputError, match="db11, cjt349"):
        number_grids(boxes([(0, 0)]), scheme="db12")


def test_split_keeps_the_code_where_most_residents_stay() -> None:
    # Cells a, b were grid 001, cells c, d grid 002. The edit splits 002: c (1,800 of its
    # 3,000 residents) keeps code 002, d becomes a new grid with the next free number, 003.
    old = pd.Series(
        [f"{COMMUNITY}001", f"{COMMUNITY}001", f"{COMMUNITY}002", f"{COMMUNITY}002"],
        index=list("abcd"),
    )
    new = pd.Series([0, 0, 1, 2], index=list("abcd"))
    weights = pd.Series([1000, 1000, 1800, 1200], index=list("abcd"))
    new_grids = boxes([(0, 0), (1, 0), (2, 0)])
    codes = stable_codes(old, new, weights, new_grids)
    assert list(codes) == [f"{COMMUNITY}001", f"{COMMUNITY}002", f"{COMMUNITY}003"]


def test_merge_keeps_the_larger_code_and_retires_the_other() -> None:
    old = pd.Series([f"{COMMUNITY}001", f"{COMMUNITY}002", f"{COMMUNITY}003"], index=list("abc"))
    new = pd.Series([0, 0, 1], index=list("abc"))
    weights = pd.Series([1000, 2500, 3000], index=list("abc"))
    codes = stable_codes(old, new, weights, boxes([(0, 0), (1, 0)]))
    assert list(codes) == [f"{COMMUNITY}002", f"{COMMUNITY}003"]
    # a later new grid does not reuse the retired 001
    again = stable_codes(
        pd.Series([codes[0], codes[0], codes[1]], index=list("abc")),
        pd.Series([0, 1, 2], index=list("abc")),
        weights,
        boxes([(0, 0), (1, 0), (2, 0)]),
    )
    assert set(again) == {f"{COMMUNITY}002", f"{COMMUNITY}003", f"{COMMUNITY}004"}


def test_crosswalk_accounts_for_every_resident() -> None:
    old = pd.Series(["A", "A", "B", None])
    new = pd.Series(["A", "C", "C", "C"])
    table = crosswalk(old, new, pd.Series([10, 5, 7, 3]))
    assert table["residents"].sum() == 25
    assert table[table["old_code"].isna()]["residents"].tolist() == [3]
