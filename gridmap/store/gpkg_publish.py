"""Publishing plans in the GeoPackage store: publications by community, and grids by date.

A publication puts a plan revision in force in one community from ``valid_from``; the next
publication for that community ends it (``valid_to``). Periods of one community never overlap,
so a publication dated before the one in force is refused. Publishing several plans (a street,
a district) is one transaction.
"""

from __future__ import annotations

import datetime as dt
import sqlite3
from collections.abc import Mapping, Sequence
from typing import Any

import geopandas as gpd

from gridmap.errors import InputError
from gridmap.schema import PLAN_GRIDS
from gridmap.store.common import aware, check_actor, check_bbox, check_publishable, now, publish_ids
from gridmap.store.contract import BBox, PlanInfo, Publication
from gridmap.store.gpkg_base import GpkgBase, from_text, time_of, to_text
from gridmap.store.gpkg_layers import read_layer

__all__ = ["PublishMixin"]

_OPEN = "SELECT * FROM publications WHERE community_code = ? AND valid_to IS NULL"
_END = "UPDATE publications SET valid_to = ? WHERE fid = ?"
_INSERT = (
    "INSERT INTO publications (community_code, plan_id, revision, valid_from, valid_to, "
    "published_by) VALUES (?, ?, ?, ?, NULL, ?)"
)
_STILL_OPEN = "SELECT 1 FROM publications WHERE plan_id = ? AND valid_to IS NULL LIMIT 1"
_STATUS = "UPDATE plans SET status = ? WHERE id = ?"
_IN_FORCE = "valid_from <= ? AND (valid_to IS NULL OR valid_to > ?)"
_GRIDS_IN_FORCE = (
    "EXISTS (SELECT 1 FROM publications AS p WHERE p.plan_id = t.plan_id "
    "AND p.revision = t.revision AND p.community_code = t.community_code "
    "AND p.valid_from <= ? AND (p.valid_to IS NULL OR p.valid_to > ?){community})"
)
_END_PLAN = (
    "UPDATE publications SET valid_to = CASE WHEN valid_from > ? THEN valid_from ELSE ? END "
    "WHERE plan_id = ? AND valid_to IS NULL"
)


class PublishMixin(GpkgBase):
    """publish, archive, publications, publication_history, grids_at."""

    def publish(
        self,
        plan_ids: Sequence[str],
        *,
        actor: str,
        at: dt.datetime | None = None,
        expected_heads: Mapping[str, int] | None = None,
    ) -> list[Publication]:
        """Put the heads of ``plan_ids`` in force in all their communities from ``at``."""
        check_actor(actor)
        when = now() if at is None else aware(at, "at")
        ids = publish_ids(plan_ids)
        made: list[Publication] = []
        with self._write() as conn:
            infos = [self._plan_info(conn, p) for p in ids]
            check_publishable(infos, expected_heads)
            replaced: set[str] = set()
            for info in infos:
                for community in info.communities:
                    current = conn.execute(_OPEN, (community,)).fetchone()
                    if current is not None:
                        if time_of(current["valid_from"]) > when:
                            raise InputError(
                                f"community {community}: plan {current['plan_id']} is in force "
                                f"from {current['valid_from']}, after {to_text(when)}; "
                                "a publication cannot start before the one it replaces"
                            )
                        conn.execute(_END, (to_text(when), current["fid"]))
                        replaced.add(current["plan_id"])
                    conn.execute(_INSERT, (community, info.id, info.head, to_text(when), actor))
                    made.append(Publication(community, info.id, info.head, when, None, actor))
                conn.execute(_STATUS, ("published", info.id))
                self._audit(
                    conn,
                    actor,
                    "publish",
                    plan_id=info.id,
                    revision=info.head,
                    detail={"communities": list(info.communities), "at": to_text(when)},
                )
            for old in sorted(replaced - set(ids)):
                if conn.execute(_STILL_OPEN, (old,)).fetchone() is None:
                    conn.execute(_STATUS, ("archived", old))
        return made

    def archive(self, plan_id: str, *, actor: str) -> PlanInfo:
        """Archive a draft, or end a published plan's publications now."""
        check_actor(actor)
        with self._write() as conn:
            info = self._plan_info(conn, plan_id)
            if info.status == "archived":
                raise InputError(f"plan {info.id} is archived already")
            stamp = to_text(now())
            conn.execute(_END_PLAN, (stamp, stamp, info.id))
            conn.execute(_STATUS, ("archived", info.id))
            self._audit(
                conn,
                actor,
                "archive",
                plan_id=info.id,
                revision=info.head,
                detail={"was": info.status},
            )
            return self._plan_info(conn, info.id)

    def publications(
        self, *, at: dt.datetime | None = None, community: str | None = None
    ) -> list[Publication]:
        """Publications in force at ``at`` (default now), by community."""
        stamp = to_text(now() if at is None else aware(at, "at"))
        query, args = f"SELECT * FROM publications WHERE {_IN_FORCE}", [stamp, stamp]
        if community is not None:
            query, args = query + " AND community_code = ?", [*args, community]
        with self._read() as conn:
            rows = conn.execute(query + " ORDER BY community_code, fid", args).fetchall()
        return [_publication(row) for row in rows]

    def publication_history(self, community: str | None = None) -> list[Publication]:
        """Every publication ever made, oldest first."""
        query, args = "SELECT * FROM publications", []
        if community is not None:
            query, args = query + " WHERE community_code = ?", [community]
        with self._read() as conn:
            rows = conn.execute(query + " ORDER BY valid_from, fid", args).fetchall()
        return [_publication(row) for row in rows]

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


def _publication(row: sqlite3.Row) -> Publication:
    return Publication(
        community_code=row["community_code"],
        plan_id=row["plan_id"],
        revision=int(row["revision"]),
        valid_from=time_of(row["valid_from"]),
        valid_to=from_text(row["valid_to"]),
        published_by=row["published_by"],
    )
