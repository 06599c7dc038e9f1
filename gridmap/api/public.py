"""The public read side: which grid is here and who to call (lookup), and search by name.

``GET /api/lookup?lon=&lat=[&at=DATE]`` and ``GET /api/search?q=``. Both answer from indexes
held in memory (:class:`gridmap.service.lookup.Locator` on ``app.state.locator`` and
:class:`gridmap.service.search.Search` on ``app.state.search``), built at startup and rebuilt
on publish through ``app.state.locator.refresh()``.

The lookup is the busiest route, so its handler is ``async`` and answers a lookup of the grids
in force on the event loop (an in-memory R-tree query and a dict per grid built at refresh: tens
of microseconds, less than a hop into the thread pool costs); a lookup at a past date reads the
store and may build an index, so it goes to a thread, as does a search (10-40 ms of numpy over
every name). Answers are encoded with orjson and returned as they are: the ``LookupAnswer`` and
``SearchAnswer`` models document them in the OpenAPI spec but are not run per request.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, Query, Request, Response
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, ConfigDict, Field

from gridmap.api.answers import json_answer
from gridmap.api.limits import HISTORY_INDEX_TOKENS, charge, rate_limited
from gridmap.api.params import parse_query, query_parameters
from gridmap.service.lookup import Locator, parse_at
from gridmap.service.search import Search

__all__ = ["LookupAnswer", "LookupQuery", "SearchAnswer", "router", "startup"]

router = APIRouter(prefix="/api", tags=["public"], dependencies=[Depends(rate_limited)])

_NOT_FOUND = {
    "description": "The point is outside every grid in force (the detail says how far the "
    "nearest grid is), or nothing is published.",
    "content": {
        "application/json": {
            "example": {
                "error": "not_found",
                "detail": "该位置不在网格覆盖范围内 (outside the grids in force): (106.9, 29.9) "
                "is 12,345 m from the nearest grid, 500108106001002 (迎龙社区第2网格)",
            }
        }
    },
}
_BAD = {
    "description": "Coordinates out of range or not numbers.",
    "content": {
        "application/json": {
            "example": {
                "error": "bad_input",
                "detail": [{"loc": ["query", "lat"], "msg": "Input should be ≤ 90", "type": ""}],
            }
        }
    },
}


class Division(BaseModel):
    """A district, street or community."""

    code: str
    name: str | None
    short_name: str | None


class StaffMember(BaseModel):
    """One person on a grid's public board (public phone only)."""

    role: str
    role_name: str
    name: str
    phone: str | None
    duties: str | None


class GridAnswer(BaseModel):
    """The grid holding the point."""

    code: str
    name: str
    residents: int | None
    households: int | None
    plan_id: str
    revision: int | None
    staff: list[StaffMember]


class CommunityOffice(BaseModel):
    """The community's office (社区居委会/村委会): where a resident goes, whoever the grid's
    staff are; a grid without staff still answers with it."""

    name: str | None
    address: str | None
    phone: str | None
    hours: str | None
    lon: float | None
    lat: float | None


class Neighbour(BaseModel):
    """The nearest other grid within 50 m."""

    code: str
    name: str
    distance_m: float


class LookupAnswer(BaseModel):
    """Where a point is and who is responsible for it."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "lon": 106.5712,
                    "lat": 29.5236,
                    "at": None,
                    "district": {"code": "500108000000", "name": "南岸区", "short_name": "南岸区"},
                    "street": {
                        "code": "500108003000",
                        "name": "南坪街道",
                        "short_name": "南坪街道",
                    },
                    "community": {
                        "code": "500108003002",
                        "name": "南湖社区居民委员会",
                        "short_name": "南湖社区",
                    },
                    "office": {
                        "name": "南湖社区居民委员会",
                        "address": "南湖路12号",
                        "phone": "023-6280-0000",
                        "hours": "周一至周五 09:00-12:00 14:00-17:30",
                        "lon": 106.5705,
                        "lat": 29.5231,
                    },
                    "grid": {
                        "code": "500108003002001",
                        "name": "南湖社区第1网格",
                        "residents": 3012,
                        "households": 1158,
                        "plan_id": "1",
                        "revision": 1,
                        "staff": [
                            {
                                "role": "grid_head",
                                "role_name": "网格长",
                                "name": "史某一",
                                "phone": "023-0000-0001",
                                "duties": "统筹网格内各项工作",
                            }
                        ],
                    },
                    "distance_to_edge_m": 84.2,
                    "neighbour": None,
                }
            ]
        }
    )

    lon: float
    lat: float
    at: str | None
    district: Division
    street: Division
    community: Division
    office: CommunityOffice | None
    grid: GridAnswer
    distance_to_edge_m: float
    neighbour: Neighbour | None


class SearchHit(BaseModel):
    """A building, compound, social unit, community, street or grid, with its grid."""

    kind: str
    id: str
    name: str | None
    address: str | None
    lon: float | None
    lat: float | None
    community_code: str | None
    grid: dict[str, Any] | None
    grids: list[str] | None


class SearchAnswer(BaseModel):
    """Search hits, best first."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "q": "nhsq",
                    "hits": [
                        {
                            "kind": "community",
                            "id": "500108003002",
                            "name": "南湖社区",
                            "address": "南湖社区居民委员会",
                            "lon": 106.5712,
                            "lat": 29.5236,
                            "community_code": "500108003002",
                            "grid": None,
                            "grids": ["500108003002001", "500108003002002"],
                        }
                    ],
                }
            ]
        }
    )

    q: str
    hits: list[SearchHit]


async def startup(app: FastAPI) -> None:
    """Build the lookup and search indexes of the grids in force."""
    locator = Locator(app.state.read_store, app.state.settings)
    app.state.search = Search(locator)  # rebuilt on every refresh of the locator
    await run_in_threadpool(locator.refresh)
    app.state.locator = locator


class LookupQuery(BaseModel):
    """The query of ``GET /api/lookup``."""

    lon: float = Field(ge=-180, le=180, description="WGS-84 longitude", examples=[106.5712])
    lat: float = Field(ge=-90, le=90, description="WGS-84 latitude", examples=[29.5236])
    at: str | None = Field(
        None,
        description="A date (2026-03-01: the grids in force as that day closed, Beijing time) "
        "or an ISO time; default now.",
        examples=["2026-03-01"],
    )


@router.get(
    "/lookup",
    response_model=LookupAnswer,
    summary="The grid, community and street of a point, and its staff's public contacts",
    responses={404: _NOT_FOUND, 422: _BAD},
    openapi_extra={"parameters": query_parameters(LookupQuery)},
)
async def lookup(request: Request) -> Response:
    """Which grid holds the point (WGS-84; convert GCJ-02 map coordinates first), its
    community, street and district, the distance to the grid's edge, the nearest other grid
    within 50 m, and the grid's staff with their public phone numbers."""
    query = parse_query(request, LookupQuery)  # one model: FastAPI's Query params cost more
    locator: Locator = request.app.state.locator
    when = parse_at(query.at)
    if when is None:  # the grids in force: in memory, answered here on the loop
        if locator.expired():  # an effective date has passed: rebuild off the loop first
            await run_in_threadpool(locator.refresh_if_expired)
        return json_answer(locator.locate(query.lon, query.lat))
    located = await run_in_threadpool(_locate_at, request, locator, query.lon, query.lat, when)
    return json_answer(located)


def _locate_at(
    request: Request, locator: Locator, lon: float, lat: float, when: dt.datetime
) -> dict[str, Any]:
    """A lookup at a past date (reads the store; may build that date's index)."""
    if not locator.has_index_for(when):
        charge(request, HISTORY_INDEX_TOKENS, "lookups at past dates")
    return locator.locate(lon, lat, when)


@router.get(
    "/search",
    response_model=SearchAnswer,
    summary="Find buildings, compounds, social units, communities and grids by name or address",
)
async def search(
    request: Request,
    q: Annotated[
        str,
        Query(
            min_length=1,
            max_length=64,
            description="Part of a name or address (南湖), or pinyin initials (nhsq).",
            examples=["南湖", "nhsq"],
        ),
    ],
    limit: Annotated[int, Query(ge=1, le=100, description="At most this many hits.")] = 20,
) -> Response:
    """Substring match on names and addresses; Latin letters also match the pinyin initials
    of names. Best first: exact name, name prefix, name, initials, address."""
    found: Search = request.app.state.search
    hits = await run_in_threadpool(found.search, q, limit)
    return json_answer({"q": q, "hits": hits})
