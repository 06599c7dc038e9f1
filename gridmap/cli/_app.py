"""``gridmap``: commands for planners and operators. Each reporting command takes --json.

Errors print one line naming what was wrong (and, with --json, {"error", "detail"}) and exit 2.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from gridmap.errors import GridmapError, InputError, NotFoundError
from gridmap.settings import Settings
from gridmap.store.contract import Store

app = typer.Typer(
    help="gridmap: urban grid management maps (网格化服务管理). Import, build, check, serve.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
err = Console(stderr=True, soft_wrap=True)
out = Console(soft_wrap=True)

WorkspaceOpt = Annotated[
    Path | None,
    typer.Option(
        "--workspace",
        "-w",
        help="GeoPackage workspace (default: GRIDMAP_WORKSPACE or workspace/nanan.gpkg)",
    ),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print one JSON object on stdout.")]


def settings() -> Settings:
    return Settings()


def emit_json(payload: object) -> None:
    sys.stdout.write(json.dumps(payload, ensure_ascii=False, default=str) + "\n")


def fail(exc: GridmapError, as_json: bool) -> None:
    if as_json:
        emit_json({"error": exc.code, "detail": str(exc)})
    err.print(f"[bold red]error:[/] {exc}", highlight=False)
    raise typer.Exit(2)


DatabaseOpt = Annotated[
    str | None,
    typer.Option(
        "--database-url",
        help="PostgreSQL/PostGIS URL instead of a workspace (default: GRIDMAP_DATABASE_URL).",
    ),
]


def open_target(
    workspace: Path | None, database_url: str | None, *, must_exist: bool = True
) -> Store:
    """The store a command works on: ``--database-url``, ``--workspace``, else the settings'
    database URL or workspace. A workspace file that does not exist is a NotFoundError (a
    command never creates an empty one by mistake) unless ``must_exist`` is false."""
    from gridmap.store import open_store

    if workspace is not None and database_url is not None:
        raise InputError("give --workspace or --database-url, not both")
    cfg = settings()
    if database_url is None and workspace is None:
        database_url = cfg.database_url
    if database_url:
        if not database_url.startswith(("postgresql://", "postgres://")):
            raise InputError(
                f"--database-url {database_url.split('@')[-1]!r}: expected a URL "
                "postgresql://user@host:5432/dbname"
            )
        return open_store(database_url)
    path = Path(workspace or cfg.workspace)
    if must_exist and not path.is_file():
        raise NotFoundError(
            f"{path}: no such workspace; build one with `gridmap sample` or `gridmap import`, "
            "or give --database-url"
        )
    return open_store(path)
