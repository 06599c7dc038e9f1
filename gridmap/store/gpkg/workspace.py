"""The embedded workspace: one GeoPackage file that QGIS and GDAL open as it is.

Every write goes through :meth:`Workspace.write`, which is all-or-nothing: one SQLite
transaction (``BEGIN IMMEDIATE``, WAL journal) inside the file, so a failed or killed import
leaves the workspace exactly as it was, and SQLite's write lock lets one writer in at a time.
The tables are plain GeoPackage tables, registered for GDAL and QGIS
(:mod:`gridmap.store.gpkg.file`). Plans, incidents and the rest of the storage contract live in
the same file, written by :class:`gridmap.store.gpkg.store.GpkgStore`.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
from collections.abc import Iterator, Mapping
from pathlib import Path

import pandas as pd

from gridmap.store.common import check_bbox
from gridmap.store.gpkg.file import connect, ensure_geopackage, table_exists
from gridmap.store.gpkg.layers import present_layers, read_layer, write_layers

__all__ = ["GPKG_DATASET_OPTIONS", "Workspace"]

# GeoPackage 1.3: GDAL before 3.7 (QGIS on Debian 12, Ubuntu 22.04) warns on 1.4 files.
GPKG_DATASET_OPTIONS = {"VERSION": "1.3"}


class Workspace:
    """A GeoPackage workspace at ``path`` (created on first write).

    Examples
    --------
    >>> import tempfile, pathlib
    >>> ws = Workspace(pathlib.Path(tempfile.mkdtemp()) / "w.gpkg")
    >>> ws.layers(), len(ws.read("buildings"))
    ([], 0)
    """

    def __init__(self, path: str | os.PathLike[str]):
        self.path = Path(path)

    def __repr__(self) -> str:
        return f"Workspace({str(self.path)!r})"

    @property
    def exists(self) -> bool:
        return self.path.exists()

    def layers(self) -> list[str]:
        """The gridmap layers (and plan tables) present in the file, in schema order."""
        if not self.exists:
            return []
        with self._connection() as conn:
            return present_layers(conn)

    def read(self, name: str, bbox: tuple[float, float, float, float] | None = None):  # type: ignore[no-untyped-def]
        """Read layer ``name`` (typed by the schema); an absent layer reads as empty."""
        from gridmap.schema import layer

        lyr = layer(name)
        box = check_bbox(bbox)
        if not self.exists:
            with contextlib.closing(sqlite3.connect(":memory:")) as empty:
                return read_layer(empty, lyr)
        with self._connection() as conn:
            conn.execute("BEGIN")  # one snapshot
            try:
                return read_layer(conn, lyr, box)
            finally:
                conn.execute("COMMIT")

    def write(self, frames: Mapping[str, pd.DataFrame], *, replace: bool = False) -> None:
        """Write layers all-or-nothing, in one transaction.

        Each frame is appended to what the layer holds, or replaces it when ``replace``. A
        missing or repeated id, or one the layer holds already, is an error and nothing is
        written (callers such as :mod:`gridmap.io.importer` report them earlier, row by row).
        """
        with self._connection() as conn:
            conn.execute("BEGIN IMMEDIATE")
            try:
                ensure_geopackage(conn)
                counts = write_layers(conn, frames, replace=replace)
                _audit_write(conn, counts, replace)
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")

    def summary(self) -> dict[str, object]:
        """Counts a person checks first: divisions by level, units by kind, buildings, residents."""
        div = self.read("divisions")
        units = self.read("units")
        bld = self.read("buildings")
        levels = div["level"].value_counts()
        return {
            "workspace": str(self.path),
            "districts": int(levels.get("district", 0)),
            "streets": int(levels.get("street", 0)),
            "communities": int(levels.get("community", 0)),
            "units": {k: int(v) for k, v in units["kind"].value_counts().sort_index().items()},
            "buildings": len(bld),
            "residents": int(bld["residents"].sum()),
            "residents_estimated_buildings": int(bld["residents_estimated"].sum()),
            "households": int(bld["households"].sum()),
            "roads": len(self.read("roads")),
            "staff": len(self.read("staff")),
            "grids": len(self.read("grids")),
            "plans": len(self.read("plans")),
        }

    @contextlib.contextmanager
    def _connection(self) -> Iterator[sqlite3.Connection]:
        conn = connect(self.path)
        try:
            yield conn
        finally:
            conn.close()  # the last connection to close checkpoints and removes the WAL file


def _audit_write(conn: sqlite3.Connection, counts: Mapping[str, int], replace: bool) -> None:
    """In a workspace that is a store (it has an audit log), an import is audited as the
    store's writes are: the log says who changed the layers, and prebuilt tiles see the change
    (:func:`gridmap.store.tilesets.source_stamp`)."""
    if not table_exists(conn, "audit_log"):
        return
    from gridmap.store.common import now, to_json
    from gridmap.store.gpkg.store import _AUDIT, to_text

    detail = to_json({"rows": dict(counts), "replace": replace, "via": "import"})
    conn.execute(_AUDIT, (to_text(now()), "gridmap", "write", "ok", None, None, detail))
