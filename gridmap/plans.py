"""Partition a workspace in one call, for notebooks and scripts.

The use-cases on plans live in :mod:`gridmap.service.plans` and take any store; this module
keeps the short form that takes a GeoPackage workspace (or a path or PostgreSQL URL).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

from gridmap.service.plans import partition_store
from gridmap.settings import Settings
from gridmap.store import Workspace, open_store

__all__ = ["partition_workspace"]


def partition_workspace(
    workspace: Workspace | str | os.PathLike[str],
    *,
    communities: list[str] | None = None,
    target: int = 3000,
    tolerance: float = 0.2,
    weight: str = "residents",
    seed: int = 0,
    scheme: str = "db11",
    workers: int = 1,
    settings: Settings | None = None,
    actor: str | None = None,
    max_area_km2: float | None = None,
    progress: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Partition the workspace's communities; store a draft plan (revision 1); return its report.

    ``workspace``: a :class:`~gridmap.store.Workspace`, a GeoPackage path or a PostgreSQL URL.
    ``actor`` (default: the login name) is recorded as the plan's author in the audit log;
    ``max_area_km2`` and ``progress`` go to :func:`gridmap.service.plans.partition_store`,
    which says what the report holds.
    """
    target_path = workspace.path if isinstance(workspace, Workspace) else workspace
    store = open_store(target_path)
    try:
        return partition_store(
            store,
            communities=communities,
            target=target,
            tolerance=tolerance,
            weight=weight,
            seed=seed,
            scheme=scheme,
            workers=workers,
            metric_epsg=(settings or Settings()).metric_epsg,
            actor=actor or login_name(),
            max_area_km2=max_area_km2,
            progress=progress,
        )
    finally:
        store.close()


def login_name() -> str:
    """The user's login name, or "gridmap" where there is none (a container)."""
    import getpass

    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no login name (a container without /etc/passwd entry)
        return "gridmap"
