"""Dependencies every router shares: the app's store and settings.

``StoreDep`` and ``SettingsDep`` are annotated types for route parameters; the functions are
``async`` so that FastAPI resolves them on the event loop (a sync dependency costs a hop into
the thread pool, ≈ 0.2 ms a request).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from gridmap.settings import Settings
from gridmap.store.contract import Store

__all__ = ["SettingsDep", "StoreDep", "settings_in", "settings_of", "store_in", "store_of"]


def store_in(request: Request) -> Store:
    """The app's store, for code that holds the request (not a dependency)."""
    store: Store = request.app.state.store
    return store


def settings_in(request: Request) -> Settings:
    """The app's settings, for code that holds the request (not a dependency)."""
    settings: Settings = request.app.state.settings
    return settings


async def store_of(request: Request) -> Store:
    """The store the app opened in its lifespan (``app.state.store``)."""
    return store_in(request)


async def settings_of(request: Request) -> Settings:
    """The settings the app was built with (``app.state.settings``)."""
    return settings_in(request)


StoreDep = Annotated[Store, Depends(store_of)]
SettingsDep = Annotated[Settings, Depends(settings_of)]
