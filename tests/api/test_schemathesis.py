"""Property-based requests from the OpenAPI schema (schemathesis), in process against the ASGI
app, on both engines: no operation answers 5xx, signed in as admin (the deepest paths) and
anonymous. Examples per operation are bounded (``EXAMPLES``) and derandomized so a run takes
about a minute and repeats itself.

Besides the schema's valid examples, each operation gets invalid ones (schemathesis's negative
mode) and, in every query and path parameter, the odd values a red team used: times at the
edges of the calendar once converted to UTC, a NUL character, integers past 64 bits."""

from __future__ import annotations

import contextlib
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
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


def server_errors(w: World, headers: dict[str, str]) -> list[str]:
    """Requests generated for every operation that got a 5xx (or crashed the app)."""
    schema = schemathesis.openapi.from_asgi("/openapi.json", w.client.app)
    failures: list[str] = []
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) > 30

    for operation in operations:
        failures.extend(odd_value_errors(w, operation, headers))

        @hsettings(
            max_examples=NEGATIVE_EXAMPLES,
            deadline=None,
            derandomize=True,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        @given(case=operation.as_strategy(generation_mode=GenerationMode.NEGATIVE))
        def run_invalid(case: Any) -> None:
            _call(case, headers, failures)

        # An operation without parameters or body has nothing to make invalid.
        with contextlib.suppress(Unsatisfiable):
            run_invalid()

        @hsettings(
            max_examples=EXAMPLES,
            deadline=None,
            derandomize=True,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        @given(case=operation.as_strategy())
        def run(case: Any) -> None:
            _call(case, headers, failures)

        run()
    return failures


@pytest.mark.parametrize("caller", ["admin", None], ids=["admin", "anonymous"])
def test_no_operation_answers_5xx(world: World, caller: str | None) -> None:
    failures = server_errors(world, world.as_role(caller))
    assert not failures, f"{len(failures)} server error(s):\n" + "\n".join(failures[:30])
