"""Nothing GEOS flags goes unreported: every polygon with invalid edges is named by an issue.

``shapely.coverage_invalid_edges`` is the reference: each polygon it flags (without a gap width,
and, when the area is the grids' own outline, with the checker's gap width) must appear in the
``grids`` of some issue of :func:`validate_coverage`. Checked on real coverages (Chongqing's
district boundaries, whose 1/1024° quantization makes real overlaps, gaps and unmatched
vertices) and on generated tilings with planted defects.
"""

from __future__ import annotations

import json
from pathlib import Path

import geopandas as gpd
import numpy as np
import pyproj
import pytest
import shapely
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from shapely import Polygon

from gridmap.engine.validate.check import validate_coverage

DISTRICTS = Path(__file__).resolve().parents[1] / "data" / "chongqing" / "districts.geojson"
SLIVER_M = 2.0  # validate_coverage's default sliver width, its GEOS gap width
_TO_UTM = pyproj.Transformer.from_crs(4326, 32648, always_xy=True)
_TO_LONLAT = pyproj.Transformer.from_crs(32648, 4326, always_xy=True)
X0, Y0 = _TO_UTM.transform(106.55, 29.55)


def flagged_by_geos(grids: gpd.GeoDataFrame, gap_width_m: float) -> set[str]:
    """Codes of the polygons GEOS finds invalid edges on (as the checker repairs them)."""
    geoms = shapely.make_valid(np.asarray(grids.geometry.array, dtype=object))
    latitude = float(np.mean(shapely.total_bounds(geoms)[1::2]))
    degrees = gap_width_m / (111_320.0 * np.cos(np.radians(latitude)))
    edges = shapely.coverage_invalid_edges(geoms, gap_width=degrees)
    flagged = ~(shapely.is_missing(edges) | shapely.is_empty(edges))
    return set(grids["code"].astype(str).to_numpy()[flagged])


def assert_geos_flags_are_named(grids: gpd.GeoDataFrame, boundary: object = None) -> None:
    report = validate_coverage(grids, boundary)
    named = {code for issue in report.issues for code in issue.grids}
    # With a given boundary the gap width is the gap rule's (the boundary may have narrow
    # inlets of its own); without one, the checker uses GEOS's gap width as well.
    widths = [0.0] if boundary is not None else [0.0, SLIVER_M]
    for width in widths:
        missed = flagged_by_geos(grids, width) - named
        assert not missed, f"GEOS (gap width {width} m) flags {sorted(missed)}; not reported"


@pytest.fixture(scope="module")
def districts() -> gpd.GeoDataFrame:
    frame = gpd.read_file(DISTRICTS)
    frame["code"] = frame["code"].fillna(frame["name"])  # two old county names have no code
    return frame


def test_chongqing_districts(districts: gpd.GeoDataFrame) -> None:
    assert len(flagged_by_geos(districts, 0.0)) > 30  # the real data's defects are many
    assert_geos_flags_are_named(districts)


@pytest.mark.parametrize("seed", ["500108", "500103", "500114", "500240"])
def test_chongqing_neighbourhoods(districts: gpd.GeoDataFrame, seed: str) -> None:
    # A district and its neighbours: an outline of its own, with gaps opening to the outside.
    (centre,) = districts.loc[districts["code"] == seed, "geometry"]
    near = districts[districts.intersects(centre.buffer(0.05))].reset_index(drop=True)
    assert_geos_flags_are_named(near)
    assert_geos_flags_are_named(near, shapely.union_all(shapely.make_valid(near.geometry.values)))


def _lonlat(geom: shapely.Geometry) -> shapely.Geometry:
    return shapely.transform(
        geom, lambda x, y: _TO_LONLAT.transform(x + X0, y + Y0), interleaved=False
    )


def test_a_chain_of_unmatched_edges_leading_to_a_gap_is_named() -> None:
    # P's top edge has vertices 1 mm above its neighbours' (a hairline, no reportable area);
    # the unmatched edges chain up the Q|R line to a sliver opening to the outside between
    # Q and R. P was named by no issue when the whole chain became that sliver's.
    p = Polygon(
        [(0, 0), (600, 0), (600, 150), (450, 150.001), (300, 150), (150, 150.001), (0, 150)]
    )
    q = Polygon([(0, 150), (300, 150), (300, 200), (300, 270), (299, 300), (0, 300)])
    r = Polygon([(300, 150), (600, 150), (600, 300), (300, 300)])
    grids = gpd.GeoDataFrame(
        {"code": ["P", "Q", "R"]}, geometry=[_lonlat(g) for g in (p, q, r)], crs=4326
    )
    assert flagged_by_geos(grids, 0.0) == {"P", "Q", "R"}
    assert_geos_flags_are_named(grids)
    kinds = {issue.kind for issue in validate_coverage(grids).issues}
    assert kinds == {"sliver", "mismatched_edge"}


# Generated coverages: a jittered lattice's Voronoi cells (metres around 106.55E, 29.55N),
# then defects planted in some cells: vertices moved, vertices added on an edge (a T-junction),
# a cell shrunk (gaps) or grown (overlaps), a cell removed (a hole or a bay).
DEFECTS = ("move_vertex", "add_vertex", "shrink", "grow", "remove")


def _plant(cell: Polygon, defect: str, size: float, rng: np.random.Generator) -> Polygon | None:
    ring = np.asarray(cell.exterior.coords)[:-1]
    k = int(rng.integers(len(ring)))
    if defect == "move_vertex":
        ring[k] += rng.normal(0.0, size, 2)
    elif defect == "add_vertex":
        a, b = ring[k], ring[(k + 1) % len(ring)]
        t = rng.uniform(0.2, 0.8)
        point = a + t * (b - a) + rng.normal(0.0, size * 0.01, 2)
        ring = np.insert(ring, k + 1, point, axis=0)
    elif defect in ("shrink", "grow"):
        return cell.buffer(-size if defect == "shrink" else size, join_style="mitre")
    else:
        return None
    made = Polygon(ring)
    return made if made.is_valid else shapely.make_valid(made)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.integers(0, 2**32 - 1),
    side=st.integers(2, 5),
    defects=st.lists(st.sampled_from(DEFECTS), min_size=1, max_size=4),
    size=st.sampled_from([0.001, 0.03, 0.5, 1.5, 4.0, 20.0]),
)
def test_generated_coverages_with_planted_defects(
    seed: int, side: int, defects: list[str], size: float
) -> None:
    rng = np.random.default_rng(seed)
    ij = np.stack(np.meshgrid(np.arange(side), np.arange(side)), axis=-1).reshape(-1, 2)
    xy = (ij + 0.5 + rng.uniform(-0.4, 0.4, ij.shape)) * 300.0
    area = shapely.box(0, 0, side * 300.0, side * 300.0)
    cells = shapely.get_parts(shapely.voronoi_polygons(shapely.multipoints(xy), extend_to=area))
    cells = list(shapely.intersection(cells, area))
    for defect in defects:
        k = int(rng.integers(len(cells)))
        if cells[k] is not None:
            cells[k] = _plant(cells[k], defect, size, rng)
    kept = [(f"G{k:02d}", c) for k, c in enumerate(cells) if c is not None and not c.is_empty]
    grids = gpd.GeoDataFrame(
        {"code": [code for code, _ in kept]},
        geometry=[_lonlat(c) for _, c in kept],
        crs=4326,
    )
    assert_geos_flags_are_named(grids)
    assert_geos_flags_are_named(grids, _lonlat(area))


def test_check_grids_names_every_district_geos_flags(districts: gpd.GeoDataFrame) -> None:
    # The command a user runs on a municipal layer (the file as shipped: two features lack a
    # code, so the name is the code).
    from typer.testing import CliRunner

    from gridmap.cli import app

    result = CliRunner().invoke(
        app, ["check", "--grids", str(DISTRICTS), "--code-field", "name", "--json"]
    )
    assert result.exit_code == 1, result.stdout
    named = {code for issue in json.loads(result.stdout)["issues"] for code in issue["grids"]}
    by_name = districts.assign(code=districts["name"])
    assert flagged_by_geos(by_name, 0.0) | flagged_by_geos(by_name, SLIVER_M) <= named
