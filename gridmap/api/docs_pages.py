"""The OpenAPI pages, /docs (Swagger UI) and /redoc, with their scripts served from web/vendor.

FastAPI's own pages load Swagger UI and ReDoc (and Google Fonts) from a CDN; government intranets
have no internet, so these load only from this server (web/vendor.sh vendors both from npm).
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import HTMLResponse

__all__ = ["router"]

router = APIRouter(include_in_schema=False)
_VENDOR = "/web/vendor"


@router.get("/docs")
async def swagger_ui(request: Request) -> HTMLResponse:
    return get_swagger_ui_html(
        openapi_url=request.app.openapi_url,
        title=f"{request.app.title} API",
        swagger_js_url=f"{_VENDOR}/swagger-ui/swagger-ui-bundle.js",
        swagger_css_url=f"{_VENDOR}/swagger-ui/swagger-ui.css",
        swagger_favicon_url=f"{_VENDOR}/swagger-ui/favicon-32x32.png",
        oauth2_redirect_url=f"{_VENDOR}/swagger-ui/oauth2-redirect.html",
        # The validator badge would send the schema to validator.swagger.io.
        swagger_ui_parameters={"validatorUrl": None},
    )


@router.get("/redoc")
async def redoc(request: Request) -> HTMLResponse:
    return get_redoc_html(
        openapi_url=request.app.openapi_url,
        title=f"{request.app.title} API",
        redoc_js_url=f"{_VENDOR}/redoc/bundles/redoc.standalone.js",
        redoc_favicon_url=f"{_VENDOR}/swagger-ui/favicon-32x32.png",
        with_google_fonts=False,
    )
