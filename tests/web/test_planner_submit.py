"""Publishing as an act (/planner): a planner submits a draft with a note, an admin sees the
submission in the publish confirmation (who, the note) and publishes it."""

from __future__ import annotations

from pathlib import Path

from test_accessibility import serious_violations
from test_office import sign_in
from test_planner import open_new_draft, paint_into
from webmap import SCREENSHOTS, click_lonlat, movable_atom

from gridmap.store import GpkgStore


def test_a_planner_submits_and_an_admin_publishes_the_submission(  # type: ignore[no-untyped-def]
    page, web_workspace: Path
) -> None:
    note = "第1网格按街道意见调整，请审核"
    plan = open_new_draft(page, "drafter")  # a planner: no publish button, a submit form
    assert page.locator("#publish").is_hidden()
    section = page.locator("#submission")
    assert section.locator("[data-testid=submission-state]").get_attribute("data-state") == "none"
    assert serious_violations(page) == []
    section.get_by_label("给管理员的说明").fill(note)
    section.locator("[data-testid=submit-plan]").click()
    page.wait_for_selector("body[data-submission=submitted]")
    state = section.locator("[data-testid=submission-state]").text_content()
    assert "已提交" in state and "drafter" in state
    assert section.locator("[data-testid=submission-note]").text_content().endswith(note)
    page.screenshot(path=str(SCREENSHOTS / "planner-submitted.png"))
    assert "已提交" in page.locator(f"#plan option[value='{plan}']").text_content()
    with GpkgStore(web_workspace) as store:
        [sub] = store.submissions(plan)
        cells = store.revision(plan).cells
    assert (sub.state, sub.submitted_by, sub.note) == ("submitted", "drafter", note)

    # An edit after the submission: the section says at once that a later revision would be
    # published (the submission is not withdrawn).
    assert section.locator("[data-testid=submission-stale]").count() == 0
    community = str(cells["community_code"].min())
    _, target, _, at, away = movable_atom(cells[cells["community_code"] == community])
    page.select_option("#area", community)
    page.wait_for_selector("body[data-atoms]")
    page.wait_for_timeout(1000)  # the fit to the community's atoms ends its animation
    _, revision = paint_into(page, target, away)
    click_lonlat(page, at.x, at.y)
    page.wait_for_selector(f"body[data-applied='{revision + 1}']")
    section.locator("[data-testid=submission-stale]").wait_for()
    assert page.get_attribute("body", "data-submission") == "submitted"

    # The admin (user "planner") signs in: the submitted draft comes first and is opened.
    page.evaluate("sessionStorage.clear()")
    sign_in(page, "/planner", "planner")
    assert page.locator("#plan option").first.get_attribute("value") == plan
    assert page.get_attribute("body", "data-plan") == plan
    assert page.locator("[data-testid=submission-refuse]").is_visible()  # or send it back
    assert serious_violations(page) == []  # the section, its note and the refusal form
    page.click("#publish")
    dialog = page.locator("#publish-dialog")
    dialog.wait_for()
    page.screenshot(path=str(SCREENSHOTS / "planner-publish-submission.png"))
    shown = dialog.locator("[data-testid=publish-submission]")
    assert shown.get_attribute("data-state") == "submitted"
    assert "drafter" in shown.locator("[data-testid=publish-submitted-by]").text_content()
    assert shown.locator("[data-testid=publish-note]").text_content() == note
    assert dialog.locator("[data-testid=publish-stale]").is_visible()  # edited since
    dialog.locator("[data-testid=publish-confirm]").click()
    page.wait_for_selector("body[data-status=published]")
    with GpkgStore(web_workspace) as store:
        assert store.plan(plan).status == "published"
    assert section.is_hidden()  # no longer a draft: nothing to submit
