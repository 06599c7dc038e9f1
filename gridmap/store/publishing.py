"""Publishing plans: publications by community, the move of open incidents, archiving.

Functions over a :class:`~gridmap.store.base.StoreBase` (whose methods of the same names call
them). A publication puts a plan revision in force in one community from ``valid_from``; the
next publication for that community ends it (``valid_to``); a publication dated before the one
in force is refused. A publication may start later than it is made: until ``valid_from`` the
plan before it stays in force, and its open incidents stay where they are; :func:`take_effect`
moves them once the date has passed, and marks the publication (``regridded_at``) in the same
transaction, so that of several processes noticing the date only the first moves anything.
Publishing several plans (a street, a district) and moving the open
incidents to their new grids is one transaction: killed at any point, the store holds the old
plans with the incidents on their old grids, or the new ones with every incident moved.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from gridmap.errors import InputError
from gridmap.store.common import aware, check_actor, check_publishable, now, publish_ids
from gridmap.store.contract import IncidentEvent, PlanInfo, Publication
from gridmap.store.records import change_incident, equal, read_incident, where

if TYPE_CHECKING:
    from gridmap.store.base import StoreBase

__all__ = ["archive", "publication_history", "publications", "publish", "take_effect"]

_OPEN_PUBLICATION = "SELECT * FROM publications WHERE community_code = ? AND valid_to IS NULL"
_INSERT_PUBLICATION = (
    "INSERT INTO publications (community_code, plan_id, revision, valid_from, valid_to, "
    "published_by, regridded_at) VALUES (?, ?, ?, ?, NULL, ?, ?)"
)
_STILL_OPEN = (
    "SELECT 1 AS open FROM publications WHERE plan_id = ? AND (valid_to IS NULL OR valid_to > ?) "
    "LIMIT 1"
)
_PUBLISHED_PLANS = "SELECT id FROM plans WHERE status = 'published'"
_NOT_REGRIDDED = (
    "SELECT {key} FROM publications WHERE community_code = ? AND plan_id = ? AND revision = ? "
    "AND valid_from = ? AND regridded_at IS NULL"
)
_SET_STATUS = "UPDATE plans SET status = ? WHERE id = ?"
_END_PLAN = (
    "UPDATE publications SET valid_to = CASE WHEN valid_from > ? THEN valid_from ELSE ? END "
    "WHERE plan_id = ? AND valid_to IS NULL"
)
_SCHEDULED = "SELECT * FROM publications WHERE plan_id = ? AND valid_from > ?"
_REOPEN = "UPDATE publications SET valid_to = NULL WHERE community_code = ? AND valid_to = ?"
_IN_FORCE = "valid_from <= ? AND (valid_to IS NULL OR valid_to > ?)"
_GRID_COMMUNITIES = "SELECT code, community_code FROM plan_grids WHERE plan_id = ? AND revision = ?"


# --- publishing ----------------------------------------------------------------------------------


def publish(
    store: StoreBase,
    plan_ids: Sequence[str],
    *,
    actor: str,
    at: dt.datetime | None = None,
    expected_heads: Mapping[str, int] | None = None,
    incident_grids: Mapping[str, str | None] | None = None,
) -> list[Publication]:
    """Put the heads of ``plan_ids`` in force in all their communities from ``at``, and
    move each incident of ``incident_grids`` to its new grid, in one transaction."""
    check_actor(actor)
    started = now()
    when = started if at is None else aware(at, "at")
    ids = publish_ids(plan_ids)
    moves = _incident_moves(incident_grids)
    later = when > started
    if later and moves:
        raise InputError(
            f"incident_grids: a publication from {when.isoformat()} moves incidents when it "
            "takes effect (take_effect), not now"
        )
    regridded = None if later else store._stamp(started)
    made: list[Publication] = []
    with store._write() as conn:
        # Plans locked in id order, communities in code order: no deadlock between two
        # publishers of overlapping sets.
        order = sorted(ids, key=lambda p: (len(p), p))
        locked = {p: store._plan_info(conn, p, lock=True) for p in order}
        infos = [locked[p] for p in ids]
        check_publishable(infos, expected_heads)
        communities = sorted(c for info in infos for c in info.communities)
        store._lock_names(conn, [f"gridmap.publication:{c}" for c in communities])
        replaced: set[str] = set()
        for info in infos:
            for community in info.communities:
                replaced |= _end_publication(store, conn, community, when)
                store._rows(
                    conn,
                    _INSERT_PUBLICATION,
                    (
                        community,
                        store._key(info.id),
                        info.head,
                        store._stamp(when),
                        actor,
                        regridded,
                    ),
                )
                made.append(
                    Publication(
                        community,
                        info.id,
                        info.head,
                        when,
                        None,
                        actor,
                        None if later else started,
                    )
                )
            store._rows(conn, _SET_STATUS, ("published", store._key(info.id)))
            store._audit(
                conn,
                actor,
                "publish",
                plan_id=info.id,
                revision=info.head,
                detail={"communities": list(info.communities), "at": when.isoformat()},
            )
        # A plan replaced from a later date stays "published" until then (take_effect).
        _archive_ended(store, conn, sorted(replaced - set(ids)), started)
        if moves:
            _regrid(store, conn, infos, moves, actor)
    return made


def take_effect(
    store: StoreBase,
    due: Sequence[Publication],
    *,
    actor: str,
    at: dt.datetime,
    incident_grids: Mapping[str, str | None] | None = None,
) -> list[Publication]:
    """Mark the publications ``due`` (their ``valid_from`` has passed) as having taken effect
    at ``at``, move each incident of ``incident_grids`` to its new grid and archive the plans
    they replaced, in one transaction. The publications another process marked first are
    left alone; when all of them were, nothing is done (and [] is answered)."""
    check_actor(actor)
    when = aware(at, "at")
    moves = _incident_moves(incident_grids)
    for p in due:
        if p.valid_from > when:
            raise InputError(
                f"community {p.community_code}: plan {p.plan_id} takes effect at "
                f"{p.valid_from.isoformat()}, after {when.isoformat()}"
            )
    communities = sorted({p.community_code for p in due})
    marked: list[Publication] = []
    with store._write() as conn:
        store._lock_names(conn, [f"gridmap.publication:{c}" for c in communities])
        query = _NOT_REGRIDDED.format(key=store._ROW_KEY)
        key = store._ROW_KEY
        for p in due:
            args = (p.community_code, store._key(p.plan_id), p.revision, store._stamp(p.valid_from))
            for row in store._rows(conn, query + store._FOR_UPDATE, args):
                store._rows(
                    conn,
                    f"UPDATE publications SET regridded_at = ? WHERE {key} = ?",
                    (store._stamp(when), row[key]),
                )
                marked.append(replace(p, regridded_at=when))
        if not marked:
            return []
        published = [str(r["id"]) for r in store._rows(conn, _PUBLISHED_PLANS)]
        _archive_ended(store, conn, published, when)
        if moves:
            infos = [store._plan_info(conn, p) for p in sorted({p.plan_id for p in marked})]
            _regrid(store, conn, infos, moves, actor)
        detail = {
            "communities": [p.community_code for p in marked],
            "valid_from": sorted({p.valid_from.isoformat() for p in marked}),
        }
        store._audit(conn, actor, "take_effect", detail=detail)
    return marked


def _archive_ended(store: StoreBase, conn: Any, plan_ids: Sequence[str], at: dt.datetime) -> None:
    """Archive the plans of ``plan_ids`` none of whose publications is in force at ``at`` or
    later."""
    for plan_id in plan_ids:
        if not store._rows(conn, _STILL_OPEN, (store._key(plan_id), store._stamp(at))):
            store._rows(conn, _SET_STATUS, ("archived", store._key(plan_id)))


def _end_publication(store: StoreBase, conn: Any, community: str, when: dt.datetime) -> set[str]:
    """End the publication in force in ``community`` at ``when``; the plan it was of."""
    rows = store._rows(conn, _OPEN_PUBLICATION, (community,))
    if not rows:
        return set()
    current = rows[0]
    since = store._time(current["valid_from"])
    if since is not None and since > when:
        raise InputError(
            f"community {community}: plan {current['plan_id']} is in force from "
            f"{since.isoformat()}, after {when.isoformat()}; "
            "a publication cannot start before the one it replaces"
        )
    key = store._ROW_KEY
    store._rows(
        conn,
        f"UPDATE publications SET valid_to = ? WHERE {key} = ?",
        (store._stamp(when), current[key]),
    )
    return {str(current["plan_id"])}


def _regrid(
    store: StoreBase, conn: Any, infos: Sequence[PlanInfo], moves: dict[str, str | None], actor: str
) -> None:
    """Move incidents to the grids of the plans just published (inside the publish)."""
    owner: dict[str, tuple[str, PlanInfo]] = {}
    for info in infos:
        for row in store._rows(conn, _GRID_COMMUNITIES, (store._key(info.id), info.head)):
            owner[str(row["code"])] = (row["community_code"] or str(row["code"])[:12], info)
    moved = 0
    stamp = now()
    for incident_id in sorted(moves, key=lambda i: (len(i), i)):
        current = read_incident(store, conn, incident_id, lock=True)
        old, new = current.fields.get("grid_code"), moves[incident_id]
        if old == new:
            continue
        changes: dict[str, Any] = {"grid_code": new}
        where = ""
        if new is not None:
            community, info = owner.get(new, (new[:12], infos[0]))
            changes |= {"community_code": community, "street_code": community[:9] + "000"}
            where = f" (plan {info.id} revision {info.head})"
        status = current.fields.get("status")
        note = f"网格调整 regrid: {old or '—'} → {new or '—'}{where}"
        event = IncidentEvent(current.id, 0, stamp, actor, "regrid", status, status, note)
        change_incident(store, conn, current, changes, event)
        moved += 1
    store._audit(conn, actor, "regrid_incidents", detail={"moved": moved, "asked": len(moves)})


def archive(store: StoreBase, plan_id: str, *, actor: str) -> PlanInfo:
    """Archive a draft, or end a published plan's publications now. A publication of it that
    has not taken effect yet is cancelled: removed, and the one it would have ended stays in
    force."""
    check_actor(actor)
    with store._write() as conn:
        info = store._plan_info(conn, plan_id, lock=True)
        if info.status == "archived":
            raise InputError(f"plan {info.id} is archived already")
        stamp = store._stamp(now())
        key = store._ROW_KEY
        for row in store._rows(conn, _SCHEDULED, (store._key(info.id), stamp)):
            store._rows(conn, f"DELETE FROM publications WHERE {key} = ?", (row[key],))
            store._rows(conn, _REOPEN, (row["community_code"], row["valid_from"]))
        store._rows(conn, _END_PLAN, (stamp, stamp, store._key(info.id)))
        store._rows(conn, _SET_STATUS, ("archived", store._key(info.id)))
        detail = {"was": info.status}
        store._audit(conn, actor, "archive", plan_id=info.id, revision=info.head, detail=detail)
        return store._plan_info(conn, info.id)


def publications(
    store: StoreBase, *, at: dt.datetime | None = None, community: str | None = None
) -> list[Publication]:
    """Publications in force at ``at`` (default now), by community."""
    stamp = store._stamp(now() if at is None else aware(at, "at"))
    conds, args = equal(community_code=community)
    return _publications(store, [_IN_FORCE, *conds], [stamp, stamp, *args], "community_code")


def publication_history(store: StoreBase, community: str | None = None) -> list[Publication]:
    """Every publication ever made, oldest first."""
    conds, args = equal(community_code=community)
    return _publications(store, conds, args, "valid_from")


def _publications(
    store: StoreBase, conds: list[str], args: list[Any], order: str
) -> list[Publication]:
    query = f"SELECT * FROM publications{where(conds)} ORDER BY {order}, "
    with store._read() as conn:
        rows = store._rows(conn, query + store._ROW_KEY, args)
    return [
        Publication(
            community_code=r["community_code"],
            plan_id=str(r["plan_id"]),
            revision=int(r["revision"]),
            valid_from=store._time(r["valid_from"]),  # type: ignore[arg-type]
            valid_to=store._time(r["valid_to"]),
            published_by=r["published_by"],
            regridded_at=store._time(r.get("regridded_at")),
        )
        for r in rows
    ]


def _incident_moves(given: Mapping[str, str | None] | None) -> dict[str, str | None]:
    """``incident_grids`` of a publish, checked: incident id → new grid code or None."""
    if given is None:
        return {}
    if not isinstance(given, Mapping):
        raise InputError(
            f"incident_grids: expected a mapping of incident id to grid, got {given!r}"
        )
    moves: dict[str, str | None] = {}
    for incident_id, grid in given.items():
        if grid is not None and not (isinstance(grid, str) and grid.strip()):
            raise InputError(f"incident_grids: incident {incident_id}: bad grid code {grid!r}")
        moves[str(incident_id)] = grid
    return moves
