"""Commands that put grids in force and serve them: publish, serve."""

from __future__ import annotations

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
    as_json: JsonOpt = False,
) -> None:
    """Put plans in force for all their communities (ends the publications they replace).

    Checked as the API checks: a plan whose coverage report has errors is refused.
    Open incidents move to their new grids in the same transaction.
    """
    from gridmap.service.publish import parse_effective, publish_plans

    try:
        store = _open(workspace, database_url)
        try:
            when = parse_effective(effective)
            done = publish_plans(store, plan_id, actor=actor, settings=settings(), at=when)
            assigned = assign_community_staff(store, actor=actor) if assign_staff else 0
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
    }
    if as_json:
        emit_json(result)
        return
    out.print(
        f"published plan {', '.join(plan_id)} in {len(publications)} communities from "
        f"{result['valid_from']}; {result['incidents_regridded']} open incidents moved to new grids"
        + (f"; {assigned} staff roles assigned" if assign_staff else "")
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
