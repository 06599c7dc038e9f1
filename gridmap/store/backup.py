"""A real backup: a whole store in one GeoPackage, and back into an empty store.

:func:`dump_store` writes everything a store holds — the reference layers, plans with every
revision (cells and grids), publications, staff assignments, incidents with their events,
users with their password hashes, the audit log, departments, photos, subsidy rules and the
drafts submitted for publication — into one GeoPackage, which is itself a workspace
(:class:`~gridmap.store.gpkg.store.GpkgStore` opens it; QGIS and GDAL read it). Working state
stays out: jobs, grid locks, sign-in failures, rate-limit usage and prebuilt tiles (a restore
rebuilds the tiles; a job or a lock belongs to the processes of the old store).
:func:`load_store` restores such a file into an empty PostGIS database or a new workspace.

Both read the source in one snapshot and write the target in one transaction: a dump is written
to a temporary file renamed into place at the end, a load into PostGIS is all or nothing.
Times, ids, sequence numbers and JSON travel as values, so a round trip GeoPackage → PostGIS →
GeoPackage gives the same tables. Nothing is audited: the audit log is copied as it was.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from gridmap.errors import InputError
from gridmap.schema import LAYERS
from gridmap.store.base import StoreBase
from gridmap.store.common import now, to_json
from gridmap.store.contract import INCIDENT_FIELDS, INCIDENT_TIMES, SUBSIDY_RULE_FIELDS, Store
from gridmap.store.gpkg.store import GpkgStore

__all__ = ["RECORD_TABLES", "dump_store", "is_backup", "load_store"]

# The store's own tables in the order they are written (each refers only to earlier ones),
# their columns, the time columns and the JSON columns.
RECORD_TABLES: dict[str, tuple[str, ...]] = {
    "plans": (
        "id",
        "name",
        "status",
        "communities",
        "head",
        "created_at",
        "created_by",
        "copied_from",
        "params",
    ),
    "plan_revisions": (
        "plan_id",
        "number",
        "base",
        "created_at",
        "created_by",
        "operation",
        "detail",
    ),
    "publications": (
        "community_code",
        "plan_id",
        "revision",
        "valid_from",
        "valid_to",
        "published_by",
        "regridded_at",
    ),
    "staff_assignments": ("staff_id", "grid_code", "role", "assigned_at", "assigned_by"),
    "incidents": ("id", "version", "created_at", "updated_at", *INCIDENT_FIELDS),
    "incident_events": (
        "incident_id",
        "seq",
        "at",
        "actor",
        "action",
        "from_status",
        "to_status",
        "note",
    ),
    "users": (
        "name",
        "role",
        "password_hash",
        "created_at",
        "active",
        "scope",
        "duties",
        "department",
    ),
    "audit_log": ("seq", "at", "actor", "action", "outcome", "plan_id", "revision", "detail"),
    "subsidy_rules": ("name", *SUBSIDY_RULE_FIELDS, "updated_at", "updated_by"),
    "departments": ("code", "name", "phone"),
    "incident_photos": (
        "incident_id",
        "seq",
        "kind",
        "content_type",
        "width",
        "height",
        "data",
        "public",
        "at",
        "actor",
    ),
    # drafts waiting for an admin: without them a restore would drop the publication queue
    "plan_submissions": (
        "plan_id",
        "revision",
        "state",
        "submitted_by",
        "submitted_at",
        "note",
        "refused_by",
        "refused_at",
        "reason",
    ),
}
_TIMES = {
    "regridded_at",
    "created_at",
    "updated_at",
    "valid_from",
    "valid_to",
    "assigned_at",
    *INCIDENT_TIMES,
    "at",
    "submitted_at",
    "refused_at",
}
_JSON = {"params", "detail"}
_IDS = {  # columns holding a plan's or an incident's id (text in a GeoPackage, bigint in PG)
    "plans": ("id", "copied_from"),
    "plan_revisions": ("plan_id",),
    "publications": ("plan_id",),
    "incidents": ("id",),
    "incident_events": ("incident_id",),
    "incident_photos": ("incident_id",),
    "plan_submissions": ("plan_id",),
}


def dump_store(source: Store, out: str | os.PathLike[str]) -> dict[str, dict[str, int]]:
    """Write everything ``source`` holds into the GeoPackage ``out`` (replaced if there).

    Returns ``{"layers": rows per layer, "records": rows per store table}``
    (``plan_revisions`` counts revisions, each written with its cells and grids).
    """
    path = Path(out)
    if path.suffix.lower() != ".gpkg":
        raise InputError(f"out: {path} — a backup is a GeoPackage; name it *.gpkg")
    partial = path.with_name(path.name + ".partial")
    for leftover in (partial, Path(f"{partial}-wal"), Path(f"{partial}-shm")):
        leftover.unlink(missing_ok=True)
    target = GpkgStore(partial)
    try:
        counts = _copy(_engine(source), target)
    finally:
        target.close()
    os.replace(partial, path)
    return counts


def load_store(source: str | os.PathLike[str], target: Store) -> dict[str, dict[str, int]]:
    """Restore the backup ``source`` (a GeoPackage written by :func:`dump_store`, or any
    workspace) into ``target``, an empty store: a new PostGIS database or a new workspace.
    A target that holds anything is refused, naming what it holds, and nothing is written.
    Returns ``{"layers": …, "records": …}`` as :func:`dump_store` does."""
    src = Path(source)
    if not src.is_file():
        raise InputError(f"from: {src}: no such backup file")
    into = _engine(target)
    held = _held(into)
    if held:
        raise InputError(f"{into!r} is not empty: it holds {', '.join(held)}")
    with GpkgStore(src) as backup:
        return _copy(backup, into)


def is_backup(path: str | os.PathLike[str]) -> bool:
    """Whether the GeoPackage at ``path`` holds any of a store's own records (plans, users,
    the audit log…), not only reference layers. Reads the file without changing it."""
    import sqlite3

    uri = Path(path).resolve().as_uri() + "?mode=ro"
    conn = sqlite3.connect(uri, uri=True)
    try:
        names = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        return any(
            conn.execute(f'SELECT 1 FROM "{table}" LIMIT 1').fetchone()
            for table in RECORD_TABLES
            if table in names
        )
    finally:
        conn.close()


def _engine(store: Store) -> StoreBase:
    if not isinstance(store, StoreBase):
        raise InputError(f"store: expected a GeoPackage or PostGIS store, got {store!r}")
    return store


def _held(store: StoreBase) -> list[str]:
    held = list(store.layers())
    with store._read() as conn:
        for table in RECORD_TABLES:
            if store._rows(conn, f"SELECT 1 AS one FROM {table} LIMIT 1"):
                held.append(table)
    return held


def _copy(source: StoreBase, target: StoreBase) -> dict[str, dict[str, int]]:
    """Every layer and table of ``source`` into ``target``: one snapshot, one transaction.
    Returns ``{"layers": rows per non-empty layer, "records": rows per store table}``."""
    with source._read() as conn:
        layers = {name: source._layer(conn, name) for name in LAYERS}
        records = {table: _export(source, conn, table) for table in RECORD_TABLES}
        revisions = [
            (
                r["plan_id"],
                int(r["number"]),
                *source._revision_frames(conn, r["plan_id"], r["number"]),
            )
            for r in records["plan_revisions"]
        ]
    frames = {name: frame for name, frame in layers.items() if len(frame)}
    with target._write() as conn:
        written = target._write_layers(conn, frames, True)
        _import(target, conn, "plans", records["plans"])
        by_plan: dict[tuple[str, int], dict[str, Any]] = {
            (r["plan_id"], int(r["number"])): r for r in records["plan_revisions"]
        }
        for plan_id, number, cells, grids in revisions:
            _import(target, conn, "plan_revisions", [by_plan[(plan_id, number)]])
            target._insert_revision(conn, plan_id, number, target._stage(cells, grids))
        for table in list(RECORD_TABLES)[2:]:
            _import(target, conn, table, records[table])
        target._after_load(conn)
    return {"layers": written, "records": {table: len(rows) for table, rows in records.items()}}


def _export(store: StoreBase, conn: Any, table: str) -> list[dict[str, Any]]:
    """The rows of a store table as plain values: aware times, text ids, dicts for JSON."""
    columns = RECORD_TABLES[table]
    query = f"SELECT {', '.join(columns)} FROM {table} ORDER BY {store._load_order(table)}"
    rows = []
    for row in store._rows(conn, query):
        value = dict(row)
        for col in columns:
            if col in _TIMES:
                value[col] = store._time(value[col])
            elif col in _JSON:
                value[col] = store._json(value[col])
        for col in _IDS.get(table, ()):
            value[col] = None if value[col] is None else str(value[col])
        if table == "plans":
            value["communities"] = store._communities_of(value["communities"])
        if table == "users":
            value["active"] = bool(value["active"])
        if table == "subsidy_rules":
            value["pro_rata"] = bool(value["pro_rata"])
        if table == "incident_photos":
            value["public"], value["data"] = bool(value["public"]), bytes(value["data"])
        rows.append(value)
    return rows


def _import(store: StoreBase, conn: Any, table: str, rows: Sequence[Mapping[str, Any]]) -> None:
    columns = RECORD_TABLES[table]
    query = (
        f"INSERT INTO {table} ({', '.join(columns)}){store._overriding(table)} "
        f"VALUES ({', '.join('?' * len(columns))})"
    )
    for row in rows:
        values = []
        for col in columns:
            value = row.get(col)
            if col == "regridded_at" and col not in row:  # a backup made before effective dates
                value = row["valid_from"] if row["valid_from"] <= now() else None
            if col in _TIMES and value is not None:
                value = store._stamp(value)
            elif col in _JSON:
                value = to_json(value)
            elif col in _IDS.get(table, ()) and value is not None:
                value = store._key(value)
            elif col == "communities":
                value = store._communities(list(value or []))
            values.append(value)
        store._rows(conn, query, values)
        if table == "incidents":
            store._incident_moved(conn, str(row["id"]))
