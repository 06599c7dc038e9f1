"""Fixtures of the browser tests: a published sample served by a real uvicorn, and Chromium.

- ``web_workspace``: the Nan'an sample with one street (:data:`STREET`) partitioned, published,
  its staff assigned, three users (:data:`USERS`), the case workflow's users
  (:data:`WORKFLOW_USERS`) and the shipped departments.
- ``web_server``: the app over that workspace in a real uvicorn on a free 127.0.0.1 port;
  ``web_server_postgis`` the same over a PostGIS copy of it.
- ``browser``: Debian's Chromium (``GRIDMAP_CHROMIUM``, default /usr/bin/chromium) driven by
  Playwright, headless; the tests skip (and fail under CI=true) without it.
- ``page``: a fresh page that records console errors and requests to any other origin; both
  are asserted empty when the test ends, and a screenshot is kept in test-artifacts/screenshots.
  ``engine_page``: the same, once over each store engine.
"""

from __future__ import annotations

import os
import secrets
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import pytest
from webmap import OVERDUE_CATEGORY, PASSWORD, SCREENSHOTS, STREET, USERS, WORKFLOW_USERS

from gridmap.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
SECRET = "web-test-signing-key-" + "w" * 40
CHROMIUM = os.environ.get("GRIDMAP_CHROMIUM", "/usr/bin/chromium")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    here = Path(__file__).parent
    for item in items:
        if here in Path(item.path).parents:
            item.add_marker(pytest.mark.browser)


@pytest.fixture(scope="session")
def web_workspace(sample_build: dict, tmp_path_factory: pytest.TempPathFactory) -> Path:  # type: ignore[type-arg]
    from gridmap.api.auth import hash_password
    from gridmap.cli.department_commands import DEPARTMENTS_CSV, read_departments
    from gridmap.cli.serve_commands import assign_community_staff
    from gridmap.plans import partition_workspace
    from gridmap.store import GpkgStore, Workspace

    path = tmp_path_factory.mktemp("web") / "nanan.gpkg"
    shutil.copyfile(sample_build["workspace"], path)
    workspace = Workspace(path)
    divisions = workspace.read("divisions")
    communities = divisions.loc[divisions["parent_code"] == STREET, "code"].tolist()
    plan = partition_workspace(workspace, communities=communities, workers=2, actor="web-test")
    with GpkgStore(path) as store:
        store.publish([plan["plan"]], actor="web-test")
        assign_community_staff(store, actor="web-test")
        for name, role in USERS.items():
            duties, department = WORKFLOW_USERS.get(name, ((), None))
            store.add_user(
                name,
                role,
                hash_password(PASSWORD),
                actor="web-test",
                duties=duties,
                department=department,
            )
        for name, (duties, department) in WORKFLOW_USERS.items():
            if name not in USERS:
                store.add_user(
                    name,
                    "staff",
                    hash_password(PASSWORD),
                    actor="web-test",
                    duties=duties,
                    department=department,
                )
        for code, title, phone in read_departments(DEPARTMENTS_CSV):
            store.put_department(code, title, phone, actor="web-test")
    return path


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _settings(**kw: Any) -> Settings:
    # One category due at once (an override in clock hours), so that a fresh incident is
    # overdue (the office highlights it).
    return Settings(
        token_secret=SECRET,
        rate_limit_per_second=0,
        sign_in_per_minute=0,
        incident_deadlines={OVERDUE_CATEGORY: 0.0},
        **kw,
    )


@contextmanager
def _served(settings: Settings) -> Iterator[str]:
    """The app in a real uvicorn (in a thread of this process); its base URL."""
    import uvicorn

    from gridmap.api import create_app

    port = _free_port()
    server = uvicorn.Server(
        uvicorn.Config(create_app(settings), host="127.0.0.1", port=port, log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 120
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.1)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=20)


@pytest.fixture(scope="session")
def web_server(web_workspace: Path) -> Iterator[str]:
    """The app over the workspace (a GeoPackage) in a real uvicorn; its base URL."""
    with _served(_settings(workspace=web_workspace)) as url:
        yield url


@pytest.fixture(scope="session")
def web_server_postgis(
    web_workspace: Path, postgis_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """The same app over a PostGIS copy of the workspace (``gridmap db load``'s code)."""
    import psycopg
    from psycopg import sql

    from gridmap.store.backup import load_store
    from gridmap.store.postgis.store import PostgisStore

    name = f"gridmap_web_{secrets.token_hex(4)}"
    with psycopg.connect(postgis_url, autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    # A URL: the app opens PostGIS for postgresql:// (a key=value string would be a file name).
    url = urlunsplit(urlsplit(postgis_url)._replace(path=f"/{name}"))
    try:
        with psycopg.connect(url, autocommit=True) as db:
            db.execute("CREATE EXTENSION IF NOT EXISTS postgis")
        store = PostgisStore(url)
        try:
            load_store(web_workspace, store)
        finally:
            store.close()
        unused = tmp_path_factory.mktemp("web-pg") / "unused.gpkg"
        with _served(_settings(database_url=url, workspace=unused)) as base:
            yield base
    finally:
        with psycopg.connect(postgis_url, autocommit=True) as admin:
            admin.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    if not Path(CHROMIUM).exists():
        pytest.skip(f"BROWSER TESTS SKIPPED: no Chromium at {CHROMIUM}")
    if not (ROOT / "web" / "vendor" / "VENDOR.md").exists():
        pytest.skip("BROWSER TESTS SKIPPED: web/vendor is missing (run web/vendor.sh; needs npm)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=["--no-sandbox"]
        )
        yield chromium
        chromium.close()


class PageWatch:
    """What a page did that it must not: console errors, page errors, foreign requests."""

    def __init__(self, origin: str):
        self.origin = origin
        self.errors: list[str] = []
        self.foreign: list[str] = []
        self.requests = 0

    def attach(self, page: Any) -> None:
        page.on("console", self._console)
        page.on("pageerror", lambda error: self.errors.append(f"page error: {error}"))
        page.on("request", self._request)

    def _console(self, message: Any) -> None:
        if message.type == "error":
            self.errors.append(f"console: {message.text} ({message.location.get('url')})")

    def _request(self, request: Any) -> None:
        self.requests += 1
        url = request.url
        if not (url.startswith(self.origin + "/") or url.startswith(("data:", "blob:"))):
            self.foreign.append(url)


@pytest.fixture
def page(browser: Any, web_server: str, request: pytest.FixtureRequest) -> Iterator[Any]:
    """A page on a phone-or-desktop viewport (``@pytest.mark.viewport(w, h)``), watched."""
    yield from _watched_page(browser, web_server, request)


@pytest.fixture(params=["gpkg", pytest.param("postgis", marks=pytest.mark.postgis)])
def engine_page(browser: Any, request: pytest.FixtureRequest) -> Iterator[Any]:
    """A watched page of the app over each store engine (``page.base`` is its URL)."""
    server = "web_server" if request.param == "gpkg" else "web_server_postgis"
    yield from _watched_page(browser, request.getfixturevalue(server), request)


def _watched_page(browser: Any, base: str, request: pytest.FixtureRequest) -> Iterator[Any]:
    marker = request.node.get_closest_marker("viewport")
    width, height = marker.args if marker else (1280, 860)
    context = browser.new_context(
        viewport={"width": width, "height": height},
        base_url=base,
        locale="zh-CN",
        permissions=["geolocation"],
    )
    page = context.new_page()
    page.set_default_timeout(30_000)
    watch = PageWatch(base)
    watch.attach(page)
    page.watch = watch
    page.base = base
    page.engine = getattr(request, "param", "gpkg")
    try:
        yield page
    finally:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        name = request.node.name.replace("/", "_")
        page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)
        context.close()
    assert watch.requests > 0
    assert watch.foreign == [], f"requests to other hosts: {watch.foreign}"
    assert watch.errors == [], f"console errors: {watch.errors}"
