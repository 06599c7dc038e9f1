"""Commands on data: sample, import, export, summary."""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

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
from gridmap.schema import LAYERS


@app.command("sample")
def sample_command(
    out_path: Annotated[Path, typer.Option("--out", help="Workspace to build (.gpkg).")] = Path(
        "workspace/nanan.gpkg"
    ),
    seed: Annotated[int, typer.Option(help="Seed of the generated geometry.")] = 0,
    as_json: JsonOpt = False,
) -> None:
    """Build the Nan'an (南岸区, Chongqing) sample workspace: real divisions, generated city."""
    from gridmap.sample import build_sample

    try:
        result = build_sample(out_path, seed=seed, settings=settings(), progress=not as_json)
    except GridmapError as exc:
        fail(exc, as_json)
    if as_json:
        emit_json(result)
    else:
        _print_summary(result["summary"])
        problems = [r for r in result["imports"] if r["rejected"]]
        for r in problems:
            err.print(f"[yellow]{r['layer']}: {len(r['rejected'])} rejected[/]")


@app.command("import")
def import_command(
    path: Annotated[Path, typer.Argument(help="GeoJSON, GeoPackage, Shapefile, CSV or OSM PBF.")],
    layer: Annotated[str, typer.Option(help="Target layer: " + ", ".join(LAYERS))],
    workspace: WorkspaceOpt = None,
    field: Annotated[
        list[str] | None,
        typer.Option("--field", help="TARGET=SOURCE: read column SOURCE as TARGET (repeatable)."),
    ] = None,
    datum: Annotated[
        str,
        typer.Option(
            help="Datum of the coordinates: wgs84, gcj02 (Amap, "
            "Tencent) or bd09 (Baidu); converted to WGS-84."
        ),
    ] = "wgs84",
    crs: Annotated[
        str | None,
        typer.Option(help="CRS of the file (EPSG code), when it has none or a wrong one."),
    ] = None,
    encoding: Annotated[
        str | None, typer.Option(help="Text encoding; detected when absent (.cpg, UTF-8, GB18030).")
    ] = None,
    swap_xy: Annotated[bool, typer.Option("--swap-xy", help="The file has lat, lon.")] = False,
    replace: Annotated[
        bool, typer.Option("--replace", help="Replace the layer instead of appending to it.")
    ] = False,
    rejected: Annotated[
        Path | None,
        typer.Option(help="Where to write rejected features (default: beside the workspace)."),
    ] = None,
    allow_rejects: Annotated[
        bool,
        typer.Option(
            "--allow-rejects",
            help="Import the good features even when others are rejected (exit 0). Without it, "
            "one rejected feature means nothing is imported and the exit code is 3.",
        ),
    ] = False,
    as_json: JsonOpt = False,
) -> None:
    """Import a file into a workspace layer; report every feature read.

    Exit 0: imported; 2: the file cannot be imported at all; 3: some features were rejected,
    so nothing was imported (they are listed, and written beside the workspace); fix them or
    pass --allow-rejects.
    """
    from gridmap.io.importer import ImportOptions, import_file
    from gridmap.store import Workspace

    cfg = settings()
    try:
        field_map = _field_map(field or [])
        options = ImportOptions(
            field_map=field_map,
            datum=datum.lower(),
            crs=_crs(crs),
            encoding=encoding,
            swap_xy=swap_xy,
            replace=replace,
            rejected_path=rejected,
            allow_rejects=allow_rejects,
        )
        with (
            err.status(f"importing {path.name} into {layer}…")
            if not as_json
            else contextlib.nullcontext()
        ):
            report = import_file(
                Workspace(workspace or cfg.workspace), path, layer, settings=cfg, options=options
            )
        _rebuild_tiles(workspace or cfg.workspace, quiet=as_json)
    except GridmapError as exc:
        fail(exc, as_json)
    if as_json:
        emit_json(report.to_dict())
        _exit_when_rejected(report, allow_rejects)
        return
    out.print(
        f"{report.source} → {report.workspace} [{report.layer}]: read {report.read}, "
        f"imported {report.imported}, repaired {len(report.repaired)}, rejected "
        f"{len(report.rejected)}, warnings {len(report.warnings)}"
    )
    for title, issues in (
        ("repaired", report.repaired),
        ("rejected", report.rejected),
        ("warning", report.warnings),
    ):
        for issue in issues[:20]:
            who = " ".join(
                x for x in (issue.id, issue.name, f"({issue.where})" if issue.where else None) if x
            )
            out.print(f"  {title}: {who}: {issue.kind}: {issue.detail}", highlight=False)
        if len(issues) > 20:
            out.print(f"  … and {len(issues) - 20} more {title} (see --json)")
    for note in report.notes:
        out.print(f"  note: {note}", highlight=False)
    if report.rejected_file:
        out.print(f"  rejected features written to {report.rejected_file}")
    if report.plan is not None:  # grids: a draft plan, snapped to the canvas
        for moved in report.snapped[:20]:
            out.print(
                f"  snapped: building {moved['building']} ({moved['residents']} residents) "
                f"{moved['from'] or 'no grid'} → {moved['to'] or 'no grid'}",
                highlight=False,
            )
        if len(report.snapped) > 20:
            out.print(f"  … and {len(report.snapped) - 20} more snapped (see --json)")
    if report.held_back:
        err.print(
            f"nothing imported: {len(report.rejected)} of {report.read} feature(s) rejected; "
            f"fix them, or pass --allow-rejects to import the other {report.held_back}"
        )
    _exit_when_rejected(report, allow_rejects)


def _rebuild_tiles(workspace: Path, *, quiet: bool) -> None:
    """After an import into a workspace whose tiles are prebuilt: build them anew (until then
    servers encode them live, the old set being of older data)."""
    from gridmap.cli.tiles_commands import build_inline
    from gridmap.store import GpkgStore
    from gridmap.store.tilesets import has_tile_sets, ready_tile_set, source_stamp

    if not Path(workspace).is_file():
        return
    with GpkgStore(workspace) as store:
        if has_tile_sets(store) and ready_tile_set(store, source_stamp(store)) is None:
            build_inline(store, quiet=quiet)


def _exit_when_rejected(report, allow_rejects: bool) -> None:  # type: ignore[no-untyped-def]
    if report.rejected and not allow_rejects:
        raise typer.Exit(3)


@app.command("export")
def export_command(
    out_file: Annotated[Path, typer.Option("--out", help="File to write.")],
    workspace: WorkspaceOpt = None,
    database_url: DatabaseOpt = None,
    layer: Annotated[str | None, typer.Option(help="Layer to export.")] = None,
    plan: Annotated[str | None, typer.Option(help="Plan id to export (its grids).")] = None,
    fmt: Annotated[
        str | None,
        typer.Option("--format", help="gpkg, geojson, shp or csv (default: from --out's suffix)."),
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Export a layer (or a plan's grids) as GeoPackage, GeoJSON, Shapefile or CSV."""
    from gridmap.io.export import export_frame
    from gridmap.service.plans import export_store_layer, plan_grids

    try:
        if (layer is None) == (plan is None):
            raise InputError("give exactly one of --layer or --plan")
        store = open_target(workspace, database_url)
        try:
            if plan is not None:
                plan_id, grids = plan_grids(store, plan)
                result = export_frame(grids, "plan_grids", out_file, fmt)
                result["plan"] = plan_id
            else:
                assert layer is not None
                result = export_store_layer(store, layer, out_file, fmt)
        finally:
            store.close()
    except GridmapError as exc:
        fail(exc, as_json)
    if as_json:
        emit_json(result)
    else:
        out.print(
            f"wrote {result['features']} {result['layer']} to {result['path']} ({result['format']})"
        )


@app.command("summary")
def summary_command(workspace: WorkspaceOpt = None, as_json: JsonOpt = False) -> None:
    """Counts of a workspace: streets, communities, units, buildings, residents."""
    from gridmap.store import Workspace

    ws = Workspace(workspace or settings().workspace)
    try:
        if not ws.exists:
            raise InputError(
                f"{ws.path}: no such workspace; build one with `gridmap sample` or `gridmap import`"
            )
        summary = ws.summary()
    except GridmapError as exc:
        fail(exc, as_json)
    if as_json:
        emit_json(summary)
    else:
        _print_summary(summary)


def _print_summary(summary: dict) -> None:  # type: ignore[type-arg]
    table = Table(title=f"gridmap workspace {summary['workspace']}", show_header=False)
    labels = {
        "districts": "districts 区",
        "streets": "streets/towns 街道/镇",
        "communities": "communities/villages 社区/村",
        "buildings": "buildings 建筑",
        "residents": "residents 居民",
        "households": "households 户",
        "roads": "roads 道路",
        "staff": "staff 网格员",
        "grids": "imported grids 网格",
        "plans": "plans 方案",
    }
    for key, label in labels.items():
        table.add_row(label, f"{summary[key]:,}")
    for kind, count in summary["units"].items():
        table.add_row(f"units: {kind}", f"{count:,}")
    table.add_row(
        "buildings with estimated residents", f"{summary['residents_estimated_buildings']:,}"
    )
    out.print(table)


def _field_map(pairs: list[str]) -> dict[str, str]:
    mapping = {}
    for pair in pairs:
        target, sep, source = pair.partition("=")
        if not sep or not target or not source:
            raise InputError(f"--field {pair!r}: write TARGET=SOURCE, e.g. --field name=名称")
        mapping[target.strip()] = source.strip()
    return mapping


def _crs(value: str | None) -> str | None:
    if value is None:
        return None
    return f"EPSG:{value}" if value.isascii() and value.isdigit() else value
