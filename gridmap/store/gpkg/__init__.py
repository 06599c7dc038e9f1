"""The embedded engine: one GeoPackage file that QGIS and GDAL open as it is.

:class:`Workspace` reads and writes the reference layers; :class:`GpkgStore` is the whole
storage contract on the same file.
"""

from gridmap.store.gpkg.store import GpkgStore
from gridmap.store.gpkg.workspace import GPKG_DATASET_OPTIONS, Workspace

__all__ = ["GPKG_DATASET_OPTIONS", "GpkgStore", "Workspace"]
