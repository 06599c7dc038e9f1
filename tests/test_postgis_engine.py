"""PostgisStore as an engine: opening (migrations under a lock), pools, errors, time zones.

The contract itself is tested on both engines in tests/store/; this is what only PostGIS has.
"""

from __future__ import annotations

import datetime as dt
import re
import secrets
import threading
from collections.abc import Callable, Iterator

import psycopg
import pytest
from psycopg import sql
from psycopg_pool import ConnectionPool

from gridmap.errors import StoreError
from gridmap.store.postgis import available_migrations
from gridmap.store.postgis.store import PostgisStore

pytestmark = pytest.mark.postgis


@pytest.fixture
def url(postgis_url: str, drop_database: Callable[[str, str], None]) -> Iterator[str]:
    """A database of its own, empty (no PostGIS, no schema), dropped afterwards."""
    name = f"gridmap_engine_{secrets.token_hex(4)}"
    with psycopg.connect(postgis_url, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield psycopg.conninfo.make_conninfo(postgis_url, dbname=name)
    finally:
        drop_database(postgis_url, name)


def applied(url: str) -> list[int]:
    with psycopg.connect(url) as conn:
        rows = conn.execute("SELECT version FROM public.gridmap_migrations ORDER BY 1")
        return [v for (v,) in rows]


def test_stores_opened_at_once_on_a_new_database_migrate_it_once(url):
    """Four processes' worth of stores race to open an empty database: one migrates it."""
    opened: list[PostgisStore] = []
    failures: list[BaseException] = []
    start = threading.Barrier(4)

    def open_one() -> None:
        start.wait()
        try:
            opened.append(PostgisStore(url))
        except BaseException as exc:
            failures.append(exc)

    threads = [threading.Thread(target=open_one) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not failures and len(opened) == 4
    assert applied(url) == [version for version, _ in available_migrations()]
    for store in opened:
        assert store.layers() == []
        store.close()


def test_a_pool_passed_in_is_used_and_left_open(url):
    PostgisStore(url).close()  # the schema
    with ConnectionPool(url, min_size=1, max_size=2, open=True) as pool:
        store = PostgisStore(pool)
        assert store.pool is pool
        store.add_user("wang", "planner", "h", actor="admin")
        store.close()
        assert not pool.closed
        with pool.connection() as conn:
            assert conn.execute("SELECT name FROM gridmap.users").fetchall() == [("wang",)]


def test_a_closed_store_says_so(url):
    store = PostgisStore(url)
    store.close()
    with pytest.raises(StoreError, match="closed"):
        store.users()


def test_unreachable_server_names_it_and_not_the_password():
    with pytest.raises(StoreError) as caught:
        PostgisStore("postgresql://someone:s3cret@127.0.0.1:1/nowhere?connect_timeout=2")
    assert re.search("cannot connect to PostgreSQL at 127.0.0.1:1/nowhere", str(caught.value))
    assert "s3cret" not in str(caught.value)


def test_times_come_back_in_utc_whatever_the_session_time_zone(url):
    shanghai = psycopg.conninfo.make_conninfo(url, options="-c TimeZone=Asia/Shanghai")
    with PostgisStore(shanghai) as store:
        user = store.add_user("li", "staff", "h", actor="admin")
        again = store.user("li")
    assert again.created_at == user.created_at
    assert again.created_at.tzinfo is dt.UTC
