"""Case categories as data: 大类/小类 with a default time limit in working hours.

The table ships two sets (``gridmap/cases/data/categories.csv``): ``city_management``, the digital
city-management events (市容环境, 宣传广告, 施工管理, 街面秩序, 突发事件, 设施管理), and
``zongzhi``, the grid events of 综治 work (矛盾纠纷, 安全隐患 incl. fire, 流动人口与出租屋, 信访,
特殊人群关爱, 民生诉求 with the 12345 hotline). Each row has a stable ASCII ``code`` (the Open311
``service_code``), names in zh-CN, the limit and search keywords. A city replaces the file with
its own; :func:`load_categories` checks it and names the row at fault.
"""

from __future__ import annotations

import csv
import datetime as dt
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from gridmap.cases.calendar import WorkingCalendar
from gridmap.errors import InputError, NotFoundError

__all__ = ["CATEGORIES_CSV", "Category", "case_deadline", "category", "load_categories"]

CATEGORIES_CSV = Path(__file__).with_name("data") / "categories.csv"
_CODE = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,63}$")
_COLUMNS = ("code", "set", "major", "minor", "limit_hours", "keywords")


@dataclass(frozen=True)
class Category:
    """One 小类 of a 大类, with its default time limit in working hours."""

    code: str  # stable ASCII id, e.g. "zz.safety.fire_passage"
    set: str  # "city_management" | "zongzhi" | a city's own
    major: str  # 大类, e.g. 安全隐患
    minor: str  # 小类, e.g. 消防通道堵塞
    limit_hours: float  # working hours to close a case
    keywords: tuple[str, ...] = ()

    @property
    def name(self) -> str:
        """ "大类/小类", the incident category text (e.g. "市容环境/暴露垃圾")."""
        return f"{self.major}/{self.minor}"


def load_categories(path: Path | None = None) -> tuple[Category, ...]:
    """The categories of a CSV file (default: the shipped table), in file order.

    Raises InputError naming the file and row of a missing column, a code that is not a
    lower-case ASCII id or appears twice, an empty name, or a limit that is not a positive
    number.

    Examples
    --------
    >>> table = load_categories()
    >>> sorted({c.set for c in table})
    ['city_management', 'zongzhi']
    >>> next(c for c in table if c.code == "zz.hotline.transfer").name
    '民生诉求/12345热线转办'
    """
    if path is None:
        return _shipped()
    return _read(Path(path))


@cache
def _shipped() -> tuple[Category, ...]:
    return _read(CATEGORIES_CSV)


def category(code: str, table: tuple[Category, ...] | None = None) -> Category:
    """The category of a code; NotFoundError naming the code when there is none."""
    for found in table if table is not None else _shipped():
        if found.code == code:
            return found
    raise NotFoundError(f"no category with code {code!r}")


def _read(path: Path) -> tuple[Category, ...]:
    try:
        with path.open(encoding="utf-8-sig", newline="") as handle:
            rows = list(csv.DictReader(handle))
    except OSError as exc:
        raise InputError(f"categories {path}: cannot read it ({exc.strerror})") from exc
    missing = [c for c in _COLUMNS if rows and c not in rows[0]]
    if not rows or missing:
        raise InputError(
            f"categories {path}: needs the columns {', '.join(_COLUMNS)}"
            + (f"; missing {', '.join(missing)}" if missing else "; the file has no rows")
        )
    seen: dict[str, int] = {}
    made = []
    for line, row in enumerate(rows, start=2):  # line 1 is the header
        where = f"categories {path}, line {line}"
        code = (row["code"] or "").strip()
        if not _CODE.match(code):
            raise InputError(f"{where}: code {code!r} is not a lower-case ASCII id (a-z0-9_.-)")
        if code in seen:
            raise InputError(f"{where}: code {code!r} repeats line {seen[code]}")
        seen[code] = line
        names = {k: (row[k] or "").strip() for k in ("set", "major", "minor")}
        empty = [k for k, v in names.items() if not v]
        if empty or "/" in names["major"]:
            raise InputError(f"{where}: {', '.join(empty) or 'major'} empty or holds '/'")
        try:
            hours = float(row["limit_hours"])
        except (TypeError, ValueError):
            hours = float("nan")
        if not hours > 0:
            raise InputError(
                f"{where}: limit_hours {row['limit_hours']!r} is not a positive number"
            )
        keywords = tuple((row["keywords"] or "").split())
        made.append(Category(code, names["set"], names["major"], names["minor"], hours, keywords))
    return tuple(made)


def case_deadline(
    category_name: str,
    start: dt.datetime,
    *,
    table: tuple[Category, ...] | None = None,
    calendar: WorkingCalendar | None = None,
) -> dt.datetime | None:
    """When a case of ``category_name`` ("大类/小类", or a code) reported at ``start`` is due:
    its category's limit in working hours on the working-day calendar; None for a category the
    table does not have.

    Examples
    --------
    >>> from gridmap.cases.calendar import CHINA_TZ
    >>> eve = dt.datetime(2025, 9, 30, 17, 0, tzinfo=CHINA_TZ)  # before 国庆
    >>> case_deadline("安全隐患/消防通道堵塞", eve).isoformat()  # 4 working hours
    '2025-10-09T12:00:00+08:00'
    """
    for found in table if table is not None else _shipped():
        if category_name in (found.name, found.code):
            return (calendar or WorkingCalendar()).add_working_hours(start, found.limit_hours)
    return None
