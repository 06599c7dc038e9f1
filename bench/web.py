"""The three pages on the whole Nan'an sample: first-load bytes and times, and the planner's
paint (to the browser's preview, and to the server's commit) and edits.

Builds the sample (seed 0), partitions every community, publishes the plan and serves it with
a real uvicorn; Debian's Chromium (Playwright, headless) opens /planner signed in as a planner.
Timings come from the page's own performance marks:

- first render: navigation start → ``gridmap:first-render`` (the plan's grids drawn);
- edit: ``gridmap:edit`` (click on an atom in paint mode → the new revision drawn with its
  validation and diff), for a move, its undo and its redo, in one community of a draft copy
  of the district's plan;
- paint: ``gridmap:paint-to-preview`` (the click → both grids' totals shown by the browser)
  and ``gridmap:paint-to-commit`` (the click → the server's answer drawn);
- first load of ``/``, ``/office`` and ``/planner`` in a fresh browser context (empty cache):
  bytes over the wire (the Resource Timing transferSize of the page and everything it
  loaded: compressed sizes with headers) and the time until the page is ready (``/``: grids
  drawn; the others signed in, with their data shown).

Run: ``.venv/bin/python bench/web.py [--workspace W.gpkg] [--repeat 3]``; a workspace that
already holds a published plan is reused (the first run writes one to build/bench-web.gpkg).
"""

from __future__ import annotations

import argparse
import json
import shutil
import socket
import statistics
import sys
import threading
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "web"))  # the browser tests' map helpers

from webmap import click_lonlat, movable_atom  # noqa: E402

from gridmap.settings import Settings  # noqa: E402

CHROMIUM = "/usr/bin/chromium"
PASSWORD = "bench-password"
SECRET = "bench-web-signing-key-" + "b" * 40


def workspace(path: Path) -> Path:
    """The whole sample, partitioned and published (built once)."""
    from gridmap.api.auth import hash_password
    from gridmap.cli.serve_commands import assign_community_staff
    from gridmap.plans import partition_workspace
    from gridmap.sample import build_sample
    from gridmap.store import GpkgStore, Workspace

    if path.exists():
        with GpkgStore(path) as store:
            if store.publications():
                if "planner" not in {u.name for u in store.users()}:  # a workspace made elsewhere
                    store.add_user("planner", "admin", hash_password(PASSWORD), actor="bench")
                return path
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".building.gpkg")
    build_sample(tmp, seed=0)
    plan = partition_workspace(Workspace(tmp), workers=2, actor="bench")["plan"]
    with GpkgStore(tmp) as store:
        store.publish([plan], actor="bench")
        assign_community_staff(store, actor="bench")
        store.add_user("planner", "admin", hash_password(PASSWORD), actor="bench")
    shutil.move(tmp, path)
    return path


def serve(path: Path):  # type: ignore[no-untyped-def]
    import uvicorn

    from gridmap.api import create_app

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    settings = Settings(workspace=path, token_secret=SECRET, rate_limit_per_second=0)
    server = uvicorn.Server(
        uvicorn.Config(create_app(settings), host="127.0.0.1", port=port, log_level="warning")
    )
    threading.Thread(target=server.run, daemon=True).start()
    while not server.started:
        time.sleep(0.1)
    return server, f"http://127.0.0.1:{port}"


def measure(path: Path, url: str, repeat: int) -> dict[str, object]:
    from playwright.sync_api import sync_playwright

    from gridmap.store import GpkgStore

    token = httpx.post(f"{url}/api/token", data={"username": "planner", "password": PASSWORD})
    init = f"sessionStorage.setItem('gridmap.token', {json.dumps(token.json()['access_token'])})"
    first, edits = [], {"apply": [], "undo": [], "redo": []}
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        for run in range(repeat):
            context = browser.new_context(viewport={"width": 1280, "height": 860})
            context.add_init_script(init)
            page = context.new_page()
            page.set_default_timeout(120_000)
            page.goto(f"{url}/planner")
            page.wait_for_selector("body[data-ready=true]")
            first.append(
                page.evaluate("performance.getEntriesByName('gridmap:first-render')[0].startTime")
            )
            if run == 0:
                grids = page.locator("#map path.leaflet-interactive").count()
            shown = page.get_attribute("body", "data-plan")
            page.click("#new-draft")
            page.wait_for_selector(f"body[data-status=draft]:not([data-plan='{shown}'])")
            plan = page.get_attribute("body", "data-plan")
            with GpkgStore(path) as store:
                cells = store.revision(plan).cells
            community = sorted(set(cells["community_code"]))[run]
            cells = cells[cells["community_code"] == community]
            _, target, _, at, away = movable_atom(cells)
            page.select_option("#area", community)
            page.wait_for_selector("body[data-atoms]")
            page.wait_for_timeout(500)
            click_lonlat(page, away.x, away.y)
            page.wait_for_selector(f"#grid[data-code='{target}']")
            page.click("#tools button[data-mode=paint]")
            revision = int(page.get_attribute("body", "data-revision"))
            for step, how in enumerate(("apply", "undo", "redo"), start=1):
                if how == "apply":
                    click_lonlat(page, at.x, at.y)
                else:
                    page.click(f"#{how}")
                page.wait_for_selector(f"body[data-applied='{revision + step}']")
                durations = page.evaluate(
                    "performance.getEntriesByName('gridmap:edit').map(e => e.duration)"
                )
                edits[how].append(durations[-1])
            paint = page.evaluate(
                "['gridmap:paint-to-preview', 'gridmap:paint-to-commit']"
                ".map(n => performance.getEntriesByName(n).at(-1)?.duration)"
            )
            edits.setdefault("paint_to_preview", []).append(paint[0])
            edits.setdefault("paint_to_commit", []).append(paint[1])
            context.close()
        pages = {name: [] for name in PAGES}
        for _ in range(repeat):
            for name, (path_, ready) in PAGES.items():
                context = browser.new_context(viewport={"width": 1366, "height": 768})
                if name != "/":
                    context.add_init_script(init)
                page = context.new_page()
                page.set_default_timeout(120_000)
                page.goto(f"{url}{path_}")
                page.wait_for_selector(ready)
                page.wait_for_load_state("networkidle")
                pages[name].append(page.evaluate(_FIRST_LOAD))
                context.close()
        browser.close()
    size = len(httpx.get(f"{url}/api/layers/grids").content)
    wire = httpx.get(f"{url}/api/layers/grids", headers={"Accept-Encoding": "gzip"})
    return {
        "grids": grids,
        "grids_geojson_bytes": size,
        "grids_geojson_gzip_bytes": int(wire.headers["content-length"]),
        "first_render_ms": first,
        "edit_ms": edits,
        "first_load": pages,
    }


# page → (its path, the selector that says it is ready)
PAGES = {
    "/": ("/#map=15/29.53/106.57", "body[data-ready=true][data-grids-loaded]"),
    "/office": ("/office", "body[data-ready=true][data-incidents]"),
    "/planner": ("/planner", "body[data-ready=true][data-plan]"),
}
# Bytes over the wire (transferSize: compressed, with headers) and ms to ready, in the page.
_FIRST_LOAD = """() => {
    const entries = [...performance.getEntriesByType('navigation'),
                     ...performance.getEntriesByType('resource')];
    return {bytes: entries.reduce((sum, e) => sum + (e.transferSize || 0), 0),
            requests: entries.length, ready_ms: performance.now()};
}"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workspace", type=Path, default=ROOT / "build" / "bench-web.gpkg")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    path = workspace(args.workspace)
    server, url = serve(path)
    try:
        result = measure(path, url, args.repeat)
    finally:
        server.should_exit = True
    median = statistics.median
    print(json.dumps(result, indent=1))
    megabytes = result["grids_geojson_bytes"] / 1e6  # type: ignore[operator]
    print(f"grids drawn: {result['grids']}; grids GeoJSON {megabytes:.1f} MB")
    first = median(result["first_render_ms"]) / 1000  # type: ignore[arg-type]
    print(f"first render (median of {args.repeat}): {first:.2f} s")
    for how, values in result["edit_ms"].items():  # type: ignore[attr-defined]
        print(f"edit, {how} (median of {len(values)}): {median(values) / 1000:.3f} s")
    for name, runs in result["first_load"].items():  # type: ignore[attr-defined]
        kb = median(r["bytes"] for r in runs) / 1000
        ready = median(r["ready_ms"] for r in runs) / 1000
        print(f"first load {name}: {kb:.0f} kB over the wire, ready in {ready:.2f} s")


if __name__ == "__main__":
    main()
