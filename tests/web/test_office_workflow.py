"""Issue 14: a case taken through every stage on /office by four users — 受理员 (shouli),
派遣员 (paiqian), a 城管 handler (chengguan) and 监督员 (jiandu) — each shown only the buttons of
their own steps, and refused (403) by the API the steps that are not theirs; a return to the
dispatcher and a deadline extension on the way, and a photo after handling; over each store
engine."""

from __future__ import annotations

import datetime as dt
import io
from pathlib import Path
from typing import Any

import httpx
from PIL import Image
from webmap import PASSWORD, click_lonlat

from gridmap.cases import WorkingCalendar
from gridmap.store import GpkgStore

FOUR = ("shouli", "paiqian", "chengguan", "jiandu")
# What each user's own steps are (the workflow's roles; admin aside).
MINE = {
    "shouli": {"register", "dismiss"},
    "paiqian": {"dispatch", "redispatch", "approve_extension", "refuse_extension"},
    "chengguan": {"accept", "return", "request_extension", "finish"},
    "jiandu": {"verify", "reject", "close", "evaluate"},
}
# At each status, one step of it, with what it needs, that only its role may take.
TRY = {
    "reported": {"action": "register"},
    "registered": {"action": "dispatch", "department": "chengguan"},
    "dispatched": {"action": "accept"},
    "handling": {"action": "finish"},
    "handled": {"action": "verify"},
    "verified": {"action": "close"},
    "closed": {"action": "evaluate", "satisfaction": 3},
}
OWNER = {
    "reported": "shouli",
    "registered": "paiqian",
    "dispatched": "chengguan",
    "handling": "chengguan",
    "handled": "jiandu",
    "verified": "jiandu",
    "closed": "jiandu",
}


class Api:
    """The four users' tokens, to try through the API what their pages do not offer."""

    def __init__(self, base: str):
        self.client = httpx.Client(base_url=base, timeout=30)
        self.tokens = {}
        for name in FOUR:
            answer = self.client.post("/api/token", data={"username": name, "password": PASSWORD})
            answer.raise_for_status()
            self.tokens[name] = answer.json()["access_token"]

    def incident(self, incident_id: str) -> dict[str, Any]:
        answer = self.client.get(f"/api/incidents/{incident_id}", headers=self._auth("jiandu"))
        return answer.json()["incident"]  # type: ignore[no-any-return]

    def patch(self, user: str, incident_id: str, body: dict[str, Any]) -> httpx.Response:
        return self.client.patch(
            f"/api/incidents/{incident_id}", json=body, headers=self._auth(user)
        )

    def _auth(self, user: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[user]}"}

    def others_refused(self, incident_id: str) -> None:
        """Everyone but the stage's owner gets 403 for its step, naming the role it needs; the
        case does not change."""
        case = self.incident(incident_id)
        status = case["status"]
        for user in FOUR:
            if user == OWNER[status]:
                continue
            answer = self.patch(user, incident_id, {"version": case["version"], **TRY[status]})
            assert answer.status_code == 403, (user, status, answer.text)
            assert "权限不足" in answer.json()["detail"]
        assert self.incident(incident_id)["version"] == case["version"]


def sign_in_as(page: Any, user: str, path: str) -> None:
    """Sign out whoever was signed in, and sign in as ``user`` on a freshly loaded page."""
    if page.url.startswith("http"):
        page.evaluate("sessionStorage.clear()")
    page.goto("about:blank")
    page.goto(path)
    page.fill("#signin input[name=username]", user)
    page.fill("#signin input[name=password]", PASSWORD)
    page.click("#signin button[type=submit]")
    page.wait_for_selector("body[data-ready=true]")


def open_case(page: Any, incident_id: str, status: str) -> None:
    page.click(f"#incidents li[data-id='{incident_id}']")
    page.wait_for_selector(f"#detail[data-status={status}]")


def buttons(page: Any) -> set[str]:
    found = page.locator("#detail [data-testid=actions] button")
    return {found.nth(i).get_attribute("data-action") for i in range(found.count())}


def act(page: Any, action: str, then: str) -> None:
    version = page.get_attribute("#detail", "data-version")
    page.click(f"#detail [data-testid=actions] button[data-action={action}]")
    page.wait_for_selector(f"#detail[data-status={then}]:not([data-version='{version}'])")


def png() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (40, 30), (30, 120, 60)).save(out, "PNG")
    return out.getvalue()


def test_four_users_take_a_case_through_every_stage(  # type: ignore[no-untyped-def]
    engine_page, web_workspace: Path
) -> None:
    page = engine_page
    with GpkgStore(web_workspace) as store:
        # A grid no other test reports in; another one on PostGIS, whose store is a copy of
        # the workspace made after the GeoPackage run (its case's marker would take the click).
        grid = store.grids_at().sort_values("code").iloc[11 if page.engine == "gpkg" else 13]
    point = grid.geometry.representative_point()
    path = f"/office#map=17/{point.y:.6f}/{point.x:.6f}"
    api = Api(page.base)

    # 受理员: records the case, may register or dismiss only
    sign_in_as(page, "shouli", path)
    click_lonlat(page, point.x, point.y)
    form = page.locator("#new-incident")
    form.locator("select[name=category]").select_option("市容环境/暴露垃圾")
    form.locator("textarea[name=description]").fill("垃圾堆放多日")
    form.locator("button[type=submit]").click()
    page.wait_for_selector("#detail[data-status=reported]")
    incident_id = page.get_attribute("#detail", "data-id")
    assert buttons(page) == MINE["shouli"] & {"register", "dismiss"}
    api.others_refused(incident_id)
    act(page, "register", "registered")
    assert buttons(page) == set()  # dispatching is not the 受理员's: no button
    api.others_refused(incident_id)

    # 派遣员: dispatches to 城管 (a department)
    sign_in_as(page, "paiqian", path)
    open_case(page, incident_id, "registered")
    assert buttons(page) == {"dispatch"}
    page.select_option("#detail [data-testid=dispatch-target]", "department:chengguan")
    act(page, "dispatch", "dispatched")
    assert buttons(page) == {"redispatch"}  # accepting is the handler's
    assert "城管" in page.locator("#detail [data-testid=department]").text_content()
    api.others_refused(incident_id)

    # 城管 handler: returns it once (a reason is required), the dispatcher sends it again
    sign_in_as(page, "chengguan", path)
    open_case(page, incident_id, "dispatched")
    assert buttons(page) == {"accept", "return"}
    page.fill("#detail input[name=note]", "地点不清, 请核实后重新派遣")
    act(page, "return", "registered")
    assert buttons(page) == set()
    sign_in_as(page, "paiqian", path)
    open_case(page, incident_id, "registered")
    page.select_option("#detail [data-testid=dispatch-target]", "department:chengguan")
    act(page, "dispatch", "dispatched")

    # 城管 handler: accepts, asks for 8 more working hours
    sign_in_as(page, "chengguan", path)
    open_case(page, incident_id, "dispatched")
    act(page, "accept", "handling")
    assert buttons(page) == {"return", "request_extension", "finish"}
    api.others_refused(incident_id)
    before = dt.datetime.fromisoformat(api.incident(incident_id)["stage_deadline"])
    page.fill("#detail [data-testid=hours]", "8")
    page.fill("#detail input[name=note]", "需调用清运车辆")
    act(page, "request_extension", "handling")
    assert "8" in page.locator("#detail [data-testid=extension]").text_content()
    assert "approve_extension" not in buttons(page)  # approving is the dispatcher's
    case = api.incident(incident_id)
    refused = api.patch(
        "chengguan", incident_id, {"version": case["version"], "action": "approve_extension"}
    )
    assert refused.status_code == 403 and "dispatcher" in refused.json()["detail"]

    # 派遣员: approves it; the stage's limit moves by 8 working hours
    sign_in_as(page, "paiqian", path)
    open_case(page, incident_id, "handling")
    assert buttons(page) == {"redispatch", "approve_extension", "refuse_extension"}
    assert page.input_value("#detail [data-testid=hours]") == "8"
    act(page, "approve_extension", "handling")
    after = dt.datetime.fromisoformat(api.incident(incident_id)["stage_deadline"])
    assert after == WorkingCalendar(weekdays_when_unknown=True).add_working_hours(before, 8)
    assert page.locator("#detail [data-testid=extension]").count() == 0

    # 城管 handler: a photo after handling, then finished (反馈)
    sign_in_as(page, "chengguan", path)
    open_case(page, incident_id, "handling")
    page.select_option("#detail [data-testid=photo-form] select[name=kind]", "after")
    page.set_input_files(
        "#detail [data-testid=photo-file]",
        files=[{"name": "after.png", "mimeType": "image/png", "buffer": png()}],
    )
    page.click("#detail [data-testid=photo-form] button[type=submit]")
    page.wait_for_selector("#detail[data-photos='1']")
    page.wait_for_function(
        "document.querySelector('#detail [data-testid=photos] img')?.naturalWidth === 40"
    )
    act(page, "finish", "handled")
    assert buttons(page) == set()
    api.others_refused(incident_id)

    # 监督员: verifies, closes and evaluates
    sign_in_as(page, "jiandu", path)
    open_case(page, incident_id, "handled")
    assert buttons(page) == {"verify", "reject"}
    act(page, "verify", "verified")
    api.others_refused(incident_id)
    assert buttons(page) == {"close"}
    act(page, "close", "closed")
    api.others_refused(incident_id)
    assert buttons(page) == {"evaluate"}
    page.select_option("#detail [data-testid=satisfaction]", "4")
    act(page, "evaluate", "evaluated")
    assert buttons(page) == set()

    case = api.incident(incident_id)
    assert case["status"] == "evaluated" and case["satisfaction"] == 4
    events = page.locator("#detail [data-testid=timeline] li")
    trail = [events.nth(i).get_attribute("data-action") for i in range(events.count())]
    assert trail == [
        "report", "register", "dispatch", "return", "dispatch", "accept", "request_extension",
        "approve_extension", "finish", "verify", "close", "evaluate",
    ]  # fmt: skip
    actors = api.client.get(f"/api/incidents/{incident_id}", headers=api._auth("jiandu")).json()[
        "events"
    ]
    assert {e["actor"] for e in actors} == set(FOUR)
