"""gridmap: maps for urban grid management (网格化服务管理).

A district is divided into streets, streets into communities, and every community is covered,
edge to edge, by grids of about 3,000 residents. gridmap imports the layers, builds the plan of
grids and proves its coverage. The entry points are re-exported here.
"""

from gridmap.errors import GridmapError
from gridmap.io.export import export_layer
from gridmap.io.importer import ImportOptions, import_file
from gridmap.settings import Settings
from gridmap.store.gpkg import Workspace

__all__ = [
    "GridmapError",
    "ImportOptions",
    "Settings",
    "Workspace",
    "export_layer",
    "import_file",
]
__version__ = "0.1.0"
