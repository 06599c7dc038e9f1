"""Commands on a PostGIS database: ``gridmap db upgrade|load|dump|status``."""

from __future__ import annotations

import getpass
import time
from pathlib import Path
from typing import Annotated

import typer

from gridmap.cli._app import JsonOpt, app, emit_json, fail, out, settings
from gridmap.errors import GridmapError, InputError

db_app = typer.Typer(
    help="PostGIS database: upgrade its schema, load a workspace into it, dump it, status.",
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
    from gridmap.store.postgis_admin import upgrade_database

    try:
        result = upgrade_database(_url(database_url))
    except GridmapError as exc:
        fail(exc, as_json)
    if as_json:
        emit_json(result)
        return
    done = ", ".join(map(str, result["applied"])) or "none (up to date)"
    out.print(f"{result['database']}: applied {done}; schema versions {result['versions']}")


@db_app.command("load")
def load_command(
    source: Annotated[
        Path, typer.Option("--from", help="The GeoPackage workspace to load (.gpkg).")
    ],
    database_url: DatabaseOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Replace the database's layers with a workspace's, in one transaction."""
    from gridmap.store.postgis import load_workspace
    from gridmap.store.postgis_admin import connect_checked, describe

    try:
        url = _url(database_url)
        if not source.is_file():
            raise InputError(f"--from {source}: no such workspace file")
        connect_checked(url).close()
        start = time.perf_counter()
        counts = load_workspace(source, url, actor=_actor())
        seconds = time.perf_counter() - start
    except GridmapError as exc:
        fail(exc, as_json)
    result = {"database": describe(url), "from": str(source), "rows": counts, "seconds": seconds}
    if as_json:
        emit_json(result)
        return
    rows = ", ".join(f"{name} {n:,}" for name, n in counts.items()) or "nothing"
    out.print(f"loaded {source} into {result['database']} in {seconds:.2f} s: {rows}")


@db_app.command("dump")
def dump_command(
    out_path: Annotated[Path, typer.Option("--out", help="The GeoPackage to write (.gpkg).")],
    database_url: DatabaseOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Write the database's layers into a GeoPackage workspace (replacing its layers)."""
    from gridmap.store.postgis import dump_to_workspace
    from gridmap.store.postgis_admin import connect_checked, describe

    try:
        url = _url(database_url)
        if out_path.suffix.lower() != ".gpkg":
            raise InputError(f"--out {out_path}: a workspace is a GeoPackage; name it *.gpkg")
        connect_checked(url).close()
        start = time.perf_counter()
        counts = dump_to_workspace(url, out_path)
        seconds = time.perf_counter() - start
    except GridmapError as exc:
        fail(exc, as_json)
    result = {"database": describe(url), "out": str(out_path), "rows": counts, "seconds": seconds}
    if as_json:
        emit_json(result)
        return
    rows = ", ".join(f"{name} {n:,}" for name, n in counts.items()) or "nothing"
    out.print(f"dumped {result['database']} to {out_path} in {seconds:.2f} s: {rows}")


@db_app.command("status")
def status_command(database_url: DatabaseOpt = None, as_json: JsonOpt = False) -> None:
    """Schema versions (applied, pending), rows per layer, partitions by district, plans."""
    from gridmap.store.postgis_admin import database_status

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
