"""Vector tiles under wrk: prebuilt tiles on both engines, PostGIS live tiles against tipg.

    python bench/tiles.py [--workspace published.gpkg] [--database-url URL]
                          [--seconds 10] [--connections 20]

Every server is a real uvicorn on 127.0.0.1 started here on a free port and stopped at the end
(``gridmap serve``; tipg with ``uvicorn tipg.main:app``); the client is ``wrk`` (Debian's
package: about 0.1 ms of CPU per request, where a Python client spends as much as the server)
with ``bench/wrk/paths.lua``, which walks a list of tile URLs, for ``--seconds`` at
``--connections``. Every request says ``Accept-Encoding: gzip``, as a browser does.

1. The sample (built, partitioned and published here unless ``--workspace`` names one) is
   copied into a new PostGIS database, and ``gridmap tiles build`` prebuilds both (timed).
2. Prebuilt tiles, every tile of the set in turn (the layers and zooms the pages ask for),
   from the GeoPackage and from PostGIS.
3. Live tiles on PostGIS (``GRIDMAP_TILES_PREBUILT=0``, tile cache off: every request runs
   ST_AsMVT) against tipg on the same table (``gridmap.plan_grids``, which holds just the
   plan in force here, and ``gridmap.buildings``, asking tipg for the same properties), at
   grids z12 and z14 and buildings z14 and z16: the non-empty tiles of each.

Prints one table row per case (tiles/s, p50, p99, errors) and the live/tipg ratios, with the
load average before the run: on a shared machine the figures are only comparable within a run.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import shutil
import sqlite3
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psycopg
from api import (  # bench/api.py: the sample, its copy to PostGIS, running a server
    _database,
    copy_to_postgis,
    free_port,
    publish_sample,
    server,
)
from psycopg import sql

BIN = Path(sys.executable).parent
LUA = Path(__file__).resolve().parent / "wrk" / "paths.lua"
LIVE = [("grids", 12), ("grids", 14), ("buildings", 14), ("buildings", 16)]
TIPG_TABLE = {"grids": "gridmap.plan_grids", "buildings": "gridmap.buildings"}
TIPG_PROPERTIES = {
    "grids": "code,name,community_code,residents",
    "buildings": "id,name,unit_id,households,residents",
}


@contextmanager
def gridmap_server(args: list[str], **env: str) -> Iterator[str]:
    """``gridmap serve`` (one worker, no rate limit) until the block ends; its base URL."""
    port = free_port()
    base = {"GRIDMAP_RATE_LIMIT_PER_SECOND": "0", "GRIDMAP_TOKEN_SECRET": "bench-" + "k" * 40}
    command = [str(BIN / "gridmap"), "serve", "--port", str(port), *args]
    with server(command, {**base, **env}, port, 1):
        yield f"http://127.0.0.1:{port}"


@contextmanager
def tipg_server(database_url: str) -> Iterator[str]:
    """tipg (uvicorn, one worker) on the database until the block ends; its base URL."""
    port = free_port()
    env = {"DATABASE_URL": database_url, "TIPG_DB_SCHEMAS": '["gridmap"]'}
    command = [str(BIN / "uvicorn"), "tipg.main:app", "--port", str(port), "--log-level", "info"]
    with server(command, env, port, 1, ready_path="/healthz"):
        yield f"http://127.0.0.1:{port}"


def wrk(base: str, paths: list[str], seconds: float, connections: int) -> dict[str, Any]:
    """Run wrk over ``paths`` (in turn) against ``base``; its JSON summary."""
    with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False) as listing:
        listing.write("\n".join(paths) + "\n")
    try:
        done = subprocess.run(
            [
                "wrk",
                "-t2",
                f"-c{connections}",
                f"-d{seconds:g}s",
                "--latency",
                "-H",
                "Accept-Encoding: gzip",
                "-s",
                str(LUA),
                base,
            ],
            env={**os.environ, "WRK_PATHS": listing.name},
            capture_output=True,
            text=True,
            check=True,
        )
    finally:
        os.unlink(listing.name)
    result = json.loads(done.stdout.strip().splitlines()[-1])
    result["per_second"] = result["requests"] / result["seconds"]
    return result


def build(args: list[str]) -> float:
    """``gridmap tiles build`` with ``args``; its seconds."""
    out = subprocess.run(
        [str(BIN / "gridmap"), "tiles", "build", *args, "--json"],
        capture_output=True,
        text=True,
        check=True,
    )
    return float(json.loads(out.stdout.strip().splitlines()[-1])["seconds"])


def stored_tiles(workspace: Path) -> list[tuple[str, int, int, int]]:
    """(layer, z, x, y) of every tile of the workspace's current set."""
    with sqlite3.connect(workspace) as conn:
        [set_id] = conn.execute("SELECT MAX(id) FROM tile_sets WHERE state = 'ready'").fetchone()
        rows = conn.execute(
            "SELECT layer, z, x, y FROM tiles WHERE set_id = ? ORDER BY layer, z, x, y", (set_id,)
        ).fetchall()
    return [(str(r[0]), int(r[1]), int(r[2]), int(r[3])) for r in rows]


def row(name: str, result: dict[str, Any]) -> str:
    return (
        f"| {name} | {result['per_second']:,.0f} | {result['p50_us'] / 1000:.1f} | "
        f"{result['p99_us'] / 1000:.1f} | {result['non2xx_or_errors']} |"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--workspace", type=Path, help="a published workspace (else built here)")
    parser.add_argument(
        "--database-url",
        default=os.environ.get("GRIDMAP_TEST_DATABASE_URL")
        or "postgresql://postgres@127.0.0.1:5432/postgres",
    )
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--connections", type=int, default=20)
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("wrk is not installed (Debian: apt-get install wrk)")
    load_before = os.getloadavg()
    rows: list[str] = []
    ratios: list[str] = []
    with tempfile.TemporaryDirectory(prefix="gridmap-bench-tiles-") as tmp:
        workspace = Path(tmp) / "nanan.gpkg"
        if args.workspace is None:
            print("building, partitioning and publishing the sample…", file=sys.stderr)
            publish_sample(workspace)
        else:
            shutil.copyfile(args.workspace, workspace)
        name = f"gridmap_bench_tiles_{secrets.token_hex(4)}"
        with psycopg.connect(args.database_url, autocommit=True) as admin:
            admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        url = _database(args.database_url, name)
        try:
            with psycopg.connect(url, autocommit=True) as db:
                db.execute("CREATE EXTENSION IF NOT EXISTS postgis")
            print("copying the sample to PostGIS…", file=sys.stderr)
            copy_to_postgis(workspace, url)
            print("prebuilding the tiles…", file=sys.stderr)
            gpkg_build = build(["--workspace", str(workspace)])
            postgis_build = build(["--database-url", url])
            tiles = stored_tiles(workspace)
            every = [f"/tiles/{layer}/{z}/{x}/{y}.mvt" for layer, z, x, y in tiles]
            wait = args.seconds
            for label, target in (("GeoPackage", "--workspace"), ("PostGIS", "--database-url")):
                where = str(workspace) if target == "--workspace" else url
                with gridmap_server([target, where]) as base:
                    wrk(base, every, 2, args.connections)  # warm up (not measured)
                    result = wrk(base, every, wait, args.connections)
                    rows.append(row(f"prebuilt, {label}: all {len(every):,} tiles", result))
            live = {
                (layer, z): [(x, y) for lyr, zz, x, y in tiles if (lyr, zz) == (layer, z)]
                for layer, z in LIVE
            }
            measured: dict[tuple[str, str, int], float] = {}
            with gridmap_server(
                ["--database-url", url], GRIDMAP_TILES_PREBUILT="0", GRIDMAP_TILE_CACHE_SIZE="0"
            ) as base:
                for (layer, z), xy in live.items():
                    paths = [f"/tiles/{layer}/{z}/{x}/{y}.mvt" for x, y in xy]
                    wrk(base, paths, 1, args.connections)
                    result = wrk(base, paths, wait, args.connections)
                    measured["gridmap", layer, z] = result["per_second"]
                    rows.append(
                        row(f"live {layer} z{z} ({len(xy)} tiles), gridmap PostGIS", result)
                    )
            with tipg_server(url) as base:
                for (layer, z), xy in live.items():
                    paths = [
                        f"/collections/{TIPG_TABLE[layer]}/tiles/WebMercatorQuad/{z}/{x}/{y}"
                        f"?properties={TIPG_PROPERTIES[layer]}"
                        for x, y in xy
                    ]
                    wrk(base, paths, 1, args.connections)
                    result = wrk(base, paths, wait, args.connections)
                    measured["tipg", layer, z] = result["per_second"]
                    rows.append(row(f"live {layer} z{z} ({len(xy)} tiles), tipg", result))
            for layer, z in LIVE:
                ratio = measured["gridmap", layer, z] / measured["tipg", layer, z]
                ratios.append(f"| {layer} z{z} | {ratio:.2f}× |")
        finally:
            with psycopg.connect(args.database_url, autocommit=True) as admin:
                admin.execute(
                    sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
                )
    load_after = os.getloadavg()
    print(
        f"\nwrk, {args.connections} connections, {args.seconds:g} s per case, loopback, "
        f"{os.cpu_count()} cores; load average before {load_before[0]:.2f}, "
        f"after {load_after[0]:.2f}; prebuilding: GeoPackage {gpkg_build:.1f} s, "
        f"PostGIS {postgis_build:.1f} s ({len(tiles):,} tiles)\n"
    )
    print("| case | tiles/s | p50 ms | p99 ms | errors |")
    print("|---|---|---|---|---|")
    print("\n".join(rows))
    print("\n| live tiles | gridmap PostGIS / tipg |")
    print("|---|---|")
    print("\n".join(ratios))


if __name__ == "__main__":
    main()
