"""The PostGIS engine: multi-user, city scale (PostgreSQL + PostGIS through psycopg 3).

:class:`PostgisStore` is the storage contract; :class:`PostgisLayers`, :func:`load_workspace`
and :func:`dump_to_workspace` move whole layers between a database and a workspace; the
schema is the numbered files in ``gridmap/store/sql``, applied by :func:`apply_migrations`.
"""

from gridmap.store.postgis.migrations import apply_migrations, available_migrations
from gridmap.store.postgis.store import PostgisStore
from gridmap.store.postgis.transfer import PostgisLayers, dump_to_workspace, load_workspace

__all__ = [
    "PostgisLayers",
    "PostgisStore",
    "apply_migrations",
    "available_migrations",
    "dump_to_workspace",
    "load_workspace",
]
