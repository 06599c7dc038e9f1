"""Incidents for street offices and dispatchers (role ``staff`` and above).

- ``POST /api/incidents``: an incident at a point; grid, community, street and the grid's
  staff are found automatically. Near a grid boundary both grids are returned
  (``candidates``) for the clerk to confirm with a PATCH ``grid_code``.
- ``GET /api/incidents``: filtered by grid, status, category, creation dates, bbox, overdue.
- ``PATCH /api/incidents/{id}``: one step of the workflow (:mod:`gridmap.cases.workflow`,
  checked by :mod:`gridmap.api.case_steps`: each step is for one workflow role), or a
  correction, naming the ``version`` read; a stale version is a 409 with the current incident.

Every incident answered to a signed-in user carries ``actions``: the steps that user may take
on it now, with their zh-CN and English labels.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from gridmap.api.auth import require
from gridmap.api.case_photos import photo_json
from gridmap.api.case_steps import actor_of, case_rules, new_case_times, step_changes
from gridmap.api.deps import store_in
from gridmap.api.errors import error_body
from gridmap.api.etags import json_answer
from gridmap.api.features import parse_bbox
from gridmap.api.incident_data import (
    event_json,
    incident_json,
    locate_point,
    responsible_staff,
)
from gridmap.api.incident_notes import change_note, report_note, staff_names
from gridmap.api.params import MAX_NUMBER, AwareTime
from gridmap.api.scope import require_in_scope, sees
from gridmap.api.write_limits import LimitedRoute
from gridmap.cases.workflow import STATUSES, load_workflow
from gridmap.codes import street_of
from gridmap.errors import InputError
from gridmap.settings import Settings
from gridmap.store.contract import IncidentEvent, StaleVersionError, Store, User

__all__ = ["create_incident", "router"]

router = APIRouter(prefix="/api/incidents", tags=["incidents"], route_class=LimitedRoute)

Staff = Annotated[User, Depends(require("staff"))]
Lon = Annotated[float, Field(ge=-180, le=180, allow_inf_nan=False)]
Lat = Annotated[float, Field(ge=-90, le=90, allow_inf_nan=False)]
Text = Annotated[str, Field(max_length=2000)]
Action = Literal[tuple(sorted({s.action for s in load_workflow().steps}))]  # type: ignore[valid-type]


class NewIncident(BaseModel):
    """A report at a point."""

    lon: Lon
    lat: Lat
    category: Annotated[str, Field(min_length=1, max_length=100)]
    description: Text | None = None
    address: Annotated[str, Field(max_length=300)] | None = None
    reporter_contact: Annotated[str, Field(max_length=200)] | None = Field(
        None, description="private: never shown in public answers"
    )


class IncidentChange(BaseModel):
    """A workflow step (``action``) and/or corrections, against the ``version`` read."""

    version: int = Field(ge=1, le=MAX_NUMBER)
    action: Action | None = None  # type: ignore[valid-type]
    note: Annotated[str, Field(max_length=1000)] | None = None
    assignee: Annotated[str, Field(max_length=64)] | None = None
    department: Annotated[str, Field(max_length=32)] | None = Field(
        None, description="dispatch/redispatch: the department's code (or an assignee)"
    )
    hours: Annotated[float, Field(gt=0, le=400, allow_inf_nan=False)] | None = Field(
        None, description="request_extension/approve_extension: working hours"
    )
    satisfaction: Annotated[int, Field(ge=1, le=5)] | None = Field(
        None, description="evaluate: 1 (very unsatisfied) to 5 (very satisfied)"
    )
    grid_code: Annotated[str, Field(max_length=20)] | None = None
    category: Annotated[str, Field(min_length=1, max_length=100)] | None = None
    description: Text | None = None
    address: Annotated[str, Field(max_length=300)] | None = None
    public_note: Text | None = Field(
        None,
        description="the text residents may read on Open311 (a resident's report only; "
        "an empty string withdraws it)",
    )


def create_incident(
    request: Request,
    body: NewIncident,
    actor: str,
    channel: str = "office",
    user: User | None = None,
) -> dict[str, Any]:
    """Locate, set the deadline, store; the answer with location, candidates and staff.
    A ``user`` (staff recording it) must have the place in their scope."""
    store = store_in(request)
    settings: Settings = request.app.state.settings
    where = locate_point(request.app.state, store, body.lon, body.lat)
    if user is not None:
        require_in_scope(user, [where["community_code"]], "the incident's community")
    now = dt.datetime.now(dt.UTC)
    rules = case_rules(request)
    fields = {
        **new_case_times(rules, settings, body.category, now),
        "category": body.category,
        "status": "reported",
        "description": body.description,
        "lon": body.lon,
        "lat": body.lat,
        "grid_code": where["grid_code"],
        "community_code": where["community_code"],
        "street_code": where["street_code"],
        "address": body.address,
        "reporter_contact": body.reporter_contact,
        "assignee": None,
        "channel": channel,
        "public_note": None,  # nothing free-text is public until staff make it so
    }
    note = report_note(channel, where["candidates"], where["near_boundary"])
    event = IncidentEvent("", 1, now, actor, "report", None, "reported", note)
    incident = store.add_incident(fields, actor=actor, event=event)
    who = None if user is None else actor_of(user)
    return {
        "incident": incident_json(incident, private=True, case=rules, actor=who),
        "candidates": where["candidates"],
        "near_boundary": where["near_boundary"],
        "responsible": responsible_staff(store, where["grid_code"]),
    }


@router.post("", status_code=201, summary="Report an incident at a point")
def post_incident(request: Request, body: NewIncident, user: Staff) -> dict[str, Any]:
    """The grid, community and street are found from the point; near a boundary both grids
    are in ``candidates`` and ``near_boundary`` is true."""
    return create_incident(request, body, user.name, user=user)


@router.get("", summary="Incidents, filtered")
def list_incidents(
    request: Request,
    user: Staff,
    grid: Annotated[str | None, Query(max_length=20)] = None,
    status: Literal[STATUSES] | None = None,  # type: ignore[valid-type]
    category: Annotated[str | None, Query(max_length=100)] = None,
    since: AwareTime | None = None,
    until: AwareTime | None = None,
    bbox: Annotated[
        str | None, Query(max_length=100, description="minlon,minlat,maxlon,maxlat")
    ] = None,
    overdue: bool | None = None,
    limit: Annotated[int, Query(ge=1, le=5000)] = 1000,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> Response:
    """Incidents created in [since, until) matching every filter, oldest first; ``count`` is
    how many match, ``incidents`` the ``limit`` of them from ``offset``."""
    for name, value in (("since", since), ("until", until)):
        if value is not None and value.tzinfo is None:
            raise InputError(f"{name}={value.isoformat()}: give a time zone (e.g. +08:00 or Z)")
    found = store_in(request).incidents(
        grid_code=grid,
        status=status,
        category=category,
        since=since,
        until=until,
        bbox=parse_bbox(bbox),
    )
    now = dt.datetime.now(dt.UTC)
    found = [i for i in found if sees(user, i.fields.get("community_code"))]
    names = staff_names(store_in(request))
    rules, who = case_rules(request), actor_of(user)
    rows = [
        _named(incident_json(i, private=True, now=now, case=rules, actor=who), names) for i in found
    ]
    if overdue is not None:
        rows = [r for r in rows if r["overdue"] == overdue]
    # An ETag of the answer: the office polls with If-None-Match and gets 304 while unchanged.
    return json_answer(request, {"incidents": rows[offset : offset + limit], "count": len(rows)})


@router.get("/{incident_id}", summary="One incident with its events")
def get_incident(request: Request, incident_id: str, user: Staff) -> dict[str, Any]:
    """The incident, every step of its life, and the grid's staff."""
    store = store_in(request)
    incident = store.incident(incident_id)
    require_in_scope(user, [incident.fields.get("community_code")], f"incident {incident_id} in")
    return {
        "incident": _named(
            incident_json(incident, private=True, case=case_rules(request), actor=actor_of(user)),
            staff_names(store),
        ),
        "events": [event_json(e) for e in store.incident_events(incident_id)],
        "responsible": responsible_staff(store, incident.fields.get("grid_code")),
        "departments": store.departments(),
        "photos": [photo_json(p) for p in store.photos(incident_id)],
    }


def _named(row: dict[str, Any], names: dict[str, str]) -> dict[str, Any]:
    """``row`` with its assignee's name (the office shows names, not staff ids)."""
    return row | {"assignee_name": names.get(row["assignee"]) if row["assignee"] else None}


@router.patch("/{incident_id}", summary="A workflow step or a correction (optimistic concurrency)")
async def patch_incident(
    request: Request, incident_id: str, body: IncidentChange, user: Staff
) -> Any:
    """Apply ``action`` (a step of the workflow: register, dismiss, dispatch, redispatch,
    accept, return, request_extension, approve_extension, refuse_extension, finish, verify,
    reject, close, evaluate) and the corrections given, if ``version`` is still the incident's;
    else 409 with the current. A step that is not the user's is a 403 naming the role it needs."""
    try:
        return await run_in_threadpool(_apply, request, incident_id, body, user)
    except StaleVersionError as exc:
        current = incident_json(
            exc.current, private=True, case=case_rules(request), actor=actor_of(user)
        )
        return JSONResponse(error_body(exc.code, str(exc)) | {"current": current}, status_code=409)


def _apply(request: Request, incident_id: str, body: IncidentChange, user: User) -> dict[str, Any]:
    store = store_in(request)
    current = store.incident(incident_id)
    require_in_scope(user, [current.fields.get("community_code")], f"incident {incident_id} in")
    if current.version != body.version:
        raise StaleVersionError(incident_id, body.version, current)
    status = str(current.fields.get("status") or "reported")
    changes: dict[str, Any] = {}
    for name in ("assignee", "category", "description", "address"):
        value = getattr(body, name)
        if value is not None and value != current.fields.get(name):
            changes[name] = value
    if body.public_note is not None:
        if current.fields.get("channel") != "open311":
            raise InputError(
                "public_note: an office case is never public; only a resident's report "
                "(Open311) may have a public text"
            )
        note = body.public_note.strip() or None
        if note != current.fields.get("public_note"):
            changes["public_note"] = note
    if "assignee" in changes and body.action not in ("dispatch", "redispatch"):
        raise InputError(
            "assignee: who handles a case changes by dispatch or redispatch (派遣员), "
            "not by a correction"
        )
    if body.grid_code is not None and body.grid_code != current.fields.get("grid_code"):
        changes.update(_confirmed_grid(store, body.grid_code))
    if body.action is None and not changes:
        raise InputError("nothing to change: give an action or a field to correct")
    if body.action is None and (body.department or body.hours or body.satisfaction):
        raise InputError("department, hours and satisfaction go with an action")
    now = dt.datetime.now(dt.UTC)
    rules = case_rules(request)
    if body.action is not None:
        changes |= step_changes(rules, store, current, user, body, now)
    target = str(changes.get("status", status))
    shown = ("assignee", "department", "extension_hours", "satisfaction", "grid_code", "category")
    event = IncidentEvent(
        incident_id,
        0,
        now,
        user.name,
        body.action or "edit",
        status,
        target,
        _event_note(
            body.note,
            change_note(
                {k: changes[k] for k in shown if changes.get(k)},
                staff_names(store) if "assignee" in changes else {},
            ),
        ),
    )
    updated = store.update_incident(
        incident_id, body.version, changes, actor=user.name, event=event
    )
    return {
        "incident": incident_json(updated, private=True, case=rules, actor=actor_of(user)),
        "events": [event_json(e) for e in store.incident_events(incident_id)],
    }


def _event_note(note: str | None, changed: str | None) -> str | None:
    """The clerk's note, then what the step changed (``处置部门：chengguan``)."""
    return "；".join(p for p in (note, changed) if p) or None


def _confirmed_grid(store: Store, code: str) -> dict[str, Any]:
    grids = store.grids_at()
    match = grids[grids["code"] == code]
    if match.empty:
        raise InputError(f"grid_code={code!r}: no grid of that code is in force")
    community = str(match["community_code"].iloc[0])
    return {"grid_code": code, "community_code": community, "street_code": street_of(community)}
