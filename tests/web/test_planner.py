"""Planners (/planner): a planner moves a compound to the neighbouring grid, sees the balance
change, undoes, redoes, compares with the plan in force and publishes."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import httpx
from webmap import PASSWORD, SCREENSHOTS, click_lonlat, draggable_pair, movable_atom, screen_of

from gridmap.store import GpkgStore


def open_new_draft(page, user: str = "planner") -> str:  # type: ignore[no-untyped-def]
    """Sign in as ``user``, make a draft copy of the plan shown; its id."""
    page.goto("/planner")
    page.fill("#signin input[name=username]", user)
    page.fill("#signin input[name=password]", PASSWORD)
    page.click("#signin button[type=submit]")
    page.wait_for_selector("body[data-ready=true]")
    shown = page.get_attribute("body", "data-plan")
    page.click("#new-draft")
    # A copy of the whole street's plan, then its grids: slow on a busy machine.
    page.wait_for_selector(f"body[data-status=draft]:not([data-plan='{shown}'])", timeout=120_000)
    return str(page.get_attribute("body", "data-plan"))


def paint_into(page, target: str, away) -> tuple[int, int]:  # type: ignore[no-untyped-def]
    """Select grid ``target`` (a click at ``away``, in it) and take the paint tool; (its
    residents, the plan's revision) before painting."""
    click_lonlat(page, away.x, away.y)
    panel = page.locator(f"#grid[data-code='{target}']")
    panel.wait_for()
    before = int(panel.get_attribute("data-residents"))
    revision = int(page.get_attribute("body", "data-revision"))
    page.click("#tools button[data-mode=paint]")
    return before, revision


def test_planner_moves_a_compound_undoes_redoes_publishes(  # type: ignore[no-untyped-def]
    page, web_workspace: Path, web_server: str
) -> None:
    plan = open_new_draft(page)
    page.locator("[data-testid=legend]").wait_for()
    with GpkgStore(web_workspace) as store:
        cells = store.revision(plan).cells
    community = str(cells["community_code"].min())
    cells = cells[cells["community_code"] == community]
    source, target, residents, at, away = movable_atom(cells)
    page.select_option("#area", community)
    page.wait_for_selector("body[data-atoms]")
    page.wait_for_timeout(1000)  # the fit to the community's atoms ends its animation

    # Select the neighbouring grid (click one of its atoms), then paint the compound into it.
    before, revision = paint_into(page, target, away)
    click_lonlat(page, at.x, at.y)

    def revision_is(number: int) -> None:  # drawn, with its validation and diff shown
        page.wait_for_selector(f"body[data-applied='{number}']")

    revision_is(revision + 1)
    result = page.locator("#result")
    result.wait_for()
    assert result.locator("[data-testid=residents-moved]").text_content().replace(",", "") == str(
        residents
    )
    assert "✓" in result.locator("[data-testid=validation]").text_content()
    page.screenshot(path=str(SCREENSHOTS / "planner-after-edit.png"))
    assert int(page.get_attribute("#grid", "data-residents")) == before + residents

    page.click("#undo")
    revision_is(revision + 2)
    assert int(page.get_attribute("#grid", "data-residents")) == before
    page.click("#redo")
    revision_is(revision + 3)
    assert int(page.get_attribute("#grid", "data-residents")) == before + residents
    page.click("[data-testid=keep]")

    page.click("#compare")
    page.wait_for_selector("body[data-changed-atoms='1']")
    assert page.locator("[data-testid=compare-moved]").text_content().replace(",", "") == str(
        residents
    )

    # Publishing is an act: the admin sees what it changes, then confirms.
    page.click("#publish")
    dialog = page.locator("#publish-dialog")
    dialog.wait_for()
    assert dialog.locator("[data-testid=publish-residents]").text_content().replace(",", "") == str(
        residents
    )
    assert int(dialog.locator("[data-testid=publish-grids]").text_content()) == 2
    dialog.locator("[data-testid=publish-confirm]").click()
    page.wait_for_selector("body[data-status=published]")
    answer = httpx.get(f"{web_server}/api/lookup", params={"lon": at.x, "lat": at.y}).json()
    assert answer["grid"]["plan_id"] == plan
    assert answer["grid"]["code"] != source  # the compound is in its new grid now


def test_planner_splits_a_grid_along_a_drawn_line(page, web_workspace: Path) -> None:  # type: ignore[no-untyped-def]
    plan = open_new_draft(page)
    with GpkgStore(web_workspace) as store:
        revision_1 = store.revision(plan)
    grids = revision_1.grids
    grid = grids.sort_values("residents").iloc[-1]  # the heaviest: split it in two
    # The line runs west to east through the widest north-south gap between the grid's atoms,
    # so that atoms lie on both sides (each atom goes to the side holding most of it).
    cells = revision_1.cells[revision_1.cells["grid"] == grid["code"]]
    atom_y = sorted(cells.dissolve("atom_id").geometry.centroid.y)
    gaps = [(b - a, (a + b) / 2) for a, b in itertools.pairwise(atom_y)]
    line_y = max(gaps)[1]
    page.select_option("#area", grid["community_code"])
    page.wait_for_selector("body[data-atoms]")
    page.wait_for_timeout(1000)  # as above: the fit ends its animation
    inside = grid.geometry.representative_point()
    click_lonlat(page, inside.x, inside.y)
    page.wait_for_selector(f"#grid[data-code='{grid['code']}']")
    revision = int(page.get_attribute("body", "data-revision"))

    page.click("#tools button[data-mode=split]")
    west, _, east, _ = grid.geometry.bounds
    margin = (east - west) * 0.05
    click_lonlat(page, west - margin, line_y)  # a line across the grid, west to east
    page.wait_for_timeout(100)
    click_lonlat(page, east + margin, line_y, dblclick=True)
    page.wait_for_selector(f"body[data-applied='{revision + 1}']")
    assert page.locator("#result [data-testid=changed]").text_content()
    with GpkgStore(web_workspace) as store:
        after = store.revision(plan).grids
    assert len(after) == len(grids) + 1

    # Undo and redo work for a split too: each reverts to a revision, as a new one.
    page.click("#undo")
    page.wait_for_selector(f"body[data-applied='{revision + 2}']")
    with GpkgStore(web_workspace) as store:
        undone = store.revision(plan).grids
    assert sorted(undone["code"]) == sorted(grids["code"])
    page.click("#redo")
    page.wait_for_selector(f"body[data-applied='{revision + 3}']")
    with GpkgStore(web_workspace) as store:
        assert sorted(store.revision(plan).grids["code"]) == sorted(after["code"])
    revision += 2

    # Merge the two halves again: merge mode, then a click in the other half.
    selected = page.get_attribute("#grid", "data-code")
    (new,) = set(after["code"]) - set(grids["code"])
    other = new if selected != new else grid["code"]
    point = after.loc[after["code"] == other].geometry.iloc[0].representative_point()
    page.click("#tools button[data-mode=merge]")
    click_lonlat(page, point.x, point.y)
    page.wait_for_selector(f"body[data-applied='{revision + 2}']")
    with GpkgStore(web_workspace) as store:
        assert len(store.revision(plan).grids) == len(grids)

    with page.expect_download() as download:
        page.click("#export")
    exported = json.loads(Path(download.value.path()).read_text(encoding="utf-8"))
    assert download.value.suggested_filename.endswith(".geojson")
    assert len(exported["features"]) == len(grids)


def test_paint_previews_at_once_and_the_history_survives_a_reload(  # type: ignore[no-untyped-def]
    page, web_workspace: Path
) -> None:
    plan = open_new_draft(page, "drafter")
    assert page.locator("#publish").is_hidden()  # a planner submits; only an admin publishes
    with GpkgStore(web_workspace) as store:
        cells = store.revision(plan).cells
    community = str(cells["community_code"].max())
    cells = cells[cells["community_code"] == community]
    source, target, residents, at, away = movable_atom(cells)
    page.select_option("#area", community)
    page.wait_for_selector("body[data-atoms]")
    # The community's grids in a table, sortable by any column.
    table = page.locator("[data-testid=grid-table]")
    assert table.locator("tbody tr").count() == cells["grid"].nunique()
    table.locator("button[data-sort=residents]").click()  # descending first
    numbers = [
        int(t.replace(",", ""))
        for t in table.locator("tbody tr td:nth-child(2)").all_text_contents()
    ]
    assert numbers == sorted(numbers, reverse=True)
    page.wait_for_timeout(1000)  # the fit to the community's atoms ends its animation
    before, revision = paint_into(page, target, away)

    # The edit is held on its way to the server: the preview must not wait for the answer.
    held = []
    page.route("**/api/plans/*/edits", lambda route: held.append(route))
    click_lonlat(page, at.x, at.y)
    preview = page.locator("#preview")
    preview.wait_for()
    assert int(preview.locator("[data-testid=preview-to]").text_content().replace(",", "")) == (
        before + residents
    )
    page.wait_for_function("1", polling=100)  # let the held request arrive
    assert len(held) == 1 and "base_revision" in held[0].request.post_data
    held[0].continue_()
    page.unroute("**/api/plans/*/edits")
    page.wait_for_selector(f"body[data-applied='{revision + 1}']")
    assert int(page.get_attribute("#grid", "data-residents")) == before + residents

    # After a reload the server's revisions are the history: Ctrl+Z undoes the paint.
    page.reload()
    page.wait_for_selector(f"body[data-ready=true][data-plan='{plan}']")
    assert page.locator("#history [data-testid=history] li").count() >= 2
    assert page.locator("#undo").is_enabled()
    page.locator("#map").focus()
    page.keyboard.press("Control+z")
    page.wait_for_selector(f"body[data-applied='{revision + 2}']")
    with GpkgStore(web_workspace) as store:
        undone = store.revision(plan)
    assert undone.info.operation == "revert"
    assert int(undone.grids.set_index("code").loc[target, "residents"]) == before

    # A locked grid (kept by the server) refuses paint at once, saying who locked it; a lock
    # another planner took meanwhile is refused by the server (409), named, and then shown;
    # unlocked, Shift+click gathers compounds and the preview's button moves them as one edit.
    page.select_option("#area", community)
    page.wait_for_selector("body[data-atoms]")
    page.wait_for_timeout(1000)
    click_lonlat(page, away.x, away.y)
    page.locator(f"#grid[data-code='{target}']").wait_for()
    page.check("#grid [data-testid=lock]")
    page.wait_for_selector("#grid [data-testid=locked-by]")
    with GpkgStore(web_workspace) as store:
        assert [(x.grid_code, x.locked_by) for x in store.grid_locks(plan)] == [(target, "drafter")]
    page.click("#tools button[data-mode=paint]")
    click_lonlat(page, at.x, at.y)
    page.wait_for_selector("#message.error")
    assert "drafter" in page.text_content("#message") and "锁定" in page.text_content("#message")
    page.uncheck("#grid [data-testid=lock]")
    page.wait_for_selector("#grid [data-testid=locked-by]", state="detached")
    with GpkgStore(web_workspace) as store:
        assert store.grid_locks(plan) == []
        store.lock_grid(plan, source, actor="zhang")  # another planner, in another browser
    page.evaluate("document.getElementById('message').className = ''")
    click_lonlat(page, at.x, at.y)
    page.wait_for_selector("#message.error")
    message = page.text_content("#message")
    assert source in message and "zhang" in message, message
    page.watch.errors[:] = [e for e in page.watch.errors if "status of 409" not in e]  # that one
    assert int(page.get_attribute("body", "data-revision")) == revision + 2  # nothing written
    page.wait_for_function(
        "document.querySelector('.grid-label') && [...document.querySelectorAll('.grid-label')]"
        ".some((l) => l.textContent.includes('zhang'))"
    )
    with GpkgStore(web_workspace) as store:
        store.unlock_grid(plan, source, actor="zhang")
    page.reload()
    page.wait_for_selector(f"body[data-ready=true][data-plan='{plan}']")
    page.select_option("#area", community)
    page.wait_for_selector("body[data-atoms]")
    page.wait_for_timeout(1000)
    click_lonlat(page, away.x, away.y)
    page.locator(f"#grid[data-code='{target}']").wait_for()
    page.click("#tools button[data-mode=paint]")
    page.keyboard.down("Shift")
    click_lonlat(page, at.x, at.y)
    page.keyboard.up("Shift")
    page.click("[data-testid=commit-batch]")
    page.wait_for_selector(f"body[data-applied='{revision + 3}']")
    assert int(page.get_attribute("#grid", "data-residents")) == before + residents


def test_a_drag_across_two_compounds_previews_both_and_commits_one_edit(  # type: ignore[no-untyped-def]
    page, web_workspace: Path
) -> None:
    plan = open_new_draft(page, "drafter")
    with GpkgStore(web_workspace) as store:
        cells = store.revision(plan).cells
    communities = sorted(set(cells["community_code"]))
    for community in communities:  # the first community with two neighbouring movable atoms
        mine = cells[cells["community_code"] == community]
        try:
            source, target, residents, path, away = draggable_pair(mine)
        except AssertionError:
            continue
        break
    page.select_option("#area", community)
    page.wait_for_selector("body[data-atoms]")
    page.wait_for_timeout(1000)  # the fit to the community's atoms ends its animation
    before, revision = paint_into(page, target, away)

    held = []
    page.route("**/api/plans/*/edits", lambda route: held.append(route))
    start = screen_of(page, path[0].x, path[0].y)
    view = page.evaluate("location.hash")
    page.mouse.move(*start)
    page.mouse.down()
    for point in path[1:]:
        page.mouse.move(*screen_of(page, point.x, point.y), steps=8)
    preview = page.locator("#preview")
    preview.wait_for()
    assert preview.get_attribute("data-count") == "2"  # both compounds, before the release
    assert int(preview.locator("[data-testid=preview-to]").text_content().replace(",", "")) == (
        before + residents
    )
    page.mouse.up()
    assert page.evaluate("location.hash") == view  # the drag painted; it did not pan the map
    page.wait_for_function("1", polling=100)  # let the held request arrive
    assert len(held) == 1, "one edit for the whole drag"
    sent = json.loads(held[0].request.post_data)
    assert sent["operation"] == "move" and len(sent["cells"]) == 2
    held[0].continue_()
    page.unroute("**/api/plans/*/edits")
    page.wait_for_selector(f"body[data-applied='{revision + 1}']")
    assert int(page.get_attribute("#grid", "data-residents")) == before + residents
    with GpkgStore(web_workspace) as store:
        assert store.plan(plan).head == revision + 1
        grids = store.revision(plan).grids.set_index("code")
    assert int(grids.loc[target, "residents"]) == before + residents
    assert source != target


def test_an_admin_publishes_from_a_later_date(  # type: ignore[no-untyped-def]
    page, web_workspace: Path, web_server: str
) -> None:
    import datetime as dt

    from gridmap.service.lookup import CHINA_TZ

    plan = open_new_draft(page)  # "planner" is an admin here
    with GpkgStore(web_workspace) as store:
        grids = store.revision(plan).grids
        in_force = {p.plan_id for p in store.publications()}
    point = grids.geometry.iloc[0].representative_point()
    day = (dt.datetime.now(CHINA_TZ) + dt.timedelta(days=5)).date()
    page.click("#publish")
    dialog = page.locator("#publish-dialog")
    dialog.wait_for()
    date = dialog.locator("[data-testid=publish-date]")
    assert date.input_value() == dt.datetime.now(CHINA_TZ).date().isoformat()  # today: at once
    date.fill(day.isoformat())
    dialog.locator("[data-testid=publish-confirm]").click()
    page.wait_for_selector("body[data-status=published]")
    page.wait_for_selector("#message:not(:empty)")
    assert day.isoformat() in page.text_content("#message")
    try:
        with GpkgStore(web_workspace) as store:
            mine = [p for p in store.publication_history() if p.plan_id == plan]
            assert mine and all(p.regridded_at is None for p in mine)
            starts = dt.datetime.combine(day, dt.time(), tzinfo=CHINA_TZ)
            assert {p.valid_from for p in mine} == {starts}
        answer = httpx.get(f"{web_server}/api/lookup", params={"lon": point.x, "lat": point.y})
        assert answer.json()["grid"]["plan_id"] in in_force  # not before its date
    finally:
        with GpkgStore(web_workspace) as store:  # cancel it: the other tests share the server
            store.archive(plan, actor="web-test")
