"""Assessment (考核) for street offices and the district (role ``staff`` and above, each in
their scope): ``GET /api/stats`` (JSON, ``.csv``, ``.xlsx``), the subsidy rules
(``GET``; ``PUT`` by an admin) and the monthly subsidy sheet (``GET /api/stats/subsidies``,
``.csv``, ``.xlsx``). The figures are computed by :mod:`gridmap.service.stats`.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request, Response
from pydantic import BaseModel, Field

from gridmap.api import workflow as _workflow
from gridmap.api.auth import require
from gridmap.api.deps import store_in
from gridmap.api.incident_notes import staff_names
from gridmap.api.scope import require_in_scope, scope_of
from gridmap.api.write_limits import LimitedRoute
from gridmap.cases.calendar import CHINA_TZ
from gridmap.errors import InputError
from gridmap.service import stats_sheets
from gridmap.service.stats import (
    DEFAULT_SUBSIDY_RULES,
    GROUPINGS,
    YEARS,
    Workflow,
    assess,
    case_table,
    month_range,
    subsidy_sheet,
)
from gridmap.store.contract import Store, User

__all__ = ["router"]

router = APIRouter(prefix="/api/stats", tags=["assessment"], route_class=LimitedRoute)

Staff = Annotated[User, Depends(require("staff"))]
Admin = Annotated[User, Depends(require("admin"))]
Code = Annotated[str | None, Query(max_length=20, pattern=r"^[0-9]+$")]
Grouping = Literal[GROUPINGS]  # type: ignore[valid-type]
Month = Annotated[str, Query(pattern=r"^\d{4}-\d{2}$", description="YYYY-MM, Beijing time")]
Day = Annotated[
    str | None,
    Query(pattern=r"^\d{4}-\d{2}(-\d{2})?$", description="YYYY-MM-DD or YYYY-MM"),
]

# A case is reopened when one of its events is a return action (退回, 核查未通过, 重派).
WORKFLOW = Workflow(
    statuses=_workflow.STATUSES,
    open_statuses=_workflow.OPEN_STATUSES,
    return_actions=_workflow.RETURN_ACTIONS,
)
_MEDIA = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}


class Filters(BaseModel):
    """The cases counted: created in a period, in a place, of a worker or a category."""

    since: dt.datetime | None
    until: dt.datetime | None
    street: str | None
    community: str | None
    grid: str | None
    staff: str | None
    category: str | None


def _period(
    start: str | None, end: str | None, month: str | None
) -> tuple[dt.datetime | None, dt.datetime | None]:
    """[since, until) in Beijing time: ``month``, or from ``start`` to ``end`` inclusive
    (days or whole months)."""
    if month is not None:
        if start is not None or end is not None:
            raise InputError("month: give either month or from/to, not both")
        return month_range(month)
    since = _day(start, "from")[0] if start else None
    until = _day(end, "to")[1] if end else None
    if since is not None and until is not None and until <= since:
        raise InputError(f"to={end}: the period ends before it begins (from={start})")
    return since, until


def _day(text: str, name: str) -> tuple[dt.datetime, dt.datetime]:
    if len(text) == 7:
        try:
            return month_range(text)
        except InputError:
            raise InputError(
                f"{name}={text!r}: give a date YYYY-MM-DD or a month YYYY-MM"
            ) from None
    try:
        day = dt.date.fromisoformat(text)
    except ValueError:
        raise InputError(f"{name}={text!r}: give a date YYYY-MM-DD or a month YYYY-MM") from None
    if not YEARS[0] <= day.year <= YEARS[1]:
        raise InputError(f"{name}={text!r}: give a year from {YEARS[0]} to {YEARS[1]}")
    start = dt.datetime.combine(day, dt.time(0), tzinfo=CHINA_TZ)
    return start, start + dt.timedelta(days=1)


def _filters(
    user: Staff,
    start: Annotated[Day, Query(alias="from")] = None,
    end: Annotated[Day, Query(alias="to")] = None,
    month: Annotated[str | None, Query(pattern=r"^\d{4}-\d{2}$")] = None,
    street: Code = None,
    community: Code = None,
    grid: Code = None,
    staff: Annotated[str | None, Query(max_length=64)] = None,
    category: Annotated[str | None, Query(max_length=100)] = None,
) -> Filters:
    since, until = _period(start, end, month)
    places = [c for c in (street, community, grid) if c is not None]
    require_in_scope(user, places, "stats of")
    return Filters(
        since=since,
        until=until,
        street=street,
        community=community,
        grid=grid,
        staff=staff,
        category=category,
    )


Chosen = Annotated[Filters, Depends(_filters)]


def _names(store: Store, grouping: str) -> dict[str, str]:
    """Key → name of the groups of ``grouping`` (the grid's, the person's, the division's)."""
    if grouping == "staff":
        return staff_names(store)
    if grouping == "grid":
        frame, key, name = store.grids_at(), "code", "name"
    elif grouping in ("community", "street"):
        frame, key, name = store.read("divisions"), "code", "short_name"
    else:
        return {}
    if frame.empty or name not in frame:
        return {}
    pairs = frame[[key, name]].dropna()
    return dict(zip(pairs[key].astype(str), pairs[name].astype(str), strict=False))


def _tables(
    request: Request, user: User, chosen: Filters, groupings: tuple[str, ...]
) -> dict[str, Any]:
    store = store_in(request)
    now = dt.datetime.now(dt.UTC)
    cases = case_table(
        store, WORKFLOW, since=chosen.since, until=chosen.until, scope=scope_of(user), now=now
    )
    filters = chosen.model_dump(exclude={"since", "until"})
    out: dict[str, Any] = {
        "totals": assess(cases, WORKFLOW, **filters)[0],
        "groups": {},
    }
    for grouping in groupings:
        names = _names(store, grouping)
        rows = assess(cases, WORKFLOW, group_by=grouping, **filters)
        out["groups"][grouping] = [{**r, "name": names.get(str(r["key"]))} for r in rows]
    out["period"] = {
        "from": None if chosen.since is None else chosen.since.isoformat(),
        "until": None if chosen.until is None else chosen.until.isoformat(),
    }
    out["as_of"] = now.isoformat()
    out["statuses"] = list(WORKFLOW.statuses)
    return out


@router.get("", summary="Assessment figures per grid, worker, community, street, month or category")
def get_stats(
    request: Request,
    user: Staff,
    chosen: Chosen,
    group_by: Grouping = "grid",  # type: ignore[valid-type]
) -> dict[str, Any]:
    """Figures of the cases created in the period (``from``/``to``, days or months inclusive,
    or ``month``; Beijing time) in the user's scope, for the whole (``totals``) and per group
    (``rows``): total, by stage, dismissed, closed, on time, overdue, on-time share, reopened,
    mean handling time in clock and working hours, mean satisfaction and how many rated."""
    answer = _tables(request, user, chosen, (group_by,))
    rows = answer.pop("groups")[group_by]
    return {"group_by": group_by, **answer, "rows": rows}


def _file(body: bytes, kind: str, name: str) -> Response:
    return Response(
        body,
        media_type=_MEDIA[kind],
        headers={"Content-Disposition": f'attachment; filename="{name}.{kind}"'},
    )


@router.get(".{kind}", summary="The assessment as CSV or XLSX (zh-CN headers)")
def export_stats(
    request: Request,
    user: Staff,
    chosen: Chosen,
    kind: Literal["csv", "xlsx"],
    group_by: Grouping | None = None,  # type: ignore[valid-type]
) -> Response:
    """CSV: the table of ``group_by`` (default grid). XLSX: a sheet per grouping, or only the
    sheet of ``group_by`` when given."""
    if kind == "csv":
        grouping = group_by or "grid"
        answer = _tables(request, user, chosen, (grouping,))
        body = stats_sheets.stats_csv(grouping, answer["groups"][grouping], answer["statuses"])
        return _file(body, kind, f"stats-{grouping}")
    groupings = (group_by,) if group_by else GROUPINGS
    answer = _tables(request, user, chosen, groupings)
    return _file(stats_sheets.stats_xlsx(answer["groups"], answer["statuses"]), kind, "stats")


class SubsidyRules(BaseModel):
    """How a worker's month is paid: a base part and a part released by the assessment."""

    base_yuan: float = Field(ge=0, le=1e6, allow_inf_nan=False)
    assessed_yuan: float = Field(ge=0, le=1e6, allow_inf_nan=False)
    full_share: float = Field(
        ge=0, le=1, allow_inf_nan=False, description="on-time share released in full (0-1)"
    )
    pro_rata: bool = Field(description="below full_share: in proportion (true) or nothing")
    reopened_deduction_yuan: float = Field(ge=0, le=1e6, allow_inf_nan=False)


def _rules_json(store: Store) -> dict[str, Any]:
    rules = store.subsidy_rules()
    if rules is None:
        return {**DEFAULT_SUBSIDY_RULES, "updated_at": None, "updated_by": None}
    return {**rules, "updated_at": rules["updated_at"].isoformat()}


@router.get("/subsidy-rules", summary="The subsidy rules in force")
def get_subsidy_rules(request: Request, user: Staff) -> dict[str, Any]:
    """The rules (the defaults, with ``updated_at`` null, until an admin sets them)."""
    return _rules_json(store_in(request))


@router.put("/subsidy-rules", summary="Set the subsidy rules (admin)")
def put_subsidy_rules(request: Request, body: SubsidyRules, user: Admin) -> dict[str, Any]:
    """Replace the rules in force; audited."""
    store = store_in(request)
    store.set_subsidy_rules(body.model_dump(), actor=user.name)
    return _rules_json(store)


@router.get("/subsidies", summary="The month's subsidy sheet per grid worker")
def get_subsidies(request: Request, user: Staff, month: Month) -> dict[str, Any]:
    """Every grid worker of the user's scope: the month's cases, on time, overdue, reopened,
    the base part, the assessed part and the total, in yuan."""
    return subsidy_sheet(store_in(request), WORKFLOW, month, scope=scope_of(user))


@router.get("/subsidies.{kind}", summary="The subsidy sheet as CSV or XLSX (zh-CN headers)")
def export_subsidies(
    request: Request, user: Staff, month: Month, kind: Literal["csv", "xlsx"]
) -> Response:
    """The same sheet as ``GET /api/stats/subsidies``, as a file."""
    sheet = subsidy_sheet(store_in(request), WORKFLOW, month, scope=scope_of(user))
    if kind == "csv":
        body = stats_sheets.subsidy_csv(sheet["workers"])
    else:
        body = stats_sheets.subsidy_xlsx(month, sheet["workers"])
    return _file(body, kind, f"subsidies-{month}")
