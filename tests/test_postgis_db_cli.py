"""``gridmap db upgrade|load|dump|status`` as real processes against a real PostGIS.

Includes the storage issue's round trip: the Nan'an sample, GeoPackage → PostGIS → GeoPackage,
comes back with identical features (attributes equal, geometries within 1e-9 degrees).
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pandas as pd
import psycopg
import pytest
import shapely
from psycopg import sql

from gridmap.sample import SAMPLE_LAYERS
from gridmap.store import Workspace
from gridmap.store.postgis import available_migrations

pytestmark = pytest.mark.postgis

NANAN = "500108000000"
GRIDMAP = str(Path(sys.executable).with_name("gridmap"))  # the installed command


def gridmap(*args: str, env: dict[str, str] | None = None) -> tuple[int, dict, str]:  # type: ignore[type-arg]
    """Run ``gridmap ARGS --json`` in its own process: (exit code, JSON printed, stderr)."""
    done = subprocess.run(
        [GRIDMAP, *args, "--json"],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, **(env or {})},
    )
    lines = done.stdout.strip().splitlines()
    return done.returncode, json.loads(lines[-1]) if lines else {}, done.stderr


@pytest.fixture
def url(postgis_url: str, drop_database: Callable[[str, str], None]) -> Iterator[str]:
    """A database of its own, without PostGIS yet (upgrade installs it), dropped afterwards."""
    name = f"gridmap_cli_{secrets.token_hex(4)}"
    with psycopg.connect(postgis_url, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    fresh = psycopg.conninfo.make_conninfo(postgis_url, dbname=name)
    try:
        yield fresh
    finally:
        drop_database(postgis_url, name)


def test_upgrade_applies_every_migration_once_and_records_them(url):
    every = [version for version, _ in available_migrations()]
    code, status, _ = gridmap("db", "status", "--database-url", url)
    assert code == 0 and status["migrations"] == {"applied": [], "pending": every}
    code, first, _ = gridmap("db", "upgrade", "--database-url", url)
    assert code == 0 and first["applied"] == every and first["versions"] == every
    assert first["postgis"]
    code, second, _ = gridmap("db", "upgrade", "--database-url", url)
    assert code == 0 and second["applied"] == [] and second["versions"] == every
    with psycopg.connect(url) as conn:
        rows = conn.execute("SELECT version, applied_at FROM public.gridmap_migrations").fetchall()
    assert sorted(v for v, _ in rows) == every and all(at is not None for _, at in rows)


def test_the_database_url_can_come_from_the_environment(url):
    code, result, _ = gridmap("db", "upgrade", env={"GRIDMAP_DATABASE_URL": url})
    dbname = psycopg.conninfo.conninfo_to_dict(url)["dbname"]
    assert code == 0 and result["database"].endswith(f"/{dbname}")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["db", "status", "--database-url", "postgresql://postgres@127.0.0.1:1/none"],
         "cannot connect to PostgreSQL at 127.0.0.1:1/none"),
        (["db", "upgrade"], "no database: give --database-url"),
        (["db", "load", "--from", "/nonexistent/w.gpkg", "--database-url", "postgresql:///x"],
         "--from /nonexistent/w.gpkg: no such workspace file"),
        (["db", "dump", "--out", "w.shp", "--database-url", "postgresql:///x"],
         "a workspace is a GeoPackage"),
    ],
    ids=["unreachable", "no url", "no workspace", "not a gpkg"],
)  # fmt: skip
def test_errors_name_what_was_wrong(args, message):
    env = {"GRIDMAP_DATABASE_URL": ""}
    code, result, stderr = gridmap(*args, env=env)
    assert code == 2
    assert message in result["detail"] and message in stderr
    assert "password" not in stderr


def test_nanan_sample_round_trips_gpkg_postgis_gpkg(sample_build, url, tmp_path):
    source = Workspace(sample_build["workspace"])
    # --no-tiles: the tiles a load prebuilds by default are test_cli_database_url's concern
    code, loaded, stderr = gridmap(
        "db", "load", "--from", str(source.path), "--database-url", url, "--no-tiles"
    )
    assert code == 0, stderr
    assert loaded["rows"] == {name: len(source.read(name)) for name in source.layers()}
    assert loaded["rows"]["buildings"] > 30_000

    # The buildings sit in Nan'an's partition, and a bbox query goes through its GiST index.
    code, status, _ = gridmap("db", "status", "--database-url", url)
    assert status["partitions"]["buildings"] == {
        f"buildings_{NANAN}": loaded["rows"]["buildings"],
        "buildings_default": 0,
    }
    with psycopg.connect(url) as conn:
        plan = "\n".join(
            line
            for (line,) in conn.execute(
                "EXPLAIN SELECT id FROM gridmap.buildings WHERE ST_Intersects(geom,"
                " ST_MakeEnvelope(106.56, 29.52, 106.57, 29.53, 4326))"
            )
        )
    assert f"buildings_{NANAN}_geom_idx" in plan, plan

    back = tmp_path / "back.gpkg"
    code, dumped, stderr = gridmap("db", "dump", "--database-url", url, "--out", str(back))
    assert code == 0, stderr
    assert dumped["rows"] == {name: loaded["rows"].get(name, 0) for name in dumped["rows"]}
    returned = Workspace(back)
    assert returned.layers() == source.layers() == list(SAMPLE_LAYERS)
    for name in SAMPLE_LAYERS:
        want, got = source.read(name), returned.read(name)
        assert list(got.columns) == list(want.columns), name
        attrs = [c for c in want.columns if c != "geometry"]
        pd.testing.assert_frame_equal(pd.DataFrame(got[attrs]), pd.DataFrame(want[attrs]))
        if "geometry" in want:
            assert (got.geom_type == want.geom_type).all(), name
            assert shapely.equals_exact(
                got.geometry.values, want.geometry.values, tolerance=1e-9
            ).all(), name
    assert returned.summary() | {"workspace": ""} == source.summary() | {"workspace": ""}


def test_load_replaces_and_is_audited(sample_build, url, tmp_path):
    small = Workspace(tmp_path / "small.gpkg")
    source = Workspace(sample_build["workspace"])
    small.write({"divisions": source.read("divisions"), "staff": source.read("staff").head(3)})
    for path in (source.path, small.path):
        code, _, stderr = gridmap(
            "db", "load", "--from", str(path), "--database-url", url, "--no-tiles"
        )
        assert code == 0, stderr
    code, status, _ = gridmap("db", "status", "--database-url", url)
    assert status["layers"]["staff"] == 3 and status["layers"]["buildings"] == 0
    assert status["partitions"]["buildings"] == {"buildings_default": 0}
    with psycopg.connect(url) as conn:
        audit = conn.execute(
            "SELECT action, outcome, detail->'rows'->>'staff' FROM gridmap.audit_log ORDER BY seq"
        ).fetchall()
    assert audit == [("write", "ok", str(len(source.read("staff")))), ("write", "ok", "3")]


def test_status_without_the_schema_points_to_upgrade(url):
    code, status, _ = gridmap("db", "status", "--database-url", url)
    assert code == 0 and status["layers"] == {} and status["migrations"]["applied"] == []
    done = subprocess.run(
        [GRIDMAP, "db", "status", "--database-url", url],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert "run `gridmap db upgrade`" in done.stdout


def test_dump_of_an_empty_database_writes_an_empty_workspace(url, tmp_path: Path):
    code, _, _ = gridmap("db", "upgrade", "--database-url", url)
    out = tmp_path / "empty.gpkg"
    code, dumped, stderr = gridmap("db", "dump", "--database-url", url, "--out", str(out))
    assert code == 0, stderr
    assert dumped["rows"] == {} and Workspace(out).layers() == []
