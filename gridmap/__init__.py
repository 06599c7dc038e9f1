"""gridmap: maps for urban grid management (网格化服务管理).

A district is divided into streets, streets into communities, and every community is covered,
edge to edge, by grids of about 3,000 residents. gridmap imports the layers, builds the plan of
grids and proves its coverage. The entry points are re-exported here:

- the engine (pure functions over GeoDataFrames): :func:`build_canvas`,
  :func:`partition_community`, :func:`validate_coverage`, :func:`repair_onto_canvas`,
  :func:`assign_buildings`, :func:`locate`, :func:`dissolve_grids`, :func:`diff_plans`;
- the store: :func:`open_store` (a GeoPackage path or a PostgreSQL URL) and its
  :class:`Store` contract, :class:`Workspace`;
- files: :func:`import_file`, :func:`export_layer`;
- the use-cases the CLI and the HTTP API share: :class:`GridLocator`, :func:`partition_store`,
  :func:`coverage_report` (more in :mod:`gridmap.service`).

Examples
--------
Which grid holds a point, and is a hand-drawn layer a clean coverage?

>>> import geopandas as gpd, shapely, gridmap
>>> grids = gpd.GeoDataFrame(
...     {"code": ["500108003002001", "500108003002002"]},
...     geometry=[shapely.box(106.55, 29.55, 106.56, 29.56),
...               shapely.box(106.56, 29.55, 106.57, 29.56)],
...     crs=4326,
... )
>>> gridmap.locate(([106.555, 106.5655], [29.555, 29.555]), grids)["grid"].tolist()
['500108003002001', '500108003002002']
>>> community = shapely.box(106.55, 29.55, 106.57, 29.56)
>>> gridmap.validate_coverage(grids, community).ok
True
>>> shifted = grids.copy()
>>> shifted.loc[1, "geometry"] = shapely.box(106.5605, 29.55, 106.57, 29.56)  # a 50 m gap
>>> report = gridmap.validate_coverage(shifted, community)
>>> report.ok, sorted({issue.kind for issue in report.issues})
(False, ['gap'])

A store (here a new GeoPackage; ``postgresql://…`` opens PostGIS) holds plans:

>>> import pathlib, tempfile
>>> store = gridmap.open_store(pathlib.Path(tempfile.mkdtemp()) / "w.gpkg")
>>> store.plans(), store.layers()
([], [])
>>> store.close()
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from gridmap.engine.assign import assign_buildings, locate
    from gridmap.engine.canvas import build_canvas
    from gridmap.engine.edits import diff_plans
    from gridmap.engine.partition import partition_community
    from gridmap.engine.plan import dissolve_grids
    from gridmap.engine.repair import repair_onto_canvas
    from gridmap.engine.validate import CoverageReport, validate_coverage
    from gridmap.errors import GridmapError
    from gridmap.io.export import export_layer
    from gridmap.io.importer import ImportOptions, import_file
    from gridmap.service.grids import GridLocator
    from gridmap.service.plans import coverage_report, partition_store
    from gridmap.settings import Settings
    from gridmap.store import Store, Workspace, open_store

# Each entry point is imported when first used (``gridmap.locate``): importing gridmap, as every
# command and the API do, does not load the engine, the file formats and both stores up front.
_HOME = {
    "assign_buildings": "gridmap.engine.assign",
    "locate": "gridmap.engine.assign",
    "build_canvas": "gridmap.engine.canvas",
    "diff_plans": "gridmap.engine.edits",
    "partition_community": "gridmap.engine.partition",
    "dissolve_grids": "gridmap.engine.plan",
    "repair_onto_canvas": "gridmap.engine.repair",
    "CoverageReport": "gridmap.engine.validate",
    "validate_coverage": "gridmap.engine.validate",
    "GridmapError": "gridmap.errors",
    "export_layer": "gridmap.io.export",
    "ImportOptions": "gridmap.io.importer",
    "import_file": "gridmap.io.importer",
    "GridLocator": "gridmap.service.grids",
    "coverage_report": "gridmap.service.plans",
    "partition_store": "gridmap.service.plans",
    "Settings": "gridmap.settings",
    "Store": "gridmap.store",
    "Workspace": "gridmap.store",
    "open_store": "gridmap.store",
}


def __getattr__(name: str) -> Any:
    if name not in _HOME:
        raise AttributeError(f"module 'gridmap' has no attribute {name!r}")
    value = getattr(importlib.import_module(_HOME[name]), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_HOME])


__all__ = [
    "CoverageReport",
    "GridLocator",
    "GridmapError",
    "ImportOptions",
    "Settings",
    "Store",
    "Workspace",
    "assign_buildings",
    "build_canvas",
    "coverage_report",
    "diff_plans",
    "dissolve_grids",
    "export_layer",
    "import_file",
    "locate",
    "open_store",
    "partition_community",
    "partition_store",
    "repair_onto_canvas",
    "validate_coverage",
]
__version__ = "0.1.0"
