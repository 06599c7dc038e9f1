"""Keeping public answers current when another process changes the store.

Each server process keeps the lookup index, the search index, the layers and the tiles in
memory. A publication or a staff assignment made through this process refreshes them at once;
one made through another process (another ``gridmap serve`` on the same database, the CLI, or
the primary of the replica this process reads from) is noticed here: every
``settings.refresh_seconds`` the store's :meth:`~gridmap.store.contract.Store.change_stamp`
(a count of publications and assignments, one cheap query) is read, and when it has changed the
indexes are rebuilt and the tiles forgotten. The stamp also moves when a publication's effective
date passes (it counts the publications started by now); then the refresh first moves the open
incidents of the plans taking effect (:func:`gridmap.service.publish.take_effect_due`: once,
whichever process comes first; the store marks it). PostgreSQL's LISTEN/NOTIFY would be
quicker but does not reach a streaming replica (notifications are not replicated); a count
works on both engines.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

from fastapi import APIRouter, FastAPI
from starlette.concurrency import run_in_threadpool

__all__ = ["router", "shutdown", "startup"]

router = APIRouter(include_in_schema=False)  # no routes: a lifespan task
_log = logging.getLogger(__name__)


async def startup(app: FastAPI) -> None:
    """Start watching (when ``settings.refresh_seconds`` > 0)."""
    seconds = float(app.state.settings.refresh_seconds)
    app.state.watch = None
    if seconds <= 0:
        return
    await run_in_threadpool(_take_effect, app)  # a date passed while no server ran
    stamp = await run_in_threadpool(app.state.read_store.change_stamp)
    app.state.watch = asyncio.create_task(_watch(app, seconds, stamp))


async def shutdown(app: FastAPI) -> None:
    task = getattr(app.state, "watch", None)
    if task is not None:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def _watch(app: FastAPI, seconds: float, stamp: tuple[Any, ...]) -> None:
    while True:
        await asyncio.sleep(seconds)
        try:
            now = await run_in_threadpool(app.state.read_store.change_stamp)
            if now != stamp:
                await run_in_threadpool(refresh, app)
                stamp = now
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


def refresh(app: FastAPI) -> None:
    """Move the incidents of plans taking effect, rebuild the lookup and search indexes and
    forget the tiles and layers."""
    _take_effect(app)
    locator = getattr(app.state, "locator", None)
    if locator is not None:
        locator.refresh()
    tiles = getattr(app.state, "tiles", None)
    if tiles is not None:
        tiles.invalidate()
    elif getattr(app.state, "features", None) is not None:
        app.state.features.invalidate()
