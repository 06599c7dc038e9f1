"""Working hours on China's working-day calendar: statutory holidays and make-up days (调休).

Case stages have time limits in working hours (工作时): a limit of 8 hours reported on Friday
afternoon runs on into Monday, and one reported before 国庆 runs on after the holiday, while a
make-up Saturday or Sunday counts as a working day. Which days are working days comes from the
``chinesecalendar`` package (the State Council's yearly notices), not from a list kept here; a
year the package does not know yet is an InputError, never a silent guess.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Sequence
from dataclasses import dataclass

import chinese_calendar

from gridmap.errors import InputError

__all__ = ["CHINA_TZ", "OFFICE_HOURS", "WorkingCalendar"]

CHINA_TZ = dt.timezone(dt.timedelta(hours=8), "Asia/Shanghai")
# 9:00-12:00 and 13:00-18:00 Beijing time: an 8-hour working day. Offices set their own.
OFFICE_HOURS: tuple[tuple[dt.time, dt.time], ...] = (
    (dt.time(9, 0), dt.time(12, 0)),
    (dt.time(13, 0), dt.time(18, 0)),
)
_MAX_DAYS = 3 * 366  # a limit longer than this is a mistake in the data
_GUESSED: set[int] = set()  # years counted Monday to Friday (warned once each)
_log = logging.getLogger(__name__)


@dataclass(frozen=True)
class WorkingCalendar:
    """Working hours: ``periods`` of each working day, in Beijing time.

    Examples
    --------
    >>> cal = WorkingCalendar()
    >>> friday = dt.datetime(2025, 9, 19, 16, 0, tzinfo=CHINA_TZ)
    >>> cal.add_working_hours(friday, 4).isoformat()  # 2 h on Friday, 2 h on Monday
    '2025-09-22T11:00:00+08:00'
    """

    periods: Sequence[tuple[dt.time, dt.time]] = OFFICE_HOURS
    # True: a year chinesecalendar has no data for yet counts Monday to Friday (logged once per
    # year), so that a case reported in late December still gets a deadline; False: InputError.
    weekdays_when_unknown: bool = False

    def __post_init__(self) -> None:
        last = dt.time(0, 0)
        for start, end in self.periods:
            if not last <= start < end:
                raise InputError(
                    f"working periods {self.periods!r}: each must start before it ends, "
                    "in order, without overlap"
                )
            last = end

    @staticmethod
    def is_working_day(day: dt.date) -> bool:
        """True on a working day: a weekday that is no holiday, or a make-up day (调休).

        Examples
        --------
        >>> WorkingCalendar.is_working_day(dt.date(2025, 10, 1))  # 国庆
        False
        >>> WorkingCalendar.is_working_day(dt.date(2025, 9, 28))  # a Sunday made up for it
        True
        """
        try:
            return bool(chinese_calendar.is_workday(day))
        except NotImplementedError as exc:
            raise InputError(
                f"{day.isoformat()}: the holiday calendar (chinesecalendar) has no data for "
                f"{day.year} yet; upgrade the package once the State Council publishes it ({exc})"
            ) from None

    def _works(self, day: dt.date) -> bool:
        try:
            return self.is_working_day(day)
        except InputError:
            if not self.weekdays_when_unknown:
                raise
            if day.year not in _GUESSED:
                _GUESSED.add(day.year)
                _log.warning(
                    "no holiday data for %d in chinesecalendar: counting Monday to Friday; "
                    "upgrade the package once the State Council publishes that year's holidays",
                    day.year,
                )
            return day.weekday() < 5

    def add_working_hours(self, start: dt.datetime, hours: float) -> dt.datetime:
        """The time ``hours`` working hours after ``start``, in Beijing time.

        ``start`` must be timezone-aware. Time outside the working periods does not count;
        a limit that ends exactly at a period's end ends there (not at the next start).
        """
        if hours < 0 or hours != hours:
            raise InputError(f"hours={hours!r}: give a number of hours ≥ 0")
        now = _local(start, "start")
        left = dt.timedelta(hours=hours)
        for _ in range(_MAX_DAYS):
            if self._works(now.date()):
                for begin, end in self.periods:
                    open_at = max(now, _at(now.date(), begin))
                    close_at = _at(now.date(), end)
                    if open_at >= close_at:
                        continue
                    if left <= close_at - open_at:
                        return open_at + left
                    left -= close_at - open_at
            now = _at(now.date() + dt.timedelta(days=1), dt.time(0, 0))
        raise InputError(f"hours={hours!r}: more than {_MAX_DAYS} days of working hours")

    def working_hours_between(self, start: dt.datetime, end: dt.datetime) -> float:
        """Working hours from ``start`` to ``end`` (negative when ``end`` comes first).

        Examples
        --------
        >>> cal = WorkingCalendar()
        >>> a = dt.datetime(2025, 9, 30, 17, 0, tzinfo=CHINA_TZ)  # the eve of 国庆
        >>> cal.working_hours_between(a, dt.datetime(2025, 10, 9, 10, 0, tzinfo=CHINA_TZ))
        2.0
        """
        a, b = _local(start, "start"), _local(end, "end")
        if b < a:
            return -self.working_hours_between(b, a)
        if (b.date() - a.date()).days > _MAX_DAYS:
            raise InputError(f"{a.isoformat()} to {b.isoformat()}: more than {_MAX_DAYS} days")
        total = dt.timedelta(0)
        day = a.date()
        while day <= b.date():
            if self._works(day):
                for begin, finish in self.periods:
                    lo, hi = max(a, _at(day, begin)), min(b, _at(day, finish))
                    if hi > lo:
                        total += hi - lo
            day += dt.timedelta(days=1)
        return total.total_seconds() / 3600


def _local(when: dt.datetime, name: str) -> dt.datetime:
    if when.tzinfo is None:
        raise InputError(f"{name}={when.isoformat()}: give a time zone (e.g. +08:00)")
    return when.astimezone(CHINA_TZ)


def _at(day: dt.date, time: dt.time) -> dt.datetime:
    return dt.datetime.combine(day, time, tzinfo=CHINA_TZ)
