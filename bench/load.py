"""Load the Nan'an sample into each engine, gridmap against GDAL's own loaders, in one run.

    .venv/bin/python bench/load.py [--database-url postgresql://postgres@127.0.0.1:5432/postgres]
                                   [--districts 10]

Prints median seconds (of 3 runs; of 5 taking turns with the peers for PostGIS) and the ratio
gridmap / peer. Peers:
- GeoPackage: pyogrio.write_dataframe of the same frames (GDAL, no checks) and ogr2ogr copying
  the generated buildings file (GDAL's command-line loader);
- PostGIS: ogr2ogr -f PostgreSQL of the same buildings (GDAL's loader, GiST index included),
  alone and followed by ANALYZE (which gridmap's load runs: the planner needs statistics).
  Measured on the sample (one district) and on ``--districts`` copies of it, each a district
  of its own, to see how the load grows with partitions.
gridmap's import does more than either peer (ids, types, CRS, validity, resident estimates,
cross-layer checks, all-or-nothing write): the ratio is the price of that. gridmap's PostGIS
load checks ids and types, finds each building's district, and loads each district by COPY
into a fresh partition whose indexes are built once, on attach; then ANALYZE.
"""

from __future__ import annotations

import argparse
import secrets
import shutil
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import psycopg
import pyogrio
from psycopg import sql

from gridmap.io.importer import import_file
from gridmap.sample import SAMPLE_LAYERS, build_sample
from gridmap.sample.generate import generate_nanan
from gridmap.store import PostgisLayers, Workspace
from gridmap.store.gpkg import GPKG_DATASET_OPTIONS


def median_seconds(run, repeat: int = 3) -> float:  # type: ignore[no-untyped-def]
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", default="postgresql://postgres@127.0.0.1:5432/postgres")
    parser.add_argument(
        "--districts",
        type=int,
        default=10,
        help="also load this many copies of the sample as separate districts (1: skip)",
    )
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="gridmap-bench-"))
    layers = generate_nanan(0)
    buildings = layers["buildings"]
    source = tmp / "buildings.gpkg"
    # GeoPackage 1.3, as gridmap writes: the ogr2ogr of Debian 12 (GDAL 3.6) warns on 1.4.
    pyogrio.write_dataframe(
        buildings, source, layer="buildings", dataset_options=GPKG_DATASET_OPTIONS
    )
    rows: list[tuple[str, float, str, float]] = []
    queries: list[tuple[str, float]] = []

    sample = median_seconds(lambda: build_sample(tmp / "nanan.gpkg"))
    print(f"gridmap sample (generate + import {len(SAMPLE_LAYERS)} layers): {sample:.2f} s")

    # The workspace with divisions and units, as buildings are imported into it.
    base = Workspace(tmp / "base.gpkg")
    sampled = Workspace(tmp / "nanan.gpkg")
    base.write({name: sampled.read(name) for name in ("divisions", "units")})

    def gridmap_import() -> None:
        target = tmp / "import.gpkg"
        shutil.copyfile(base.path, target)
        import_file(Workspace(target), source, "buildings")

    def gdal_write() -> None:
        pyogrio.write_dataframe(buildings, tmp / "gdal.gpkg", layer="buildings")

    def ogr2ogr_copy() -> None:
        subprocess.run(["ogr2ogr", "-overwrite", str(tmp / "ogr.gpkg"), str(source)], check=True)

    ours = median_seconds(gridmap_import)
    rows.append(
        (
            "GeoPackage: import buildings",
            ours,
            "pyogrio.write_dataframe",
            median_seconds(gdal_write),
        )
    )
    if shutil.which("ogr2ogr"):
        rows.append(("GeoPackage: import buildings", ours, "ogr2ogr", median_seconds(ogr2ogr_copy)))

    name = f"gridmap_bench_{secrets.token_hex(4)}"
    with psycopg.connect(args.database_url, autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    url = psycopg.conninfo.make_conninfo(args.database_url, dbname=name)
    try:
        with psycopg.connect(url, autocommit=True) as db:
            db.execute("CREATE EXTENSION postgis")
        store = PostgisLayers(url)
        full = {layer: sampled.read(layer) for layer in SAMPLE_LAYERS}
        whole = median_seconds(lambda: store.write(full, replace=True))
        print(f"PostGIS: load the whole sample workspace: {whole:.2f} s")
        rows += postgis_rows(url, full, source, districts=1)
        if args.districts > 1:
            many, many_source = replicate(full, args.districts, tmp)
            store.write({"divisions": many["divisions"]}, replace=True)
            rows += postgis_rows(url, many, many_source, districts=args.districts)
            queries = query_latencies(url, many["divisions"])
    finally:
        with psycopg.connect(args.database_url, autocommit=True) as admin:
            admin.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )
        shutil.rmtree(tmp, ignore_errors=True)

    print(f"\n{len(buildings):,} buildings a district; median of 3 runs\n")
    print(f"{'task':44} {'gridmap s':>10} {'peer':>34} {'peer s':>8} {'ratio':>6}")
    for task, mine, peer, theirs in rows:
        print(f"{task:44} {mine:10.2f} {peer:>34} {theirs:8.2f} {mine / theirs:6.2f}")
    if queries:
        print(f"\nqueries on {args.districts} district partitions (median of 200, ms)")
        for task, ms in queries:
            print(f"{task:72} {ms:8.2f}")


def postgis_rows(
    url: str, frames: dict[str, pd.DataFrame], source: Path, *, districts: int
) -> list[tuple[str, float, str, float]]:
    """gridmap's bulk load of the buildings against ogr2ogr's, into the same database."""
    store = PostgisLayers(url)
    buildings = frames["buildings"]
    label = (
        f"PostGIS: load {len(buildings):,} buildings ({districts} district{'s' * (districts > 1)})"
    )

    def ours() -> None:
        store.write({"buildings": buildings}, replace=True)

    if not shutil.which("ogr2ogr"):
        return [(label, median_seconds(ours), "(no ogr2ogr)", float("nan"))]

    def ogr2ogr_pg() -> None:
        subprocess.run(
            [
                "ogr2ogr", "-overwrite", "-f", "PostgreSQL", f"PG:{url}", str(source),
                "-nln", "public.ogr_buildings", "-lco", "SPATIAL_INDEX=GIST",
            ],
            check=True,
        )  # fmt: skip

    def ogr2ogr_analyze() -> None:
        ogr2ogr_pg()
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("ANALYZE public.ogr_buildings")

    mine, plain, analyzed = taking_turns([ours, ogr2ogr_pg, ogr2ogr_analyze], repeat=5)
    return [
        (label, mine, "ogr2ogr -f PostgreSQL", plain),
        (label, mine, "ogr2ogr -f PostgreSQL, then ANALYZE", analyzed),
    ]


def taking_turns(runs: list, repeat: int) -> list[float]:  # type: ignore[type-arg]
    """Median seconds of each run, the runs taking turns (a busy machine slows them alike)."""
    times: list[list[float]] = [[] for _ in runs]
    for _ in range(repeat):
        for run, got in zip(runs, times, strict=True):
            start = time.perf_counter()
            run()
            got.append(time.perf_counter() - start)
    return [statistics.median(t) for t in times]


def query_latencies(url: str, divisions: gpd.GeoDataFrame) -> list[tuple[str, float]]:
    """Median milliseconds of bbox reads of buildings, with and without the district key.

    The box is about a z15 tile (0.011° square) in the densest part of the first district;
    naming the district lets the planner prune to one partition (Citus: one shard).
    """
    district = divisions[divisions["level"] == "district"].iloc[0]
    with psycopg.connect(url) as conn:
        centres = conn.execute(
            "SELECT ST_X(c), ST_Y(c) FROM (SELECT ST_Centroid(geom) AS c FROM gridmap.buildings"
            " WHERE district_code = %s) AS t",
            (district["code"],),
        ).fetchall()
    counts, xs, ys = np.histogram2d(*np.array(centres).T, bins=30)
    i, j = np.unravel_index(np.argmax(counts), counts.shape)  # the densest part of the district
    x, y = (xs[i] + xs[i + 1]) / 2 - 0.0055, (ys[j] + ys[j + 1]) / 2 - 0.0055
    box = (x, y, x + 0.011, y + 0.011)
    without = (
        "SELECT count(*) FROM gridmap.buildings"
        " WHERE ST_Intersects(geom, ST_MakeEnvelope(%s, %s, %s, %s, 4326))"
    )
    with_key = without + " AND district_code = %s"
    fetch = (
        "SELECT id, ST_AsBinary(geom) FROM gridmap.buildings WHERE district_code = %s"
        " AND ST_Intersects(geom, ST_MakeEnvelope(%s, %s, %s, %s, 4326))"
    )
    out = []
    with psycopg.connect(url, autocommit=True) as conn:
        found = conn.execute(with_key, (*box, district["code"])).fetchone()[0]  # type: ignore[index]
        for label, query, params in [
            (f"bbox count, all partitions ({found} buildings)", without, box),
            ("bbox count, district named (one partition)", with_key, (*box, district["code"])),
            ("bbox fetch id + WKB, district named", fetch, (district["code"], *box)),
        ]:
            conn.execute(query, params).fetchall()  # warm the cache
            times = []
            for _ in range(200):
                start = time.perf_counter()
                conn.execute(query, params).fetchall()
                times.append(time.perf_counter() - start)
            out.append((label, statistics.median(times) * 1000))
    return out


def replicate(
    frames: dict[str, pd.DataFrame], copies: int, tmp: Path
) -> tuple[dict[str, pd.DataFrame], Path]:
    """``copies`` districts: Nan'an's divisions and buildings shifted east, codes renumbered.

    Copy k is moved 0.3° east per step and its codes start 5101xx (made-up districts), so each
    copy's buildings fall in their own district and partition.
    """
    divisions, buildings = [], []
    for k in range(copies):
        prefix = f"{510100 + k:06d}"
        div = frames["divisions"].copy()
        div["code"] = prefix + div["code"].str[6:]
        div["parent_code"] = div["parent_code"].map(
            lambda c, p=prefix: None if pd.isna(c) else p + c[6:]
        )
        div = div.set_geometry(div.geometry.translate(xoff=0.3 * k))
        bld = frames["buildings"].copy()
        bld["id"] = f"D{k}-" + bld["id"]
        bld = bld.set_geometry(bld.geometry.translate(xoff=0.3 * k))
        divisions.append(div)
        buildings.append(bld)
    out = {
        "divisions": gpd.GeoDataFrame(pd.concat(divisions, ignore_index=True), crs=4326),
        "buildings": gpd.GeoDataFrame(pd.concat(buildings, ignore_index=True), crs=4326),
    }
    path = tmp / f"buildings_{copies}.gpkg"
    pyogrio.write_dataframe(
        out["buildings"], path, layer="buildings", dataset_options=GPKG_DATASET_OPTIONS
    )
    return out, path


if __name__ == "__main__":
    main()
