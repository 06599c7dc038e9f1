"""The departments cases are dispatched to (城管, 住建, 派出所, 物业, 市场监管, 环保…).

``GET /api/departments`` for staff (the dispatcher picks one); ``PUT /api/departments/{code}``
and ``DELETE`` for admins (or ``gridmap department import FILE.csv``). Every change is audited.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Response
from pydantic import BaseModel, Field

from gridmap.api.auth import require
from gridmap.api.deps import StoreDep
from gridmap.api.write_limits import LimitedRoute
from gridmap.store.contract import User

__all__ = ["router"]

router = APIRouter(prefix="/api/departments", tags=["incidents"], route_class=LimitedRoute)

Staff = Annotated[User, Depends(require("staff"))]
Admin = Annotated[User, Depends(require("admin"))]
Code = Annotated[str, Path(pattern=r"^[a-z0-9][a-z0-9_.-]{0,31}$", description="e.g. chengguan")]


class DepartmentBody(BaseModel):
    """A department's name and duty phone."""

    name: Annotated[str, Field(min_length=1, max_length=100)]
    phone: Annotated[str, Field(max_length=50)] | None = None


@router.get("", summary="Departments cases are dispatched to")
def list_departments(store: StoreDep, user: Staff) -> dict[str, Any]:
    """Every department (code, name, phone), by code."""
    return {"departments": store.departments()}


@router.put("/{code}", summary="Add or change a department (admin)")
def put_department(
    store: StoreDep, code: Code, body: DepartmentBody, user: Admin
) -> dict[str, Any]:
    """Add the department ``code``, or change its name and phone."""
    return store.put_department(code, body.name, body.phone, actor=user.name)


@router.delete("/{code}", status_code=204, summary="Remove a department (admin)")
def delete_department(store: StoreDep, code: Code, user: Admin) -> Response:
    """Cases dispatched to it keep its code; 404 for an unknown code."""
    store.remove_department(code, actor=user.name)
    return Response(status_code=204)
