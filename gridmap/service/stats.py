"""Assessment (考核) of incident handling: figures per grid, worker, community, street, month
or category, and grid workers' monthly subsidies computed from them.

Every figure is counted over the cases *created* in the period asked for (Beijing time), as
they stand at ``now``:

- ``total``: cases; ``by_stage``: how many stand at each status of the workflow;
- ``dismissed``: reports closed without becoming a case (不予立案, the action ``dismiss``);
- ``closed``: cases closed (any status after the open ones), the dismissed left out;
- ``on_time``: closed by the deadline (a case without a deadline is on time once closed);
- ``overdue``: still open past the deadline, or closed after it;
- ``on_time_share``: on_time / (on_time + overdue), the cases whose outcome is known;
- ``reopened``: cases sent back at least once (an event whose action is a return action);
- ``mean_hours`` / ``mean_working_hours``: from creation to closure, over the closed cases,
  in clock hours and in working hours on the holiday calendar (:mod:`gridmap.cases.calendar`);
- ``mean_satisfaction`` / ``rated``: the residents' evaluation (1-5) where one was given.

A case's **worker** is the staff id it is assigned to (``assignee``); while unassigned, the
grid's head (网格长) when the grid has one, else the first person given a role in the grid.

The workflow's statuses and return actions are parameters (the API passes those of
:mod:`gridmap.cases.workflow`), so a city's own workflow counts by its own statuses.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from gridmap.cases.calendar import CHINA_TZ, WorkingCalendar
from gridmap.codes import in_scope
from gridmap.errors import InputError
from gridmap.store.contract import SUBSIDY_RULE_FIELDS, Incident, Store

__all__ = [
    "DEFAULT_SUBSIDY_RULES",
    "GROUPINGS",
    "YEARS",
    "Workflow",
    "assess",
    "case_table",
    "month_range",
    "subsidy",
    "subsidy_sheet",
]

GROUPINGS = ("grid", "staff", "community", "street", "month", "category")
YEARS = (1970, 2999)  # the periods a question about cases may name
# Until an admin sets rules: 100 yuan base, 100 assessed, in full at 90% on time (pro rata
# below), 20 yuan less per reopened case.
DEFAULT_SUBSIDY_RULES: dict[str, Any] = {
    "base_yuan": 100.0,
    "assessed_yuan": 100.0,
    "full_share": 0.9,
    "pro_rata": True,
    "reopened_deduction_yuan": 20.0,
}
_KEY_COLUMN = {
    "grid": "grid_code",
    "staff": "worker",
    "community": "community_code",
    "street": "street_code",
    "month": "month",
    "category": "category_group",
}


@dataclass(frozen=True)
class Workflow:
    """What the assessment needs of the case workflow: its statuses in order, the open ones,
    and the actions that send a case back (a case with one of them was reopened)."""

    statuses: Sequence[str]
    open_statuses: Collection[str]
    return_actions: Collection[str] = frozenset({"reject"})
    dismiss_action: str = "dismiss"

    @property
    def closed_statuses(self) -> list[str]:
        return [s for s in self.statuses if s not in self.open_statuses]


def month_range(month: str) -> tuple[dt.datetime, dt.datetime]:
    """[start, end) of ``month`` ("2026-11") in Beijing time.

    >>> [t.isoformat() for t in month_range("2026-12")]
    ['2026-12-01T00:00:00+08:00', '2027-01-01T00:00:00+08:00']
    """
    try:
        start = dt.datetime.strptime(month, "%Y-%m").replace(tzinfo=CHINA_TZ)
    except (TypeError, ValueError):
        raise InputError(f"month={month!r}: give a month as YYYY-MM, e.g. 2026-11") from None
    if not YEARS[0] <= start.year <= YEARS[1]:
        raise InputError(f"month={month!r}: give a year from {YEARS[0]} to {YEARS[1]}")
    end = start.replace(year=start.year + start.month // 12, month=start.month % 12 + 1)
    return start, end


def case_table(
    store: Store,
    workflow: Workflow,
    *,
    since: dt.datetime | None = None,
    until: dt.datetime | None = None,
    scope: Sequence[str] = (),
    now: dt.datetime | None = None,
    calendar: WorkingCalendar | None = None,
) -> pd.DataFrame:
    """One row per case created in [since, until) inside ``scope``, with what the assessment
    counts: worker, month, closed_at, dismissed, closed, on_time, overdue, reopened, hours,
    working_hours, satisfaction (the columns of :func:`assess`'s input)."""
    now = now or dt.datetime.now(dt.UTC)
    found = [
        i
        for i in store.incidents(since=since, until=until)
        if in_scope(scope, i.fields.get("community_code"))
    ]
    cases = pd.DataFrame([_row(i) for i in found], columns=_ROW_COLUMNS)
    for column in ("created_at", "updated_at", "deadline"):
        cases[column] = pd.to_datetime(cases[column], utc=True)
    cases["worker"] = _workers(store, cases)
    events = pd.DataFrame(
        [
            (e.incident_id, e.at, e.action, e.to_status)
            for e in store.events_of_incidents(since=since, until=until)
        ],
        columns=["id", "at", "action", "to_status"],
    )
    events["at"] = pd.to_datetime(events["at"], utc=True)
    closing = events[events["to_status"].isin(workflow.closed_statuses)]
    closed_at = closing.groupby("id")["at"].min()
    cases["closed_at"] = pd.to_datetime(cases["id"].map(closed_at.to_dict()), utc=True)
    is_closed = ~cases["status"].isin(list(workflow.open_statuses))
    # A case closed without a closing event (written straight into the store): its last change.
    cases.loc[is_closed & cases["closed_at"].isna(), "closed_at"] = cases["updated_at"]
    cases.loc[~is_closed, "closed_at"] = pd.NaT
    dismissed_ids = set(events.loc[events["action"] == workflow.dismiss_action, "id"])
    cases["dismissed"] = is_closed & cases["id"].isin(dismissed_ids)
    cases["closed"] = is_closed & ~cases["dismissed"]
    has_deadline = cases["deadline"].notna()
    late_close = cases["closed"] & has_deadline & (cases["closed_at"] > cases["deadline"])
    late_open = ~is_closed & has_deadline & (cases["deadline"] < pd.Timestamp(now))
    cases["on_time"] = cases["closed"] & ~late_close
    cases["overdue"] = late_close | late_open
    reopened_ids = set(events.loc[events["action"].isin(list(workflow.return_actions)), "id"])
    cases["reopened"] = cases["id"].isin(reopened_ids) & ~cases["dismissed"]
    taken = (cases["closed_at"] - cases["created_at"]).dt.total_seconds() / 3600
    cases["hours"] = taken.where(cases["closed"])
    cases["working_hours"] = _working_hours(cases, calendar or WorkingCalendar())
    cases["month"] = cases["created_at"].dt.tz_convert(CHINA_TZ).dt.strftime("%Y-%m")
    cases["category_group"] = cases["category"].fillna("").str.split("/").str[0]
    return cases


_ROW_COLUMNS = [
    "id",
    "created_at",
    "updated_at",
    "status",
    "category",
    "grid_code",
    "community_code",
    "street_code",
    "assignee",
    "deadline",
    "satisfaction",
]


def _row(incident: Incident) -> tuple[Any, ...]:
    f = incident.fields
    return (
        incident.id,
        incident.created_at,
        incident.updated_at,
        f.get("status"),
        f.get("category"),
        f.get("grid_code"),
        f.get("community_code"),
        f.get("street_code"),
        f.get("assignee"),
        f.get("deadline"),
        f.get("satisfaction"),  # 1-5, set by the ``evaluate`` step (评价); None: not rated
    )


def _workers(store: Store, cases: pd.DataFrame) -> pd.Series:
    """The assignee, else the grid's head, else the first person with a role in the grid."""
    heads: dict[str, str] = {}
    anyone: dict[str, str] = {}
    for a in store.staff_assignments():  # in the order the roles were given
        anyone.setdefault(a.grid_code, a.staff_id)
        if a.role == "grid_head":
            heads.setdefault(a.grid_code, a.staff_id)
    fallback = cases["grid_code"].map(anyone | heads)
    return cases["assignee"].where(cases["assignee"].notna(), fallback).astype(object)


def _working_hours(cases: pd.DataFrame, calendar: WorkingCalendar) -> pd.Series:
    """Working hours to closure; NaN where the holiday calendar has no data for the year."""
    out = pd.Series(np.nan, index=cases.index, dtype=float)
    for k in cases.index[cases["closed"]]:
        try:
            out[k] = calendar.working_hours_between(
                cases.at[k, "created_at"].to_pydatetime(), cases.at[k, "closed_at"].to_pydatetime()
            )
        except InputError:
            continue
    return out


def assess(
    cases: pd.DataFrame,
    workflow: Workflow,
    *,
    group_by: str | None = None,
    grid: str | None = None,
    community: str | None = None,
    street: str | None = None,
    staff: str | None = None,
    category: str | None = None,
) -> list[dict[str, Any]]:
    """The figures of :func:`case_table`'s ``cases`` matching the filters, one dict per group
    of ``group_by`` (one of :data:`GROUPINGS`; None: one row for all), by key.

    ``category`` matches a whole category or its 大类 ("市容环境" matches "市容环境/暴露垃圾").
    """
    if group_by is not None and group_by not in GROUPINGS:
        raise InputError(f"group_by={group_by!r}: give one of {', '.join(GROUPINGS)}")
    chosen = cases
    for column, value in (
        ("grid_code", grid),
        ("community_code", community),
        ("street_code", street),
        ("worker", staff),
    ):
        if value is not None:
            chosen = chosen[chosen[column] == value]
    if category is not None:
        text = chosen["category"].fillna("")
        chosen = chosen[(text == category) | text.str.startswith(category + "/")]
    if group_by is None:
        return [_figures(None, chosen, workflow)]
    keys = chosen[_KEY_COLUMN[group_by]].astype(object).where(lambda s: s.notna(), None)
    groups = chosen.groupby(keys.fillna("—"), sort=True, dropna=False)
    return [_figures(None if key == "—" else key, part, workflow) for key, part in groups]


def _figures(key: Any, part: pd.DataFrame, workflow: Workflow) -> dict[str, Any]:
    counts = part["status"].value_counts()
    on_time, overdue = int(part["on_time"].sum()), int(part["overdue"].sum())
    rated = pd.to_numeric(part["satisfaction"], errors="coerce").dropna()
    return {
        "key": key,
        "total": len(part),
        "by_stage": {s: int(counts.get(s, 0)) for s in workflow.statuses},
        "dismissed": int(part["dismissed"].sum()),
        "closed": int(part["closed"].sum()),
        "on_time": on_time,
        "overdue": overdue,
        "on_time_share": _ratio(on_time, on_time + overdue),
        "reopened": int(part["reopened"].sum()),
        "mean_hours": _mean(part["hours"]),
        "mean_working_hours": _mean(part["working_hours"]),
        "mean_satisfaction": _mean(rated),
        "rated": len(rated),
    }


def _ratio(a: int, b: int) -> float | None:
    return None if b == 0 else round(a / b, 4)


def _mean(values: pd.Series) -> float | None:
    values = pd.to_numeric(values, errors="coerce").dropna()
    return None if values.empty else round(float(values.mean()), 2)


def subsidy(rules: Mapping[str, Any], on_time: int, overdue: int, reopened: int) -> float:
    """The assessed part of a worker's month, in yuan (to the fen).

    Released in full at an on-time share of ``full_share`` or more; below it, in proportion
    (share / full_share) when ``pro_rata``, else nothing; then ``reopened_deduction_yuan``
    less per reopened case, never below 0. A worker with no case whose outcome is known (none
    closed, none overdue) had nothing late: the part is released in full.

    Examples
    --------
    >>> rules = {"assessed_yuan": 100, "full_share": 0.9, "pro_rata": True,
    ...          "reopened_deduction_yuan": 20}
    >>> subsidy(rules, 9, 1, 0), subsidy(rules, 9, 1, 1), subsidy(rules, 9, 9, 0)
    (100.0, 80.0, 55.56)
    >>> subsidy(rules | {"pro_rata": False}, 1, 1, 0), subsidy(rules, 0, 0, 9)
    (0.0, 0.0)
    """
    known = on_time + overdue
    share = 1.0 if known == 0 else on_time / known
    full = float(rules["full_share"])
    factor = 1.0 if share >= full else (share / full if rules["pro_rata"] else 0.0)
    deduction = float(rules["reopened_deduction_yuan"]) * int(reopened)
    part = float(rules["assessed_yuan"]) * factor - deduction
    return round(max(0.0, part), 2)


def subsidy_sheet(
    store: Store,
    workflow: Workflow,
    month: str,
    *,
    scope: Sequence[str] = (),
    now: dt.datetime | None = None,
) -> dict[str, Any]:
    """The month's sheet: every grid worker in ``scope`` (anyone with a role in a grid, or
    the worker of a case) with the month's figures, base, assessed part and total.

    Returns ``{"month", "rules", "workers": [...]}``; the rules are the store's, or
    :data:`DEFAULT_SUBSIDY_RULES` (``updated_at`` None) until an admin sets them.
    """
    since, until = month_range(month)
    rules = store.subsidy_rules() or {**DEFAULT_SUBSIDY_RULES, "updated_at": None}
    cases = case_table(store, workflow, since=since, until=until, scope=scope, now=now)
    by_worker = {
        row["key"]: row
        for row in assess(cases[cases["worker"].notna()], workflow, group_by="staff")
    }
    staff = store.read("staff")
    names = dict(zip(staff["id"].astype(str), staff["name"], strict=False))
    workers = {a.staff_id for a in store.staff_assignments() if in_scope(scope, a.grid_code)} | set(
        by_worker
    )
    rows = []
    for worker in sorted(workers):
        f = by_worker.get(worker) or _figures(worker, cases.iloc[0:0], workflow)
        assessed = subsidy(rules, f["on_time"], f["overdue"], f["reopened"])
        base = float(rules["base_yuan"])
        rows.append(
            {
                "staff_id": worker,
                "name": names.get(worker),
                "cases": f["total"],
                "closed": f["closed"],
                "on_time": f["on_time"],
                "overdue": f["overdue"],
                "on_time_share": f["on_time_share"],
                "reopened": f["reopened"],
                "base_yuan": base,
                "assessed_yuan": assessed,
                "total_yuan": round(base + assessed, 2),
            }
        )
    shown = {k: rules[k] for k in (*SUBSIDY_RULE_FIELDS, "updated_at")}
    return {"month": month, "rules": shown, "workers": rows}
