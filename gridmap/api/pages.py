"""The three web pages and their assets, served from ``web/`` by the API process.

``/`` (residents), ``/office`` (street offices) and ``/planner`` (planners) are the HTML pages;
``/web/{path}`` serves any file under ``web/`` (ES modules, CSS, the vendored libraries), so the
pages load nothing from any other host.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import FileResponse

from gridmap.errors import NotFoundError

__all__ = ["PAGES", "WEB_ROOT", "router"]

WEB_ROOT = Path(__file__).resolve().parents[2] / "web"
# URL path → HTML file under web/.
PAGES = {"/": "index.html", "/office": "office.html", "/planner": "planner.html"}
_TYPES = {".js": "text/javascript", ".mjs": "text/javascript", ".css": "text/css"}

router = APIRouter(tags=["pages"], include_in_schema=False)


def _page(name: str):  # type: ignore[no-untyped-def]
    async def page() -> FileResponse:
        return FileResponse(
            _file(name), media_type="text/html", headers={"Cache-Control": "no-cache"}
        )

    return page


for _url, _name in PAGES.items():
    router.add_api_route(_url, _page(_name), methods=["GET"], name=f"page:{_name}")


@router.get("/web/{path:path}")
async def asset(path: str) -> FileResponse:
    """A file under web/; 404 for anything outside it or missing."""
    found = _file(path)
    return FileResponse(
        found, media_type=_TYPES.get(found.suffix), headers={"Cache-Control": "no-cache"}
    )


def _file(path: str) -> Path:
    found = (WEB_ROOT / path).resolve()
    if not found.is_relative_to(WEB_ROOT) or not found.is_file():
        raise NotFoundError(f"no file {path!r} in web/")
    return found
