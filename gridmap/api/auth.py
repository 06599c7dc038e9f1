"""Who is asking: OAuth2 password sign-in, signed short-lived tokens, and role checks.

Roles are hierarchical, each including the ones before it::

    public  <  staff  <  planner  <  admin
    (anyone)  (incidents)  (plans, edits)  (users, staff, publish)

An anonymous caller counts as ``public``. ``require("staff")`` lets staff, planners and admins
through. Passwords are hashed with argon2 (argon2-cffi); tokens are JWTs signed with HS256 by
the key of :func:`token_secret` and carry the user's name (``sub``) and an expiry (``exp``).
The role is read from the store on every request, so demoting or deactivating a user takes
effect at once, not when the token expires. docs/api-security.md says more.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import os
import secrets
from collections.abc import Callable
from pathlib import Path
from typing import Annotated

import jwt
from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.security import OAuth2PasswordBearer, OAuth2PasswordRequestForm
from pydantic import BaseModel

from gridmap.api.deps import StoreDep
from gridmap.api.errors import ApiError
from gridmap.api.sign_in_guard import SignInGuard
from gridmap.api.write_limits import LimitedRoute
from gridmap.errors import InputError, NotFoundError
from gridmap.service.users import ROLES, hash_password, role_at_least, verify_password
from gridmap.settings import Settings
from gridmap.store.contract import User

__all__ = [
    "ROLES",
    "Token",
    "hash_password",
    "issue_token",
    "optional_user",
    "require",
    "role_at_least",
    "router",
    "startup",
    "token_secret",
    "verify_password",
]

_ALGORITHM = "HS256"
_CHALLENGE = {"WWW-Authenticate": "Bearer"}

_log = logging.getLogger(__name__)
_bearer = OAuth2PasswordBearer(tokenUrl="/api/token", auto_error=False)

router = APIRouter(tags=["security"], route_class=LimitedRoute)  # a capped body for /api/token too


class Token(BaseModel):
    """The answer of /api/token (RFC 6749 §5.1)."""

    access_token: str
    token_type: str = "bearer"
    expires_in: int
    role: str


def token_secret(settings: Settings) -> str:
    """The key that signs tokens: ``settings.token_secret``, else one generated once and kept
    in ``settings.token_secret_file`` (default ``<workspace>.secret``, mode 0600).

    Two processes starting together agree on one key. When the file cannot be written, the key
    lives only as long as the process (a warning says so).
    """
    if settings.token_secret is not None:
        value = settings.token_secret.get_secret_value()
        if len(value) < 32:
            raise InputError("token_secret: use at least 32 characters (GRIDMAP_TOKEN_SECRET)")
        return value
    path = settings.token_secret_file or Path(f"{settings.workspace}.secret")
    if not path.exists():
        try:
            _create_key_file(path)
        except OSError as exc:
            _log.warning(
                "%s: cannot keep a token key there (%s); using a key for this process only, so "
                "sign-ins end when it stops. Set GRIDMAP_TOKEN_SECRET.",
                path,
                exc.strerror,
            )
            return secrets.token_urlsafe(48)
    value = path.read_text(encoding="ascii").strip()
    if len(value) < 32:
        raise InputError(f"{path}: the token key there is too short; delete the file")
    return value


def _create_key_file(path: Path) -> None:
    # Written whole to a private temporary file, then linked into place: link() fails when the
    # name exists, so two processes starting together end up reading one and the same key.
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w", encoding="ascii") as out:
            out.write(secrets.token_urlsafe(48) + "\n")
        with contextlib.suppress(FileExistsError):
            os.link(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def _secret(request: Request) -> str:
    secret: str | None = getattr(request.app.state, "token_secret", None)
    if secret is None:
        secret = token_secret(request.app.state.settings)
        request.app.state.token_secret = secret
    return secret


def issue_token(user: User, secret: str, minutes: int, now: dt.datetime | None = None) -> str:
    """A signed token naming ``user``, valid for ``minutes``."""
    now = now or dt.datetime.now(dt.UTC)
    claims = {"sub": user.name, "iat": now, "exp": now + dt.timedelta(minutes=minutes)}
    return jwt.encode(claims, secret, algorithm=_ALGORITHM)


def optional_user(
    request: Request, store: StoreDep, token: Annotated[str | None, Depends(_bearer)] = None
) -> User | None:
    """The signed-in user, or None for an anonymous caller.

    A token that is present but invalid, expired, or names an unknown or inactive user is a
    401 (never silently anonymous: the caller should learn that its sign-in lapsed).
    """
    if not token:
        return None
    try:
        claims = jwt.decode(
            token, _secret(request), algorithms=[_ALGORITHM], options={"require": ["exp", "sub"]}
        )
    except jwt.ExpiredSignatureError:
        raise ApiError(
            "unauthorized", "登录已过期 (token expired): sign in again", _CHALLENGE
        ) from None
    except jwt.PyJWTError:
        raise ApiError("unauthorized", "无效的令牌 (invalid token)", _CHALLENGE) from None
    name = claims.get("sub")
    try:
        user = store.user(str(name))
    except NotFoundError:
        raise ApiError("unauthorized", f"unknown user {name!r}", _CHALLENGE) from None
    if not user.active:
        raise ApiError("unauthorized", f"user {name!r} is disabled", _CHALLENGE)
    return user


def require(role: str) -> Callable[..., User]:
    """A dependency that lets through users whose role includes ``role``.

    No token: 401 with ``WWW-Authenticate: Bearer``; a user of a lesser role: 403.
    ``require("public")`` still asks for a signed-in user (of any role).
    """
    if role not in ROLES:
        raise InputError(f"role: {role!r} is not one of {', '.join(ROLES)}")

    def dependency(user: Annotated[User | None, Depends(optional_user)]) -> User:
        if user is None:
            raise ApiError("unauthorized", f"请先登录 (sign in as {role} or above)", _CHALLENGE)
        if not role_at_least(user.role, role):
            raise ApiError(
                "forbidden", f"权限不足: {user.name} is {user.role}; this needs {role} or above"
            )
        return user

    dependency.__name__ = f"require_{role}"
    return dependency


@router.post("/api/token", response_model=Token, summary="Sign in (OAuth2 password flow)")
def token(
    request: Request, store: StoreDep, form: Annotated[OAuth2PasswordRequestForm, Depends()]
) -> Token:
    """Exchange a user name and password for a bearer token (form fields username, password).

    Attempts are limited per client address and per name before any password is hashed (429
    with Retry-After), hashes run a few at a time (503 with Retry-After when busy), and after
    :data:`~gridmap.api.sign_in_guard.MAX_FAILURES` wrong passwords for one name within
    :data:`~gridmap.api.sign_in_guard.FAILURE_WINDOW_S` seconds that name is refused (429)
    until the window has passed. See :mod:`gridmap.api.sign_in_guard`.
    """
    settings: Settings = request.app.state.settings
    guard = _guard(request)
    guard.admit(form.username)
    try:
        user = store.user(form.username)
    except (NotFoundError, InputError):
        user = None
    with guard.hashing():
        if user is None:
            verify_password(_DUMMY_HASH, form.password)  # the same time whether the name exists
            right = False
        else:
            right = user.active and verify_password(user.password_hash, form.password)
    if user is None or not right:
        guard.failures.failed(form.username)
        raise ApiError("unauthorized", "用户名或密码错误 (wrong user name or password)", _CHALLENGE)
    guard.failures.forget(form.username)
    access = issue_token(user, _secret(request), settings.token_minutes)
    return Token(access_token=access, expires_in=settings.token_minutes * 60, role=user.role)


def _guard(request: Request) -> SignInGuard:
    guard: SignInGuard | None = getattr(request.app.state, "sign_in_guard", None)
    if guard is None:
        guard = request.app.state.sign_in_guard = SignInGuard(
            request.app.state.settings, request.app.state.store
        )
    return guard


_DUMMY_HASH = hash_password(secrets.token_hex(8))


async def startup(app: FastAPI) -> None:
    """Resolve the signing key once, so a missing or unwritable key fails at start."""
    app.state.token_secret = token_secret(app.state.settings)
    app.state.sign_in_guard = SignInGuard(app.state.settings, app.state.store)
