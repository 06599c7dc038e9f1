"""Users who sign in: the admin lists, adds, changes (role, active, password) and removes them;
anyone signed in sees themselves. Every change is audited."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Request, Response
from pydantic import BaseModel, Field

from gridmap.api.auth import hash_password, require
from gridmap.api.write_limits import LimitedRoute
from gridmap.store.contract import Store, User

__all__ = ["router", "user_json"]

router = APIRouter(prefix="/api/users", tags=["security"], route_class=LimitedRoute)

Admin = Annotated[User, Depends(require("admin"))]
SignedIn = Annotated[User, Depends(require("public"))]


class NewUser(BaseModel):
    """A user to add; the password is hashed (argon2) and never stored or shown."""

    name: Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[\w.@-]+$")]
    role: Literal["public", "staff", "planner", "admin"]
    password: Annotated[str, Field(min_length=8, max_length=256)]


def user_json(user: User) -> dict[str, Any]:
    """A user without the password hash."""
    return {
        "name": user.name,
        "role": user.role,
        "active": user.active,
        "created_at": user.created_at.isoformat(),
    }


def _store(request: Request) -> Store:
    store: Store = request.app.state.store
    return store


@router.get("/me", summary="Who am I")
def me(user: SignedIn) -> dict[str, Any]:
    """The signed-in user."""
    return user_json(user)


@router.get("", summary="All users (admin)")
def list_users(request: Request, user: Admin) -> dict[str, Any]:
    """Every user, by name, without password hashes."""
    return {"users": [user_json(u) for u in _store(request).users()]}


@router.post("", status_code=201, summary="Add a user (admin)")
def add_user(request: Request, body: NewUser, user: Admin) -> dict[str, Any]:
    """A new user; 409 when the name is taken."""
    made = _store(request).add_user(
        body.name, body.role, hash_password(body.password), actor=user.name
    )
    return user_json(made)


class UserChange(BaseModel):
    """What to change of a user: the role, whether they may sign in, a new password."""

    role: Literal["public", "staff", "planner", "admin"] | None = None
    active: bool | None = None
    password: Annotated[str | None, Field(min_length=8, max_length=256)] = None


@router.patch("/{name}", summary="Change a user's role, disable or enable them, reset the password")
def change_user(request: Request, name: str, body: UserChange, user: Admin) -> dict[str, Any]:
    """Audited; the change holds at once (roles are read on every request). 409 when it would
    leave no active admin; 404 for an unknown name."""
    changed = _store(request).update_user(
        name,
        actor=user.name,
        role=body.role,
        active=body.active,
        password_hash=None if body.password is None else hash_password(body.password),
    )
    return user_json(changed)


@router.delete("/{name}", status_code=204, summary="Remove a user (admin)")
def remove_user(request: Request, name: str, user: Admin) -> Response:
    """Audited (the user's earlier entries in the audit log stay); 409 for the last admin."""
    _store(request).delete_user(name, actor=user.name)
    return Response(status_code=204)
