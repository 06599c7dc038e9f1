"""Property-based requests from the OpenAPI schema (schemathesis), in process against the ASGI
app, on both engines: no operation answers 5xx, signed in as admin (the deepest paths) and
anonymous. Examples per operation are bounded (``EXAMPLES``) and derandomized so a run repeats
itself; they are drawn once (the slow part) and the same cases are sent on each engine and role.

Besides the schema's valid examples, each operation gets invalid ones (schemathesis's negative
mode) and, in every query and path parameter, the odd values a red team used: times at the
edges of the calendar once converted to UTC, a NUL character, integers past 64 bits."""

from __future__ import annotations

import contextlib
import copy
import hashlib
import json
from collections.abc import Callable
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.core import NotSet
from seeded import World, seeded_gpkg, seeded_postgis, world

__all__ = ["seeded_gpkg", "seeded_postgis", "world"]

EXAMPLES = 12


def _shown(case: Any) -> str:
    body = "" if type(case.body).__name__ == "NotSet" else f" body={case.body!r}"
    return f"{case.method} {case.formatted_path} query={case.query}{body}"


NEGATIVE_EXAMPLES = 4
ODD_VALUES = (
    "9999-12-31T23:59:59-23:59",
    "0001-01-01T00:00:00+14:00",
    "9999-12-31",
    "\x00",
    "南\x00",
    str(2**63),
    "9" * 20,
    "1@" + "9" * 20,
    "-1",
)


def _plausible(w: World) -> dict[str, str]:
    """A value for each parameter that others need to be valid while one is odd."""
    return {
        "plan_id": w.plan_id,
        "incident_id": w.incident_id,
        "service_request_id": w.incident_id,
        "staff_id": "S0",
        "layer": "grids",
        "collection_id": "grids",
        "collectionId": "grids",
        "feature_id": w.grid_codes[0],
        "featureId": w.grid_codes[0],
        "code": w.grid_codes[0],
        "z": "14",
        "x": "13230",
        "y": "6794",
        "lon": "106.57",
        "lat": "29.52",
        "q": "南",
    }


def _call(case: Any, headers: dict[str, str], failures: list[str]) -> None:
    try:
        response = case.call(headers=dict(headers))
    except Exception as exc:  # the app raised instead of answering
        failures.append(f"{_shown(case)}: raised {exc!r}"[:600])
        return
    if response.status_code >= 500:
        failures.append(f"{_shown(case)} → {response.status_code} {response.text[:300]}")


def odd_value_errors(w: World, operation: Any, headers: dict[str, str]) -> list[str]:
    """Each query and path parameter of ``operation`` in turn given each of ODD_VALUES."""
    failures: list[str] = []
    plausible = _plausible(w)
    params = [p for p in operation.iter_parameters() if p.location.value in ("query", "path")]
    paths = {p.name: plausible.get(p.name, "1") for p in params if p.location.value == "path"}
    needed = {
        p.name: plausible[p.name]
        for p in params
        if p.location.value == "query" and p.is_required and p.name in plausible
    }
    for param in params:
        for value in ODD_VALUES:
            if param.location.value == "path":
                case = operation.Case(path_parameters={**paths, param.name: value}, query=needed)
            else:
                case = operation.Case(path_parameters=paths, query={**needed, param.name: value})
            _call(case, headers, failures)
    return failures


# The cases hypothesis drew for each (schema, operation, mode). Drawing them is most of a run's
# time, and with derandomize=True every run draws the same cases (the runs differ in the caller
# and the store, not in the schema, and nothing the app answers steers the drawing): they are
# drawn once per schema, while the first run sends them, and later runs send those same cases.
_DRAWN: dict[tuple[str, str, str], list[dict[str, Any]]] = {}


def _fields(case: Any) -> dict[str, Any]:
    """What :meth:`APIOperation.Case` needs to make ``case`` again, copied before it is sent."""
    return {
        "method": case.method,
        "path_parameters": copy.deepcopy(case.path_parameters),
        "headers": copy.deepcopy(case.headers),
        "cookies": copy.deepcopy(case.cookies),
        "query": copy.deepcopy(case.query),
        "body": case.body if isinstance(case.body, NotSet) else copy.deepcopy(case.body),
        "media_type": case.media_type,
        "multipart_content_types": copy.deepcopy(case.multipart_content_types),
        "_meta": copy.deepcopy(case.meta),
    }


def _drawn_cases(
    schema_key: str, operation: Any, negative: bool, send: Callable[[Any], None]
) -> None:
    """Send each case of ``operation`` (invalid ones if ``negative``): drawn by hypothesis the
    first time for this schema, the same ones again after."""
    key = (schema_key, operation.label, "negative" if negative else "positive")
    if key in _DRAWN:
        for fields in _DRAWN[key]:
            send(operation.Case(**{**fields, "_meta": copy.deepcopy(fields["_meta"])}))
        return
    drawn: list[dict[str, Any]] = []

    @hsettings(
        max_examples=NEGATIVE_EXAMPLES if negative else EXAMPLES,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(
        case=operation.as_strategy(generation_mode=GenerationMode.NEGATIVE)
        if negative
        else operation.as_strategy()
    )
    def run(case: Any) -> None:
        drawn.append(_fields(case))
        send(case)

    try:
        if negative:
            # An operation without parameters or body has nothing to make invalid.
            with contextlib.suppress(Unsatisfiable):
                run()
        else:
            run()
    finally:
        _DRAWN[key] = drawn


def server_errors(w: World, headers: dict[str, str]) -> list[str]:
    """Requests generated for every operation that got a 5xx (or crashed the app)."""
    schema = schemathesis.openapi.from_asgi("/openapi.json", w.client.app)
    schema_key = hashlib.sha256(
        json.dumps(schema.raw_schema, sort_keys=True, default=str).encode()
    ).hexdigest()
    failures: list[str] = []
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) > 30

    def send(case: Any) -> None:
        _call(case, headers, failures)

    for operation in operations:
        failures.extend(odd_value_errors(w, operation, headers))
        _drawn_cases(schema_key, operation, True, send)
        _drawn_cases(schema_key, operation, False, send)
    return failures


@pytest.mark.parametrize("caller", ["admin", None], ids=["admin", "anonymous"])
def test_no_operation_answers_5xx(world: World, caller: str | None) -> None:
    failures = server_errors(world, world.as_role(caller))
    assert not failures, f"{len(failures)} server error(s):\n" + "\n".join(failures[:30])
