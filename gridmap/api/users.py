"""Users who sign in: the admin lists, adds, changes (role, active, password) and removes them;
anyone signed in sees themselves. Every change is audited."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Response
from pydantic import BaseModel, Field

from gridmap.api.auth import require
from gridmap.api.deps import StoreDep
from gridmap.api.write_limits import LimitedRoute
from gridmap.service.users import add_user as add_user_to
from gridmap.service.users import change_user as change_user_in
from gridmap.service.users import remove_user as remove_user_from
from gridmap.service.users import user_json, users_json
from gridmap.store.contract import User

__all__ = ["router", "user_json"]

router = APIRouter(prefix="/api/users", tags=["security"], route_class=LimitedRoute)

Admin = Annotated[User, Depends(require("admin"))]
SignedIn = Annotated[User, Depends(require("public"))]
Duty = Literal["acceptor", "dispatcher", "handler", "supervisor"]
Department = Annotated[str, Field(min_length=1, max_length=32)]


class NewUser(BaseModel):
    """A user to add; the password is hashed (argon2) and never stored or shown."""

    name: Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[\w.@-]+$")]
    role: Literal["public", "staff", "planner", "admin"]
    password: Annotated[str, Field(min_length=8, max_length=256)]
    scope: Annotated[list[Annotated[str, Field(pattern=r"^\d{12}$")]], Field(max_length=200)] = (
        Field(default_factory=list, description="district, street or community codes; []: all")
    )
    duties: list[Duty] = Field(
        default_factory=list,
        description="workflow roles: acceptor (受理员), dispatcher (派遣员), handler (处置单位), "
        "supervisor (监督员)",
    )
    department: Department | None = Field(None, description="a handler's department code")


@router.get("/me", summary="Who am I")
def me(user: SignedIn) -> dict[str, Any]:
    """The signed-in user."""
    return user_json(user)


@router.get("", summary="All users (admin)")
def list_users(store: StoreDep, user: Admin) -> dict[str, Any]:
    """Every user, by name, without password hashes."""
    return {"users": users_json(store)}


@router.post("", status_code=201, summary="Add a user (admin)")
def add_user(store: StoreDep, body: NewUser, user: Admin) -> dict[str, Any]:
    """A new user; 409 when the name is taken."""
    made = add_user_to(
        store,
        body.name,
        body.role,
        body.password,
        actor=user.name,
        scope=body.scope,
        duties=body.duties,
        department=body.department,
    )
    return user_json(made)


class UserChange(BaseModel):
    """What to change of a user: the role, whether they may sign in, a new password."""

    role: Literal["public", "staff", "planner", "admin"] | None = None
    active: bool | None = None
    password: Annotated[str | None, Field(min_length=8, max_length=256)] = None
    scope: (
        Annotated[list[Annotated[str, Field(pattern=r"^\d{12}$")]], Field(max_length=200)] | None
    ) = None
    duties: list[Duty] | None = None
    department: Annotated[str, Field(max_length=32)] | None = Field(
        None, description='a handler\'s department code; "" clears it'
    )


@router.patch("/{name}", summary="Change a user's role, disable or enable them, reset the password")
def change_user(store: StoreDep, name: str, body: UserChange, user: Admin) -> dict[str, Any]:
    """Audited; the change holds at once (roles are read on every request). 409 when it would
    leave no active admin; 404 for an unknown name."""
    changed = change_user_in(
        store,
        name,
        actor=user.name,
        role=body.role,
        active=body.active,
        password=body.password,
        scope=body.scope,
        duties=body.duties,
        department=body.department,
    )
    return user_json(changed)


@router.delete("/{name}", status_code=204, summary="Remove a user (admin)")
def remove_user(store: StoreDep, name: str, user: Admin) -> Response:
    """Audited (the user's earlier entries in the audit log stay); 409 for the last admin."""
    remove_user_from(store, name, actor=user.name)
    return Response(status_code=204)
