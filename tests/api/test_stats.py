"""Assessment on both engines: /api/stats agrees, figure by figure and for every grouping, with
a ledger the test keeps of the incidents it made and what it did to them (on time, late, still
open past the deadline, sent back, dismissed); the CSV and XLSX read back hold the same; the
subsidy sheet follows the rules an admin set; residents and strangers are refused, staff see
their scope only."""

from __future__ import annotations

import csv
import datetime as dt
import io
from dataclasses import dataclass, field
from typing import Any

import handmade
import pytest
from openpyxl import load_workbook
from seeded import SECRET, World, seeded_gpkg, seeded_postgis, world

from gridmap.api.auth import hash_password, issue_token
from gridmap.api.workflow import OPEN_STATUSES, STATUSES
from gridmap.cases.calendar import CHINA_TZ, WorkingCalendar
from gridmap.service.stats import GROUPINGS
from gridmap.store.contract import IncidentEvent

__all__ = ["seeded_gpkg", "seeded_postgis", "world"]

CLOSE = ["register", "dispatch", "accept", "finish", "verify", "close"]
RULES = {
    "base_yuan": 100,
    "assessed_yuan": 100,
    "full_share": 0.9,
    "pro_rata": False,
    "reopened_deduction_yuan": 30,
}


@dataclass
class Case:
    """What the test made and did: the figures it expects of one incident."""

    id: str
    grid: str | None
    community: str | None
    category: str
    worker: str | None
    created: dt.datetime
    status: str = "reported"
    closed_at: dt.datetime | None = None
    late: bool = False  # the deadline passed before closing, or while open
    reopened: bool = False
    dismissed: bool = False
    steps: list[str] = field(default_factory=list)
    satisfaction: int | None = None  # given at the evaluation (评价)


def _staff(w: World) -> dict[str, str]:
    return w.as_role("staff")


def _admin(w: World) -> dict[str, str]:
    return w.as_role("admin")


def _steps(
    w: World,
    case: Case,
    *actions: str,
    assignee: str | None = None,
    satisfaction: int | None = None,
) -> None:
    """Take ``case`` through ``actions`` (a dispatch to ``assignee``, an evaluation giving
    ``satisfaction``), as an admin: each step's own role is the workflow tests' concern."""
    version = w.store.incident(case.id).version
    for action in actions:
        step: dict[str, Any] = {"action": action}
        if action == "dispatch":
            step["assignee"] = assignee
        if action == "reject":
            step["note"] = "垃圾未清完"  # a return needs its reason
        if action == "evaluate":
            step["satisfaction"] = satisfaction
            case.satisfaction = satisfaction
        answer = w.client.patch(
            f"/api/incidents/{case.id}", json={"version": version, **step}, headers=_admin(w)
        )
        assert answer.status_code == 200, (step, answer.text)
        version = answer.json()["incident"]["version"]
        event = answer.json()["events"][-1]
        case.status = event["to_status"]
        if step["action"] == "close":
            case.closed_at = dt.datetime.fromisoformat(event["at"])
        if step["action"] == "reject":
            case.reopened = True
        if step["action"] == "dismiss":
            case.dismissed = True
        if step.get("assignee"):
            case.worker = step["assignee"]


def _report(w: World, community: int, fx: float, fy: float, category: str) -> Case:
    lon, lat = handmade.point_in(community, fx, fy)
    body = {"lon": lon, "lat": lat, "category": category}
    answer = w.client.post("/api/incidents", json=body, headers=_staff(w))
    assert answer.status_code == 201, answer.text
    made = answer.json()["incident"]
    heads = {s["role"]: s["staff_id"] for s in answer.json()["responsible"]}
    return Case(
        made["id"],
        made["grid_code"],
        made["community_code"],
        category,
        heads.get("grid_head"),
        dt.datetime.fromisoformat(made["created_at"]),
    )


def _late(w: World, hours_ago: float, category: str) -> Case:
    """An incident written into the store with its deadline already past."""
    lon, lat = handmade.point_in(0, 0.1, 0.1)
    now = dt.datetime.now(dt.UTC)
    made = w.store.add_incident(
        {
            "category": category,
            "status": "reported",
            "lon": lon,
            "lat": lat,
            "grid_code": w.grid_codes[0],
            "community_code": handmade.C1,
            "street_code": handmade.STREET,
            "deadline": now - dt.timedelta(hours=hours_ago),
            "channel": "office",
        },
        actor="test",
        event=IncidentEvent("", 1, now, "test", "report", None, "reported"),
    )
    return Case(made.id, w.grid_codes[0], handmade.C1, category, "S0", made.created_at, late=True)


def _ledger(w: World) -> list[Case]:
    seeded = w.store.incident(w.incident_id)
    cases = [
        Case(
            seeded.id,
            w.grid_codes[0],
            handmade.C1,
            seeded.fields["category"],
            "S0",
            seeded.created_at,
        )
    ]
    a = _report(w, 0, 0.2, 0.2, "市容环境/暴露垃圾")
    _steps(w, a, *CLOSE, "evaluate", assignee="S1", satisfaction=5)
    b = _report(w, 0, 0.7, 0.7, "街面秩序/店外经营")
    _steps(w, b, *CLOSE[:4], "reject", *CLOSE[3:], assignee="S2")  # sent back once
    c = _report(w, 1, 0.5, 0.5, "市容环境/暴露垃圾")
    _steps(w, c, "dismiss")
    d = _report(w, 1, 0.3, 0.6, "街面秩序/店外经营")
    _steps(w, d, *CLOSE[:4], "reject", assignee="S1")  # sent back, handling again
    e = _late(w, 2, "矛盾纠纷/邻里纠纷")  # open, past its deadline
    f = _late(w, 1, "市容环境/暴露垃圾")  # closed after its deadline
    _steps(w, f, *CLOSE, "evaluate", assignee="S3", satisfaction=2)
    g = _report(w, 1, 0.8, 0.2, "矛盾纠纷/邻里纠纷")
    _steps(w, g, "register")
    return [*cases, a, b, c, d, e, f, g]


def _key(case: Case, grouping: str) -> Any:
    return {
        "grid": case.grid,
        "staff": case.worker,
        "community": case.community,
        "street": None if case.community is None else handmade.STREET,
        "month": case.created.astimezone(CHINA_TZ).strftime("%Y-%m"),
        "category": case.category.split("/")[0],
    }[grouping]


def _expected(cases: list[Case]) -> dict[str, Any]:
    """The figures of ``cases``, counted from the ledger."""
    closed = [c for c in cases if c.status not in OPEN_STATUSES and not c.dismissed]
    on_time = [c for c in closed if not c.late]
    overdue = [c for c in cases if c.late]
    hours = [(c.closed_at - c.created).total_seconds() / 3600 for c in closed]  # type: ignore[operator]
    calendar = WorkingCalendar()
    working = [calendar.working_hours_between(c.created, c.closed_at) for c in closed]  # type: ignore[arg-type]
    known = len(on_time) + len(overdue)
    rated = [c.satisfaction for c in cases if c.satisfaction is not None]
    return {
        "total": len(cases),
        "by_stage": {s: sum(c.status == s for c in cases) for s in STATUSES},
        "dismissed": sum(c.dismissed for c in cases),
        "closed": len(closed),
        "on_time": len(on_time),
        "overdue": len(overdue),
        "on_time_share": None if known == 0 else pytest.approx(len(on_time) / known, abs=1e-4),
        "reopened": sum(c.reopened for c in cases),
        "mean_hours": pytest.approx(sum(hours) / len(hours), abs=0.01) if hours else None,
        "mean_working_hours": (
            pytest.approx(sum(working) / len(working), abs=0.01) if working else None
        ),
        "mean_satisfaction": pytest.approx(sum(rated) / len(rated)) if rated else None,
        "rated": len(rated),
    }


def _figures(row: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in row.items() if k not in ("key", "name")}


def test_stats_agree_with_the_ledger_for_every_grouping(world: World) -> None:
    cases = _ledger(world)
    assert {c.status for c in cases} >= {"reported", "registered", "handling", "closed"}
    answer = world.client.get("/api/stats", headers=_staff(world))
    assert answer.status_code == 200, answer.text
    assert _figures(answer.json()["totals"]) == _expected(cases)
    assert answer.json()["totals"]["overdue"] == 2 and answer.json()["totals"]["reopened"] == 2
    for grouping in GROUPINGS:
        answer = world.client.get(f"/api/stats?group_by={grouping}", headers=_staff(world))
        assert answer.status_code == 200, answer.text
        rows = {row["key"]: row for row in answer.json()["rows"]}
        keys = {_key(c, grouping) for c in cases}
        assert set(rows) == keys, grouping
        for key in keys:
            mine = [c for c in cases if _key(c, grouping) == key]
            assert _figures(rows[key]) == _expected(mine), (grouping, key)
    staff = world.client.get("/api/stats?group_by=staff", headers=_staff(world)).json()
    assert {r["key"]: r["name"] for r in staff["rows"]}["S1"] == "李四"


def test_filters_narrow_the_count(world: World) -> None:
    cases = _ledger(world)
    asked = {
        f"community={handmade.C2}": [c for c in cases if c.community == handmade.C2],
        "category=市容环境": [c for c in cases if c.category.startswith("市容环境/")],
        "staff=S1": [c for c in cases if c.worker == "S1"],
        f"grid={cases[1].grid}": [c for c in cases if c.grid == cases[1].grid],
    }
    for query, mine in asked.items():
        answer = world.client.get(f"/api/stats?{query}", headers=_staff(world))
        assert answer.status_code == 200, (query, answer.text)
        assert _figures(answer.json()["totals"]) == _expected(mine), query
    month = cases[0].created.astimezone(CHINA_TZ)
    this = world.client.get(f"/api/stats?month={month:%Y-%m}", headers=_staff(world)).json()
    assert this["totals"]["total"] == len(cases)
    before = month.replace(day=1) - dt.timedelta(days=1)
    empty = world.client.get(f"/api/stats?to={before:%Y-%m-%d}", headers=_staff(world)).json()
    assert empty["totals"]["total"] == 0 and empty["totals"]["on_time_share"] is None


@pytest.mark.parametrize(
    ("query", "names"),
    [
        ("group_by=building", "group_by"),
        ("month=2026-13", "month"),
        ("month=11-2026", "month"),
        ("from=2026-11-30&to=2026-11-01", "to="),
        ("month=2026-11&from=2026-11-01", "month"),
        ("from=2026-02-30", "from"),
        ("grid=abc", "grid"),
    ],
)
def test_bad_parameters_are_named(world: World, query: str, names: str) -> None:
    answer = world.client.get(f"/api/stats?{query}", headers=_staff(world))
    assert answer.status_code == 422, answer.text
    assert names in answer.text


def test_csv_and_xlsx_read_back_as_the_json(world: World) -> None:
    _ledger(world)
    rows = world.client.get("/api/stats?group_by=community", headers=_staff(world)).json()["rows"]
    got = world.client.get("/api/stats.csv?group_by=community", headers=_staff(world))
    assert got.status_code == 200 and got.headers["content-type"].startswith("text/csv")
    assert 'filename="stats-community.csv"' in got.headers["content-disposition"]
    table = list(csv.reader(io.StringIO(got.content.decode("utf-8-sig"))))
    header = table[0]
    assert header[:3] == ["社区代码", "名称", "案件总数"] and "按期结案" in header
    assert "超期" in header and "返工(退回)数" in header and "受理阶段" in header
    by_key = {line[0]: dict(zip(header, line, strict=True)) for line in table[1:]}
    for row in rows:
        line = by_key[row["key"]]
        assert line["名称"] == row["name"] and int(line["案件总数"]) == row["total"]
        assert int(line["超期"]) == row["overdue"] and int(line["结案数"]) == row["closed"]
        assert int(line["立案阶段"]) == row["by_stage"]["registered"]

    book = world.client.get("/api/stats.xlsx", headers=_staff(world))
    assert book.status_code == 200
    sheets = load_workbook(io.BytesIO(book.content), read_only=True)
    assert sheets.sheetnames == ["按网格", "按网格员", "按社区", "按街道", "按月份", "按类别"]
    values = list(sheets["按社区"].iter_rows(values_only=True))
    assert [v if v is not None else "" for v in values[0]] == header
    xlsx_rows = {v[0]: v for v in values[1:]}
    for row in rows:
        assert xlsx_rows[row["key"]][2] == row["total"]  # codes stay text
        assert xlsx_rows[row["key"]][header.index("按期结案")] == row["on_time"]
    one = world.client.get("/api/stats.xlsx?group_by=staff", headers=_staff(world))
    assert load_workbook(io.BytesIO(one.content)).sheetnames == ["按网格员"]


def test_subsidies_follow_the_rules_an_admin_sets(world: World) -> None:
    cases = _ledger(world)
    month = f"{cases[0].created.astimezone(CHINA_TZ):%Y-%m}"
    defaults = world.client.get("/api/stats/subsidy-rules", headers=_staff(world)).json()
    assert defaults["updated_at"] is None and defaults["assessed_yuan"] == 100
    refused = world.client.put(
        "/api/stats/subsidy-rules", json=RULES, headers=world.as_role("staff")
    )
    assert refused.status_code == 403
    bad = world.client.put(
        "/api/stats/subsidy-rules",
        json={**RULES, "full_share": 1.5},
        headers=world.as_role("admin"),
    )
    assert bad.status_code == 422 and "full_share" in bad.text
    put = world.client.put("/api/stats/subsidy-rules", json=RULES, headers=world.as_role("admin"))
    assert put.status_code == 200, put.text
    assert put.json()["updated_by"] == "ada" and put.json()["pro_rata"] is False
    assert world.store.subsidy_rules()["reopened_deduction_yuan"] == 30  # type: ignore[index]

    sheet = world.client.get(f"/api/stats/subsidies?month={month}", headers=_staff(world))
    assert sheet.status_code == 200, sheet.text
    workers = {w["staff_id"]: w for w in sheet.json()["workers"]}
    # S0 (grid head: the seed's case, open and not yet due; one open past its deadline):
    # share 0 < 0.9 and not pro rata → 0. S1: A on time, D sent back (open) → 100 − 30.
    # S2: B on time but sent back once → 70. S3: F closed late → 0. S4: no case → in full.
    assert {k: w["assessed_yuan"] for k, w in workers.items()} == {
        "S0": 0.0, "S1": 70.0, "S2": 70.0, "S3": 0.0, "S4": 100.0
    }  # fmt: skip
    assert workers["S1"]["total_yuan"] == 170.0 and workers["S1"]["name"] == "李四"
    assert (workers["S1"]["cases"], workers["S1"]["on_time"], workers["S1"]["reopened"]) == (
        2,
        1,
        1,
    )
    got = world.client.get(f"/api/stats/subsidies.csv?month={month}", headers=_staff(world))
    table = list(csv.reader(io.StringIO(got.content.decode("utf-8-sig"))))
    assert table[0][:2] == ["工号", "姓名"] and table[0][-1] == "合计(元)"
    assert {line[0]: float(line[-1]) for line in table[1:]} == {
        k: w["total_yuan"] for k, w in workers.items()
    }
    book = world.client.get(f"/api/stats/subsidies.xlsx?month={month}", headers=_staff(world))
    sheet_rows = list(load_workbook(io.BytesIO(book.content)).active.iter_rows(values_only=True))
    assert sheet_rows[0][-3:] == ("基础补贴(元)", "考核补贴(元)", "合计(元)")
    assert {r[0]: r[-2] for r in sheet_rows[1:]} == {
        k: w["assessed_yuan"] for k, w in workers.items()
    }
    assert (
        world.client.get("/api/stats/subsidies?month=2026", headers=_staff(world)).status_code
        == 422
    )


@pytest.mark.parametrize(
    ("on_time", "overdue", "reopened", "pro_rata", "expected"),
    [
        (9, 1, 0, False, 100.0),  # 90%: in full
        (8, 2, 0, False, 0.0),  # 80% < 90%, not pro rata
        (8, 2, 0, True, 88.89),  # 80/90 of it
        (9, 1, 2, True, 40.0),  # 100 − 2 × 30
        (0, 3, 5, True, 0.0),  # never below 0
        (0, 0, 0, False, 100.0),  # nothing late
    ],
)
def test_the_subsidy_rule_on_known_inputs(
    on_time: int, overdue: int, reopened: int, pro_rata: bool, expected: float
) -> None:
    from gridmap.service.stats import subsidy

    assert subsidy(RULES | {"pro_rata": pro_rata}, on_time, overdue, reopened) == expected


def test_residents_and_strangers_are_refused_staff_see_their_scope(world: World) -> None:
    cases = _ledger(world)
    for path in ("/api/stats", "/api/stats.csv", "/api/stats/subsidies?month=2026-11"):
        assert world.client.get(path).status_code == 401, path
        assert world.client.get(path, headers=world.as_role("public")).status_code == 403, path
    world.store.add_user(
        "carl", "staff", hash_password("x" * 12), actor="test", scope=[handmade.C2]
    )
    token = issue_token(world.store.user("carl"), SECRET, world.settings.token_minutes)
    carl = {"Authorization": f"Bearer {token}"}
    mine = world.client.get("/api/stats?group_by=community", headers=carl).json()
    assert _figures(mine["totals"]) == _expected([c for c in cases if c.community == handmade.C2])
    assert {r["key"] for r in mine["rows"]} == {handmade.C2}
    outside = world.client.get(f"/api/stats?community={handmade.C1}", headers=carl)
    assert outside.status_code == 403 and handmade.C1 in outside.text
    sheet = world.client.get(f"/api/stats/subsidies?month={cases[0].created:%Y-%m}", headers=carl)
    # No one holds a role in C2's grids; S1 works there (case D) and is on carl's sheet.
    assert [w["staff_id"] for w in sheet.json()["workers"]] == ["S1"]


def test_the_incident_list_answers_304_while_unchanged(world: World) -> None:
    first = world.client.get("/api/incidents", headers=_staff(world))
    tag = first.headers["etag"]
    again = world.client.get("/api/incidents", headers={**_staff(world), "If-None-Match": tag})
    assert again.status_code == 304 and again.headers["etag"] == tag and again.content == b""
    incident = world.store.incident(world.incident_id)
    step = {"version": incident.version, "action": "register"}
    stepped = world.client.patch(f"/api/incidents/{incident.id}", json=step, headers=_admin(world))
    assert stepped.status_code == 200, stepped.text
    changed = world.client.get("/api/incidents", headers={**_staff(world), "If-None-Match": tag})
    assert changed.status_code == 200 and changed.headers["etag"] != tag


def test_server_notes_are_in_chinese(world: World) -> None:
    case = _report(world, 0, 0.2, 0.2, "市容环境/暴露垃圾")
    _steps(world, case, "register", "dispatch", assignee="S1")
    events = world.store.incident_events(case.id)
    assert events[0].note == "窗口登记 (office)"
    assert events[-1].note == "处置人：李四 (S1)"


def test_exports_never_carry_a_formula_or_a_control_character(world: World) -> None:
    lon, lat = handmade.point_in(0, 0.4, 0.4)
    category = "=SUM(1,2)\x1e"
    body = {"lon": lon, "lat": lat, "category": category}
    assert world.client.post("/api/incidents", json=body, headers=_staff(world)).status_code == 201
    got = world.client.get("/api/stats.csv?group_by=category", headers=_staff(world))
    keys = [line[0] for line in csv.reader(io.StringIO(got.content.decode("utf-8-sig")))]
    assert "'" + category[:-1] + "\ufffd" in keys  # quoted: a spreadsheet shows it as text
    book = world.client.get("/api/stats.xlsx?group_by=category", headers=_staff(world))
    cells = [row[0] for row in load_workbook(io.BytesIO(book.content)).active.iter_rows()]
    [cell] = [c for c in cells if str(c.value).startswith("=SUM")]
    assert cell.data_type == "s" and cell.value == category[:-1] + "\ufffd"
