"""What every part of :class:`~gridmap.store.postgis.store.PostgisStore` shares: the pool, its
transactions, times, the audit log and plan lookups.

Connections come from a ``psycopg_pool.ConnectionPool`` (the store's own, or one the caller
passes). A write is one transaction (``conn.transaction()``); a read is one ``REPEATABLE READ,
READ ONLY`` transaction, so every query of a read sees the same committed state. Times travel
as aware datetimes and come back converted to UTC, whatever the session's time zone.
"""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import psycopg
from psycopg import sql
from psycopg.rows import dict_row

from gridmap.errors import GridmapError, InputError, NotFoundError, StoreError
from gridmap.store.base import StoreBase
from gridmap.store.common import aware, check_actor, now, to_json
from gridmap.store.contract import PlanInfo, RevisionInfo
from gridmap.store.postgis.migrations import apply_migrations

if TYPE_CHECKING:
    from psycopg_pool import ConnectionPool

__all__ = ["PostgisBase", "aware", "check_actor", "now", "plan_key", "to_json", "utc"]

_SNAPSHOT = sql.SQL("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
_HAS_POSTGIS = sql.SQL("SELECT 1 FROM pg_available_extensions WHERE name = 'postgis'")
_PLAN = sql.SQL(
    "SELECT id, name, status, communities, head, created_at, created_by, params, copied_from"
    " FROM gridmap.plans WHERE id = %s"
)
_PLAN_IDS = sql.SQL("SELECT id FROM gridmap.plans ORDER BY id DESC LIMIT 20")
_REVISION = sql.SQL(
    "SELECT plan_id, number, base, created_at, created_by, operation, detail"
    " FROM gridmap.plan_revisions WHERE plan_id = %s AND number = %s"
)
_AUDIT = (
    "INSERT INTO audit_log (at, actor, action, outcome, plan_id, revision, detail)"
    " VALUES (?, ?, ?, ?, ?, ?, ?)"
)
_ASSIGN = (
    "INSERT INTO staff_assignments (staff_id, grid_code, role, assigned_at, assigned_by)"
    " VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING"
)
_LOCK_NAME = sql.SQL("SELECT pg_advisory_xact_lock(hashtext(%s))")
# Portable SQL names the tables unqualified: a transaction of the store looks in gridmap first.
_SEARCH_PATH = sql.SQL("SET LOCAL search_path TO gridmap, public")


def utc(value: dt.datetime | None) -> dt.datetime | None:
    """A time read from the database, in UTC (None stays None)."""
    return None if value is None else value.astimezone(dt.UTC)


def plan_key(plan_id: object) -> int | None:
    """The database key of a plan id ("12" → 12); None when it cannot be one."""
    text = str(plan_id).strip()
    return int(text) if text.isdigit() and len(text) < 19 else None


class PostgisBase(StoreBase):
    """The pool and shared helpers; see :class:`~gridmap.store.postgis.store.PostgisStore`."""

    def __init__(self, conninfo: str | ConnectionPool, *, max_size: int = 4):
        from psycopg_pool import ConnectionPool

        if isinstance(conninfo, str):
            self._where = _where(conninfo)
            _prepare(conninfo, self._where)
            self._pool = ConnectionPool(
                conninfo,
                min_size=1,
                max_size=max_size,
                kwargs={"autocommit": True},
                open=True,
                name="gridmap",
            )
            self._own_pool = True
        elif isinstance(conninfo, ConnectionPool):
            self._where = conninfo.name
            self._pool, self._own_pool = conninfo, False
            with self._connection() as conn:
                _migrate(conn, self._where)
        else:
            raise InputError(
                f"conninfo: expected a PostgreSQL URL or a ConnectionPool, got {conninfo!r}"
            )
        self._closed = False

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._where!r})"

    @property
    def pool(self) -> ConnectionPool:
        """The connection pool, for readers that query the database directly (vector tiles
        with ST_AsMVT). Borrow with ``with store.pool.connection() as conn``; never close it."""
        return self._pool

    def close(self) -> None:
        """Close the store's own pool (a pool passed in is the caller's to close)."""
        if not self._closed and self._own_pool:
            self._pool.close()
        self._closed = True

    @contextlib.contextmanager
    def _connection(self) -> Iterator[psycopg.Connection[Any]]:
        if getattr(self, "_closed", False):
            raise StoreError(f"{self!r}: the store is closed")
        try:
            with self._pool.connection() as conn:
                yield conn
        except GridmapError:
            raise
        except psycopg.Error as exc:
            raise StoreError(f"{self._where}: {_first_line(exc)}") from exc

    @contextlib.contextmanager
    def _write(self) -> Iterator[psycopg.Connection[Any]]:
        """One write transaction: all of it is committed, or none (an error rolls back)."""
        with self._connection() as conn, conn.transaction():
            conn.execute(_SEARCH_PATH)
            yield conn

    @contextlib.contextmanager
    def _read(self) -> Iterator[psycopg.Connection[Any]]:
        """One read-only snapshot: every query inside sees the same committed state."""
        with self._connection() as conn, conn.transaction():
            conn.execute(_SNAPSHOT)
            conn.execute(_SEARCH_PATH)
            yield conn

    # --- the hooks of StoreBase ----------------------------------------------------------------

    _FOR_UPDATE = " FOR UPDATE"
    _AUDIT_INSERT = _AUDIT
    _ASSIGN = _ASSIGN
    _ROW_KEY = "seq"
    _INCIDENT_ORDER = "created_at, id"
    _INCIDENT_BBOX = "geom && ST_MakeEnvelope(?, ?, ?, ?, 4326)"  # the GiST index; a closed box

    def _rows(
        self, conn: psycopg.Connection[Any], query: str, args: Sequence[Any] = ()
    ) -> list[dict[str, Any]]:
        with conn.cursor(row_factory=dict_row) as cur:
            cur.execute(_portable(query), list(args))
            return cur.fetchall() if cur.description is not None else []

    def _count(self, conn: psycopg.Connection[Any], query: str, args: Sequence[Any] = ()) -> int:
        return conn.execute(_portable(query), list(args)).rowcount

    def _stamp(self, value: dt.datetime) -> dt.datetime:
        return aware(value, "time")

    def _time(self, stored: Any) -> dt.datetime | None:
        return utc(stored)

    def _key(self, any_id: object) -> int | None:
        return plan_key(any_id)

    def _lock_names(self, conn: psycopg.Connection[Any], names: Iterable[str]) -> None:
        for name in names:
            conn.execute(_LOCK_NAME, (name,))

    def _insert_incident(
        self, conn: psycopg.Connection[Any], values: dict[str, Any], stamp: dt.datetime
    ) -> str:
        names = ["created_at", "updated_at", *values]
        query = sql.SQL("INSERT INTO gridmap.incidents ({}) VALUES ({}) RETURNING id").format(
            sql.SQL(", ").join(sql.Identifier(n) for n in names),
            sql.SQL(", ").join(sql.Placeholder() * len(names)),
        )
        row = conn.execute(query, [stamp, stamp, *values.values()]).fetchone()
        assert row is not None
        return str(row[0])

    def _plan_info(
        self, conn: psycopg.Connection[Any], plan_id: str, *, lock: bool = False
    ) -> PlanInfo:
        key = plan_key(plan_id)
        query = _PLAN + sql.SQL(" FOR UPDATE") if lock else _PLAN
        row = None
        if key is not None:
            with conn.cursor(row_factory=dict_row) as cur:
                row = cur.execute(query, (key,)).fetchone()
        if row is None:
            known = [str(r[0]) for r in conn.execute(_PLAN_IDS)][::-1]
            shown = ", ".join(known) or "none"
            raise NotFoundError(f"{self._where}: no plan {plan_id}; the plans are: {shown}")
        return PlanInfo(
            id=str(row["id"]),
            name=row["name"],
            status=row["status"],
            communities=tuple(row["communities"]),
            head=int(row["head"]),
            created_at=utc(row["created_at"]),  # type: ignore[arg-type]
            created_by=row["created_by"],
            params=row["params"] or {},
            copied_from=None if row["copied_from"] is None else str(row["copied_from"]),
        )

    def _revision_info(
        self, conn: psycopg.Connection[Any], plan_id: str, number: int
    ) -> RevisionInfo:
        with conn.cursor(row_factory=dict_row) as cur:
            row = cur.execute(_REVISION, (plan_key(plan_id), int(number))).fetchone()
        if row is None:
            head = self._plan_info(conn, plan_id).head
            raise NotFoundError(
                f"{self._where}: plan {plan_id} has no revision {number}; it has 1 to {head}"
            )
        return revision_info(row)


def revision_info(row: Mapping[str, Any]) -> RevisionInfo:
    """A :class:`RevisionInfo` from a row of ``gridmap.plan_revisions``."""
    return RevisionInfo(
        plan_id=str(row["plan_id"]),
        number=int(row["number"]),
        base=None if row["base"] is None else int(row["base"]),
        created_at=utc(row["created_at"]),  # type: ignore[arg-type]
        created_by=row["created_by"],
        operation=row["operation"],
        detail=row["detail"] or {},
    )


def _where(conninfo: str) -> str:
    """host:port/dbname of a conninfo, never its password."""
    try:
        params = psycopg.conninfo.conninfo_to_dict(conninfo)
    except psycopg.ProgrammingError as exc:
        raise InputError(f"database URL: {_first_line(exc)}") from None
    host = params.get("host") or params.get("hostaddr") or "localhost"
    return f"{host}:{params.get('port') or 5432}/{params.get('dbname') or ''}"


def _prepare(conninfo: str, where: str) -> None:
    """Connect once (a clear error when the server is unreachable) and apply the migrations."""
    try:
        conn = psycopg.connect(conninfo, connect_timeout=10)
    except psycopg.Error as exc:
        raise StoreError(f"cannot connect to PostgreSQL at {where}: {_first_line(exc)}") from exc
    with conn:
        _migrate(conn, where)


def _migrate(conn: psycopg.Connection[Any], where: str) -> None:
    """Apply the migrations not yet applied, one migrator at a time (an advisory lock)."""
    try:
        if conn.execute(_HAS_POSTGIS).fetchone() is None:
            raise StoreError(
                f"the PostgreSQL server at {where} has no PostGIS; install it "
                "(Debian: apt-get install postgresql-15-postgis-3)"
            )
        apply_migrations(conn)
        if not conn.autocommit:
            conn.commit()
    except psycopg.Error as exc:
        raise StoreError(f"{where}: {_first_line(exc)}") from exc


def _portable(query: str) -> sql.SQL:
    """Portable SQL (``?`` placeholders) as psycopg's (``%s``); the text is this package's."""
    return sql.SQL(query.replace("?", "%s"))  # type: ignore[arg-type]


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
