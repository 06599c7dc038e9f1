"""The coverage report: issues with their grids, a sentence, a measure and a place (lon/lat).

Part of :mod:`gridmap.engine.validate.check`, which re-exports the public names.
"""

from __future__ import annotations

import json
import math
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import shapely

__all__ = [
    "ISSUE_KINDS",
    "WARNING_KINDS",
    "CoverageIssue",
    "CoverageReport",
    "coverage_report_exit_code",
]

# Every kind the checker reports, in report order, with the name of its measure in JSON
# (None: the issue has no measure worth a number).
ISSUE_KINDS: dict[str, str | None] = {
    "empty_geometry": None,
    "invalid_geometry": None,
    "duplicate_code": "count",
    "gap": "area_m2",
    "sliver": "area_m2",
    "overlap": "area_m2",
    "mismatched_edge": "length_m",
    "outside_boundary": "area_m2",
    "multipart": "area_m2",
    "crosses_community": "area_m2",
    "split_unit": "area_m2",
    "unassigned_building": None,
    "building_in_two_grids": "area_m2",
    "fragmented_community": "excess_grids",
    "over_target": "weight",
    "under_target": "weight",
    "far_out_of_band": "weight",
    "too_many_grids": "excess_grids",
}

# The weight band advises; everything else breaks "every point in exactly one grid", or (a
# fragmented community: 5,000 residents in 10 grids) is a defect found in practice.
WARNING_KINDS = frozenset({"over_target", "under_target", "far_out_of_band", "too_many_grids"})

_ORDER = {kind: i for i, kind in enumerate(ISSUE_KINDS)}
_COUNTS = ("count", "excess_grids")


@dataclass(frozen=True)
class CoverageIssue:
    """One defect of a grid plan.

    ``grids`` are the codes involved, ``detail`` an English sentence naming them with the size and
    a lon/lat location, ``geometry`` where it is (EPSG:4326; None for an empty grid) and
    ``measure`` its size: m² for areas, m for edges, the weight for the weight band (see
    :data:`ISSUE_KINDS`). ``related`` holds the ids of other features involved: the building,
    the unit or the communities.
    """

    kind: str
    grids: tuple[str, ...]
    detail: str
    geometry: shapely.Geometry | None = None
    measure: float = 0.0
    related: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.kind not in ISSUE_KINDS:
            raise ValueError(f"unknown issue kind {self.kind!r}")

    @property
    def severity(self) -> str:
        """ "warning" for the weight band, "error" for everything else."""
        return "warning" if self.kind in WARNING_KINDS else "error"

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON types; the geometry as a GeoJSON dict in lon/lat (or None)."""
        out: dict[str, Any] = {
            "kind": self.kind,
            "severity": self.severity,
            "grids": list(self.grids),
            "detail": self.detail,
        }
        measure_name = ISSUE_KINDS[self.kind]
        if measure_name in _COUNTS:
            out[measure_name] = int(self.measure)
        elif measure_name is not None:
            value = float(self.measure)
            out[measure_name] = round(value, 3) if math.isfinite(value) else None
        if self.related:
            out["related"] = list(self.related)
        out["geometry"] = geojson_geometry(self.geometry)
        return out


@dataclass(frozen=True)
class CoverageReport:
    """What :func:`~gridmap.engine.validate.check.validate_coverage` found.

    ``ok`` is True when no issue is an error (weight-band warnings do not count).
    ``stats`` holds plain numbers: grids, area_m2 (of the area to cover), covered_m2, gap_m2,
    overlap_m2, outside_m2, errors, warnings, kinds (count per kind), metric_crs, …
    """

    ok: bool
    issues: tuple[CoverageIssue, ...]
    stats: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_issues(cls, issues: list[CoverageIssue], stats: dict[str, Any]) -> CoverageReport:
        """Sort ``issues`` (kind, then grids) and derive ``ok`` and the counts in ``stats``."""
        ordered = tuple(sorted(issues, key=lambda i: (_ORDER[i.kind], i.grids, i.detail)))
        errors = sum(1 for i in ordered if i.severity == "error")
        counts = Counter(i.kind for i in ordered)
        stats = {
            **stats,
            "errors": errors,
            "warnings": len(ordered) - errors,
            "kinds": {kind: counts[kind] for kind in ISSUE_KINDS if counts[kind]},
        }
        return cls(ok=errors == 0, issues=ordered, stats=stats)

    def of_kind(self, kind: str) -> tuple[CoverageIssue, ...]:
        """The issues of one kind."""
        return tuple(i for i in self.issues if i.kind == kind)

    def to_dict(self) -> dict[str, Any]:
        """``{"ok", "issues": [...], "stats"}`` in plain JSON types."""
        return {
            "ok": self.ok,
            "issues": [issue.to_dict() for issue in self.issues],
            "stats": _plain(self.stats),
        }

    def to_geojson(self) -> dict[str, Any]:
        """The issues as an RFC 7946 FeatureCollection (lon/lat, counter-clockwise shells)."""
        features = []
        for issue in self.issues:
            properties = issue.to_dict()
            geometry = properties.pop("geometry")
            features.append({"type": "Feature", "geometry": geometry, "properties": properties})
        return {"type": "FeatureCollection", "features": features}


def coverage_report_exit_code(report: CoverageReport) -> int:
    """The CLI's exit status: 0 when the plan is valid (warnings allowed), 1 when it has defects.

    Examples
    --------
    >>> coverage_report_exit_code(CoverageReport(ok=True, issues=()))
    0
    """
    return 0 if report.ok else 1


def geojson_geometry(geometry: shapely.Geometry | None) -> dict[str, Any] | None:
    """A GeoJSON geometry dict (RFC 7946 winding) or None for a missing or empty geometry."""
    if geometry is None or shapely.is_empty(geometry):
        return None
    oriented = shapely.orient_polygons(geometry, exterior_cw=False)
    return json.loads(shapely.to_geojson(oriented))  # type: ignore[no-any-return]


def _plain(value: Any) -> Any:
    """numpy scalars and tuples to plain JSON types; non-finite floats to None."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if hasattr(value, "item") and not isinstance(value, str):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value
