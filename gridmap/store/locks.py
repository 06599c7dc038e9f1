"""Grid locks: a planner protects grids of a draft plan from edits, seen by every planner.

Functions over a :class:`~gridmap.store.base.StoreBase` (whose methods of the same names call
them). A lock is (plan, grid code, who, when); the plan's row lock serialises lockers, so two
planners locking the same grid at once get one lock and one :class:`ConflictError` naming the
other. Only the planner who locked a grid (or an admin, ``force``) unlocks it. The edit
service refuses an edit that changes a locked grid (:mod:`gridmap.service.edit`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from gridmap.errors import ConflictError, InputError
from gridmap.store.common import check_actor, now
from gridmap.store.contract import GridLock

if TYPE_CHECKING:
    from gridmap.store.base import StoreBase

__all__ = ["grid_locks", "lock_grid", "unlock_grid"]

_LOCKS = "SELECT * FROM grid_locks WHERE plan_id = ? ORDER BY grid_code"
_LOCK_OF = "SELECT * FROM grid_locks WHERE plan_id = ? AND grid_code = ?"
_INSERT = "INSERT INTO grid_locks (plan_id, grid_code, locked_by, locked_at) VALUES (?, ?, ?, ?)"
_DELETE = "DELETE FROM grid_locks WHERE plan_id = ? AND grid_code = ?"


def lock_grid(store: StoreBase, plan_id: str, grid_code: str, *, actor: str) -> GridLock:
    """Lock ``grid_code`` of a draft for ``actor`` (idempotent for the same planner);
    ConflictError when another planner holds the lock."""
    check_actor(actor)
    with store._write() as conn:
        info = store._plan_info(conn, plan_id, lock=True)
        code = _check_grid(info.communities, info.id, info.status, grid_code)
        rows = store._rows(conn, _LOCK_OF, (store._key(info.id), code))
        if rows:
            held = _lock_of(store, rows[0])
            if held.locked_by != actor:
                raise _held_by_other(held)
            return held
        made = GridLock(info.id, code, actor, now())
        store._rows(conn, _INSERT, (store._key(info.id), code, actor, store._stamp(made.locked_at)))
        store._audit(conn, actor, "lock_grid", plan_id=info.id, detail={"grid_code": code})
        return made


def unlock_grid(
    store: StoreBase, plan_id: str, grid_code: str, *, actor: str, force: bool = False
) -> None:
    """Unlock ``grid_code`` (nothing to do when it is not locked); ConflictError when another
    planner holds the lock and ``force`` (an admin) is not given."""
    check_actor(actor)
    with store._write() as conn:
        info = store._plan_info(conn, plan_id, lock=True)
        code = str(grid_code).strip()
        rows = store._rows(conn, _LOCK_OF, (store._key(info.id), code))
        if not rows:
            return
        held = _lock_of(store, rows[0])
        if held.locked_by != actor and not force:
            raise _held_by_other(held)
        store._rows(conn, _DELETE, (store._key(info.id), code))
        detail = {"grid_code": code, "locked_by": held.locked_by}
        store._audit(conn, actor, "unlock_grid", plan_id=info.id, detail=detail)


def grid_locks(store: StoreBase, plan_id: str) -> list[GridLock]:
    """The locks of a plan, by grid code."""
    with store._read() as conn:
        info = store._plan_info(conn, plan_id)
        return [_lock_of(store, r) for r in store._rows(conn, _LOCKS, (store._key(info.id),))]


def _check_grid(communities: tuple[str, ...], plan_id: str, status: str, grid_code: Any) -> str:
    code = str(grid_code).strip() if isinstance(grid_code, str) else ""
    if status != "draft":
        raise InputError(f"plan {plan_id} is {status}: only a draft's grids are locked")
    if not (code.isascii() and code.isdigit() and code[:12] in communities):
        raise InputError(
            f"grid_code: {grid_code!r} is not a grid of plan {plan_id} "
            f"(its communities are {', '.join(communities)})"
        )
    return code


def _lock_of(store: StoreBase, row: dict[str, Any]) -> GridLock:
    return GridLock(
        plan_id=str(row["plan_id"]),
        grid_code=str(row["grid_code"]),
        locked_by=str(row["locked_by"]),
        locked_at=store._time(row["locked_at"]),  # type: ignore[arg-type]
    )


def _held_by_other(held: GridLock) -> ConflictError:
    return ConflictError(
        f"网格 {held.grid_code} 已被 {held.locked_by} 锁定 (grid {held.grid_code} is locked by "
        f"{held.locked_by} since {held.locked_at.isoformat(timespec='seconds')})"
    )
