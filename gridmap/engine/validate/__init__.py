"""Coverage validation: gaps, overlaps, slivers, mismatched edges, grids out of band.

``space`` is the metric space the checks measure in, ``topology`` checks the polygons
(GEOS coverage functions), ``layers`` checks the input layers and the weights, ``report`` is the
report the checks return, ``check`` runs them all (:func:`validate_coverage`).
"""

from gridmap.engine.validate.check import validate_coverage
from gridmap.engine.validate.report import (
    CoverageIssue,
    CoverageReport,
    coverage_report_exit_code,
)

__all__ = ["CoverageIssue", "CoverageReport", "coverage_report_exit_code", "validate_coverage"]
