"""``gridmap tiles build``: prebuild the published layers' vector tiles into the store.

``gridmap publish`` and ``gridmap db load`` build them too (``--no-tiles`` to skip); a running
server picks the new set up within ``tile_check_seconds``.
"""

from __future__ import annotations

from typing import Annotated, Any

import typer

from gridmap.cli._app import DatabaseOpt, JsonOpt, WorkspaceOpt, app, emit_json, fail, out
from gridmap.cli._app import open_target as _open
from gridmap.cli._app import settings as _settings
from gridmap.errors import GridmapError

__all__ = ["TilesOpt", "build_inline", "tiles_app"]

tiles_app = typer.Typer(help="Prebuilt vector tiles (served while current).", no_args_is_help=True)
app.add_typer(tiles_app, name="tiles")

TilesOpt = Annotated[
    bool,
    typer.Option(
        "--tiles/--no-tiles",
        help="Then prebuild the published layers' vector tiles into the store.",
    ),
]


def build_inline(store: Any, *, workers: int | None = None, quiet: bool = False) -> Any:
    """Build a tile set now, with a progress bar on stderr unless ``quiet``."""
    from rich.progress import Progress

    from gridmap.api.tiles_build import build_tiles

    if quiet:
        return build_tiles(store, _settings(), workers=workers)
    with Progress(transient=True, console=out.__class__(stderr=True)) as bar:
        task = bar.add_task("tiles", total=None)

        def progress(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        return build_tiles(store, _settings(), workers=workers, progress=progress)


@tiles_app.command("build")
def build_command(
    workspace: WorkspaceOpt = None,
    database_url: DatabaseOpt = None,
    workers: Annotated[
        int | None,
        typer.Option(help="Processes (GeoPackage) or connections (PostGIS); default up to 2."),
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Prebuild every non-empty tile of the published layers (streets, communities, grids in
    force, units, buildings, roads) from each layer's first zoom up to
    GRIDMAP_TILE_PREBUILD_MAX_ZOOM (16; streets and communities, drawn by the pages as GeoJSON,
    to 14), gzipped with its ETag, as one new tile set; older sets are dropped once it is
    complete. A running server serves it within GRIDMAP_TILE_CHECK_SECONDS."""
    try:
        store = _open(workspace, database_url)
        try:
            done = build_inline(store, workers=workers, quiet=as_json)
        finally:
            store.close()
    except GridmapError as exc:
        fail(exc, as_json)
    result = {
        "tile_set": done.set_id,
        "tiles": done.tiles,
        "tried": done.tried,
        "seconds": round(done.seconds, 2),
    }
    if as_json:
        emit_json(result)
        return
    out.print(
        f"tile set {done.set_id}: {done.tiles:,} tiles ({done.tried:,} tried, the rest empty) "
        f"in {done.seconds:.1f} s"
    )
