"""Putting plans in force: the one way, for the API and the command line alike.

:func:`publish_plans` checks each plan's head with the coverage report (a plan with errors is
refused: :class:`PublishRefusedError`, carrying the report), finds the grid each open incident
falls in under the plans being published, and hands both to :meth:`Store.publish`, which writes
the publications and moves the incidents in one transaction: a process killed at any point
leaves either the old plan in force with the incidents on their old grids, or the new plan with
every open incident on its new grid.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import geopandas as gpd
import pandas as pd
import shapely

from gridmap.errors import ConflictError
from gridmap.service.grids import locate_points
from gridmap.service.plans import coverage_report
from gridmap.settings import Settings
from gridmap.store.contract import Publication, Store

__all__ = ["PublishOutcome", "PublishRefusedError", "incident_grids", "publish_plans"]


class PublishRefusedError(ConflictError):
    """A plan whose coverage report has errors: it is not put in force."""

    code = "publish_refused"

    def __init__(self, plan_id: str, revision: int, report: Any):
        self.plan_id, self.revision, self.report = plan_id, revision, report
        kinds = ", ".join(f"{k} ×{n}" for k, n in report.stats.get("kinds", {}).items())
        super().__init__(
            f"方案有错误，不能发布: plan {plan_id} revision {revision} has errors ({kinds})"
        )


@dataclass(frozen=True)
class PublishOutcome:
    """What a publication did: the publications made and the incidents moved to new grids."""

    publications: list[Publication]
    incidents_regridded: dict[str, str | None] = field(default_factory=dict)


def publish_plans(
    store: Store,
    plan_ids: Sequence[str],
    *,
    actor: str,
    settings: Settings,
    at: dt.datetime | None = None,
) -> PublishOutcome:
    """Check, then put in force, the heads of ``plan_ids`` (one transaction).

    Each head is checked by :func:`gridmap.plans.coverage_report`; the first with errors raises
    :class:`PublishRefusedError` and nothing is published. The revisions checked are the ones
    published (a commit in between is a ConflictError). Open incidents move to the grid of
    the published plans that holds their point, in the same transaction as the publications.
    """
    ids = [plan_ids] if isinstance(plan_ids, str) else [str(p) for p in plan_ids]
    heads: dict[str, int] = {}
    grids: list[gpd.GeoDataFrame] = []
    for plan_id in ids:
        info = store.plan(plan_id)
        revision = store.revision(info.id, info.head)
        report = coverage_report(store, info.id, info.head, settings, grids=revision.grids)
        if not report.ok:
            raise PublishRefusedError(info.id, info.head, report)
        heads[info.id] = info.head
        grids.append(revision.grids)
    moves = incident_grids(store, pd.concat(grids, ignore_index=True) if grids else None)
    publications = store.publish(
        ids, actor=actor, at=at, expected_heads=heads, incident_grids=moves
    )
    return PublishOutcome(publications, moves)


def incident_grids(store: Store, grids: gpd.GeoDataFrame | None) -> dict[str, str | None]:
    """Open incidents whose grid differs under ``grids`` (the grids about to be published):
    incident id → the grid holding its point (None: its community is published, but no grid
    holds the point).

    Closed incidents stay where they were closed; incidents outside the published communities
    are not touched.
    """
    # The workflow's statuses live with the API for now (an incident service would own them).
    from gridmap.api.workflow import OPEN_STATUSES

    if grids is None or grids.empty:
        return {}
    grids = gpd.GeoDataFrame(grids, geometry="geometry", crs=4326)
    communities = set(grids["community_code"].dropna().astype(str))
    bbox = tuple(float(v) for v in grids.total_bounds)
    candidates = [
        i
        for i in store.incidents(bbox=bbox)  # type: ignore[arg-type]
        if i.fields.get("status") in OPEN_STATUSES
        and i.fields.get("lon") is not None
        and i.fields.get("lat") is not None
    ]
    if not candidates:
        return {}
    points = shapely.points(
        [float(i.fields["lon"]) for i in candidates], [float(i.fields["lat"]) for i in candidates]
    )
    moves: dict[str, str | None] = {}
    for incident, new in zip(candidates, locate_points(grids, points), strict=True):
        old = incident.fields.get("grid_code")
        if new == old:
            continue
        if new is None and incident.fields.get("community_code") not in communities:
            continue  # outside what is published: not this publication's business
        moves[incident.id] = new
    return moves
