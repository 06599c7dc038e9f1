"""Users who sign in: roles, password hashes, adding, listing, changing and removing them.

Roles are hierarchical, each including the ones before it: ``public < staff < planner <
admin``. Beside the role, a user may hold workflow roles (``duties``: 受理员 acceptor, 派遣员
dispatcher, 处置单位 handler, 监督员 supervisor; :mod:`gridmap.cases.workflow`): the case steps
they may take. They do not widen the role: a staff member with duties is still staff.
Passwords are hashed with argon2 (argon2-cffi) and never stored or shown otherwise.
``gridmap user add|set|remove`` and ``POST|PATCH|DELETE /api/users`` call :func:`add_user`,
:func:`change_user` and :func:`remove_user`; every change is audited by the store.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from gridmap.errors import InputError
from gridmap.store.contract import Store, User

__all__ = [
    "MIN_PASSWORD_LENGTH",
    "ROLES",
    "add_user",
    "change_user",
    "check_department",
    "check_new_user",
    "hash_password",
    "remove_user",
    "role_at_least",
    "user_json",
    "users_json",
    "verify_password",
]

ROLES = ("public", "staff", "planner", "admin")
MIN_PASSWORD_LENGTH = 8
_RANK = {role: rank for rank, role in enumerate(ROLES)}
_hasher = PasswordHasher()


def role_at_least(role: str, needed: str) -> bool:
    """Whether ``role`` includes ``needed`` (admin ⊇ planner ⊇ staff ⊇ public).

    Examples
    --------
    >>> role_at_least("planner", "staff"), role_at_least("staff", "planner")
    (True, False)
    """
    if needed not in _RANK:
        raise InputError(f"role: {needed!r} is not one of {', '.join(ROLES)}")
    return _RANK.get(role, -1) >= _RANK[needed]


def hash_password(password: str) -> str:
    """An argon2id hash of ``password`` (with its own salt and parameters).

    Examples
    --------
    >>> verify_password(hash_password("s3cret"), "s3cret")
    True
    """
    if not password:
        raise InputError("password: an empty password is not allowed")
    return _hasher.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    """Whether ``password`` matches ``password_hash``; False (never an error) otherwise."""
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def add_user(
    store: Store,
    name: str,
    role: str,
    password: str,
    *,
    actor: str,
    scope: Sequence[str] = (),
    duties: Sequence[str] = (),
    department: str | None = None,
) -> User:
    """Add a user with ``role``; the password (at least 8 characters) is stored hashed.
    ``duties`` are the user's workflow roles (acceptor, dispatcher, handler, supervisor: the
    case steps they may take), ``department`` a handler's department code.

    Raises InputError for an unknown role or duty or a short password, ConflictError when the
    name is taken.
    """
    check_new_user(role, password)
    check_department(store, department)
    return store.add_user(
        name,
        role,
        hash_password(password),
        actor=actor,
        scope=scope,
        duties=duties,
        department=department,
    )


def change_user(
    store: Store,
    name: str,
    *,
    actor: str,
    role: str | None = None,
    active: bool | None = None,
    password: str | None = None,
    scope: Sequence[str] | None = None,
    duties: Sequence[str] | None = None,
    department: str | None = None,
) -> User:
    """Change a user's role, disable or enable them, set a new password (hashed), their
    workflow roles (``duties``) or ``department`` ("" clears it). The change holds at once:
    roles are read on every request. ConflictError when no active admin would be left;
    NotFoundError for an unknown name."""
    if role is not None and role not in ROLES:
        raise InputError(f"role {role!r}: choose one of {', '.join(ROLES)}")
    if password is not None and len(password) < MIN_PASSWORD_LENGTH:
        raise InputError(f"password: use at least {MIN_PASSWORD_LENGTH} characters")
    check_department(store, department)
    hashed = None if password is None else hash_password(password)
    return store.update_user(
        name,
        actor=actor,
        role=role,
        active=active,
        password_hash=hashed,
        scope=scope,
        duties=duties,
        department=department,
    )


def check_department(store: Store, department: str | None) -> None:
    """InputError unless ``department`` (None or "": none) is a department of the store: a
    handler of a misspelt department would never see a case dispatched to theirs."""
    if not department:
        return
    known = [d["code"] for d in store.departments()]
    if department not in known:
        listed = ", ".join(known) or "none yet: gridmap department import adds the usual ones"
        raise InputError(f"department {department!r} is not a department; known: {listed}")


def remove_user(store: Store, name: str, *, actor: str) -> None:
    """Remove a user (their earlier audit entries stay); ConflictError for the last admin."""
    store.delete_user(name, actor=actor)


def check_new_user(role: str, password: str) -> None:
    """InputError for an unknown role or a password under 8 characters.

    Examples
    --------
    >>> check_new_user("planner", "a good password")
    >>> check_new_user("boss", "a good password")
    Traceback (most recent call last):
    ...
    gridmap.errors.InputError: role 'boss': choose one of public, staff, planner, admin
    """
    if role not in ROLES:
        raise InputError(f"role {role!r}: choose one of {', '.join(ROLES)}")
    if len(password) < MIN_PASSWORD_LENGTH:
        raise InputError(f"password: use at least {MIN_PASSWORD_LENGTH} characters")


def user_json(user: User) -> dict[str, Any]:
    """A user without the password hash."""
    return {
        "name": user.name,
        "role": user.role,
        "active": user.active,
        "created_at": user.created_at.isoformat(),
        "scope": list(user.scope),
        "duties": list(user.duties),
        "department": user.department,
    }


def users_json(store: Store) -> list[dict[str, Any]]:
    """Every user of ``store``, by name, without password hashes."""
    return [user_json(u) for u in store.users()]
