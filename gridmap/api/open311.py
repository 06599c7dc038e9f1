"""Open311 GeoReport v2 at /open311/v2, in XML (the spec's default) and JSON on every endpoint.

``services.{xml,json}``, ``services/{service_code}.{xml,json}``, ``requests.{xml,json}`` (GET and
POST) and ``requests/{id}.{xml,json}``. Residents' apps and city platforms speak GeoReport v2.
Services are the case categories (:mod:`gridmap.cases.categories`): stable ASCII service codes,
names in zh-CN, grouped by 大类. Reading is public and shows no reporter's contact; a resident's
report starts the cycle as ``reported`` and the contact is kept private.

As the spec has it: ``jurisdiction_id`` is optional (this endpoint serves one jurisdiction); when
given it must name it (``Settings.open311_jurisdiction``, or a district code of the store), else
404. ``api_key`` is required to POST when ``Settings.open311_api_keys`` lists keys (403 without a
valid one); with none listed anyone may report, as residents do from the public page. Errors of
the XML endpoints are the spec's ``<errors><error><code/><description/></error></errors>``.
"""

from __future__ import annotations

import datetime as dt
import hmac
import xml.etree.ElementTree as ET
from collections.abc import Callable, Coroutine, Iterable
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Path, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response

from gridmap.api.auth import optional_user
from gridmap.api.deps import store_in
from gridmap.api.errors import STATUS
from gridmap.api.incident_data import incident_json
from gridmap.api.incidents import NewIncident, create_incident
from gridmap.api.limits import rate_limited
from gridmap.api.params import AwareTime
from gridmap.api.write_limits import LimitedRoute
from gridmap.cases import Category, load_categories
from gridmap.cases.workflow import DONE_STATUSES
from gridmap.errors import GridmapError, InputError, NotFoundError
from gridmap.settings import Settings
from gridmap.store.contract import Incident, User

__all__ = ["router", "to_xml"]

Format = Annotated[str, Path(pattern="^(json|xml)$", description="xml (the default) or json")]
Jurisdiction = Annotated[
    str | None, Query(max_length=100, description="Optional: this endpoint serves one.")
]
_XML = "application/xml; charset=utf-8"
_BOTH: dict[int | str, dict[str, Any]] = {
    200: {"content": {"application/xml": {}, "application/json": {}}}
}


class _Open311Route(LimitedRoute):
    """Errors of an ``.xml`` endpoint answer as the spec's XML errors, with the same status."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def answer(request: Request) -> Response:
            if not request.url.path.endswith(".xml"):
                return await handler(request)
            try:
                return await handler(request)
            except GridmapError as exc:
                return _xml_error(STATUS.get(exc.code, 500), str(exc))
            except RequestValidationError as exc:
                problems = "; ".join(
                    f"{'.'.join(str(p) for p in e.get('loc', ()))}: {e.get('msg', '')}"
                    for e in exc.errors()
                )
                return _xml_error(400, problems)

        return answer


router = APIRouter(prefix="/open311/v2", tags=["open311"], route_class=_Open311Route)


def to_xml(root: str, item: str, rows: Iterable[dict[str, Any]]) -> bytes:
    """GeoReport v2 XML: ``<root><item><field>value</field>…</item>…</root>``.

    Examples
    --------
    >>> rows = [{"code": "a.b", "metadata": False, "keywords": None}]
    >>> print(to_xml("services", "s", rows).decode().splitlines()[1])
    <services><s><code>a.b</code><metadata>false</metadata><keywords /></s></services>
    """
    top = ET.Element(root)
    for row in rows:
        element = ET.SubElement(top, item)
        for key, value in row.items():
            child = ET.SubElement(element, key)
            if isinstance(value, bool):
                child.text = "true" if value else "false"
            elif isinstance(value, list):
                for entry in value:  # a service definition's attributes
                    ET.SubElement(child, "attribute").text = str(entry)
            elif value is not None:
                child.text = str(value)
    return ET.tostring(top, encoding="utf-8", xml_declaration=True)


def _xml_error(status: int, description: str) -> Response:
    body = to_xml("errors", "error", [{"code": status, "description": description}])
    return Response(body, status_code=status, media_type=_XML)


def _answer(
    fmt: str, root: str, item: str, rows: list[dict[str, Any]], status: int = 200
) -> Response:
    if fmt == "xml":
        return Response(to_xml(root, item, rows), status_code=status, media_type=_XML)
    return JSONResponse(rows, status_code=status)


def _categories() -> tuple[Category, ...]:
    return load_categories()


def _check_jurisdiction(request: Request, jurisdiction_id: str | None) -> None:
    if not jurisdiction_id:
        return
    settings: Settings = request.app.state.settings
    if settings.open311_jurisdiction and jurisdiction_id == settings.open311_jurisdiction:
        return
    code = jurisdiction_id.strip()
    locator = getattr(request.app.state, "locator", None)
    district = code + "000000" if len(code) == 6 else code
    if (
        len(district) == 12
        and district.endswith("000000")
        and locator is not None
        and locator.division(district) is not None
    ):
        return
    raise NotFoundError(f"jurisdiction_id={jurisdiction_id!r}: not served here")


def _service(category: Category) -> dict[str, Any]:
    return {
        "service_code": category.code,
        "service_name": category.minor,
        "description": f"{category.name}（处置时限 {category.limit_hours:g} 个工作小时）",
        "metadata": False,
        "type": "realtime",
        "keywords": ", ".join(category.keywords),
        "group": category.major,
    }


# Residents' reports are shown to ~100 m (3 decimals of a degree), never to the door.
PUBLIC_DECIMALS = 3


def is_public(incident: Incident) -> bool:
    """Only a resident's report (Open311) is public; an office case never is."""
    return incident.fields.get("channel") == "open311"


def _rounded(value: Any) -> float | None:
    return None if value is None else round(float(value), PUBLIC_DECIMALS)


def _request_row(
    incident: Incident, by_name: dict[str, Category], media: str | None = None
) -> dict[str, Any]:
    """A resident's report as the public sees it: no contact, no free text but the one staff
    made public (``public_note``), the place rounded to ~100 m, and the photo staff made
    public (``media``, the URL of its image)."""
    public = incident_json(incident, private=False)
    found = by_name.get(str(public["category"]))
    note = incident.fields.get("public_note")
    return {
        "service_request_id": incident.id,
        "status": "closed" if public["status"] in DONE_STATUSES else "open",
        "status_notes": public["status"],
        "service_name": found.minor if found else public["category"],
        "service_code": found.code if found else public["category"],
        "description": note,
        "agency_responsible": public["grid_code"],
        "service_notice": "",
        "requested_datetime": public["created_at"],
        "updated_datetime": public["updated_at"],
        "expected_datetime": public["deadline"],
        "address": None,  # free text, as the description
        "address_id": None,
        "zipcode": None,
        "lat": _rounded(public["lat"]),
        "long": _rounded(public["lon"]),
        "media_url": media,
    }


def _media_url(request: Request, incident: Incident) -> str | None:
    """The URL of the newest photo staff made public of a resident's report; None without."""
    shown = [p for p in store_in(request).photos(incident.id) if p.public]
    if not shown:
        return None
    return str(request.url_for("public_photo", service_request_id=incident.id, seq=shown[-1].seq))


@router.get("/services.{fmt}", summary="GeoReport v2: the service list", responses=_BOTH)
def services(request: Request, fmt: Format, jurisdiction_id: Jurisdiction = None) -> Response:
    """One service per case category (小类), grouped by 大类."""
    _check_jurisdiction(request, jurisdiction_id)
    return _answer(fmt, "services", "service", [_service(c) for c in _categories()])


@router.get(
    "/services/{service_code}.{fmt}",
    summary="GeoReport v2: a service's definition",
    responses=_BOTH,
)
def service_definition(
    request: Request,
    service_code: Annotated[str, Path(max_length=100)],
    fmt: Format,
    jurisdiction_id: Jurisdiction = None,
) -> Response:
    """No service asks for extra attributes (``metadata`` is false): an empty definition."""
    _check_jurisdiction(request, jurisdiction_id)
    if not any(c.code == service_code for c in _categories()):
        raise NotFoundError(f"service_code={service_code!r}: not a service; see services.{fmt}")
    definition = {"service_code": service_code, "attributes": []}
    if fmt == "json":
        return JSONResponse(definition)
    body = to_xml("service_definition", "_", [definition])
    # to_xml wraps rows in an item element; a definition is a single object
    body = body.replace(b"<_>", b"").replace(b"</_>", b"")
    return Response(body, media_type=_XML)


@router.get("/requests.{fmt}", summary="GeoReport v2: service requests", responses=_BOTH)
def get_requests(
    request: Request,
    fmt: Format,
    jurisdiction_id: Jurisdiction = None,
    service_request_id: Annotated[str | None, Query(max_length=2000)] = None,
    service_code: Annotated[str | None, Query(max_length=1000)] = None,
    start_date: AwareTime | None = None,
    end_date: AwareTime | None = None,
    status: Annotated[str | None, Query(pattern="^(open|closed)(,(open|closed))?$")] = None,
) -> Response:
    """Requests, newest first (at most 1,000), without reporters' contacts."""
    _check_jurisdiction(request, jurisdiction_id)
    store = store_in(request)
    table = _categories()
    by_name = {c.name: c for c in table}
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
        by_code = {c.code: c.name for c in table}
        codes = [s.strip() for s in service_code.split(",")] if service_code else [None]
        found = []
        for code in codes:  # a code not in the table may be an older incident's category
            category = None if code is None else by_code.get(code, code)
            found.extend(store.incidents(category=category, since=start_date, until=end_date))
        found.sort(key=lambda i: (i.created_at, i.id))
    rows = [_request_row(i, by_name, _media_url(request, i)) for i in found if is_public(i)]
    if status:
        rows = [r for r in rows if r["status"] in status.split(",")]
    return _answer(fmt, "service_requests", "request", rows[::-1][:1000])


@router.get(
    "/requests/{service_request_id}.{fmt}",
    summary="GeoReport v2: one request",
    responses=_BOTH,
)
def get_request(
    request: Request,
    service_request_id: Annotated[str, Path(max_length=100)],
    fmt: Format,
    jurisdiction_id: Jurisdiction = None,
) -> Response:
    """A list of one request (as the spec has it)."""
    _check_jurisdiction(request, jurisdiction_id)
    by_name = {c.name: c for c in _categories()}
    incident = store_in(request).incident(service_request_id)
    if not is_public(incident):  # an office case is not there for the public
        raise NotFoundError(f"no service request {service_request_id}")
    row = _request_row(incident, by_name, _media_url(request, incident))
    return _answer(fmt, "service_requests", "request", [row])


@router.get(
    "/requests/{service_request_id}/media/{seq}",
    name="public_photo",
    summary="A photo staff made public of a resident's report",
    response_class=Response,
)
def public_photo(
    request: Request,
    service_request_id: Annotated[str, Path(max_length=100)],
    seq: Annotated[int, Path(ge=1, le=1_000_000)],
) -> Response:
    """The image (stored without EXIF or GPS), only when staff made it public and the request
    is a resident's report; 404 otherwise, as for a photo that does not exist."""
    store = store_in(request)
    incident = store.incident(service_request_id)
    photo, data = store.photo_data(incident.id, seq)
    if not (is_public(incident) and photo.public):
        raise NotFoundError(f"no public photo {seq} of service request {service_request_id}")
    return Response(data, media_type=photo.content_type, headers={"Cache-Control": "max-age=300"})


@router.post(
    "/requests.{fmt}",
    status_code=201,
    summary="GeoReport v2: report a problem",
    dependencies=[Depends(rate_limited)],
    responses={201: _BOTH[200]},
)
def post_request(
    request: Request,
    fmt: Format,
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
    jurisdiction_id: Annotated[str | None, Form(max_length=100)] = None,
) -> Response:
    """A resident's report: stored as ``reported`` with the contact kept private."""
    settings: Settings = request.app.state.settings
    _check_jurisdiction(request, jurisdiction_id)
    keys = [k.get_secret_value() for k in settings.open311_api_keys]
    if keys and not any(hmac.compare_digest(api_key or "", k) for k in keys):
        from gridmap.api.errors import ApiError

        raise ApiError("forbidden", "api_key: missing or not valid; ask the city for a key")
    table = _categories()
    chosen = next((c for c in table if c.code == service_code), None)
    if chosen is None:
        raise InputError(
            f"service_code={service_code!r}: not a service; see services.{fmt} "
            f"({', '.join(c.code for c in table[:5])}, …)"
        )
    contact = "; ".join(
        v for v in (" ".join(filter(None, (first_name, last_name))), email, phone) if v
    )
    body = NewIncident(
        lon=long,
        lat=lat,
        category=chosen.name,
        description=description,
        address=address_string,
        reporter_contact=contact[:200] or None,
    )
    actor = user.name if user is not None else "open311"
    made = create_incident(request, body, actor, channel="open311")
    row = {"service_request_id": made["incident"]["id"], "service_notice": "", "account_id": None}
    return _answer(fmt, "service_requests", "request", [row], status=201)
