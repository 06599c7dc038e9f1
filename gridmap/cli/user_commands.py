"""Users who sign in to the web app: ``gridmap user add NAME --role ROLE``, ``user list``,
``user set NAME [--role R] [--enable|--disable] [--password] [--scope CODE…|--city-wide]
[--duty D…|--no-duties] [--department CODE]``,
``user remove NAME``.

The password is read from a prompt (asked twice, not echoed) or, with ``--password-stdin``, from
the first line of standard input (for scripts); it is stored only as an argon2 hash.
"""

from __future__ import annotations

import sys
from typing import Annotated, Any

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

__all__ = ["user_app"]

user_app = typer.Typer(
    help="Users of the web app: add, list, set (role, enable/disable, password), remove.",
    no_args_is_help=True,
)
app.add_typer(user_app, name="user")


ScopeOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--scope",
        help="A district, street or community code the user works in (repeatable).",
    ),
]

DutyOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--duty",
        help="A workflow role (repeatable): acceptor (受理员), dispatcher (派遣员), handler "
        "(处置单位), supervisor (监督员): the case steps the user may take.",
    ),
]
DepartmentOpt = Annotated[
    str | None,
    typer.Option("--department", help="A handler's department code (see /api/departments)."),
]


def _password(from_stdin: bool) -> str:
    if from_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = typer.prompt("Password (密码)", hide_input=True, confirmation_prompt=True)
    return password


@user_app.command("add")
def add_command(
    name: Annotated[str, typer.Argument(help="The user's sign-in name.")],
    role: Annotated[
        str, typer.Option("--role", help="public, staff, planner or admin (each includes the last)")
    ],
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read the password from standard input.")
    ] = False,
    scope: ScopeOpt = None,
    duty: DutyOpt = None,
    department: DepartmentOpt = None,
    workspace: WorkspaceOpt = None,
    database_url: DatabaseOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Add a user with a role (and, for staff and planners, the streets or communities they
    work in: --scope, repeatable; none: city-wide; the case workflow roles they hold: --duty,
    repeatable, and a handler's --department); the password is hashed with argon2."""
    from gridmap.cli.db_commands import _actor
    from gridmap.service.users import ROLES, add_user, check_new_user

    try:
        if role not in ROLES:
            raise InputError(f"--role {role!r}: choose one of {', '.join(ROLES)}")
        password = _password(password_stdin)
        check_new_user(role, password)  # before the store is opened (or created)
        store = open_target(workspace, database_url, must_exist=False)  # a first user may
        try:  # come before any data
            user = add_user(
                store,
                name,
                role,
                password,
                actor=_actor(),
                scope=scope or (),
                duties=duty or (),
                department=department,
            )
        finally:
            store.close()
    except GridmapError as exc:
        fail(exc, as_json)
    if as_json:
        emit_json({"name": user.name, "role": user.role, "created_at": user.created_at})
        return
    out.print(f"user {user.name} added with role {user.role}")


@user_app.command("list")
def list_command(
    workspace: WorkspaceOpt = None, database_url: DatabaseOpt = None, as_json: JsonOpt = False
) -> None:
    """The users, their roles and whether they are active (never their password hashes)."""
    try:
        store = open_target(workspace, database_url)
        try:
            users = store.users()
        finally:
            store.close()
    except GridmapError as exc:
        fail(exc, as_json)
    rows: list[dict[str, Any]] = [
        {
            "name": u.name,
            "role": u.role,
            "active": u.active,
            "scope": list(u.scope),
            "duties": list(u.duties),
            "department": u.department,
        }
        for u in users
    ]
    if as_json:
        emit_json({"users": rows})
        return
    for row in rows:
        state = "active" if row["active"] else "disabled"
        duties = ",".join(row["duties"]) + (f"@{row['department']}" if row["department"] else "")
        out.print(f"{row['name']}\t{row['role']}\t{state}\t{duties}".rstrip())


@user_app.command("set")
def set_command(
    name: Annotated[str, typer.Argument(help="The user's sign-in name.")],
    role: Annotated[
        str | None, typer.Option("--role", help="A new role: public, staff, planner or admin.")
    ] = None,
    active: Annotated[
        bool | None,
        typer.Option("--enable/--disable", help="Let the user sign in, or stop them at once."),
    ] = None,
    password: Annotated[
        bool, typer.Option("--password", help="Set a new password (prompted, or --password-stdin).")
    ] = False,
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read the new password from standard input.")
    ] = False,
    scope: ScopeOpt = None,
    city_wide: Annotated[
        bool, typer.Option("--city-wide", help="Clear the user's scope: they work everywhere.")
    ] = False,
    duty: DutyOpt = None,
    no_duties: Annotated[
        bool, typer.Option("--no-duties", help="Take every workflow role away from the user.")
    ] = False,
    department: Annotated[
        str | None,
        typer.Option("--department", help='A handler\'s department code ("" clears it).'),
    ] = None,
    workspace: WorkspaceOpt = None,
    database_url: DatabaseOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Change a user's role, disable or enable them, reset their password, or set their
    workflow roles (--duty, repeatable; --no-duties) and department (audited).

    A user who is disabled or demoted loses access at once. The last active admin cannot be
    disabled, demoted or removed (exit 2).
    """
    from gridmap.cli.db_commands import _actor
    from gridmap.service.users import change_user

    try:
        new_password = _password(password_stdin) if password or password_stdin else None
        store = open_target(workspace, database_url)
        try:
            user = change_user(
                store,
                name,
                actor=_actor(),
                role=role,
                active=active,
                password=new_password,
                scope=[] if city_wide else scope,
                duties=[] if no_duties else duty,
                department=department,
            )
        finally:
            store.close()
    except GridmapError as exc:
        fail(exc, as_json)
    if as_json:
        emit_json({"name": user.name, "role": user.role, "active": user.active})
        return
    state = "active" if user.active else "disabled"
    reset = ", password reset" if new_password else ""
    out.print(f"user {user.name}: {user.role}, {state}{reset}")


@user_app.command("remove")
def remove_command(
    name: Annotated[str, typer.Argument(help="The user's sign-in name.")],
    workspace: WorkspaceOpt = None,
    database_url: DatabaseOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Remove a user (audited; their earlier entries in the audit log stay)."""
    from gridmap.cli.db_commands import _actor
    from gridmap.service.users import remove_user

    try:
        store = open_target(workspace, database_url)
        try:
            remove_user(store, name, actor=_actor())
        finally:
            store.close()
    except GridmapError as exc:
        fail(exc, as_json)
    if as_json:
        emit_json({"removed": name})
        return
    out.print(f"user {name} removed")
