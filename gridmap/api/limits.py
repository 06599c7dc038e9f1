"""Limits on public endpoints: a token bucket per client IP, shared by every server process on
the store, and CORS.

- :func:`rate_limited`, an async dependency of the public routers: each client IP has a bucket
  of ``settings.rate_limit_burst`` tokens refilled at ``settings.rate_limit_per_second``; an
  empty bucket is a 429 {"error": "too_many_requests"} with ``Retry-After``. 0 per second turns
  it off (then a request costs one attribute read).
- :func:`charge`: heavier work takes more tokens, so the limit counts cost, not requests: a
  layer answer one per :data:`FEATURES_PER_TOKEN` features, a lookup at a past date whose index
  is not cached :data:`HISTORY_INDEX_TOKENS`.
- :class:`SharedLimits`, started by :func:`startup`: every ``settings.rate_limit_sync_seconds``
  a background task adds what this process's buckets (the public one and the sign-in ones of
  :mod:`gridmap.api.sign_in_guard`) gave out to the store's ``rate_usage`` table and takes from
  them what the other processes on the store gave out, in one short transaction. A request
  never waits for the store; a client's budget is shared by all processes with at most about
  one sync interval of lag (docs/api-security.md, "Several processes").
- :func:`install_limits`: the buckets, and CORS only for ``settings.cors_origins`` (none by
  default: the web app is served by the same process). Request bodies are capped by
  :mod:`gridmap.api.write_limits` on the routers that take them (the public side takes none).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import secrets
import threading
import time
from collections.abc import Mapping

from fastapi import APIRouter, FastAPI, Request
from fastapi.middleware.cors import CORSMiddleware
from starlette.concurrency import run_in_threadpool

from gridmap.api.errors import ApiError
from gridmap.settings import Settings
from gridmap.store.contract import Store

__all__ = [
    "FEATURES_PER_TOKEN",
    "HISTORY_INDEX_TOKENS",
    "SLOT_S",
    "SharedLimits",
    "TokenBuckets",
    "charge",
    "install_limits",
    "rate_limited",
    "router",
    "shutdown",
    "startup",
]

router = APIRouter(include_in_schema=False)  # no routes: a lifespan task
_log = logging.getLogger(__name__)

_MAX_CLIENTS = 100_000  # buckets kept; the oldest full ones are dropped beyond this

# What work costs, in tokens of a client's bucket (one token: a lookup, ~2 ms of CPU). Measured:
# a layer answer takes ~55 µs of CPU per feature to encode (31,165 buildings: 1.7 s), and a
# lookup at a past date whose grids are not cached builds an index (250-380 ms).
FEATURES_PER_TOKEN = 40
HISTORY_INDEX_TOKENS = 150

# Shared usage is kept per SLOT_S-second slot of Unix time; each sync reads the current and the
# previous slot (so clocks may differ by up to SLOT_S between hosts) and deletes slots older
# than _KEEP_SLOTS.
SLOT_S = 10
_KEEP_SLOTS = 6


class TokenBuckets:
    """One token bucket per key: ``burst`` tokens, refilled at ``rate`` per second.

    Examples
    --------
    >>> buckets = TokenBuckets(rate=1.0, burst=2)
    >>> [buckets.take("a", now=0.0) for _ in range(3)]
    [0.0, 0.0, 1.0]
    >>> buckets.take("a", now=1.0)
    0.0

    Tokens another process gave out for the same key come off with :meth:`spend`:

    >>> buckets.spend("a", 1.0, now=2.0)
    >>> buckets.take("a", now=2.0)
    1.0
    """

    def __init__(self, rate: float, burst: int, *, shared: bool = False) -> None:
        self.rate, self.burst = float(rate), max(1, int(burst))
        self._lock = threading.Lock()
        self._buckets: dict[str, tuple[float, float]] = {}  # key → (tokens, last time)
        # when shared: given out since the last sync. Counted from the start, not from the
        # first sync: a server answers before that, and what it gave out then counts too.
        self._taken: dict[str, float] | None = {} if shared else None

    def take(self, key: str, now: float | None = None, n: float = 1.0) -> float:
        """Take ``n`` tokens: 0.0 when granted, else the seconds until they are available.

        A cost above the burst may still be taken from a full bucket (the bucket then owes
        the rest, and the caller waits it out): a heavy answer is never refused for ever.
        """
        if self.rate <= 0:
            return 0.0
        now = time.monotonic() if now is None else now
        with self._lock:
            tokens, last = self._buckets.get(key, (float(self.burst), now))
            tokens = min(float(self.burst), tokens + (now - last) * self.rate)
            if tokens >= min(n, self.burst):
                self._buckets[key] = (tokens - n, now)
                if self._taken is not None:
                    self._taken[key] = self._taken.get(key, 0.0) + n
                if len(self._buckets) > _MAX_CLIENTS:
                    self._forget(now)
                return 0.0
            self._buckets[key] = (tokens, now)
            return (min(n, self.burst) - tokens) / self.rate

    def spend(self, key: str, n: float, now: float | None = None) -> None:
        """Take ``n`` tokens that were given out elsewhere (another process): the bucket may
        owe them, down to minus one burst, and refills from there."""
        now = time.monotonic() if now is None else now
        with self._lock:
            tokens, last = self._buckets.get(key, (float(self.burst), now))
            tokens = min(float(self.burst), tokens + (now - last) * self.rate)
            self._buckets[key] = (max(-float(self.burst), tokens - n), now)

    def drain(self) -> dict[str, float]:
        """Tokens given out per key since the last drain (none unless made ``shared``)."""
        with self._lock:
            taken, self._taken = self._taken or {}, ({} if self._taken is not None else None)
        return taken

    def undrain(self, taken: Mapping[str, float]) -> None:
        """Count ``taken`` again (a sync that failed to write it)."""
        with self._lock:
            if self._taken is not None:
                for key, n in taken.items():
                    self._taken[key] = self._taken.get(key, 0.0) + n

    def _forget(self, now: float) -> None:
        full = [
            k
            for k, (t, last) in self._buckets.items()
            if t + (now - last) * self.rate >= self.burst
        ]
        for key in full[: len(self._buckets) - _MAX_CLIENTS // 2]:
            del self._buckets[key]


class SharedLimits:
    """Keeps the token buckets of this process in step with those of every other process on
    ``store`` (see the module's docstring).

    Each :meth:`sync` writes what the buckets gave out since the last one, as
    (bucket kind, client, slot) rows of this process, and spends from them what the other
    processes' rows grew by since the last one. The first sync spends all the others' rows
    of the window (the current and the previous slot): a process that has just started must not
    grant a fresh burst to a client who spent its budget elsewhere a moment before (the bucket
    refills at its rate from then on, as everywhere).

    Examples
    --------
    >>> import tempfile, pathlib
    >>> from gridmap.store import GpkgStore
    >>> store = GpkgStore(pathlib.Path(tempfile.mkdtemp()) / "w.gpkg")
    >>> a, b = SharedLimits(store), SharedLimits(store)
    >>> on_a = TokenBuckets(rate=0.01, burst=3, shared=True)
    >>> on_b = TokenBuckets(rate=0.01, burst=3, shared=True)
    >>> a.sync({"requests": on_a}), b.sync({"requests": on_b})
    (None, None)
    >>> [on_a.take("10.0.0.1") for _ in range(3)]
    [0.0, 0.0, 0.0]
    >>> a.sync({"requests": on_a}), b.sync({"requests": on_b})
    (None, None)
    >>> on_b.take("10.0.0.1") > 0  # spent through a
    True
    >>> store.close()
    """

    def __init__(self, store: Store, process: str | None = None) -> None:
        self.store = store
        self.process = process or secrets.token_hex(8)
        self._seen: dict[tuple[str, str, int], float] = {}
        self._lock = threading.Lock()  # one sync at a time (the last one, at shutdown, too)

    def sync(self, buckets: Mapping[str, TokenBuckets], now: float | None = None) -> None:
        """Write what ``buckets`` (by kind) gave out, and spend what the others gave out."""
        with self._lock:
            self._sync(buckets, time.time() if now is None else now)

    def _sync(self, buckets: Mapping[str, TokenBuckets], now: float) -> None:
        slot = int(now // SLOT_S)
        drained: dict[str, dict[str, float]] = {}
        taken: dict[tuple[str, str], float] = {}
        for kind, bucket in buckets.items():
            drained[kind] = bucket.drain()
            taken.update(((kind, client), n) for client, n in drained[kind].items())
        try:
            others = self.store.share_rate_usage(
                self.process, slot, taken, since_slot=slot - 1, expire_before=slot - _KEEP_SLOTS
            )
        except BaseException:
            for kind, counted in drained.items():
                buckets[kind].undrain(counted)
            raise
        for (kind, client, at), total in others.items():
            grown = total - self._seen.get((kind, client, at), 0.0)
            if grown > 0 and kind in buckets:
                buckets[kind].spend(client, grown)
        self._seen = others


def _buckets_of(app: FastAPI) -> dict[str, TokenBuckets]:
    """The buckets of ``app`` that limit anything, by kind (the names in ``rate_usage``)."""
    found: dict[str, TokenBuckets] = {}
    public = getattr(app.state, "rate_buckets", None)
    if public is not None:
        found["requests"] = public
    guard = getattr(app.state, "sign_in_guard", None)  # made by gridmap.api.auth's startup
    if guard is not None:
        found["sign_in_address"] = guard.by_address
        found["sign_in_name"] = guard.by_name
    return {kind: bucket for kind, bucket in found.items() if bucket.rate > 0}


async def startup(app: FastAPI) -> None:
    """Start keeping the buckets in step with the other processes' (when
    ``settings.rate_limit_sync_seconds`` > 0)."""
    app.state.shared_limits = app.state.limits_sync = None
    seconds = float(app.state.settings.rate_limit_sync_seconds)
    if seconds <= 0:
        return
    app.state.shared_limits = SharedLimits(app.state.store)
    app.state.limits_sync = asyncio.create_task(_keep_in_step(app, seconds))


async def shutdown(app: FastAPI) -> None:
    """Stop syncing, after a last sync of what was given out since the one before."""
    task = getattr(app.state, "limits_sync", None)
    if task is not None:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        buckets = _buckets_of(app)
        if buckets:
            with contextlib.suppress(Exception):  # stopping: the others lose at most a second
                await run_in_threadpool(app.state.shared_limits.sync, buckets)


async def _keep_in_step(app: FastAPI, seconds: float) -> None:
    shared: SharedLimits = app.state.shared_limits
    failing = False
    while True:
        await asyncio.sleep(seconds)
        buckets = _buckets_of(app)
        if not buckets:  # every limit is off: nothing to share
            continue
        try:
            await run_in_threadpool(shared.sync, buckets)
            failing = False
        except Exception:  # the store is busy or down: each process limits on its own meanwhile
            if not failing:
                _log.warning("sharing rate limits through the store failed", exc_info=True)
            failing = True


async def rate_limited(request: Request) -> None:
    """Take a token from the caller's bucket; 429 with Retry-After when it is empty. Async, so
    a request does not hop to the thread pool for it."""
    charge(request, 1.0)


def charge(request: Request, tokens: float, what: str = "requests") -> None:
    """Take ``tokens`` from the caller's bucket for work that costs more than a lookup (a
    large layer answer, a lookup at a date whose index must be built); 429 when it has not
    enough. :data:`FEATURES_PER_TOKEN` and :data:`HISTORY_INDEX_TOKENS` say what costs how
    much."""
    buckets: TokenBuckets | None = getattr(request.app.state, "rate_buckets", None)
    if buckets is None:
        return
    client = request.client.host if request.client else "unknown"
    wait = buckets.take(client, n=tokens)
    if wait > 0:
        seconds = max(1, math.ceil(wait))
        raise ApiError(
            "too_many_requests",
            f"请求过于频繁 (too many {what} from {client}): retry in {seconds} s",
            {"Retry-After": str(seconds)},
        )


def install_limits(app: FastAPI, settings: Settings) -> None:
    """Rate buckets on ``app.state`` (None when the limit is off) and, when origins are set,
    CORS."""
    rate, burst = settings.rate_limit_per_second, settings.rate_limit_burst
    shared = settings.rate_limit_sync_seconds > 0
    app.state.rate_buckets = TokenBuckets(rate, burst, shared=shared) if rate > 0 else None
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=list(settings.cors_origins),
            allow_methods=["GET", "POST", "PUT", "PATCH", "DELETE"],
            allow_headers=["Authorization", "Content-Type", "If-None-Match"],
            expose_headers=["ETag", "Retry-After"],
        )
