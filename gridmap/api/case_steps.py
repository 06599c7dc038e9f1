"""One step of a case's workflow over the API: who may take it, and what it changes.

The steps, their roles and the stages' limits are :mod:`gridmap.cases.workflow`'s (data files a
city may replace); this module checks a request against them and answers the incident's fields
to change. A user refused a step gets 403 naming the step and the role it needs; a step that
is not allowed from the case's status, or lacks what it needs (a department or a staff member
to dispatch to, hours of an extension, a satisfaction), is a 422 naming the field.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from fastapi import Request

from gridmap.api.errors import ApiError
from gridmap.api.incident_data import CaseRules
from gridmap.cases.workflow import Actor, case_deadline_at, refusal, unavailable
from gridmap.errors import InputError
from gridmap.settings import Settings
from gridmap.store.contract import Incident, Store, User

__all__ = ["MAX_EXTENSION_HOURS", "actor_of", "case_rules", "new_case_times", "step_changes"]

MAX_EXTENSION_HOURS = 400.0  # ten working weeks: more is a mistake
_NEEDS_NOTE = {"return": "退回", "request_extension": "延期申请", "reject": "核查未通过"}


def case_rules(request: Request) -> CaseRules:
    """The app's workflow and calendar (read once from the settings' files)."""
    rules: CaseRules | None = getattr(request.app.state, "case_rules", None)
    if rules is None:
        from gridmap.cases.workflow import load_workflow

        settings: Settings = request.app.state.settings
        flow = load_workflow(settings.case_workflow_csv, settings.case_stages_csv)
        rules = request.app.state.case_rules = CaseRules(flow=flow)
    return rules


def actor_of(user: User) -> Actor:
    """The workflow's view of a signed-in user."""
    return Actor(user.name, user.role == "admin", tuple(user.duties), user.department)


def new_case_times(
    rules: CaseRules, settings: Settings, category: str, at: dt.datetime
) -> dict[str, dt.datetime | None]:
    """The deadline of a case reported at ``at``, and of its first stage (受理)."""
    deadline = case_deadline_at(
        category, at, overrides=settings.incident_deadlines, calendar=rules.calendar
    )
    stage = rules.flow.stage_deadline("reported", at, deadline, rules.calendar)
    return {"deadline": deadline, "stage_deadline": stage}


def step_changes(
    rules: CaseRules,
    store: Store,
    current: Incident,
    user: User,
    body: Any,
    now: dt.datetime,
) -> dict[str, Any]:
    """The fields ``body.action`` changes on ``current`` (status included); 403 when ``user``
    may not take it, InputError when it is not allowed now or lacks a field."""
    fields = current.fields
    status = str(fields.get("status") or "reported")
    step = rules.flow.step(status, body.action)
    why = refusal(step, actor_of(user), fields)
    if why is not None:
        stage = rules.flow.stages.get(status)
        where = f"{stage.name} ({stage.name_en}) stage" if stage else f"{status} case"
        raise ApiError("forbidden", f"{why} [{where}]")
    why = unavailable(step, fields)
    if why is not None:
        raise InputError(f"{step.action}: {why}")
    if body.action in _NEEDS_NOTE and not (body.note or "").strip():
        raise InputError(f"note: {_NEEDS_NOTE[body.action]} ({body.action}) needs a reason")
    changes: dict[str, Any] = {"status": step.target}
    cal, due = rules.calendar, fields.get("deadline")
    if step.target != status or step.action == "redispatch":
        changes["stage_deadline"] = rules.flow.stage_deadline(step.target, now, due, cal)
    if step.action in ("dispatch", "redispatch"):
        changes |= _dispatch_target(store, body, fields)
    elif step.action == "return":
        changes |= {"department": None, "assignee": None, "extension_hours": None}
    elif step.action == "request_extension":
        if body.hours is None:
            raise InputError("hours: 延期申请 (request_extension) needs the working hours asked")
        changes["extension_hours"] = _hours(body.hours)
    elif step.action == "approve_extension":
        hours = _hours(body.hours if body.hours is not None else fields["extension_hours"])
        moved = cal.add_working_hours(fields.get("stage_deadline") or now, hours)
        changes |= {"stage_deadline": moved, "extension_hours": None}
        if due is None or moved > due:
            changes["deadline"] = moved
    elif step.action == "refuse_extension":
        changes["extension_hours"] = None
    elif step.action == "evaluate":
        if body.satisfaction is None:
            raise InputError("satisfaction: 评价 (evaluate) needs a satisfaction of 1 to 5")
        changes["satisfaction"] = body.satisfaction
    if step.target == "closed":
        changes["closed_at"] = now
    if step.action in ("redispatch", "reject", "return"):
        changes["extension_hours"] = None
    return changes


def _hours(value: Any) -> float:
    hours = float(value)
    if not 0 < hours <= MAX_EXTENSION_HOURS:
        raise InputError(
            f"hours={value!r}: give working hours above 0, at most {MAX_EXTENSION_HOURS:g}"
        )
    return hours


def _dispatch_target(store: Store, body: Any, fields: Any) -> dict[str, Any]:
    """A department (a code of the departments table) or a staff member (a staff id)."""
    if body.department and body.assignee:
        raise InputError("dispatch: name a department or an assignee (a staff id), not both")
    if body.department:
        codes = {d["code"] for d in store.departments()}
        if body.department not in codes:
            raise InputError(
                f"department={body.department!r}: no such department; see /api/departments"
            )
        return {"department": body.department, "assignee": None}
    assignee = body.assignee or fields.get("assignee")
    if not assignee:
        raise InputError(
            "dispatch: name the department or the assignee (a staff id) who will handle it"
        )
    if assignee not in set(store.read("staff")["id"]):
        raise InputError(f"assignee={assignee!r}: no staff member has that id")
    return {"department": None, "assignee": assignee}
