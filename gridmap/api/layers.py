"""GeoJSON layers: ``GET /api/layers/{layer}?bbox=&plan=`` → a FeatureCollection (RFC 7946).

streets, communities, grids (in force; ``plan=ID``: that plan's head revision), units and
buildings for anyone; incidents for signed-in staff and above. Coordinates are rounded to
1e-6 degree (about 0.1 m, finer than any map shows); every answer carries an ETag (a hash of the
body) and ``If-None-Match`` with it gives 304 without a body.
"""

from __future__ import annotations

import json
from enum import Enum
from typing import Annotated, Any

import shapely
from fastapi import APIRouter, Depends, FastAPI, Query, Request, Response

from gridmap.api.auth import optional_user, role_at_least
from gridmap.api.errors import ApiError
from gridmap.api.etags import etag_of, etags
from gridmap.api.features import LAYERS, FeatureCache, feature_collection, parse_bbox
from gridmap.api.limits import FEATURES_PER_TOKEN, charge, rate_limited
from gridmap.api.plan_access import PlanAccess
from gridmap.api.scope import sees
from gridmap.errors import InputError
from gridmap.store.contract import User

__all__ = ["COORDINATE_PRECISION", "LayerName", "router", "startup"]

router = APIRouter(prefix="/api", tags=["layers"], dependencies=[Depends(rate_limited)])

LayerName = Enum(  # type: ignore[misc]
    "LayerName", {name: name for name in [*LAYERS, "incidents"]}, type=str
)
COORDINATE_PRECISION = 1e-6  # degrees: about 0.1 m, below a pixel at zoom 20
_INCIDENT_PUBLIC = (
    "id",
    "version",
    "category",
    "status",
    "grid_code",
    "community_code",
    "street_code",
    "address",
    "created_at",
    "updated_at",
    "deadline",
    "assignee",
)
_EXAMPLE = {
    "type": "FeatureCollection",
    "features": [
        {
            "type": "Feature",
            "id": "500108003002001",
            "geometry": {
                "type": "MultiPolygon",
                "coordinates": [
                    [[[106.57, 29.52], [106.58, 29.52], [106.58, 29.53], [106.57, 29.52]]]
                ],
            },
            "properties": {
                "code": "500108003002001",
                "name": None,
                "community_code": "500108003002",
                "residents": 3012,
                "households": 1158,
                "deviation": 0.004,
                "plan_id": "1",
                "revision": 1,
            },
        }
    ],
}


async def startup(app: FastAPI) -> None:
    """The in-memory layers (``app.state.features``), read on first use."""
    app.state.features = FeatureCache(app.state.read_store, app.state.settings)


@router.get(
    "/layers/{layer}",
    summary="A map layer as GeoJSON",
    response_class=Response,
    responses={
        200: {
            "description": "A FeatureCollection in lon/lat (EPSG:4326)",
            "content": {"application/geo+json": {"example": _EXAMPLE}},
        },
        401: {"description": "incidents: not signed in"},
        403: {"description": "incidents: signed in below staff"},
        404: {"description": "unknown plan"},
        422: {"description": "bad bbox, or plan on a layer other than grids"},
    },
)
def layer(
    request: Request,
    layer: LayerName,
    user: Annotated[User | None, Depends(optional_user)],
    access: PlanAccess,
    bbox: Annotated[
        str | None,
        Query(description="minlon,minlat,maxlon,maxlat", examples=["106.56,29.51,106.58,29.53"]),
    ] = None,
    plan: Annotated[
        str | None,
        Query(description="grids only: the head revision of this plan (a draft: planners only)"),
    ] = None,
) -> Response:
    """The features of ``layer`` intersecting ``bbox`` (all without one)."""
    box = parse_bbox(bbox)
    name = layer.value
    if name == "incidents":
        body = _incidents(request, user, box)
    else:
        features: FeatureCache = request.app.state.features
        found = features.query(name, box, plan)
        _check_size(request, name, len(found), box)
        body = feature_collection(_rounded(found), name)
    max_age = request.app.state.settings.tile_max_age
    content = json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()
    etag = etag_of(content)
    headers = {
        "ETag": etag,
        "Cache-Control": "private, no-store"
        if name == "incidents" or not access.public
        else f"public, max-age={max_age}",
    }
    if etag in etags(request.headers.get("if-none-match")):
        return Response(status_code=304, headers=headers)
    return Response(content, media_type="application/geo+json", headers=headers)


def _rounded(frame: Any) -> Any:
    """``frame`` with every vertex rounded to 1e-6 degree (GeoJSON 40% smaller)."""
    if frame.empty:
        return frame
    frame = frame.copy()
    frame.geometry = shapely.set_precision(
        frame.geometry.array, COORDINATE_PRECISION, mode="pointwise"
    )
    return frame


def _check_size(request: Request, layer: str, count: int, box: Any) -> None:
    """Refuse an answer too large to send at once; charge the caller for the rest by size."""
    most = request.app.state.settings.max_layer_features
    if count > most:
        ask = "a smaller bbox" if box is not None else "a bbox (minlon,minlat,maxlon,maxlat)"
        raise InputError(
            f"bbox: {count:,} {layer} would be in one answer, more than {most:,}; ask for "
            f"{ask}, or read the layer as tiles (/tiles/{layer}/{{z}}/{{x}}/{{y}}.mvt)"
        )
    charge(request, count / FEATURES_PER_TOKEN, "features")


def _incidents(request: Request, user: User | None, box: Any) -> dict[str, Any]:
    if user is None:
        raise ApiError(
            "unauthorized",
            "请先登录 (sign in as staff to see incidents)",
            {"WWW-Authenticate": "Bearer"},
        )
    if not role_at_least(user.role, "staff"):
        raise ApiError("forbidden", f"权限不足: {user.name} is {user.role}; incidents need staff")
    features = []
    for incident in request.app.state.store.incidents(bbox=box):
        if not sees(user, incident.fields.get("community_code")):
            continue  # outside the user's scope
        fields = dict(incident.fields)
        props: dict[str, Any] = {
            "id": incident.id,
            "version": incident.version,
            "created_at": incident.created_at.isoformat(),
            "updated_at": incident.updated_at.isoformat(),
        }
        for key in _INCIDENT_PUBLIC:
            if key in fields:
                value = fields[key]
                props[key] = value.isoformat() if hasattr(value, "isoformat") else value
        lon, lat = fields.get("lon"), fields.get("lat")
        geometry = (
            None
            if lon is None or lat is None
            else {"type": "Point", "coordinates": [float(lon), float(lat)]}
        )
        features.append(
            {"type": "Feature", "id": incident.id, "geometry": geometry, "properties": props}
        )
    return {"type": "FeatureCollection", "features": features}
