"""Where layers live: a GeoPackage workspace (the embedded default) or PostGIS."""

from gridmap.store.gpkg import Workspace

__all__ = ["Workspace"]
