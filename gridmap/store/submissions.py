"""Submissions for publication: a planner submits a draft, an admin publishes it or sends it back.

Functions over a :class:`~gridmap.store.base.StoreBase` (whose methods of the same names call
them). A plan has at most one submission (a row of ``plan_submissions``): the revision
submitted, who, when, the planner's note, and its state, ``submitted`` or ``refused`` (an
admin sent it back: who, when, why). Submitting again replaces it; withdrawing deletes it; the
audit log keeps every act. Edits after a submission do not withdraw it: the submission names
its revision, and a head beyond it says to the admin that the plan changed since (stale).
Publishing does not need a submission (an admin may publish any draft) and leaves it as the
record of what was asked.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from gridmap.errors import ConflictError, InputError
from gridmap.store.common import check_actor, now
from gridmap.store.contract import Submission

if TYPE_CHECKING:
    from gridmap.store.base import StoreBase

__all__ = [
    "MAX_NOTE",
    "refuse_submission",
    "submissions",
    "submit_plan",
    "withdraw_submission",
]

MAX_NOTE = 2000  # characters of a note or a reason

_ALL = "SELECT * FROM plan_submissions"
_OF = "SELECT * FROM plan_submissions WHERE plan_id = ?"
_DELETE = "DELETE FROM plan_submissions WHERE plan_id = ?"
_INSERT = (
    "INSERT INTO plan_submissions (plan_id, revision, state, submitted_by, submitted_at, note) "
    "VALUES (?, ?, 'submitted', ?, ?, ?)"
)
_REFUSE = (
    "UPDATE plan_submissions SET state = 'refused', refused_by = ?, refused_at = ?, reason = ? "
    "WHERE plan_id = ?"
)


def submit_plan(store: StoreBase, plan_id: str, note: str | None, *, actor: str) -> Submission:
    """Submit the head of draft ``plan_id`` for publication with ``note``, replacing an earlier
    submission (or refusal); InputError when the plan is not a draft or the note too long."""
    check_actor(actor)
    text = _text(note, "note")
    with store._write() as conn:
        info = store._plan_info(conn, plan_id, lock=True)
        if info.status != "draft":
            raise InputError(f"plan {info.id} is {info.status}: only a draft is submitted")
        key = store._key(info.id)
        made = Submission(info.id, info.head, "submitted", actor, now(), text)
        store._rows(conn, _DELETE, (key,))
        store._rows(conn, _INSERT, (key, info.head, actor, store._stamp(made.submitted_at), text))
        detail = {"note": text}
        store._audit(conn, actor, "submit_plan", plan_id=info.id, revision=info.head, detail=detail)
        return made


def withdraw_submission(store: StoreBase, plan_id: str, *, actor: str, force: bool = False) -> None:
    """Withdraw the submission of ``plan_id`` (nothing to do when there is none); ConflictError
    when another planner submitted it and ``force`` (an admin) is not given."""
    check_actor(actor)
    with store._write() as conn:
        info = store._plan_info(conn, plan_id, lock=True)
        rows = store._rows(conn, _OF, (store._key(info.id),))
        if not rows:
            return
        held = _submission_of(store, rows[0])
        if held.submitted_by != actor and not force:
            raise ConflictError(
                f"方案 {info.id} 由 {held.submitted_by} 提交 (plan {info.id} was submitted by "
                f"{held.submitted_by}; only they or an admin withdraw it)"
            )
        store._rows(conn, _DELETE, (store._key(info.id),))
        detail = {"submitted_by": held.submitted_by, "state": held.state}
        store._audit(
            conn,
            actor,
            "withdraw_submission",
            plan_id=info.id,
            revision=held.revision,
            detail=detail,
        )


def refuse_submission(store: StoreBase, plan_id: str, reason: str, *, actor: str) -> Submission:
    """Send the submitted draft ``plan_id`` back with ``reason`` (required); ConflictError when
    it is not submitted (never, withdrawn, refused already, or no longer a draft)."""
    check_actor(actor)
    text = _text(reason, "reason")
    if not text:
        raise InputError("reason: say why the plan is sent back (empty)")
    with store._write() as conn:
        info = store._plan_info(conn, plan_id, lock=True)
        rows = store._rows(conn, _OF, (store._key(info.id),))
        held = _submission_of(store, rows[0]) if rows else None
        if held is None or held.state != "submitted" or info.status != "draft":
            state = "not submitted" if held is None else held.state
            raise ConflictError(
                f"方案 {info.id} 未提交审核 (plan {info.id} is {info.status}, {state}: "
                "nothing to send back)"
            )
        at = now()
        store._rows(conn, _REFUSE, (actor, store._stamp(at), text, store._key(info.id)))
        detail = {"reason": text, "submitted_by": held.submitted_by}
        store._audit(
            conn,
            actor,
            "refuse_submission",
            plan_id=info.id,
            revision=held.revision,
            detail=detail,
        )
        return Submission(
            info.id,
            held.revision,
            "refused",
            held.submitted_by,
            held.submitted_at,
            held.note,
            actor,
            at,
            text,
        )


def submissions(store: StoreBase, plan_id: str | None = None) -> list[Submission]:
    """The submissions of ``plan_id`` (NotFoundError for an unknown plan) or of every plan."""
    with store._read() as conn:
        if plan_id is None:
            rows = store._rows(conn, _ALL)
        else:
            rows = store._rows(conn, _OF, (store._key(store._plan_info(conn, plan_id).id),))
        found = [_submission_of(store, r) for r in rows]
    return sorted(found, key=lambda s: s.submitted_at)


def _text(value: Any, what: str) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise InputError(f"{what}: expected text, got {type(value).__name__}")
    text = value.strip()
    if len(text) > MAX_NOTE:
        raise InputError(f"{what}: {len(text)} characters, at most {MAX_NOTE}")
    return text or None


def _submission_of(store: StoreBase, row: dict[str, Any]) -> Submission:
    return Submission(
        plan_id=str(row["plan_id"]),
        revision=int(row["revision"]),
        state=str(row["state"]),
        submitted_by=str(row["submitted_by"]),
        submitted_at=store._time(row["submitted_at"]),  # type: ignore[arg-type]
        note=row["note"],
        refused_by=row["refused_by"],
        refused_at=store._time(row["refused_at"]),
        reason=row["reason"],
    )
