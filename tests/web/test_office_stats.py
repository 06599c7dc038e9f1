"""Street office (/office): the case list sorted by deadline with countdowns and names, which
refreshes by itself; the 统计 view with its table, exports and subsidy sheet."""

from __future__ import annotations

import csv
import datetime as dt
import io
from pathlib import Path
from typing import Any

from openpyxl import load_workbook
from test_office import sign_in

from gridmap.cases.calendar import CHINA_TZ
from gridmap.store import GpkgStore
from gridmap.store.contract import IncidentEvent

GRID = 12  # a grid (by code order) no other browser test reports in


def _case(store: GpkgStore, grid: Any, staff_id: str, hours: float, note: str) -> str:
    """A dispatched case in ``grid`` for ``staff_id``, due ``hours`` from now (past if < 0)."""
    point = grid.geometry.representative_point()
    now = dt.datetime.now(dt.UTC)
    made = store.add_incident(
        {
            "category": "市容环境/暴露垃圾",
            "status": "dispatched",
            "description": note,
            "lon": point.x,
            "lat": point.y,
            "grid_code": grid["code"],
            "community_code": grid["community_code"],
            "street_code": grid["community_code"][:9] + "000",
            "deadline": now + dt.timedelta(hours=hours),
            "assignee": staff_id,
            "channel": "office",
        },
        actor="web-test",
        event=IncidentEvent("", 1, now, "web-test", "report", None, "dispatched"),
    )
    return made.id


def _grid_and_worker(workspace: Path) -> tuple[Any, str, str]:
    with GpkgStore(workspace) as store:
        grid = store.grids_at().sort_values("code").iloc[GRID]
        held = store.staff_assignments(grid_code=grid["code"])
        staff = store.read("staff").set_index("id")
    staff_id = held[0].staff_id
    return grid, staff_id, str(staff.loc[staff_id, "name"])


def test_the_list_is_sorted_by_deadline_with_countdowns_and_names(
    page, web_workspace: Path
) -> None:  # type: ignore[no-untyped-def]
    grid, staff_id, name = _grid_and_worker(web_workspace)
    with GpkgStore(web_workspace) as store:
        later = _case(store, grid, staff_id, 5, "五小时后到期")
        late = _case(store, grid, staff_id, -3.5, "已超时")
        soon = _case(store, grid, staff_id, 1, "一小时后到期")
    point = grid.geometry.representative_point()
    sign_in(page, f"/office#map=16/{point.y:.6f}/{point.x:.6f}", "clerk")
    items = page.locator("#incidents li[data-status]")
    shown = [
        (items.nth(k).get_attribute("data-id"), items.nth(k).get_attribute("data-deadline"))
        for k in range(items.count())
    ]
    ids = [i for i, _ in shown]
    assert ids.index(late) < ids.index(soon) < ids.index(later)
    statuses = [items.nth(k).get_attribute("data-status") for k in range(items.count())]
    open_deadlines = [
        dt.datetime.fromisoformat(d)
        for (_, d), s in zip(shown, statuses, strict=True)
        if s != "closed" and d
    ]
    assert open_deadlines == sorted(open_deadlines)
    overdue = page.locator(f"#incidents li[data-id='{late}']")
    countdown = overdue.locator("[data-testid=countdown]").text_content()
    assert countdown.startswith("超时 3小时"), countdown
    assert overdue.get_attribute("data-overdue") == "true"
    assert (
        page.locator(f"#incidents li[data-id='{later}'] [data-testid=countdown]")
        .text_content()
        .startswith("剩余 4小时")
    )
    assignee = page.locator(f"#incidents li[data-id='{soon}'] [data-testid=assignee-name]")
    assert assignee.text_content() == name and staff_id not in assignee.text_content()
    legend = page.locator("[data-testid=stage-legend]").text_content()
    assert "派遣" in legend and "处置中" in legend and "结案" not in legend

    # A case recorded elsewhere appears without a reload (the list polls with If-None-Match).
    before = int(page.get_attribute("body", "data-incidents"))
    with GpkgStore(web_workspace) as store:
        newest = _case(store, grid, staff_id, 0.5, "另一窗口登记")
    page.wait_for_selector(f"body[data-incidents='{before + 1}']", timeout=60_000)
    ids = [items.nth(k).get_attribute("data-id") for k in range(items.count())]
    assert ids.index(late) < ids.index(newest) < ids.index(soon)


def test_the_statistics_view_shows_exports_and_subsidies(page, web_workspace: Path) -> None:  # type: ignore[no-untyped-def]
    grid, staff_id, name = _grid_and_worker(web_workspace)
    with GpkgStore(web_workspace) as store:
        _case(store, grid, staff_id, -1, "统计用超时案件")
        start = dt.datetime.now(CHINA_TZ).replace(day=1, hour=0, minute=0, second=0, microsecond=0)
        this_month = store.incidents(since=start)
        overdue_here = [
            i
            for i in this_month
            if i.fields["grid_code"] == grid["code"]
            and i.fields["status"] != "closed"
            and i.fields["deadline"] < dt.datetime.now(dt.UTC)
        ]
    point = grid.geometry.representative_point()
    sign_in(page, f"/office#map=16/{point.y:.6f}/{point.x:.6f}", "clerk")
    page.click("#views button[data-view=stats]")
    page.wait_for_selector("#stats-view[data-ready=true]")
    assert page.locator("main.split").is_hidden()
    total = page.locator("[data-testid=stats-table] tfoot tr.totals td").first.text_content()
    assert int(total.replace(",", "")) == len(this_month)
    row = page.locator(f"[data-testid=stats-table] tbody tr[data-key='{grid['code']}']")
    cells = row.locator("td")
    headers = page.locator("[data-testid=stats-table] thead th")
    overdue_col = [headers.nth(k).text_content() for k in range(headers.count())].index("超期")
    assert int(cells.nth(overdue_col - 1).text_content()) == len(overdue_here)

    page.select_option("#stats-group", "staff")
    page.wait_for_selector(f"[data-testid=stats-table] tbody tr[data-key='{staff_id}']")
    assert name in page.locator(f"tr[data-key='{staff_id}'] th").text_content()
    with page.expect_download() as got:
        page.click("#stats-view button[data-export='/api/stats.csv']")
    table = list(csv.reader(io.StringIO(Path(got.value.path()).read_text("utf-8-sig"))))
    assert table[0][:2] == ["网格员工号", "名称"]
    assert any(line[0] == staff_id and line[1] == name for line in table[1:])
    with page.expect_download() as got:
        page.click("#stats-view button[data-export='/api/stats.xlsx']")
    assert got.value.suggested_filename == "stats.xlsx"
    book = load_workbook(io.BytesIO(Path(got.value.path()).read_bytes()))
    assert book.sheetnames == ["按网格员"]

    sheet = page.locator(f"[data-testid=subsidy-table] tr[data-staff='{staff_id}']")
    assert name in sheet.text_content()
    assert page.locator("[data-testid=subsidy-rules] input[name=assessed_yuan]").is_disabled()
    page.click("#views button[data-view=cases]")
    assert page.locator("main.split").is_visible() and page.locator("#stats-view").is_hidden()
