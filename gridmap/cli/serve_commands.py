"""Commands that put grids in force and serve them: publish, serve."""

from __future__ import annotations

import copy
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Annotated, Any

import typer
from pydantic import ValidationError

from gridmap.cli._app import JsonOpt, WorkspaceOpt, app, emit_json, err, fail, out, settings
from gridmap.cli.tiles_commands import TilesOpt
from gridmap.errors import GridmapError, InputError
from gridmap.settings import Settings
from gridmap.store.contract import Store

__all__ = ["assign_community_staff", "publish_command", "serve_command"]

DatabaseOpt = Annotated[
    str | None,
    typer.Option(
        "--database-url",
        help="PostgreSQL/PostGIS URL instead of a workspace (default: GRIDMAP_DATABASE_URL).",
    ),
]


def assign_community_staff(
    store: Store, *, actor: str, communities: Iterable[str] | None = None
) -> int:
    """Give each community's staff to its grids in force; return the roles assigned.

    As a real community is staffed: every grid gets a person of each role the community's
    staff (the staff layer's ``community_code``) has. The grids of a community (by code) are
    shared out among the people of a role in id order, in runs of neighbouring codes: with as
    many grid heads as grids, each grid has its own head; one police officer may cover all
    the grids. A role a grid already has is left as it is.
    """
    grids = store.grids_at()
    if grids.empty:
        return 0
    staff = store.read("staff").sort_values("id")
    wanted = None if communities is None else set(communities)
    held = {(a.grid_code, a.role) for a in store.staff_assignments()}
    made = 0
    for community, group in grids.sort_values("code").groupby("community_code"):
        if wanted is not None and community not in wanted:
            continue
        codes = list(group["code"])
        people = staff[staff["community_code"] == community]
        for role, rows in people.groupby("role", sort=False):
            ids = list(rows["id"])
            for k, code in enumerate(codes):
                if (code, role) in held:
                    continue
                # Fewer people than grids: person j covers a run of grids; otherwise one each.
                j = k * len(ids) // len(codes) if len(ids) < len(codes) else k
                store.assign_staff(ids[j], code, role, actor=actor)
                made += 1
    return made


def _open(workspace: Path | None, database_url: str | None) -> Store:
    """The store named on the command line (a database URL may be a key=value conninfo)."""
    from gridmap.store import GpkgStore, PostgisStore

    cfg = settings()
    if workspace is not None and database_url is not None:
        raise InputError("give --workspace or --database-url, not both")
    if workspace is not None:
        return GpkgStore(workspace)
    url = database_url or cfg.database_url
    return PostgisStore(url) if url else GpkgStore(cfg.workspace)


@app.command("publish")
def publish_command(
    plan_id: Annotated[list[str], typer.Argument(help="Plan id(s) to put in force together.")],
    workspace: WorkspaceOpt = None,
    database_url: DatabaseOpt = None,
    effective: Annotated[
        str | None,
        typer.Option(
            "--effective",
            "--at",
            help="In force from this date (its start, Beijing time) or ISO time; default now. "
            "A later date keeps the plan in force until then and moves the open incidents when "
            "it comes (a running server does it); a past date is refused.",
        ),
    ] = None,
    assign_staff: Annotated[
        bool,
        typer.Option(
            "--assign-staff",
            help="Then give each community's staff to its grids: a head each, the others shared.",
        ),
    ] = False,
    actor: Annotated[str, typer.Option(help="Who publishes (the audit log).")] = "gridmap",
    tiles: TilesOpt = True,
    as_json: JsonOpt = False,
) -> None:
    """Put plans in force for all their communities (ends the publications they replace).

    Checked as the API checks: a plan whose coverage report has errors is refused.
    Open incidents move to their new grids in the same transaction. Then the published
    layers' tiles are prebuilt into the store (``--no-tiles``: later, ``gridmap tiles build``).
    """
    from gridmap.cli.tiles_commands import build_inline
    from gridmap.service.publish import parse_effective, publish_plans

    try:
        store = _open(workspace, database_url)
        try:
            when = parse_effective(effective)
            done = publish_plans(store, plan_id, actor=actor, settings=settings(), at=when)
            assigned = assign_community_staff(store, actor=actor) if assign_staff else 0
            built = build_inline(store, quiet=as_json) if tiles else None
        finally:
            store.close()
    except GridmapError as exc:
        fail(exc, as_json)
    publications = done.publications
    result = {
        "plans": plan_id,
        "communities": len(publications),
        "valid_from": publications[0].valid_from.isoformat() if publications else None,
        "incidents_regridded": len(done.incidents_regridded),
        "staff_assigned": assigned,
        "tiles": None if built is None else built.tiles,
    }
    if as_json:
        emit_json(result)
        return
    out.print(
        f"published plan {', '.join(plan_id)} in {len(publications)} communities from "
        f"{result['valid_from']}; {result['incidents_regridded']} open incidents moved to new grids"
        + (f"; {assigned} staff roles assigned" if assign_staff else "")
        + ("" if built is None else f"; {built.tiles:,} tiles prebuilt in {built.seconds:.1f} s")
    )


@app.command("serve")
def serve_command(
    workspace: WorkspaceOpt = None,
    database_url: DatabaseOpt = None,
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    workers: Annotated[
        int,
        typer.Option(
            min=1,
            help="Server processes sharing the port, one core each. Each keeps its own lookup "
            "index and tile cache and hears of publications made through the others within "
            "GRIDMAP_REFRESH_SECONDS.",
        ),
    ] = 1,
    access_log: Annotated[
        str | None,
        typer.Option(
            "--access-log",
            help="Access log of the public reads (anonymous GET/HEAD: lookups, search, layers, "
            "tiles, pages): off, on, or sample:N (one in N). Sign-ins, writes and signed-in "
            "requests are always logged. Default: GRIDMAP_ACCESS_LOG, else off.",
        ),
    ] = None,
) -> None:
    """Serve the HTTP API, tiles, OGC API Features and the web app (uvicorn, uvloop, httptools).

    The settings (GRIDMAP_* environment variables, and the options here, which override them)
    reach every worker process through the environment.
    """
    import uvicorn

    if workspace is not None and database_url is not None:
        fail(InputError("give --workspace or --database-url, not both"), False)
    os.environ.update(_serve_environment(workspace, database_url, access_log))
    if workspace is not None:  # --workspace wins over a database URL in the environment
        os.environ.pop("GRIDMAP_DATABASE_URL", None)
    try:
        cfg = settings()
    except ValidationError as exc:
        fail(InputError(_first_error(exc)), False)
    where = (cfg.database_url and "PostGIS") or str(cfg.workspace)
    if not cfg.database_url and not Path(cfg.workspace).exists():
        fail(
            InputError(f"{cfg.workspace}: no such workspace; run ./dev demo or gridmap sample"),
            False,
        )
    if workers > 1 and cfg.token_secret is None:
        _share_token_key(cfg)
    err.print(
        f"serving {where} on http://{host}:{port}/ (API docs: /docs, OGC API: /ogc)"
        + (f", {workers} worker processes" if workers > 1 else "")
    )
    uvicorn.run(
        "gridmap.api:create_app",  # an import string and a factory: each worker builds its app
        factory=True,
        host=host,
        port=port,
        workers=workers,
        # A new worker imports gridmap before it first answers the supervisor's health check;
        # on a busy machine that takes longer than uvicorn's 5 s, and it killed them in a loop.
        timeout_worker_healthcheck=60,
        loop="uvloop",  # also what sets TCP_NODELAY on the workers' shared socket
        http="httptools",
        access_log=False,  # gridmap.api.access_log writes it, as settings.access_log says
        log_config=_log_config(),
        log_level="info",
    )


def _serve_environment(
    workspace: Path | None, database_url: str | None, access_log: str | None
) -> dict[str, str]:
    """The GRIDMAP_* variables the command-line options set for the worker processes."""
    environ: dict[str, str] = {}
    if database_url is not None:
        environ["GRIDMAP_DATABASE_URL"] = database_url
    elif workspace is not None:
        environ["GRIDMAP_WORKSPACE"] = str(workspace.resolve())
    if access_log is not None:
        environ["GRIDMAP_ACCESS_LOG"] = access_log
    return environ


def _first_error(exc: ValidationError) -> str:
    error = exc.errors()[0]
    name = ".".join(str(part) for part in error.get("loc", ()))
    return f"GRIDMAP_{name.upper()}: {error.get('msg', 'invalid')}, got {error.get('input')!r}"


def _share_token_key(cfg: Settings) -> None:
    """Make the token key before the workers start, so that they all sign with one: the key
    file beside the workspace, or, when none can be kept there, one key passed to them all."""
    from gridmap.api.auth import token_secret

    key = token_secret(cfg)
    path = cfg.token_secret_file or Path(f"{cfg.workspace}.secret")
    if not path.exists():
        os.environ["GRIDMAP_TOKEN_SECRET"] = key


def _log_config() -> dict[str, Any]:
    """uvicorn's logging, with ``gridmap.access`` written as uvicorn's access log would be."""
    from uvicorn.config import LOGGING_CONFIG

    from gridmap.api.access_log import LOGGER

    config = copy.deepcopy(LOGGING_CONFIG)
    config["loggers"][LOGGER] = {"handlers": ["access"], "level": "INFO", "propagate": False}
    return config
