"""The embedded engine of the storage contract: everything in one GeoPackage file.

:class:`GpkgStore` implements :class:`gridmap.store.contract.Store`. Reference layers, plans and
their revisions, publications, staff assignments, incidents, users and the audit log are tables
of one ``.gpkg`` that QGIS and GDAL open as it is (attribute tables, and feature tables with
their R-tree). Each mutating call is one SQLite transaction started with ``BEGIN IMMEDIATE`` in
WAL mode: all-or-nothing, also when the process is killed, and one writer at a time across
processes. A commit reads the plan's head and writes the next revision inside that transaction,
so two writers racing from the same base cannot both win.
"""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
from collections.abc import Mapping
from typing import Any

import geopandas as gpd
import pandas as pd

from gridmap.errors import InputError
from gridmap.schema import LAYERS, PLAN_GRIDS, layer
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
from gridmap.store.gpkg.base import GpkgBase, plan_info, revision_info, to_text
from gridmap.store.gpkg.file import ensure_geopackage
from gridmap.store.gpkg.layers import filled_layers, read_layer, write_layers
from gridmap.store.gpkg.revisions import (
    StagedRevision,
    insert_revision,
    read_cells,
    read_grids,
    stage_revision,
)

__all__ = ["GpkgStore"]

_NEXT_PLAN = "SELECT COALESCE(MAX(CAST(id AS INTEGER)), 0) + 1 FROM plans"
_INSERT_PLAN = (
    "INSERT INTO plans (id, name, status, communities, head, created_at, created_by, "
    "copied_from, params) VALUES (?, ?, 'draft', ?, 1, ?, ?, ?, ?)"
)
_INSERT_REVISION = (
    "INSERT INTO plan_revisions (plan_id, number, base, created_at, created_by, operation, "
    "detail) VALUES (?, ?, ?, ?, ?, ?, ?)"
)
_SET_HEAD = "UPDATE plans SET head = ?, communities = ? WHERE id = ?"
_GRIDS_IN_FORCE = (
    "EXISTS (SELECT 1 FROM publications AS p WHERE p.plan_id = t.plan_id "
    "AND p.revision = t.revision AND p.community_code = t.community_code "
    "AND p.valid_from <= ? AND (p.valid_to IS NULL OR p.valid_to > ?){community})"
)


class GpkgStore(GpkgBase):
    """The storage contract on one GeoPackage file at ``path`` (created when absent).

    Examples
    --------
    >>> import tempfile, pathlib, shapely, geopandas as gpd
    >>> store = GpkgStore(pathlib.Path(tempfile.mkdtemp()) / "w.gpkg")
    >>> cells = gpd.GeoDataFrame(
    ...     {"community_code": ["500108003002"] * 2, "atom_id": ["A1", "A2"],
    ...      "grid": ["500108003002001"] * 2, "residents": [10, 20], "households": [4, 8]},
    ...     geometry=[shapely.box(0, 0, 1, 1), shapely.box(1, 0, 2, 1)], crs=4326,
    ...     index=["500108003002-C1", "500108003002-C2"])
    >>> grids = gpd.GeoDataFrame({"code": ["500108003002001"],
    ...     "community_code": ["500108003002"]}, geometry=[shapely.box(0, 0, 2, 1)], crs=4326)
    >>> store.create_plan(cells, grids, name="南湖", params={}, actor="planner").number
    1
    >>> store.revision("1").cells["grid"].tolist()
    ['500108003002001', '500108003002001']
    >>> store.close()
    """

    # --- reference layers ----------------------------------------------------------------------

    def layers(self) -> list[str]:
        """Names of the reference layers that hold data."""
        with self._read() as conn:
            return filled_layers(conn)

    def read(self, name: str, bbox: BBox | None = None) -> pd.DataFrame:
        """A reference layer, filtered by a lon/lat bbox through the R-tree."""
        if name not in LAYERS:
            raise InputError(f"unknown layer {name!r}; the layers are {', '.join(LAYERS)}")
        box = check_bbox(bbox)
        with self._read() as conn:
            return read_layer(conn, layer(name), box)

    def write(
        self, frames: Mapping[str, pd.DataFrame], *, replace: bool = False, actor: str = "system"
    ) -> None:
        """Append (or replace) reference layers, all of them or none, and audit it."""
        with self._write() as conn:
            ensure_geopackage(conn)
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
            return self._new_plan(conn, staged, name, dict(params), actor, operation, None, {})

    def copy_plan(self, plan_id: str, *, name: str, actor: str) -> RevisionInfo:
        """A new draft whose revision 1 is ``plan_id``'s head (``copied_from`` = plan_id)."""
        check_actor(actor)
        with self._write() as conn:
            source = self._plan_info(conn, plan_id)
            cells = read_cells(conn, source.id, source.head)
            grids = gpd.GeoDataFrame(read_grids(conn, source.id, source.head))
            staged = stage_revision(cells, grids)
            detail = {"from_plan": source.id, "from_revision": source.head}
            return self._new_plan(
                conn, staged, name, dict(source.params), actor, "copy", source.id, detail
            )

    def plans(
        self, *, status: PlanStatus | None = None, community: str | None = None
    ) -> list[PlanInfo]:
        """Plans, oldest first, optionally of one status or covering one community."""
        if status is not None and status not in PLAN_STATUSES:
            raise InputError(f"status: {status!r} is not one of {', '.join(PLAN_STATUSES)}")
        with self._read() as conn:
            found = [plan_info(row) for row in conn.execute("SELECT * FROM plans ORDER BY fid")]
        return [
            p
            for p in found
            if (status is None or p.status == status)
            and (community is None or community in p.communities)
        ]

    def plan(self, plan_id: str) -> PlanInfo:
        """One plan."""
        with self._read() as conn:
            return self._plan_info(conn, plan_id)

    def revisions(self, plan_id: str) -> list[RevisionInfo]:
        """A plan's revisions, 1 first."""
        with self._read() as conn:
            self._plan_info(conn, plan_id)
            rows = conn.execute(
                "SELECT * FROM plan_revisions WHERE plan_id = ? ORDER BY number", (str(plan_id),)
            )
            return [revision_info(row) for row in rows]

    def revision(self, plan_id: str, number: int | None = None) -> Revision:
        """A revision with its cells and grids (None: the head)."""
        with self._read() as conn:
            info = self._plan_info(conn, plan_id)
            found = self._revision_info(conn, info.id, info.head if number is None else number)
            cells = read_cells(conn, info.id, found.number)
            grids = read_grids(conn, info.id, found.number)
        return Revision(found, cells, gpd.GeoDataFrame(grids))

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

        The head is read and the revision written in one ``BEGIN IMMEDIATE`` transaction: the
        compare-and-set. A stale base raises :class:`StaleRevisionError` naming the head (the
        revision that won), and the attempt is audited as a conflict.
        """
        check_actor(actor)
        staged = stage_revision(cells, grids)
        audit: dict[str, Any] = {"base": base, "operation": operation}
        with self._write() as conn:
            info = self._plan_info(conn, plan_id)
            refusal = refuse_commit(
                info, base, lambda: self._revision_info(conn, info.id, info.head)
            )
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
        if isinstance(refusal, StaleRevisionError):
            audit["winner"] = refusal.winner.number
        outcome: Outcome = "conflict" if isinstance(refusal, StaleRevisionError) else "refused"
        self._audit_alone(
            actor,
            "commit",
            outcome,
            plan_id=info.id,
            revision=None,
            detail={**audit, "error": str(refusal)},
        )
        raise refusal

    def grids_at(
        self,
        at: dt.datetime | None = None,
        *,
        bbox: BBox | None = None,
        community: str | None = None,
    ) -> gpd.GeoDataFrame:
        """The grids in force at ``at`` (default now), with plan_id and revision columns."""
        stamp = to_text(now() if at is None else aware(at, "at"))
        box = check_bbox(bbox)
        where = _GRIDS_IN_FORCE.format(
            community="" if community is None else " AND p.community_code = ?"
        )
        args: list[Any] = [stamp, stamp] + ([] if community is None else [community])
        with self._read() as conn:
            grids = read_layer(conn, PLAN_GRIDS, box, where=where, params=args)
        order = [c for c in grids.columns if c not in ("plan_id", "revision", "geometry")]
        return gpd.GeoDataFrame(grids[[*order, "plan_id", "revision", "geometry"]])

    # --- backup hooks (gridmap.store.backup) -------------------------------------------------

    def _layer(self, conn: sqlite3.Connection, name: str) -> pd.DataFrame:
        return read_layer(conn, layer(name))

    def _replace_layers(
        self, conn: sqlite3.Connection, frames: Mapping[str, pd.DataFrame]
    ) -> dict[str, int]:
        ensure_geopackage(conn)
        return write_layers(conn, frames, replace=True)

    def _revision_frames(
        self, conn: sqlite3.Connection, plan_id: str, number: int
    ) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame]:
        cells = read_cells(conn, str(plan_id), int(number))
        return cells, gpd.GeoDataFrame(read_grids(conn, str(plan_id), int(number)))

    def _insert_revision_frames(
        self,
        conn: sqlite3.Connection,
        plan_id: str,
        number: int,
        cells: gpd.GeoDataFrame,
        grids: gpd.GeoDataFrame,
    ) -> None:
        insert_revision(conn, str(plan_id), int(number), stage_revision(cells, grids))

    def _load_order(self, table: str) -> str:
        return "seq" if table == "audit_log" else "fid"

    def _overriding(self, table: str) -> str:
        return ""

    def _communities(self, codes: list[str]) -> str:
        return json.dumps(list(codes))

    def _communities_of(self, stored: str) -> list[str]:
        return list(json.loads(stored))

    def _after_load(self, conn: sqlite3.Connection) -> None:
        """Nothing to do: the next ids are computed from what the tables hold."""

    # --- helpers -------------------------------------------------------------------------------

    def _new_plan(
        self,
        conn: sqlite3.Connection,
        staged: StagedRevision,
        name: str,
        params: dict[str, Any],
        actor: str,
        operation: str,
        copied_from: str | None,
        detail: dict[str, Any],
    ) -> RevisionInfo:
        at = now()
        plan_id = str(conn.execute(_NEXT_PLAN).fetchone()[0])
        communities = json.dumps(list(staged.communities))
        conn.execute(
            _INSERT_PLAN,
            (plan_id, name, communities, to_text(at), actor, copied_from, to_json(params)),
        )
        made = RevisionInfo(plan_id, 1, None, at, actor, operation, json.loads(to_json(detail)))
        self._insert_revision_row(conn, made)
        counts = insert_revision(conn, plan_id, 1, staged)
        action = "copy_plan" if copied_from else "create_plan"
        self._audit(
            conn,
            actor,
            action,
            plan_id=plan_id,
            revision=1,
            at=at,
            detail={"name": name, "operation": operation, **detail, **counts},
        )
        return made

    def _add_revision(
        self,
        conn: sqlite3.Connection,
        info: PlanInfo,
        staged: StagedRevision,
        actor: str,
        operation: str,
        detail: Mapping[str, Any] | None,
    ) -> RevisionInfo:
        number = info.head + 1
        made = RevisionInfo(
            info.id, number, info.head, now(), actor, operation, json.loads(to_json(detail))
        )
        self._insert_revision_row(conn, made)
        insert_revision(conn, info.id, number, staged)
        conn.execute(_SET_HEAD, (number, json.dumps(list(staged.communities)), info.id))
        return made

    @staticmethod
    def _insert_revision_row(conn: sqlite3.Connection, made: RevisionInfo) -> None:
        conn.execute(
            _INSERT_REVISION,
            (
                made.plan_id,
                made.number,
                made.base,
                to_text(made.created_at),
                made.created_by,
                made.operation,
                to_json(made.detail),
            ),
        )
