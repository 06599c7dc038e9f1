"""A planner's auto-partition runs on the server as a background job: the page follows the job,
shows its progress per community, and opens the plan it made."""

from __future__ import annotations

from pathlib import Path

from webmap import PASSWORD, SCREENSHOTS, STREET

from gridmap.store import GpkgStore


def test_planner_partitions_a_community_and_follows_the_job(  # type: ignore[no-untyped-def]
    page, web_workspace: Path, web_server: str
) -> None:
    with GpkgStore(web_workspace) as store:
        divisions = store.read("divisions")
        community = sorted(divisions.loc[divisions["parent_code"] == STREET, "code"])[0]
        plans_before = {p.id for p in store.plans()}
    page.goto("/planner")
    page.fill("#signin input[name=username]", "planner")
    page.fill("#signin input[name=password]", PASSWORD)
    page.click("#signin button[type=submit]")
    page.wait_for_selector("body[data-ready=true]")
    page.select_option("#area", community)
    page.fill("#partition input[name=target]", "2000")
    page.click("#partition button[type=submit]")
    # Each read of the job is shown; the button waits for the job to end.
    page.wait_for_selector("body[data-job-state=done]", timeout=300_000)
    page.wait_for_selector("#job-progress", state="hidden")  # once the new plan is drawn
    assert page.locator("#partition button[type=submit]").is_enabled()
    with GpkgStore(web_workspace) as store:
        [job] = [j for j in store.jobs() if j.params.get("communities") == [community]]
        made = {p.id for p in store.plans()} - plans_before
        assert job.state == "done" and made == {job.result_plan}
        assert job.created_by == "planner" and job.params["target"] == 2000
        page.wait_for_selector(f"body[data-plan='{job.result_plan}']")
        message = page.locator("#message").text_content() or ""
        assert f"方案 {job.result_plan}" in message and str(job.result["grids"]) in message
        page.screenshot(path=str(SCREENSHOTS / "planner-partition-job.png"))
        store.archive(str(job.result_plan), actor="web-test")  # other tests open the last draft
