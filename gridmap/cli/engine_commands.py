"""Commands on plans: partition, check, locate."""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Annotated

import typer

from gridmap.cli._app import JsonOpt, WorkspaceOpt, app, emit_json, err, fail, out, settings
from gridmap.errors import GridmapError, InputError

PlanOpt = Annotated[str | None, typer.Option("--plan", help="Plan id (default: the newest).")]


@app.command("partition")
def partition_command(
    workspace: WorkspaceOpt = None,
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
    from gridmap.plans import community_divisions, partition_workspace
    from gridmap.store import Workspace

    cfg = settings()
    try:
        ws = Workspace(workspace or cfg.workspace)
        with _community_progress(ws, community, as_json, community_divisions) as progress:
            result = partition_workspace(
                ws,
                communities=community or None,
                target=target or cfg.target,
                tolerance=cfg.tolerance if tolerance is None else tolerance,
                weight=weight or cfg.weight,
                seed=seed,
                scheme=scheme,
                workers=workers,
                settings=cfg,
                max_area_km2=max_area_km2,
                progress=progress,
            )
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
def _community_progress(ws, codes, as_json, divisions):  # type: ignore[no-untyped-def]
    """A rich progress bar on stderr, one step per community (None with --json: stdout and
    stderr stay clean)."""
    if as_json:
        yield None
        return
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from gridmap.store.gpkg_store import GpkgStore

    total = None
    if ws.exists:
        with GpkgStore(ws.path) as store:
            total = len(divisions(store, codes or None))
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
    from gridmap.engine.validate.check import coverage_report_exit_code
    from gridmap.plans import check_file, check_plan

    try:
        if grids is not None:
            with contextlib.ExitStack() as opened:
                weighing = _weighing(workspace, target)
                if "store" in weighing:
                    opened.enter_context(weighing["store"])  # type: ignore[arg-type]
                report = check_file(grids, boundary, code_field, **weighing)
        else:
            from gridmap.store import Workspace

            report = check_plan(Workspace(workspace or settings().workspace), plan, settings())
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


def _weighing(workspace: Path | None, target: int | None) -> dict[str, object]:
    """How ``check --grids`` weighs a layer: by the workspace's buildings at the target when
    --workspace is given (or --target, and the default workspace exists); else by the file's
    own column when --target is given; else not at all (the layer is checked as drawn)."""
    from gridmap.store import GpkgStore

    cfg = settings()
    path = workspace or cfg.workspace
    if workspace is None and (target is None or not Path(path).exists()):
        return {"target": target, "tolerance": cfg.tolerance, "weight": cfg.weight}
    if not Path(path).exists():
        raise InputError(f"{path}: no such workspace")
    return {
        "store": GpkgStore(path),
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
    plan: PlanOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Which grid, community and street a point is in, and how near the next grid is."""
    from gridmap.plans import locate_point
    from gridmap.store import Workspace

    try:
        if not (-180 <= lon <= 180 and -90 <= lat <= 90):
            raise InputError(f"({lon}, {lat}) is not a lon/lat position")
        answer = locate_point(
            Workspace(workspace or settings().workspace), lon, lat, plan, settings()
        )
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
