"""``gridmap serve --workers 2``: two real uvicorn worker processes on one port, both answering.

Which worker takes a connection is the kernel's choice, so each is made to answer alone: the
other is stopped (SIGSTOP: it accepts nothing) while fresh connections ask for lookups, then
resumed. Both engines: each worker opens the store itself (the settings reach it through the
environment).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import numpy as np
import shapely
from published import (
    SECRET,
    engine,
    free_port,
    sample_gpkg,
    sample_postgis,
    sample_store,
    target_of,
)

from gridmap.engine.assign import locate

__all__ = [
    "engine",
    "sample_gpkg",
    "sample_postgis",
    "sample_store",
]  # fixtures, for pytest to find


def _workers_of(pid: int) -> list[int]:
    """The uvicorn worker processes under ``pid`` (spawned; not the resource tracker)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            command = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        parent = int(stat[stat.rindex(")") + 2 :].split()[1])
        if parent == pid and b"spawn_main" in command:
            found.append(int(entry.name))
    return sorted(found)


@contextmanager
def two_workers(args: list[str]) -> Iterator[tuple[str, list[int]]]:
    """``gridmap serve --workers 2`` until the block ends: its URL and its workers' pids, once
    both have finished starting."""
    port = free_port()
    command = [str(Path(sys.executable).with_name("gridmap")), "serve", "--port", str(port)]
    environ = {k: v for k, v in os.environ.items() if not k.startswith("GRIDMAP_")}
    env = {**environ, "GRIDMAP_TOKEN_SECRET": SECRET, "GRIDMAP_RATE_LIMIT_PER_SECOND": "0"}
    proc = subprocess.Popen(
        [*command, "--workers", "2", *args],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    log: list[str] = []
    reader = threading.Thread(target=lambda: log.extend(proc.stderr), daemon=True)  # type: ignore[arg-type]
    reader.start()
    try:
        for _ in range(1500):  # two processes build the sample's indexes: up to minutes here
            if proc.poll() is not None:
                reader.join(5)
                raise RuntimeError(f"gridmap serve exited {proc.returncode}: {''.join(log)}")
            if sum("Application startup complete" in line for line in log) >= 2:
                break
            time.sleep(0.2)
        else:
            raise RuntimeError(f"the two workers did not both start: {''.join(log)}")
        workers = _workers_of(proc.pid)
        assert len(workers) == 2, (workers, "".join(log))
        yield f"http://127.0.0.1:{port}", workers
    finally:
        for pid in _workers_of(proc.pid):
            os.kill(pid, signal.SIGCONT)
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@contextmanager
def stopped(pid: int) -> Iterator[None]:
    os.kill(pid, signal.SIGSTOP)
    try:
        yield
    finally:
        os.kill(pid, signal.SIGCONT)


def test_two_workers_each_answer_lookups(engine, request, sample_store) -> None:
    target = target_of(request, engine)
    args = (
        ["--workspace", str(target["workspace"])]
        if engine == "gpkg"
        else ["--database-url", target["database_url"]]
    )
    grids = sample_store.grids_at()
    inner = shapely.point_on_surface(np.asarray(grids.geometry.array))[:: max(1, len(grids) // 5)]
    expected = locate(inner, grids)["grid"].tolist()
    with two_workers(args) as (url, workers):
        for answering, other in (workers, workers[::-1]):
            with stopped(other):
                # a new connection for each lookup: only the running worker can accept it
                codes = []
                for point in inner:
                    answer = httpx.get(
                        f"{url}/api/lookup", params={"lon": point.x, "lat": point.y}, timeout=60
                    )
                    assert answer.status_code == 200, (answering, answer.text)
                    codes.append(answer.json()["grid"]["code"])
                assert codes == expected, answering
