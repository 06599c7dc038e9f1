"""Assign buildings to grids and locate points: gridmap against geopandas.sjoin and PostGIS.

    .venv/bin/python bench/assign.py [--database-url postgresql://postgres@127.0.0.1:5432/postgres]
                                     [--points 1000000] [--footprints 100000] [--repeat 3]

Synthetic data, sized for a 2-core machine: 4,000 grids (a jittered Voronoi tiling of a 20 km
square in UTM 48N around Chongqing, in EPSG:4326 as stored), 1,000,000 building points (about
2% just outside the tiling) and 100,000 footprints (rotated rectangles, 8–40 m).

Timed in one run, interleaved (each round starting one contender later), median of --repeat:
- gridmap: GridIndex build + assign (one thread, the default, and workers=2);
- geopandas.sjoin (predicate "intersects", and "within", which builds the tree on the points);
  for footprints, sjoin + intersection areas + the same majority rule, so outputs compare;
- PostGIS with GiST indexes (built before timing, reported apart): INSERT INTO … SELECT … JOIN
  ON ST_Intersects; for footprints DISTINCT ON (id) ORDER BY ST_Area(ST_Intersection) DESC.
Then single-point lookups: µs per call, median over --calls calls. All three answers are
compared; disagreements are reported. The throw-away database is dropped at the end.
"""

from __future__ import annotations

import argparse
import gc
import io
import os
import secrets
import statistics
import time
import warnings
from collections.abc import Callable
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import psycopg
import pyproj
import shapely
from psycopg import sql

from gridmap.engine.assign import GridIndex

SIDE = 20_000.0  # metres
CENTRE = (106.55, 29.55)  # Chongqing


def make_data(
    seed: int, n_grids: int, n_points: int, n_footprints: int
) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame, gpd.GeoDataFrame]:
    rng = np.random.default_rng(seed)
    cx, cy = pyproj.Transformer.from_crs(4326, 32648, always_xy=True).transform(*CENTRE)
    x0, y0 = cx - SIDE / 2, cy - SIDE / 2
    k = int(np.ceil(np.sqrt(n_grids)))
    step = SIDE / k
    col, row = (a.ravel() for a in np.meshgrid(np.arange(k), np.arange(k)))
    keep = rng.permutation(k * k)[:n_grids]  # a jittered lattice, thinned to n_grids seeds
    sx = x0 + (col + 0.5 + rng.uniform(-0.4, 0.4, k * k))[keep] * step
    sy = y0 + (row + 0.5 + rng.uniform(-0.4, 0.4, k * k))[keep] * step
    square = shapely.box(x0, y0, x0 + SIDE, y0 + SIDE)
    cells = shapely.get_parts(
        shapely.voronoi_polygons(shapely.multipoints(np.column_stack([sx, sy])), extend_to=square)
    )
    cells = shapely.intersection(cells, square)
    # codes in a shuffled order, so that "smallest code" is not "first row"
    codes = [f"500108001{i:03d}{j:03d}" for i, j in enumerate(rng.permutation(len(cells)))]
    grids = gpd.GeoDataFrame({"code": codes}, geometry=cells, crs=32648).to_crs(4326)

    margin = 100.0
    px = rng.uniform(x0 - margin, x0 + SIDE + margin, n_points)
    py = rng.uniform(y0 - margin, y0 + SIDE + margin, n_points)
    points = gpd.GeoDataFrame(
        {"id": np.arange(n_points)}, geometry=shapely.points(px, py), crs=32648
    ).to_crs(4326)

    fx, fy = rng.uniform(x0, x0 + SIDE, n_footprints), rng.uniform(y0, y0 + SIDE, n_footprints)
    w, h = rng.uniform(8, 40, n_footprints)[:, None], rng.uniform(8, 25, n_footprints)[:, None]
    angle = rng.uniform(0, np.pi, n_footprints)[:, None]
    ux, uy = np.array([-0.5, 0.5, 0.5, -0.5, -0.5]), np.array([-0.5, -0.5, 0.5, 0.5, -0.5])
    dx, dy = ux * w, uy * h
    xs = fx[:, None] + dx * np.cos(angle) - dy * np.sin(angle)
    ys = fy[:, None] + dx * np.sin(angle) + dy * np.cos(angle)
    footprints = gpd.GeoDataFrame(
        {"id": np.arange(n_footprints)},
        geometry=shapely.polygons(np.stack([xs, ys], axis=-1)),
        crs=32648,
    ).to_crs(4326)
    return grids, points, footprints


# -- the peers ---------------------------------------------------------------------------------


def sjoin_points(points: gpd.GeoDataFrame, grids: gpd.GeoDataFrame, predicate: str) -> Any:
    return gpd.sjoin(points, grids.copy(), how="left", predicate=predicate)  # fresh sindex


def sjoin_majority(footprints: gpd.GeoDataFrame, grids: gpd.GeoDataFrame) -> pd.DataFrame:
    """sjoin, then the same rule as gridmap: most area, ties to the smallest code."""
    joined = gpd.sjoin(footprints, grids.copy(), how="inner", predicate="intersects")
    other = grids.geometry.loc[joined["index_right"]]
    with warnings.catch_warnings():  # areas in degrees² are fine for a ratio
        warnings.simplefilter("ignore", UserWarning)
        area = joined.geometry.intersection(other, align=False).area.to_numpy()
        whole = footprints.area
    pairs = pd.DataFrame(
        {"building": joined.index, "grid": joined["code"].to_numpy(), "area": area}
    )
    pairs = pairs.sort_values(["building", "area", "grid"], ascending=[True, False, True])
    best = pairs.drop_duplicates("building").set_index("building")
    out = pd.DataFrame(index=footprints.index)
    out["grid"] = best["grid"].reindex(footprints.index)
    out["share"] = (best["area"].reindex(footprints.index) / whole).fillna(0.0)
    return out


POINTS_JOIN = """
    INSERT INTO point_result
    SELECT p.id, g.code FROM points p JOIN grids g ON ST_Intersects(p.geom, g.geom)"""
FOOTPRINTS_JOIN = """
    INSERT INTO footprint_result
    SELECT DISTINCT ON (f.id) f.id, g.code,
           ST_Area(ST_Intersection(f.geom, g.geom)) / ST_Area(f.geom)
    FROM footprints f JOIN grids g ON ST_Intersects(f.geom, g.geom)
    ORDER BY f.id, 3 DESC, g.code"""
LOOKUP = """
    SELECT code FROM grids
    WHERE ST_Intersects(geom, ST_SetSRID(ST_MakePoint(%s, %s), 4326))
    ORDER BY code LIMIT 1"""
# the same answer as GridIndex.locate_one: grid, metres to its edge, nearest other grid ≤ 50 m
LOCATE = """
    WITH p AS (SELECT ST_SetSRID(ST_MakePoint(%s, %s), 4326) AS g),
    own AS (SELECT code, geom FROM grids, p WHERE ST_Intersects(geom, p.g) ORDER BY code LIMIT 1)
    SELECT own.code,
           ST_Distance(ST_Transform(ST_Boundary(own.geom), 32648), ST_Transform(p.g, 32648)),
           nb.code, nb.d
    FROM p LEFT JOIN own ON true
    LEFT JOIN LATERAL (
        SELECT code, ST_Distance(ST_Transform(geom, 32648), ST_Transform(p.g, 32648)) AS d
        FROM grids WHERE code IS DISTINCT FROM own.code
          AND geom && ST_Expand(p.g, 0.001)  -- 0.001° > 96 m here: lets the GiST index work
          AND ST_DWithin(ST_Transform(geom, 32648), ST_Transform(p.g, 32648), 50)
        ORDER BY d, code LIMIT 1) nb ON true"""


def copy_rows(db: psycopg.Connection, table: str, columns: dict[str, Any], geoms: Any) -> None:
    """COPY columns and geometries (as hex EWKB) into ``table``."""
    frame = pd.DataFrame(columns)
    frame["geom"] = shapely.to_wkb(shapely.set_srid(geoms, 4326), hex=True, include_srid=True)
    names = sql.SQL(", ").join(map(sql.Identifier, frame.columns))
    statement = sql.SQL("COPY {} ({}) FROM STDIN").format(sql.Identifier(table), names)
    text = io.StringIO(frame.to_csv(sep="\t", header=False, index=False))
    with db.cursor().copy(statement) as copy:
        while chunk := text.read(1 << 20):
            copy.write(chunk)


def load_postgis(db: psycopg.Connection, grids: Any, points: Any, footprints: Any) -> float:
    """Tables, rows and GiST indexes; returns the seconds spent on the indexes and ANALYZE."""
    db.execute("CREATE EXTENSION postgis")
    db.execute("CREATE TABLE grids (code text, geom geometry(Geometry, 4326))")
    db.execute("CREATE TABLE points (id bigint, geom geometry(Point, 4326))")
    db.execute("CREATE TABLE footprints (id bigint, geom geometry(Polygon, 4326))")
    db.execute("CREATE TABLE point_result (id bigint, code text)")
    db.execute("CREATE TABLE footprint_result (id bigint, code text, share float8)")
    copy_rows(db, "grids", {"code": grids["code"]}, grids.geometry.array)
    copy_rows(db, "points", {"id": points["id"]}, points.geometry.array)
    copy_rows(db, "footprints", {"id": footprints["id"]}, footprints.geometry.array)
    start = time.perf_counter()
    for table in ("grids", "points", "footprints"):
        db.execute(sql.SQL("CREATE INDEX ON {} USING gist (geom)").format(sql.Identifier(table)))
        db.execute(sql.SQL("ANALYZE {}").format(sql.Identifier(table)))
    return time.perf_counter() - start


# -- timing --------------------------------------------------------------------------------------


def timed(fn: Callable[[], Any]) -> tuple[float, float, Any]:
    """Wall-clock seconds, this process's CPU seconds (all threads), and the result."""
    gc.collect()
    wall, cpu = time.perf_counter(), time.process_time()
    out = fn()
    return time.perf_counter() - wall, time.process_time() - cpu, out


def per_call_us(fn: Callable[[float, float], Any], lon: Any, lat: Any) -> float:
    times = np.empty(len(lon))
    for k, (x, y) in enumerate(zip(lon.tolist(), lat.tolist(), strict=True)):
        start = time.perf_counter_ns()
        fn(x, y)
        times[k] = time.perf_counter_ns() - start
    return float(np.median(times) / 1000)


def one_grid(frame: pd.DataFrame, n: int) -> pd.Series:
    """Rows (id, code) of a join → one code per building, the smallest; None when none."""
    codes = frame.dropna(subset=["code"]).sort_values("code").drop_duplicates("id")
    return codes.set_index("id")["code"].reindex(pd.RangeIndex(n)).astype(object)


def agreement(name: str, mine: pd.Series, theirs: pd.Series) -> None:
    a = mine.fillna("").astype(str).to_numpy()
    b = theirs.fillna("").astype(str).to_numpy()
    bad = np.flatnonzero(a != b)
    shown = "; ".join(f"#{i}: {a[i] or None} vs {b[i] or None}" for i in bad[:5])
    print(f"  {name}: {1 - len(bad) / len(a):.4%} agree, {len(bad)} differ {shown}")


def fetch(db: psycopg.Connection, query: str, columns: list[str]) -> pd.DataFrame:
    return pd.DataFrame(db.execute(query).fetchall(), columns=columns)


def table(
    wall: dict[str, float], cpu: dict[str, float], rows: list[tuple[str, str, list[str]]]
) -> None:
    head = ("task", "gridmap (s)", "peer", "peer (s)", "ratio", "CPU s gridmap", "CPU s peer")
    print("| " + " | ".join(head) + " |")
    print("|---|---:|---|---:|---:|---:|---:|")
    for task, mine, peers in rows:
        for peer in peers:
            theirs = "server" if peer.startswith("PostGIS") else f"{cpu[peer]:.3f}"
            print(
                f"| {task} | {wall[mine]:.3f} | {peer} | {wall[peer]:.3f} "
                f"| {wall[peer] / wall[mine]:.2f} | {cpu[mine]:.3f} | {theirs} |"
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", default="postgresql://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--grids", type=int, default=4_000)
    parser.add_argument("--points", type=int, default=1_000_000)
    parser.add_argument("--footprints", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--calls", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    print(f"{os.cpu_count()} cores; load average before: {os.getloadavg()[0]:.2f}")
    grids, points, footprints = make_data(args.seed, args.grids, args.points, args.footprints)
    n_points, n_footprints = len(points), len(footprints)
    print(f"{len(grids):,} grids, {n_points:,} points, {n_footprints:,} footprints")

    def ours(buildings: gpd.GeoDataFrame, workers: int = 1) -> pd.DataFrame:
        return GridIndex(grids, workers=workers).assign(buildings)  # index build included

    run: dict[str, Callable[[], Any]] = {
        "gridmap": lambda: ours(points),
        "gridmap, 2 threads": lambda: ours(points, 2),
        "geopandas.sjoin intersects": lambda: sjoin_points(points, grids, "intersects"),
        "geopandas.sjoin within": lambda: sjoin_points(points, grids, "within"),
        "gridmap footprints": lambda: ours(footprints),
        "gridmap footprints, 2 threads": lambda: ours(footprints, 2),
        "sjoin + areas + majority": lambda: sjoin_majority(footprints, grids),
    }
    name = f"gridmap_bench_{secrets.token_hex(4)}"
    with psycopg.connect(args.database_url, autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        url = psycopg.conninfo.make_conninfo(args.database_url, dbname=name)
        with psycopg.connect(url, autocommit=True) as db:
            index_seconds = load_postgis(db, grids, points, footprints)

            def postgis(result: str, query: str) -> Callable[[], None]:
                def join() -> None:
                    db.execute(sql.SQL("TRUNCATE {}").format(sql.Identifier(result)))
                    db.execute(query)

                return join

            run["PostGIS ST_Intersects join"] = postgis("point_result", POINTS_JOIN)
            run["PostGIS DISTINCT ON … ST_Area"] = postgis("footprint_result", FOOTPRINTS_JOIN)
            seconds: dict[str, list[float]] = {key: [] for key in run}
            cpu: dict[str, list[float]] = {key: [] for key in run}
            results: dict[str, Any] = {}
            keys = list(run)
            for r in range(args.repeat):  # interleaved, and each round in another order, so
                for key in keys[r % len(keys) :] + keys[: r % len(keys)]:  # no one always
                    took, used, results[key] = timed(run[key])  # follows the same neighbour
                    seconds[key].append(took)
                    cpu[key].append(used)
            pg_points = one_grid(
                fetch(db, "SELECT id, code FROM point_result", ["id", "code"]), n_points
            )
            pg_footprints = fetch(db, "SELECT * FROM footprint_result", ["id", "code", "share"])
            pg_footprints = pg_footprints.set_index("id").reindex(pd.RangeIndex(n_footprints))

            rng = np.random.default_rng(args.seed + 1)
            lon = rng.uniform(106.46, 106.64, args.calls)  # about 2% outside the grids
            lat = rng.uniform(29.46, 29.64, args.calls)
            build_seconds, _, index = timed(lambda: GridIndex(grids))
            metric_seconds, _, _ = timed(lambda: index.metric_crs)  # built on first use
            single = {
                "gridmap GridIndex.locate_one": per_call_us(index.locate_one, lon, lat),
                "gridmap GridIndex.locate, 1 point": per_call_us(
                    lambda x, y: index.locate(([x], [y])), lon[:2000], lat[:2000]
                ),
            }
            cursor = db.cursor()
            for label, query in (("grid only", LOOKUP), ("grid, edge, neighbour", LOCATE)):
                single[f"PostGIS {label}"] = per_call_us(
                    lambda x, y, q=query: cursor.execute(q, (x, y), prepare=True).fetchall(),
                    lon,
                    lat,
                )
            bulk = (np.resize(lon, 100_000), np.resize(lat, 100_000))
            bulk_seconds, _, _ = timed(lambda: index.locate(bulk))
    finally:
        with psycopg.connect(args.database_url, autocommit=True) as admin:
            admin.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )

    median = {key: statistics.median(v) for key, v in seconds.items()}
    median_cpu = {key: statistics.median(v) for key, v in cpu.items()}
    print(f"\nPostGIS GiST indexes + ANALYZE, before the timings: {index_seconds:.2f} s")
    print(
        f"median of {args.repeat} interleaved runs; "
        "ratio = peer ÷ gridmap (> 1: gridmap is faster)\n"
    )
    table(
        median,
        median_cpu,
        [
            (
                "points",
                "gridmap",
                [
                    "gridmap, 2 threads",
                    "geopandas.sjoin intersects",
                    "geopandas.sjoin within",
                    "PostGIS ST_Intersects join",
                ],
            ),
            (
                "footprints",
                "gridmap footprints",
                [
                    "gridmap footprints, 2 threads",
                    "sjoin + areas + majority",
                    "PostGIS DISTINCT ON … ST_Area",
                ],
            ),
        ],
    )
    print(
        f"\nGridIndex build {build_seconds * 1000:.1f} ms, "
        f"then its metric part {metric_seconds * 1000:.1f} ms"
    )
    print(f"single point, µs per call, median of {args.calls:,}:")
    for key, us in single.items():
        print(f"  {key:40} {us:8.1f}")
    print(f"GridIndex.locate of 100,000 lon/lat points: {bulk_seconds:.3f} s")

    print("\nagreement, one grid per building (a join's several rows: the smallest code):")
    mine_points = results["gridmap"]["grid"]
    joined = results["geopandas.sjoin intersects"][["id", "code"]]
    agreement("points, gridmap vs sjoin", mine_points, one_grid(joined, n_points))
    agreement("points, gridmap vs PostGIS", mine_points, pg_points)
    mine = results["gridmap footprints"]
    theirs = results["sjoin + areas + majority"]
    agreement("footprints, gridmap vs sjoin", mine["grid"], theirs["grid"])
    agreement("footprints, gridmap vs PostGIS", mine["grid"], pg_footprints["code"])
    worst = np.abs(mine["share"].to_numpy() - pg_footprints["share"].fillna(0).to_numpy()).max()
    print(f"  footprint shares, largest difference gridmap vs PostGIS: {worst:.1e}")
    print(
        f"  {int(mine['straddles'].sum()):,} footprints straddle a boundary; "
        f"{int(mine_points.isna().sum()):,} points are in no grid"
    )
    print(
        f"load average after: {os.getloadavg()[0]:.2f} (other work on the machine skews wall time)"
    )


if __name__ == "__main__":
    main()
