"""Case time limits on China's working-day calendar, and the categories table."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from gridmap.cases import CHINA_TZ, WorkingCalendar, case_deadline, category, load_categories
from gridmap.errors import InputError, NotFoundError


def beijing(*args: int) -> dt.datetime:
    return dt.datetime(*args, tzinfo=CHINA_TZ)


CAL = WorkingCalendar()


@pytest.mark.parametrize(
    ("start", "hours", "due"),
    [
        # Friday 16:00 + 4 h: 2 h on Friday, the weekend skipped, 2 h on Monday
        (beijing(2025, 9, 19, 16, 0), 4, beijing(2025, 9, 22, 11, 0)),
        # within one morning
        (beijing(2025, 9, 22, 9, 30), 2, beijing(2025, 9, 22, 11, 30)),
        # across lunch: 11:00 + 2 h = 12:00, then 13:00-14:00
        (beijing(2025, 9, 22, 11, 0), 2, beijing(2025, 9, 22, 14, 0)),
        # reported at night: counting starts at 9:00 next working day
        (beijing(2025, 9, 22, 21, 0), 1, beijing(2025, 9, 23, 10, 0)),
        # the eve of 国庆 2025 (1-8 October off): 1 h on 30 September, 7 h on 9 October
        (beijing(2025, 9, 30, 17, 0), 8, beijing(2025, 10, 9, 17, 0)),
        # Friday 26 September + 8 h: Saturday off, Sunday 28 September a make-up working day
        (beijing(2025, 9, 26, 17, 0), 8, beijing(2025, 9, 28, 17, 0)),
        # 国庆 2026 (1-7 October off); Saturday 10 October is a make-up day
        (beijing(2026, 9, 30, 18, 0), 16, beijing(2026, 10, 9, 18, 0)),
        (beijing(2026, 10, 9, 18, 0), 1, beijing(2026, 10, 10, 10, 0)),
        # a time given in UTC is read in Beijing time: 2025-09-19 08:00Z is 16:00 there
        (dt.datetime(2025, 9, 19, 8, 0, tzinfo=dt.UTC), 4, beijing(2025, 9, 22, 11, 0)),
    ],
)
def test_time_limits_run_on_working_hours(
    start: dt.datetime, hours: float, due: dt.datetime
) -> None:
    found = CAL.add_working_hours(start, hours)
    assert found == due and found.utcoffset() == dt.timedelta(hours=8)
    assert CAL.working_hours_between(start, found) == pytest.approx(hours)


def test_a_limit_ending_at_closing_time_ends_there() -> None:
    assert CAL.add_working_hours(beijing(2025, 9, 22, 9, 0), 8) == beijing(2025, 9, 22, 18, 0)


def test_bad_times_and_unknown_years_are_input_errors() -> None:
    with pytest.raises(InputError, match="time zone"):
        CAL.add_working_hours(dt.datetime(2025, 9, 19, 16, 0), 1)
    with pytest.raises(InputError, match="hours"):
        CAL.add_working_hours(beijing(2025, 9, 19, 16, 0), -1)
    with pytest.raises(InputError, match="no data for 2099"):
        CAL.add_working_hours(beijing(2099, 1, 5, 9, 0), 1)
    with pytest.raises(InputError, match="working periods"):
        WorkingCalendar(periods=((dt.time(13), dt.time(12)),))


def test_the_shipped_categories() -> None:
    table = load_categories()
    codes = [c.code for c in table]
    assert len(codes) == len(set(codes)) and all(code.isascii() for code in codes)
    majors = {c.set: set() for c in table}
    for c in table:
        majors[c.set].add(c.major)
    assert {"市容环境", "街面秩序", "突发事件"} <= majors["city_management"]
    assert majors["zongzhi"] >= {
        "矛盾纠纷",
        "安全隐患",
        "流动人口与出租屋",
        "信访",
        "特殊人群关爱",
        "民生诉求",
    }
    assert any("12345" in c.minor for c in table if c.major == "民生诉求")
    assert any("消防" in c.minor for c in table if c.major == "安全隐患")
    fire = category("zz.safety.fire_passage")
    assert fire.name == "安全隐患/消防通道堵塞" and fire.limit_hours > 0
    with pytest.raises(NotFoundError, match="nope"):
        category("nope")


@pytest.mark.parametrize(
    ("row", "message"),
    [
        ("Bad Code,x,大类,小类,2,", "not a lower-case ASCII id"),
        ("a.b,x,大类,小类,0,", "not a positive number"),
        ("a.b,x,,小类,2,", "major empty"),
        ("a.c,x,大类,小类,2,\na.c,x,大类,小类,3,", "line 3: code 'a.c' repeats line 2"),
    ],
)
def test_a_bad_categories_file_names_the_line(tmp_path: Path, row: str, message: str) -> None:
    path = tmp_path / "categories.csv"
    path.write_text("code,set,major,minor,limit_hours,keywords\n" + row + "\n", encoding="utf-8")
    with pytest.raises(InputError, match=message):
        load_categories(path)


def test_a_case_is_due_after_its_categorys_working_hours() -> None:
    friday = beijing(2025, 9, 19, 17, 30)
    # 12345 hotline transfers: 40 working hours = five 8-hour days, from Friday 17:30
    assert case_deadline("zz.hotline.transfer", friday) == beijing(2025, 9, 26, 17, 30)
    assert case_deadline("市容环境/暴露垃圾", friday) == beijing(2025, 9, 22, 10, 30)
    assert case_deadline("不存在/的类别", friday) is None
