"""The HTTP face of gridmap: a FastAPI app factory over a store (GeoPackage or PostGIS)."""

from gridmap.api.app import create_app

__all__ = ["create_app"]
