"""Property-based requests from the OpenAPI schema (schemathesis), in process against the ASGI
app, on both engines: no operation answers 5xx, signed in as admin (the deepest paths) and
anonymous. Examples per operation are bounded (``EXAMPLES``) and derandomized so a run takes
about a minute and repeats itself."""

from __future__ import annotations

from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from seeded import World, seeded_gpkg, seeded_postgis, world

__all__ = ["seeded_gpkg", "seeded_postgis", "world"]

EXAMPLES = 12


def _shown(case: Any) -> str:
    body = "" if type(case.body).__name__ == "NotSet" else f" body={case.body!r}"
    return f"{case.method} {case.formatted_path} query={case.query}{body}"


def server_errors(w: World, headers: dict[str, str]) -> list[str]:
    """Requests generated for every operation that got a 5xx (or crashed the app)."""
    schema = schemathesis.openapi.from_asgi("/openapi.json", w.client.app)
    failures: list[str] = []
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) > 30

    for operation in operations:

        @hsettings(
            max_examples=EXAMPLES,
            deadline=None,
            derandomize=True,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        @given(case=operation.as_strategy())
        def run(case: Any) -> None:
            try:
                response = case.call(headers=dict(headers))
            except Exception as exc:  # the app raised instead of answering
                failures.append(f"{_shown(case)}: raised {exc!r}"[:600])
                return
            if response.status_code >= 500:
                failures.append(f"{_shown(case)} → {response.status_code} {response.text[:300]}")

        run()
    return failures


@pytest.mark.parametrize("caller", ["admin", None], ids=["admin", "anonymous"])
def test_no_operation_answers_5xx(world: World, caller: str | None) -> None:
    failures = server_errors(world, world.as_role(caller))
    assert not failures, f"{len(failures)} server error(s):\n" + "\n".join(failures[:30])
