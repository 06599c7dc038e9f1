"""Liveness and readiness (async, answered on the event loop: probes hit them often)."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from gridmap.api.answers import json_answer

__all__ = ["router"]

router = APIRouter(tags=["health"])


@router.get("/healthz", summary="The process is up", response_model=dict[str, str])
async def healthz() -> Response:
    """Always 200 while the process serves requests."""
    return json_answer({"status": "ok"})


@router.get("/readyz", summary="The store is open and the indexes are built")
async def readyz(request: Request) -> Response:
    """200 once the store is open and every router's startup has run; 503 before."""
    ready = bool(getattr(request.app.state, "ready", False))
    return json_answer({"status": "ready" if ready else "starting"}, 200 if ready else 503)
