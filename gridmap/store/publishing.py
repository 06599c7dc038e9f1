"""Publishing plans: publications by community, the move of open incidents, archiving.

Functions over a :class:`~gridmap.store.base.StoreBase` (whose methods of the same names call
them). A publication puts a plan revision in force in one community from ``valid_from``; the
next publication for that community ends it (``valid_to``); a publication dated before the one
in force is refused. Publishing several plans (a street, a district) and moving the open
incidents to their new grids is one transaction: killed at any point, the store holds the old
plans with the incidents on their old grids, or the new ones with every incident moved.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from gridmap.errors import InputError
from gridmap.store.common import aware, check_actor, check_publishable, now, publish_ids
from gridmap.store.contract import IncidentEvent, PlanInfo, Publication
from gridmap.store.records import change_incident, equal, read_incident, where

if TYPE_CHECKING:
    from gridmap.store.base import StoreBase

__all__ = ["archive", "publication_history", "publications", "publish"]

_OPEN_PUBLICATION = "SELECT * FROM publications WHERE community_code = ? AND valid_to IS NULL"
_INSERT_PUBLICATION = (
    "INSERT INTO publications (community_code, plan_id, revision, valid_from, valid_to, "
    "published_by) VALUES (?, ?, ?, ?, NULL, ?)"
)
_STILL_OPEN = "SELECT 1 AS open FROM publications WHERE plan_id = ? AND valid_to IS NULL LIMIT 1"
_SET_STATUS = "UPDATE plans SET status = ? WHERE id = ?"
_END_PLAN = (
    "UPDATE publications SET valid_to = CASE WHEN valid_from > ? THEN valid_from ELSE ? END "
    "WHERE plan_id = ? AND valid_to IS NULL"
)
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
    when = now() if at is None else aware(at, "at")
    ids = publish_ids(plan_ids)
    moves = _incident_moves(incident_grids)
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
                    (community, store._key(info.id), info.head, store._stamp(when), actor),
                )
                made.append(Publication(community, info.id, info.head, when, None, actor))
            store._rows(conn, _SET_STATUS, ("published", store._key(info.id)))
            store._audit(
                conn,
                actor,
                "publish",
                plan_id=info.id,
                revision=info.head,
                detail={"communities": list(info.communities), "at": when.isoformat()},
            )
        for old in sorted(replaced - set(ids)):
            if not store._rows(conn, _STILL_OPEN, (store._key(old),)):
                store._rows(conn, _SET_STATUS, ("archived", store._key(old)))
        if moves:
            _regrid(store, conn, infos, moves, actor)
    return made


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
    """Archive a draft, or end a published plan's publications now."""
    check_actor(actor)
    with store._write() as conn:
        info = store._plan_info(conn, plan_id, lock=True)
        if info.status == "archived":
            raise InputError(f"plan {info.id} is archived already")
        stamp = store._stamp(now())
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
