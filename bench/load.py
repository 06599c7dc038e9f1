"""Load the Nan'an sample into each engine, gridmap against GDAL's own loaders, in one run.

    .venv/bin/python bench/load.py [--database-url postgresql://postgres@127.0.0.1:5432/postgres]

Prints median seconds of 3 runs and the ratio gridmap / peer. Peers:
- GeoPackage: pyogrio.write_dataframe of the same frames (GDAL, no checks) and ogr2ogr copying
  the generated buildings file (GDAL's command-line loader);
- PostGIS: ogr2ogr -f PostgreSQL of the same buildings (GDAL's loader, GiST index included).
gridmap's import does more than either peer (ids, types, CRS, validity, resident estimates,
cross-layer checks, all-or-nothing write): the ratio is the price of that.
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

import psycopg
import pyogrio
from psycopg import sql

from gridmap.io.importer import import_file
from gridmap.sample import SAMPLE_LAYERS, build_sample
from gridmap.sample.generate import generate_nanan
from gridmap.store import PostgisLayers, Workspace


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
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="gridmap-bench-"))
    layers = generate_nanan(0)
    buildings = layers["buildings"]
    source = tmp / "buildings.gpkg"
    pyogrio.write_dataframe(buildings, source, layer="buildings")
    rows: list[tuple[str, float, str, float]] = []

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
        only = median_seconds(lambda: store.write({"buildings": full["buildings"]}, replace=True))
        if shutil.which("ogr2ogr"):
            pg = f"PG:{url}"

            def ogr2ogr_pg() -> None:
                subprocess.run(
                    [
                        "ogr2ogr",
                        "-overwrite",
                        "-f",
                        "PostgreSQL",
                        pg,
                        str(source),
                        "-nln",
                        "public.ogr_buildings",
                        "-lco",
                        "SPATIAL_INDEX=GIST",
                    ],
                    check=True,
                )

            rows.append(
                (
                    "PostGIS: load buildings",
                    only,
                    "ogr2ogr -f PostgreSQL",
                    median_seconds(ogr2ogr_pg),
                )
            )
    finally:
        with psycopg.connect(args.database_url, autocommit=True) as admin:
            admin.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )
        shutil.rmtree(tmp, ignore_errors=True)

    print(f"\n{len(buildings):,} buildings; median of 3 runs\n")
    print(f"{'task':32} {'gridmap s':>10} {'peer':>26} {'peer s':>8} {'ratio':>6}")
    for task, mine, peer, theirs in rows:
        print(f"{task:32} {mine:10.2f} {peer:>26} {theirs:8.2f} {mine / theirs:6.2f}")


if __name__ == "__main__":
    main()
