"""Liveness and readiness."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

__all__ = ["router"]

router = APIRouter(tags=["health"])


@router.get("/healthz", summary="The process is up")
async def healthz() -> dict[str, str]:
    """Always 200 while the process serves requests."""
    return {"status": "ok"}


@router.get("/readyz", summary="The store is open and the indexes are built")
async def readyz(request: Request) -> JSONResponse:
    """200 once the store is open and every router's startup has run; 503 before."""
    ready = bool(getattr(request.app.state, "ready", False))
    body = {"status": "ready" if ready else "starting"}
    return JSONResponse(body, status_code=200 if ready else 503)
