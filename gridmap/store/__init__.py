"""Where layers live: a GeoPackage workspace (the embedded default) or PostGIS."""

from gridmap.store.gpkg import Workspace
from gridmap.store.postgis import PostgisLayers, dump_to_workspace, load_workspace

__all__ = ["PostgisLayers", "Workspace", "dump_to_workspace", "load_workspace"]
