"""The public API tests' fixtures: the Nan'an sample, partitioned and published, on both engines.

Built once per session (the sample, a partition of every community, ~1-2 minutes on 2 cores):

- plan 1: every community, target 3000, in force from :data:`T1`;
- plan 2: one community (:data:`REPLANNED`) again with target 2000, in force from :data:`T2`,
  so a lookup at a date between the two sees plan 1's grids there and today plan 2's;
- the staff of the communities of :data:`STAFFED_STREET` assigned to their grids in force.

``sample_gpkg`` is that workspace; ``sample_postgis`` a database holding the same layers, plans
(copied revision by revision), publications and staff. ``client`` is a TestClient of the app
over each (parametrized, the PostGIS one marked ``postgis``), one per test module: tests must
not change the store through it. Test modules import the fixtures they use from here.
``make_client(engine, **settings)`` gives a fresh app
with other settings. ``live_server`` runs ``gridmap serve`` (uvicorn) on a free port.
"""

from __future__ import annotations

import datetime as dt
import math
import os
import secrets
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx
import psycopg
import pytest
from fastapi.testclient import TestClient
from psycopg import sql

from gridmap.api import create_app
from gridmap.cli.serve_commands import assign_community_staff
from gridmap.settings import Settings
from gridmap.store import GpkgStore, Store, Workspace

__all__ = [
    "ACTOR",
    "ENGINES",
    "REPLANNED",
    "SECRET",
    "STAFFED_STREET",
    "T1",
    "T2",
    "api_settings",
    "client",
    "engine",
    "free_port",
    "live_server",
    "make_client",
    "sample_gpkg",
    "sample_postgis",
    "sample_store",
    "server_process",
    "server_processes",
    "serving",
    "serving_many",
    "staff_some",
    "tile_of",
]

# Session fixtures are defined here and imported by each test module (a conftest.py in this
# directory would clash with tests/conftest.py under --doctest-modules: both are "conftest").
# Pytest then keeps one definition per importing module, so the expensive builds are cached
# here, once per process.
_BUILT: dict[str, str] = {}


ENGINES = ["gpkg", pytest.param("postgis", marks=pytest.mark.postgis)]
T1 = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
T2 = dt.datetime(2026, 6, 1, tzinfo=dt.UTC)
REPLANNED = "500108002001"  # 南湖社区
STAFFED_STREET = "500108003"  # 南坪街道
SECRET = "api-test-signing-key-" + "s" * 40
ACTOR = "tester"


def api_settings(**overrides: Any) -> Settings:
    """Settings of a test app: no rate limit unless asked, a fixed signing key."""
    base: dict[str, Any] = {
        "token_secret": SECRET,
        "rate_limit_per_second": 0,
        "sign_in_per_minute": 0,
    }
    return Settings(**{**base, **overrides})


def staff_some(store: Store) -> int:
    """Assign the staff of the communities of STAFFED_STREET to their grids in force."""
    divisions = store.read("divisions")
    codes = divisions.loc[divisions["level"] == "community", "code"]
    chosen = [c for c in codes if c.startswith(STAFFED_STREET)]
    return assign_community_staff(store, actor=ACTOR, communities=chosen)


def free_port() -> int:
    """A TCP port free on 127.0.0.1 now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def serving(args: list[str], env: dict[str, str], port: int) -> Iterator[str]:
    """Run ``gridmap serve`` with ``args`` on ``port`` until the block ends; yield its URL."""
    with server_process(args, env, port) as (_, url):
        yield url


@contextmanager
def server_process(
    args: list[str], env: dict[str, str], port: int
) -> Iterator[tuple[subprocess.Popen[str], str]]:
    """:func:`serving`, yielding the process too (to kill it); stopped when the block ends."""
    with server_processes(args, env, [port]) as ((proc, url),):
        yield proc, url


@contextmanager
def serving_many(args: list[str], env: dict[str, str], count: int) -> Iterator[list[str]]:
    """``count`` ``gridmap serve`` processes with the same ``args``, each on a free port, started
    together (their start-up overlaps) until the block ends; yield their URLs."""
    ports = set()
    while len(ports) < count:
        ports.add(free_port())
    with server_processes(args, env, sorted(ports)) as started:
        yield [url for _, url in started]


@contextmanager
def server_processes(
    args: list[str], env: dict[str, str], ports: list[int]
) -> Iterator[list[tuple[subprocess.Popen[str], str]]]:
    """One ``gridmap serve`` with ``args`` per port, all started before any is waited for;
    (process, URL) of each once every one answers ``/readyz``; all stopped when the block ends."""
    command = [str(Path(sys.executable).with_name("gridmap")), "serve", *args]
    environ = {k: v for k, v in os.environ.items() if not k.startswith("GRIDMAP_")}
    started: list[tuple[subprocess.Popen[str], str]] = []
    try:
        for port in ports:
            proc = subprocess.Popen(
                [*command, "--port", str(port)],
                env={**environ, **env},
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
                text=True,
            )
            started.append((proc, f"http://127.0.0.1:{port}"))
        for proc, url in started:
            _until_ready(proc, url)
        yield started
    finally:
        for proc, _ in started:
            proc.terminate()
        for proc, _ in started:
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def _until_ready(proc: subprocess.Popen[str], url: str) -> None:
    for _ in range(600):  # the indexes of the whole sample take a few seconds
        if proc.poll() is not None:
            raise RuntimeError(f"gridmap serve exited {proc.returncode}: {proc.stderr.read()}")  # type: ignore[union-attr]
        try:
            if httpx.get(f"{url}/readyz", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise RuntimeError("gridmap serve did not become ready in 120 s")


def tile_of(lon: float, lat: float, z: int) -> tuple[int, int]:
    """The XYZ tile holding a lon/lat point at zoom z."""
    n = 1 << z
    y = (1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n
    return int((lon + 180) / 360 * n), int(y)


@pytest.fixture(scope="session")
def sample_gpkg(sample_build: dict, tmp_path_factory: pytest.TempPathFactory) -> Path:  # type: ignore[type-arg]
    """The published sample workspace (read only: copy it to change it)."""
    from gridmap.plans import partition_workspace

    if "gpkg" in _BUILT:  # one build per session, whichever module asks first
        return Path(_BUILT["gpkg"])
    path = tmp_path_factory.mktemp("api-sample") / "nanan.gpkg"
    shutil.copyfile(sample_build["workspace"], path)
    ws = Workspace(path)
    first = partition_workspace(ws, workers=2, actor=ACTOR)["plan"]
    second = partition_workspace(ws, communities=[REPLANNED], target=2000, actor=ACTOR)["plan"]
    with GpkgStore(path) as store:
        store.publish([first], actor=ACTOR, at=T1)
        store.publish([second], actor=ACTOR, at=T2)
        staff_some(store)
    _BUILT["gpkg"] = str(path)
    return path


def _database(url: str, name: str) -> str:
    if url.startswith(("postgresql://", "postgres://")):
        return urlunsplit(urlsplit(url)._replace(path=f"/{name}"))
    return psycopg.conninfo.make_conninfo(url, dbname=name)


@pytest.fixture(scope="session")
def sample_postgis(sample_gpkg: Path, postgis_url: str) -> Iterator[str]:
    """A database with what ``sample_gpkg`` holds: layers, plans, publications, staff."""
    from gridmap.store import load_workspace
    from gridmap.store.postgis.store import PostgisStore

    if "postgis" in _BUILT:
        yield _BUILT["postgis"]
        return
    name = f"gridmap_api_{secrets.token_hex(5)}"
    with psycopg.connect(postgis_url, autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    url = _database(postgis_url, name)
    try:
        with psycopg.connect(url, autocommit=True) as db:
            db.execute("CREATE EXTENSION IF NOT EXISTS postgis")
        load_workspace(sample_gpkg, url, actor=ACTOR)
        with GpkgStore(sample_gpkg) as source, PostgisStore(url) as target:
            for plan in source.plans():
                revision = source.revision(plan.id)
                made = target.create_plan(
                    revision.cells,
                    revision.grids,
                    name=plan.name,
                    params=plan.params,
                    actor=ACTOR,
                )
                assert made.plan_id == plan.id, "plans must keep their ids across engines"
            target.publish(["1"], actor=ACTOR, at=T1)
            target.publish(["2"], actor=ACTOR, at=T2)
            staff_some(target)
        _BUILT["postgis"] = url
        yield url
    finally:
        with psycopg.connect(postgis_url, autocommit=True) as admin:
            admin.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )


def target_of(request: pytest.FixtureRequest, engine: str) -> dict[str, Any]:
    """Settings fields naming the sample store of ``engine``."""
    if engine == "gpkg":
        return {"workspace": request.getfixturevalue("sample_gpkg"), "database_url": None}
    return {"database_url": request.getfixturevalue("sample_postgis")}


@pytest.fixture(scope="session", params=ENGINES)
def engine(request: pytest.FixtureRequest) -> str:
    """The store engine of a parametrized test: "gpkg" or "postgis"."""
    return str(request.param)


@pytest.fixture(scope="module")
def client(engine: str, request: pytest.FixtureRequest) -> Iterator[TestClient]:
    """A client of the app over the published sample of ``engine`` (do not write through it)."""
    settings = api_settings(**target_of(request, engine))
    with TestClient(create_app(settings)) as made:
        yield made


@pytest.fixture
def make_client(request: pytest.FixtureRequest) -> Callable[..., Any]:
    """``with make_client(engine, **settings) as client:`` an app with other settings."""

    @contextmanager
    def make(engine: str, **overrides: Any) -> Iterator[TestClient]:
        settings = api_settings(**{**target_of(request, engine), **overrides})
        with TestClient(create_app(settings)) as made:
            yield made

    return make


@pytest.fixture(scope="module")
def sample_store(engine: str, request: pytest.FixtureRequest) -> Iterator[Store]:
    """The sample store of ``engine``, opened directly (read it; do not write)."""
    from gridmap.store import open_store

    target = target_of(request, engine)
    store = open_store(target.get("database_url") or target["workspace"])
    yield store
    store.close()


@pytest.fixture(scope="session")
def live_server(sample_gpkg: Path) -> Iterator[str]:
    """``gridmap serve --workspace <sample>`` on a free port (a real uvicorn); its base URL."""
    env = {
        "GRIDMAP_TOKEN_SECRET": SECRET,
        "GRIDMAP_RATE_LIMIT_PER_SECOND": "0",
    }
    with serving(["--workspace", str(sample_gpkg)], env, free_port()) as url:
        yield url
