"""Reads from a real streaming replica (issue 13): a ``gridmap serve`` writing to the primary
and reading lookups from the replica answers a publication made on the primary.

The replica is the test server's own (``./dev replica``, made by ``CI=true ./dev test``):
PostgreSQL's physical replication copies every database of the primary, so a database made
here from the seeded template appears on the replica by itself.
"""

from __future__ import annotations

import os
import secrets
import time
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx
import psycopg
import pytest
from published import free_port, serving
from seeded import SECRET, _database_made, seeded_postgis

from gridmap.errors import StoreError
from gridmap.store import PostgisStore

__all__ = ["seeded_postgis"]

pytestmark = pytest.mark.postgis
WAIT_S = 300  # how long replication may lag on a busy machine before the test gives up


@pytest.fixture(scope="module")
def replica_admin() -> str:
    url = os.environ.get("GRIDMAP_TEST_REPLICA_URL")
    if not url:
        pytest.skip(
            "REPLICA TESTS SKIPPED: GRIDMAP_TEST_REPLICA_URL is not set "
            "(./dev replica makes one on port 5433; CI=true ./dev test does it by itself)"
        )
    return url


def on(url: str, dbname: str) -> str:
    return urlunsplit(urlsplit(url)._replace(path=f"/{dbname}"))


def until(what: str, check: Any) -> Any:
    """Poll ``check`` until it returns something true; fail naming ``what`` after WAIT_S."""
    deadline = time.monotonic() + WAIT_S
    while True:
        try:
            found = check()
        except (psycopg.Error, StoreError, httpx.HTTPError):
            found = None
        if found:
            return found
        if time.monotonic() > deadline:
            pytest.fail(f"waited {WAIT_S} s for {what}")
        time.sleep(0.5)


def publications_on(url: str) -> int:
    with psycopg.connect(url, connect_timeout=5) as conn:
        return int(conn.execute("SELECT count(*) FROM gridmap.publications").fetchone()[0])


def test_a_server_reading_the_replica_answers_a_publication_on_the_primary(
    postgis_url: str, seeded_postgis: tuple[str, dict[str, Any]], replica_admin: str
) -> None:
    template, made = seeded_postgis
    name = f"gridmap_replica_{secrets.token_hex(5)}"
    with _database_made(postgis_url, name, template) as primary:
        replica = on(replica_admin, name)
        until("the database on the replica", lambda: publications_on(replica) > 0)
        with pytest.raises(StoreError, match="read-only"):
            PostgisStore(replica, read_only=True).add_user("x", "staff", "h", actor="t")
        writer = PostgisStore(primary)
        try:
            point = writer.grids_at().geometry.iloc[0].representative_point()
            env = {
                "GRIDMAP_DATABASE_URL": primary,
                "GRIDMAP_READ_DATABASE_URL": replica,
                "GRIDMAP_REFRESH_SECONDS": "0.5",
                "GRIDMAP_TOKEN_SECRET": SECRET,
                "GRIDMAP_RATE_LIMIT_PER_SECOND": "0",
            }
            with serving(["--database-url", primary], env, free_port()) as url:
                ask = {"lon": point.x, "lat": point.y}

                def plan_in_force() -> str:
                    return str(httpx.get(f"{url}/api/lookup", params=ask).json()["grid"]["plan_id"])

                assert plan_in_force() == made["plan_id"]
                with psycopg.connect(replica_admin) as conn:  # its reads are the replica's
                    readers = conn.execute(
                        "SELECT count(*) FROM pg_stat_activity"
                        " WHERE application_name = 'gridmap-read' AND datname = %s",
                        (name,),
                    ).fetchone()[0]
                assert readers >= 1
                copy = writer.copy_plan(made["plan_id"], name="再版", actor="planner")
                writer.publish([copy.plan_id], actor="admin")
                until(
                    "the new plan in the replica server's lookups",
                    lambda: plan_in_force() == copy.plan_id,
                )
        finally:
            writer.close()
