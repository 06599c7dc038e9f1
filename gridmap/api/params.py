"""Parameter types shared by the routes, bounded so that odd input is a 422 naming the
parameter and never reaches the store as something it cannot hold.

- :data:`MAX_NUMBER`: revisions and versions are PostgreSQL ``integer`` columns; a larger number
  (``revision=99999999999999999999``) would overflow SQLite's and PostgreSQL's integers (a 500).
- :data:`AwareTime`: a time with its zone, which must convert to UTC within the years 1–9999
  (``9999-12-31T23:59:59-23:59`` does not, and ``astimezone`` raised OverflowError: a 500).
- :func:`parse_query` and :func:`query_parameters`: a hot route's query as one pydantic model,
  validated in one pass. FastAPI's per-parameter machinery (solving each ``Query``) cost more
  than the lookup it fed; the model gives the same 422 (``loc`` ``["query", name]``) and, through
  ``openapi_extra``, the same OpenAPI parameters.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, TypeVar

from fastapi.exceptions import RequestValidationError
from pydantic import AfterValidator, BaseModel, ValidationError
from starlette.requests import Request

__all__ = ["MAX_NUMBER", "AwareTime", "in_utc_range", "parse_query", "query_parameters"]

MAX_NUMBER = 2**31 - 1
_Model = TypeVar("_Model", bound=BaseModel)


def in_utc_range(value: dt.datetime) -> dt.datetime:
    """``value`` when it has a zone and converts to UTC; ValueError otherwise.

    >>> in_utc_range(dt.datetime.fromisoformat("2026-03-01T08:00:00+08:00")).isoformat()
    '2026-03-01T08:00:00+08:00'
    >>> in_utc_range(dt.datetime.fromisoformat("9999-12-31T23:59:59-23:59"))
    Traceback (most recent call last):
    ...
    ValueError: 9999-12-31T23:59:59-23:59 is out of range once converted to UTC
    """
    if value.tzinfo is None:
        return value  # the route decides: an error, or Beijing time
    try:
        value.astimezone(dt.UTC)
    except OverflowError:
        raise ValueError(f"{value.isoformat()} is out of range once converted to UTC") from None
    return value


AwareTime = Annotated[dt.datetime, AfterValidator(in_utc_range)]


def parse_query(request: Request, model: type[_Model]) -> _Model:
    """The request's query string as ``model``; a RequestValidationError (the app's 422,
    ``loc`` ``["query", name]``) as FastAPI would raise for the same parameters."""
    try:
        return model.model_validate(dict(request.query_params))
    except ValidationError as exc:
        errors = [{**e, "loc": ("query", *e["loc"])} for e in exc.errors(include_url=False)]
        raise RequestValidationError(errors) from None


def query_parameters(model: type[BaseModel]) -> list[dict[str, Any]]:
    """The OpenAPI ``parameters`` of a query model (for a route's ``openapi_extra``), as
    FastAPI writes them for ``Query`` parameters."""
    schema = model.model_json_schema()
    required = set(schema.get("required", ()))
    return [
        {
            "name": name,
            "in": "query",
            "required": name in required,
            "schema": field,
            **({"description": field["description"]} if "description" in field else {}),
        }
        for name, field in schema["properties"].items()
    ]
