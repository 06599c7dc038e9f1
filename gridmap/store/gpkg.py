"""The embedded workspace: one GeoPackage file that QGIS and GDAL open as it is.

Every write goes through :meth:`Workspace.write`, which is all-or-nothing: the layers are written
into a copy of the file beside it and the copy replaces the original in one ``os.replace``. A
failed or killed import therefore leaves the workspace exactly as it was. An exclusive lock file
serialises writers on one machine.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import tempfile
from collections.abc import Iterator, Mapping
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pyogrio

from gridmap.errors import StoreError
from gridmap.schema import (
    LAYERS,
    PLAN_LAYERS,
    RESERVED_LAYERS,
    conform,
    layer,
    single_part_where_possible,
)

__all__ = ["GPKG_DATASET_OPTIONS", "Workspace"]

# GeoPackage 1.3: GDAL before 3.7 (QGIS on Debian 12, Ubuntu 22.04) warns on 1.4 files.
GPKG_DATASET_OPTIONS = {"VERSION": "1.3"}

_GPKG_GEOMETRY = {
    "polygon": "MultiPolygon",
    "line": "MultiLineString",
    "polygon_or_point": "Unknown",
}


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
        try:
            present = {str(name) for name, _ in pyogrio.list_layers(self.path)}
        except Exception as exc:  # GDAL raises its own DataSourceError for a non-GeoPackage
            raise StoreError(f"{self.path}: not a readable GeoPackage ({exc})") from exc
        return [name for name in (*LAYERS, *PLAN_LAYERS) if name in present]

    def read(self, name: str, bbox: tuple[float, float, float, float] | None = None):  # type: ignore[no-untyped-def]
        """Read layer ``name`` (typed by the schema); an absent layer reads as empty."""
        lyr = layer(name)
        if name not in self.layers():
            empty = pd.DataFrame({c: pd.Series(dtype="object") for c in lyr.column_names})
            if lyr.geometry:
                empty = gpd.GeoDataFrame(empty, geometry=gpd.GeoSeries([], crs=4326))
            return conform(empty, lyr)
        frame = pyogrio.read_dataframe(self.path, layer=name, bbox=bbox, fid_as_index=False)
        if lyr.geometry:
            frame = frame.set_crs(4326, allow_override=True)
            # GeoPackage stores polygons as MultiPolygon; give single parts back as they came.
            frame["geometry"] = single_part_where_possible(frame.geometry.values)
        return conform(frame, lyr)

    def write(self, frames: Mapping[str, pd.DataFrame], *, replace: bool = False) -> None:
        """Write layers all-or-nothing.

        Each frame is appended to what the layer holds, or replaces it when ``replace``.
        Callers check ids before writing (see :mod:`gridmap.io.importer`).
        """
        for name in frames:
            if name in RESERVED_LAYERS:
                raise StoreError(f"layer {name!r} is reserved for plans and incidents")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self._writer_lock():
            full = {}
            for name, frame in frames.items():
                lyr = layer(name)
                new = conform(frame, lyr)
                if not replace and name in self.layers():
                    new = pd.concat([self.read(name), new], ignore_index=True)
                full[name] = new
            fd, tmp_name = tempfile.mkstemp(
                prefix=f".{self.path.stem}.", suffix=".tmp.gpkg", dir=self.path.parent
            )
            os.close(fd)
            tmp = Path(tmp_name)
            try:
                if self.exists:
                    shutil.copyfile(self.path, tmp)
                else:
                    tmp.unlink()
                for name, frame in full.items():
                    _write_layer(tmp, name, frame)
                with open(tmp, "rb+") as fh:
                    os.fsync(fh.fileno())
                os.chmod(tmp, 0o666 & ~_umask())
                os.replace(tmp, self.path)
            finally:
                tmp.unlink(missing_ok=True)

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
    def _writer_lock(self) -> Iterator[None]:
        lock_path = self.path.with_name(self.path.name + ".lock")
        with open(lock_path, "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)


def _umask() -> int:
    current = os.umask(0)
    os.umask(current)
    return current


def _write_layer(path: Path, name: str, frame: pd.DataFrame) -> None:
    lyr = layer(name)
    kwargs: dict[str, object] = {"layer": name, "driver": "GPKG"}
    if lyr.geometry:
        kwargs["geometry_type"] = _GPKG_GEOMETRY[lyr.geometry]
        if lyr.geometry != "polygon_or_point":
            kwargs["promote_to_multi"] = True
    if not path.exists():
        kwargs["dataset_options"] = GPKG_DATASET_OPTIONS
    pyogrio.write_dataframe(frame, path, **kwargs)
