"""``create_app(settings)``: the one FastAPI app, its store opened in the lifespan.

The store (GeoPackage workspace or PostGIS, from ``settings``) is opened when the app starts and
kept on ``app.state.store``; in-memory indexes are built then (``app.state.ready`` turns true,
which /readyz reports). Routers live one module per concern and are listed in ``ROUTERS``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from starlette.middleware.gzip import GZipMiddleware

from gridmap import __version__
from gridmap.api import (
    auth,
    boards,
    case_photos,
    departments,
    docs_pages,
    health,
    incidents,
    jobs,
    layers,
    limits,
    office_reach,
    ogc,
    open311,
    pages,
    plan_atoms,
    plan_edits,
    plan_locks,
    plan_submissions,
    plans,
    public,
    staff,
    stats,
    tiles,
    users,
    watch,
)
from gridmap.api.access_log import AccessLog
from gridmap.api.errors import install_error_handlers
from gridmap.api.input_guard import RejectNul
from gridmap.api.limits import install_limits
from gridmap.api.sign_in_guard import SignInGate
from gridmap.settings import Settings
from gridmap.store import PostgisStore, open_store
from gridmap.store.contract import Store

__all__ = ["ROUTERS", "create_app"]

# Router modules, each exposing ``router`` (an APIRouter) and optionally ``startup(app)``, an
# async function run in the lifespan once the store is open (to build indexes, caches), in
# this order, and ``shutdown(app)``, run in the reverse order before it closes.
ROUTERS = (
    health,
    limits,
    auth,
    public,
    layers,
    tiles,
    ogc,
    pages,
    users,
    plans,
    jobs,
    plan_edits,
    plan_locks,
    plan_submissions,
    plan_atoms,
    incidents,
    stats,
    case_photos,
    departments,
    open311,
    staff,
    boards,
    office_reach,
    docs_pages,
    watch,
)


def create_app(settings: Settings | None = None, *, store: Store | None = None) -> FastAPI:
    """The gridmap web app over ``store`` (default: the one ``settings`` names).

    Examples
    --------
    >>> import tempfile, pathlib
    >>> from fastapi.testclient import TestClient
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "w.gpkg"
    >>> with TestClient(create_app(Settings(workspace=path))) as client:
    ...     client.get("/healthz").json()["status"], client.get("/readyz").status_code
    ('ok', 200)
    """
    settings = settings or Settings()
    modules = ROUTERS

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.ready = False
        owned = store is None
        app.state.store = store if store is not None else open_store(_target(settings))
        # Public reads (lookups, search, layers, tiles) from a streaming replica when one is set.
        app.state.read_store = (
            PostgisStore(settings.read_database_url, read_only=True)
            if settings.read_database_url
            else app.state.store
        )
        try:
            for module in modules:
                startup = getattr(module, "startup", None)
                if startup is not None:
                    await startup(app)
            app.state.ready = True
            yield
        finally:
            app.state.ready = False
            for module in reversed(modules):
                shutdown = getattr(module, "shutdown", None)
                if shutdown is not None:
                    await shutdown(app)
            if app.state.read_store is not app.state.store:
                app.state.read_store.close()
            if owned:
                app.state.store.close()

    app = FastAPI(
        title="gridmap",
        version=__version__,
        description="Urban grid management (网格化服务管理): lookup, layers, tiles, plans, "
        'incidents. Errors are JSON {"error": code, "detail": …}.',
        lifespan=lifespan,
        docs_url=None,  # served by api/docs_pages.py from web/vendor, not from a CDN
        redoc_url=None,
    )
    app.state.settings = settings
    install_error_handlers(app)
    install_limits(app, settings)
    app.add_middleware(RejectNul)
    app.add_middleware(GZipMiddleware, minimum_size=1024)  # layers shrink ~8x: 5 MB → 0.6 MB
    app.add_middleware(SignInGate)  # a sprayer's refusals cost next to nothing
    app.add_middleware(AccessLog, mode=settings.access_log)  # outermost: sees every answer
    for module in modules:
        app.include_router(module.router)
    return app


def _target(settings: Settings) -> str:
    return settings.database_url or str(settings.workspace)
