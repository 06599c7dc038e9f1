"""Open311 GeoReport v2 (JSON) at /open311/v2: services, requests, one request.

Residents' apps and city platforms speak GeoReport v2. Reading is public and shows no
reporter's contact; posting a request is open to anyone (a resident's report starts the
cycle as ``reported``, the "collect" step), and the reporter's e-mail or phone is kept private.
Services are the incident categories of ``Settings.incident_deadlines``.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Query, Request

from gridmap.api.auth import optional_user
from gridmap.api.deps import store_in
from gridmap.api.incident_data import incident_json
from gridmap.api.incidents import NewIncident, create_incident
from gridmap.api.limits import rate_limited
from gridmap.api.params import AwareTime
from gridmap.api.write_limits import LimitedRoute
from gridmap.errors import InputError, NotFoundError
from gridmap.settings import Settings
from gridmap.store.contract import Incident, User

__all__ = ["router"]

router = APIRouter(prefix="/open311/v2", tags=["open311"], route_class=LimitedRoute)


def _services(settings: Settings) -> list[str]:
    return sorted(k for k in settings.incident_deadlines if k != "*")


def _request_json(incident: Incident) -> dict[str, Any]:
    public = incident_json(incident, private=False)
    closed = public["status"] == "closed"
    return {
        "service_request_id": incident.id,
        "status": "closed" if closed else "open",
        "status_notes": public["status"],
        "service_name": public["category"],
        "service_code": public["category"],
        "description": public["description"],
        "agency_responsible": public["grid_code"],
        "service_notice": "",
        "requested_datetime": public["created_at"],
        "updated_datetime": public["updated_at"],
        "expected_datetime": public["deadline"],
        "address": public["address"],
        "address_id": None,
        "zipcode": None,
        "lat": public["lat"],
        "long": public["lon"],
        "media_url": None,
    }


@router.get("/services.json", summary="GeoReport v2: the service list")
def services(request: Request) -> list[dict[str, Any]]:
    """One service per incident category."""
    settings: Settings = request.app.state.settings
    return [
        {
            "service_code": code,
            "service_name": code,
            "description": f"{code} (处置时限 {settings.incident_deadlines[code]:g} 小时)",
            "metadata": False,
            "type": "realtime",
            "keywords": "",
            "group": code.split("/")[0],
        }
        for code in _services(settings)
    ]


@router.get("/requests.json", summary="GeoReport v2: service requests")
def get_requests(
    request: Request,
    service_request_id: Annotated[str | None, Query(max_length=2000)] = None,
    service_code: Annotated[str | None, Query(max_length=100)] = None,
    start_date: AwareTime | None = None,
    end_date: AwareTime | None = None,
    status: Annotated[str | None, Query(pattern="^(open|closed)(,(open|closed))?$")] = None,
) -> list[dict[str, Any]]:
    """Requests, newest first (at most 1,000), without reporters' contacts."""
    store = store_in(request)
    for name, value in (("start_date", start_date), ("end_date", end_date)):
        if value is not None and value.tzinfo is None:
            raise InputError(f"{name}={value.isoformat()}: give a time zone (e.g. +08:00 or Z)")
    if service_request_id:
        wanted = [s.strip() for s in service_request_id.split(",") if s.strip()][:1000]
        found = []
        for incident_id in wanted:
            try:
                found.append(store.incident(incident_id))
            except NotFoundError:
                continue
    else:
        if start_date is None and end_date is None:
            start_date = dt.datetime.now(dt.UTC) - dt.timedelta(days=90)  # the spec's default
        found = store.incidents(category=service_code, since=start_date, until=end_date)
    rows = [_request_json(i) for i in found]
    if status:
        rows = [r for r in rows if r["status"] in status.split(",")]
    return rows[::-1][:1000]


@router.get("/requests/{service_request_id}.json", summary="GeoReport v2: one request")
def get_request(request: Request, service_request_id: str) -> list[dict[str, Any]]:
    """A list of one request (as the spec has it)."""
    return [_request_json(store_in(request).incident(service_request_id))]


@router.post(
    "/requests.json",
    status_code=201,
    summary="GeoReport v2: report a problem",
    dependencies=[Depends(rate_limited)],
)
def post_request(
    request: Request,
    user: Annotated[User | None, Depends(optional_user)],
    service_code: Annotated[str, Form(min_length=1, max_length=100)],
    lat: Annotated[float, Form(ge=-90, le=90, allow_inf_nan=False)],
    long: Annotated[float, Form(ge=-180, le=180, allow_inf_nan=False)],
    description: Annotated[str | None, Form(max_length=2000)] = None,
    address_string: Annotated[str | None, Form(max_length=300)] = None,
    email: Annotated[str | None, Form(max_length=200)] = None,
    phone: Annotated[str | None, Form(max_length=50)] = None,
    first_name: Annotated[str | None, Form(max_length=50)] = None,
    last_name: Annotated[str | None, Form(max_length=50)] = None,
    api_key: Annotated[str | None, Form(max_length=200)] = None,
) -> list[dict[str, Any]]:
    """A resident's report: stored as ``reported`` with the contact kept private."""
    settings: Settings = request.app.state.settings
    if service_code not in _services(settings):
        raise InputError(
            f"service_code={service_code!r}: not a service; see services.json "
            f"({', '.join(_services(settings))})"
        )
    contact = "; ".join(
        v for v in (" ".join(filter(None, (first_name, last_name))), email, phone) if v
    )
    body = NewIncident(
        lon=long,
        lat=lat,
        category=service_code,
        description=description,
        address=address_string,
        reporter_contact=contact[:200] or None,
    )
    actor = user.name if user is not None else "open311"
    made = create_incident(request, body, actor, channel="open311")
    return [
        {
            "service_request_id": made["incident"]["id"],
            "service_notice": "",
            "account_id": None,
        }
    ]
