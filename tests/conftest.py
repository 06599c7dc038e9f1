"""Generic fixtures and rules for the whole suite.

- ``postgis_url``: a throw-away PostGIS database for the session (tests marked ``postgis``).
- ``drop_database``: ``drop_database(admin_url, name)`` drops a test's database on a thread of
  its own (DROP DATABASE waits for a checkpoint, up to seconds on a busy server, that the next
  test need not wait for); the session ends only once every drop is done, and fails if one did.
- When ``CI`` is "true", a skipped test fails the session: a suite that needs PostGIS, GDAL or a
  browser must run there, not quietly skip. Without CI the skips are listed loudly at the end,
  with how to enable them.
"""

from __future__ import annotations

import os
import queue
import secrets
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pytest
from psycopg import sql

DEFAULT_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"

# marker → how to make its tests run instead of skip.
HOW_TO_ENABLE = {
    "postgis": "install PostgreSQL with PostGIS (Debian: apt-get install postgresql-15-postgis-3), "
    "start it (pg_ctlcluster 15 main start) and/or set GRIDMAP_TEST_DATABASE_URL to an admin "
    f"URL (default {DEFAULT_ADMIN_URL})",
    "gdal": "install GDAL's command-line tools (Debian: apt-get install gdal-bin)",
    "browser": "install Chromium (Debian: apt-get install chromium, or set GRIDMAP_CHROMIUM) "
    "and fetch the front-end libraries (web/vendor.sh, needs npm)",
}


def _ci() -> bool:
    return os.environ.get("CI", "").strip().lower() == "true"


@pytest.fixture(scope="session")
def postgis_url() -> Iterator[str]:
    """URL of a fresh database with PostGIS, dropped at the end of the session.

    The admin URL is GRIDMAP_TEST_DATABASE_URL or the local default; the tests skip, with the
    reason, when that server cannot be reached or has no PostGIS.
    """
    admin = os.environ.get("GRIDMAP_TEST_DATABASE_URL") or DEFAULT_ADMIN_URL
    shown = _without_password(admin)
    try:
        conn = psycopg.connect(admin, autocommit=True, connect_timeout=5)
    except psycopg.Error as exc:
        why = str(exc).strip().splitlines()[0].rpartition(" failed: ")[2]  # libpq's last word
        pytest.skip(f"POSTGIS TESTS SKIPPED: cannot connect to {shown}: {why}")
    name = f"gridmap_test_{secrets.token_hex(6)}"
    with conn:
        available = conn.execute(
            "SELECT 1 FROM pg_available_extensions WHERE name = 'postgis'"
        ).fetchone()
        if available is None:
            pytest.skip(f"POSTGIS TESTS SKIPPED: the server at {shown} has no PostGIS")
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    url = _with_database(admin, name)
    try:
        with psycopg.connect(url, autocommit=True) as db:
            db.execute("CREATE EXTENSION postgis")
        yield url
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )


class _Dropper:
    """Drops databases one after the other on a thread of its own, in the order asked."""

    def __init__(self) -> None:
        self._queue: queue.Queue[tuple[str, str] | None] = queue.Queue()
        self._thread = threading.Thread(target=self._run, name="drop-databases", daemon=True)
        self.errors: list[str] = []
        self._thread.start()

    def drop(self, admin_url: str, name: str) -> None:
        self._queue.put((admin_url, name))

    def _run(self) -> None:
        while (item := self._queue.get()) is not None:
            admin_url, name = item
            try:
                with psycopg.connect(admin_url, autocommit=True) as conn:
                    conn.execute(
                        sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
                            sql.Identifier(name)
                        )
                    )
            except psycopg.Error as exc:
                self.errors.append(f"DROP DATABASE {name}: {exc}")

    def finish(self) -> None:
        self._queue.put(None)
        self._thread.join()


@pytest.fixture(scope="session")
def drop_database() -> Iterator[Callable[[str, str], None]]:
    """``drop_database(admin_url, name)``: drop that database, later, on another thread."""
    dropper = _Dropper()
    try:
        yield dropper.drop
    finally:
        dropper.finish()
    assert not dropper.errors, dropper.errors


def _with_database(url: str, dbname: str) -> str:
    if url.startswith(("postgresql://", "postgres://")):
        parts = urlsplit(url)
        return urlunsplit(parts._replace(path=f"/{dbname}"))
    return psycopg.conninfo.make_conninfo(url, dbname=dbname)


def _without_password(url: str) -> str:
    try:
        params = psycopg.conninfo.conninfo_to_dict(url)
    except psycopg.Error:
        return "the configured server"
    params.pop("password", None)
    return psycopg.conninfo.make_conninfo(**params)  # type: ignore[arg-type]


def _skipped(reporter) -> list[tuple[str, str, list[str]]]:  # type: ignore[no-untyped-def]
    """(test id, reason, markers) of every skipped test or module."""
    if reporter is None:
        return []
    out = []
    for report in reporter.stats.get("skipped", []):
        longrepr = report.longrepr
        reason = longrepr[2] if isinstance(longrepr, tuple) else str(longrepr)
        reason = reason.removeprefix("Skipped: ")
        markers = [m for m in HOW_TO_ENABLE if m in getattr(report, "keywords", {})]
        out.append((report.nodeid, reason, markers))
    return out


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    # Runs before the terminal summary, so the exit status set here is the one pytest returns.
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    passed_or_empty = (pytest.ExitCode.OK, pytest.ExitCode.NO_TESTS_COLLECTED)
    if _ci() and _skipped(reporter) and session.exitstatus in passed_or_empty:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_terminal_summary(terminalreporter, exitstatus: int, config: pytest.Config) -> None:  # type: ignore[no-untyped-def]
    skipped = _skipped(terminalreporter)
    if not skipped:
        return
    ci, out = _ci(), terminalreporter
    colour = {"red": True} if ci else {"yellow": True}
    if ci:
        out.write_sep("!", f"CI=true: {len(skipped)} SKIPPED TEST(S) FAIL THIS RUN", **colour)
    else:
        out.write_sep("!", f"{len(skipped)} TEST(S) SKIPPED: THOSE SUITES DID NOT RUN", **colour)
    by_reason: dict[str, list[str]] = {}
    markers: set[str] = set()
    for nodeid, reason, marks in skipped:
        by_reason.setdefault(reason, []).append(nodeid)
        markers.update(marks)
    for reason, nodeids in by_reason.items():
        files = sorted({nodeid.split("::")[0] for nodeid in nodeids})
        out.write_line(f"{len(nodeids)} skipped in {', '.join(files)}:", bold=True)
        out.write_line(f"    {reason}")
    for marker in sorted(markers):
        out.write_line(f"To run the {marker!r} tests: {HOW_TO_ENABLE[marker]}.", bold=True)
    if not ci:
        out.write_line("With CI=true (as in ./dev test on CI) every skip fails the run.")
    out.write_sep("!", **colour)


def _build_keeping_layers(out: Path, seed: int) -> dict:  # type: ignore[type-arg]
    """``build_sample(out, seed=seed)``'s result, and as ``layers`` a copy of the layers
    ``generate_nanan(seed)`` gave the build."""
    from unittest import mock

    from gridmap.sample import build_sample, generate

    generated: dict[str, object] = {}
    real = generate.generate_nanan

    def kept(*args: object, **kwargs: object) -> dict:  # type: ignore[type-arg]
        layers = real(*args, **kwargs)  # type: ignore[arg-type]
        generated.update({name: frame.copy() for name, frame in layers.items()})
        return layers

    with mock.patch.object(generate, "generate_nanan", kept):
        built = build_sample(out, seed=seed)
    assert set(generated) >= {"divisions", "buildings", "units", "staff"}
    return {**built, "layers": generated}


@pytest.fixture(scope="session")
def sample_build(tmp_path_factory: pytest.TempPathFactory) -> dict:  # type: ignore[type-arg]
    """The Nan'an sample built once per session (seed 0) through `gridmap sample`'s code path;
    also, as ``layers``, a copy of the layers ``generate_nanan(0)`` gave the build."""
    return _build_keeping_layers(tmp_path_factory.mktemp("sample") / "nanan.gpkg", 0)


@pytest.fixture(scope="session")
def sample_build_again(tmp_path_factory: pytest.TempPathFactory) -> dict:  # type: ignore[type-arg]
    """A second build of seed 0, as :func:`sample_build`, generated anew: what the determinism
    tests of the generation (test_sample_generate) and of the build (test_sample_build) compare
    with the first."""
    return _build_keeping_layers(tmp_path_factory.mktemp("sample-again") / "nanan.gpkg", 0)


@pytest.fixture(scope="session")
def nanan_layers(sample_build: dict) -> dict:  # type: ignore[type-arg]
    """``generate_nanan(0)``: the layers of the session's sample before their import (one
    generation for every module that reads them; read them, do not change them)."""
    return sample_build["layers"]  # type: ignore[no-any-return]
