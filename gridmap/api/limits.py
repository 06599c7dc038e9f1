"""Limits on public endpoints: a token bucket per client IP, and CORS.

- :func:`rate_limited`, a dependency of the public routers: each client IP has a bucket of
  ``settings.rate_limit_burst`` tokens refilled at ``settings.rate_limit_per_second``; an empty
  bucket is a 429 {"error": "too_many_requests"} with ``Retry-After``. In-process: behind several
  workers each has its own buckets. 0 per second turns it off.
- :func:`charge`: heavier work takes more tokens, so the limit counts cost, not requests: a
  layer answer one per :data:`FEATURES_PER_TOKEN` features, a lookup at a past date whose index
  is not cached :data:`HISTORY_INDEX_TOKENS`.
- :func:`install_limits`: the buckets, and CORS only for ``settings.cors_origins`` (none by
  default: the web app is served by the same process). Request bodies are capped by
  :mod:`gridmap.api.write_limits` on the routers that take them (the public side takes none).
"""

from __future__ import annotations

import math
import threading
import time

from fastapi import FastAPI, Request
from fastapi.middleware.cors import CORSMiddleware

from gridmap.api.errors import ApiError
from gridmap.settings import Settings

__all__ = [
    "FEATURES_PER_TOKEN",
    "HISTORY_INDEX_TOKENS",
    "TokenBuckets",
    "charge",
    "install_limits",
    "rate_limited",
]

_MAX_CLIENTS = 100_000  # buckets kept; the oldest full ones are dropped beyond this

# What work costs, in tokens of a client's bucket (one token: a lookup, ~2 ms of CPU). Measured:
# a layer answer takes ~55 µs of CPU per feature to encode (31,165 buildings: 1.7 s), and a
# lookup at a past date whose grids are not cached builds an index (250-380 ms).
FEATURES_PER_TOKEN = 40
HISTORY_INDEX_TOKENS = 150


class TokenBuckets:
    """One token bucket per key: ``burst`` tokens, refilled at ``rate`` per second.

    Examples
    --------
    >>> buckets = TokenBuckets(rate=1.0, burst=2)
    >>> [buckets.take("a", now=0.0) for _ in range(3)]
    [0.0, 0.0, 1.0]
    >>> buckets.take("a", now=1.0)
    0.0
    """

    def __init__(self, rate: float, burst: int) -> None:
        self.rate, self.burst = float(rate), max(1, int(burst))
        self._lock = threading.Lock()
        self._buckets: dict[str, tuple[float, float]] = {}  # key → (tokens, last time)

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
                if len(self._buckets) > _MAX_CLIENTS:
                    self._forget(now)
                return 0.0
            self._buckets[key] = (tokens, now)
            return (min(n, self.burst) - tokens) / self.rate

    def _forget(self, now: float) -> None:
        full = [
            k
            for k, (t, last) in self._buckets.items()
            if t + (now - last) * self.rate >= self.burst
        ]
        for key in full[: len(self._buckets) - _MAX_CLIENTS // 2]:
            del self._buckets[key]


def rate_limited(request: Request) -> None:
    """Take a token from the caller's bucket; 429 with Retry-After when it is empty."""
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
    """Rate buckets on ``app.state`` and, when origins are set, CORS."""
    app.state.rate_buckets = TokenBuckets(settings.rate_limit_per_second, settings.rate_limit_burst)
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=list(settings.cors_origins),
            allow_methods=["GET", "POST", "PUT", "PATCH", "DELETE"],
            allow_headers=["Authorization", "Content-Type", "If-None-Match"],
            expose_headers=["ETag", "Retry-After"],
        )
