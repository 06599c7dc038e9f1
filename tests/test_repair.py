"""Adopting a hand-drawn grid layer onto the canvas (gridmap.engine.repair)."""

from __future__ import annotations

import json

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
import pytest
import shapely
from shapely import box

from gridmap.engine.graph import adjacency, connected_parts
from gridmap.engine.repair import REASONS, repair_onto_canvas
from gridmap.errors import InputError

# A canvas of 6 × 4 cells of 100 m in UTM 48N near 106.55E 29.55N, stored in lon/lat. Here
# rows count from the south: cell "r{row}c{col}" is box(100 col, 100 row, …) in lattice metres.
# K = a compound over r3c1 + r3c2; every other cell is its own atom.
X0, Y0, SIDE = 650_000.0, 3_270_000.0, 100.0
N_ROWS, N_COLS = 4, 6
COMMUNITY = "500108003002"
UTM = pyproj.CRS.from_epsg(32648)
TO_LONLAT = pyproj.Transformer.from_crs(UTM, 4326, always_xy=True)
TO_METRIC = pyproj.Transformer.from_crs(4326, UTM, always_xy=True)


def to_lonlat(geom: shapely.Geometry) -> shapely.Geometry:
    return shapely.transform(geom, lambda x, y: TO_LONLAT.transform(x, y), interleaved=False)


def metric(geoms: object) -> np.ndarray:
    values = np.asarray(geoms, dtype=object)
    return shapely.transform(values, lambda x, y: TO_METRIC.transform(x, y), interleaved=False)


def shape(*boxes: tuple[float, float, float, float]) -> shapely.Geometry:
    """A polygon in lattice metres (x from the west edge, y from the south edge), in lon/lat."""
    return to_lonlat(
        shapely.union_all([box(X0 + a, Y0 + b, X0 + c, Y0 + d) for a, b, c, d in boxes])
    )


def canvas(community: str = COMMUNITY, x_offset: float = 0.0) -> gpd.GeoDataFrame:
    rows = []
    for r in range(N_ROWS):
        for c in range(N_COLS):
            residents = 50 + 5 * (r * N_COLS + c)
            x, y = X0 + x_offset + c * SIDE, Y0 + r * SIDE
            rows.append(
                {
                    "cell_id": f"r{r}c{c}",
                    "community_code": community,
                    "atom_id": "K" if (r, c) in {(3, 1), (3, 2)} else f"A{r}{c}",
                    "residents": residents,
                    "households": residents // 3,
                    "geometry": to_lonlat(box(x, y, x + SIDE, y + SIDE)),
                }
            )
    cells = gpd.GeoDataFrame(rows, crs=4326).set_index("cell_id")
    cells["residents"] = cells["residents"].astype("Int64")
    cells["households"] = cells["households"].astype("Int64")
    return cells


# The legacy layer, in lattice metres:
#   A  columns 0-1 and 20 m beyond the west, south and north edges (parts outside), plus a
#      3 m strip over column 2 in rows 0-1 (an overlap with B) and 30% of r3c2 (so K, drawn
#      partly in A and partly in C, goes to A by majority);
#   B  columns 2-3, rows 0 to y=250, except 80% of r0c2, which is drawn into D;
#   C  columns 2-3 from x=230 and y=250.5 up: a 0.5 m sliver gap along y=250 and a 30 m gap;
#   D  columns 4-5 with a hole over r3c5 (a gap), plus the detached 80% of r0c2;
#   S  a 2 m sliver along the south edge of columns 4-5 and outside it: holds no atom.
HAND = gpd.GeoDataFrame(
    {"code": ["A", "B", "C", "D", "S"]},
    geometry=[
        shape((-20, -20, 200, 420), (200, 0, 203, 200), (200, 300, 230, 420)),
        to_lonlat(
            shapely.difference(
                box(X0 + 200, Y0, X0 + 400, Y0 + 250), box(X0 + 220, Y0, X0 + 300, Y0 + 100)
            )
        ),
        shape((230, 250.5, 400, 400)),
        shape((400, 0, 600, 300), (400, 300, 500, 400), (220, 0, 300, 100)),
        shape((400, -1, 600, 1)),
    ],
    crs=4326,
)


def assert_tiles(result_cells: gpd.GeoDataFrame, grids: gpd.GeoDataFrame) -> None:
    """The repaired grids tile the community: same union, no overlap, a valid coverage."""
    community = shapely.coverage_union_all(metric(result_cells.geometry.values))
    geoms = metric(grids.geometry.values)
    union = shapely.union_all(geoms)
    assert abs(union.area - community.area) <= 1e-6 * community.area
    assert shapely.symmetric_difference(union, community).area <= 1e-6 * community.area
    assert abs(shapely.area(geoms).sum() - community.area) <= 1e-6 * community.area
    assert bool(shapely.coverage_is_valid(geoms))
    by_atom = result_cells.groupby(["community_code", "atom_id"])["grid"].nunique()
    assert (by_atom == 1).all()
    adj = adjacency(metric(result_cells.geometry.values))
    for code in grids["code"]:
        members = (result_cells["grid"] == code).to_numpy()
        assert connected_parts(adj, members).max() == 0, f"grid {code} is in pieces"


def test_the_hand_drawn_layer_is_broken() -> None:
    geoms = metric(HAND.geometry.values)
    community = shapely.coverage_union_all(metric(canvas().geometry.values))
    assert shapely.area(shapely.intersection(geoms[0], geoms[1])) > 100  # overlap
    assert shapely.difference(community, shapely.union_all(geoms)).area > 1000  # gaps
    assert shapely.difference(shapely.union_all(geoms), community).area > 1000  # outside
    assert shapely.get_num_geometries(geoms[3]) == 2  # D is multipart


def test_repair_adopts_the_layer_and_reports_every_change() -> None:
    cells = canvas()
    result = repair_onto_canvas(HAND, cells)
    assert_tiles(result.cells, result.grids)
    grid = result.cells["grid"]
    assert sorted(result.grids["code"]) == ["A", "B", "C", "D"]
    assert result.dropped == ("S",)
    assert int(result.grids["residents"].sum()) == int(cells["residents"].sum())

    changes = result.changes.set_index("cell_id")
    assert set(changes["reason"]) <= set(REASONS)
    assert list(result.changes.columns) == ["cell_id", "atom_id", "from", "to", "reason", "area_m2"]
    assert (changes["to"] == grid[changes.index]).all()
    assert (changes["area_m2"] > 0).all()

    expected = {
        # the detached piece of D goes to B, its longest neighbour (100 m with r0c3 and r1c2)
        "r0c2": ("D,B,A", "B", "reconnected"),
        # the 3 m strip where A overlaps B
        "r1c2": ("B,A", "B", "overlap_resolved"),
        # K: r3c1 is all A, r3c2 is 30% A + 70% C, so K (13,000 m² A) goes to A by majority
        "r3c2": ("C,A", "A", "majority"),
        # the hole in D is filled from its neighbours (both D)
        "r3c5": (None, "D", "gap_filled"),
        # the 0.5 m sliver gap between B and C, and the 30 m gap west of C
        "r2c2": ("B,C", "B", "gap_filled"),
        "r2c3": ("B,C", "B", "gap_filled"),
        # S overlaps D along the south edge
        "r0c4": ("D,S", "D", "overlap_resolved"),
        "r0c5": ("D,S", "D", "overlap_resolved"),
    }
    for cell, (drawn, to, reason) in expected.items():
        row = changes.loc[cell]
        assert (row["from"] if pd.notna(row["from"]) else None, row["to"], row["reason"]) == (
            drawn,
            to,
            reason,
        ), cell
    assert changes.loc["r3c2", "atom_id"] == "K"
    assert grid["r3c1"] == grid["r3c2"] == "A"
    assert changes.loc["r3c5", "area_m2"] == pytest.approx(10_000, rel=1e-3)
    assert changes.loc["r3c2", "area_m2"] == pytest.approx(7_000, rel=1e-3)
    # cells drawn wholly inside one grid, and adopted into it, are not listed
    assert "r0c0" not in changes.index and "r1c5" not in changes.index
    assert len(changes) == len(expected)

    # independently: a cell is listed exactly when the drawing does not give it wholly and
    # only to the grid it now belongs to
    drawn = dict(zip(HAND["code"], metric(HAND.geometry.values), strict=True))
    cell_geoms = metric(cells.geometry.values)
    differs = set()
    for cell_id, geom in zip(cells.index, cell_geoms, strict=True):
        own = drawn[grid[cell_id]]
        others = shapely.union_all([g for c, g in drawn.items() if c != grid[cell_id]])
        alone = shapely.intersection(geom, shapely.difference(own, others)).area
        if geom.area - alone > 1e-6 * geom.area:
            differs.add(cell_id)
    assert differs == set(changes.index)

    notes = " | ".join(result.notes)
    assert "grid A:" in notes and "outside the canvas" in notes
    assert "grid S receives no cell" in notes
    assert "overlap" in notes and "no drawn grid" in notes
    report = json.loads(json.dumps(result.to_dict()))
    assert report["by_reason"]["reconnected"] == 1
    assert report["changed_cells"] == len(expected)


def test_cells_outside_every_grid_fill_from_their_edges_inward() -> None:
    # only the western column is drawn: the rest fills in, column by column, from the west
    cells = canvas()
    drawn = gpd.GeoDataFrame(
        {"code": ["W", "E"]},
        geometry=[shape((0, 0, 100, 400)), shape((500, 0, 600, 100))],
        crs=4326,
    )
    result = repair_onto_canvas(drawn, cells)
    assert_tiles(result.cells, result.grids)
    changes = result.changes.set_index("cell_id")
    assert (changes["reason"] == "gap_filled").all()
    assert len(changes) == N_ROWS * N_COLS - N_ROWS - 1
    assert changes["from"].isna().all()
    grid = result.cells["grid"]
    assert grid["r3c5"] in {"W", "E"} and grid["r1c5"] == "E" and grid["r3c1"] == "W"


def test_a_grid_spanning_two_communities_is_kept_in_one() -> None:
    west, east = canvas("500108003002"), canvas("500108003003", x_offset=600)
    east.index = "e" + east.index
    cells = pd.concat([west, east])
    drawn = gpd.GeoDataFrame(
        {"code": ["P", "Q"]},
        # P covers the west community and 100 m of the east one; Q the rest of the east
        geometry=[shape((0, 0, 700, 400)), shape((700, 0, 1200, 400))],
        crs=4326,
    )
    result = repair_onto_canvas(drawn, cells)
    assert_tiles(result.cells, result.grids)
    assert set(result.cells.loc[west.index, "grid"]) == {"P"}
    assert set(result.cells.loc[east.index, "grid"]) == {"Q"}
    assert any("community 500108003003" in note for note in result.notes)


def test_repair_input_errors() -> None:
    cells = canvas()
    with pytest.raises(InputError, match="no column 'code'"):
        repair_onto_canvas(HAND.rename(columns={"code": "name"}), cells)
    with pytest.raises(InputError, match="no CRS"):
        repair_onto_canvas(gpd.GeoDataFrame(HAND[["code"]], geometry=list(HAND.geometry)), cells)
    nowhere = gpd.GeoDataFrame({"code": ["Z"]}, geometry=[shape((2000, 0, 2100, 100))], crs=4326)
    with pytest.raises(InputError, match="no drawn grid reaches"):
        repair_onto_canvas(nowhere, cells)


def test_a_layer_in_another_crs_is_reprojected() -> None:
    cells = canvas()
    result = repair_onto_canvas(HAND.to_crs(UTM), cells)
    reference = repair_onto_canvas(HAND, cells)
    assert result.cells["grid"].equals(reference.cells["grid"])
