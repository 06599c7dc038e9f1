"""Departments cases are dispatched to: ``gridmap department import FILE.csv`` (columns code,
name, phone; the shipped ``gridmap/cases/data/departments.csv`` lists a district's usual ones)
and ``gridmap department list``."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Annotated

import typer

from gridmap.cli._app import (
    DatabaseOpt,
    JsonOpt,
    WorkspaceOpt,
    app,
    emit_json,
    fail,
    open_target,
    out,
)
from gridmap.errors import GridmapError, InputError
from gridmap.store.common import check_department_code

__all__ = ["DEPARTMENTS_CSV", "department_app", "read_departments"]

DEPARTMENTS_CSV = Path(__file__).resolve().parents[1] / "cases" / "data" / "departments.csv"

department_app = typer.Typer(
    help="Departments cases are dispatched to (城管, 住建, 派出所, 物业…): import, list.",
    no_args_is_help=True,
)
app.add_typer(department_app, name="department")


def read_departments(path: Path) -> list[tuple[str, str, str | None]]:
    """(code, name, phone) of each row of a departments CSV; InputError names a bad line."""
    try:
        with path.open(encoding="utf-8-sig", newline="") as handle:
            rows = list(csv.DictReader(handle))
    except OSError as exc:
        raise InputError(f"{path}: cannot read it ({exc.strerror})") from exc
    if not rows or not {"code", "name"} <= set(rows[0]):
        raise InputError(f"{path}: needs the columns code, name (and phone); none found")
    out_rows = []
    for line, row in enumerate(rows, start=2):
        if not (row.get("code") or "").strip() or not (row.get("name") or "").strip():
            raise InputError(f"{path}, line {line}: code and name must not be empty")
        try:  # every row is checked before any is written
            code = check_department_code(row["code"])
        except InputError as exc:
            raise InputError(f"{path}, line {line}: {exc}") from None
        phone = (row.get("phone") or "").strip() or None
        out_rows.append((code, row["name"].strip(), phone))
    return out_rows


@department_app.command("import")
def import_command(
    source: Annotated[
        Path, typer.Argument(help="A CSV with columns code, name, phone.")
    ] = DEPARTMENTS_CSV,
    workspace: WorkspaceOpt = None,
    database_url: DatabaseOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Add the departments of a CSV, or change their names and phones (audited); without a
    file, the shipped list of a district's usual departments."""
    from gridmap.cli.db_commands import _actor

    try:
        rows = read_departments(source)
        store = open_target(workspace, database_url)
        try:
            for code, name, phone in rows:
                store.put_department(code, name, phone, actor=_actor())
        finally:
            store.close()
    except GridmapError as exc:
        fail(exc, as_json)
    if as_json:
        emit_json({"imported": len(rows)})
        return
    out.print(f"{len(rows)} departments imported from {source}")


@department_app.command("list")
def list_command(
    workspace: WorkspaceOpt = None, database_url: DatabaseOpt = None, as_json: JsonOpt = False
) -> None:
    """The departments: code, name, phone."""
    try:
        store = open_target(workspace, database_url)
        try:
            rows = store.departments()
        finally:
            store.close()
    except GridmapError as exc:
        fail(exc, as_json)
    if as_json:
        emit_json({"departments": rows})
        return
    for row in rows:
        out.print(f"{row['code']}\t{row['name']}\t{row['phone'] or ''}")
