"""Two ``gridmap serve`` processes on one store (both engines): staff changes are checked and
written by the database, not a lock of one process.

- Concurrent changes of different people, one on each server: both kept, every round.
- The same etag sent to both servers at once: one 200, one 409 naming the winner's row.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest
from published import serving_many
from seeded import SECRET, World, seeded_gpkg, seeded_postgis, world

__all__ = ["seeded_gpkg", "seeded_postgis", "world"]

ROUNDS = 20


@pytest.fixture
def two_servers(world: World) -> Iterator[tuple[World, list[str]]]:
    """The world's store served by two ``gridmap serve`` processes; their URLs."""
    if world.settings.database_url:
        args = ["--database-url", world.settings.database_url]
    else:
        args = ["--workspace", str(world.settings.workspace)]
    env = {"GRIDMAP_TOKEN_SECRET": SECRET, "GRIDMAP_RATE_LIMIT_PER_SECOND": "0"}
    with serving_many(args, env, 2) as urls:
        yield world, urls


def _at_once(calls: list[Any]) -> list[httpx.Response]:
    """Run the calls in threads released together."""
    barrier = threading.Barrier(len(calls))

    def run(call: Any) -> httpx.Response:
        barrier.wait()
        return call()

    with ThreadPoolExecutor(len(calls)) as pool:
        return list(pool.map(run, calls))


def test_concurrent_changes_on_two_servers_lose_nothing(
    two_servers: tuple[World, list[str]],
) -> None:
    world, urls = two_servers
    admin = world.as_role("admin")
    with httpx.Client(headers=admin, timeout=60) as http:
        for k in range(ROUNDS):
            # Different people on each server: both changes must stay.
            people = ["S1", "S2"]
            etags = [http.get(f"{urls[0]}/api/staff/{p}").json()["etag"] for p in people]
            phones = [f"023-6{k:03d}{i}000" for i in range(2)]
            answers = _at_once(
                [
                    lambda u=u, p=p, e=e, ph=ph: http.patch(
                        f"{u}/api/staff/{p}", json={"etag": e, "phone_public": ph}
                    )
                    for u, p, e, ph in zip(urls, people, etags, phones, strict=True)
                ]
            )
            assert [a.status_code for a in answers] == [200, 200], [a.text for a in answers]
            for person, phone in zip(people, phones, strict=True):
                for url in urls:
                    assert http.get(f"{url}/api/staff/{person}").json()["phone_public"] == phone

            # The same etag on both servers: accepted once; the loser is told the winner.
            etag = http.get(f"{urls[1]}/api/staff/S3").json()["etag"]
            names = [f"王五{k}甲", f"王五{k}乙"]
            answers = _at_once(
                [
                    lambda u=u, n=n, e=etag: http.patch(
                        f"{u}/api/staff/S3", json={"etag": e, "name": n}
                    )
                    for u, n in zip(urls, names, strict=True)
                ]
            )
            codes = sorted(a.status_code for a in answers)
            assert codes == [200, 409], [a.text for a in answers]
            won = next(a for a in answers if a.status_code == 200).json()
            lost = next(a for a in answers if a.status_code == 409).json()
            assert lost["current"]["name"] == won["name"] and lost["current"]["etag"] == won["etag"]
            assert http.get(f"{urls[0]}/api/staff/S3").json()["name"] == won["name"]
