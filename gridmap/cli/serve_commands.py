"""Commands that put grids in force and serve them: publish, serve."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from pathlib import Path
from typing import Annotated

import typer

from gridmap.cli._app import JsonOpt, WorkspaceOpt, app, emit_json, err, fail, out, settings
from gridmap.errors import GridmapError, InputError
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
    """Give each community's staff to its grids in force, team by team; return the count.

    A community's staff (the staff layer's ``community_code``), in id order, form teams: the
    k-th person of each role. The k-th grid of the community (by code) gets the k-th team, for
    each role nobody holds in it yet. Grids beyond the last team stay as they are.
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
        people = staff[staff["community_code"] == community]
        teams = {role: list(rows["id"]) for role, rows in people.groupby("role")}
        for k, code in enumerate(group["code"]):
            for role, ids in teams.items():
                if k < len(ids) and (code, role) not in held:
                    store.assign_staff(ids[k], code, role, actor=actor)
                    made += 1
    return made


def _open(workspace: Path | None, database_url: str | None) -> Store:
    from gridmap.store import open_store

    cfg = settings()
    if workspace is not None and database_url is not None:
        raise InputError("give --workspace or --database-url, not both")
    return open_store(database_url or (workspace or cfg.database_url or cfg.workspace))


def _at(text: str | None) -> dt.datetime | None:
    from gridmap.service.lookup import parse_at

    if text is None:
        return None
    when = parse_at(text)
    if when is not None and len(text.strip()) == 10:  # a date: from the start of that day
        when = when.replace(hour=0, minute=0, second=0, microsecond=0)
    return when


@app.command("publish")
def publish_command(
    plan_id: Annotated[list[str], typer.Argument(help="Plan id(s) to put in force together.")],
    workspace: WorkspaceOpt = None,
    database_url: DatabaseOpt = None,
    at: Annotated[
        str | None,
        typer.Option(help="In force from this date (Beijing time) or ISO time; default now."),
    ] = None,
    assign_staff: Annotated[
        bool,
        typer.Option(
            "--assign-staff",
            help="Then give each community's staff to its grids, team by team (the sample).",
        ),
    ] = False,
    actor: Annotated[str, typer.Option(help="Who publishes (the audit log).")] = "gridmap",
    as_json: JsonOpt = False,
) -> None:
    """Put plans in force for all their communities (ends the publications they replace)."""
    try:
        store = _open(workspace, database_url)
        try:
            publications = store.publish(plan_id, actor=actor, at=_at(at))
            assigned = assign_community_staff(store, actor=actor) if assign_staff else 0
        finally:
            store.close()
    except GridmapError as exc:
        fail(exc, as_json)
    result = {
        "plans": plan_id,
        "communities": len(publications),
        "valid_from": publications[0].valid_from.isoformat() if publications else None,
        "staff_assigned": assigned,
    }
    if as_json:
        emit_json(result)
        return
    out.print(
        f"published plan {', '.join(plan_id)} in {len(publications)} communities from "
        f"{result['valid_from']}" + (f"; {assigned} staff roles assigned" if assign_staff else "")
    )


@app.command("serve")
def serve_command(
    workspace: WorkspaceOpt = None,
    database_url: DatabaseOpt = None,
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
) -> None:
    """Serve the HTTP API, tiles, OGC API Features and the web app (uvicorn)."""
    import uvicorn

    from gridmap.api import create_app

    cfg = settings()
    if workspace is not None and database_url is not None:
        fail(InputError("give --workspace or --database-url, not both"), False)
    updates: dict[str, object] = {}
    if database_url is not None:
        updates["database_url"] = database_url
    elif workspace is not None:
        updates = {"workspace": workspace, "database_url": None}
    cfg = cfg.model_copy(update=updates)
    where = (cfg.database_url and "PostGIS") or str(cfg.workspace)
    if not cfg.database_url and not Path(cfg.workspace).exists():
        fail(
            InputError(f"{cfg.workspace}: no such workspace; run ./dev demo or gridmap sample"),
            False,
        )
    err.print(f"serving {where} on http://{host}:{port}/ (API docs: /docs, OGC API: /ogc)")
    uvicorn.run(create_app(cfg), host=host, port=port, log_level="info")
