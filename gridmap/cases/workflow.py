"""The case workflow of digital city management (数字城管, CJ/T 214 / GB/T 30428 practice):
stages, who may act in each, and each stage's time limit in working hours.

::

    reported ─register→ registered ─dispatch→ dispatched ─accept→ handling ─finish→ handled
      (受理)              (立案)                 (派遣)               (处置)            (反馈)
    handled ─verify→ verified ─close→ closed ─evaluate→ evaluated
                      (核查)           (结案)               (评价)

    dismiss:  reported → closed (不予立案)        return:     dispatched | handling → registered
    reject:   handled → handling (核查未通过)     redispatch: dispatched | handling → dispatched
    request_extension, approve_extension, refuse_extension: handling → handling (延期)

Who may take each step is data: ``gridmap/cases/data/workflow.csv`` (action, from, to, the
workflow role, zh-CN and English labels), the stages' limits ``stages.csv`` (status, names,
``limit_hours`` and ``remind_hours`` in working hours). A city replaces either file
(``GRIDMAP_CASE_WORKFLOW_CSV``, ``GRIDMAP_CASE_STAGES_CSV``); :func:`load_workflow` checks it
and names the line at fault. The workflow roles are 受理员 ``acceptor``, 派遣员 ``dispatcher``,
处置单位 ``handler`` (a user of a department, or of the grid staff) and 监督员 ``supervisor``; an
admin may take every step.

A case's deadline (``deadline``) is its category's limit in working hours on the working-day
calendar (:func:`gridmap.cases.case_deadline`); a stage's (``stage_deadline``) is the stage's
limit from when it began, never past the case's deadline (the evaluation after closure excepted).
An approved extension (延期) moves the stage deadline by the hours approved, and the case's
deadline with it when the stage would end after it.
"""

from __future__ import annotations

import csv
import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from gridmap.cases.calendar import WorkingCalendar
from gridmap.cases.categories import Category, case_deadline
from gridmap.errors import InputError

__all__ = [
    "DEFAULT_CASE_HOURS",
    "DONE_STATUSES",
    "OPEN_STATUSES",
    "RETURN_ACTIONS",
    "STAGES_CSV",
    "STATUSES",
    "WORKFLOW_CSV",
    "WORKFLOW_ROLES",
    "Actor",
    "Stage",
    "Step",
    "Workflow",
    "allowed_steps",
    "case_deadline_at",
    "deadline_for",
    "duties_of",
    "is_overdue",
    "load_workflow",
    "next_status",
    "refusal",
    "timing",
    "unavailable",
]

WORKFLOW_CSV = Path(__file__).with_name("data") / "workflow.csv"
STAGES_CSV = Path(__file__).with_name("data") / "stages.csv"

STATUSES = (
    "reported",  # 受理 / 信息收集
    "registered",  # 立案
    "dispatched",  # 派遣
    "handling",  # 处置
    "handled",  # 反馈
    "verified",  # 核查
    "closed",  # 结案
    "evaluated",  # 评价
)
OPEN_STATUSES = STATUSES[: STATUSES.index("closed")]
DONE_STATUSES = STATUSES[STATUSES.index("closed") :]
# Steps that send a case back: assessment counts a case with one of these as reopened.
RETURN_ACTIONS = frozenset({"return", "reject", "redispatch"})
WORKFLOW_ROLES: dict[str, str] = {
    "acceptor": "受理员",
    "dispatcher": "派遣员",
    "handler": "处置单位",
    "supervisor": "监督员",
}
# The steps the code knows how to take (a city's file may relabel them or give them to
# another role, not invent new ones).
_KNOWN = frozenset(
    {
        "register",
        "dismiss",
        "dispatch",
        "redispatch",
        "accept",
        "return",
        "request_extension",
        "approve_extension",
        "refuse_extension",
        "finish",
        "verify",
        "reject",
        "close",
        "evaluate",
    }
)
# A case whose category is in no table and no override: a working week.
DEFAULT_CASE_HOURS = 40.0
_COUNTED = dt.timedelta(days=62)


@dataclass(frozen=True)
class Step:
    """One allowed move: ``action`` takes a case from ``source`` to ``target``; ``role`` may."""

    action: str
    source: str
    target: str
    role: str
    label: str  # zh-CN, for the office's buttons
    label_en: str = ""


@dataclass(frozen=True)
class Stage:
    """A status's stage: its name and time limit, and when to remind before it ends."""

    status: str
    name: str
    name_en: str
    limit_hours: float
    remind_hours: float


@dataclass(frozen=True)
class Actor:
    """Who asks to take a step: an admin, or a user with workflow roles (and a department)."""

    name: str
    admin: bool = False
    duties: tuple[str, ...] = ()
    department: str | None = None


@dataclass(frozen=True)
class Workflow:
    """The steps and stages of a city's case workflow."""

    steps: tuple[Step, ...]
    stages: Mapping[str, Stage]

    def step(self, status: str, action: str) -> Step:
        """The step ``action`` from ``status``; InputError naming the allowed ones otherwise.

        Examples
        --------
        >>> load_workflow().step("reported", "register").target
        'registered'
        >>> load_workflow().step("closed", "register")  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        gridmap.errors.InputError: action 'register' is not allowed on a closed case; allowed: ...
        """
        for found in self.steps:
            if found.action == action and found.source == status:
                return found
        allowed = sorted({s.action for s in self.steps if s.source == status})
        raise InputError(
            f"action {action!r} is not allowed on a {status} case; "
            f"allowed: {', '.join(allowed) or 'none'}"
        )

    def steps_from(self, status: str) -> list[Step]:
        """The steps out of ``status``, in file order."""
        return [s for s in self.steps if s.source == status]

    def stage_deadline(
        self,
        status: str,
        start: dt.datetime,
        case_due: dt.datetime | None,
        calendar: WorkingCalendar,
    ) -> dt.datetime | None:
        """When the stage ``status`` begun at ``start`` must end: its limit in working hours,
        never after ``case_due`` (but the evaluation after closure); None for a status without
        a stage (``evaluated``)."""
        stage = self.stages.get(status)
        if stage is None:
            return None
        due = calendar.add_working_hours(start, stage.limit_hours)
        if case_due is not None and status in OPEN_STATUSES:
            due = min(due, case_due)
        return due


def load_workflow(steps: Path | None = None, stages: Path | None = None) -> Workflow:
    """The workflow of two CSV files (default: the shipped ones), checked.

    Examples
    --------
    >>> flow = load_workflow()
    >>> [s.action for s in flow.steps_from("handled")]
    ['verify', 'reject']
    >>> flow.stages["handling"].name
    '处置'
    """
    if steps is None and stages is None:
        return _shipped()
    return _read(Path(steps or WORKFLOW_CSV), Path(stages or STAGES_CSV))


@cache
def _shipped() -> Workflow:
    return _read(WORKFLOW_CSV, STAGES_CSV)


def _rows(path: Path, columns: tuple[str, ...]) -> list[dict[str, str]]:
    try:
        with path.open(encoding="utf-8-sig", newline="") as handle:
            rows = list(csv.DictReader(handle))
    except OSError as exc:
        raise InputError(f"workflow {path}: cannot read it ({exc.strerror})") from exc
    missing = [c for c in columns if not rows or c not in rows[0]]
    if missing:
        raise InputError(
            f"workflow {path}: needs the columns {', '.join(columns)}; missing "
            f"{', '.join(missing)} (or the file has no rows)"
        )
    return [{k: (v or "").strip() for k, v in row.items() if k} for row in rows]


def _hours(where: str, name: str, text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not value >= 0:
        raise InputError(f"{where}: {name} {text!r} is not a number of hours ≥ 0")
    return value


def _read(steps_path: Path, stages_path: Path) -> Workflow:
    steps = []
    columns = ("action", "from_status", "to_status", "role", "label_zh", "label_en")
    for line, row in enumerate(_rows(steps_path, columns), start=2):
        where = f"workflow {steps_path}, line {line}"
        if row["action"] not in _KNOWN:
            raise InputError(f"{where}: action {row['action']!r} is not one of {sorted(_KNOWN)}")
        for key in ("from_status", "to_status"):
            if row[key] not in STATUSES:
                raise InputError(f"{where}: {key} {row[key]!r} is not one of {STATUSES}")
        if row["role"] not in WORKFLOW_ROLES:
            raise InputError(f"{where}: role {row['role']!r} is not one of {list(WORKFLOW_ROLES)}")
        steps.append(
            Step(
                row["action"],
                row["from_status"],
                row["to_status"],
                row["role"],
                row["label_zh"] or row["action"],
                row["label_en"] or row["action"],
            )
        )
    stages: dict[str, Stage] = {}
    stage_columns = ("status", "stage_zh", "stage_en", "limit_hours", "remind_hours")
    for line, row in enumerate(_rows(stages_path, stage_columns), start=2):
        where = f"stages {stages_path}, line {line}"
        if row["status"] not in STATUSES or row["status"] in stages:
            raise InputError(f"{where}: status {row['status']!r} unknown or repeated")
        stages[row["status"]] = Stage(
            row["status"],
            row["stage_zh"],
            row["stage_en"],
            _hours(where, "limit_hours", row["limit_hours"]),
            _hours(where, "remind_hours", row["remind_hours"]),
        )
    return Workflow(tuple(steps), stages)


def next_status(status: str, action: str) -> str:
    """The status ``action`` leads to from ``status`` in the shipped workflow.

    Examples
    --------
    >>> next_status("reported", "register")
    'registered'
    """
    return _shipped().step(status, action).target


def refusal(step: Step, actor: Actor, fields: Mapping[str, Any]) -> str | None:
    """Why ``actor`` may not take ``step`` on a case of ``fields`` (zh-CN and English); None
    when they may.

    A handler acts on the cases dispatched to their department, or, without a department, on
    cases dispatched to grid staff.

    Examples
    --------
    >>> flow = load_workflow()
    >>> clerk = Actor("amy", duties=("acceptor",))
    >>> refusal(flow.step("reported", "register"), clerk, {}) is None
    True
    >>> print(refusal(flow.step("handled", "verify"), clerk, {}))
    权限不足: 核查通过 (verify) 由监督员 (supervisor) 办理; amy 是 受理员 (acceptor)
    """
    if actor.admin:
        return None
    if step.role not in actor.duties:
        held = ", ".join(f"{WORKFLOW_ROLES.get(d, d)} ({d})" for d in actor.duties) or "无 (none)"
        return (
            f"权限不足: {step.label} ({step.action}) 由{WORKFLOW_ROLES[step.role]} ({step.role}) "
            f"办理; {actor.name} 是 {held}"
        )
    if step.role == "handler" and (fields.get("department") or None) != actor.department:
        dept = fields.get("department") or "网格人员 (grid staff)"
        return (
            f"权限不足: 此案件派遣给 {dept}, 不是 {actor.department or '网格人员'} "
            f"(dispatched to {dept}, not to {actor.name}'s)"
        )
    return None


def unavailable(step: Step, fields: Mapping[str, Any]) -> str | None:
    """Why ``step`` cannot be taken on a case of ``fields`` now, whoever asks; None when it can:
    an extension is approved only while one is asked for, and asked for only while none is.

    Examples
    --------
    >>> print(unavailable(load_workflow().step("handling", "approve_extension"), {}))
    没有待批的延期申请 (no extension request is pending)
    """
    pending = fields.get("extension_hours") is not None
    if step.action == "request_extension" and pending:
        return "已有延期申请待批 (an extension request is already pending)"
    if step.action in ("approve_extension", "refuse_extension") and not pending:
        return "没有待批的延期申请 (no extension request is pending)"
    return None


def allowed_steps(
    flow: Workflow, status: str, actor: Actor, fields: Mapping[str, Any]
) -> list[Step]:
    """The steps ``actor`` may take now, one per action, in file order."""
    out: dict[str, Step] = {}
    for found in flow.steps_from(status):
        if found.action in out or unavailable(found, fields) is not None:
            continue
        if refusal(found, actor, fields) is None:
            out[found.action] = found
    return list(out.values())


def deadline_for(
    category: str, reported_at: dt.datetime, hours_by_category: Mapping[str, float]
) -> dt.datetime | None:
    """The override of ``Settings.incident_deadlines``: ``reported_at`` plus the clock hours of
    the longest key ``category`` starts with ("*": any category); None when no key matches.

    Examples
    --------
    >>> at = dt.datetime(2026, 3, 1, 8, tzinfo=dt.UTC)
    >>> deadline_for("市容环境/暴露垃圾", at, {"市容环境": 24}).isoformat()
    '2026-03-02T08:00:00+00:00'
    >>> deadline_for("街面秩序/无照游商", at, {"市容环境": 24}) is None
    True
    """
    matches = [key for key in hours_by_category if key != "*" and category.startswith(key)]
    key = max(matches, key=len) if matches else "*"
    if key not in hours_by_category:
        return None
    return reported_at + dt.timedelta(hours=float(hours_by_category[key]))


def case_deadline_at(
    category: str,
    reported_at: dt.datetime,
    *,
    overrides: Mapping[str, float],
    calendar: WorkingCalendar,
    table: tuple[Category, ...] | None = None,
) -> dt.datetime:
    """When a case of ``category`` reported at ``reported_at`` is due: an override in clock
    hours (``Settings.incident_deadlines``) when one matches, else the category's limit in
    working hours, else :data:`DEFAULT_CASE_HOURS` working hours."""
    due = deadline_for(category, reported_at, overrides)
    if due is None:
        due = case_deadline(category, reported_at, table=table, calendar=calendar)
    if due is None:
        due = calendar.add_working_hours(reported_at, DEFAULT_CASE_HOURS)
    return due


def is_overdue(
    status: str, deadline: dt.datetime | None, done_at: dt.datetime | None, now: dt.datetime
) -> bool:
    """Open past its deadline, or closed after it (``done_at``: when it was closed)."""
    if deadline is None:
        return False
    if status in DONE_STATUSES:
        return done_at is not None and done_at > deadline
    return now > deadline


def timing(
    flow: Workflow,
    status: str,
    stage_due: dt.datetime | None,
    now: dt.datetime,
    calendar: WorkingCalendar,
) -> dict[str, Any]:
    """The stage's flags: ``stage_overdue`` (past its limit), ``due_soon`` (within the stage's
    ``remind_hours`` working hours of it) and ``stage_hours_left`` (working hours, negative
    when overdue; None more than two months away from the limit).

    Examples
    --------
    >>> from gridmap.cases.calendar import CHINA_TZ
    >>> due = dt.datetime(2026, 9, 30, 17, 0, tzinfo=CHINA_TZ)
    >>> now = dt.datetime(2026, 9, 30, 14, 0, tzinfo=CHINA_TZ)
    >>> timing(load_workflow(), "handling", due, now, WorkingCalendar())
    {'stage_overdue': False, 'due_soon': True, 'stage_hours_left': 3.0}
    """
    stage = flow.stages.get(status)
    if stage is None or stage_due is None or status == "evaluated":
        return {"stage_overdue": False, "due_soon": False, "stage_hours_left": None}
    overdue = now > stage_due
    left: float | None = None
    if abs(stage_due - now) <= _COUNTED:  # hours left are counted near the limit only
        try:
            left = round(calendar.working_hours_between(now, stage_due), 2)
        except InputError:  # a year the holiday calendar does not know
            left = None
    return {
        "stage_overdue": overdue,
        "due_soon": not overdue and left is not None and left <= stage.remind_hours,
        "stage_hours_left": left,
    }


def duties_of(values: Iterable[str]) -> list[str]:
    """Workflow roles checked and sorted; InputError naming an unknown one.

    >>> duties_of(["supervisor", "acceptor"])
    ['acceptor', 'supervisor']
    """
    if isinstance(values, str):
        raise InputError(f"duties: expected a list of workflow roles, got the text {values!r}")
    out = sorted({str(v).strip() for v in values})
    bad = [v for v in out if v not in WORKFLOW_ROLES]
    if bad:
        raise InputError(
            f"duties: {', '.join(map(repr, bad))} is not a workflow role; choose from "
            + ", ".join(f"{k} ({v})" for k, v in WORKFLOW_ROLES.items())
        )
    return out
