"""Publishing plans in PostGIS: publications by community, and grids by date.

A publication puts a plan revision in force in one community from ``valid_from``; the next
publication for that community ends it (``valid_to``). An exclusion constraint keeps the
periods of one community from overlapping; publishers of one community queue on an advisory
lock, so the one that comes second sees (and ends) the first one's publication. Publishing
several plans (a street, a district) is one transaction.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any

import geopandas as gpd
from psycopg import sql
from psycopg.rows import dict_row

from gridmap.errors import InputError
from gridmap.store.common import (
    aware,
    check_actor,
    check_bbox,
    check_publishable,
    now,
    publish_ids,
)
from gridmap.store.contract import BBox, PlanInfo, Publication
from gridmap.store.postgis_base import PostgisBase, plan_key, utc
from gridmap.store.postgis_revisions import read_grids

__all__ = ["PublishMixin"]

_COLUMNS = "community_code, plan_id, revision, valid_from, valid_to, published_by"
_LOCK_COMMUNITY = sql.SQL("SELECT pg_advisory_xact_lock(hashtext('gridmap.publication:' || %s))")
_OPEN = sql.SQL(
    "SELECT seq, plan_id, valid_from FROM gridmap.publications"
    " WHERE community_code = %s AND valid_to IS NULL"
)
_END = sql.SQL("UPDATE gridmap.publications SET valid_to = %s WHERE seq = %s")
_INSERT = sql.SQL(
    "INSERT INTO gridmap.publications"
    " (community_code, plan_id, revision, valid_from, valid_to, published_by)"
    " VALUES (%s, %s, %s, %s, NULL, %s)"
)
_STILL_OPEN = sql.SQL(
    "SELECT 1 FROM gridmap.publications WHERE plan_id = %s AND valid_to IS NULL LIMIT 1"
)
_STATUS = sql.SQL("UPDATE gridmap.plans SET status = %s WHERE id = %s")
_END_PLAN = sql.SQL(
    "UPDATE gridmap.publications"
    " SET valid_to = CASE WHEN valid_from > %s THEN valid_from ELSE %s END"
    " WHERE plan_id = %s AND valid_to IS NULL"
)
_IN_FORCE = sql.SQL("valid_from <= %s AND (valid_to IS NULL OR valid_to > %s)")
_GRIDS_AT = sql.SQL(
    "SELECT g.plan_id, g.revision, g.code, g.community_code, g.name, g.residents,"
    " g.households, g.cells, g.compactness, ST_AsBinary(g.geom)"
    " FROM gridmap.publications AS p JOIN gridmap.plan_grids AS g"
    " ON g.plan_id = p.plan_id AND g.revision = p.revision"
    " AND g.community_code = p.community_code"
    " WHERE p.valid_from <= %s AND (p.valid_to IS NULL OR p.valid_to > %s){community}{bbox}"
    " ORDER BY g.plan_id, g.revision, g.ord"
)


class PublishMixin(PostgisBase):
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
            # Plans locked in id order, communities in code order: no deadlock between two
            # publishers of overlapping sets.
            locked = {p: self._plan_info(conn, p, lock=True) for p in sorted(ids, key=_id_order)}
            infos = [locked[p] for p in ids]
            check_publishable(infos, expected_heads)
            for community in sorted(c for info in infos for c in info.communities):
                conn.execute(_LOCK_COMMUNITY, (community,))
            replaced: set[str] = set()
            for info in infos:
                for community in info.communities:
                    current = conn.execute(_OPEN, (community,)).fetchone()
                    if current is not None:
                        seq, old_plan, valid_from = current
                        if valid_from > when:
                            raise InputError(
                                f"community {community}: plan {old_plan} is in force from "
                                f"{utc(valid_from).isoformat()}, after {when.isoformat()}; "  # type: ignore[union-attr]
                                "a publication cannot start before the one it replaces"
                            )
                        conn.execute(_END, (when, seq))
                        replaced.add(str(old_plan))
                    conn.execute(_INSERT, (community, int(info.id), info.head, when, actor))
                    made.append(Publication(community, info.id, info.head, when, None, actor))
                conn.execute(_STATUS, ("published", int(info.id)))
                self._audit(
                    conn,
                    actor,
                    "publish",
                    plan_id=info.id,
                    revision=info.head,
                    detail={"communities": list(info.communities), "at": when.isoformat()},
                )
            for old in sorted(replaced - set(ids), key=_id_order):
                if conn.execute(_STILL_OPEN, (int(old),)).fetchone() is None:
                    conn.execute(_STATUS, ("archived", int(old)))
        return made

    def archive(self, plan_id: str, *, actor: str) -> PlanInfo:
        """Archive a draft, or end a published plan's publications now."""
        check_actor(actor)
        with self._write() as conn:
            info = self._plan_info(conn, plan_id, lock=True)
            if info.status == "archived":
                raise InputError(f"plan {info.id} is archived already")
            stamp = now()
            conn.execute(_END_PLAN, (stamp, stamp, int(info.id)))
            conn.execute(_STATUS, ("archived", int(info.id)))
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
        when = now() if at is None else aware(at, "at")
        where: list[sql.Composable] = [_IN_FORCE]
        args: list[Any] = [when, when]
        if community is not None:
            where.append(sql.SQL("community_code = %s"))
            args.append(community)
        return self._publications(sql.SQL(" AND ").join(where), args, "community_code, seq")

    def publication_history(self, community: str | None = None) -> list[Publication]:
        """Every publication ever made, oldest first."""
        if community is None:
            return self._publications(sql.SQL("TRUE"), [], "valid_from, seq")
        return self._publications(sql.SQL("community_code = %s"), [community], "valid_from, seq")

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

    def _publications(
        self, where: sql.Composable, args: list[Any], order: str
    ) -> list[Publication]:
        query = sql.SQL("SELECT {} FROM gridmap.publications WHERE {} ORDER BY {}").format(
            sql.SQL(_COLUMNS), where, sql.SQL(order)
        )
        with self._read() as conn, conn.cursor(row_factory=dict_row) as cur:
            rows = cur.execute(query, args).fetchall()
        return [
            Publication(
                community_code=r["community_code"],
                plan_id=str(r["plan_id"]),
                revision=int(r["revision"]),
                valid_from=utc(r["valid_from"]),  # type: ignore[arg-type]
                valid_to=utc(r["valid_to"]),
                published_by=r["published_by"],
            )
            for r in rows
        ]


def _id_order(plan_id: str) -> tuple[int, str]:
    key = plan_key(plan_id)
    return (key if key is not None else -1, plan_id)
