"""The digital city-management cycle (数字化城市管理) of an incident: steps, deadlines, overdue.

::

    reported ─register→ registered ─dispatch→ dispatched ─accept→ handling ─finish→ handled
       │                                                              ↑                │
       └─dismiss→ closed ←close─ verified ←──────────verify──────────┼────────────────┘
                                                                      └──── reject ────┘

Each step is an event (time, actor, from → to, note). ``dismiss`` closes a report that is not
a case (不予立案); ``reject`` sends handled work back when verification finds it unfinished.
Deadlines come from ``Settings.incident_deadlines`` (hours by category prefix).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass

from gridmap.errors import InputError

__all__ = [
    "ACTIONS",
    "OPEN_STATUSES",
    "STATUSES",
    "Step",
    "deadline_for",
    "is_overdue",
    "next_status",
]

STATUSES = (
    "reported",
    "registered",
    "dispatched",
    "handling",
    "handled",
    "verified",
    "closed",
)
OPEN_STATUSES = STATUSES[:-1]


@dataclass(frozen=True)
class Step:
    """One allowed move: ``action`` takes an incident from ``source`` to ``target``."""

    action: str
    source: str
    target: str
    label: str  # zh-CN, for the office's buttons


_STEPS = (
    Step("register", "reported", "registered", "立案"),
    Step("dismiss", "reported", "closed", "不予立案"),
    Step("dispatch", "registered", "dispatched", "派遣"),
    Step("accept", "dispatched", "handling", "处置中"),
    Step("finish", "handling", "handled", "处置完毕"),
    Step("verify", "handled", "verified", "核查通过"),
    Step("reject", "handled", "handling", "核查未通过"),
    Step("close", "verified", "closed", "结案"),
)
ACTIONS: dict[tuple[str, str], Step] = {(s.action, s.source): s for s in _STEPS}


def next_status(status: str, action: str) -> str:
    """The status ``action`` leads to from ``status``; InputError when it is not allowed.

    Examples
    --------
    >>> next_status("reported", "register")
    'registered'
    >>> next_status("reported", "close")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    gridmap.errors.InputError: action 'close' is not allowed on a reported incident; ...
    """
    step = ACTIONS.get((action, status))
    if step is None:
        allowed = [s.action for s in _STEPS if s.source == status]
        raise InputError(
            f"action {action!r} is not allowed on a {status} incident; "
            f"allowed: {', '.join(allowed) or 'none (closed)'}"
        )
    return step.target


def deadline_for(
    category: str, reported_at: dt.datetime, hours_by_category: Mapping[str, float]
) -> dt.datetime:
    """When an incident of ``category`` reported at ``reported_at`` must be closed.

    The longest key of ``hours_by_category`` that ``category`` starts with wins; "*" is the
    fallback (72 hours when absent).

    Examples
    --------
    >>> at = dt.datetime(2026, 3, 1, 8, tzinfo=dt.UTC)
    >>> deadline_for("市容环境/暴露垃圾", at, {"*": 72, "市容环境": 24}).isoformat()
    '2026-03-02T08:00:00+00:00'
    """
    matches = [key for key in hours_by_category if key != "*" and category.startswith(key)]
    key = max(matches, key=len) if matches else "*"
    hours = float(hours_by_category.get(key, 72.0))
    return reported_at + dt.timedelta(hours=hours)


def is_overdue(
    status: str, deadline: dt.datetime | None, updated_at: dt.datetime, now: dt.datetime
) -> bool:
    """Open past its deadline, or closed after it."""
    if deadline is None:
        return False
    if status == "closed":
        return updated_at > deadline
    return now > deadline
