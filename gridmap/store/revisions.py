"""Plans and their revisions: creating, copying, and the commit's compare-and-set.

Functions over a :class:`~gridmap.store.base.StoreBase` (whose methods of the same names call
them). A commit reads the plan (row-locked where the engine locks rows), compares its head with
the base the caller started from and writes the next revision in one write transaction, so of
two writers racing from the same base exactly one wins; the other gets
:class:`~gridmap.store.contract.StaleRevisionError` naming the winner, and the refusal is
audited in a transaction of its own.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import geopandas as gpd

from gridmap.store.common import check_actor, now, refuse_commit, to_json
from gridmap.store.contract import Outcome, PlanInfo, RevisionInfo, StaleRevisionError

if TYPE_CHECKING:
    from gridmap.store.base import StoreBase

__all__ = ["commit", "copy_plan", "create_plan", "insert_plan"]

_INSERT_REVISION = (
    "INSERT INTO plan_revisions (plan_id, number, base, created_at, created_by, operation, "
    "detail) VALUES (?, ?, ?, ?, ?, ?, ?)"
)
_SET_HEAD = "UPDATE plans SET head = ?, communities = ? WHERE id = ?"


def create_plan(
    store: StoreBase,
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
    staged = store._stage(cells, grids)
    with store._write() as conn:
        return insert_plan(
            store, conn, staged, name=name, params=params, actor=actor, operation=operation
        )


def insert_plan(
    store: StoreBase,
    conn: Any,
    staged: Any,
    *,
    name: str,
    params: Mapping[str, Any],
    actor: str,
    operation: str = "partition",
) -> RevisionInfo:
    """Write a new draft plan whose revision 1 is ``staged`` (:meth:`StoreBase._stage`), in the
    caller's write transaction, and audit it; returns that revision."""
    made = _new_plan(
        store, conn, staged.communities, name, dict(params), actor, operation, None, {}
    )
    counts = store._insert_revision(conn, made.plan_id, 1, staged)
    detail = {"name": name, "operation": operation, **counts}
    store._audit(
        conn,
        actor,
        "create_plan",
        plan_id=made.plan_id,
        revision=1,
        detail=detail,
        at=made.created_at,
    )
    return made


def copy_plan(store: StoreBase, plan_id: str, *, name: str, actor: str) -> RevisionInfo:
    """A new draft whose revision 1 is ``plan_id``'s head (``copied_from`` = plan_id)."""
    check_actor(actor)
    with store._write() as conn:
        source = store._plan_info(conn, plan_id)
        detail = {"from_plan": source.id, "from_revision": source.head}
        params = dict(source.params)
        made = _new_plan(
            store, conn, source.communities, name, params, actor, "copy", source.id, detail
        )
        store._copy_revision(conn, source, made.plan_id)
        store._audit(
            conn,
            actor,
            "copy_plan",
            plan_id=made.plan_id,
            revision=1,
            at=made.created_at,
            detail={"name": name, "operation": "copy", **detail},
        )
        return made


def commit(
    store: StoreBase,
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

    The plan is read (row-locked where the engine locks rows), its head compared with
    ``base`` and the revision written in one write transaction: the compare-and-set. A
    stale base raises :class:`StaleRevisionError` naming the head (the revision that won),
    and the attempt is audited as a conflict.
    """
    check_actor(actor)
    staged = store._stage(cells, grids)
    audit: dict[str, Any] = {"base": base, "operation": operation}
    with store._write() as conn:
        info = store._plan_info(conn, plan_id, lock=True)
        refusal = refuse_commit(info, base, lambda: store._revision_info(conn, info.id, info.head))
        if refusal is None:
            made = _add_revision(store, conn, info, staged, actor, operation, detail)
            store._audit(
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
    detail_out = {**audit, "error": str(refusal)}
    store._audit_alone(actor, "commit", outcome, plan_id=info.id, detail=detail_out)
    raise refusal


def _new_plan(
    store: StoreBase,
    conn: Any,
    communities: Sequence[str],
    name: str,
    params: dict[str, Any],
    actor: str,
    operation: str,
    copied_from: str | None,
    detail: dict[str, Any],
) -> RevisionInfo:
    at = now()
    values = {
        "name": name,
        "communities": store._communities(list(communities)),
        "created_at": store._stamp(at),
        "created_by": actor,
        "copied_from": None if copied_from is None else store._key(copied_from),
        "params": to_json(params),
    }
    plan_id = store._insert_plan(conn, values)
    made = RevisionInfo(plan_id, 1, None, at, actor, operation, json.loads(to_json(detail)))
    _insert_revision_row(store, conn, made)
    return made


def _add_revision(
    store: StoreBase,
    conn: Any,
    info: PlanInfo,
    staged: Any,
    actor: str,
    operation: str,
    detail: Mapping[str, Any] | None,
) -> RevisionInfo:
    number = info.head + 1
    made = RevisionInfo(
        info.id, number, info.head, now(), actor, operation, json.loads(to_json(detail))
    )
    _insert_revision_row(store, conn, made)
    store._insert_revision(conn, info.id, number, staged)
    communities = store._communities(list(staged.communities))
    store._rows(conn, _SET_HEAD, (number, communities, store._key(info.id)))
    return made


def _insert_revision_row(store: StoreBase, conn: Any, made: RevisionInfo) -> None:
    store._rows(
        conn,
        _INSERT_REVISION,
        (
            store._key(made.plan_id),
            made.number,
            made.base,
            store._stamp(made.created_at),
            made.created_by,
            made.operation,
            to_json(made.detail),
        ),
    )
