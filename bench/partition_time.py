"""Wall and CPU time of `gridmap partition` of the whole sample district (issue 13: under 8 s
wall on 2 cores), optionally against another commit in the same run.

    .venv/bin/python bench/partition_time.py [--runs 3] [--workers 2] [--against REF]
                                             [--sample nanan.gpkg]

Each run partitions a fresh copy of the sample (`gridmap sample`, seed 0; built here unless
``--sample`` names one) with `gridmap partition --workers N --json`, in its own process, and
records user and system CPU of the process and its children (the workers), the wall time, the
load average when it started, and the plan's quality (grids, in band, mean Polsby-Popper), so a
faster run that made worse grids shows. With ``--against REF`` the commit REF is checked out
into a temporary git worktree and the two alternate run by run (base, this, base, this...): on
a shared machine only figures taken side by side compare. Prints a table and the medians;
nothing is asserted. Wall time means little when the load average is above the core count.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
GRIDMAP = Path(sys.executable).with_name("gridmap")


def timed_partition(tree: Path, sample: Path, scratch: Path, workers: int) -> dict[str, Any]:
    """One `gridmap partition` of a fresh copy of ``sample`` with the code of ``tree``."""
    copy = scratch / "run.gpkg"
    shutil.copyfile(sample, copy)
    load = os.getloadavg()[0]
    env = {**os.environ, "PYTHONPATH": str(tree)}
    command = [sys.executable, str(GRIDMAP), "partition", "--workspace", str(copy)]
    command += ["--workers", str(workers), "--json"]
    start = time.perf_counter()
    done = subprocess.run(command, cwd=tree, env=env, stdout=subprocess.PIPE, text=True)
    wall = time.perf_counter() - start
    # the CPU of the command and of the processes it reaped (its workers), as /usr/bin/time
    cpu = _children_cpu()
    if done.returncode:
        raise SystemExit(f"gridmap partition failed ({done.returncode}) in {tree}")
    report = json.loads(done.stdout.splitlines()[-1])
    copy.unlink()
    return {
        "user_s": cpu[0],
        "sys_s": cpu[1],
        "wall_s": wall,
        "load": load,
        "grids": report["grids"],
        "in_band": report["in_band"],
        "compactness": report["mean_compactness"],
    }


_SEEN = [0.0, 0.0]


def _children_cpu() -> tuple[float, float]:
    """CPU of the children reaped since the last call (user, system)."""
    now = resource.getrusage(resource.RUSAGE_CHILDREN)
    used = (now.ru_utime - _SEEN[0], now.ru_stime - _SEEN[1])
    _SEEN[:] = [now.ru_utime, now.ru_stime]
    return used


@contextlib.contextmanager
def worktree(ref: str) -> Iterator[Path]:
    """A temporary git worktree of ``ref`` (removed afterwards)."""
    where = Path(tempfile.mkdtemp(prefix="gridmap-base-")) / "tree"
    subprocess.run(["git", "worktree", "add", "--detach", str(where), ref], cwd=ROOT, check=True)
    try:
        yield where
    finally:
        subprocess.run(["git", "worktree", "remove", "--force", str(where)], cwd=ROOT, check=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--against", help="a git commit to run side by side with this tree")
    parser.add_argument("--sample", type=Path, help="a sample workspace (else built here)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp, contextlib.ExitStack() as stack:
        scratch = Path(tmp)
        sample = args.sample
        if sample is None:
            sample = scratch / "nanan.gpkg"
            subprocess.run([str(GRIDMAP), "sample", "--out", str(sample)], check=True,
                           stdout=subprocess.DEVNULL)  # fmt: skip
        trees = {"this": ROOT}
        if args.against:
            trees = {args.against: stack.enter_context(worktree(args.against)), "this": ROOT}
        _children_cpu()
        rows: list[tuple[str, dict[str, Any]]] = []
        for k in range(args.runs):
            for label, tree in trees.items():
                row = timed_partition(tree, sample, scratch, args.workers)
                rows.append((label, row))
                print(
                    f"run {k + 1} {label:>10}: {row['wall_s']:6.2f} s wall, "
                    f"{row['user_s']:6.2f} s user + {row['sys_s']:4.2f} s sys, load "
                    f"{row['load']:4.1f}; {row['grids']} grids, {row['in_band']} in band, "
                    f"mean Polsby-Popper {row['compactness']:.4f}",
                    flush=True,
                )
        print("\nmedians:")
        for label in trees:
            mine = [r for name, r in rows if name == label]
            wall = statistics.median(r["wall_s"] for r in mine)
            cpu = statistics.median(r["user_s"] + r["sys_s"] for r in mine)
            print(f"  {label:>10}: {wall:6.2f} s wall, {cpu:6.2f} s CPU")


if __name__ == "__main__":
    main()
