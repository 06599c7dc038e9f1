"""Incidents' photos and the departments cases are dispatched to: what both engines do alike.

Functions over a :class:`~gridmap.store.base.StoreBase` (whose methods of the same names call
them), portable SQL through the store's hooks, one write transaction per mutating call. A photo
is stored whole in the store (a GeoPackage BLOB, a PostgreSQL bytea), beside its incident, so
that a backup and a replica hold it too; the caller has checked and re-encoded it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from gridmap.errors import InputError, NotFoundError
from gridmap.store.common import check_actor, check_department_code, now
from gridmap.store.contract import Photo
from gridmap.store.records import read_incident

if TYPE_CHECKING:
    from gridmap.store.base import StoreBase

__all__ = [
    "PHOTO_KINDS",
    "PHOTO_TYPES",
    "add_photo",
    "departments",
    "photo_data",
    "photos",
    "put_department",
    "remove_department",
    "set_photo_public",
]

PHOTO_KINDS = ("before", "after")
PHOTO_TYPES = ("image/jpeg", "image/png", "image/webp")
_PHOTO_COLUMNS = (
    "incident_id, seq, kind, content_type, width, height, public, at, actor, LENGTH(data) AS size"
)
_INSERT_PHOTO = (
    "INSERT INTO incident_photos (incident_id, seq, kind, content_type, width, height, data, "
    "public, at, actor) VALUES (?, (SELECT COALESCE(MAX(seq), 0) + 1 FROM incident_photos "
    "WHERE incident_id = ?), ?, ?, ?, ?, ?, ?, ?, ?)"
)
_PHOTOS = f"SELECT {_PHOTO_COLUMNS} FROM incident_photos WHERE incident_id = ?"
_PHOTO_DATA = (
    f"SELECT {_PHOTO_COLUMNS}, data FROM incident_photos WHERE incident_id = ? AND seq = ?"
)
_DEPARTMENTS = "SELECT code, name, phone FROM departments"


def _photo_of(store: StoreBase, row: dict[str, Any]) -> Photo:
    return Photo(
        str(row["incident_id"]),
        int(row["seq"]),
        row["kind"],
        row["content_type"],
        int(row["width"]),
        int(row["height"]),
        int(row["size"]),
        bool(row["public"]),
        store._time(row["at"]),  # type: ignore[arg-type]
        row["actor"],
    )


def add_photo(
    store: StoreBase,
    incident_id: str,
    *,
    kind: str,
    content_type: str,
    width: int,
    height: int,
    data: bytes,
    actor: str,
) -> Photo:
    """Store a photo of an incident; InputError for an unknown kind or type, NotFoundError for
    an unknown incident."""
    check_actor(actor)
    if kind not in PHOTO_KINDS:
        raise InputError(f"kind={kind!r}: one of {', '.join(PHOTO_KINDS)}")
    if content_type not in PHOTO_TYPES:
        raise InputError(f"content_type={content_type!r}: one of {', '.join(PHOTO_TYPES)}")
    if not data:
        raise InputError("photo: the image is empty")
    with store._write() as conn:
        key = store._key(read_incident(store, conn, incident_id, lock=True).id)
        args = (key, key, kind, content_type, int(width), int(height), bytes(data), False)
        store._rows(conn, _INSERT_PHOTO, (*args, store._stamp(now()), actor))
        rows = store._rows(conn, _PHOTOS + " ORDER BY seq DESC LIMIT 1", (key,))
        made = _photo_of(store, rows[0])
        detail = {"incident": made.incident_id, "photo": made.seq, "kind": kind}
        store._audit(conn, actor, "add_photo", detail=detail)
        return made


def photos(store: StoreBase, incident_id: str) -> list[Photo]:
    """An incident's photos, first first, without their bytes."""
    with store._read() as conn:
        key = store._key(read_incident(store, conn, incident_id).id)
        return [_photo_of(store, r) for r in store._rows(conn, _PHOTOS + " ORDER BY seq", (key,))]


def photo_data(store: StoreBase, incident_id: str, seq: int) -> tuple[Photo, bytes]:
    """One photo and its bytes."""
    with store._read() as conn:
        key = store._key(read_incident(store, conn, incident_id).id)
        rows = store._rows(conn, _PHOTO_DATA, (key, int(seq)))
    if not rows:
        raise NotFoundError(f"incident {incident_id} has no photo {seq}")
    return _photo_of(store, rows[0]), bytes(rows[0]["data"])


def set_photo_public(
    store: StoreBase, incident_id: str, seq: int, public: bool, *, actor: str
) -> Photo:
    """Make a photo public (Open311 shows it for a resident's report) or private again."""
    check_actor(actor)
    with store._write() as conn:
        key = store._key(read_incident(store, conn, incident_id, lock=True).id)
        update = "UPDATE incident_photos SET public = ? WHERE incident_id = ? AND seq = ?"
        if store._count(conn, update, (bool(public), key, int(seq))) == 0:
            raise NotFoundError(f"incident {incident_id} has no photo {seq}")
        detail = {"incident": str(incident_id), "photo": int(seq), "public": bool(public)}
        store._audit(conn, actor, "set_photo_public", detail=detail)
        rows = store._rows(conn, _PHOTOS + " AND seq = ?", (key, int(seq)))
        return _photo_of(store, rows[0])


def departments(store: StoreBase) -> list[dict[str, Any]]:
    """The departments, by code."""
    with store._read() as conn:
        return [dict(r) for r in store._rows(conn, _DEPARTMENTS + " ORDER BY code")]


def put_department(
    store: StoreBase, code: str, name: str, phone: str | None = None, *, actor: str
) -> dict[str, Any]:
    """Add a department, or change its name and phone."""
    check_actor(actor)
    code = check_department_code(code)
    if not str(name or "").strip():
        raise InputError(f"department {code}: name is empty")
    name, phone = str(name).strip(), (str(phone).strip() or None) if phone else None
    with store._write() as conn:
        found = store._rows(conn, _DEPARTMENTS + " WHERE code = ?" + store._FOR_UPDATE, (code,))
        if found:
            update = "UPDATE departments SET name = ?, phone = ? WHERE code = ?"
            store._rows(conn, update, (name, phone, code))
        else:
            insert = "INSERT INTO departments (code, name, phone) VALUES (?, ?, ?)"
            store._rows(conn, insert, (code, name, phone))
        detail = {"code": code, "name": name, "new": not found}
        store._audit(conn, actor, "put_department", detail=detail)
    return {"code": code, "name": name, "phone": phone}


def remove_department(store: StoreBase, code: str, *, actor: str) -> None:
    """Remove a department; the cases dispatched to it keep its code."""
    check_actor(actor)
    with store._write() as conn:
        if store._count(conn, "DELETE FROM departments WHERE code = ?", (str(code),)) == 0:
            raise NotFoundError(f"no department {code!r}", where=store._where)
        store._audit(conn, actor, "remove_department", detail={"code": str(code)})
