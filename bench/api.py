"""Lookups over HTTP, measured with wrk against a bare Starlette endpoint (the floor), in one run.

    .venv/bin/python bench/api.py [--workspace PUBLISHED.gpkg] [--database-url ADMIN_URL]
                                  [--seconds 10] [--connections 20] [--threads 2]
                                  [--limiter on|off] [--runs floor,gpkg,postgis,gpkg2,postgis2]

Every server is a real process on 127.0.0.1, started here on a free port and stopped at the
end: ``gridmap serve`` (one worker, then ``--workers 2``) over the GeoPackage and over PostGIS,
and the floor, ``bench/floor.py`` (a bare Starlette + orjson endpoint on uvloop/httptools that
answers a fixed lookup-sized body). The client is wrk (C; about 0.1 ms of CPU a request, where
an httpx client spent 2.2 ms, as much as the server): ``bench/wrk/lookups.lua`` asks
``/api/lookup`` at 2,000 random points inside the grids, so every answer should be a 200; a
status ≥ 400 or a socket error is counted as an error. For each server: requests per second,
p50/p99 latency (wrk --latency), errors, and the server's CPU per request (utime + stime of its
process tree, workers included, from /proc before and after the run), and their ratios to the
floor. The public rate limit runs on every request (``--limiter on``: a bucket too large to
refuse) or not at all (``off``); the GeoPackage is also run once with it off, so its cost shows.
The access log is off on public reads (gridmap's default).

Without ``--workspace`` the sample is built, partitioned and published first (a few minutes).
The PostGIS database is created and dropped here (``--database-url``: an admin URL).
Tiles are measured by bench/tiles.py. Needs wrk (Debian: apt-get install wrk).
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import numpy as np
import psycopg
import shapely
from psycopg import sql

from gridmap.store import GpkgStore, Workspace

HERE = Path(__file__).resolve().parent
BIN = Path(sys.executable).parent
TICK = os.sysconf("SC_CLK_TCK")
RUNS = ("floor", "gpkg", "gpkg-nolimit", "postgis", "gpkg2", "postgis2")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _status(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=2) as answer:
            return int(answer.status)
    except OSError:
        return 0


def tree_cpu_s(pid: int) -> float:
    """CPU seconds (user + system) used so far by ``pid`` and every process below it."""
    parents: dict[int, int] = {}
    used: dict[int, float] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2 :].split()  # after "pid (comm) "
        parents[int(entry.name)] = int(fields[1])
        used[int(entry.name)] = (int(fields[11]) + int(fields[12])) / TICK
    tree, frontier = {pid}, [pid]
    while frontier:
        parent = frontier.pop()
        children = [p for p, pp in parents.items() if pp == parent and p not in tree]
        tree.update(children)
        frontier.extend(children)
    return sum(used.get(p, 0.0) for p in tree)


@contextmanager
def server(
    command: list[str], env: dict[str, str], port: int, workers: int, ready_path: str = "/readyz"
) -> Iterator[int]:
    """Run ``command`` until the block ends; yield its pid once every worker serves
    (``ready_path`` answers 200 and each worker has logged its start)."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("GRIDMAP_", "TIPG_"))}
    with tempfile.TemporaryFile("w+") as log:
        proc = subprocess.Popen(
            command, env={**clean, **env}, stdout=subprocess.DEVNULL, stderr=log, text=True
        )
        try:
            deadline = time.monotonic() + 600
            while True:
                if proc.poll() is not None:
                    log.seek(0)
                    raise RuntimeError(f"{command[:3]} exited {proc.returncode}: {log.read()}")
                log.seek(0)
                started = log.read().count("Application startup complete")
                ready = _status(f"http://127.0.0.1:{port}{ready_path}") == 200
                if ready and (workers == 1 or started >= workers):
                    break
                if time.monotonic() > deadline:
                    raise RuntimeError(f"{' '.join(command)} did not become ready")
                time.sleep(0.5)
            yield proc.pid
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def gridmap_server(store: list[str], workers: int, limiter: bool) -> Any:
    port = free_port()
    env = {
        "GRIDMAP_TOKEN_SECRET": "bench-" + "k" * 40,
        # on: a bucket so large that it never refuses, so the limiter's work is all measured
        "GRIDMAP_RATE_LIMIT_PER_SECOND": "1000000000" if limiter else "0",
        "GRIDMAP_RATE_LIMIT_BURST": "1000000000",
    }
    command = [str(BIN / "gridmap"), "serve", "--port", str(port), "--workers", str(workers)]
    return port, server([*command, *store], env, port, workers)


def floor_server() -> Any:
    port = free_port()
    command = [sys.executable, str(HERE / "floor.py"), "--port", str(port)]
    return port, server(command, {}, port, 1)


def wrk(port: int, points: Path, seconds: int, connections: int, threads: int) -> dict[str, Any]:
    """One wrk run of lookups.lua; its JSON summary."""
    done = subprocess.run(
        [
            "wrk",
            f"-t{threads}",
            f"-c{connections}",
            f"-d{seconds}s",
            "--latency",
            "-s",
            str(HERE / "wrk" / "lookups.lua"),
            f"http://127.0.0.1:{port}",
        ],
        capture_output=True,
        text=True,
        env={**os.environ, "LOOKUP_POINTS": str(points)},
        timeout=seconds + 120,
        check=True,
    )
    return json.loads([line for line in done.stdout.splitlines() if line.startswith("{")][-1])


def measure(port: int, pid: int, points: Path, args: argparse.Namespace) -> dict[str, Any]:
    """Warm up, then one measured wrk run with the server's CPU counted."""
    wrk(port, points, 2, args.connections, args.threads)
    load = os.getloadavg()[0]
    before = tree_cpu_s(pid)
    result = wrk(port, points, args.seconds, args.connections, args.threads)
    used = tree_cpu_s(pid) - before
    return {
        **result,
        "per_second": result["requests"] / result["seconds"],
        "cpu_ms": 1000 * used / max(result["requests"], 1),
        "load": load,
    }


def lookup_points(workspace: Path, n: int, path: Path) -> None:
    """``n`` random points inside the grids in force, "lon,lat" per line."""
    with GpkgStore(workspace) as store:
        grids = store.grids_at()
    covered = shapely.union_all(np.asarray(grids.geometry.array))
    shapely.prepare(covered)
    x0, y0, x1, y1 = grids.total_bounds
    rng = np.random.default_rng(0)
    lines: list[str] = []
    while len(lines) < n:
        x, y = rng.uniform(x0, x1, n), rng.uniform(y0, y1, n)
        inside = shapely.contains_xy(covered, x, y)
        lines += [f"{a:.6f},{b:.6f}" for a, b in zip(x[inside], y[inside], strict=True)]
    path.write_text("\n".join(lines[:n]) + "\n")


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


def _database(url: str, name: str) -> str:
    if url.startswith(("postgresql://", "postgres://")):
        return urlunsplit(urlsplit(url)._replace(path=f"/{name}"))
    return psycopg.conninfo.make_conninfo(url, dbname=name)


@contextmanager
def postgis_copy(admin_url: str, workspace: Path) -> Iterator[str]:
    """A new database holding ``workspace``, dropped at the end."""
    name = f"gridmap_bench_api_{secrets.token_hex(4)}"
    with psycopg.connect(admin_url, autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    url = _database(admin_url, name)
    try:
        with psycopg.connect(url, autocommit=True) as db:
            db.execute("CREATE EXTENSION IF NOT EXISTS postgis")
        print("copying the sample to PostGIS…", file=sys.stderr)
        copy_to_postgis(workspace, url)
        yield url
    finally:
        with psycopg.connect(admin_url, autocommit=True) as admin:
            admin.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )


def table(rows: list[tuple[str, dict[str, Any]]]) -> str:
    floor = dict(rows).get("floor: Starlette + orjson, 1 worker")
    lines = [
        "| server | req/s | p50 ms | p99 ms | errors | server CPU ms/req | req/s ÷ floor "
        "| CPU ÷ floor | load avg |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for name, r in rows:
        rate = f"{r['per_second'] / floor['per_second']:.2f}" if floor else "–"
        cpu = f"{r['cpu_ms'] / floor['cpu_ms']:.1f}" if floor and floor["cpu_ms"] else "–"
        lines.append(
            f"| {name} | {r['per_second']:,.0f} | {r['p50_us'] / 1000:.1f} | "
            f"{r['p99_us'] / 1000:.1f} | {r['non2xx_or_errors']} | {r['cpu_ms']:.3f} | "
            f"{rate} | {cpu} | {r['load']:.1f} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--workspace", type=Path, help="a published workspace (else built here)")
    parser.add_argument(
        "--database-url",
        default=os.environ.get("GRIDMAP_TEST_DATABASE_URL")
        or "postgresql://postgres@127.0.0.1:5432/postgres",
        help="an admin URL: a database is created there for the run and dropped",
    )
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, default=20)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--limiter", choices=["on", "off"], default="on")
    parser.add_argument("--runs", default=",".join(RUNS), help=f"some of {', '.join(RUNS)}")
    args = parser.parse_args()
    runs = [r.strip() for r in args.runs.split(",") if r.strip()]
    if unknown := set(runs) - set(RUNS):
        sys.exit(f"--runs: unknown {sorted(unknown)}; choose from {', '.join(RUNS)}")
    if shutil.which("wrk") is None:
        sys.exit("bench/api.py needs wrk (Debian: apt-get install wrk)")
    limiter = args.limiter == "on"
    rows: list[tuple[str, dict[str, Any]]] = []
    with tempfile.TemporaryDirectory(prefix="gridmap-bench-api-") as tmp:
        workspace = Path(tmp) / "nanan.gpkg"
        if args.workspace is None:
            print("building, partitioning and publishing the sample…", file=sys.stderr)
            publish_sample(workspace)
        else:
            shutil.copyfile(args.workspace, workspace)
        points = Path(tmp) / "points.txt"
        lookup_points(workspace, 2000, points)

        def run(name: str, made: Any) -> None:
            port, context = made
            print(f"{name}…", file=sys.stderr)
            with context as pid:
                rows.append((name, measure(port, pid, points, args)))

        gpkg = ["--workspace", str(workspace)]
        mode = f"limiter {args.limiter}"
        if "floor" in runs:
            run("floor: Starlette + orjson, 1 worker", floor_server())
        if "gpkg" in runs:
            run(f"GeoPackage, 1 worker, {mode}", gridmap_server(gpkg, 1, limiter))
        if "gpkg-nolimit" in runs and limiter:
            run("GeoPackage, 1 worker, limiter off", gridmap_server(gpkg, 1, False))
        if "gpkg2" in runs:
            run(f"GeoPackage, 2 workers, {mode}", gridmap_server(gpkg, 2, limiter))
        if "postgis" in runs or "postgis2" in runs:
            with postgis_copy(args.database_url, workspace) as url:
                pg = ["--database-url", url]
                if "postgis" in runs:
                    run(f"PostGIS, 1 worker, {mode}", gridmap_server(pg, 1, limiter))
                if "postgis2" in runs:
                    run(f"PostGIS, 2 workers, {mode}", gridmap_server(pg, 2, limiter))
    print(
        f"\nwrk {args.threads} threads, {args.connections} connections, {args.seconds} s a run, "
        f"loopback, {os.cpu_count()} cores; /api/lookup at 2,000 points inside the grids\n"
    )
    print(table(rows))


if __name__ == "__main__":
    main()
