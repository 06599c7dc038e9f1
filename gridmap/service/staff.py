"""Grid staff: reading people with their etags, and changing them row by row.

A change names the ``etag`` of the row it read. The store checks it and writes the row in one
database transaction (:meth:`Store.update_staff`, :meth:`Store.remove_staff`), so two servers
on one store never lose each other's changes: changes of different people both hold, and of
two changes from the same read one wins and the other gets
:class:`~gridmap.store.contract.StaleStaffError` with the winner's row.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pandas as pd

from gridmap.errors import InputError
from gridmap.store.common import STAFF_FIELDS, staff_etag
from gridmap.store.contract import Store

__all__ = ["add_person", "change_person", "check_role", "people", "person", "remove_person"]


def check_role(role: str, roles: Mapping[str, str]) -> None:
    """A staff role must be one of the settings' roles."""
    if role not in roles:
        raise InputError(f"role={role!r}: not one of {', '.join(roles)}")


def people(store: Store, community: str | None = None) -> list[dict[str, Any]]:
    """Everyone of the staff layer (optionally of one community), each with its ``etag``."""
    frame = store.read("staff")
    rows = [
        {"id": str(r["id"]), **{k: _text(r.get(k)) for k in STAFF_FIELDS}}
        for r in frame.to_dict("records")
    ]
    return [
        {**r, "etag": staff_etag(r)}
        for r in rows
        if community is None or r["community_code"] == community
    ]


def person(store: Store, staff_id: str) -> dict[str, Any]:
    """One person with its ``etag``; NotFoundError for an unknown id."""
    return store.staff_member(staff_id)


def add_person(
    store: Store, fields: Mapping[str, Any], *, actor: str, roles: Mapping[str, str]
) -> dict[str, Any]:
    """A new person (an id already there is refused, nothing written)."""
    check_role(str(fields.get("role")), roles)
    store.write({"staff": pd.DataFrame([dict(fields)])}, actor=actor)
    return store.staff_member(str(fields["id"]))


def change_person(
    store: Store,
    staff_id: str,
    etag: str,
    changes: Mapping[str, Any],
    *,
    actor: str,
    roles: Mapping[str, str],
) -> dict[str, Any]:
    """Apply ``changes`` if the person is still as read; StaleStaffError otherwise."""
    if changes.get("role") is not None:
        check_role(str(changes["role"]), roles)
    return store.update_staff(staff_id, etag, changes, actor=actor)


def remove_person(store: Store, staff_id: str, etag: str, *, actor: str) -> None:
    """Remove the person and every role they held, if still as read."""
    store.remove_staff(staff_id, etag, actor=actor)


def _text(value: Any) -> str | None:
    return None if value is None or (isinstance(value, float) and pd.isna(value)) else str(value)
