"""Fixtures of the security/plans/incidents/staff API tests: a seeded store of each engine.

``world`` is parametrized over GeoPackage and PostGIS (marked ``postgis``). Each engine's store
is seeded once per session (the hand-made district of :mod:`handmade`, partitioned through the
API's own code and published; one user per role and per workflow role (:data:`WORKFLOW_USERS`),
two departments; the staff of one grid; one incident whose
reporter left a contact) and copied per test: the .gpkg file, or ``CREATE DATABASE … TEMPLATE``.
Test modules import the fixtures they use from here.
"""

from __future__ import annotations

import datetime as dt
import secrets
import shutil
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import handmade
import psycopg
import pytest
from fastapi.testclient import TestClient
from psycopg import sql

from gridmap.api import create_app
from gridmap.api.auth import hash_password, issue_token
from gridmap.service.plans import partition_store
from gridmap.settings import Settings
from gridmap.store import GpkgStore
from gridmap.store.contract import IncidentEvent, Store

ENGINES = ["gpkg", pytest.param("postgis", marks=pytest.mark.postgis)]
SECRET = "test-signing-key-" + "k" * 40
PASSWORD = "correct horse battery"
JOB_PATIENCE_S = 300  # a bound on waiting for a background job, so that a hang fails the test
ROLE_USERS = {"public": "pat", "staff": "sam", "planner": "paula", "admin": "ada"}
# Staff users with the case workflow's roles (as_role takes these keys too): name, duties,
# department. "handler" handles the cases dispatched to 城管; "grid_handler" those dispatched to
# grid staff; "wuye_handler" those of the property company.
WORKFLOW_USERS = {
    "acceptor": ("amy", ("acceptor",), None),
    "dispatcher": ("dan", ("dispatcher",), None),
    "handler": ("hal", ("handler",), "chengguan"),
    "wuye_handler": ("wes", ("handler",), "wuye"),
    "grid_handler": ("gus", ("handler",), None),
    "supervisor": ("sue", ("supervisor",), None),
}
DEPARTMENTS = {"chengguan": ("城管执法中队", "023-62800001"), "wuye": ("物业服务企业", None)}
# Strings that must never appear in an answer to the public.
REPORTER_CONTACT = "王女士 13911112222"
PRIVATE_PHONES = [f"1390000{k:04d}" for k in range(5)]


@dataclass
class World:
    """A running app over a seeded store, and what the seed made."""

    client: TestClient
    store: Store
    settings: Settings
    plan_id: str
    incident_id: str
    grid_codes: list[str]
    headers: dict[str, dict[str, str]] = field(default_factory=dict)

    def as_role(self, role: str | None) -> dict[str, str]:
        """Authorization headers of the user of ``role`` (None: anonymous)."""
        return {} if role is None else self.headers[role]

    def finished_job(self, location: str, role: str = "planner") -> dict[str, Any]:
        """Follow a job (its ``Location``) until it is done or failed; the job's JSON."""
        deadline = time.monotonic() + JOB_PATIENCE_S
        while True:
            answer = self.client.get(location, headers=self.as_role(role))
            assert answer.status_code == 200, answer.text
            job: dict[str, Any] = answer.json()["job"]
            if job["state"] in ("done", "failed"):
                return job
            assert time.monotonic() < deadline, f"job still {job['state']} after {JOB_PATIENCE_S} s"
            time.sleep(0.1)


def seed(store: Store, settings: Settings) -> dict[str, Any]:
    """Fill an empty store: layers, a published partition, users, staff roles, an incident."""
    handmade.fill(store)
    plan_id = partition_store(
        store,
        communities=None,
        target=3000,
        tolerance=0.2,
        weight=settings.weight,
        seed=0,
        metric_epsg=settings.metric_epsg,
        actor="seed",
    )["plan"]
    store.publish([plan_id], actor="seed")
    grids = store.revision(plan_id).grids
    codes = sorted(grids["code"])
    for role, name in ROLE_USERS.items():
        store.add_user(name, role, hash_password(PASSWORD), actor="seed")
    for name, duties, department in WORKFLOW_USERS.values():
        store.add_user(
            name,
            "staff",
            hash_password(PASSWORD),
            actor="seed",
            duties=duties,
            department=department,
        )
    for code, (title, phone) in DEPARTMENTS.items():
        store.put_department(code, title, phone, actor="seed")
    roles = ["grid_head", "police", "city_management", "floating_population", "mediation"]
    for k, role in enumerate(roles):
        store.assign_staff(f"S{k}", codes[0], role, actor="seed")
    lon, lat = handmade.point_in(0, 0.1, 0.1)
    now = dt.datetime.now(dt.UTC)
    incident = store.add_incident(
        {
            "category": "市容环境/暴露垃圾",
            "status": "reported",
            "description": "垃圾桶满溢",
            "lon": lon,
            "lat": lat,
            "grid_code": codes[0],
            "community_code": handmade.C1,
            "street_code": handmade.STREET,
            "reporter_contact": REPORTER_CONTACT,
            "deadline": now + dt.timedelta(hours=24),
            "channel": "open311",  # a resident's report, whose text staff made public
            "public_note": "垃圾桶满溢",
        },
        actor="seed",
        event=IncidentEvent("", 1, now, "seed", "report", None, "reported"),
    )
    return {"plan_id": plan_id, "incident_id": incident.id, "grid_codes": codes}


def _database(url: str, name: str) -> str:
    if url.startswith(("postgresql://", "postgres://")):
        return urlunsplit(urlsplit(url)._replace(path=f"/{name}"))
    return psycopg.conninfo.make_conninfo(url, dbname=name)


def _settings(**kw: Any) -> Settings:
    # The tests sign in often from one address: the sign-in rate is tested on its own.
    return Settings(token_secret=SECRET, sign_in_per_minute=0, **kw)


@pytest.fixture(scope="session")
def seeded_gpkg(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    """A seeded GeoPackage to copy per test, and what the seed made."""
    path = tmp_path_factory.mktemp("seeded") / "seeded.gpkg"
    store = GpkgStore(path)
    try:
        made = seed(store, _settings(workspace=path))
    finally:
        store.close()
    return path, made


@contextmanager
def _database_made(
    admin_url: str,
    name: str,
    template: str | None = None,
    drop_later: Callable[[str, str], None] | None = None,
) -> Iterator[str]:
    """A new database ``name`` (empty, or a copy of ``template``), dropped afterwards (by
    ``drop_later``, the ``drop_database`` fixture, when given); its URL."""
    create = sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name))
    if template is not None:
        create = sql.SQL("{} TEMPLATE {}").format(create, sql.Identifier(template))
    with psycopg.connect(admin_url, autocommit=True) as admin:
        admin.execute(create)
    try:
        yield _database(admin_url, name)
    finally:
        if drop_later is not None:
            drop_later(admin_url, name)
        else:
            with psycopg.connect(admin_url, autocommit=True) as admin:
                admin.execute(
                    sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
                )


@pytest.fixture(scope="session")
def seeded_postgis(postgis_url: str) -> Iterator[tuple[str, dict[str, Any]]]:
    """Name of a seeded PostGIS database to clone per test, and what the seed made."""
    from gridmap.store.postgis.store import PostgisStore

    name = f"gridmap_api_seed_{secrets.token_hex(4)}"
    with _database_made(postgis_url, name) as url:
        with psycopg.connect(url, autocommit=True) as db:
            db.execute("CREATE EXTENSION IF NOT EXISTS postgis")
        store = PostgisStore(url)
        try:
            made = seed(store, _settings(database_url=url))
        finally:
            store.close()
        yield name, made


@pytest.fixture(params=ENGINES)
def world(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[World]:
    """A fresh copy of the seeded store of each engine, served by the app."""
    with copied_world(request, tmp_path) as w:
        yield w


@contextmanager
def copied_world(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[World]:
    """A fresh copy of the seeded store of engine ``request.param``, served by the app (for
    fixtures of a wider scope than ``world``)."""
    if request.param == "gpkg":
        source, made = request.getfixturevalue("seeded_gpkg")
        path = tmp_path / "w.gpkg"
        shutil.copy(source, path)
        with _served(GpkgStore(path), _settings(workspace=path), made) as w:
            yield w
        return
    from gridmap.store.postgis.store import PostgisStore

    url: str = request.getfixturevalue("postgis_url")
    template, made = request.getfixturevalue("seeded_postgis")
    drop = request.getfixturevalue("drop_database")
    name = f"gridmap_api_{secrets.token_hex(6)}"
    with _database_made(url, name, template, drop) as target:
        settings = _settings(database_url=target, workspace=tmp_path / "unused.gpkg")
        with _served(PostgisStore(target), settings, made) as w:
            yield w


@contextmanager
def _served(store: Store, settings: Settings, made: dict[str, Any]) -> Iterator[World]:
    """The app over ``store`` (lifespan run), with a token per role; closes the store after."""
    try:
        with TestClient(create_app(settings, store=store)) as client:
            names = ROLE_USERS | {key: row[0] for key, row in WORKFLOW_USERS.items()}
            headers = {
                role: {
                    "Authorization": "Bearer "
                    + issue_token(store.user(name), SECRET, settings.token_minutes)
                }
                for role, name in names.items()
            }
            yield World(client, store, settings, headers=headers, **made)
    finally:
        store.close()


__all__ = [
    "ENGINES",
    "PASSWORD",
    "ROLE_USERS",
    "WORKFLOW_USERS",
    "World",
    "copied_world",
    "seed",
    "seeded_gpkg",
    "seeded_postgis",
    "world",
]
