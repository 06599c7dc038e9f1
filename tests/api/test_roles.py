"""The role matrix on every endpoint of the app, found from ``app.routes``.

Each route's least role comes from :data:`LEAST_ROLE` (first matching rule); a route no rule
names is expected to be open to anonymous callers, so a new endpoint that asks for a sign-in
fails here until it is listed. For every route and every caller (anonymous and one user per
role) the answer is checked: allowed (anything but 401/403) or refused (401 with
``WWW-Authenticate: Bearer`` without a token, 403 with a lesser role). Roles are hierarchical:
admin ⊇ planner ⊇ staff ⊇ public.

Then every answer the public gets (anonymous and the ``public`` role) on every GET route is
searched for private data: staff's private phones, reporters' contacts, password hashes and
audit entries.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from seeded import PRIVATE_PHONES, REPORTER_CONTACT, World, seeded_gpkg, seeded_postgis, world

__all__ = ["seeded_gpkg", "seeded_postgis", "world"]

ROLES = ("public", "staff", "planner", "admin")
CALLERS = (None, *ROLES)  # None: anonymous

# (method regex, path regex) → the least role; "signed_in": any user, even of role public.
LEAST_ROLE: list[tuple[str, str, str]] = [
    ("GET", r"^/api/users/me$", "signed_in"),
    (".*", r"^/api/users", "admin"),
    ("POST", r"^/api/plans/\{plan_id\}/publish$", "admin"),
    ("POST", r"^/api/plans/\{plan_id\}/refuse$", "admin"),
    (".*", r"^/api/plans", "planner"),
    (".*", r"^/api/incidents", "staff"),
    ("GET", r"^/api/staff", "staff"),
    (".*", r"^/api/staff", "admin"),
    ("GET", r"^/api/offices/reach$", "planner"),
    ("GET", r"^/api/departments$", "staff"),
    (".*", r"^/api/departments/", "admin"),
    (".*", r"^/api/jobs", "planner"),
    ("PUT", r"^/api/stats/subsidy-rules$", "admin"),
    (".*", r"^/api/stats", "staff"),
]

# Values for path parameters: the seeded world's ids, or a plausible value.
PATH_VALUES = {
    "layer": "grids",
    "z": "14",
    "x": "13230",
    "y": "6794",
    "collection_id": "grids",
    "collectionId": "grids",
    "staff_id": "S0",
    "service_request_id": "1",
    "fmt": "xml",
    "service_code": "city.env.exposed_garbage",
    "job_id": "1",
    "kind": "csv",
}


def least_role(method: str, path: str) -> str | None:
    """The least role a route asks for (None: anonymous callers are let in)."""
    for method_re, path_re, role in LEAST_ROLE:
        if re.match(method_re, method) and re.match(path_re, path):
            return role
    return None


def allowed(caller: str | None, needed: str | None) -> bool:
    """Whether ``caller`` passes a route that asks for ``needed``."""
    if needed is None:
        return True
    if caller is None:
        return False
    if needed == "signed_in":
        return True
    return ROLES.index(caller) >= ROLES.index(needed)


def app_routes(app: Any) -> list[Any]:
    """Every route of ``app`` with methods and a path, included routers flattened (FastAPI
    ≥ 0.16x includes routers lazily; ``iter_route_contexts`` walks them)."""
    try:
        from fastapi.routing import iter_route_contexts
    except ImportError:  # an older FastAPI: app.routes is already flat
        routes = list(app.routes)
    else:
        routes = list(iter_route_contexts(app.routes))
    return [r for r in routes if getattr(r, "methods", None) and getattr(r, "path", None)]


def endpoints(w: World) -> list[tuple[str, str, str]]:
    """(method, route path, concrete URL) of every route of the app with methods (API
    routes and pages; static mounts have none)."""
    values = {
        **PATH_VALUES,
        "plan_id": w.plan_id,
        "incident_id": w.incident_id,
        "feature_id": w.grid_codes[0],
        "code": w.grid_codes[0],
    }
    out = []
    for route in app_routes(w.client.app):
        url = re.sub(r"\{(\w+)(:\w+)?\}", lambda m: values.get(m.group(1), "1"), route.path)
        out.extend((method, route.path, url) for method in sorted(set(route.methods) - {"HEAD"}))
    return out


def test_the_rules_match_real_routes(world: World) -> None:
    """Every rule of the table names at least one route (no rule is dead)."""
    found = endpoints(world)
    for method_re, path_re, role in LEAST_ROLE:
        assert any(re.match(method_re, m) and re.match(path_re, p) for m, p, _ in found), (
            f"rule {method_re} {path_re} → {role} matches no route"
        )
    assert len(found) > 30


@pytest.mark.parametrize("caller", CALLERS, ids=lambda c: c or "anonymous")
def test_every_endpoint_lets_in_exactly_the_roles_it_should(
    world: World, caller: str | None
) -> None:
    wrong = []
    for method, path, url in endpoints(world):
        needed = least_role(method, path)
        answer = world.client.request(method, url, headers=world.as_role(caller))
        if allowed(caller, needed):
            if answer.status_code in (401, 403):
                wrong.append(f"{method} {path}: {answer.status_code}, expected it let in")
        elif caller is None:
            if answer.status_code != 401 or answer.headers.get("www-authenticate") != "Bearer":
                wrong.append(f"{method} {path}: {answer.status_code}, expected 401 + Bearer")
        elif answer.status_code != 403:
            wrong.append(f"{method} {path}: {answer.status_code}, expected 403")
        else:
            assert answer.json()["error"] == "forbidden"
    assert not wrong, f"{caller or 'anonymous'}:\n" + "\n".join(wrong)


@pytest.mark.parametrize("caller", [None, "public"], ids=["anonymous", "public"])
def test_public_answers_hold_no_private_data(world: World, caller: str | None) -> None:
    values = [*PRIVATE_PHONES, REPORTER_CONTACT, "13911112222", "$argon2"]
    names = ["password_hash", "audit", "reporter_contact", "phone_private"]
    schema_pages = ("/openapi.json", "/docs", "/redoc")  # they name fields, holding no data
    leaks = []
    urls = [url for m, p, url in endpoints(world) if m == "GET" and not least_role(m, p)]
    urls += [
        "/open311/v2/requests.json?start_date=2000-01-01T00:00:00Z",
        f"/open311/v2/requests.json?service_request_id={world.incident_id}",
        "/api/lookup?lon=106.5604&lat=29.5204",
    ]
    for url in urls:
        answer = world.client.get(url, headers=world.as_role(caller))
        text = answer.content.decode("utf-8", "replace")
        looked_for = values if url.startswith(schema_pages) else values + names
        leaks += [f"{url}: {s}" for s in looked_for if s in text]
    assert not leaks
    # The incident is public on Open311, but not its reporter.
    one = world.client.get(f"/open311/v2/requests/{world.incident_id}.json")
    assert one.status_code == 200 and one.json()[0]["description"] == "垃圾桶满溢"


def test_private_data_reaches_the_office(world: World) -> None:
    """The same data is there for the roles that need it (so the leak test can fail)."""
    incident = world.client.get(
        f"/api/incidents/{world.incident_id}", headers=world.as_role("staff")
    )
    assert incident.json()["incident"]["reporter_contact"] == REPORTER_CONTACT
    staff = world.client.get("/api/staff", headers=world.as_role("staff")).json()["staff"]
    assert {s["phone_private"] for s in staff} == set(PRIVATE_PHONES)
