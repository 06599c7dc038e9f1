"""A grid's public board as PDF: ``GET /api/grids/{code}/board.pdf[?size=A3]``.

Public, like the lookup: the board shows staff's public phones only (never private ones). The
QR code opens the grid's page on this server (``/?grid=CODE``).
"""

from __future__ import annotations

import io
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response

from gridmap.api.limits import rate_limited
from gridmap.boards import BoardSelection, collect_boards, render_boards
from gridmap.settings import Settings

__all__ = ["router"]

router = APIRouter(prefix="/api/grids", tags=["public"], dependencies=[Depends(rate_limited)])


def _board_pdf(request: Request, code: str, size: str) -> bytes:
    settings: Settings = request.app.state.settings
    boards = collect_boards(
        request.app.state.store,
        BoardSelection(grid=code),
        roles=settings.all_roles(),
        base_url=str(request.base_url),
    )
    buffer = io.BytesIO()
    render_boards(boards, buffer, size=size)
    return buffer.getvalue()


@router.get(
    "/{code}/board.pdf",
    summary="The grid's public board (网格公示牌) as a one-page PDF",
    response_class=Response,
    responses={
        200: {"content": {"application/pdf": {}}},
        404: {"description": "No such grid in force."},
    },
)
async def board_pdf(
    request: Request,
    code: Annotated[str, Path(pattern=r"^\d{15}$", description="15-digit grid code")],
    size: Annotated[str, Query(pattern="^(A4|A3)$", description="Paper size")] = "A4",
) -> Response:
    """The grid's map, 四至, staff with roles, public phones and duties, the community office
    and a QR code to the grid's page; Chinese font embedded."""
    pdf = await run_in_threadpool(_board_pdf, request, code, size)
    return Response(
        pdf,
        media_type="application/pdf",
        headers={"Content-Disposition": f'inline; filename="board-{code}.pdf"'},
    )
