"""What keeps ``POST /api/token`` from being a free argon2 oracle.

Each sign-in attempt costs an argon2 hash (about 64 MiB and 50 ms of a core). Without limits
20 clients spraying random names held a server at 6 attempts/s, grew it from 722 MB to 2 GB,
and slowed every lookup 13-fold. So, before any hashing:

- names longer than :data:`MAX_NAME` are refused (422) and never remembered;
- token buckets per client address (:class:`SignInGate`, before the request is parsed) and
  per user name (``settings.sign_in_per_minute``, ``sign_in_burst``) answer 429 with
  Retry-After;
- at most ``settings.sign_in_concurrency`` hashes run at once; an attempt that cannot start one
  within :data:`WAIT_S` gets 503 with Retry-After instead of queueing without end.

Every server process on one store sees the same limits: wrong passwords per name are counted
by :class:`FailedSignIns` in the store (for the lockout window only; a sign-in is rare and costs
a hash, so a row per failure is cheap), and the per-address and per-name buckets are shared
through the store by :class:`gridmap.api.limits.SharedLimits` (as ``sign_in_address`` and
``sign_in_name``), with about ``settings.rate_limit_sync_seconds`` of lag, so that a refusal
stays a few microseconds of memory work.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import math
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from starlette.types import ASGIApp, Receive, Scope, Send

from gridmap.api.errors import ApiError, error_body
from gridmap.api.limits import TokenBuckets
from gridmap.errors import InputError
from gridmap.settings import Settings
from gridmap.store.common import MAX_USER_NAME
from gridmap.store.contract import Store

__all__ = [
    "FAILURE_WINDOW_S",
    "MAX_FAILURES",
    "MAX_NAME",
    "FailedSignIns",
    "SignInGate",
    "SignInGuard",
]

MAX_NAME = MAX_USER_NAME  # characters of a user name (the store refuses longer new names)
MAX_FAILURES = 10  # wrong passwords for one name within FAILURE_WINDOW_S lock it
FAILURE_WINDOW_S = 300
WAIT_S = 1.0  # how long an attempt may wait for a hashing slot


class FailedSignIns:
    """Wrong passwords per user name in a sliding window, kept in the store, so that every
    server process on it sees the same lockout (a name locked through one is locked through
    all). Failures older than the window are deleted as new ones are written."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def blocked(self, name: str, now: dt.datetime | None = None) -> int:
        """Seconds until ``name`` may try again (0: now)."""
        now = now or dt.datetime.now(dt.UTC)
        window = dt.timedelta(seconds=FAILURE_WINDOW_S)
        recent = self.store.sign_in_failures(name, now - window)
        if len(recent) < MAX_FAILURES:
            return 0
        free_at = recent[-MAX_FAILURES] + window
        return max(1, math.ceil((free_at - now).total_seconds()))

    def failed(self, name: str) -> None:
        keep_since = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=FAILURE_WINDOW_S)
        self.store.record_sign_in_failure(name, keep_since=keep_since)

    def forget(self, name: str) -> None:
        self.store.forget_sign_in_failures(name)


class SignInGuard:
    """The limits of :mod:`this module <gridmap.api.sign_in_guard>`, one per app.

    ``by_address`` and ``by_name`` are kept in step with the other processes' by the app's
    :class:`~gridmap.api.limits.SharedLimits` task, which finds them on
    ``app.state.sign_in_guard``."""

    def __init__(self, settings: Settings, store: Store) -> None:
        rate, shared = settings.sign_in_per_minute / 60.0, settings.rate_limit_sync_seconds > 0
        self.by_address = TokenBuckets(rate, settings.sign_in_burst, shared=shared)
        self.by_name = TokenBuckets(rate, settings.sign_in_burst, shared=shared)
        self.failures = FailedSignIns(store)
        self._slots = threading.BoundedSemaphore(settings.sign_in_concurrency)
        self.tarpit_s = settings.sign_in_tarpit_s

    def admit(self, name: str) -> None:
        """Refuse an attempt before it costs a hash: too long a name, too many attempts for
        this name, or a locked name. (Attempts per address are counted earlier, by
        :class:`SignInGate`, before the request is even parsed.)"""
        if len(name) > MAX_NAME:
            raise InputError(f"username: longer than {MAX_NAME} characters")
        wait = self.by_name.take(name)
        if wait > 0:
            raise _too_many(f"too many sign-in attempts for {name!r}", wait)
        locked = self.failures.blocked(name)
        if locked:
            raise _too_many(f"too many failed sign-ins for {name!r}", locked)

    @contextmanager
    def hashing(self) -> Iterator[None]:
        """A slot to compute a password hash in; 503 when none frees up within WAIT_S."""
        if not self._slots.acquire(timeout=WAIT_S):
            raise ApiError(
                "service_busy",
                "登录繁忙 (sign-in is busy): retry in 1 s",
                {"Retry-After": "1"},
            )
        try:
            yield
        finally:
            self._slots.release()


class SignInGate:
    """ASGI middleware: ``POST /api/token`` from an address over its sign-in rate is a 429
    before anything else is done. A sprayer's refused attempts then cost the server tens of
    microseconds each (no routing, form parsing or thread hop), so the same process keeps
    answering lookups: measured by bench/signin.py."""

    def __init__(self, app: ASGIApp, path: str = "/api/token") -> None:
        self.app, self.path = app, path

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "POST" and scope["path"] == self.path:
            guard: SignInGuard | None = getattr(scope["app"].state, "sign_in_guard", None)
            if guard is not None:
                client = scope.get("client")
                wait = guard.by_address.take(client[0] if client else "unknown")
                if wait > 0:
                    refusal = _too_many("too many sign-in attempts from this address", wait)
                    # A tarpit: the refusal waits (an idle coroutine costs nothing), so a
                    # sprayer on N connections gets N refusals a second, not thousands.
                    await asyncio.sleep(min(wait, guard.tarpit_s))
                    await _answer(send, 429, refusal)
                    return
        await self.app(scope, receive, send)


async def _answer(send: Send, status: int, error: ApiError) -> None:
    body = json.dumps(error_body(error.code, str(error)), ensure_ascii=False).encode()
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
        *((k.lower().encode(), v.encode()) for k, v in error.headers.items()),
    ]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def _too_many(why: str, wait: float) -> ApiError:
    seconds = max(1, math.ceil(wait))
    return ApiError(
        "too_many_requests",
        f"登录尝试过于频繁 ({why}): retry in {seconds} s",
        {"Retry-After": str(seconds)},
    )
