"""Domain errors → HTTP status, in one table; every error answer is {"error": code, "detail"}.

Core code raises :class:`gridmap.errors.GridmapError` subclasses and never HTTPException; the
app maps them here. FastAPI's own errors (unknown route, bad query) get the same shape.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from psycopg.conninfo import conninfo_to_dict
from starlette.exceptions import HTTPException as StarletteHTTPException

from gridmap.errors import GridmapError
from gridmap.settings import Settings

__all__ = ["STATUS", "ApiError", "error_body", "install_error_handlers", "public_detail"]

# GridmapError.code → HTTP status. A code missing here is a 500 (a bug to add here).
STATUS: dict[str, int] = {
    "bad_input": 422,
    "missing_column": 422,
    "duplicate_id": 409,
    "not_found": 404,
    "conflict": 409,
    "stale_revision": 409,
    "stale_version": 409,
    "store_error": 503,
    "unauthorized": 401,
    "forbidden": 403,
    "too_many_requests": 429,
    "payload_too_large": 413,
    "service_busy": 503,
    "edit_refused": 422,
    "publish_refused": 409,
    "grid_locked": 409,
}


class ApiError(GridmapError):
    """An error only the HTTP layer knows (authentication, rate limits): ``code`` picks the
    status from :data:`STATUS`."""

    def __init__(self, code: str, detail: str, headers: dict[str, str] | None = None):
        self.code, self.headers = code, headers or {}
        super().__init__(detail)


def error_body(code: str, detail: Any) -> dict[str, Any]:
    """The JSON of every error answer."""
    return {"error": code, "detail": detail}


def public_detail(exc: GridmapError, settings: Settings) -> str:
    """The error's message without the store's path or host or a list of existing ids.

    Errors that say ``where`` and ``hint`` apart (:class:`GridmapError`, as the store's
    not-found errors do) give their ``public`` text; from any other, the workspace path and the
    database's name and host are cut out.
    """
    if exc.where is not None or exc.hint:
        return exc.public
    text = str(exc)
    for place in _store_places(settings):
        text = text.replace(f"{place}: ", "").replace(place, "the store")
    return text


def _store_places(settings: Settings) -> list[str]:
    return _places(str(settings.workspace), settings.database_url)


@functools.lru_cache(maxsize=8)
def _places(workspace: str, database_url: str | None) -> list[str]:
    # cached: resolving the path costs a few system calls, and a busy server answers many 404s
    places = [workspace, str(Path(workspace).resolve())]
    if database_url:
        try:
            info = conninfo_to_dict(database_url)
        except Exception:  # a URL the store itself refused: nothing more to hide
            info = {}
        host, port, name = info.get("host"), info.get("port") or "5432", info.get("dbname")
        places += [f"{host}:{port}/{name}", f"{host}/{name}", str(name or ""), str(host or "")]
    return sorted({p for p in places if len(p) > 3}, key=len, reverse=True)


def install_error_handlers(app: FastAPI) -> None:
    """Map GridmapError, HTTP errors and validation errors to {"error", "detail"}."""

    @app.exception_handler(GridmapError)
    async def _domain(request: Request, exc: GridmapError) -> JSONResponse:
        status = STATUS.get(exc.code, 500)
        headers = getattr(exc, "headers", None) or None
        detail = public_detail(exc, request.app.state.settings)
        return JSONResponse(error_body(exc.code, detail), status_code=status, headers=headers)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
        return JSONResponse(
            error_body(code, exc.detail),
            status_code=exc.status_code,
            headers=getattr(exc, "headers", None),
        )

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        detail = [
            {"loc": list(e.get("loc", ())), "msg": e.get("msg", ""), "type": e.get("type", "")}
            for e in exc.errors()
        ]
        return JSONResponse(error_body("bad_input", detail), status_code=422)
