"""Stage limits of the case workflow on the working-day calendar (fixed dates): over a weekend,
over 中秋 and 国庆 2026 (25-27 September and 1-7 October off, Sunday 20 September and Saturday
10 October make-up working days), capped by the case's deadline; the reminder before and the
flag after; who may take each step; the workflow's data files checked."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from gridmap.cases import CHINA_TZ, WorkingCalendar
from gridmap.cases.workflow import (
    RETURN_ACTIONS,
    STATUSES,
    Actor,
    allowed_steps,
    case_deadline_at,
    load_workflow,
    refusal,
    timing,
)
from gridmap.errors import InputError

CAL = WorkingCalendar()
FLOW = load_workflow()


def beijing(*args: int) -> dt.datetime:
    return dt.datetime(*args, tzinfo=CHINA_TZ)


@pytest.mark.parametrize(
    ("status", "start", "due"),
    [
        # 处置, 16 working hours from Friday 11 Sep 16:00: 2 h Friday, the weekend off,
        # 8 h Monday, 6 h Tuesday
        ("handling", beijing(2026, 9, 11, 16, 0), beijing(2026, 9, 15, 16, 0)),
        # from Thursday 24 Sep 16:00: 2 h, then 中秋 (Friday 25 to Sunday 27) off
        ("handling", beijing(2026, 9, 24, 16, 0), beijing(2026, 9, 29, 16, 0)),
        # 派遣, 1 working hour from Friday 18 Sep 17:30: Sunday 20 Sep is a make-up working day
        ("registered", beijing(2026, 9, 18, 17, 30), beijing(2026, 9, 20, 9, 30)),
        # 处置 from Wednesday 30 Sep 14:00, the eve of 国庆: 4 h, 1-7 October off, 8 h on
        # Thursday 8 October, 4 h on Friday 9 October
        ("handling", beijing(2026, 9, 30, 14, 0), beijing(2026, 10, 9, 14, 0)),
        # 受理, 1 working hour from 17:30 on the eve of 国庆: 30 min, then 30 min on 8 October
        ("reported", beijing(2026, 9, 30, 17, 30), beijing(2026, 10, 8, 9, 30)),
        # 评价, 40 working hours from 30 Sep 9:00: 8 h, then 8 + 8 on 8-9 October, 8 on the
        # make-up Saturday 10 October, 8 on Monday 12 October
        ("closed", beijing(2026, 9, 30, 9, 0), beijing(2026, 10, 12, 18, 0)),
    ],
)
def test_a_stage_limit_runs_on_working_hours(
    status: str, start: dt.datetime, due: dt.datetime
) -> None:
    assert FLOW.stage_deadline(status, start, None, CAL) == due
    limit = FLOW.stages[status].limit_hours
    assert CAL.working_hours_between(start, due) == pytest.approx(limit)


def test_a_stage_never_ends_after_the_case() -> None:
    start = beijing(2026, 9, 30, 14, 0)
    case_due = beijing(2026, 10, 8, 10, 0)
    assert FLOW.stage_deadline("handling", start, case_due, CAL) == case_due
    # the evaluation after closure is not capped
    assert FLOW.stage_deadline("closed", start, case_due, CAL) > case_due
    assert FLOW.stage_deadline("evaluated", start, case_due, CAL) is None


def test_the_case_deadline_is_the_categorys_working_hours_or_an_override() -> None:
    eve = beijing(2026, 9, 30, 17, 0)
    # 安全隐患/消防通道堵塞: 4 working hours: 1 h on 30 September, 3 h on 8 October
    assert case_deadline_at("安全隐患/消防通道堵塞", eve, overrides={}, calendar=CAL) == beijing(
        2026, 10, 8, 12, 0
    )
    # an override counts clock hours
    clock = case_deadline_at("安全隐患/消防通道堵塞", eve, overrides={"安全隐患": 2}, calendar=CAL)
    assert clock == eve + dt.timedelta(hours=2)
    # a category in no table: a working week
    assert CAL.working_hours_between(
        eve, case_deadline_at("别的/类别", eve, overrides={}, calendar=CAL)
    ) == pytest.approx(40)


def test_reminder_before_and_flag_after_the_stage_limit() -> None:
    due = beijing(2026, 9, 30, 16, 0)
    early = timing(FLOW, "handling", due, beijing(2026, 9, 29, 9, 0), CAL)
    assert early == {"stage_overdue": False, "due_soon": False, "stage_hours_left": 14.0}
    # 处置 reminds 4 working hours ahead: on the eve of 国庆 at 13:00, 3 h are left
    soon = timing(FLOW, "handling", due, beijing(2026, 9, 30, 13, 0), CAL)
    assert soon == {"stage_overdue": False, "due_soon": True, "stage_hours_left": 3.0}
    # overdue across the holiday: from 16:00 on 30 September to 10:00 on 8 October, 3 h
    late = timing(FLOW, "handling", due, beijing(2026, 10, 8, 10, 0), CAL)
    assert late == {"stage_overdue": True, "due_soon": False, "stage_hours_left": -3.0}


def test_who_may_take_each_step() -> None:
    assert STATUSES.index("closed") < STATUSES.index("evaluated")
    assert {"return", "reject", "redispatch"} <= RETURN_ACTIONS
    acceptor, dispatcher = Actor("a", duties=("acceptor",)), Actor("d", duties=("dispatcher",))
    handler = Actor("h", duties=("handler",), department="chengguan")
    supervisor, admin = Actor("s", duties=("supervisor",)), Actor("root", admin=True)
    case = {"department": "chengguan"}
    steps = {s.action: s for s in FLOW.steps}
    for actor, mine in [
        (acceptor, {"register", "dismiss"}),
        (dispatcher, {"dispatch", "redispatch", "approve_extension", "refuse_extension"}),
        (handler, {"accept", "return", "request_extension", "finish"}),
        (supervisor, {"verify", "reject", "close", "evaluate"}),
    ]:
        allowed = {a for a, s in steps.items() if refusal(s, actor, case) is None}
        assert allowed == mine, actor
        assert all(refusal(s, admin, case) is None for s in FLOW.steps)
    # a handler of another department, or of none, is refused the case
    assert refusal(steps["accept"], Actor("w", duties=("handler",), department="wuye"), case)
    assert refusal(steps["accept"], Actor("g", duties=("handler",)), case)
    assert refusal(steps["accept"], Actor("g", duties=("handler",)), {"department": None}) is None
    pending = {"department": "chengguan", "extension_hours": 8.0}
    assert [s.action for s in allowed_steps(FLOW, "handling", handler, pending)] == [
        "return",
        "finish",
    ]
    assert [s.action for s in allowed_steps(FLOW, "handling", dispatcher, pending)] == [
        "redispatch",
        "approve_extension",
        "refuse_extension",
    ]


@pytest.mark.parametrize(
    ("row", "message"),
    [
        ("register,reported,registered,boss,立案,Register", "role 'boss'"),
        ("launch,reported,registered,acceptor,发射,Launch", "action 'launch'"),
        ("register,reported,nowhere,acceptor,立案,Register", "to_status 'nowhere'"),
    ],
)
def test_a_bad_workflow_file_names_the_line(tmp_path: Path, row: str, message: str) -> None:
    path = tmp_path / "workflow.csv"
    path.write_text(
        "action,from_status,to_status,role,label_zh,label_en\n"
        "dismiss,reported,closed,acceptor,不予立案,Dismiss\n" + row + "\n",
        encoding="utf-8",
    )
    with pytest.raises(InputError, match=rf"line 3: .*{message}"):
        load_workflow(path)
    # a city may give a step to another role
    path.write_text(
        "action,from_status,to_status,role,label_zh,label_en\n"
        "register,reported,registered,dispatcher,立案,Register\n",
        encoding="utf-8",
    )
    assert load_workflow(path).step("reported", "register").role == "dispatcher"
