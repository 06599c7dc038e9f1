"""The street office's commands: public boards (``gridmap board``) and community offices within
reach (``gridmap offices``)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from gridmap.cli._app import JsonOpt, WorkspaceOpt, app, emit_json, err, fail, out, settings
from gridmap.errors import GridmapError

__all__ = ["board_command", "offices_command"]

DatabaseOpt = Annotated[
    str | None,
    typer.Option("--database-url", help="PostgreSQL URL (default: GRIDMAP_DATABASE_URL)."),
]


def _target(workspace: Path | None, database_url: str | None) -> str:
    if database_url:
        return database_url
    if workspace is not None:
        if not workspace.is_file():
            from gridmap.errors import InputError

            raise InputError(f"--workspace {workspace}: no such file")
        return str(workspace)
    chosen = settings()
    return chosen.database_url or str(chosen.workspace)


@app.command("board")
def board_command(
    out_file: Annotated[Path, typer.Option("--out", help="The PDF to write.")],
    grid: Annotated[str | None, typer.Option("--grid", help="One grid (15 digits).")] = None,
    community: Annotated[
        str | None, typer.Option("--community", help="Every grid of a community (12 digits).")
    ] = None,
    street: Annotated[
        str | None, typer.Option("--street", help="Every grid of a street (9 or 12 digits).")
    ] = None,
    size: Annotated[str, typer.Option("--size", help="A4 or A3.")] = "A4",
    base_url: Annotated[
        str,
        typer.Option("--base-url", help="The residents' site the QR codes open."),
    ] = "http://127.0.0.1:8000",
    photos: Annotated[
        Path | None,
        typer.Option("--photos", help="Folder of staff photos named <staff id>.jpg or .png."),
    ] = None,
    font: Annotated[
        Path | None, typer.Option("--font", help="A CJK TrueType font to embed.")
    ] = None,
    workspace: WorkspaceOpt = None,
    database_url: DatabaseOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Public boards (网格公示牌) of the grids in force: one PDF page per grid with its map,
    四至, staff, public phones, duties, community office and a QR code to its page."""
    from gridmap.boards import BoardSelection, collect_boards, render_boards
    from gridmap.errors import InputError
    from gridmap.store import open_store

    try:
        selection = BoardSelection(grid=grid, community=community, street=street)
        selection.prefix()
        if photos is not None and not photos.is_dir():
            raise InputError(f"--photos {photos}: no such folder")
        store = open_store(_target(workspace, database_url))
        try:
            boards = collect_boards(
                store, selection, roles=settings().all_roles(), base_url=base_url, photos=photos
            )
        finally:
            store.close()
        out_file.parent.mkdir(parents=True, exist_ok=True)
        pages = render_boards(boards, out_file, size=size, font=font)
    except GridmapError as exc:
        fail(exc, as_json)
    if as_json:
        emit_json({"out": str(out_file), "pages": pages, "grids": [b.code for b in boards]})
        return
    out.print(f"wrote {out_file}: {pages} page(s), {boards[0].code} … {boards[-1].code}")


@app.command("offices")
def offices_command(
    workspace: WorkspaceOpt = None,
    database_url: DatabaseOpt = None,
    community: Annotated[
        list[str] | None,
        typer.Option("--community", help="Community code (repeatable; default: every one)."),
    ] = None,
    show: Annotated[int, typer.Option("--show", help="Rows to print (without --json).")] = 30,
    as_json: JsonOpt = False,
) -> None:
    """Community offices (居委会) within reach: per community the residents' walk to the office
    over the roads (median, 90th percentile, share beyond 15 and 30 min) and the office's
    distance to the community's edge; names the badly placed offices."""
    from gridmap.boards import reach_in_store
    from gridmap.store import open_store

    try:
        store = open_store(_target(workspace, database_url))
        try:
            with err.status("walking to the offices…") if not as_json else _quiet():
                report, source = reach_in_store(
                    store, community, metric_epsg=settings().metric_epsg
                )
        finally:
            store.close()
    except GridmapError as exc:
        fail(exc, as_json)
    where = (
        "the offices layer"
        if source == "offices"
        else "committee-office units (the workspace has no offices layer)"
    )
    if as_json:
        emit_json({"source": source, **report.to_json()})
        return
    bad = report.badly_placed
    out.print(
        f"offices from {where}: {len(bad)} of {len(report.table)} communities have a badly "
        f"placed office (walking {report.rules.walk_m_per_min:g} m/min over the roads)"
    )
    table = Table("community", "p90 min", ">15 min", ">30 min", "edge m", "depth m", "flags")
    for row in report.table.head(show).itertuples():
        table.add_row(
            f"{row.community_code} {row.community_name}",
            _minutes(row.p90_min),
            _share(row.share_over_15),
            _share(row.share_over_30),
            "—" if row.edge_m != row.edge_m else f"{row.edge_m:,.0f}",
            f"{row.depth_m:,.0f}",
            ", ".join(row.flags) or "ok",
        )
    out.print(table)
    for row in bad.head(show).itertuples():
        out.print(
            f"{row.community_code} {row.office_name or row.community_name}: "
            + "; ".join(row.problems),
            highlight=False,
        )


def _minutes(value: float | None) -> str:
    return "—" if value is None or value != value else f"{value:.1f}"


def _share(value: float | None) -> str:
    return "—" if value is None or value != value else f"{value:.0%}"


def _quiet():  # type: ignore[no-untyped-def]
    import contextlib

    return contextlib.nullcontext()
