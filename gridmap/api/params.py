"""Parameter types shared by the routes, bounded so that odd input is a 422 naming the
parameter and never reaches the store as something it cannot hold.

- :data:`MAX_NUMBER`: revisions and versions are PostgreSQL ``integer`` columns; a larger number
  (``revision=99999999999999999999``) would overflow SQLite's and PostgreSQL's integers (a 500).
- :data:`AwareTime`: a time with its zone, which must convert to UTC within the years 1–9999
  (``9999-12-31T23:59:59-23:59`` does not, and ``astimezone`` raised OverflowError: a 500).
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from pydantic import AfterValidator

__all__ = ["MAX_NUMBER", "AwareTime", "in_utc_range"]

MAX_NUMBER = 2**31 - 1


def in_utc_range(value: dt.datetime) -> dt.datetime:
    """``value`` when it has a zone and converts to UTC; ValueError otherwise.

    >>> in_utc_range(dt.datetime.fromisoformat("2026-03-01T08:00:00+08:00")).isoformat()
    '2026-03-01T08:00:00+08:00'
    >>> in_utc_range(dt.datetime.fromisoformat("9999-12-31T23:59:59-23:59"))
    Traceback (most recent call last):
    ...
    ValueError: 9999-12-31T23:59:59-23:59 is out of range once converted to UTC
    """
    if value.tzinfo is None:
        return value  # the route decides: an error, or Beijing time
    try:
        value.astimezone(dt.UTC)
    except OverflowError:
        raise ValueError(f"{value.isoformat()} is out of range once converted to UTC") from None
    return value


AwareTime = Annotated[dt.datetime, AfterValidator(in_utc_range)]
