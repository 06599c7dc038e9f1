"""Prove a grid plan's coverage: every point of the area in exactly one grid, and say where not.

:func:`validate_coverage` checks grid polygons (a plan's, or a legacy layer drawn elsewhere)
and returns a :class:`CoverageReport` of :class:`CoverageIssue` objects, each with the grid
codes, an English sentence, a size and a lon/lat geometry. Pure: no I/O.

The checks, and the rules they follow
-------------------------------------
Topology is decided in lon/lat, where the data were drawn (an edge is straight in lon/lat, as
stored and drawn by every GIS; the same edge bows in UTM); sizes are measured in metres, in
the metric CRS. Distances in metres become degrees of longitude at the data's latitude.

- ``empty_geometry``, ``invalid_geometry`` (with GEOS's reason; an invalid grid is then checked
  as repaired by ``make_valid``), ``duplicate_code``; ``multipart``: a grid of several parts.
- ``gap`` / ``sliver``: the area to cover (``boundary``, or the grids' union with its holes
  filled) minus the union of the grids, one issue per connected piece, naming the grids that
  share an edge with it. First, parts thinner than 5 cm are dropped as rounding and
  projection artefacts (a morphological opening); a piece with nothing left is not reported.
  A piece is narrow when a negative buffer of half ``sliver_width_m`` leaves nothing; narrow
  pieces are slivers. Reported: pieces of at least ``min_area_m2``, and narrow pieces below
  that area when at least 5 m long (half the perimeter).
- ``overlap``: each pair of grids whose intersection exceeds ``min_area_m2``.
- ``mismatched_edge``: GEOS's ``coverage_invalid_edges`` (with ``gap_width`` =
  ``sliver_width_m``) finds edges that do not match between neighbours. Segments within half
  ``sliver_width_m`` of a reported overlap, gap or outside part are explained by it; the rest
  are grouped by place (segments within half ``sliver_width_m`` of each other). Without a
  boundary, a place whose convex hull holds an uncovered piece that the gap rule reports is a
  gap or sliver opening to the outside; every other place is a mismatched edge (a vertex on a
  neighbour's edge, an overlap or gap too small or too thin to report).
- ``outside_boundary``: a grid's area beyond the boundary, by the gap rule without slivers.
- ``crosses_community``, ``split_unit``, ``building_in_two_grids``: one rule for "lies in": a
  shared area above ``min_area_m2`` (a point building: within 1 mm, so a point on a shared edge
  is in both grids); flagged when in two or more. ``unassigned_building``: touches no grid.
- Weight band (when ``target`` is given and the grids have the ``weight`` column): warnings
  ``over_target`` / ``under_target`` outside ``target × (1 ± tolerance)``, ``far_out_of_band``
  outside ``target × (1 ± 2·tolerance)`` (not for a community's only grid); ``too_many_grids``
  when a community has more than ``n + 1`` grids, ``n = max(1, round(total / target))``, and
  its grids are below the band on average; with ``2n`` grids or more that is the error
  ``fragmented_community``. 5,000 residents in 10 grids at 3,000: n = 2, 500 per grid,
  fragmented; a community of grids inside the band is never flagged. A grid's
  community is its ``community_column`` value, else the community of ``communities`` holding
  most of it, else the first 12 digits of a 15-digit grid code.

``ok`` is False when any issue is an error; the weight band only warns, but for a fragmented
community.
"""

from __future__ import annotations

from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
import shapely
from numpy.typing import NDArray

from gridmap.crs import metric_crs
from gridmap.engine.validate.layers import (
    check_buildings,
    check_communities,
    check_units,
    check_weight,
)
from gridmap.engine.validate.report import (
    ISSUE_KINDS,
    WARNING_KINDS,
    CoverageIssue,
    CoverageReport,
    coverage_report_exit_code,
)
from gridmap.engine.validate.space import MetricSpace, polygonal
from gridmap.engine.validate.topology import check_coverage, check_geometry
from gridmap.errors import InputError

__all__ = [
    "ISSUE_KINDS",
    "WARNING_KINDS",
    "CoverageIssue",
    "CoverageReport",
    "coverage_report_exit_code",
    "validate_coverage",
]


def validate_coverage(
    grids: gpd.GeoDataFrame,
    boundary: Any = None,
    buildings: gpd.GeoDataFrame | None = None,
    units: gpd.GeoDataFrame | None = None,
    *,
    code_column: str = "code",
    community_column: str = "community_code",
    communities: gpd.GeoDataFrame | None = None,
    target: float | None = None,
    tolerance: float = 0.2,
    weight: str = "residents",
    sliver_width_m: float = 2.0,
    min_area_m2: float = 1.0,
    metric: Any = None,
) -> CoverageReport:
    """Check that ``grids`` cover the area exactly once, and report every defect with its place.

    Parameters
    ----------
    grids : GeoDataFrame
        Grid polygons in lon/lat (EPSG:4326; another CRS is converted), with ``code_column`` and
        optionally ``community_column`` and the ``weight`` column.
    boundary : Polygon, MultiPolygon, GeoSeries or GeoDataFrame, optional
        The area that must be covered (lon/lat). None: the grids' union with its holes filled.
    buildings : GeoDataFrame, optional
        ``id`` and footprint (or point) geometry.
    units : GeoDataFrame, optional
        Compounds and social units: ``id``, optional ``name``, polygon geometry.
    code_column, community_column : str
        Columns of ``grids`` with the grid code and the community code.
    communities : GeoDataFrame, optional
        ``code`` and polygon geometry of communities, to check that grids nest in them.
    target, tolerance, weight : float, float, str
        The weight band: target weight per grid, allowed relative deviation, weight column.
    sliver_width_m : float
        Uncovered pieces narrower than this are slivers (and GEOS's gap width).
    min_area_m2 : float
        Areas at or below this are not reported (see the module docstring for slivers).
    metric : int, str or pyproj.CRS, optional
        The metric CRS to measure in; default the UTM zone of the grids.

    Returns
    -------
    CoverageReport

    Raises
    ------
    InputError
        An argument is of the wrong type or range, a column is missing, a grid has no code.

    Examples
    --------
    >>> import geopandas as gpd, shapely
    >>> cells = [shapely.box(106.550, 29.550, 106.553, 29.553),
    ...          shapely.box(106.553, 29.550, 106.556, 29.553)]
    >>> grids = gpd.GeoDataFrame({"code": ["g1", "g2"]}, geometry=cells, crs=4326)
    >>> validate_coverage(grids).ok
    True
    >>> area = shapely.box(106.550, 29.550, 106.557, 29.553)
    >>> report = validate_coverage(grids, area)
    >>> [(issue.kind, issue.grids) for issue in report.issues]
    [('gap', ('g2',))]
    """
    _check_arguments(tolerance, sliver_width_m, min_area_m2, target)
    grids = _lonlat(grids, "grids")
    if code_column not in grids.columns:
        have = ", ".join(map(str, grids.columns))
        raise InputError(f"grids: no column {code_column!r} (code_column); it has {have}")
    codes = _codes(grids[code_column])
    lonlat = np.asarray(grids.geometry.array, dtype=object)
    area = _boundary(boundary)
    space = _space(metric, lonlat, area)

    grid_set, issues = check_geometry(codes, lonlat, space)
    found, coverage = check_coverage(grid_set, area, space, sliver_width_m, min_area_m2)
    issues += found
    stats: dict[str, Any] = {"grids": len(codes), "checked": len(grid_set.rows), **coverage}

    declared = np.full(len(codes), None, dtype=object)
    if community_column in grids.columns:
        known = grids[community_column].notna().to_numpy()
        declared[known] = grids[community_column][known].astype(str).to_numpy()
    community_of = declared
    if communities is not None:
        frame = _lonlat(communities, "communities", need=("code",))
        found, main = check_communities(
            grid_set, _ids(frame, "code"), _polygons(frame), declared, space, min_area_m2
        )
        issues += found
        community_of = np.where(pd.isna(declared), main, declared)
        stats["communities"] = len(frame)
    if units is not None:
        frame = _lonlat(units, "units", need=("id",))
        names = frame["name"] if "name" in frame.columns else pd.Series(None, index=frame.index)
        issues += check_units(
            grid_set,
            _ids(frame, "id"),
            names.to_numpy(dtype=object),
            _polygons(frame),
            space,
            min_area_m2,
        )
        stats["units"] = len(frame)
    if buildings is not None:
        frame = _lonlat(buildings, "buildings", need=("id",))
        issues += check_buildings(grid_set, _ids(frame, "id"), _polygons(frame), space, min_area_m2)
        stats["buildings"] = len(frame)

    stats |= {"metric_crs": space.crs.to_string(), "weight": None, "target": target}
    if target is not None and weight in grids.columns:
        weights = pd.to_numeric(grids[weight], errors="coerce").to_numpy(dtype=float)
        community_of = _or_code_prefix(community_of, codes)
        issues += check_weight(
            codes, lonlat, weights, community_of, float(target), tolerance, weight
        )
        stats |= {"weight": weight, "tolerance": tolerance, "weight_total": np.nansum(weights)}
    return CoverageReport.from_issues(issues, stats)


def _check_arguments(
    tolerance: float, sliver_width_m: float, min_area_m2: float, target: float | None
) -> None:
    if not 0 <= tolerance < 1:
        raise InputError(f"tolerance must be in [0, 1); got {tolerance!r}")
    if not sliver_width_m >= 0:
        raise InputError(f"sliver_width_m must be >= 0; got {sliver_width_m!r}")
    if not min_area_m2 >= 0:
        raise InputError(f"min_area_m2 must be >= 0; got {min_area_m2!r}")
    if target is not None and not target > 0:
        raise InputError(f"target must be > 0; got {target!r}")


def _lonlat(frame: Any, name: str, need: tuple[str, ...] = ()) -> gpd.GeoDataFrame:
    """``frame`` in EPSG:4326 (no CRS: taken to be lon/lat), with the ``need`` columns."""
    if not isinstance(frame, gpd.GeoDataFrame):
        raise InputError(f"{name} must be a GeoDataFrame; got {type(frame).__name__}")
    missing = [c for c in need if c not in frame.columns]
    if missing:
        raise InputError(
            f"{name}: no column {', '.join(map(repr, missing))}; "
            f"it has {', '.join(map(str, frame.columns))}"
        )
    if frame.crs is not None and not frame.crs.equals(pyproj.CRS.from_epsg(4326)):
        frame = frame.to_crs(4326)
    return frame


def _codes(values: pd.Series) -> NDArray[np.object_]:
    missing = values.isna().to_numpy()
    if missing.any():
        rows = np.flatnonzero(missing)[:20].tolist()
        raise InputError(f"grids: {int(missing.sum())} grid(s) have no code (rows {rows})")
    if pd.api.types.is_float_dtype(values):  # 1.0 read from a numeric column is the code "1"
        values = values.map(lambda v: str(int(v)) if float(v).is_integer() else str(v))
    return values.astype(str).to_numpy(dtype=object)


def _ids(frame: gpd.GeoDataFrame, column: str) -> NDArray[np.object_]:
    return frame[column].astype(str).to_numpy(dtype=object)


def _or_code_prefix(
    community_of: NDArray[np.object_], codes: NDArray[np.object_]
) -> NDArray[np.object_]:
    """Where a grid's community is unknown, the first 12 digits of its 15-digit code."""
    unknown = pd.isna(community_of)
    if not unknown.any():
        return community_of
    text = codes[unknown].astype(str)
    coded = (np.char.str_len(text) == 15) & np.char.isdigit(text)
    out = community_of.copy()
    out[unknown] = np.where(coded, text.astype("U12"), None)  # U12 keeps 12 characters
    return out


def _boundary(boundary: Any) -> shapely.Geometry | None:
    """The area to cover, in lon/lat, as one valid (Multi)Polygon; None stays None."""
    if boundary is None:
        return None
    if isinstance(boundary, gpd.GeoDataFrame | gpd.GeoSeries):
        if boundary.crs is not None and not boundary.crs.equals(pyproj.CRS.from_epsg(4326)):
            boundary = boundary.to_crs(4326)
        geoms = np.asarray(boundary.geometry.array if isinstance(boundary, gpd.GeoDataFrame)
                           else boundary.array, dtype=object)  # fmt: skip
    elif isinstance(boundary, shapely.Geometry):
        geoms = np.array([boundary], dtype=object)
    else:
        raise InputError(
            "boundary must be a shapely (Multi)Polygon, GeoSeries or GeoDataFrame; "
            f"got {type(boundary).__name__}"
        )
    polygons = geoms[~shapely.is_missing(geoms)]
    bad = ~shapely.is_valid(polygons)
    polygons[bad] = shapely.make_valid(polygons[bad], method="structure", keep_collapsed=False)
    polygons = polygonal(polygons)
    polygons = polygons[~shapely.is_empty(polygons)]
    if not len(polygons):
        raise InputError("boundary has no polygon area")
    return polygons[0] if len(polygons) == 1 else shapely.union_all(polygons)


def _polygons(frame: gpd.GeoDataFrame) -> NDArray[np.object_]:
    """The frame's geometries, invalid polygons repaired (make_valid, polygonal part)."""
    geoms = np.asarray(frame.geometry.array, dtype=object)
    bad = ~shapely.is_valid(geoms) & ~shapely.is_missing(geoms)
    if not bad.any():
        return geoms
    out = geoms.copy()
    out[bad] = polygonal(shapely.make_valid(geoms[bad], method="structure", keep_collapsed=False))
    return out


def _space(metric: Any, lonlat: NDArray[np.object_], area: shapely.Geometry | None) -> MetricSpace:
    present = lonlat[~(shapely.is_missing(lonlat) | shapely.is_empty(lonlat))]
    data = present if len(present) else np.array([area] if area is not None else [], dtype=object)
    if not len(data):
        raise InputError("grids have no geometry and no boundary is given: nothing to check")
    west, south, east, north = shapely.total_bounds(data)
    if not (-180 <= west <= east <= 180 and -90 <= south <= north <= 90):
        raise InputError(
            f"grids: bounds ({west:g}, {south:g}, {east:g}, {north:g}) are not lon/lat; "
            "give the grids a CRS, or lon/lat coordinates (EPSG:4326)"
        )
    latitude = (south + north) / 2.0
    if metric is None:
        crs = metric_crs(data)
    elif isinstance(metric, int | np.integer):
        crs = metric_crs(None, epsg=int(metric))
    else:
        try:
            crs = pyproj.CRS.from_user_input(metric)
        except pyproj.exceptions.CRSError as exc:
            raise InputError(f"metric={metric!r} is not a CRS") from exc
        if not crs.is_projected or crs.axis_info[0].unit_name != "metre":
            raise InputError(f"metric={metric!r} ({crs.name}) is not a projected CRS in metres")
    return MetricSpace.of(crs, latitude)
