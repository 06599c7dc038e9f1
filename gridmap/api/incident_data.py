"""Incidents over a store: locating a point, JSON forms, and moving open incidents when a new
plan is published ("regrid").

The locator of :mod:`gridmap.service.lookup` (``app.state.locator``) answers where a point is;
until the app has one, :func:`locate_point` locates against the grids in force read from the
store, with the same :class:`~gridmap.service.grids.GridLocator`.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from gridmap.cases.calendar import WorkingCalendar
from gridmap.cases.workflow import (
    Actor,
    Workflow,
    allowed_steps,
    is_overdue,
    load_workflow,
    timing,
)
from gridmap.codes import street_of
from gridmap.errors import NotFoundError
from gridmap.service.grids import NEAR_M, GridLocator
from gridmap.store.contract import (
    Incident,
    IncidentEvent,
    Store,
)

__all__ = [
    "NEAR_M",
    "CaseRules",
    "case_json",
    "event_json",
    "incident_json",
    "locate_point",
    "responsible_staff",
]

_SEARCH_DEG = 0.01  # ~1 km: the box of grids read around a point


@dataclass(frozen=True)
class CaseRules:
    """The case workflow and the working-day calendar its limits run on (one per app)."""

    flow: Workflow = field(default_factory=load_workflow)
    calendar: WorkingCalendar = field(
        default_factory=lambda: WorkingCalendar(weekdays_when_unknown=True)
    )


def _text(value: Any) -> str | None:
    return None if value is None or (isinstance(value, float) and pd.isna(value)) else str(value)


def _iso(value: Any) -> Any:
    return value.isoformat() if isinstance(value, dt.datetime) else value


def incident_json(
    incident: Incident,
    *,
    private: bool,
    now: dt.datetime | None = None,
    case: CaseRules | None = None,
    actor: Actor | None = None,
) -> dict[str, Any]:
    """An incident as JSON; ``private`` adds the reporter's contact and the case's workflow
    (stage, stage deadline, reminders, department, evaluation: office use only), and with an
    ``actor`` the ``actions`` that actor may take now, with their labels."""
    f = dict(incident.fields)
    deadline = f.get("deadline")
    status = str(f.get("status") or "reported")
    now = now or dt.datetime.now(dt.UTC)
    out = {
        "id": incident.id,
        "version": incident.version,
        "created_at": incident.created_at.isoformat(),
        "updated_at": incident.updated_at.isoformat(),
        "status": status,
        "category": f.get("category"),
        "description": f.get("description"),
        "lon": f.get("lon"),
        "lat": f.get("lat"),
        "grid_code": f.get("grid_code"),
        "community_code": f.get("community_code"),
        "street_code": f.get("street_code"),
        "address": f.get("address"),
        "assignee": f.get("assignee"),
        "deadline": _iso(deadline),
        "overdue": is_overdue(
            status,
            deadline if isinstance(deadline, dt.datetime) else None,
            f.get("closed_at") or (incident.updated_at if status == "closed" else None),
            now,
        ),
    }
    if private:
        out["reporter_contact"] = f.get("reporter_contact")
        out |= case_json(incident, now, case or CaseRules(), actor)
    return out


def case_json(
    incident: Incident, now: dt.datetime, case: CaseRules, actor: Actor | None
) -> dict[str, Any]:
    """The workflow's part of an incident's JSON (see :func:`incident_json`)."""
    f = incident.fields
    status = str(f.get("status") or "reported")
    stage = case.flow.stages.get(status)
    due = f.get("stage_deadline")
    flags = timing(
        case.flow, status, due if isinstance(due, dt.datetime) else None, now, case.calendar
    )
    out: dict[str, Any] = {
        "stage": None if stage is None else stage.name,
        "stage_en": None if stage is None else stage.name_en,
        "stage_deadline": _iso(due),
        **flags,
        "department": f.get("department"),
        "satisfaction": f.get("satisfaction"),
        "extension_hours": f.get("extension_hours"),
        "closed_at": _iso(f.get("closed_at")),
    }
    if actor is not None:
        out["actions"] = [
            {"action": s.action, "label": s.label, "label_en": s.label_en, "role": s.role}
            for s in allowed_steps(case.flow, status, actor, f)
        ]
    return out


def event_json(event: IncidentEvent) -> dict[str, Any]:
    """An incident's event as JSON."""
    return {
        "seq": event.seq,
        "at": event.at.isoformat(),
        "actor": event.actor,
        "action": event.action,
        "from_status": event.from_status,
        "to_status": event.to_status,
        "note": event.note,
    }


def locate_point(app_state: Any, store: Store, lon: float, lat: float) -> dict[str, Any]:
    """{grid_code, community_code, street_code, candidates, near_boundary} of (lon, lat).

    ``candidates`` lists the grid holding the point first, then a grid near it (the locator's
    ``neighbour``); ``near_boundary`` is true when there are two, for the clerk to confirm. A
    point outside every grid in force has no grid (the incident is still recorded).
    """
    locator = getattr(app_state, "locator", None)
    if locator is not None:
        try:
            found = locator.locate(lon, lat)
        except NotFoundError:
            return _answer(None, None, None)
        neighbour = found.get("neighbour") or {}
        return _answer(found["grid"]["code"], found["community"]["code"], neighbour.get("code"))
    # No locator (an app built without the public routers): the grids in force near the point.
    d = _SEARCH_DEG
    near = GridLocator(store.grids_at(bbox=(lon - d, lat - d, lon + d, lat + d)))
    found = near.locate_one(lon, lat, near_m=NEAR_M)
    if found is None or found.grid is None:
        return _answer(None, None, None)
    code, neighbour = str(found.grid), _text(found.neighbour)
    return _answer(code, near.community_of(code), neighbour)


def _answer(code: str | None, community: str | None, neighbour: str | None) -> dict[str, Any]:
    candidates = [c for c in (code, neighbour) if c]
    return {
        "grid_code": code,
        "community_code": community,
        "street_code": None if community is None else street_of(community),
        "candidates": candidates,
        "near_boundary": len(candidates) > 1,
    }


def responsible_staff(store: Store, grid_code: str | None) -> list[dict[str, Any]]:
    """The people holding roles in ``grid_code``: id, name, role and public phone only."""
    if grid_code is None:
        return []
    held = store.staff_assignments(grid_code=grid_code)
    if not held:
        return []
    staff = store.read("staff").set_index("id")
    out = []
    for a in held:
        row = staff.loc[a.staff_id] if a.staff_id in staff.index else None
        out.append(
            {
                "staff_id": a.staff_id,
                "role": a.role,
                "name": None if row is None else _text(row["name"]),
                "phone_public": None if row is None else _text(row["phone_public"]),
            }
        )
    return out
