"""The contract suite's fixtures: a clean store of each engine per test.

``store`` is parametrized over the GeoPackage engine (a new file per test) and the PostGIS
engine (a new database per test, cloned from a template that has PostGIS and the migrations,
so that a test starts from an empty store in well under a second). ``store_target`` gives the
same as (engine, target) for tests that open the store in other processes.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pytest
from psycopg import sql

from gridmap.store import GpkgStore, Store

ENGINES = ["gpkg", pytest.param("postgis", marks=pytest.mark.postgis)]


def open_target(engine: str, target: str) -> Store:
    """The store of ``engine`` at ``target`` (a .gpkg path or a PostgreSQL conninfo)."""
    if engine == "gpkg":
        return GpkgStore(target)
    from gridmap.store.postgis.store import PostgisStore

    return PostgisStore(target)


def _database(url: str, name: str) -> str:
    if url.startswith(("postgresql://", "postgres://")):
        return urlunsplit(urlsplit(url)._replace(path=f"/{name}"))
    return psycopg.conninfo.make_conninfo(url, dbname=name)


@pytest.fixture(scope="session")
def postgis_template(postgis_url: str) -> Iterator[str]:
    """Name of a database with PostGIS and gridmap's migrations, to clone per test."""
    from gridmap.store.postgis.store import PostgisStore

    name = f"gridmap_store_tmpl_{secrets.token_hex(4)}"
    with psycopg.connect(postgis_url, autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        with psycopg.connect(_database(postgis_url, name), autocommit=True) as db:
            db.execute("CREATE EXTENSION IF NOT EXISTS postgis")
        PostgisStore(_database(postgis_url, name)).close()
        yield name
    finally:
        with psycopg.connect(postgis_url, autocommit=True) as admin:
            admin.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )


@pytest.fixture(params=ENGINES)
def store_target(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[str, str]]:
    """(engine, target) of an empty store: a new GeoPackage path, or a new database."""
    if request.param == "gpkg":
        yield "gpkg", str(tmp_path / "store.gpkg")
        return
    url: str = request.getfixturevalue("postgis_url")
    template: str = request.getfixturevalue("postgis_template")
    drop_database = request.getfixturevalue("drop_database")
    name = f"gridmap_store_{secrets.token_hex(6)}"
    with psycopg.connect(url, autocommit=True) as admin:
        admin.execute(
            sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(
                sql.Identifier(name), sql.Identifier(template)
            )
        )
    try:
        yield "postgis", _database(url, name)
    finally:
        drop_database(url, name)


@pytest.fixture
def store(store_target: tuple[str, str]) -> Iterator[Store]:
    """An empty store of each engine."""
    opened = open_target(*store_target)
    try:
        yield opened
    finally:
        opened.close()
