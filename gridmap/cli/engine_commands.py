"""Commands on plans: partition, check, locate (on a workspace or a PostGIS database)."""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Annotated

import typer

from gridmap.cli._app import (
    DatabaseOpt,
    JsonOpt,
    WorkspaceOpt,
    app,
    emit_json,
    err,
    fail,
    open_target,
    out,
    settings,
)
from gridmap.errors import GridmapError, InputError

PlanOpt = Annotated[str | None, typer.Option("--plan", help="Plan id (default: the newest).")]


@app.command("partition")
def partition_command(
    workspace: WorkspaceOpt = None,
    database_url: DatabaseOpt = None,
    community: Annotated[
        list[str] | None,
        typer.Option("--community", help="Community code (repeatable; default: every community)."),
    ] = None,
    target: Annotated[
        int | None, typer.Option(help="Target weight per grid (default 3000).")
    ] = None,
    tolerance: Annotated[
        float | None, typer.Option(help="Allowed deviation (default 0.2).")
    ] = None,
    weight: Annotated[str | None, typer.Option(help="residents or households.")] = None,
    seed: Annotated[int, typer.Option(help="Seed; the same seed gives the same plan.")] = 0,
    scheme: Annotated[str, typer.Option(help="Grid code layout: db11 or cjt349.")] = "db11",
    workers: Annotated[int, typer.Option(help="Processes to use.")] = 2,
    max_area_km2: Annotated[
        float | None,
        typer.Option(
            "--max-area-km2",
            help="Split grids larger than this (km²) by area: a large, thinly populated "
            "village into grids a grid worker can walk.",
        ),
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Partition communities into grids and store the result as a draft plan."""
    from gridmap.plans import login_name
    from gridmap.service.plans import partition_store

    cfg = settings()
    try:
        store = open_target(workspace, database_url)
        try:
            with _community_progress(store, community, as_json) as progress:
                result = partition_store(
                    store,
                    communities=community or None,
                    target=target or cfg.target,
                    tolerance=cfg.tolerance if tolerance is None else tolerance,
                    weight=weight or cfg.weight,
                    seed=seed,
                    scheme=scheme,
                    workers=workers,
                    metric_epsg=cfg.metric_epsg,
                    actor=login_name(),
                    max_area_km2=max_area_km2,
                    progress=progress,
                )
        finally:
            store.close()
    except GridmapError as exc:
        fail(exc, as_json)
    if as_json:
        emit_json(result)
        return
    out.print(
        f"plan {result['plan']}: {result['grids']} grids in {result['communities']} "
        f"communities; {result['in_band']} in band ({result['in_band_share']:.1%}), mean "
        f"compactness {result['mean_compactness']:.2f}"
    )
    for note in result["explained"][:30]:
        out.print(f"  {note}", highlight=False)


@contextlib.contextmanager
def _community_progress(store, codes, as_json):  # type: ignore[no-untyped-def]
    """A rich progress bar on stderr, one step per community (None with --json: stdout and
    stderr stay clean)."""
    if as_json:
        yield None
        return
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from gridmap.service.plans import community_divisions

    total = len(community_divisions(store, codes or None))
    columns = (
        TextColumn("partitioning"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("communities"),
        TimeElapsedColumn(),
        TextColumn("{task.description}"),
    )
    with Progress(*columns, console=err, transient=True) as bar:
        task = bar.add_task("", total=total)

        def done(code: str) -> None:
            bar.update(task, advance=1, description=code)

        yield done


@app.command("check")
def check_command(
    workspace: WorkspaceOpt = None,
    database_url: DatabaseOpt = None,
    plan: PlanOpt = None,
    grids: Annotated[
        Path | None, typer.Option(help="A grid layer to check instead of a plan.")
    ] = None,
    boundary: Annotated[
        Path | None,
        typer.Option(help="The area the grids must cover (default: the grids' outer shell)."),
    ] = None,
    code_field: Annotated[str, typer.Option(help="Column of --grids holding the code.")] = "code",
    target: Annotated[
        int | None,
        typer.Option(
            help="Target weight per grid for --grids (default with --workspace: the settings' "
            "3000); the grids are weighed by the workspace's buildings."
        ),
    ] = None,
    as_json: JsonOpt = False,
    as_geojson: Annotated[
        bool, typer.Option("--geojson", help="Print the issues as a GeoJSON FeatureCollection.")
    ] = False,
) -> None:
    """Prove coverage: gaps, overlaps, slivers, multipart grids… Exit 0 when valid, 1 when not."""
    from gridmap.engine.validate.report import coverage_report_exit_code
    from gridmap.service.plans import check_file, coverage_report

    try:
        if grids is not None:
            weighing = _weighing(workspace, database_url, target)
            try:
                report = check_file(grids, boundary, code_field, **weighing)
            finally:
                if "store" in weighing:
                    weighing["store"].close()  # type: ignore[attr-defined]
        else:
            store = open_target(workspace, database_url)
            try:
                report = coverage_report(store, plan, None, settings())
            finally:
                store.close()
    except GridmapError as exc:
        fail(exc, as_json)
    if as_geojson:
        emit_json(report.to_geojson())
    elif as_json:
        emit_json(report.to_dict())
    else:
        verdict = "valid" if report.ok else "NOT valid"
        out.print(f"coverage {verdict}: {len(report.issues)} issue(s)")
        for issue in report.issues[:50]:
            out.print(f"  {issue.kind}: {', '.join(issue.grids)}: {issue.detail}", highlight=False)
    raise typer.Exit(coverage_report_exit_code(report))


def _weighing(
    workspace: Path | None, database_url: str | None, target: int | None
) -> dict[str, object]:
    """How ``check --grids`` weighs a layer: by the buildings of the workspace (or database)
    at the target when --workspace or --database-url is given (or --target, and the default
    workspace exists); else by the file's own column when --target is given; else not at all
    (the layer is checked as drawn)."""
    cfg = settings()
    named = workspace is not None or database_url is not None
    if not named and (target is None or not Path(cfg.workspace).exists()):
        return {"target": target, "tolerance": cfg.tolerance, "weight": cfg.weight}
    return {
        "store": open_target(workspace, database_url),
        "target": target or cfg.target,
        "tolerance": cfg.tolerance,
        "weight": cfg.weight,
        "metric_epsg": cfg.metric_epsg,
    }


@app.command("locate")
def locate_command(
    lon: Annotated[float, typer.Argument(help="Longitude (WGS-84).")],
    lat: Annotated[float, typer.Argument(help="Latitude (WGS-84).")],
    workspace: WorkspaceOpt = None,
    database_url: DatabaseOpt = None,
    plan: PlanOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Which grid, community and street a point is in, and how near the next grid is."""
    from gridmap.service.plans import locate_in_plan

    try:
        if not (-180 <= lon <= 180 and -90 <= lat <= 90):
            raise InputError(f"({lon}, {lat}) is not a lon/lat position")
        store = open_target(workspace, database_url)
        try:
            answer = locate_in_plan(store, lon, lat, plan)
        finally:
            store.close()
    except GridmapError as exc:
        fail(exc, as_json)
    if as_json:
        emit_json(answer)
        return
    grid = answer["grid"]
    if grid is None:
        out.print(f"({lon}, {lat}) lies in no grid of plan {answer['plan']}")
        raise typer.Exit(1)
    out.print(
        f"{answer['district']['name']} {answer['street']['name']} "
        f"{answer['community']['short_name']} · grid {grid['code']} "
        f"({answer['distance_to_edge_m']:.0f} m from its edge)"
    )
    if answer["neighbour"]:
        out.print(f"  near grid {answer['neighbour']} ({answer['neighbour_distance_m']:.0f} m)")
