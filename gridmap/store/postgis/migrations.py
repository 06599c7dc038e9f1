"""PostGIS migrations: the numbered ``gridmap/store/sql/NNN_*.sql`` files, applied in order.

Applied versions are recorded in ``public.gridmap_migrations``; :func:`apply_migrations` runs
the ones not yet applied, one migrator at a time (an advisory lock).
"""

from __future__ import annotations

import re
from importlib import resources
from typing import Any

import psycopg
from psycopg import sql

from gridmap.errors import StoreError

__all__ = ["apply_migrations", "available_migrations"]

_MIGRATION_FILE = re.compile(r"^(\d{3})_[a-z0-9_]+\.sql$")
_MIGRATION_LOCK = 0x6772_6964  # pg_advisory_xact_lock key ("grid"): one migrator at a time

_CREATE_MIGRATIONS = sql.SQL(
    "CREATE TABLE IF NOT EXISTS public.gridmap_migrations ("
    "version integer PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())"
)
_HAS_MIGRATIONS = sql.SQL("SELECT to_regclass('public.gridmap_migrations')")
_LOCK = sql.SQL("SELECT pg_advisory_xact_lock(%s)")
_APPLIED = sql.SQL("SELECT version FROM public.gridmap_migrations")
_RECORD = sql.SQL("INSERT INTO public.gridmap_migrations (version) VALUES (%s)")


def apply_migrations(conn: psycopg.Connection[Any]) -> list[int]:
    """Apply the numbered ``gridmap/store/sql/NNN_*.sql`` files not yet applied, in order.

    Each applied version is recorded in ``public.gridmap_migrations(version, applied_at)``; a
    second call applies nothing. Runs in one transaction (a savepoint inside a caller's
    transaction) under an advisory lock, so concurrent callers do not race.

    Returns the versions applied by this call.

    Examples
    --------
    >>> import psycopg
    >>> with psycopg.connect("postgresql://postgres@127.0.0.1/gridmap") as conn:  # doctest: +SKIP
    ...     apply_migrations(conn), apply_migrations(conn)
    ([1], [])
    """
    migrations = _migrations()
    applied: list[int] = []
    # Up to date (the usual case, on every write): no lock, so writers do not queue on it.
    if conn.execute(_HAS_MIGRATIONS).fetchone() != (None,):
        done = {version for (version,) in conn.execute(_APPLIED)}
        if all(version in done for version, _, _ in migrations):
            return applied
    with conn.transaction():
        conn.execute(_LOCK, (_MIGRATION_LOCK,))
        conn.execute(_CREATE_MIGRATIONS)
        done = {version for (version,) in conn.execute(_APPLIED)}
        for version, name, text in migrations:
            if version in done:
                continue
            try:
                with conn.transaction():
                    conn.execute(text)  # several statements: bytes, simple query protocol
                    conn.execute(_RECORD, (version,))
            except psycopg.Error as exc:
                raise StoreError(f"migration {name} failed: {exc}") from exc
            applied.append(version)
    return applied


def available_migrations() -> list[tuple[int, str]]:
    """(version, file name) of every migration this gridmap carries, in order."""
    return [(version, name) for version, name, _ in _migrations()]


def _migrations() -> list[tuple[int, str, bytes]]:
    found: dict[int, tuple[int, str, bytes]] = {}
    for entry in resources.files("gridmap.store").joinpath("sql").iterdir():
        if not entry.name.endswith(".sql"):
            continue
        match = _MIGRATION_FILE.match(entry.name)
        if match is None:
            raise StoreError(f"migration file {entry.name!r} is not named NNN_name.sql")
        version = int(match.group(1))
        if version in found:
            raise StoreError(f"migrations {found[version][1]} and {entry.name} share a number")
        found[version] = (version, entry.name, entry.read_bytes())
    return [found[v] for v in sorted(found)]
