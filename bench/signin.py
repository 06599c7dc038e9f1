"""Sign-in abuse against lookups, measured with wrk (a C load generator) in one run.

    .venv/bin/python bench/signin.py --workspace PUBLISHED.gpkg [--seconds 10]

A real ``gridmap serve`` (one uvicorn worker) on 127.0.0.1 over a published workspace. Lookups
at random points of the district with wrk (8 connections), first alone, then while 20 other
connections spray ``POST /api/token`` with random names (the red team's attack). Twice: with
the sign-in guard as shipped, and with it opened up (no per-address or per-name limit, 64
hashes at once), which is how the server behaved before. Prints the lookups' p50/p99 and the
ratio under abuse, the sign-in attempts that got through to a hash, and the server's memory.
The public rate limit on lookups is off (one wrk address would hit it at once).
Needs wrk (Debian: apt-get install wrk).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from gridmap.store import GpkgStore

HERE = Path(__file__).resolve().parent
BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def lookup_points(workspace: Path, n: int, path: Path) -> None:
    store = GpkgStore(workspace)
    try:
        grids = store.grids_at()
    finally:
        store.close()
    rng = np.random.default_rng(0)
    minx, miny, maxx, maxy = grids.total_bounds
    xs, ys = rng.uniform(minx, maxx, n), rng.uniform(miny, maxy, n)
    path.write_text("".join(f"{x:.6f},{y:.6f}\n" for x, y in zip(xs, ys, strict=True)))


def wrk(base: str, script: str, connections: int, seconds: int, env: dict[str, str]):  # type: ignore[no-untyped-def]
    return subprocess.Popen(
        ["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "-s", str(HERE / "wrk" / script), base],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, **env},
    )


def last_json(process: subprocess.Popen) -> dict:  # type: ignore[type-arg]
    out, _ = process.communicate(timeout=300)
    return json.loads([line for line in out.splitlines() if line.startswith("{")][-1])


def measure(workspace: Path, guard: dict[str, str], seconds: int, points: Path) -> dict:  # type: ignore[type-arg]
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = {
        **os.environ,
        "GRIDMAP_RATE_LIMIT_PER_SECOND": "0",
        "GRIDMAP_TOKEN_SECRET": "bench-" + "k" * 40,
        **guard,
    }
    server = subprocess.Popen(
        [str(BIN / "gridmap"), "serve", "--workspace", str(workspace), "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1):
                    pass
                out = subprocess.run(
                    ["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", base + "/readyz"],
                    capture_output=True,
                    text=True,
                ).stdout
                if out == "200":
                    break
            except OSError:
                pass
            if time.monotonic() > deadline or server.poll() is not None:
                raise RuntimeError("gridmap serve did not start")
            time.sleep(0.5)
        lookup_env = {"LOOKUP_POINTS": str(points)}
        last_json(wrk(base, "lookups.lua", 8, 3, lookup_env))  # warm up
        alone = last_json(wrk(base, "lookups.lua", 8, seconds, lookup_env))
        memory_before = rss_mb(server.pid)
        spray = wrk(base, "sign_in_spray.lua", 20, seconds + 4, {})
        time.sleep(2)
        abused = last_json(wrk(base, "lookups.lua", 8, seconds, lookup_env))
        sprayed = last_json(spray)
        memory_after = rss_mb(server.pid)
    finally:
        server.terminate()
        server.wait(timeout=30)
    return {
        "alone": alone,
        "under_abuse": abused,
        "spray": sprayed,
        "p50_ratio": abused["p50_us"] / max(alone["p50_us"], 1),
        "p99_ratio": abused["p99_us"] / max(alone["p99_us"], 1),
        "rss_mb": (round(memory_before), round(memory_after)),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--workspace", type=Path, required=True, help="a published workspace")
    parser.add_argument("--seconds", type=int, default=10)
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("bench/signin.py needs wrk (Debian: apt-get install wrk)")
    with tempfile.TemporaryDirectory() as tmp:
        workspace = Path(tmp) / "w.gpkg"
        shutil.copy(args.workspace, workspace)
        points = Path(tmp) / "points.txt"
        lookup_points(workspace, 2000, points)
        runs = {
            "guard as shipped": {},
            "guard opened (as before)": {
                "GRIDMAP_SIGN_IN_PER_MINUTE": "0",
                "GRIDMAP_SIGN_IN_CONCURRENCY": "64",
            },
        }
        print(
            f"{'':28} {'lookups/s':>10} {'p50 ms':>8} {'p99 ms':>8} {'x p50':>6} "
            f"{'x p99':>6} {'sign-ins':>9} {'hashed':>6} {'RSS MB':>11}"
        )
        for name, guard in runs.items():
            r = measure(workspace, guard, args.seconds, points)
            for phase in ("alone", "under_abuse"):
                p = r[phase]
                rate = p["requests"] / p["seconds"]
                extra = (
                    f"{r['p50_ratio']:6.2f} {r['p99_ratio']:6.2f} "
                    f"{r['spray']['sign_in_attempts']:9d} "
                    f"{r['spray']['hashed']:6d} "
                    f"{r['rss_mb'][0]:5d}→{r['rss_mb'][1]:<5d}"
                    if phase == "under_abuse"
                    else ""
                )
                print(
                    f"{name + ' / ' + phase:28.28} {rate:10.0f} {p['p50_us'] / 1000:8.1f} "
                    f"{p['p99_us'] / 1000:8.1f} {extra}"
                )


if __name__ == "__main__":
    main()
