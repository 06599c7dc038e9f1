"""Real processes: two writers racing from one base, and a writer killed mid-transaction."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import psycopg
import shapely
from conftest import open_target
from storedata import C1, lattice, make_plan

from gridmap.engine.validate.check import validate_coverage

CHILD = Path(__file__).with_name("child.py")
PATIENCE_S = 300.0  # a generous bound on waiting for a child, so that a hang fails the test


def spawn(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, str(CHILD), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=CHILD.parent,
    )


def wait_for(
    condition: Callable[[], bool], children: list[subprocess.Popen[str]], what: str
) -> None:
    deadline = time.monotonic() + PATIENCE_S
    while not condition():
        for child in children:
            if child.poll() is not None:
                _, err = child.communicate()
                raise AssertionError(f"child exited ({child.returncode}) before {what}:\n{err}")
        assert time.monotonic() < deadline, f"no {what} after {PATIENCE_S} s"
        time.sleep(0.005)


def test_two_writers_from_one_base_lose_nothing(store_target: tuple[str, str], tmp_path) -> None:  # type: ignore[no-untyped-def]
    engine, target = store_target
    with open_target(engine, target) as store:
        plan = make_plan(store, C1, n=6)
    go = tmp_path / "go"
    edits = {"bob": (f"{C1}-C0000", f"{C1}002"), "carol": (f"{C1}-C0005", f"{C1}001")}
    children = {
        actor: spawn(
            engine, target, "race", plan, actor, cell, grid, str(tmp_path / actor), str(go)
        )
        for actor, (cell, grid) in edits.items()
    }
    wait_for(
        lambda: all((tmp_path / a).exists() for a in edits), list(children.values()), "both read"
    )
    go.touch()  # both hold revision 1 as their base; now both commit
    results = {}
    for actor, child in children.items():
        out, err = child.communicate(timeout=PATIENCE_S)
        assert child.returncode == 0, err
        results[actor] = [json.loads(line) for line in out.splitlines()]

    first = {actor: attempts[0] for actor, attempts in results.items()}
    winners = [a for a, r in first.items() if r["outcome"] == "ok"]
    assert len(winners) == 1, results
    [winner] = winners
    [loser] = [a for a in edits if a != winner]
    assert first[winner] == {"outcome": "ok", "base": 1, "number": 2}
    lost = first[loser]
    assert (lost["outcome"], lost["base"], lost["winner"], lost["winner_by"]) == (
        "conflict",
        1,
        2,
        winner,
    )
    assert f"revision 2 by {winner}" in lost["message"]
    assert results[loser][1] == {"outcome": "ok", "base": 2, "number": 3}

    with open_target(engine, target) as store:
        assert store.plan(plan).head == 3
        head = store.revision(plan).cells
        for cell, grid in edits.values():  # both edits are in the head
            assert head.loc[cell, "grid"] == grid
        commits = [a for a in store.audit(plan_id=plan) if a.action == "commit"]
        assert [(a.actor, a.outcome, a.revision) for a in commits] == [
            (winner, "ok", 2),
            (loser, "conflict", None),
            (loser, "ok", 3),
        ]


def test_a_writer_killed_mid_transaction_leaves_the_prior_state(
    store_target: tuple[str, str],
) -> None:
    engine, target = store_target
    prior_cells, prior_grids = lattice(2_500)
    with open_target(engine, target) as store:
        plan = store.create_plan(
            prior_cells, prior_grids, name="lattice", params={}, actor="alice"
        ).plan_id
        audit_before = store.audit()
    if engine == "postgis":
        target = psycopg.conninfo.make_conninfo(target, application_name=f"gridmap_kill_{plan}")
    child = spawn(engine, target, "bigwrite", plan, "90000")
    with _gpkg_writing(target) if engine == "gpkg" else _pg_writing(target) as in_transaction:
        wait_for(in_transaction, [child], "the write transaction")
        os.kill(child.pid, signal.SIGKILL)
    out, _ = child.communicate(timeout=PATIENCE_S)
    assert child.returncode == -signal.SIGKILL
    assert "start" in out and "done" not in out  # killed inside the commit

    if engine == "gpkg":
        with sqlite3.connect(target) as conn:
            assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    with open_target(engine, target) as store:
        assert store.plan(plan).head == 1
        assert [r.number for r in store.revisions(plan)] == [1]
        assert store.audit() == audit_before
        prior = store.revision(plan)
        assert prior.cells.index.tolist() == prior_cells.index.tolist()
        assert prior.cells["grid"].tolist() == prior_cells["grid"].tolist()
        assert sorted(prior.grids["code"]) == sorted(prior_grids["code"])
    boundary = shapely.box(*prior_cells.total_bounds)
    report = validate_coverage(prior.grids, boundary)
    assert report.ok, report.issues


@contextlib.contextmanager
def _gpkg_writing(path: str) -> Iterator[Callable[[], bool]]:
    """True once another connection holds the write lock and has written MBs to the WAL."""
    wal = Path(path + "-wal")
    probe = sqlite3.connect(path, timeout=0, isolation_level=None)

    def writing() -> bool:
        try:
            probe.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError:  # "database is locked": the child is writing
            return wal.exists() and wal.stat().st_size > 4_000_000
        probe.execute("ROLLBACK")
        return False

    try:
        yield writing
    finally:
        probe.close()


@contextlib.contextmanager
def _pg_writing(conninfo: str) -> Iterator[Callable[[], bool]]:
    """True once the child's connection is inside a transaction that has written."""
    name = psycopg.conninfo.conninfo_to_dict(conninfo)["application_name"]
    probe_info = psycopg.conninfo.make_conninfo(conninfo, application_name="gridmap_probe")

    with psycopg.connect(probe_info, autocommit=True) as probe:

        def writing() -> bool:
            row = probe.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE application_name = %s"
                " AND backend_xid IS NOT NULL AND state <> 'idle'",
                (name,),
            ).fetchone()
            return bool(row and row[0])

        yield writing
