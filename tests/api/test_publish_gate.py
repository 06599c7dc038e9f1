"""Publishing is one gate and one transaction, over HTTP and from the shell, on both engines.

- The API and ``gridmap publish`` refuse the same defective plan.
- ``gridmap publish`` killed (SIGKILL) at several points — before its transaction, inside it,
  or not at all — leaves the old plan in force with every open incident on its old grid, or
  the new plan with every open incident on its new grid: never the one without the other.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import handmade
import psycopg
import shapely
from seeded import World, seeded_gpkg, seeded_postgis, world

from gridmap.api.workflow import OPEN_STATUSES
from gridmap.engine.assign import locate
from gridmap.engine.plan import dissolve_grids
from gridmap.store.contract import IncidentEvent, Store

__all__ = ["seeded_gpkg", "seeded_postgis", "world"]

GRIDMAP = str(Path(sys.executable).with_name("gridmap"))
PATIENCE_S = 300.0  # a bound on waiting for a child, so that a hang fails the test


def target_args(w: World) -> list[str]:
    """--workspace or --database-url of the world's store."""
    if w.settings.database_url:
        return ["--database-url", w.settings.database_url]
    return ["--workspace", str(w.settings.workspace)]


def cli(*args: str) -> subprocess.Popen[str]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("GRIDMAP_")}
    return subprocess.Popen(
        [GRIDMAP, *args],
        env=environ,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def swapped_plan(store: Store, community: str) -> str:
    """A draft equal to the plan in force but with the codes of two grids of ``community``
    swapped: a valid plan under which every incident in those grids changes grid."""
    in_force = store.grids_at()
    [(plan_id, revision)] = set(zip(in_force["plan_id"], in_force["revision"], strict=True))
    cells = store.revision(plan_id, int(revision)).cells.copy()
    a, b = sorted(c for c in cells["grid"].unique() if c.startswith(community))[:2]
    cells["grid"] = cells["grid"].map(lambda g: b if g == a else a if g == b else g)
    made = store.create_plan(cells, dissolve_grids(cells), name="swap", params={}, actor="t")
    return made.plan_id


def add_incidents(store: Store, n: int) -> None:
    """``n`` open incidents spread over both communities, each filed under its grid in force."""
    grids = store.grids_at()
    points = [
        handmade.point_in(k % 2, 0.05 + 0.9 * (k * 7 % 97) / 97, 0.05 + 0.9 * (k * 13 % 89) / 89)
        for k in range(n)
    ]
    found = locate(shapely.points(points), grids, near_m=0.0)["grid"]
    at = dt.datetime.now(dt.UTC)
    for (lon, lat), code in zip(points, found, strict=True):
        store.add_incident(
            {"category": "c", "status": "reported", "lon": lon, "lat": lat, "grid_code": code},
            actor="t",
            event=IncidentEvent("", 1, at, "t", "report", None, "reported"),
        )


def misfiled(store: Store) -> list[str]:
    """Open incidents whose grid is not the grid in force holding their point."""
    incidents = [i for i in store.incidents() if i.fields["status"] in OPEN_STATUSES]
    points = shapely.points([(i.fields["lon"], i.fields["lat"]) for i in incidents])
    found = locate(points, store.grids_at(), near_m=0.0)["grid"]
    return [i.id for i, code in zip(incidents, found, strict=True) if i.fields["grid_code"] != code]


def test_the_cli_and_the_api_refuse_the_same_defective_plan(world: World) -> None:
    rev = world.store.revision(world.plan_id)
    cells = rev.cells.drop(index=rev.cells.index[0])  # a gap
    made = world.store.create_plan(
        cells, dissolve_grids(cells), name="with a gap", params={}, actor="paula"
    )
    answer = world.client.post(f"/api/plans/{made.plan_id}/publish", headers=world.as_role("admin"))
    assert answer.status_code == 409 and answer.json()["error"] == "publish_refused"

    child = cli("publish", made.plan_id, *target_args(world), "--json")
    out, err = child.communicate(timeout=PATIENCE_S)
    assert child.returncode == 2, (out, err)
    assert '"error": "publish_refused"' in out and "gap" in out
    assert world.store.plan(made.plan_id).status == "draft"
    assert {p.plan_id for p in world.store.publications()} == {world.plan_id}


def _writing(world: World) -> Callable[[], bool]:
    """Whether a write transaction of another process is open on the world's store now."""
    url = world.settings.database_url
    if url:

        def publishing() -> bool:  # the publish holds its communities' advisory locks
            with psycopg.connect(url, autocommit=True) as conn:
                row = conn.execute(
                    "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted"
                ).fetchone()
            return bool(row and row[0])

        return publishing

    path = str(world.settings.workspace)

    def locked() -> bool:  # the publish holds SQLite's write lock (BEGIN IMMEDIATE)
        conn = sqlite3.connect(path, timeout=0, isolation_level=None)
        try:
            conn.execute("BEGIN IMMEDIATE")
            conn.execute("ROLLBACK")
            return False
        except sqlite3.OperationalError:
            return True
        finally:
            conn.close()

    return locked


def test_a_killed_publish_leaves_the_old_plan_or_the_new_one_whole(world: World) -> None:
    store = world.store
    add_incidents(store, 200)  # a regrid of a few hundred incidents: a transaction that lasts
    for incident_id in misfiled(store):  # the seed's incident: filed under its grid in force
        seeded = store.incident(incident_id)
        where = locate(
            shapely.points([(seeded.fields["lon"], seeded.fields["lat"])]), store.grids_at()
        )
        event = IncidentEvent("", 0, seeded.created_at, "t", "edit", "reported", "reported")
        store.update_incident(
            seeded.id, seeded.version, {"grid_code": where["grid"][0]}, actor="t", event=event
        )
    assert misfiled(store) == []
    writing = _writing(world)
    # Kill points: early (before the transaction), inside the transaction (seen holding the
    # write lock), inside after a few more milliseconds, and not at all.
    rounds = [("early", 0.3), ("in", 0.0), ("in", 0.02), ("in", 0.08), ("never", 0.0)]
    outcomes = []
    for k, (when, extra) in enumerate(rounds):
        before = {p.community_code: p.plan_id for p in store.publications()}
        community = (handmade.C1, handmade.C2)[k % 2]
        plan_id = swapped_plan(store, community)
        child = cli("publish", plan_id, *target_args(world), "--actor", "killer")
        if when == "early":
            time.sleep(extra)
        elif when == "in":
            deadline = time.monotonic() + PATIENCE_S
            while not writing() and child.poll() is None:
                assert time.monotonic() < deadline, "the publish never started writing"
                time.sleep(0.002)
            time.sleep(extra)
        if when != "never":
            with contextlib.suppress(ProcessLookupError):
                os.kill(child.pid, signal.SIGKILL)
        out, err = child.communicate(timeout=PATIENCE_S)
        after = {p.community_code: p.plan_id for p in store.publications()}
        new = after[community] == plan_id
        outcomes.append((when, extra, child.returncode, "new" if new else "old"))
        assert after == ({c: plan_id for c in after} if new else before), (when, out, err)
        assert misfiled(store) == [], (when, extra, "new" if new else "old")
        if when == "never":
            assert child.returncode == 0 and new, err
    print(outcomes)  # which rounds were cut before and which after the commit
