"""A cap on the size of request bodies, for the routers that write.

Routers that take bodies use ``APIRouter(route_class=LimitedRoute)``: a POST, PUT or PATCH whose
``Content-Length`` exceeds ``settings.max_write_bytes`` is refused with 413 before its body is
read, and a body sent without a length (chunked) is cut off at the limit with the same answer.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import Request, Response
from fastapi.routing import APIRoute
from starlette.types import Message, Receive

from gridmap.api.errors import ApiError
from gridmap.api.input_guard import nul_in_body
from gridmap.errors import InputError

__all__ = ["WRITE_METHODS", "LimitedRoute"]

WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def _too_large(limit: int) -> ApiError:
    return ApiError("payload_too_large", f"请求体过大: the body exceeds {limit:,} bytes")


def _capped(receive: Receive, limit: int) -> Receive:
    seen = 0

    async def receive_capped() -> Message:
        nonlocal seen
        message = await receive()
        if message["type"] == "http.request":
            seen += len(message.get("body", b""))
            if seen > limit:
                raise _too_large(limit)
        return message

    return receive_capped


class LimitedRoute(APIRoute):
    """An APIRoute whose write requests may carry at most ``settings.max_write_bytes`` (a
    subclass names another setting in ``limit_setting``, plus ``slack`` bytes)."""

    limit_setting = "max_write_bytes"
    slack = 0

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def limited(request: Request) -> Response:
            if request.method in WRITE_METHODS:
                settings = request.app.state.settings
                limit = int(getattr(settings, self.limit_setting)) + self.slack
                length = request.headers.get("content-length")
                if length is not None and (
                    not (length.isascii() and length.isdigit()) or int(length) > limit
                ):
                    raise _too_large(limit)
                request = Request(request.scope, _capped(request.receive, limit))
                # Read here, so the refusal is ours (413), not a body-parsing error (400);
                # the handler then reads the cached body.
                body = await request.body()
                where = nul_in_body(body, request.headers.get("content-type", ""))
                if where:
                    raise InputError(where)
            return await handler(request)

        return limited
