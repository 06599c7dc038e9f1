"""The PostGIS engine of the storage contract: multi-user, city scale.

:class:`PostgisStore` implements :class:`gridmap.store.contract.Store` on PostgreSQL + PostGIS
through psycopg 3 and a ``psycopg_pool`` pool. The tables are those of the numbered files in
``gridmap/store/postgis/sql`` (schema ``gridmap``); opening a store applies the migrations not yet
applied, under an advisory lock (``gridmap db upgrade`` does the same from the command line).

Every mutating call is one transaction. A commit is a compare-and-set on the plan's row:
``SELECT … FOR UPDATE`` of the plan, compare its head with the base, insert the revision and
move the head, all in one transaction, so of two writers racing from the same base the second
waits for the first and is then refused with :class:`StaleRevisionError` naming the winner.
The refusal is audited (outcome "conflict") in a transaction of its own. A process killed
mid-call leaves an uncommitted transaction, which PostgreSQL rolls back.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping
from typing import Any

import geopandas as gpd
import pandas as pd
import psycopg
from psycopg import sql
from psycopg.rows import dict_row

from gridmap.errors import InputError
from gridmap.schema import LAYERS, layer
from gridmap.store.common import aware, check_actor, check_bbox, now, refuse_commit, to_json
from gridmap.store.contract import (
    PLAN_STATUSES,
    BBox,
    Outcome,
    PlanInfo,
    PlanStatus,
    Revision,
    RevisionInfo,
    StaleRevisionError,
)
from gridmap.store.postgis.base import PostgisBase, revision_info
from gridmap.store.postgis.layers import filled_layers, read_layer, write_layers
from gridmap.store.postgis.revisions import (
    StagedRevision,
    copy_revision,
    insert_revision,
    read_cells,
    read_grids,
    revision_grids,
    stage_revision,
)

__all__ = ["PostgisStore"]

_INSERT_PLAN = sql.SQL(
    "INSERT INTO gridmap.plans (name, communities, head, created_at, created_by, params,"
    " copied_from) VALUES (%s, %s, 1, %s, %s, %s, %s) RETURNING id"
)
_INSERT_REVISION = sql.SQL(
    "INSERT INTO gridmap.plan_revisions"
    " (plan_id, number, base, created_at, created_by, operation, detail)"
    " VALUES (%s, %s, %s, %s, %s, %s, %s)"
)
_SET_HEAD = sql.SQL("UPDATE gridmap.plans SET head = %s, communities = %s WHERE id = %s")
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
}
_RESET_IDENTITY = sql.SQL(
    "SELECT setval(pg_get_serial_sequence({name}, {col}), COALESCE(MAX({column}), 0) + 1, false)"
    " FROM {table}"
)
_PLAN_IDS = sql.SQL("SELECT id FROM gridmap.plans{} ORDER BY id")
_REVISIONS = sql.SQL(
    "SELECT plan_id, number, base, created_at, created_by, operation, detail"
    " FROM gridmap.plan_revisions WHERE plan_id = %s ORDER BY number"
)


class PostgisStore(PostgisBase):
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

    # --- reference layers ----------------------------------------------------------------------

    def layers(self) -> list[str]:
        """Names of the reference layers that hold data."""
        with self._read() as conn:
            return filled_layers(conn)

    def read(self, name: str, bbox: BBox | None = None) -> pd.DataFrame:
        """A reference layer, filtered by a lon/lat bbox through the GiST index."""
        if name not in LAYERS:
            raise InputError(f"unknown layer {name!r}; the layers are {', '.join(LAYERS)}")
        box = check_bbox(bbox)
        with self._read() as conn:
            return read_layer(conn, layer(name), box)

    def write(
        self, frames: Mapping[str, pd.DataFrame], *, replace: bool = False, actor: str = "system"
    ) -> None:
        """Append (or replace) reference layers, all of them or none, and audit it."""
        check_actor(actor)
        unknown = [name for name in frames if name not in LAYERS]
        if unknown:
            raise InputError(
                f"unknown layer(s) {', '.join(unknown)}; the layers are {', '.join(LAYERS)}"
            )
        with self._write() as conn:
            counts = write_layers(conn, frames, replace=replace)
            self._audit(conn, actor, "write", detail={"rows": counts, "replace": replace})

    # --- plans and revisions -------------------------------------------------------------------

    def create_plan(
        self,
        cells: gpd.GeoDataFrame,
        grids: gpd.GeoDataFrame,
        *,
        name: str,
        params: Mapping[str, Any],
        actor: str,
        operation: str = "partition",
    ) -> RevisionInfo:
        """A new draft plan with ``cells``/``grids`` as revision 1; returns that revision."""
        check_actor(actor)
        staged = stage_revision(cells, grids)
        with self._write() as conn:
            made, plan_id = self._new_plan(
                conn, staged.communities, name, dict(params), actor, operation, None, {}
            )
            counts = insert_revision(conn, plan_id, 1, staged)
            detail = {"name": name, "operation": operation, **counts}
            self._audit(
                conn,
                actor,
                "create_plan",
                plan_id=made.plan_id,
                revision=1,
                detail=detail,
                at=made.created_at,
            )
            return made

    def copy_plan(self, plan_id: str, *, name: str, actor: str) -> RevisionInfo:
        """A new draft whose revision 1 is ``plan_id``'s head (``copied_from`` = plan_id)."""
        check_actor(actor)
        with self._write() as conn:
            source = self._plan_info(conn, plan_id)
            detail = {"from_plan": source.id, "from_revision": source.head}
            made, new_id = self._new_plan(
                conn,
                source.communities,
                name,
                dict(source.params),
                actor,
                "copy",
                source.id,
                detail,
            )
            copy_revision(conn, (int(source.id), source.head), (new_id, 1))
            self._audit(
                conn,
                actor,
                "copy_plan",
                plan_id=made.plan_id,
                revision=1,
                at=made.created_at,
                detail={"name": name, "operation": "copy", **detail},
            )
            return made

    def plans(
        self, *, status: PlanStatus | None = None, community: str | None = None
    ) -> list[PlanInfo]:
        """Plans, oldest first, optionally of one status or covering one community."""
        if status is not None and status not in PLAN_STATUSES:
            raise InputError(f"status: {status!r} is not one of {', '.join(PLAN_STATUSES)}")
        conditions: list[sql.Composable] = []
        args: list[Any] = []
        if status is not None:
            conditions.append(sql.SQL("status = %s"))
            args.append(status)
        if community is not None:
            conditions.append(sql.SQL("communities @> ARRAY[%s]::text[]"))
            args.append(community)
        where = (
            sql.SQL(" WHERE ") + sql.SQL(" AND ").join(conditions) if conditions else sql.SQL("")
        )
        with self._read() as conn:
            ids = [str(i) for (i,) in conn.execute(_PLAN_IDS.format(where), args)]
            return [self._plan_info(conn, i) for i in ids]

    def plan(self, plan_id: str) -> PlanInfo:
        """One plan."""
        with self._read() as conn:
            return self._plan_info(conn, plan_id)

    def revisions(self, plan_id: str) -> list[RevisionInfo]:
        """A plan's revisions, 1 first."""
        with self._read() as conn:
            info = self._plan_info(conn, plan_id)
            with conn.cursor(row_factory=dict_row) as cur:
                rows = cur.execute(_REVISIONS, (int(info.id),)).fetchall()
        return [revision_info(row) for row in rows]

    def revision(self, plan_id: str, number: int | None = None) -> Revision:
        """A revision with its cells and grids (None: the head)."""
        with self._read() as conn:
            info = self._plan_info(conn, plan_id)
            found = self._revision_info(conn, info.id, info.head if number is None else number)
            cells = read_cells(conn, int(info.id), found.number)
            grids = revision_grids(conn, int(info.id), found.number)
        return Revision(found, cells, grids)

    def commit(
        self,
        plan_id: str,
        base: int,
        cells: gpd.GeoDataFrame,
        grids: gpd.GeoDataFrame,
        *,
        actor: str,
        operation: str,
        detail: Mapping[str, Any] | None = None,
    ) -> RevisionInfo:
        """Add revision head+1 made from ``base``, if ``base`` is still the head.

        The plan's row is locked (``SELECT … FOR UPDATE``), its head compared with ``base`` and
        the revision written in one transaction: the compare-and-set. A stale base raises
        :class:`StaleRevisionError` naming the head (the revision that won), and the attempt
        is audited as a conflict.
        """
        check_actor(actor)
        staged = stage_revision(cells, grids)
        audit: dict[str, Any] = {"base": base, "operation": operation}
        with self._write() as conn:
            info = self._plan_info(conn, plan_id, lock=True)
            refusal = refuse_commit(
                info, base, lambda: self._revision_info(conn, info.id, info.head)
            )
            if isinstance(refusal, StaleRevisionError):
                audit["winner"] = refusal.winner.number
            if refusal is None:
                made = self._add_revision(conn, info, staged, actor, operation, detail)
                self._audit(
                    conn,
                    actor,
                    "commit",
                    plan_id=info.id,
                    revision=made.number,
                    detail=audit,
                    at=made.created_at,
                )
                return made
        outcome: Outcome = "conflict" if isinstance(refusal, StaleRevisionError) else "refused"
        self._audit_alone(
            actor,
            "commit",
            outcome,
            plan_id=info.id,
            revision=None,
            detail={**audit, "error": str(refusal)},
        )
        raise refusal  # type: ignore[misc]

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

    def _layer(self, conn: psycopg.Connection[Any], name: str) -> pd.DataFrame:
        return read_layer(conn, layer(name), None)

    def _replace_layers(
        self, conn: psycopg.Connection[Any], frames: Mapping[str, pd.DataFrame]
    ) -> dict[str, int]:
        return write_layers(conn, frames, replace=True)

    def _revision_frames(
        self, conn: psycopg.Connection[Any], plan_id: str, number: int
    ) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame]:
        key = int(plan_id)
        return read_cells(conn, key, int(number)), revision_grids(conn, key, int(number))

    def _insert_revision_frames(
        self,
        conn: psycopg.Connection[Any],
        plan_id: str,
        number: int,
        cells: gpd.GeoDataFrame,
        grids: gpd.GeoDataFrame,
    ) -> None:
        insert_revision(conn, int(plan_id), int(number), stage_revision(cells, grids))

    def _load_order(self, table: str) -> str:
        return _LOAD_ORDER[table]

    def _overriding(self, table: str) -> str:
        # audit_log.seq is GENERATED ALWAYS: a restored log keeps its numbers.
        return " OVERRIDING SYSTEM VALUE" if table == "audit_log" else ""

    def _communities(self, codes: list[str]) -> list[str]:
        return list(codes)

    def _communities_of(self, stored: list[str]) -> list[str]:
        return list(stored)

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

    # --- helpers -------------------------------------------------------------------------------

    def _new_plan(
        self,
        conn: psycopg.Connection[Any],
        communities: tuple[str, ...],
        name: str,
        params: dict[str, Any],
        actor: str,
        operation: str,
        copied_from: str | None,
        detail: dict[str, Any],
    ) -> tuple[RevisionInfo, int]:
        at = now()
        row = conn.execute(
            _INSERT_PLAN,
            (
                name,
                list(communities),
                at,
                actor,
                to_json(params),
                None if copied_from is None else int(copied_from),
            ),
        ).fetchone()
        assert row is not None
        plan_id = int(row[0])
        made = RevisionInfo(str(plan_id), 1, None, at, actor, operation, _jsonable(detail))
        self._insert_revision_row(conn, made)
        return made, plan_id

    def _add_revision(
        self,
        conn: psycopg.Connection[Any],
        info: PlanInfo,
        staged: StagedRevision,
        actor: str,
        operation: str,
        detail: Mapping[str, Any] | None,
    ) -> RevisionInfo:
        number = info.head + 1
        made = RevisionInfo(info.id, number, info.head, now(), actor, operation, _jsonable(detail))
        self._insert_revision_row(conn, made)
        insert_revision(conn, int(info.id), number, staged)
        conn.execute(_SET_HEAD, (number, list(staged.communities), int(info.id)))
        return made

    @staticmethod
    def _insert_revision_row(conn: psycopg.Connection[Any], made: RevisionInfo) -> None:
        conn.execute(
            _INSERT_REVISION,
            (
                int(made.plan_id),
                made.number,
                made.base,
                made.created_at,
                made.created_by,
                made.operation,
                to_json(made.detail),
            ),
        )


def _jsonable(detail: Mapping[str, Any] | None) -> dict[str, Any]:
    """``detail`` as it reads back from the database (non-JSON values as text)."""
    return json.loads(to_json(detail))
