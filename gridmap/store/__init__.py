"""Where data lives: a GeoPackage file (the embedded default) or PostGIS, behind one contract.

:func:`open_store` gives the :class:`~gridmap.store.contract.Store` for a path (GeoPackage) or a
``postgresql://`` URL (PostGIS).
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

from gridmap.store.contract import Store
from gridmap.store.gpkg import GpkgStore, Workspace

if TYPE_CHECKING:
    from gridmap.store.postgis import (
        PostgisLayers,
        PostgisStore,
        dump_to_workspace,
        load_workspace,
    )

# PostGIS (psycopg and its pool) loads on first use: a GeoPackage command does not pay for it.
_POSTGIS = ("PostgisLayers", "PostgisStore", "dump_to_workspace", "load_workspace")

__all__ = [
    "GpkgStore",
    "PostgisLayers",
    "PostgisStore",
    "Store",
    "Workspace",
    "dump_to_workspace",
    "load_workspace",
    "open_store",
]


def open_store(target: str | os.PathLike[str]) -> Store:
    """The store at ``target``: PostGIS for a ``postgresql://`` or ``postgres://`` URL, else
    the GeoPackage file at that path (created when absent).

    Examples
    --------
    >>> import tempfile, pathlib
    >>> store = open_store(pathlib.Path(tempfile.mkdtemp()) / "w.gpkg")
    >>> type(store).__name__, store.plans()
    ('GpkgStore', [])
    >>> store.close()
    """
    text = os.fspath(target)
    if text.startswith(("postgresql://", "postgres://")):
        from gridmap.store.postgis import PostgisStore

        return PostgisStore(text)
    return GpkgStore(text)


def __getattr__(name: str) -> Any:
    if name in _POSTGIS:
        import gridmap.store.postgis as postgis

        return getattr(postgis, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
