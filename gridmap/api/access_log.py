"""The access log: every request but the public reads, and of those none, all or one in N.

``gridmap serve`` turns uvicorn's own access log off and lets :class:`AccessLog` (a pure ASGI
middleware) write the same lines (``127.0.0.1:50312 - "GET /api/lookup?… HTTP/1.1" 200``) to
the ``gridmap.access`` logger. A public read is an anonymous GET or HEAD (no Authorization
header): a lookup, a search, a layer, a tile, a page, a health probe. ``settings.access_log``
says which of those are written: ``off`` (the default) none, ``on`` all, ``sample:N`` one in N.
Sign-ins, writes and signed-in requests are always written. Formatting and writing a line costs
more CPU than a lookup, and a busy server's log of lookups says little that the counts do not.
"""

from __future__ import annotations

import logging
from itertools import count

from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["LOGGER", "AccessLog", "sample_every"]

LOGGER = "gridmap.access"
_log = logging.getLogger(LOGGER)


def sample_every(mode: str) -> int:
    """One public read in how many is logged: 0 for none (``off``), 1 for all (``on``).

    >>> sample_every("off"), sample_every("on"), sample_every("sample:100")
    (0, 1, 100)
    """
    if mode == "off":
        return 0
    if mode == "on":
        return 1
    kind, _, every = mode.partition(":")
    if kind != "sample" or not every.isascii() or not every.isdigit() or int(every) < 1:
        raise ValueError(f"access_log: expected off, on or sample:N (N ≥ 1), got {mode!r}")
    return int(every)


def _public_read(scope: Scope) -> bool:
    if scope["method"] not in ("GET", "HEAD"):
        return False
    return all(name != b"authorization" for name, _ in scope["headers"])


class AccessLog:
    """ASGI middleware writing one access-log line per request that ``mode`` keeps."""

    def __init__(self, app: ASGIApp, mode: str = "off") -> None:
        self.app, self.every = app, sample_every(mode)
        self._reads = count()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not _log.isEnabledFor(logging.INFO):
            await self.app(scope, receive, send)
            return
        if _public_read(scope) and (self.every == 0 or next(self._reads) % self.every):
            await self.app(scope, receive, send)
            return
        status = 500  # unless the app starts an answer

        async def noting(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, noting)
        finally:
            client = scope.get("client")
            path = scope.get("raw_path") or scope["path"].encode()
            query = scope.get("query_string", b"")
            target = path.decode("latin-1") + ("?" + query.decode("latin-1") if query else "")
            _log.info(
                '%s - "%s %s HTTP/%s" %d',
                f"{client[0]}:{client[1]}" if client else "",
                scope["method"],
                target.replace('"', "%22"),
                scope.get("http_version", "1.1"),
                status,
            )
