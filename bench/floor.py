"""The floor of bench/api.py: a bare Starlette + orjson endpoint on uvloop/httptools.

    .venv/bin/python bench/floor.py --port 8001

``GET /api/lookup?lon=&lat=`` parses the two numbers and answers a fixed lookup-sized JSON body
(the shape of gridmap's answer, a grid with six staff), one uvicorn worker, no access log. What
one worker of this machine can answer at best: gridmap's lookups are measured against it.
"""

from __future__ import annotations

import argparse

import orjson
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

_DIVISION = {"code": "500108003000", "name": "南坪街道", "short_name": "南坪街道"}
_STAFF = [
    {
        "role": f"role_{i}",
        "role_name": "网格长",
        "name": "史某一",
        "phone": "023-0000-0001",
        "duties": "统筹网格内各项工作，负责网格内的信息采集和矛盾纠纷排查",
    }
    for i in range(6)
]
_GRID = {
    "code": "500108003002001",
    "name": "南湖社区第1网格",
    "residents": 3012,
    "households": 1158,
    "plan_id": "1",
    "revision": 1,
    "staff": _STAFF,
}


async def lookup(request: Request) -> Response:
    query = request.query_params
    try:
        lon, lat = float(query["lon"]), float(query["lat"])
    except (KeyError, ValueError):
        return Response(b'{"error":"bad_input"}', 422, media_type="application/json")
    body = {
        "lon": lon,
        "lat": lat,
        "at": None,
        "district": _DIVISION,
        "street": _DIVISION,
        "community": _DIVISION,
        "grid": _GRID,
        "distance_to_edge_m": 84.2,
        "neighbour": None,
    }
    return Response(orjson.dumps(body), media_type="application/json")


async def ready(request: Request) -> Response:
    return Response(b'{"status":"ready"}', media_type="application/json")


app = Starlette(routes=[Route("/api/lookup", lookup), Route("/readyz", ready)])


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--port", type=int, default=8001)
    args = parser.parse_args()
    uvicorn.run(
        app,
        host="127.0.0.1",
        port=args.port,
        loop="uvloop",
        http="httptools",
        access_log=False,
        log_level="warning",
    )
