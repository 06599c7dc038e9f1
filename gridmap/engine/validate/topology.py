"""Geometry and coverage checks of the grids: validity, duplicates, gaps, overlaps, edges.

Part of :mod:`gridmap.engine.validate.check`. Topology is decided in lon/lat and sizes measured in
metres (see :class:`~gridmap.engine.validate.space.MetricSpace`).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import shapely
from numpy.typing import NDArray
from scipy import sparse
from scipy.sparse import csgraph

from gridmap.engine.validate.report import CoverageIssue
from gridmap.engine.validate.space import (
    NOISE_WIDTH_M,
    TOUCH_M,
    MetricSpace,
    and_list,
    kept_pieces,
    m,
    m2,
    polygonal,
    sharing,
    where,
)

__all__ = ["GridSet", "check_coverage", "check_geometry"]

_POLYGONAL = (shapely.GeometryType.POLYGON, shapely.GeometryType.MULTIPOLYGON)


@dataclass
class GridSet:
    """The grids as the checks see them.

    ``codes`` has one entry per input row; ``geoms`` holds the usable rows (non-empty polygons,
    repaired when invalid) in lon/lat, ``rows`` their row positions.
    """

    codes: NDArray[np.object_]
    geoms: NDArray[np.object_]
    rows: NDArray[np.int64]
    invalid: NDArray[np.bool_]
    _tree: shapely.STRtree | None = field(default=None, repr=False)

    @property
    def tree(self) -> shapely.STRtree:
        """STRtree over ``geoms`` (positions index ``geoms`` and ``rows``)."""
        if self._tree is None:
            self._tree = shapely.STRtree(self.geoms)
        return self._tree

    def code(self, position: int | np.integer) -> str:
        """The code of the grid at a position of ``geoms``."""
        return str(self.codes[self.rows[position]])

    def codes_of(self, positions: Any) -> tuple[str, ...]:
        """Sorted distinct codes of positions."""
        return tuple(sorted({self.code(p) for p in np.atleast_1d(positions)}))


def check_geometry(
    codes: NDArray[np.object_], lonlat: NDArray[np.object_], space: MetricSpace
) -> tuple[GridSet, list[CoverageIssue]]:
    """empty_geometry, invalid_geometry, duplicate_code and multipart issues; the usable grids."""
    issues: list[CoverageIssue] = []
    missing = shapely.is_missing(lonlat) | shapely.is_empty(lonlat)
    is_polygon = np.isin(shapely.get_type_id(lonlat), _POLYGONAL) & ~missing
    invalid = is_polygon & ~shapely.is_valid(lonlat)
    repaired = lonlat.copy()
    if invalid.any():
        fixed = shapely.make_valid(lonlat[invalid], method="structure", keep_collapsed=False)
        repaired[invalid] = polygonal(fixed)
    usable = is_polygon & ~shapely.is_empty(repaired)

    for row in np.flatnonzero(missing):
        text = f"Grid {codes[row]} has no geometry."
        issues.append(CoverageIssue("empty_geometry", (str(codes[row]),), text))
    for row in np.flatnonzero(~missing & ~is_polygon):
        geom = lonlat[row]
        issues.append(
            CoverageIssue(
                "invalid_geometry",
                (str(codes[row]),),
                f"Grid {codes[row]} is a {geom.geom_type}, not a polygon, {where(geom)}; "
                "it is left out of the coverage checks.",
                geom,
            )
        )
    for row in np.flatnonzero(invalid):
        reason = _reason(shapely.is_valid_reason(lonlat[row]))
        parts = int(shapely.get_num_geometries(repaired[row]))
        after = (
            f"the checks use it as repaired by make_valid ({parts} part{'s' * (parts != 1)})"
            if usable[row]
            else "nothing is left of it once repaired"
        )
        issues.append(
            CoverageIssue(
                "invalid_geometry",
                (str(codes[row]),),
                f"Grid {codes[row]} is not a valid polygon: {reason}; {after}.",
                lonlat[row],
            )
        )

    rows = np.flatnonzero(usable)
    grid_set = GridSet(codes, repaired[rows], rows, invalid[rows])
    issues += _duplicates(codes, repaired, usable)
    issues += _multipart(grid_set, space)
    return grid_set, issues


def _reason(text: str) -> str:
    # "Self-intersection[106.55 29.55]" → "Self-intersection at lon 106.550000, lat 29.550000"
    name, _, rest = text.partition("[")
    try:
        lon, lat = (float(v) for v in rest.rstrip("]").split()[:2])
    except ValueError:
        return text
    return f"{name} at lon {lon:.6f}, lat {lat:.6f}"


def _duplicates(
    codes: NDArray[np.object_], repaired: NDArray[np.object_], usable: NDArray[np.bool_]
) -> list[CoverageIssue]:
    values, inverse, counts = np.unique(codes.astype(str), return_inverse=True, return_counts=True)
    out = []
    for k in np.flatnonzero(counts > 1):
        rows = np.flatnonzero(inverse == k)
        shown = rows[usable[rows]]
        geom = shapely.union_all(repaired[shown]) if len(shown) else None
        out.append(
            CoverageIssue(
                "duplicate_code",
                (str(values[k]),),
                f"Code {values[k]} is used by {len(rows)} grids "
                f"(rows {and_list(rows.tolist())}) {where(geom)}.",
                geom,
                float(len(rows)),
            )
        )
    return out


def _multipart(grids: GridSet, space: MetricSpace) -> list[CoverageIssue]:
    out = []
    for p in np.flatnonzero((shapely.get_num_geometries(grids.geoms) > 1) & ~grids.invalid):
        pieces = shapely.get_parts(grids.geoms[p])
        areas = space.area(pieces)
        minor = float(areas.sum() - areas.max())
        out.append(
            CoverageIssue(
                "multipart",
                (grids.code(p),),
                f"Grid {grids.code(p)} is not contiguous: it has {len(pieces)} separate parts; "
                f"the smaller ones cover {m2(minor)}, one of them "
                f"{where(pieces[np.argsort(-areas)[1]])}.",
                grids.geoms[p],
                minor,
            )
        )
    return out


@dataclass(frozen=True)
class _Found:
    """A gap, overlap or outside part: its issue and lon/lat geometry."""

    issue: CoverageIssue
    geometry: shapely.Geometry


def check_coverage(
    grids: GridSet,
    boundary: shapely.Geometry | None,
    space: MetricSpace,
    sliver_width_m: float,
    min_area_m2: float,
) -> tuple[list[CoverageIssue], dict[str, Any]]:
    """gap, sliver, overlap, mismatched_edge and outside_boundary issues, with area stats.

    ``boundary`` (lon/lat) None means the grids' outer shell: their union with holes filled.
    """
    geoms = grids.geoms
    # GEOS finds overlaps, unmatched edges and (with gap_width) narrow gaps between grids.
    edges = shapely.coverage_invalid_edges(geoms, gap_width=space.degrees(sliver_width_m))
    flagged = ~(shapely.is_missing(edges) | shapely.is_empty(edges))
    overlaps = _overlaps(grids, flagged, space, min_area_m2)
    union = _union(geoms, flagged)
    area = boundary if boundary is not None else _filled(union)
    gaps, uncovered = _gaps(grids, area, union, space, sliver_width_m, min_area_m2)
    outside = [] if boundary is None else _outside(grids, flagged, boundary, space, min_area_m2)
    found = overlaps + gaps + outside
    segments, owner, place, beside = _unexplained(
        grids, edges, flagged, found, boundary, space, sliver_width_m
    )
    issues = [_naming(f.issue, beside.get(k, set())) for k, f in enumerate(found)]
    issues += _edge_issues(
        grids, segments, owner, place, union if boundary is None else None, space,
        sliver_width_m, min_area_m2,
    )  # fmt: skip
    total = float(space.area(area))
    stats = {
        "area_m2": total,
        "covered_m2": total - uncovered,
        "gap_m2": sum(i.measure for i in issues if i.kind in ("gap", "sliver")),
        "overlap_m2": sum(i.measure for i in issues if i.kind == "overlap"),
        "outside_m2": sum(i.measure for i in issues if i.kind == "outside_boundary"),
        "boundary": "given" if boundary is not None else "outer shell of the grids",
    }
    return issues, stats


def _overlaps(
    grids: GridSet, flagged: NDArray[np.bool_], space: MetricSpace, min_area_m2: float
) -> list[_Found]:
    # Of two overlapping grids at least one has an invalid edge, so only flagged grids are
    # queried: a valid plan costs nothing here.
    if not flagged.any():
        return []
    first = np.flatnonzero(flagged)
    local, other = grids.tree.query(grids.geoms[first], predicate="intersects")
    a, b = first[local], other
    a, b = np.minimum(a, b), np.maximum(a, b)
    pairs = np.unique(np.stack([a, b], axis=1)[a != b], axis=0)
    if not len(pairs):
        return []
    shared = polygonal(shapely.intersection(grids.geoms[pairs[:, 0]], grids.geoms[pairs[:, 1]]))
    areas = space.area(shared)
    out = []
    for k in np.flatnonzero(areas > min_area_m2):
        codes = tuple(sorted((grids.code(pairs[k, 0]), grids.code(pairs[k, 1]))))
        issue = CoverageIssue(
            "overlap",
            codes,
            f"Grids {and_list(codes)} overlap by {m2(float(areas[k]))} {where(shared[k])}.",
            shared[k],
            float(areas[k]),
        )
        out.append(_Found(issue, shared[k]))
    return out


def _union(geoms: NDArray[np.object_], flagged: NDArray[np.bool_]) -> shapely.Geometry:
    # The unflagged grids form a valid coverage, which GEOS unions by its edges alone (more
    # than ten times faster than a general overlay); the flagged ones are overlaid on top.
    if not len(geoms):
        return shapely.Polygon()
    if flagged.all():
        return shapely.union_all(geoms)
    base = shapely.coverage_union_all(geoms[~flagged])
    if not flagged.any():
        return base
    return shapely.union_all(np.append(geoms[flagged], base))


def _filled(union: shapely.Geometry) -> shapely.Geometry:
    """The union with its holes filled: the area the grids are taken to cover."""
    parts = shapely.get_parts(union)
    if not len(parts):
        return shapely.Polygon()
    shells = shapely.polygons(shapely.get_exterior_ring(parts))
    return shells[0] if len(shells) == 1 else shapely.union_all(shells)


def _gaps(
    grids: GridSet,
    area: shapely.Geometry,
    union: shapely.Geometry,
    space: MetricSpace,
    sliver_width_m: float,
    min_area_m2: float,
) -> tuple[list[_Found], float]:
    pieces = shapely.get_parts(shapely.difference(area, union))
    pieces = pieces[shapely.get_type_id(pieces) == shapely.GeometryType.POLYGON]
    keep, narrow, areas, lengths = kept_pieces(pieces, space, sliver_width_m, min_area_m2)
    out = [
        _gap(grids, pieces[k], narrow[k], areas[k], lengths[k], space, sliver_width_m)
        for k in np.flatnonzero(keep)
    ]
    return out, float(areas.sum())


def _gap(
    grids: GridSet,
    piece: shapely.Geometry,
    narrow: bool,
    area: float,
    length: float,
    space: MetricSpace,
    sliver_width_m: float,
    opening: bool = False,
) -> _Found:
    touch = space.degrees(TOUCH_M)
    codes = (
        grids.codes_of(sharing(piece, grids.geoms, grids.tree, touch)) if len(grids.rows) else ()
    )
    if not codes:
        around = "with no grid around it"
    elif len(codes) == 1:
        around = f"in grid {codes[0]}"
    else:
        around = f"between grids {and_list(codes)}"
    if opening:
        around += ", opening to the outside,"
    if narrow:
        size = f"Sliver gap of {m2(area)} (about {m(length)} long, under {m(sliver_width_m)} wide)"
    else:
        size = f"Gap of {m2(area)}"
    detail = f"{size} {around} {where(piece)}: no grid covers it."
    kind = "sliver" if narrow else "gap"
    return _Found(CoverageIssue(kind, codes, detail, piece, float(area)), piece)


def _outside(
    grids: GridSet,
    flagged: NDArray[np.bool_],
    boundary: shapely.Geometry,
    space: MetricSpace,
    min_area_m2: float,
) -> list[_Found]:
    shapely.prepare(boundary)
    loose = np.flatnonzero(~shapely.covers(boundary, grids.geoms))
    if not len(loose):
        return []
    # One overlay of the loose grids' union with the boundary: grid by grid, each overlay
    # would walk the whole boundary (thousands of vertices) again.
    beyond = shapely.difference(_union(grids.geoms[loose], flagged[loose]), boundary)
    pieces = shapely.get_parts(polygonal(np.array([beyond]))[0])
    solid = kept_pieces(pieces, space, 0.0, 0.0)[0]  # drop the hairlines first
    if not solid.any():
        return []
    piece, local = grids.tree.query(pieces[solid], predicate="intersects")
    mine = np.isin(local, loose)
    piece, local = piece[mine], local[mine]
    parts = polygonal(shapely.intersection(pieces[solid][piece], grids.geoms[local]))
    keep, _, areas, _ = kept_pieces(parts, space, 0.0, min_area_m2)
    out = []
    for g in np.unique(local[keep]):
        ours = keep & (local == g)
        geom = shapely.union_all(parts[ours]) if ours.sum() > 1 else parts[ours][0]
        code, area = grids.code(g), float(areas[ours].sum())
        text = f"Grid {code} reaches {m2(area)} outside the boundary {where(geom)}."
        out.append(_Found(CoverageIssue("outside_boundary", (code,), text, geom, area), geom))
    return out


def _unexplained(
    grids: GridSet,
    edges: NDArray[np.object_],
    flagged: NDArray[np.bool_],
    explained: list[_Found],
    boundary: shapely.Geometry | None,
    space: MetricSpace,
    sliver_width_m: float,
) -> tuple[NDArray[np.object_], NDArray[np.int64], NDArray[np.int64], dict[int, set[str]]]:
    """Invalid edge segments that touch no reported gap, overlap or outside part, by place.

    Each invalid edge is cut into segments: a gap or an overlap leaves the vertices of its
    neighbours unmatched too, and those segments touch it (within half ``sliver_width_m``);
    so they are explained by it. A grid so explained that the issue does not name (its corner
    meets the overlap, say) is named beside it: every grid GEOS flags is named by some issue.
    Segments lying along the given ``boundary`` are explained by it: GEOS's ``gap_width`` test
    flags the coverage's own outline where it runs within ``gap_width`` of itself (a sharp spike
    or a narrow inlet of the community), but an edge on the boundary has no neighbour to match,
    and what lies between it and the boundary is the gap rule's to find. Without this, a
    community checked alone (after an edit) reported its spikes as mismatched edges that the
    check of the whole district, where a neighbour's grid fills them, did not.
    The rest are grouped into places: segments within half ``sliver_width_m`` of each other,
    transitively. Returns the segments, the grid (position) owning each, its place, and the
    codes to name beside each explaining issue (by its position in ``explained``).
    """
    none = np.array([], dtype=np.int64)
    beside: dict[int, set[str]] = {}
    if not flagged.any():
        return np.array([], dtype=object), none, none, beside
    parts, part_owner = shapely.get_parts(edges[flagged], return_index=True)
    coords, which = shapely.get_coordinates(parts, return_index=True)
    step = np.flatnonzero(which[1:] == which[:-1])
    segments = shapely.linestrings(np.stack([coords[step], coords[step + 1]], axis=1))
    owner = np.flatnonzero(flagged)[part_owner[which[step]]]
    if boundary is not None and len(segments):
        outline = shapely.boundary(boundary)
        shapely.prepare(outline)
        ends = shapely.get_coordinates(segments).reshape(-1, 2, 2)
        probes = shapely.points(np.concatenate([ends[:, 0], ends.mean(axis=1), ends[:, 1]]))
        near = shapely.dwithin(outline, probes, space.degrees(NOISE_WIDTH_M))
        along = near.reshape(3, -1).all(axis=0)
        segments, owner = segments[~along], owner[~along]
    # The same place: within half the sliver width (at least 1 cm). A vertex on a
    # neighbour's edge makes nearly parallel lines meet, and the overlay may place that
    # meeting point millimetres along them.
    reach = space.degrees(max(sliver_width_m / 2.0, 10 * TOUCH_M))
    if explained and len(segments):
        places = np.array([f.geometry for f in explained], dtype=object)
        seg, by = shapely.STRtree(places).query(segments, predicate="dwithin", distance=reach)
        owner_code = grids.codes[grids.rows[owner]]
        for f, code in {(int(f), str(owner_code[k])) for k, f in zip(seg, by, strict=True)}:
            if code not in explained[f].issue.grids:
                beside.setdefault(f, set()).add(code)
        loose = np.ones(len(segments), dtype=bool)
        loose[seg] = False
        segments, owner = segments[loose], owner[loose]
    if not len(segments):
        return segments, none, none, beside
    a, b = shapely.STRtree(segments).query(segments, predicate="dwithin", distance=reach)
    near = sparse.coo_matrix((np.ones(len(a)), (a, b)), shape=(len(segments), len(segments)))
    place = csgraph.connected_components(near, directed=False)[1].astype(np.int64)
    order = np.argsort(place, kind="stable")
    return segments[order], owner[order].astype(np.int64), place[order], beside


def _naming(issue: CoverageIssue, beside: set[str]) -> CoverageIssue:
    """``issue`` naming also the grids in ``beside``, whose edges it leaves unmatched."""
    extra = sorted(beside - set(issue.grids))
    if not extra:
        return issue
    many = len(extra) > 1
    whose = f"The edges of grids {and_list(extra)}" if many else f"The edge of grid {extra[0]}"
    return replace(
        issue,
        grids=tuple(sorted({*issue.grids, *extra})),
        detail=f"{issue.detail} {whose} next to it {'do' if many else 'does'} not match either.",
    )


def _edge_issues(
    grids: GridSet,
    segments: NDArray[np.object_],
    owner: NDArray[np.int64],
    place: NDArray[np.int64],
    union: shapely.Geometry | None,
    space: MetricSpace,
    sliver_width_m: float,
    min_area_m2: float,
) -> list[CoverageIssue]:
    """One issue per place of unmatched edges: a mismatched edge, or a gap to the outside.

    Without a boundary (``union`` given), a narrow gap between two grids that opens to the
    outside is in no difference with the area; it shows as their unmatched edges, whose
    convex hull holds it. The grids named are those owning the edges; the length is that of
    the longest side.
    """
    if not len(segments):
        return []
    lines = shapely.multilinestrings(segments, indices=place)
    pair, at = np.unique(np.stack([place, owner], axis=1), axis=0, return_inverse=True)
    per_owner = np.bincount(at.ravel(), space.length(segments))
    length = np.zeros(len(lines))
    np.maximum.at(length, pair[:, 0], per_owner)
    outward: dict[int, CoverageIssue] = {}
    if union is not None:
        hulls = shapely.convex_hull(lines)
        for k in np.flatnonzero(kept_pieces(hulls, space, 0.0, 0.0)[0]):
            local = shapely.union_all(grids.geoms[grids.tree.query(hulls[k])])
            pieces = shapely.get_parts(polygonal(np.array([shapely.difference(hulls[k], local)])))
            keep, narrow, areas, lengths = kept_pieces(pieces, space, sliver_width_m, min_area_m2)
            if keep.any():
                j = int(np.argmax(np.where(keep, areas, -1.0)))
                outward[int(k)] = _gap(
                    grids, pieces[j], narrow[j], areas[j], lengths[j], space, sliver_width_m, True
                ).issue
    owners = np.split(pair[:, 1], np.searchsorted(pair[:, 0], np.arange(1, len(lines))))
    out = []
    reach = space.degrees(max(sliver_width_m / 2.0, 10 * TOUCH_M))
    for i, mine in enumerate(owners):
        if i not in outward:
            out.append(_mismatch(grids, lines[i], float(length[i]), grids.codes_of(mine)))
            continue
        # The gap explains the edges along it; a chain of unmatched edges that merely leads
        # to it (a grid whose vertices differ from its neighbour's all the way) is reported
        # on its own, so that no grid GEOS flags goes unnamed.
        gap = outward[i]
        ours = place == i
        near = shapely.dwithin(segments[ours], gap.geometry, reach)
        codes = grids.codes[grids.rows[owner[ours]]]
        out.append(_naming(gap, {str(c) for c in codes[near]}))
        if not near.all():
            far = segments[ours][~near]
            far_owner = owner[ours][~near]
            longest = max(
                float(space.length(far[far_owner == o]).sum()) for o in np.unique(far_owner)
            )
            far_line = shapely.multilinestrings(far)
            out.append(_mismatch(grids, far_line, longest, grids.codes_of(far_owner)))
    return out


def _mismatch(
    grids: GridSet, line: shapely.Geometry, length: float, codes: tuple[str, ...]
) -> CoverageIssue:
    return CoverageIssue(
        "mismatched_edge",
        codes,
        f"The edges of grids {and_list(codes)} do not match over {m(length)} {where(line)}: "
        "their vertices differ or the edges cross or nearly touch, leaving no overlap or gap "
        "of reportable size.",
        line,
        length,
    )
