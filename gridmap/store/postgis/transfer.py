"""Whole layers between PostGIS and a GeoPackage workspace.

:class:`PostgisLayers` reads and writes whole layers exactly as :class:`Workspace` does (same
columns, dtypes and geometries), so that a workspace moves to PostgreSQL and back unchanged;
:func:`load_workspace` and :func:`dump_to_workspace` do that move for the layers (a full backup
of a store, plans and records too, is :mod:`gridmap.store.backup`). A write is one transaction
for all its layers; rows travel by binary ``COPY`` with EWKB geometry, and a replaced district
is loaded into a fresh partition indexed once (see :mod:`gridmap.store.postgis.layers`).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterable, Iterator, Mapping
from typing import TYPE_CHECKING, Any

import pandas as pd
import psycopg
from psycopg import sql

from gridmap.errors import InputError, StoreError
from gridmap.schema import LAYERS, layer
from gridmap.store.common import check_bbox
from gridmap.store.gpkg.workspace import Workspace
from gridmap.store.postgis.layers import filled_layers, read_layer, write_layers
from gridmap.store.postgis.migrations import apply_migrations
from gridmap.store.postgis.store import PostgisStore

if TYPE_CHECKING:
    from psycopg_pool import ConnectionPool

__all__ = ["PostgisLayers", "dump_to_workspace", "load_workspace"]

_SNAPSHOT = sql.SQL("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")


class PostgisLayers:
    """The gridmap layers of a PostGIS database, read and written like a :class:`Workspace`.

    ``conninfo`` is a libpq URL or ``key=value`` string (a connection is opened per call) or a
    ``psycopg_pool.ConnectionPool`` to borrow connections from. The first write applies the
    migrations.

    Examples
    --------
    >>> import pandas as pd
    >>> store = PostgisLayers("postgresql://postgres@127.0.0.1/gridmap")  # doctest: +SKIP
    >>> staff = pd.DataFrame({"id": ["P1"], "name": ["张某一"], "role": ["police"]})
    >>> store.write({"staff": staff}, replace=True)  # doctest: +SKIP
    >>> store.layers(), store.read("staff")["name"].tolist()  # doctest: +SKIP
    (['staff'], ['张某一'])
    """

    def __init__(self, conninfo: str | ConnectionPool):
        if isinstance(conninfo, str):
            self._conninfo: str | None = conninfo
            self._pool = None
        elif hasattr(conninfo, "connection"):
            self._conninfo, self._pool = None, conninfo
        else:
            raise InputError(
                f"conninfo: expected a PostgreSQL URL or a ConnectionPool, got {conninfo!r}"
            )

    def __repr__(self) -> str:
        if self._pool is not None:
            return f"PostgisLayers({self._pool!r})"
        try:
            params = psycopg.conninfo.conninfo_to_dict(self._conninfo or "")
        except psycopg.ProgrammingError:
            params = {}
        where = f"{params.get('host', '')}:{params.get('port', '')}/{params.get('dbname', '')}"
        return f"PostgisLayers({where!r})"  # never the password

    def layers(self) -> list[str]:
        """The layers holding at least one row, in schema order (empty reads like absent)."""
        with self._connect() as conn:
            return filled_layers(conn)

    def read(self, name: str, bbox: tuple[float, float, float, float] | None = None):  # type: ignore[no-untyped-def]
        """Read layer ``name``, typed by the schema exactly as :meth:`Workspace.read` does.

        ``bbox`` (min lon, min lat, max lon, max lat) keeps the features that intersect it.
        Rows come back in the order they were written; an absent layer reads as empty.
        """
        lyr = layer(name)
        box = check_bbox(bbox)
        with self._connect() as conn:
            return read_layer(conn, lyr, box)

    def write(self, frames: Mapping[str, pd.DataFrame], *, replace: bool = False) -> None:
        """Write layers all-or-nothing: one transaction for every layer in ``frames``.

        Each frame is appended to what the layer holds, or replaces it when ``replace``. An id
        already in the layer (when appending) or twice in a frame raises
        :class:`DuplicateIdError`; nothing is written then. Replacing buildings or grids
        loads each district into a fresh partition indexed once (see
        :mod:`gridmap.store.postgis.layers`).
        """
        with self._connect() as conn:
            apply_migrations(conn)
            write_layers(conn, frames, replace=replace)

    def _read_all(self, names: Iterable[str]) -> dict[str, pd.DataFrame]:
        """Read several layers from one consistent snapshot."""
        lyrs = [layer(name) for name in names]
        with self._connect() as conn, conn.transaction():
            conn.execute(_SNAPSHOT)  # per transaction: a pooled connection keeps its defaults
            return {lyr.name: read_layer(conn, lyr, None) for lyr in lyrs}

    @contextlib.contextmanager
    def _connect(self) -> Iterator[psycopg.Connection[Any]]:
        try:
            if self._pool is not None:
                with self._pool.connection() as conn:
                    yield conn
            else:
                with psycopg.connect(self._conninfo or "") as conn:
                    yield conn
        except psycopg.Error as exc:
            raise StoreError(f"{self!r}: {exc}") from exc


def load_workspace(
    workspace: Workspace | str | os.PathLike[str],
    conninfo: str | ConnectionPool,
    *,
    actor: str = "system",
) -> dict[str, int]:
    """Copy every layer of a GeoPackage workspace into PostGIS, replacing what it held.

    Afterwards every layer of the database reads as the workspace's (absent ones as empty).
    One transaction, audited as a ``write`` by ``actor``. Returns the number of rows copied
    per layer of the workspace. A workspace file that does not exist is an InputError (it
    would otherwise empty the database).
    """
    ws = workspace if isinstance(workspace, Workspace) else Workspace(workspace)
    if not ws.exists:
        raise InputError(f"{ws.path}: no such workspace")
    present = ws.layers()
    frames = {name: ws.read(name) for name in LAYERS}
    store = PostgisStore(conninfo)
    try:
        store.write(frames, replace=True, actor=actor)
    finally:
        store.close()
    return {name: len(frame) for name, frame in frames.items() if name in present}


def dump_to_workspace(
    conninfo: str | ConnectionPool, workspace: Workspace | str | os.PathLike[str]
) -> dict[str, int]:
    """Copy every PostGIS layer into a GeoPackage workspace, replacing what it held.

    Reads one snapshot of the database. Layers the workspace held that the database does not
    are emptied. Returns the number of rows copied per layer.
    """
    ws = workspace if isinstance(workspace, Workspace) else Workspace(workspace)
    store = PostgisLayers(conninfo)
    wanted = set(store.layers()) | set(ws.layers())
    frames = store._read_all(name for name in LAYERS if name in wanted)
    ws.write(frames, replace=True)
    return {name: len(frame) for name, frame in frames.items()}
