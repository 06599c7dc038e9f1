"""Looking after a gridmap database: reach it, upgrade its schema, report its state.

What ``gridmap db upgrade`` and ``gridmap db status`` do. Errors say which server and what is
wrong with it (unreachable, no PostGIS, a failed migration), never the password.
"""

from __future__ import annotations

from typing import Any

import psycopg
from psycopg import sql

from gridmap.errors import StoreError
from gridmap.schema import LAYERS
from gridmap.store.postgis.layers import table, tables
from gridmap.store.postgis.migrations import apply_migrations, available_migrations
from gridmap.store.postgis.partitions import PARTITIONED, partitions

__all__ = ["connect_checked", "database_status", "describe", "upgrade_database"]

_POSTGIS_AVAILABLE = sql.SQL(
    "SELECT default_version FROM pg_available_extensions WHERE name = 'postgis'"
)
_POSTGIS_INSTALLED = sql.SQL("SELECT extversion FROM pg_extension WHERE extname = 'postgis'")
_APPLIED = sql.SQL("SELECT version FROM public.gridmap_migrations ORDER BY version")
_HAS_MIGRATIONS = sql.SQL("SELECT to_regclass('public.gridmap_migrations')")
_COUNT = sql.SQL("SELECT count(*) FROM {}")
_PLANS = sql.SQL("SELECT status, count(*) FROM gridmap.plans GROUP BY status ORDER BY status")
_IN_FORCE = sql.SQL(
    "SELECT count(*) FROM gridmap.publications"
    " WHERE valid_from <= now() AND (valid_to IS NULL OR valid_to > now())"
)


def describe(conninfo: str) -> str:
    """``host:port/dbname`` of a conninfo, never its password.

    Examples
    --------
    >>> describe("postgresql://me:secret@db.example:6432/gridmap")
    'db.example:6432/gridmap'
    """
    try:
        params = psycopg.conninfo.conninfo_to_dict(conninfo)
    except psycopg.ProgrammingError:
        return "the configured database"
    host = params.get("host") or params.get("hostaddr") or "localhost"
    return f"{host}:{params.get('port') or 5432}/{params.get('dbname') or ''}"


def connect_checked(conninfo: str, *, timeout: int = 10) -> psycopg.Connection[Any]:
    """A connection to a server that has PostGIS, or a StoreError saying what is wrong."""
    where = describe(conninfo)
    try:
        conn = psycopg.connect(conninfo, connect_timeout=timeout, autocommit=True)
    except psycopg.Error as exc:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise StoreError(f"cannot connect to PostgreSQL at {where}: {reason}") from exc
    if conn.execute(_POSTGIS_AVAILABLE).fetchone() is None:
        conn.close()
        raise StoreError(
            f"the PostgreSQL server at {where} has no PostGIS; install it "
            "(Debian: apt-get install postgresql-15-postgis-3)"
        )
    return conn


def upgrade_database(conninfo: str) -> dict[str, Any]:
    """Apply the migrations not yet applied; report what was applied and what now is."""
    with connect_checked(conninfo) as conn:
        try:
            applied = apply_migrations(conn)
        except psycopg.Error as exc:
            raise StoreError(f"{describe(conninfo)}: {exc}") from exc
        versions = [v for (v,) in conn.execute(_APPLIED)]
        postgis = conn.execute(_POSTGIS_INSTALLED).fetchone()
    return {
        "database": describe(conninfo),
        "applied": applied,
        "versions": versions,
        "postgis": postgis[0] if postgis else None,
    }


def database_status(conninfo: str) -> dict[str, Any]:
    """Migrations applied and pending, rows per layer, partitions, plans and publications."""
    known = [version for version, _ in available_migrations()]
    with connect_checked(conninfo) as conn:
        applied: list[int] = []
        if conn.execute(_HAS_MIGRATIONS).fetchone() != (None,):
            applied = [v for (v,) in conn.execute(_APPLIED)]
        postgis = conn.execute(_POSTGIS_INSTALLED).fetchone()
        present = tables(conn)
        layers = {
            name: int(conn.execute(_COUNT.format(table(name))).fetchone()[0])  # type: ignore[index]
            for name in LAYERS
            if name in present
        }
        parts: dict[str, dict[str, int]] = {}
        for name in PARTITIONED:
            if name in present:
                parts[name] = {
                    child: int(conn.execute(_COUNT.format(table(child))).fetchone()[0])  # type: ignore[index]
                    for child in partitions(conn, name)
                }
        plans = dict(conn.execute(_PLANS).fetchall()) if "plans" in present else {}
        in_force = conn.execute(_IN_FORCE).fetchone()[0] if "publications" in present else 0  # type: ignore[index]
    return {
        "database": describe(conninfo),
        "postgis": postgis[0] if postgis else None,
        "migrations": {
            "applied": applied,
            "pending": [v for v in known if v not in applied],
        },
        "layers": layers,
        "partitions": parts,
        "plans": {str(k): int(v) for k, v in plans.items()},
        "publications_in_force": int(in_force),
    }
