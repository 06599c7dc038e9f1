"""Commands on a store: ``gridmap db upgrade|load|dump|status``; dump and load are a full
backup and restore (:mod:`gridmap.store.backup`)."""

from __future__ import annotations

import getpass
import time
from pathlib import Path
from typing import Annotated

import typer

from gridmap.cli._app import JsonOpt, app, emit_json, fail, out, settings
from gridmap.cli.tiles_commands import TilesOpt
from gridmap.errors import GridmapError, InputError
from gridmap.store.contract import Store

db_app = typer.Typer(
    help="PostGIS database: upgrade its schema, back it up (dump) and restore it (load), status.",
    no_args_is_help=True,
)
app.add_typer(db_app, name="db")

DatabaseOpt = Annotated[
    str | None,
    typer.Option(
        "--database-url",
        help="PostgreSQL URL, e.g. postgresql://user@host:5432/gridmap "
        "(default: GRIDMAP_DATABASE_URL).",
    ),
]


def _url(given: str | None) -> str:
    url = given or settings().database_url
    if not url:
        raise InputError("no database: give --database-url URL or set GRIDMAP_DATABASE_URL")
    return url


def _actor() -> str:
    try:
        return f"{getpass.getuser()} (gridmap db)"
    except (KeyError, OSError):  # no user name in this environment
        return "gridmap db"


@db_app.command("upgrade")
def upgrade_command(database_url: DatabaseOpt = None, as_json: JsonOpt = False) -> None:
    """Apply the schema migrations the database does not have yet (safe to repeat)."""
    from gridmap.store.postgis.admin import upgrade_database

    try:
        result = upgrade_database(_url(database_url))
    except GridmapError as exc:
        fail(exc, as_json)
    if as_json:
        emit_json(result)
        return
    done = ", ".join(map(str, result["applied"])) or "none (up to date)"
    out.print(f"{result['database']}: applied {done}; schema versions {result['versions']}")


WorkspaceTarget = Annotated[
    Path | None,
    typer.Option("--workspace", help="A GeoPackage workspace instead of a database."),
]


def _target(database_url: str | None, workspace: Path | None) -> tuple[bool, str]:
    """The store a command works on: (True, conninfo) for the database (--database-url, else
    GRIDMAP_DATABASE_URL), (False, path) for --workspace W."""
    if workspace is not None and database_url is not None:
        raise InputError("give --workspace or --database-url, not both")
    return (False, str(workspace)) if workspace is not None else (True, _url(database_url))


def _open(remote: bool, target: str) -> Store:
    from gridmap.store.gpkg.store import GpkgStore
    from gridmap.store.postgis.store import PostgisStore

    return PostgisStore(target) if remote else GpkgStore(target)


def _where(remote: bool, target: str) -> str:
    from gridmap.store.postgis.admin import describe

    return describe(target) if remote else target


@db_app.command("load")
def load_command(
    source: Annotated[
        Path, typer.Option("--from", help="A backup (gridmap db dump) or a workspace (.gpkg).")
    ],
    database_url: DatabaseOpt = None,
    workspace: WorkspaceTarget = None,
    tiles: TilesOpt = True,
    as_json: JsonOpt = False,
) -> None:
    """Restore a backup into an empty database or a new workspace (everything: layers, plans
    with every revision, publications, staff, incidents, users, audit log), in one
    transaction. A workspace of layers only replaces the database's layers (audited). Then
    the published layers' tiles are prebuilt (``--no-tiles``: later, ``gridmap tiles build``)."""
    from gridmap.cli.tiles_commands import build_inline
    from gridmap.store.backup import is_backup, load_store
    from gridmap.store.postgis import load_workspace
    from gridmap.store.postgis.admin import connect_checked

    try:
        remote, target = _target(database_url, workspace)
        if not source.is_file():
            raise InputError(f"--from {source}: no such workspace file")
        if remote:
            connect_checked(target).close()
        elif Path(target).exists():
            raise InputError(f"--workspace {target}: a file is there already; name a new one")
        start = time.perf_counter()
        if is_backup(source) or not remote:
            into = _open(remote, target)
            try:
                counts = load_store(source, into)
            finally:
                into.close()
        else:
            counts = {"layers": load_workspace(source, target, actor=_actor()), "records": {}}
        seconds = time.perf_counter() - start
        if tiles:
            into = _open(remote, target)
            try:
                build_inline(into, quiet=as_json)
            finally:
                into.close()
    except GridmapError as exc:
        fail(exc, as_json)
    where = _where(remote, target)
    result = {
        "database": where,
        "from": str(source),
        "rows": counts["layers"],
        "records": counts["records"],
        "seconds": seconds,
    }
    if as_json:
        emit_json(result)
        return
    rows = ", ".join(
        f"{name} {n:,}" for name, n in {**counts["layers"], **counts["records"]}.items()
    )
    out.print(f"loaded {source} into {where} in {seconds:.2f} s: {rows or 'nothing'}")


@db_app.command("dump")
def dump_command(
    out_path: Annotated[Path, typer.Option("--out", help="The GeoPackage to write (.gpkg).")],
    database_url: DatabaseOpt = None,
    workspace: WorkspaceTarget = None,
    as_json: JsonOpt = False,
) -> None:
    """Back up a database (or a workspace) into one GeoPackage: the layers, plans with every
    revision, publications, staff assignments, incidents with their events and photos, users
    (with their password hashes), departments, subsidy rules, drafts submitted for publication
    and the audit log. Restore it with `gridmap db load --from`."""
    from gridmap.store.backup import dump_store
    from gridmap.store.postgis.admin import connect_checked

    try:
        remote, target = _target(database_url, workspace)
        if out_path.suffix.lower() != ".gpkg":
            raise InputError(f"--out {out_path}: a workspace is a GeoPackage; name it *.gpkg")
        if remote:
            connect_checked(target).close()
        elif not Path(target).is_file():
            raise InputError(f"--workspace {target}: no such workspace")
        start = time.perf_counter()
        store = _open(remote, target)
        try:
            counts = dump_store(store, out_path)
        finally:
            store.close()
        seconds = time.perf_counter() - start
    except GridmapError as exc:
        fail(exc, as_json)
    where = _where(remote, target)
    result = {
        "database": where,
        "out": str(out_path),
        "rows": counts["layers"],
        "records": counts["records"],
        "seconds": seconds,
    }
    if as_json:
        emit_json(result)
        return
    rows = ", ".join(
        f"{name} {n:,}" for name, n in {**counts["layers"], **counts["records"]}.items()
    )
    out.print(f"dumped {where} to {out_path} in {seconds:.2f} s: {rows or 'nothing'}")


@db_app.command("status")
def status_command(database_url: DatabaseOpt = None, as_json: JsonOpt = False) -> None:
    """Schema versions (applied, pending), rows per layer, partitions by district, plans."""
    from gridmap.store.postgis.admin import database_status

    try:
        status = database_status(_url(database_url))
    except GridmapError as exc:
        fail(exc, as_json)
    if as_json:
        emit_json(status)
        return
    migrations = status["migrations"]
    out.print(f"{status['database']} (PostGIS {status['postgis'] or 'not installed'})")
    out.print(
        f"  schema: applied {migrations['applied'] or 'none'}; pending "
        f"{migrations['pending'] or 'none'}"
        + ("  → run `gridmap db upgrade`" if migrations["pending"] else "")
    )
    for name, rows in status["layers"].items():
        out.print(f"  {name}: {rows:,} rows")
    for name, parts in status["partitions"].items():
        shown = ", ".join(f"{child} {n:,}" for child, n in parts.items())
        out.print(f"  {name} partitions: {shown}", highlight=False)
    plans = ", ".join(f"{k} {v}" for k, v in status["plans"].items()) or "none"
    out.print(f"  plans: {plans}; publications in force: {status['publications_in_force']}")
