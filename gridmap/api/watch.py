"""Keeping public answers current when another process changes the store.

Each server process keeps the lookup index, the search index, the layers and the tiles in
memory. A publication or a staff assignment made through this process refreshes them at once;
one made through another process (another ``gridmap serve`` on the same database, the CLI, or
the primary of the replica this process reads from) is noticed here: every
``settings.refresh_seconds`` the store's :meth:`~gridmap.store.contract.Store.change_stamp`
(a count of publications and assignments, one cheap query) is read, and when it has changed the
indexes are rebuilt and the tiles forgotten (:func:`refresh`).

On PostGIS the server also LISTENs on channel ``gridmap_changes`` of ``settings.database_url``:
a trigger on publications and staff assignments (migration 009) notifies it when such a change
commits, and the stamp is read at once instead of at the next tick. The count stays: it is the
fallback when the listening connection is down, and the only way on a streaming replica
(notifications are not replicated) and on a GeoPackage.

The stamp also moves when a publication's effective date passes (it counts the publications
started by now); then the refresh first moves the open incidents of the plans taking effect
(:func:`gridmap.service.publish.take_effect_due`: once, whichever process comes first; the store
marks it).
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging

from fastapi import APIRouter, FastAPI
from starlette.concurrency import run_in_threadpool

__all__ = ["CHANNEL", "refresh", "router", "shutdown", "startup"]

router = APIRouter(include_in_schema=False)  # no routes: a lifespan task
_log = logging.getLogger(__name__)

CHANNEL = "gridmap_changes"  # the NOTIFY channel of migration 009's trigger


async def startup(app: FastAPI) -> None:
    """Start watching (when ``settings.refresh_seconds`` > 0), and listening on PostGIS."""
    settings = app.state.settings
    seconds = float(settings.refresh_seconds)
    app.state.watch = app.state.watch_listen = None
    if seconds <= 0:
        return
    await run_in_threadpool(_take_effect, app)  # a date passed while no server ran
    app.state.watch_stamp = await run_in_threadpool(app.state.read_store.change_stamp)
    wake = asyncio.Event()
    app.state.watch = asyncio.create_task(_watch(app, seconds, wake))
    if settings.database_url:
        retry_s = min(seconds, 5.0)
        app.state.watch_listen = asyncio.create_task(_listen(settings.database_url, wake, retry_s))


async def shutdown(app: FastAPI) -> None:
    for name in ("watch_listen", "watch"):
        task = getattr(app.state, name, None)
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task


async def _watch(app: FastAPI, seconds: float, wake: asyncio.Event) -> None:
    while True:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(wake.wait(), seconds)
        wake.clear()
        try:
            now = await run_in_threadpool(app.state.read_store.change_stamp)
            if now != getattr(app.state, "watch_stamp", None):
                await refresh(app)
        except Exception:  # the store is down for a moment: keep serving, try again
            _log.warning("watching the store for changes failed; trying again", exc_info=True)


def _take_effect(app: FastAPI) -> None:
    from gridmap.service.publish import take_effect_due

    store = getattr(app.state, "store", None)
    if store is None:
        return
    try:
        take_effect_due(store)
    except Exception:  # the indexes are refreshed all the same; the next change tries again
        _log.warning("moving incidents of plans taking effect failed", exc_info=True)


async def _listen(url: str, wake: asyncio.Event, retry_s: float) -> None:
    """Set ``wake`` on every notification of :data:`CHANNEL`; reconnect after ``retry_s``
    when the connection fails (polling goes on meanwhile)."""
    import psycopg
    from psycopg import sql

    failing = False
    while True:
        try:
            async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
                await conn.execute(sql.SQL("LISTEN {}").format(sql.Identifier(CHANNEL)))
                wake.set()  # whatever changed while not listening
                failing = False
                async for _ in conn.notifies():
                    wake.set()
        except Exception:
            if not failing:
                _log.warning("listening for changes failed; polling meanwhile", exc_info=True)
            failing = True
        await asyncio.sleep(retry_s)


async def refresh(app: FastAPI) -> None:
    """Move the incidents of plans taking effect, rebuild the lookup and search indexes (off the
    event loop: it takes seconds) and forget the tiles and layers. A tile cache's ``invalidate``
    may be a coroutine function.

    The change stamp read first is what the watch loop compares with next: a refresh made by
    this process (after its own publication) is not made again when the loop sees the stamp.
    """
    stamp = await run_in_threadpool(app.state.read_store.change_stamp)
    await run_in_threadpool(_take_effect, app)
    locator = getattr(app.state, "locator", None)
    if locator is not None:
        await run_in_threadpool(locator.refresh)  # the search index rebuilds with it
    tiles = getattr(app.state, "tiles", None)
    target = tiles if tiles is not None else getattr(app.state, "features", None)
    if target is not None:
        done = await run_in_threadpool(target.invalidate)
        if inspect.isawaitable(done):
            await done
    app.state.watch_stamp = stamp
