"""The PostGIS engine of the storage contract: multi-user, city scale.

:class:`PostgisStore` is :class:`gridmap.store.base.StoreBase` (where the contract's behaviour
lives, once for both engines) with PostgreSQL's hooks: a ``psycopg_pool`` pool, transactions,
portable SQL run as psycopg's, row locks (``FOR UPDATE``) and advisory locks, EWKB geometry.
The tables are those of the numbered files in ``gridmap/store/sql`` (schema
``gridmap``); opening a store applies the migrations not yet applied, under an advisory lock
(``gridmap db upgrade`` does the same from the command line).

Every mutating call is one transaction. A commit is a compare-and-set on the plan's row:
``SELECT … FOR UPDATE`` of the plan, compare its head with the base, insert the revision and
move the head, all in one transaction, so of two writers racing from the same base the second
waits for the first and is then refused with :class:`StaleRevisionError` naming the winner.
The refusal is audited (outcome "conflict") in a transaction of its own. A process killed
mid-call leaves an uncommitted transaction, which PostgreSQL rolls back.
"""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import geopandas as gpd
import pandas as pd
import psycopg
from psycopg import sql
from psycopg.rows import dict_row

from gridmap.errors import GridmapError, InputError, StoreClosedError, StoreError
from gridmap.schema import layer
from gridmap.store.base import StoreBase
from gridmap.store.common import aware, check_bbox, now
from gridmap.store.contract import BBox, PlanInfo
from gridmap.store.postgis.layers import filled_layers, read_layer, write_layers
from gridmap.store.postgis.migrations import apply_migrations, available_migrations
from gridmap.store.postgis.revisions import (
    copy_revision,
    insert_revision,
    read_cells,
    read_grids,
    revision_grids,
    stage_revision,
)

if TYPE_CHECKING:
    from psycopg_pool import ConnectionPool

__all__ = ["PostgisStore", "plan_key", "utc"]

_SNAPSHOT = sql.SQL("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
_HAS_POSTGIS = sql.SQL("SELECT 1 FROM pg_available_extensions WHERE name = 'postgis'")
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
_INSERT_PLAN = (
    "INSERT INTO plans (name, communities, head, created_at, created_by, params, copied_from)"
    " VALUES (?, ?, 1, ?, ?, ?, ?) RETURNING id"
)
_GRIDS_AT = sql.SQL(
    "SELECT g.plan_id, g.revision, g.code, g.community_code, g.name, g.residents,"
    " g.households, g.cells, g.compactness, ST_AsBinary(g.geom)"
    " FROM gridmap.publications AS p JOIN gridmap.plan_grids AS g"
    " ON g.plan_id = p.plan_id AND g.revision = p.revision"
    " AND g.community_code = p.community_code"
    " WHERE p.valid_from <= %s AND (p.valid_to IS NULL OR p.valid_to > %s){community}{bbox}"
    " ORDER BY g.plan_id, g.revision, g.ord"
)
_LOAD_ORDER = {
    "plans": "id",
    "plan_revisions": "plan_id, number",
    "publications": "seq",
    "staff_assignments": "seq",
    "incidents": "id",
    "incident_events": "incident_id, seq",
    "users": "name",
    "audit_log": "seq",
    "subsidy_rules": "name",
    "departments": "code",
    "incident_photos": "incident_id, seq",
    "plan_submissions": "plan_id",
}
_RESET_IDENTITY = sql.SQL(
    "SELECT setval(pg_get_serial_sequence({name}, {col}), COALESCE(MAX({column}), 0) + 1, false)"
    " FROM {table}"
)


def utc(value: dt.datetime | None) -> dt.datetime | None:
    """A time read from the database, in UTC (None stays None)."""
    return None if value is None else value.astimezone(dt.UTC)


def plan_key(plan_id: object) -> int | None:
    """The database key of a plan id ("12" → 12); None when it cannot be one."""
    text = str(plan_id).strip()
    return int(text) if text.isascii() and text.isdigit() and len(text) < 19 else None


class PostgisStore(StoreBase):
    """The storage contract on a PostGIS database.

    ``conninfo`` is a libpq URL or ``key=value`` string (the store opens its own pool and
    closes it in :meth:`close`) or a ``psycopg_pool.ConnectionPool`` (borrowed, left open).
    An unreachable server or one without PostGIS is a :class:`~gridmap.errors.StoreError`
    naming it.

    Examples
    --------
    >>> import shapely, geopandas as gpd
    >>> store = PostgisStore("postgresql://postgres@127.0.0.1/gridmap")  # doctest: +SKIP
    >>> cells = gpd.GeoDataFrame(
    ...     {"community_code": ["500108003002"] * 2, "atom_id": ["A1", "A2"],
    ...      "grid": ["500108003002001"] * 2, "residents": [10, 20], "households": [4, 8]},
    ...     geometry=[shapely.box(0, 0, 1, 1), shapely.box(1, 0, 2, 1)], crs=4326,
    ...     index=["500108003002-C1", "500108003002-C2"])
    >>> grids = gpd.GeoDataFrame({"code": ["500108003002001"],
    ...     "community_code": ["500108003002"]}, geometry=[shapely.box(0, 0, 2, 1)], crs=4326)
    >>> made = store.create_plan(cells, grids, name="南湖", params={}, actor="me")  # doctest: +SKIP
    >>> store.revision(made.plan_id).cells["grid"].tolist()  # doctest: +SKIP
    ['500108003002001', '500108003002001']
    """

    def __init__(
        self, conninfo: str | ConnectionPool, *, max_size: int = 4, read_only: bool = False
    ):
        from psycopg_pool import ConnectionPool

        self.read_only = read_only
        if isinstance(conninfo, str):
            self._where = _where(conninfo)
            if read_only:
                _check_replica(conninfo, self._where)
            else:
                _prepare(conninfo, self._where)
            kwargs: dict[str, Any] = {"autocommit": True}
            if read_only:  # seen on the replica as such (pg_stat_activity.application_name)
                kwargs["application_name"] = "gridmap-read"
            self._pool = ConnectionPool(
                conninfo,
                min_size=1,
                max_size=max_size,
                kwargs=kwargs,
                open=True,
                name="gridmap-read" if read_only else "gridmap",
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
            raise StoreClosedError(f"{self!r}: the store is closed")
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
        if self.read_only:
            raise StoreError(f"{self._where}: a read-only store (a replica) takes no writes")
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
    _SKIP_LOCKED = " FOR UPDATE SKIP LOCKED"  # workers of several processes claim different jobs
    _NEW_JOB_ID = "DEFAULT"
    _JOB_ORDER = "id"

    def _clock(self, conn: psycopg.Connection[Any]) -> dt.datetime:
        # the database's clock: servers on several hosts share it, whatever their own clocks say
        stamp = conn.execute("SELECT clock_timestamp()").fetchone()[0]  # type: ignore[index]
        return stamp.astimezone(dt.UTC)  # type: ignore[no-any-return]

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

    def _communities(self, codes: list[str]) -> list[str]:
        return list(codes)

    def _communities_of(self, stored: list[str]) -> list[str]:
        return list(stored)

    # --- the hooks of StoreBase: geometry ---------------------------------------------------

    def _filled_layers(self, conn: psycopg.Connection[Any]) -> list[str]:
        return filled_layers(conn)

    def _layer(
        self, conn: psycopg.Connection[Any], name: str, bbox: BBox | None = None
    ) -> pd.DataFrame:
        return read_layer(conn, layer(name), bbox)

    def _write_layers(
        self, conn: psycopg.Connection[Any], frames: Mapping[str, pd.DataFrame], replace: bool
    ) -> dict[str, int]:
        return write_layers(conn, frames, replace=replace)

    def _stage(self, cells: gpd.GeoDataFrame, grids: gpd.GeoDataFrame) -> Any:
        return stage_revision(cells, grids)

    def _insert_revision(
        self, conn: psycopg.Connection[Any], plan_id: str, number: int, staged: Any
    ) -> dict[str, int]:
        return insert_revision(conn, int(plan_id), int(number), staged)

    def _copy_revision(self, conn: psycopg.Connection[Any], source: PlanInfo, plan_id: str) -> None:
        copy_revision(conn, (int(source.id), source.head), (int(plan_id), 1))

    def _revision_frames(
        self, conn: psycopg.Connection[Any], plan_id: str, number: int
    ) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame]:
        key = int(plan_id)
        return read_cells(conn, key, int(number)), revision_grids(conn, key, int(number))

    def _insert_plan(self, conn: psycopg.Connection[Any], values: dict[str, Any]) -> str:
        names = ("name", "communities", "created_at", "created_by", "params", "copied_from")
        [row] = self._rows(conn, _INSERT_PLAN, [values[n] for n in names])
        return str(row["id"])

    def grids_at(
        self,
        at: dt.datetime | None = None,
        *,
        bbox: BBox | None = None,
        community: str | None = None,
    ) -> gpd.GeoDataFrame:
        """The grids in force at ``at`` (default now), with plan_id and revision columns."""
        when = now() if at is None else aware(at, "at")
        box = check_bbox(bbox)
        args: list[Any] = [when, when]
        community_sql = sql.SQL("")
        if community is not None:
            community_sql = sql.SQL(" AND p.community_code = %s")
            args.append(community)
        bbox_sql = sql.SQL("")
        if box is not None:
            bbox_sql = sql.SQL(" AND ST_Intersects(g.geom, ST_MakeEnvelope(%s, %s, %s, %s, 4326))")
            args.extend(box)
        query = _GRIDS_AT.format(community=community_sql, bbox=bbox_sql)
        with self._read() as conn:
            grids = read_grids(conn, query, args)
        order = [c for c in grids.columns if c not in ("plan_id", "revision", "geometry")]
        return gpd.GeoDataFrame(grids[[*order, "plan_id", "revision", "geometry"]])

    # --- backup hooks (gridmap.store.backup) -------------------------------------------------

    def _load_order(self, table: str) -> str:
        return _LOAD_ORDER[table]

    def _overriding(self, table: str) -> str:
        # audit_log.seq is GENERATED ALWAYS: a restored log keeps its numbers.
        return " OVERRIDING SYSTEM VALUE" if table == "audit_log" else ""

    def _after_load(self, conn: psycopg.Connection[Any]) -> None:
        """Identity columns given explicit values: the next ones follow the largest."""
        for table, column in (("plans", "id"), ("incidents", "id"), ("audit_log", "seq")):
            conn.execute(
                _RESET_IDENTITY.format(
                    table=sql.Identifier("gridmap", table),
                    column=sql.Identifier(column),
                    name=sql.Literal(f"gridmap.{table}"),
                    col=sql.Literal(column),
                )
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


def _check_replica(conninfo: str, where: str) -> None:
    """A read-only store's database (a streaming replica) must be reachable and carry every
    migration this gridmap knows: it cannot apply them itself."""
    try:
        conn = psycopg.connect(conninfo, connect_timeout=10)
    except psycopg.Error as exc:
        raise StoreError(f"cannot connect to PostgreSQL at {where}: {_first_line(exc)}") from exc
    with conn:
        try:
            applied = {r[0] for r in conn.execute("SELECT version FROM gridmap_migrations")}
        except psycopg.Error:
            applied = set()
    missing = [v for v, _ in available_migrations() if v not in applied]
    if missing:
        raise StoreError(
            f"{where}: the replica lacks migration(s) {', '.join(map(str, missing))}; upgrade "
            "the primary (gridmap db upgrade) and let the replica catch up"
        )


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
