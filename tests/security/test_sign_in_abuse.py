"""Issue 12 item 3: /api/token is no free argon2 oracle. Attempts are limited per address and
per name before any hash, hashes run a few at a time, names are capped, and lockouts are kept
in the store, so every server process on it sees them (both engines)."""

from __future__ import annotations

import datetime as dt
import secrets
import sys
from pathlib import Path

from fastapi.testclient import TestClient

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "api"))  # the seeded world
from seeded import PASSWORD, ROLE_USERS, World, seeded_gpkg, seeded_postgis, world

from gridmap.api import create_app
from gridmap.api.sign_in_guard import MAX_FAILURES

__all__ = ["seeded_gpkg", "seeded_postgis", "world"]


def guarded(world: World, **limits: object) -> TestClient:
    """The world's store served with the sign-in limits given (the world's app has none)."""
    settings = world.settings.model_copy(update={"sign_in_per_minute": 10, **limits})
    return TestClient(create_app(settings, store=world.store))


def test_a_name_spray_from_one_address_is_stopped_before_hashing(world: World) -> None:
    # One attempt a minute after the burst: the seven refusals' tarpit refills none. It is
    # 0.05 s each here, not the default second: its length is not what this test checks.
    with guarded(world, sign_in_burst=5, sign_in_per_minute=1, sign_in_tarpit_s=0.05) as client:
        answers = [
            client.post("/api/token", data={"username": secrets.token_hex(6), "password": "x"})
            for _ in range(12)
        ]
    codes = [a.status_code for a in answers]
    assert codes[:5] == [401] * 5 and set(codes[5:]) == {429}, codes
    assert int(answers[-1].headers["retry-after"]) >= 1
    assert "address" in answers[-1].json()["detail"]


def test_one_name_is_limited_whatever_the_address(world: World) -> None:
    name = ROLE_USERS["staff"]
    with guarded(world, sign_in_burst=3) as client:
        guard = client.app.state.sign_in_guard  # type: ignore[attr-defined]
        guard.by_address.rate = 0  # as if each attempt came from another address
        codes = [
            client.post("/api/token", data={"username": name, "password": "guess"}).status_code
            for _ in range(5)
        ]
    assert codes == [401, 401, 401, 429, 429], codes


def test_long_names_are_refused_and_not_remembered(world: World) -> None:
    with guarded(world) as client:
        answer = client.post("/api/token", data={"username": "a" * 101, "password": "x"})
        assert answer.status_code == 422 and "username" in answer.json()["detail"]
        huge = client.post("/api/token", data={"username": "a" * 2_000_000, "password": "x"})
        assert huge.status_code == 413
    since = dt.datetime.now(dt.UTC) - dt.timedelta(hours=1)
    assert world.store.sign_in_failures("a" * 101, since) == []


def test_no_hash_starts_while_every_slot_is_taken(world: World) -> None:
    """With every hashing slot held, a sign-in is a 503 with Retry-After after a short wait,
    not one more argon2 hash (64 MiB, a core) queued behind the others."""
    with guarded(world, sign_in_concurrency=1) as client:
        guard = client.app.state.sign_in_guard  # type: ignore[attr-defined]
        with guard.hashing():  # the one slot, held as a slow hash would hold it
            busy = client.post(
                "/api/token", data={"username": ROLE_USERS["admin"], "password": PASSWORD}
            )
        assert busy.status_code == 503 and busy.headers["retry-after"] == "1"
        assert busy.json()["error"] == "service_busy"
        freed = client.post(
            "/api/token", data={"username": ROLE_USERS["admin"], "password": PASSWORD}
        )
        assert freed.status_code == 200


def test_a_lockout_holds_in_every_process_on_the_store(world: World) -> None:
    """Two apps on one store (as two server processes): a name locked through one is locked
    through the other, and a right password through either clears nothing until it ends."""
    name = ROLE_USERS["planner"]
    with guarded(world, sign_in_burst=100) as one, guarded(world, sign_in_burst=100) as other:
        for _ in range(MAX_FAILURES):
            answer = one.post("/api/token", data={"username": name, "password": "guess"})
            assert answer.status_code == 401
        refused = other.post("/api/token", data={"username": name, "password": PASSWORD})
        assert refused.status_code == 429 and int(refused.headers["retry-after"]) > 0
        fine = other.post(
            "/api/token", data={"username": ROLE_USERS["admin"], "password": PASSWORD}
        )
        assert fine.status_code == 200
