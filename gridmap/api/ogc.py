"""OGC API – Features, Part 1 (core, GeoJSON, OpenAPI 3.0) at ``/ogc``: QGIS and GDAL read the
layers directly (``ogrinfo OAPIF:http://host:8000/ogc``).

Collections are the layers of :data:`gridmap.api.features.LAYERS` (grids: those in force).
Items page with ``limit`` and ``offset`` and a ``next`` link; ``bbox`` is lon/lat (CRS84).
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Query, Request, Response

from gridmap.api.features import LAYERS, FeatureCache, features_of, parse_bbox
from gridmap.api.limits import rate_limited
from gridmap.errors import NotFoundError

__all__ = ["CONFORMANCE", "router"]

router = APIRouter(prefix="/ogc", tags=["OGC API Features"], dependencies=[Depends(rate_limited)])

CONFORMANCE = [
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/oas30",
]
_CRS84 = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"
_JSON, _GEOJSON = "application/json", "application/geo+json"
_MAX_LIMIT = 10_000


def _link(href: str, rel: str, kind: str = _JSON, title: str | None = None) -> dict[str, str]:
    link = {"href": href, "rel": rel, "type": kind}
    if title:
        link["title"] = title
    return link


def _json(body: dict[str, Any], kind: str = _JSON) -> Response:
    return Response(json.dumps(body, ensure_ascii=False), media_type=kind)


def _url(request: Request, name: str, **params: Any) -> str:
    return str(request.url_for(name, **params))


@router.get("", name="ogc_landing", summary="OGC API landing page")
def landing(request: Request) -> Response:
    """Links to the API definition, the conformance classes and the collections."""
    return _json(
        {
            "title": "gridmap 网格化服务管理",
            "description": "Streets, communities, grids in force, compounds and buildings.",
            "links": [
                _link(_url(request, "ogc_landing"), "self", title="this document"),
                _link(
                    str(request.base_url).rstrip("/") + request.app.openapi_url,
                    "service-desc",
                    "application/vnd.oai.openapi+json;version=3.0",
                    "the API definition",
                ),
                _link(str(request.base_url).rstrip("/") + "/docs", "service-doc", "text/html"),
                _link(_url(request, "ogc_conformance"), "conformance", title="conformance classes"),
                _link(_url(request, "ogc_collections"), "data", title="the collections"),
            ],
        }
    )


@router.get("/conformance", name="ogc_conformance", summary="Conformance classes")
def conformance() -> dict[str, Any]:
    """Core, GeoJSON and OpenAPI 3.0 of OGC API – Features Part 1."""
    return {"conformsTo": CONFORMANCE}


@router.get("/collections", name="ogc_collections", summary="The collections")
def collections(request: Request) -> Response:
    """Every layer, with its extent and links to its items."""
    return _json(
        {
            "links": [_link(_url(request, "ogc_collections"), "self")],
            "collections": [_collection(request, name) for name in LAYERS],
        }
    )


@router.get("/collections/{collection_id}", name="ogc_collection", summary="One collection")
def collection(request: Request, collection_id: str) -> Response:
    """A layer's title, description, extent and links."""
    return _json(_collection(request, _known(collection_id)))


@router.get(
    "/collections/{collection_id}/items",
    name="ogc_items",
    summary="Features of a collection",
    responses={200: {"content": {_GEOJSON: {}}}},
)
def items(
    request: Request,
    collection_id: str,
    bbox: Annotated[str | None, Query(description="minlon,minlat,maxlon,maxlat (CRS84)")] = None,
    limit: Annotated[int, Query(ge=1, le=_MAX_LIMIT)] = 100,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> Response:
    """A page of features (GeoJSON) with numberMatched, numberReturned and a next link."""
    name = _known(collection_id)
    features: FeatureCache = request.app.state.features
    frame = features.query(name, parse_bbox(bbox))
    page = frame.iloc[offset : offset + limit]
    here = _url(request, "ogc_items", collection_id=name)
    params: dict[str, Any] = {"limit": limit}
    if bbox:
        params["bbox"] = bbox
    links = [
        _link(f"{here}?{urlencode({**params, 'offset': offset})}", "self", _GEOJSON),
        _link(_url(request, "ogc_collection", collection_id=name), "collection"),
    ]
    if offset + limit < len(frame):
        links.append(
            _link(f"{here}?{urlencode({**params, 'offset': offset + limit})}", "next", _GEOJSON)
        )
    if offset > 0:
        previous = {**params, "offset": max(0, offset - limit)}
        links.append(_link(f"{here}?{urlencode(previous)}", "prev", _GEOJSON))
    return _json(
        {
            "type": "FeatureCollection",
            "features": features_of(page, name),
            "numberMatched": len(frame),
            "numberReturned": len(page),
            "timeStamp": dt.datetime.now(dt.UTC)
            .isoformat(timespec="seconds")
            .replace("+00:00", "Z"),
            "links": links,
        },
        _GEOJSON,
    )


@router.get(
    "/collections/{collection_id}/items/{feature_id}",
    name="ogc_item",
    summary="One feature",
    responses={200: {"content": {_GEOJSON: {}}}, 404: {"description": "no such feature"}},
)
def item(request: Request, collection_id: str, feature_id: str) -> Response:
    """One feature by its id (the code of a division or grid, the id of a unit or building)."""
    name = _known(collection_id)
    features: FeatureCache = request.app.state.features
    frame = features.frame(name)
    found = frame[frame[LAYERS[name].id_column] == feature_id]
    if found.empty:
        raise NotFoundError(f"{name}: no feature {feature_id!r}")
    feature = features_of(found.iloc[:1], name)[0]
    feature["links"] = [
        _link(
            _url(request, "ogc_item", collection_id=name, feature_id=feature_id), "self", _GEOJSON
        ),
        _link(_url(request, "ogc_collection", collection_id=name), "collection"),
    ]
    return _json(feature, _GEOJSON)


def _known(collection_id: str) -> str:
    if collection_id not in LAYERS:
        raise NotFoundError(
            f"no collection {collection_id!r}; the collections are {', '.join(LAYERS)}"
        )
    return collection_id


def _collection(request: Request, name: str) -> dict[str, Any]:
    spec = LAYERS[name]
    features: FeatureCache = request.app.state.features
    frame = features.frame(name)
    bbox = [round(float(v), 6) for v in frame.total_bounds] if len(frame) else [-180, -90, 180, 90]
    return {
        "id": name,
        "title": spec.title,
        "description": spec.description,
        "itemType": "feature",
        "crs": [_CRS84],
        "extent": {"spatial": {"bbox": [bbox], "crs": _CRS84}},
        "links": [
            _link(_url(request, "ogc_collection", collection_id=name), "self"),
            _link(_url(request, "ogc_items", collection_id=name), "items", _GEOJSON, spec.title),
        ],
    }
