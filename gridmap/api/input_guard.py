"""Text input may not hold a NUL character: refused with 422 naming the parameter, on both
engines (PostgreSQL cannot store NUL in text and would fail with a 503; SQLite would store it).

The path and query string are checked for every request by :class:`RejectNul` (an ASGI
middleware, so nothing is buffered); request bodies by :func:`nul_in_body`, which the write
routes call once they have read the body under its size cap (``api/write_limits.py``).
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qsl, unquote_to_bytes

from starlette.types import ASGIApp, Receive, Scope, Send

from gridmap.api.errors import error_body

__all__ = ["RejectNul", "nul_in_body"]


def _nul_message(where: str) -> str:
    return f"{where} contains a NUL character (\\u0000), which text may not hold"


def _nul_in_query(query: bytes) -> str | None:
    if b"%00" not in query.lower() and b"\x00" not in query:
        return None
    for name, value in parse_qsl(query.decode("latin-1"), keep_blank_values=True):
        if "\x00" in name or "\x00" in value:
            return f"query parameter {name.replace(chr(0), '')!r}"
    return "the query string"


def _walk(value: Any, where: str) -> str | None:
    if isinstance(value, str):
        return where if "\x00" in value else None
    if isinstance(value, dict):
        for key, item in value.items():
            found = _nul_in_key(key, where) or _walk(item, f"{where}.{key}" if where else key)
            if found:
                return found
    if isinstance(value, list):
        for i, item in enumerate(value):
            found = _walk(item, f"{where}[{i}]")
            if found:
                return found
    return None


def _nul_in_key(key: str, where: str) -> str | None:
    return f"a field name in {where or 'the body'}" if "\x00" in key else None


def nul_in_body(body: bytes, content_type: str) -> str | None:
    r"""Where in a JSON or form body a NUL character stands (None: nowhere).

    >>> print(nul_in_body(b'{"description": "a\\u0000b"}', "application/json"))
    body field 'description' contains a NUL character (\u0000), which text may not hold
    >>> print(nul_in_body(b"service_code=x%00", "application/x-www-form-urlencoded"))
    form field 'service_code' contains a NUL character (\u0000), which text may not hold
    """
    kind = content_type.split(";")[0].strip().lower()
    if kind == "application/json" or kind.endswith("+json"):
        if b"\\u0000" not in body.lower() and b"\x00" not in body:
            return None
        try:
            found = _walk(json.loads(body), "")
        except ValueError:
            return None  # not JSON: the route's own parsing answers that
        return _nul_message(f"body field {found!r}") if found else None
    if kind == "application/x-www-form-urlencoded":
        if b"%00" not in body.lower() and b"\x00" not in body:
            return None
        for name, value in parse_qsl(body.decode("latin-1"), keep_blank_values=True):
            if "\x00" in name or "\x00" in value:
                return _nul_message(f"form field {name.replace(chr(0), '')!r}")
    return None


class RejectNul:
    """ASGI middleware: 422 for a NUL character in the URL path or the query string."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            raw_path = scope.get("raw_path") or scope["path"].encode()
            where = None
            if "\x00" in scope["path"] or b"\x00" in unquote_to_bytes(raw_path):
                where = "the URL path"
            else:
                where = _nul_in_query(scope.get("query_string", b""))
            if where:
                await _refuse(send, _nul_message(where))
                return
        await self.app(scope, receive, send)


async def _refuse(send: Send, detail: str) -> None:
    body = json.dumps(error_body("bad_input", detail), ensure_ascii=False).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 422,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
