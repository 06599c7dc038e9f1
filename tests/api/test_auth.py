"""Signing in: /api/token, argon2 hashes, HS256 tokens (expiry, tampering, wrong key), the
token key kept beside the workspace, request size limits, and ``gridmap user add``."""

from __future__ import annotations

import datetime as dt
import json
import stat
from pathlib import Path

import handmade
import jwt
import pytest
from seeded import PASSWORD, ROLE_USERS, SECRET, World, seeded_gpkg, seeded_postgis, world
from typer.testing import CliRunner

from gridmap.api.auth import hash_password, issue_token, role_at_least, token_secret
from gridmap.cli import app as cli
from gridmap.settings import Settings
from gridmap.store import GpkgStore

__all__ = ["seeded_gpkg", "seeded_postgis", "world"]


def sign_in(w: World, name: str, password: str) -> tuple[int, dict]:  # type: ignore[type-arg]
    answer = w.client.post("/api/token", data={"username": name, "password": password})
    return answer.status_code, answer.json()


def test_password_flow_gives_a_token_that_works(world: World) -> None:
    status, body = sign_in(world, ROLE_USERS["planner"], PASSWORD)
    assert status == 200 and body["token_type"] == "bearer" and body["role"] == "planner"
    assert body["expires_in"] == world.settings.token_minutes * 60
    claims = jwt.decode(body["access_token"], SECRET, algorithms=["HS256"])
    assert claims["sub"] == ROLE_USERS["planner"] and claims["exp"] > claims["iat"]
    me = world.client.get(
        "/api/users/me", headers={"Authorization": f"Bearer {body['access_token']}"}
    )
    assert me.status_code == 200 and me.json()["role"] == "planner"
    assert "password_hash" not in me.json()


@pytest.mark.parametrize(
    ("name", "password"),
    [("ada", "wrong password"), ("nobody", PASSWORD), ("ada", ""), ("", PASSWORD)],
)
def test_wrong_credentials_are_one_401(world: World, name: str, password: str) -> None:
    answer = world.client.post("/api/token", data={"username": name, "password": password})
    assert answer.status_code in (401, 422)
    if answer.status_code == 401:
        assert answer.headers["www-authenticate"] == "Bearer"
        assert answer.json()["error"] == "unauthorized"
        assert "access_token" not in answer.json()


def test_repeated_wrong_passwords_lock_the_name(world: World) -> None:
    from gridmap.api.sign_in_guard import MAX_FAILURES

    name = ROLE_USERS["staff"]
    for _ in range(MAX_FAILURES):
        assert sign_in(world, name, "guess")[0] == 401
    status, body = sign_in(world, name, PASSWORD)  # even the right password, for now
    assert status == 429 and body["error"] == "too_many_requests"
    answer = world.client.post("/api/token", data={"username": name, "password": PASSWORD})
    assert int(answer.headers["retry-after"]) > 0
    assert sign_in(world, ROLE_USERS["admin"], PASSWORD)[0] == 200  # other names are not locked


def test_stored_password_is_an_argon2_hash(world: World) -> None:
    user = world.store.user(ROLE_USERS["admin"])
    assert user.password_hash.startswith("$argon2id$") and PASSWORD not in user.password_hash


@pytest.mark.parametrize("case", ["expired", "other_key", "tampered", "unknown_user", "garbage"])
def test_bad_tokens_are_401_never_anonymous(world: World, case: str) -> None:
    admin = world.store.user(ROLE_USERS["admin"])
    past = dt.datetime.now(dt.UTC) - dt.timedelta(hours=2)
    token = {
        "expired": issue_token(admin, SECRET, 30, now=past),
        "other_key": issue_token(admin, "another-key-" + "z" * 40, 30),
        "tampered": _with_claim(issue_token(world.store.user("pat"), SECRET, 30), "ada"),
        "unknown_user": jwt.encode(
            {"sub": "mallory", "exp": dt.datetime.now(dt.UTC) + dt.timedelta(minutes=5)},
            SECRET,
            algorithm="HS256",
        ),
        "garbage": "not-a-jwt",
    }[case]
    headers = {"Authorization": f"Bearer {token}"}
    answer = world.client.get("/api/users", headers=headers)
    assert answer.status_code == 401 and answer.headers["www-authenticate"] == "Bearer"
    # An open endpoint that reads the sign-in: a lapsed one is said, not taken as anonymous.
    form = {"service_code": "city.env.exposed_garbage", "lat": "29.522", "long": "106.562"}
    answer = world.client.post("/open311/v2/requests.json", data=form, headers=headers)
    assert answer.status_code == 401, answer.text
    assert len(world.store.incidents()) == 1  # nothing recorded


def test_unsigned_token_is_refused(world: World) -> None:
    token = jwt.encode({"sub": "ada", "exp": 4102444800}, key=None, algorithm="none")
    answer = world.client.get("/api/users", headers={"Authorization": f"Bearer {token}"})
    assert answer.status_code == 401


def _with_claim(token: str, name: str) -> str:
    """``token`` with its payload's ``sub`` replaced, keeping the old signature."""
    import base64

    head, _, rest = token.partition(".")
    _, _, signature = rest.partition(".")
    payload = base64.urlsafe_b64encode(
        json.dumps({"sub": name, "exp": 4102444800}).encode()
    ).rstrip(b"=")
    return f"{head}.{payload.decode()}.{signature}"


def test_admin_adds_users_who_can_sign_in(world: World) -> None:
    admin = world.as_role("admin")
    made = world.client.post(
        "/api/users",
        json={"name": "li.lei", "role": "staff", "password": "a long secret"},
        headers=admin,
    )
    assert made.status_code == 201 and made.json()["role"] == "staff"
    again = world.client.post(
        "/api/users",
        json={"name": "li.lei", "role": "admin", "password": "a long secret"},
        headers=admin,
    )
    assert again.status_code == 409
    assert world.store.user("li.lei").role == "staff"  # the taken name was not overwritten
    status, body = sign_in(world, "li.lei", "a long secret")
    assert status == 200 and body["role"] == "staff"
    listed = world.client.get("/api/users", headers=admin).json()["users"]
    assert {u["name"] for u in listed} >= {"li.lei", *ROLE_USERS.values()}
    assert all("password_hash" not in u for u in listed)


def test_roles_are_hierarchical() -> None:
    order = ["public", "staff", "planner", "admin"]
    for i, have in enumerate(order):
        for j, need in enumerate(order):
            assert role_at_least(have, need) is (i >= j)
    assert not role_at_least("intruder", "public")


def test_write_bodies_over_the_limit_are_413(world: World) -> None:
    limit = world.settings.max_write_bytes
    big = {"lon": 106.56, "lat": 29.52, "category": "市容环境", "description": "x" * (limit + 10)}
    answer = world.client.post("/api/incidents", json=big, headers=world.as_role("staff"))
    assert answer.status_code == 413 and answer.json()["error"] == "payload_too_large"

    def chunks():  # no Content-Length: cut off while streaming
        for _ in range(limit // 1000 + 2):
            yield b" " * 1000

    streamed = world.client.post(
        "/api/incidents",
        content=chunks(),
        headers={**world.as_role("staff"), "Content-Type": "application/json"},
    )
    assert streamed.status_code == 413
    assert len(world.store.incidents()) == 1  # only the seeded one


def test_token_key_is_generated_once_and_kept(tmp_path: Path) -> None:
    settings = Settings(workspace=tmp_path / "w.gpkg")
    first = token_secret(settings)
    path = tmp_path / "w.gpkg.secret"
    assert path.exists() and stat.S_IMODE(path.stat().st_mode) == 0o600
    assert token_secret(settings) == first and len(first) >= 32
    assert token_secret(Settings(workspace=tmp_path / "w.gpkg", token_secret="s" * 32)) == "s" * 32


def test_token_survives_a_restart_with_the_kept_key(tmp_path: Path) -> None:
    from fastapi.testclient import TestClient

    from gridmap.api import create_app

    path = tmp_path / "w.gpkg"
    with GpkgStore(path) as store:
        handmade.fill(store)
        store.add_user("ann", "planner", hash_password(PASSWORD), actor="test")
    settings = Settings(workspace=path)
    with TestClient(create_app(settings)) as client:
        token = client.post("/api/token", data={"username": "ann", "password": PASSWORD}).json()[
            "access_token"
        ]
    with TestClient(create_app(settings)) as client:
        me = client.get("/api/users/me", headers={"Authorization": f"Bearer {token}"})
        assert me.status_code == 200 and me.json()["name"] == "ann"


def test_cli_user_add_from_stdin(tmp_path: Path) -> None:
    path = tmp_path / "w.gpkg"
    runner = CliRunner()
    done = runner.invoke(
        cli,
        ["user", "add", "wang", "--role", "admin", "--password-stdin", "-w", str(path), "--json"],
        input="a good password\n",
    )
    assert done.exit_code == 0, done.output
    assert json.loads(done.stdout.splitlines()[-1])["role"] == "admin"
    with GpkgStore(path) as store:
        user = store.user("wang")
    from gridmap.api.auth import verify_password

    assert verify_password(user.password_hash, "a good password")
    assert not verify_password(user.password_hash, "another password")
    refused = runner.invoke(
        cli,
        ["user", "add", "zhao", "--role", "boss", "--password-stdin", "-w", str(path)],
        input="a good password\n",
    )
    assert refused.exit_code == 2 and "--role" in refused.output
    short = runner.invoke(
        cli,
        ["user", "add", "zhao", "--role", "staff", "--password-stdin", "-w", str(path)],
        input="short\n",
    )
    assert short.exit_code == 2
    twice = runner.invoke(
        cli,
        ["user", "add", "wang", "--role", "staff", "--password-stdin", "-w", str(path)],
        input="a good password\n",
    )
    assert twice.exit_code == 2
    with GpkgStore(path) as store:
        assert [u.name for u in store.users()] == ["wang"]


def test_cli_user_add_asks_twice(tmp_path: Path) -> None:
    path = tmp_path / "w.gpkg"
    runner = CliRunner()
    mismatch = runner.invoke(
        cli, ["user", "add", "qian", "--role", "staff", "-w", str(path)],
        input="first password\nsecond password\nfirst password\nfirst password\n",
    )  # fmt: skip
    assert mismatch.exit_code == 0, mismatch.output  # typer asks again until both match
    listed = runner.invoke(cli, ["user", "list", "-w", str(path), "--json"])
    assert json.loads(listed.stdout)["users"] == [
        {
            "name": "qian",
            "role": "staff",
            "active": True,
            "scope": [],
            "duties": [],
            "department": None,
        }
    ]
    assert "password" not in listed.stdout.replace('"users"', "")
