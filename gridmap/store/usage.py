"""Rate-limit usage shared by the server processes of one store (both engines).

Each process keeps its token buckets in memory (:mod:`gridmap.api.limits`) and, about once a
second, calls :func:`share_rate_usage`: what it took since the last call is added to its rows of
``rate_usage`` (one row per bucket kind, client, 10-second slot and process), and the other
processes' rows of the recent slots are read back, in one short transaction.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from gridmap.store.base import StoreBase

__all__ = ["share_rate_usage"]

_CHUNK = 500  # rows per INSERT (SQLite allows 32,766 parameters per statement)
_ADD = (
    "INSERT INTO rate_usage (bucket, client, slot, process, tokens) VALUES {} "
    "ON CONFLICT (bucket, client, slot, process) "
    "DO UPDATE SET tokens = rate_usage.tokens + excluded.tokens"
)
_ROW = "(?, ?, ?, ?, ?)"
_EXPIRE = "DELETE FROM rate_usage WHERE slot < ?"
_OTHERS = (
    "SELECT bucket, client, slot, SUM(tokens) AS tokens FROM rate_usage "
    "WHERE slot >= ? AND process <> ? GROUP BY bucket, client, slot"
)


def share_rate_usage(
    store: StoreBase,
    process: str,
    slot: int,
    taken: Mapping[tuple[str, str], float],
    *,
    since_slot: int,
    expire_before: int,
) -> dict[tuple[str, str, int], float]:
    """Add ``taken`` ((bucket, client) → tokens) to ``process``'s rows of ``slot``, delete the
    slots before ``expire_before``, and answer what every other process took in the slots from
    ``since_slot`` on: (bucket, client, slot) → tokens. A call with nothing taken only reads."""
    items = [(bucket, client, float(n)) for (bucket, client), n in taken.items() if n > 0]
    if not items:
        with store._read() as conn:
            rows = store._rows(conn, _OTHERS, (since_slot, process))
    else:
        with store._write() as conn:
            store._rows(conn, _EXPIRE, (expire_before,))
            for start in range(0, len(items), _CHUNK):
                chunk = items[start : start + _CHUNK]
                query = _ADD.format(", ".join([_ROW] * len(chunk)))
                args = [v for b, c, n in chunk for v in (b, c, slot, process, n)]
                store._rows(conn, query, args)
            rows = store._rows(conn, _OTHERS, (since_slot, process))
    return {(r["bucket"], r["client"], int(r["slot"])): float(r["tokens"]) for r in rows}
