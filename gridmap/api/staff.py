"""Grid staff: the people, their roles in grids, and the grids missing a role.

Reading needs ``staff`` (office staff call the people responsible, so private phones are
shown to them; public boards are served elsewhere, without them); writing needs ``admin``.
A change names the ``etag`` of the row it read: when another change came first it is refused
with 409 and the current row, never overwritten. The check and the write are one database
transaction on that row (:mod:`gridmap.service.staff`), so this holds across servers too.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from gridmap.api.auth import require
from gridmap.api.errors import error_body
from gridmap.api.scope import require_in_scope, sees
from gridmap.api.write_limits import LimitedRoute
from gridmap.errors import InputError
from gridmap.service import staff as service
from gridmap.settings import Settings
from gridmap.store.common import staff_etag
from gridmap.store.contract import StaleStaffError, Store, User

__all__ = ["router", "staff_etag"]

router = APIRouter(prefix="/api/staff", tags=["staff"], route_class=LimitedRoute)

Staff = Annotated[User, Depends(require("staff"))]
Admin = Annotated[User, Depends(require("admin"))]
Short = Annotated[str, Field(max_length=100)]


class Person(BaseModel):
    """A member of grid staff."""

    id: Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[\w.-]+$")]
    name: Annotated[str, Field(min_length=1, max_length=100)]
    role: Annotated[str, Field(min_length=1, max_length=50)]
    phone_public: Short | None = None
    phone_private: Short | None = None
    duties: Annotated[str, Field(max_length=500)] | None = None
    community_code: Annotated[str, Field(max_length=12)] | None = None


class PersonChange(BaseModel):
    """New values for a person's fields, against the ``etag`` read."""

    etag: Annotated[str, Field(min_length=1, max_length=64)]
    name: Annotated[str, Field(min_length=1, max_length=100)] | None = None
    role: Annotated[str, Field(min_length=1, max_length=50)] | None = None
    phone_public: Short | None = None
    phone_private: Short | None = None
    duties: Annotated[str, Field(max_length=500)] | None = None
    community_code: Annotated[str, Field(max_length=12)] | None = None


class Assignment(BaseModel):
    """A role in a grid."""

    grid_code: Annotated[str, Field(min_length=1, max_length=20)]
    role: Annotated[str, Field(min_length=1, max_length=50)]


def _store(request: Request) -> Store:
    store: Store = request.app.state.store
    return store


def _roles(request: Request) -> dict[str, str]:
    settings: Settings = request.app.state.settings
    return settings.all_roles()


def _with_assignments(store: Store, row: dict[str, Any]) -> dict[str, Any]:
    return row | {
        "assignments": [
            {"grid_code": a.grid_code, "role": a.role, "assigned_at": a.assigned_at.isoformat()}
            for a in store.staff_assignments(staff_id=row["id"])
        ]
    }


def _conflict(exc: StaleStaffError) -> JSONResponse:
    detail = f"staff {exc.staff_id} was changed by someone else since you read it; reload it"
    return JSONResponse(error_body("conflict", detail) | {"current": exc.current}, 409)


def _refresh_board(request: Request) -> None:
    # The public boards (lookup answers) list the grid's staff: rebuild them after a change.
    refresh = getattr(getattr(request.app.state, "locator", None), "refresh", None)
    if refresh is not None:
        refresh()


@router.get("", summary="All grid staff")
def list_staff(
    request: Request,
    user: Staff,
    community: Annotated[str | None, Query(max_length=12)] = None,
) -> dict[str, Any]:
    """Everyone (optionally of one community) in the caller's scope, with their etags."""
    people = [
        p for p in service.people(_store(request), community) if sees(user, p.get("community_code"))
    ]
    return {"staff": people, "roles": _roles(request)}


@router.get("/missing-roles", summary="Grids in force missing any staff role")
def missing_roles(request: Request, user: Staff) -> dict[str, Any]:
    """Each grid in force lacking one of the staff roles (the grid head is not counted), and
    which roles it lacks."""
    store = _store(request)
    settings: Settings = request.app.state.settings
    wanted = [r for r in settings.roles if r != "grid_head"]  # optional roles are never missing
    held: dict[str, set[str]] = {}
    for a in store.staff_assignments():
        held.setdefault(a.grid_code, set()).add(a.role)
    grids = store.grids_at()
    out = []
    for code, community in zip(grids["code"], grids["community_code"], strict=True):
        if not sees(user, str(community)):
            continue
        missing = [r for r in wanted if r not in held.get(str(code), set())]
        if missing:
            out.append(
                {"grid_code": str(code), "community_code": str(community), "missing": missing}
            )
    return {"grids": out, "roles": wanted}


@router.get("/{staff_id}", summary="One person and their roles in grids")
def get_person(request: Request, staff_id: str, user: Staff) -> dict[str, Any]:
    """The person, their etag and assignments."""
    store = _store(request)
    person = service.person(store, staff_id)
    if person.get("community_code"):  # a person of no community is everyone's to call
        require_in_scope(user, [person["community_code"]], f"staff {staff_id} of")
    return _with_assignments(store, person)


@router.post("", status_code=201, summary="Add a person")
def add_person(request: Request, body: Person, user: Admin) -> dict[str, Any]:
    """A new member of staff; 409 when the id is taken."""
    store = _store(request)
    row = service.add_person(store, body.model_dump(), actor=user.name, roles=_roles(request))
    _refresh_board(request)
    return _with_assignments(store, row)


@router.patch("/{staff_id}", summary="Change a person (optimistic: names the etag read)")
def change_person(request: Request, staff_id: str, body: PersonChange, user: Admin) -> Any:
    """Apply the fields given if the person is still as read (``etag``); else 409 with the
    current row. The database checks the etag and writes the row in one transaction."""
    store = _store(request)
    changes = body.model_dump(exclude_none=True, exclude={"etag"})
    try:
        row = service.change_person(
            store, staff_id, body.etag, changes, actor=user.name, roles=_roles(request)
        )
    except StaleStaffError as exc:
        return _conflict(exc)
    _refresh_board(request)
    return _with_assignments(store, row)


@router.delete("/{staff_id}", status_code=204, summary="Remove a person and their roles")
def delete_person(
    request: Request,
    staff_id: str,
    user: Admin,
    etag: Annotated[str, Query(min_length=1, max_length=64)],
) -> Response:
    """Remove the person (if still as read: ``etag``) and every role they held."""
    try:
        service.remove_person(_store(request), staff_id, etag, actor=user.name)
    except StaleStaffError as exc:
        return _conflict(exc)
    _refresh_board(request)
    return Response(status_code=204)


@router.post("/{staff_id}/assignments", status_code=201, summary="Give a person a role in a grid")
def assign(request: Request, staff_id: str, body: Assignment, user: Admin) -> dict[str, Any]:
    """Idempotent; the grid must be in force and the role one of the settings' roles."""
    service.check_role(body.role, _roles(request))
    store = _store(request)
    grids = store.grids_at()
    if not (grids["code"] == body.grid_code).any():
        raise InputError(f"grid_code={body.grid_code!r}: no grid of that code is in force")
    store.assign_staff(staff_id, body.grid_code, body.role, actor=user.name)
    _refresh_board(request)
    return _with_assignments(store, service.person(store, staff_id))


@router.delete("/{staff_id}/assignments", status_code=204, summary="Take a role in a grid away")
def unassign(
    request: Request,
    staff_id: str,
    user: Admin,
    grid_code: Annotated[str, Query(min_length=1, max_length=20)],
    role: Annotated[str, Query(min_length=1, max_length=50)],
) -> Response:
    """404 when the person did not hold that role there."""
    _store(request).unassign_staff(staff_id, grid_code, role, actor=user.name)
    _refresh_board(request)
    return Response(status_code=204)
