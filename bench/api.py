"""The HTTP API under a bounded loopback load: lookups, and tiles against tipg, in one run.

    .venv/bin/python bench/api.py [--workspace PUBLISHED.gpkg] [--database-url ADMIN_URL]
                                  [--lookups 3000] [--tiles 96] [--concurrency 8]

Every server is a real uvicorn on 127.0.0.1 (``gridmap serve``; tipg with ``uvicorn
tipg.main:app``), started here on a free port and stopped at the end; the load is a fixed
number of requests from ``--concurrency`` asyncio workers (httpx), so the run stops by itself.

1. Lookups (``/api/lookup`` at random points of the district, 200s and 404s alike) on the
   GeoPackage and on PostGIS: requests per second and p50/p99 latency.
2. Tiles of the sample's buildings, every z14 tile holding some (the heaviest layer):
   gridmap on PostGIS (ST_AsMVT, tile cache off), tipg on the same table
   (``gridmap.buildings``), gridmap on the GeoPackage (mapbox-vector-tile, cache off, then the
   same tiles again from its cache).

Without ``--workspace`` the sample is built, partitioned and published first (about 2 minutes).
The PostGIS database is created and dropped here (``--database-url``: an admin URL).
"""

from __future__ import annotations

import argparse
import asyncio
import math
import os
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx
import numpy as np
import psycopg
from psycopg import sql

from gridmap.store import GpkgStore, Workspace

BIN = Path(sys.executable).parent


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def server(command: list[str], env: dict[str, str], base: str, ready: str) -> Iterator[str]:
    """Run ``command`` (listening at ``base``) until the block ends; ready when ``ready`` is 200."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("GRIDMAP_", "TIPG_"))}
    proc = subprocess.Popen(
        command,
        env={**clean, **env},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        for _ in range(900):
            if proc.poll() is not None:
                raise RuntimeError(f"{command[0]} exited {proc.returncode}")
            try:
                if httpx.get(base + ready, timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        else:
            raise RuntimeError(f"{' '.join(command)} did not become ready")
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def gridmap_server(args: list[str], **env: str) -> Any:
    port = free_port()
    base = {"GRIDMAP_RATE_LIMIT_PER_SECOND": "0", "GRIDMAP_TOKEN_SECRET": "bench-" + "k" * 40}
    command = [str(BIN / "gridmap"), "serve", "--port", str(port), *args]
    return server(command, {**base, **env}, f"http://127.0.0.1:{port}", "/readyz")


def tipg_server(database_url: str) -> Any:
    port = free_port()
    env = {"DATABASE_URL": database_url, "TIPG_DB_SCHEMAS": '["gridmap"]'}
    command = [str(BIN / "uvicorn"), "tipg.main:app", "--port", str(port), "--log-level", "warning"]
    return server(command, env, f"http://127.0.0.1:{port}", "/healthz")


async def _load(base: str, paths: list[str], concurrency: int) -> dict[str, Any]:
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    queue = list(reversed(paths))

    async def worker(client: httpx.AsyncClient) -> None:
        while queue:
            path = queue.pop()
            start = time.perf_counter()
            answer = await client.get(path)
            latencies.append(time.perf_counter() - start)
            statuses[answer.status_code] = statuses.get(answer.status_code, 0) + 1

    limits = httpx.Limits(max_connections=concurrency)
    async with httpx.AsyncClient(base_url=base, timeout=120, limits=limits) as client:
        start = time.perf_counter()
        await asyncio.gather(*(worker(client) for _ in range(concurrency)))
        wall = time.perf_counter() - start
    latencies.sort()
    return {
        "requests": len(paths),
        "per_second": len(paths) / wall,
        "p50_ms": 1000 * statistics.median(latencies),
        "p99_ms": 1000 * latencies[min(len(latencies) - 1, math.ceil(0.99 * len(latencies)) - 1)],
        "statuses": statuses,
    }


def load(base: str, paths: list[str], concurrency: int) -> dict[str, Any]:
    """Send every path once from ``concurrency`` workers; rate and latency percentiles."""
    return asyncio.run(_load(base, paths, concurrency))


def publish_sample(out: Path) -> Path:
    """Build, partition and publish the sample (and staff it) into ``out``."""
    from gridmap.cli.serve_commands import assign_community_staff
    from gridmap.plans import partition_workspace
    from gridmap.sample import build_sample

    build_sample(out, seed=0)
    plan = partition_workspace(Workspace(out), workers=2, actor="bench")["plan"]
    with GpkgStore(out) as store:
        store.publish([plan], actor="bench")
        assign_community_staff(store, actor="bench")
    return out


def copy_to_postgis(workspace: Path, url: str) -> None:
    """The workspace's layers, plans in force, publications and staff into PostGIS."""
    from gridmap.store import load_workspace
    from gridmap.store.postgis.store import PostgisStore

    load_workspace(workspace, url, actor="bench")
    with GpkgStore(workspace) as source, PostgisStore(url) as target:
        in_force = sorted({p.plan_id for p in source.publications()}, key=int)
        for plan_id in in_force:
            info, revision = source.plan(plan_id), source.revision(plan_id)
            made = target.create_plan(
                revision.cells, revision.grids, name=info.name, params=info.params, actor="bench"
            )
            target.publish([made.plan_id], actor="bench")
        for a in source.staff_assignments():
            target.assign_staff(a.staff_id, a.grid_code, a.role, actor="bench")


def tile_xy(lon: float, lat: float, z: int) -> tuple[int, int]:
    n = 1 << z
    y = (1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n
    return int((lon + 180) / 360 * n), int(y)


def building_tiles(workspace: Path, z: int, most: int) -> list[tuple[int, int, int]]:
    """The z-tiles holding buildings, heaviest first (up to ``most``)."""
    with GpkgStore(workspace) as store:
        points = store.read("buildings").geometry.representative_point()
    counts: dict[tuple[int, int, int], int] = {}
    for p in points:
        key = (z, *tile_xy(p.x, p.y, z))
        counts[key] = counts.get(key, 0) + 1
    return sorted(counts, key=lambda k: -counts[k])[:most]


def _database(url: str, name: str) -> str:
    if url.startswith(("postgresql://", "postgres://")):
        return urlunsplit(urlsplit(url)._replace(path=f"/{name}"))
    return psycopg.conninfo.make_conninfo(url, dbname=name)


def row(name: str, result: dict[str, Any]) -> str:
    return (
        f"| {name} | {result['requests']} | {result['per_second']:.1f} | "
        f"{result['p50_ms']:.1f} | {result['p99_ms']:.1f} | {result['statuses']} |"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--workspace", type=Path, help="a published workspace (else built here)")
    parser.add_argument(
        "--database-url",
        default=os.environ.get("GRIDMAP_TEST_DATABASE_URL")
        or "postgresql://postgres@127.0.0.1:5432/postgres",
    )
    parser.add_argument("--lookups", type=int, default=3000)
    parser.add_argument("--tiles", type=int, default=96)
    parser.add_argument("--gpkg-tiles", type=int, default=24, help="uncached Python encoding")
    parser.add_argument("--concurrency", type=int, default=8)
    args = parser.parse_args()
    rows: list[str] = []
    with tempfile.TemporaryDirectory(prefix="gridmap-bench-api-") as tmp:
        workspace = args.workspace
        if workspace is None:
            print("building, partitioning and publishing the sample…", file=sys.stderr)
            workspace = publish_sample(Path(tmp) / "nanan.gpkg")
        else:
            shutil.copyfile(workspace, Path(tmp) / "nanan.gpkg")
            workspace = Path(tmp) / "nanan.gpkg"
        with GpkgStore(workspace) as store:
            bounds = store.grids_at().total_bounds
        rng = np.random.default_rng(0)
        lon = rng.uniform(bounds[0], bounds[2], args.lookups)
        lat = rng.uniform(bounds[1], bounds[3], args.lookups)
        lookups = [f"/api/lookup?lon={x:.6f}&lat={y:.6f}" for x, y in zip(lon, lat, strict=True)]
        tiles = building_tiles(workspace, 14, args.tiles)
        mvt = [f"/tiles/buildings/{z}/{x}/{y}.mvt" for z, x, y in tiles]
        tipg = [
            f"/collections/gridmap.buildings/tiles/WebMercatorQuad/{z}/{x}/{y}" for z, x, y in tiles
        ]

        name = f"gridmap_bench_api_{secrets.token_hex(4)}"
        with psycopg.connect(args.database_url, autocommit=True) as admin:
            admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        url = _database(args.database_url, name)
        try:
            with psycopg.connect(url, autocommit=True) as db:
                db.execute("CREATE EXTENSION IF NOT EXISTS postgis")
            print("copying the sample to PostGIS…", file=sys.stderr)
            copy_to_postgis(workspace, url)
            with gridmap_server(
                ["--workspace", str(workspace)], GRIDMAP_TILE_CACHE_SIZE="0"
            ) as base:
                load(base, lookups[:200], args.concurrency)  # warm up
                rows.append(row("lookup, GeoPackage", load(base, lookups, args.concurrency)))
                gpkg_tiles = mvt[: args.gpkg_tiles]
                load(base, mvt[-1:], 1)  # projects the layer once (not measured)
                rows.append(
                    row(
                        "buildings z14, GeoPackage, no cache",
                        load(base, gpkg_tiles, args.concurrency),
                    )
                )
            with gridmap_server(["--workspace", str(workspace)]) as base:
                load(base, mvt, args.concurrency)  # fill the cache
                rows.append(
                    row("buildings z14, GeoPackage, cached", load(base, mvt, args.concurrency))
                )
            with gridmap_server(["--database-url", url], GRIDMAP_TILE_CACHE_SIZE="0") as base:
                load(base, lookups[:200], args.concurrency)
                rows.append(row("lookup, PostGIS", load(base, lookups, args.concurrency)))
                load(base, mvt[:8], args.concurrency)
                rows.append(
                    row(
                        "buildings z14, gridmap PostGIS (ST_AsMVT)",
                        load(base, mvt, args.concurrency),
                    )
                )
            with tipg_server(url) as base:
                load(base, tipg[:8], args.concurrency)
                rows.append(
                    row("buildings z14, tipg (same table)", load(base, tipg, args.concurrency))
                )
        finally:
            with psycopg.connect(args.database_url, autocommit=True) as admin:
                admin.execute(
                    sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
                )
    print(f"\nconcurrency {args.concurrency}, loopback, {os.cpu_count()} cores\n")
    print("| task | requests | per second | p50 (ms) | p99 (ms) | statuses |")
    print("|---|---|---|---|---|---|")
    print("\n".join(rows))


if __name__ == "__main__":
    main()
