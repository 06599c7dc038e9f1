"""Putting plans in force: the one way, for the API and the command line alike.

:func:`publish_plans` checks each plan's head with the coverage report (a plan with errors is
refused: :class:`PublishRefusedError`, carrying the report), finds the grid each open incident
falls in under the plans being published, and hands both to :meth:`Store.publish`, which writes
the publications and moves the incidents in one transaction: a process killed at any point
leaves either the old plan in force with the incidents on their old grids, or the new plan with
every open incident on its new grid.

An effective date (``at``) later than now schedules the plans: lookups, layers and tiles keep
answering with the plans in force until then, and the open incidents stay on their grids;
:func:`take_effect_due` (run by every server process when its change stamp moves, which it
does as the date passes) then moves them, once: the store marks the publications in the same
transaction. A date in the past is refused: back-dating would put incidents recorded since
then on grids that were not in force when they were recorded.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import geopandas as gpd
import pandas as pd
import shapely

from gridmap.cases.workflow import OPEN_STATUSES
from gridmap.errors import ConflictError, InputError
from gridmap.service.grids import locate_points
from gridmap.service.plans import coverage_report
from gridmap.settings import Settings
from gridmap.store.contract import Publication, Store

__all__ = [
    "BACKDATE_SLACK",
    "PublishOutcome",
    "PublishRefusedError",
    "incident_grids",
    "parse_effective",
    "publish_plans",
    "take_effect_due",
]

# An effective date at most this far in the past is "now" (a confirmation opened a minute ago).
BACKDATE_SLACK = dt.timedelta(minutes=15)


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
    now: dt.datetime | None = None,
) -> PublishOutcome:
    """Check, then put in force from ``at`` (default ``now``), the heads of ``plan_ids``.

    Each head is checked by :func:`gridmap.plans.coverage_report`; the first with errors raises
    :class:`PublishRefusedError` and nothing is published. The revisions checked are the ones
    published (a commit in between is a ConflictError). Open incidents move to the grid of
    the published plans that holds their point, in the same transaction as the publications;
    from a later ``at``, when that date has passed (:func:`take_effect_due`). An ``at`` more
    than :data:`BACKDATE_SLACK` before ``now`` is an InputError naming ``effective_from``.
    """
    clock = _utc(now, "now") or dt.datetime.now(dt.UTC)
    when = _utc(at, "effective_from")
    if when is not None and when < clock - BACKDATE_SLACK:
        raise InputError(
            f"effective_from: {when.isoformat()} is in the past (now {clock.isoformat()}); "
            "a plan takes effect now or later, never back-dated"
        )
    later = when is not None and when > clock
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
    grids_all = pd.concat(grids, ignore_index=True) if grids else None
    moves = {} if later else incident_grids(store, grids_all)
    publications = store.publish(
        ids,
        actor=actor,
        at=when if later else None,
        expected_heads=heads,
        incident_grids=None if later else moves,
    )
    return PublishOutcome(publications, moves)


def take_effect_due(
    store: Store, *, actor: str = "gridmap", now: dt.datetime | None = None
) -> PublishOutcome:
    """Move the open incidents of the publications whose effective date has passed by ``now``
    (default the clock) and mark them taken effect, in one transaction; whichever process asks
    first does it, the others find nothing to do (an empty outcome)."""
    clock = _utc(now, "now") or dt.datetime.now(dt.UTC)
    due = [
        p for p in store.publication_history() if p.regridded_at is None and p.valid_from <= clock
    ]
    if not due:
        return PublishOutcome([])
    communities = {p.community_code for p in due}
    in_force = store.grids_at(clock)
    grids = in_force[in_force["community_code"].isin(communities)]
    moves = incident_grids(store, grids)
    marked = store.take_effect(due, actor=actor, at=clock, incident_grids=moves)
    return PublishOutcome(marked, moves if marked else {})


def parse_effective(text: str | None, now: dt.datetime | None = None) -> dt.datetime | None:
    """An effective date as given by a person: ``YYYY-MM-DD`` is the start of that day,
    Beijing time, and today (or an empty text) is now (None); an ISO time without a zone is
    Beijing time. InputError naming ``effective_from`` otherwise.

    Examples
    --------
    >>> noon = dt.datetime(2026, 12, 2, 4, tzinfo=dt.UTC)  # 12:00 in Beijing
    >>> parse_effective("2026-12-02", noon) is None
    True
    >>> parse_effective("2026-12-05", noon).isoformat()
    '2026-12-05T00:00:00+08:00'
    """
    from gridmap.service.lookup import CHINA_TZ, parse_at

    if text is None or not text.strip():
        return None
    try:
        when = parse_at(text)
    except InputError as exc:
        raise InputError(str(exc).replace("at:", "effective_from:", 1)) from None
    if when is None:
        return None
    if len(text.strip()) == 10:  # a date: from the start of that day; today: now
        clock = (_utc(now, "now") or dt.datetime.now(dt.UTC)).astimezone(CHINA_TZ)
        if when.date() == clock.date():
            return None
        when = when.replace(hour=0, minute=0, second=0, microsecond=0)
    return when


def _utc(value: dt.datetime | None, what: str) -> dt.datetime | None:
    if value is None:
        return None
    if value.tzinfo is None or value.utcoffset() is None:
        raise InputError(f"{what}: {value.isoformat()} has no time zone")
    return value.astimezone(dt.UTC)


def incident_grids(store: Store, grids: gpd.GeoDataFrame | None) -> dict[str, str | None]:
    """Open incidents whose grid differs under ``grids`` (the grids about to be published):
    incident id → the grid holding its point (None: its community is published, but no grid
    holds the point).

    Closed incidents stay where they were closed; incidents outside the published communities
    are not touched.
    """
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
