"""A real backup: ``gridmap db dump`` writes a whole store into one GeoPackage and ``gridmap db
load`` restores it; GeoPackage → PostGIS → GeoPackage gives every table back equal."""

from __future__ import annotations

import datetime as dt
import json
import os
import secrets
import sqlite3
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import geopandas as gpd
import pandas as pd
import psycopg
import pytest
import shapely
from conftest import _database, open_target
from psycopg import sql
from storedata import C1, C2, grids_of, make_plan, moved

from gridmap.store import GpkgStore
from gridmap.store.contract import IncidentEvent, Store

GRIDMAP = str(Path(sys.executable).with_name("gridmap"))
T1 = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)


def fill(store: Store) -> None:
    """Something in every table: layers, plans with several revisions (published, replaced,
    archived, a draft submitted for publication), staff roles, incidents with events and a
    photo, departments, users (one with workflow duties), and so the audit log."""
    staff = pd.DataFrame(
        {"id": ["S1", "S2"], "name": ["张三", "李四"], "role": ["police", "grid_head"]}
    )
    divisions = gpd.GeoDataFrame(
        {"code": [C1], "name": ["甲社区"], "level": ["community"], "parent_code": ["500108003000"]},
        geometry=[shapely.box(106.56, 29.52, 106.57, 29.53)],
        crs=4326,
    )
    store.write({"staff": staff, "divisions": divisions}, actor="loader")
    first = make_plan(store, C1)
    head = store.revision(first)
    cells = moved(head.cells, f"{C1}-C0000", f"{C1}002")
    store.commit(first, 1, cells, grids_of(cells), actor="bob", operation="move")
    store.publish([first], actor="ada", at=T1)
    second = store.copy_plan(first, name="第二版", actor="paula").plan_id
    store.publish([second], actor="ada")  # replaces the first: it is archived
    store.archive(make_plan(store, C2), actor="ada")
    store.submit_plan(make_plan(store, C2), "请审核", actor="paula")
    store.assign_staff("S1", f"{C1}001", "police", actor="ada")
    store.assign_staff("S2", f"{C1}002", "grid_head", actor="ada")
    at = dt.datetime(2026, 3, 1, 8, tzinfo=dt.UTC)
    made = store.add_incident(
        {"category": "市容", "status": "reported", "lon": 106.561, "lat": 29.521,
         "grid_code": f"{C1}001", "deadline": at, "reporter_contact": "王女士"},
        actor="sam",
        event=IncidentEvent("", 1, at, "sam", "report", None, "reported"),
    )  # fmt: skip
    store.update_incident(
        made.id,
        1,
        {"status": "registered"},
        actor="sam",
        event=IncidentEvent("", 0, at, "sam", "register", "reported", "registered", "ok"),
    )
    store.update_incident(
        made.id,
        2,
        {"department": "chengguan", "stage_deadline": at, "extension_hours": 4.5},
        actor="sam",
        event=IncidentEvent("", 0, at, "sam", "dispatch", "registered", "dispatched"),
    )
    store.add_photo(
        made.id,
        kind="before",
        content_type="image/png",
        width=1,
        height=1,
        data=b"\x89PNG\r\n\x1a\n\x00\x01\xff",
        actor="sam",
    )
    store.set_photo_public(made.id, 1, True, actor="sam")
    store.put_department("chengguan", "城管执法中队", "023-62800001", actor="ada")
    store.add_user("ada", "admin", "scrypt$16384$8$1$c2FsdA$aGFzaA", actor="seed")
    store.add_user("bob", "planner", "scrypt$16384$8$1$c2FsdA$b3RoZXI", actor="seed")
    rules = {"base_yuan": 100, "assessed_yuan": 100, "full_share": 0.9, "pro_rata": True}
    store.set_subsidy_rules(rules | {"reopened_deduction_yuan": 20.5}, actor="ada")
    store.add_user(
        "hal", "staff", "scrypt$x", actor="seed", duties=["handler"], department="chengguan"
    )


def tables(path: Path) -> dict[str, list[tuple[Any, ...]]]:
    """Every table of a GeoPackage but SQLite's and the R-tree's internals: its rows without
    the GeoPackage row id, sorted; gpkg_contents without its last_change time."""
    out = {}
    with sqlite3.connect(path) as conn:
        names = [
            n
            for (n,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
            if not n.startswith(("sqlite_", "rtree_"))
        ]
        for name in sorted(names):
            columns = [
                c
                for (_, c, *_) in conn.execute(f'PRAGMA table_info("{name}")')
                if c not in ("fid", "last_change")
            ]
            query = f'SELECT {", ".join(f"{chr(34)}{c}{chr(34)}" for c in columns)} FROM "{name}"'
            out[name] = sorted(conn.execute(query).fetchall(), key=repr)
    return out


def gridmap(*args: str) -> dict[str, Any]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("GRIDMAP_")}
    done = subprocess.run(
        [GRIDMAP, *args, "--json"], capture_output=True, text=True, env=environ, timeout=300
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.splitlines()[-1])


@pytest.fixture
def empty_postgis(
    postgis_url: str, postgis_template: str, drop_database: Callable[[str, str], None]
) -> Iterator[str]:
    """The URL of a new database with PostGIS and the migrations, and nothing else."""
    name = f"gridmap_backup_{secrets.token_hex(6)}"
    create = sql.SQL("CREATE DATABASE {} TEMPLATE {}")
    with psycopg.connect(postgis_url, autocommit=True) as admin:
        admin.execute(create.format(sql.Identifier(name), sql.Identifier(postgis_template)))
    try:
        yield _database(postgis_url, name)
    finally:
        drop_database(postgis_url, name)


@pytest.mark.postgis
def test_dump_and_load_round_trip_gpkg_postgis_gpkg(tmp_path: Path, empty_postgis: str) -> None:
    url = empty_postgis
    source = tmp_path / "source.gpkg"
    with GpkgStore(source) as store:
        fill(store)
        want_plans = [(p.id, p.status, p.head) for p in store.plans()]
        want_audit = store.audit()
    loaded = gridmap("db", "load", "--from", str(source), "--database-url", url)
    assert loaded["records"]["plan_revisions"] == 5 and loaded["records"]["users"] == 3
    assert loaded["records"]["plan_submissions"] == 1
    assert loaded["records"]["incident_photos"] == 1 and loaded["records"]["departments"] == 1
    assert loaded["rows"] == {"divisions": 1, "staff": 2}

    back = tmp_path / "back.gpkg"
    dumped = gridmap("db", "dump", "--database-url", url, "--out", str(back))
    assert dumped["records"] == loaded["records"] and dumped["rows"] == loaded["rows"]
    want, got = tables(source), tables(back)
    assert sorted(got) == sorted(want)
    for name in want:  # table by table, so that a failure names the table
        assert got[name] == want[name], name
    assert len(want["plan_cells"]) > 0 and len(want["audit_log"]) == len(want_audit)

    with open_target("postgis", url) as restored:
        assert [(p.id, p.status, p.head) for p in restored.plans()] == want_plans
        (submitted,) = restored.submissions()
        assert (submitted.plan_id, submitted.note) == (want_plans[-1][0], "请审核")
        assert restored.audit() == want_audit
        assert restored.user("ada").password_hash == "scrypt$16384$8$1$c2FsdA$aGFzaA"
        assert restored.user("hal").duties == ("handler",)
        photo, data = restored.photo_data(restored.incidents()[0].id, 1)
        assert data == b"\x89PNG\r\n\x1a\n\x00\x01\xff" and photo.public
        # New ids follow the restored ones.
        assert make_plan(restored, C2) == str(int(want_plans[-1][0]) + 1)
        assert restored.audit()[-1].seq == want_audit[-1].seq + 1
    refused = subprocess.run(
        [GRIDMAP, "db", "load", "--from", str(source), "--database-url", url],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert refused.returncode == 2 and "is not empty" in refused.stderr


def test_a_workspace_backs_up_and_restores_into_a_new_workspace(tmp_path: Path) -> None:
    source = tmp_path / "source.gpkg"
    with GpkgStore(source) as store:
        fill(store)
    backup, restored = tmp_path / "backup.gpkg", tmp_path / "restored.gpkg"
    gridmap("db", "dump", "--workspace", str(source), "--out", str(backup))
    # --no-tiles: a restore would prebuild the tiles (tables the source has not) by default
    loaded = gridmap(
        "db", "load", "--from", str(backup), "--workspace", str(restored), "--no-tiles"
    )
    assert loaded["records"]["incident_events"] == 3
    want, got = tables(source), tables(restored)
    for name in want:
        assert got[name] == want[name], name
