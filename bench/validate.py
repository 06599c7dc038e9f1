"""Coverage validation of 40,000 grids: gridmap's full report against GEOS's own validator.

    .venv/bin/python bench/validate.py [--grids 40000] [--repeat 5] [--seed 0] [--profile]

The grids are the Voronoi cells of random points in a square of UTM 48N (Chongqing), clipped
to the square and converted to lon/lat, with a few defects planted: a gap, a removed grid, an
enlarged grid (overlaps), a grid with extra vertices on its edges (mismatched edges), a
multipart grid and a duplicate code. The boundary is the square as the grids draw it (the
polygon through their outer vertices: the straight UTM edge is curved in lon/lat, 40 m over
60 km, so four lon/lat corners would not be the same square).

Timed in one run, median of ``--repeat``, the runs taking turns so that they share the
machine's load: gridmap's ``validate_coverage`` (boundary given, weight band on, no buildings
or units); ``shapely.coverage_invalid_edges`` alone (without a gap width, and at the one
gridmap uses); ``shapely.coverage_is_valid``. Prints the ratios. Nothing
is asserted: shared machines vary.
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import statistics
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

import geopandas as gpd
import numpy as np
import pyproj
import shapely
import shapely.affinity

from gridmap.engine.validate.check import validate_coverage

X0, Y0 = 640_000.0, 3_240_000.0  # UTM 48N, about 106.45E, 29.28N


def tiling(n: int, seed: int) -> tuple[gpd.GeoDataFrame, shapely.Geometry, list[str]]:
    """``n`` grids (lon/lat) of about 300 m with defects planted, the boundary, the defects."""
    rng = np.random.default_rng(seed)
    side = 300.0 * np.sqrt(n)
    square = shapely.box(X0, Y0, X0 + side, Y0 + side)
    points = shapely.multipoints(rng.uniform((X0, Y0), (X0 + side, Y0 + side), (n, 2)))
    cells = shapely.intersection(
        shapely.get_parts(shapely.voronoi_polygons(points, extend_to=square)), square
    )
    to_lonlat = pyproj.Transformer.from_crs(32648, 4326, always_xy=True)
    geoms = shapely.transform(cells, to_lonlat.transform, interleaved=False)
    boundary = shapely.coverage_union_all(geoms)
    # 10 grids per community: 500108 (district) + street + community + sequence
    codes = np.array(
        [f"500108{k // 1000 + 1:03d}{k // 10 % 100 + 1:03d}{k % 10 + 1:03d}" for k in range(n)],
        dtype=object,
    )

    centres = shapely.centroid(geoms)
    order = np.argsort(shapely.get_x(centres) + shapely.get_y(centres))
    middle = order[n // 2 : n // 2 + 10]  # grids well inside the square
    planted = []
    shrink, drop, grow, dense, merge, dup = middle[:6]
    geoms[shrink] = shapely.affinity.scale(geoms[shrink], 0.9, 0.9)
    planted.append(f"grid {codes[shrink]} shrunk by 10% (a gap ring)")
    geoms[drop] = None
    planted.append(f"grid {codes[drop]} removed (empty geometry and a gap)")
    geoms[grow] = shapely.affinity.scale(geoms[grow], 1.05, 1.05)
    planted.append(f"grid {codes[grow]} enlarged by 5% (overlaps)")
    geoms[dense] = shapely.segmentize(geoms[dense], 0.0005)
    planted.append(f"grid {codes[dense]} with extra vertices on its edges (mismatched edges)")
    far = order[n // 4]
    geoms[merge] = shapely.MultiPolygon([geoms[merge], geoms[far]])
    planted.append(f"grid {codes[merge]} takes over the area of grid {codes[far]} (multipart)")
    codes[dup] = codes[middle[7]]
    planted.append(f"code {codes[dup]} used twice (duplicate code)")

    residents = rng.normal(3000, 300, n).round()
    frame = gpd.GeoDataFrame({"code": codes, "residents": residents}, geometry=geoms, crs=4326)
    return frame.drop(index=far).reset_index(drop=True), boundary, planted


def interleaved_medians(runs: dict[str, Callable[[], Any]], repeat: int) -> dict[str, float]:
    """Median seconds of each run; the runs take turns, so that they share the machine's load."""
    times: dict[str, list[float]] = {name: [] for name in runs}
    for _ in range(repeat):
        for name, run in runs.items():
            start = time.perf_counter()
            run()
            times[name].append(time.perf_counter() - start)
    return {name: statistics.median(values) for name, values in times.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--grids", type=int, default=40_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--profile", action="store_true", help="print a cProfile of gridmap")
    args = parser.parse_args()

    grids, boundary, planted = tiling(args.grids, args.seed)
    geoms = np.asarray(grids.geometry.array, dtype=object)
    present = geoms[~(shapely.is_missing(geoms) | shapely.is_empty(geoms))]
    gap_width = 2.0 / (111_320.0 * np.cos(np.radians(29.4)))  # 2 m, as gridmap passes it
    print(f"{len(grids):,} grids, {shapely.get_num_coordinates(geoms).sum():,} vertices")
    print("planted: " + "; ".join(planted))

    def report():  # type: ignore[no-untyped-def]
        return validate_coverage(grids, boundary, target=3000)

    result = report()
    kinds = Counter(i.kind for i in result.issues)
    print(f"report: ok={result.ok}, " + ", ".join(f"{k} {v}" for k, v in kinds.items()))
    runs = {
        "gridmap validate_coverage (full report)": report,
        "shapely.coverage_invalid_edges": lambda: shapely.coverage_invalid_edges(present),
        "shapely.coverage_invalid_edges, gap_width 2 m": lambda: shapely.coverage_invalid_edges(
            present, gap_width=gap_width
        ),
        "shapely.coverage_is_valid": lambda: shapely.coverage_is_valid(present),
    }
    seconds = interleaved_medians(runs, args.repeat)
    ours = seconds["gridmap validate_coverage (full report)"]
    width = max(map(len, seconds))
    print(f"median of {args.repeat} runs each, taking turns; ratio = gridmap / peer")
    for name, value in seconds.items():
        print(f"{name:<{width}}  {value:7.3f} s  ratio {ours / value:5.2f}")
    if args.profile:
        profiler = cProfile.Profile()
        profiler.runcall(report)
        pstats.Stats(profiler).sort_stats("cumulative").print_stats(25)


if __name__ == "__main__":
    main()
