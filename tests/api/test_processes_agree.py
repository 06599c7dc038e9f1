"""Two ``gridmap serve`` processes on one store agree (issue 13), on both engines.

- One rate limit: a client that spent its budget on A is refused by B once B has synced
  (B would grant a whole burst of its own if the buckets were per process).
- One sign-in lockout, and one per-address sign-in budget.
- A publication through A is answered by B's lookup and tiles: on a GeoPackage by B's
  polling of the change count; on PostGIS by LISTEN/NOTIFY (B polls only every 600 s there,
  so nothing else can explain a prompt answer).

Each client is told apart by ``X-Forwarded-For`` (uvicorn trusts it from 127.0.0.1), so the
checks do not spend each other's budget. Waits poll; none asserts on a duration.
"""

from __future__ import annotations

import itertools
import math
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from typing import Any

import httpx
import mapbox_vector_tile
import pytest
from published import serving_many
from seeded import (
    ENGINES,
    PASSWORD,
    ROLE_USERS,
    SECRET,
    World,
    copied_world,
    seeded_gpkg,
    seeded_postgis,
)

from gridmap.service.plans import partition_store

__all__ = ["seeded_gpkg", "seeded_postgis"]

BURST = 30  # public requests, and sign-in attempts, a client may make at once
PROBE_S = 0.5  # between probes of B: B grants one token per probe until it has synced
WAIT_S = 120  # how long B may take to answer a publication before the test gives up


@pytest.fixture(scope="module", params=ENGINES)
def two_servers(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[World, list[str]]]:
    """A seeded store served by two ``gridmap serve`` processes (one pair per engine, for the
    module: starting servers is the slow part); the world and the servers' URLs."""
    with ExitStack() as stack:
        world = stack.enter_context(copied_world(request, tmp_path_factory.mktemp("agree")))
        yield world, _serve_twice(world, stack)


def _serve_twice(world: World, stack: ExitStack) -> list[str]:
    if world.settings.database_url:
        args = ["--database-url", world.settings.database_url]
        refresh = "600"  # only NOTIFY can make B answer a publication within WAIT_S
    else:
        args = ["--workspace", str(world.settings.workspace)]
        refresh = "0.5"
    env = {
        "GRIDMAP_TOKEN_SECRET": SECRET,
        "GRIDMAP_REFRESH_SECONDS": refresh,
        "GRIDMAP_RATE_LIMIT_PER_SECOND": "0.001",  # no refill to speak of during the test
        "GRIDMAP_RATE_LIMIT_BURST": str(BURST),
        "GRIDMAP_SIGN_IN_PER_MINUTE": "0.06",
        "GRIDMAP_SIGN_IN_BURST": str(BURST),
        "GRIDMAP_SIGN_IN_TARPIT_S": "0",
    }
    return stack.enter_context(serving_many(args, env, 2))


def spend_then_probe(send: Callable[[str], httpx.Response], a: str, b: str) -> int:
    """Spend the client's whole budget on ``a``, then probe ``b`` until it refuses too; the
    probes ``b`` granted (at most BURST: then it never refused)."""
    for _ in range(BURST + 1):
        if send(a).status_code == 429:
            break
    else:
        pytest.fail(f"{a} granted more than the burst ({BURST})")
    granted = 0
    while granted < BURST:
        answer = send(b)
        if answer.status_code == 429:
            assert "Retry-After" in answer.headers
            break
        granted += 1
        time.sleep(PROBE_S)
    return granted


def test_one_rate_limit(two_servers: tuple[World, list[str]]) -> None:
    _, (a, b) = two_servers
    client = as_client("10.9.0.1")
    with httpx.Client(timeout=30) as http:
        granted = spend_then_probe(
            lambda url: http.get(f"{url}/api/search", params={"q": "南湖"}, headers=client), a, b
        )
        assert granted < BURST, "B kept a budget of its own"
        refused = http.get(f"{b}/api/search", params={"q": "南湖"}, headers=client)
        assert refused.status_code == 429 and "10.9.0.1" in refused.json()["detail"]
        other = as_client("10.9.0.2")  # another client keeps its budget
        assert http.get(f"{b}/api/search", params={"q": "南湖"}, headers=other).status_code == 200


def test_one_sign_in_lockout_and_budget(two_servers: tuple[World, list[str]]) -> None:
    _, (a, b) = two_servers
    name = ROLE_USERS["public"]
    with httpx.Client(timeout=60) as http:

        def sign_in(url: str, address: str, user: str, password: str) -> httpx.Response:
            form = {"username": user, "password": password}
            return http.post(f"{url}/api/token", data=form, headers=as_client(address))

        assert sign_in(b, "10.9.1.1", name, PASSWORD).status_code == 200
        for _ in range(10):  # MAX_FAILURES wrong passwords through A
            assert sign_in(a, "10.9.1.1", name, "wrong password").status_code == 401
        locked = sign_in(b, "10.9.1.2", name, PASSWORD)  # the right one, through B
        assert locked.status_code == 429, locked.text
        assert "failed sign-ins" in locked.json()["detail"]

        # Names over the limit are refused (422) after the address's gate took its token and
        # before any hash: a cheap way to spend an address's sign-in budget.
        granted = spend_then_probe(lambda url: sign_in(url, "10.9.1.3", "n" * 101, "x"), a, b)
        assert granted < BURST, "B kept a sign-in budget of its own for the address"
        assert "from this address" in sign_in(b, "10.9.1.3", "sam", "x").json()["detail"]


def test_a_publication_through_a_is_answered_by_b(two_servers: tuple[World, list[str]]) -> None:
    world, (a, b) = two_servers
    grids = world.store.revision(world.plan_id).grids
    point = grids.geometry.iloc[0].representative_point()
    z, x, y = tile_holding(grids.total_bounds)
    plan_id = partition_store(  # more, smaller grids than the plan in force
        world.store,
        communities=None,
        target=1500,
        tolerance=0.2,
        weight=world.settings.weight,
        seed=0,
        metric_epsg=world.settings.metric_epsg,
        actor="paula",
    )["plan"]
    clients = (f"10.9.2.{k % 250}" for k in itertools.count())  # polls stay under the limit
    with httpx.Client(timeout=60) as http:

        def lookup() -> Any:
            ask = {"lon": point.x, "lat": point.y}
            return http.get(f"{b}/api/lookup", params=ask, headers=as_client(next(clients))).json()

        def tile_codes() -> set[str]:
            answer = http.get(f"{b}/tiles/grids/{z}/{x}/{y}.mvt", headers=as_client(next(clients)))
            assert answer.status_code == 200
            features = mapbox_vector_tile.decode(answer.content)["grids"]["features"]
            return {f["properties"]["code"] for f in features}

        assert lookup()["grid"]["plan_id"] == world.plan_id
        assert tile_codes() == set(grids["code"])  # now in B's tile cache
        published = http.post(f"{a}/api/plans/{plan_id}/publish", headers=world.as_role("admin"))
        assert published.status_code == 200, published.text
        until("B's lookup to answer the new plan", lambda: lookup()["grid"]["plan_id"] == plan_id)
        new_codes = set(world.store.revision(plan_id).grids["code"])
        assert len(new_codes) > len(grids)
        until("B's tile to show the new grids", lambda: tile_codes() == new_codes)


def as_client(address: str) -> dict[str, str]:
    return {"X-Forwarded-For": address}


def tile_holding(bounds: Any) -> tuple[int, int, int]:
    """The deepest XYZ tile (z <= 16) that holds the whole lon/lat box ``bounds``."""

    def tile(lon: float, lat: float, z: int) -> tuple[int, int]:
        n = 1 << z
        y = (1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n
        return int((lon + 180) / 360 * n), int(y)

    west, south, east, north = bounds
    for z in range(16, -1, -1):
        if tile(west, north, z) == tile(east, south, z):
            return (z, *tile(west, north, z))
    raise AssertionError("unreachable: z 0 holds everything")


def until(what: str, check: Callable[[], bool]) -> None:
    """Poll ``check`` until it is true; fail naming ``what`` after WAIT_S."""
    deadline = time.monotonic() + WAIT_S
    while not check():
        if time.monotonic() > deadline:
            pytest.fail(f"waited {WAIT_S} s for {what}")
        time.sleep(0.2)
