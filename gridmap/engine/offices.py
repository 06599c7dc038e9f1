"""Community offices within reach: how far residents walk to their 居委会, over the roads.

For each community, the walking distance from every building to the community's office over the
road network (networkx Dijkstra over the noded road lines; a straight line only where no road
reaches), weighted by the building's residents: median, 90th percentile, share beyond 15 and
30 minutes; and the office's distance to the community's edge against how deep the community
is (the radius of its largest inscribed circle). An office outside its community, near its edge,
or with a 90th percentile beyond the limit is *badly placed*, and the report says why.

Pure functions over GeoDataFrames (lon/lat in, metres computed in a local metric CRS); no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import geopandas as gpd
import networkx as nx
import numpy as np
import pandas as pd
import shapely

from gridmap.crs import metric_crs
from gridmap.errors import InputError

__all__ = ["OfficeReach", "ReachRules", "office_reach", "road_graph", "weighted_quantile"]

_COLUMNS = [
    "community_code",
    "community_name",
    "office_id",
    "office_name",
    "buildings",
    "residents",
    "median_min",
    "p90_min",
    "max_min",
    "share_over_15",
    "share_over_30",
    "edge_m",
    "depth_m",
    "straight_line_buildings",
    "badly_placed",
    "flags",
    "problems",
]


@dataclass(frozen=True)
class ReachRules:
    """What counts as badly placed, and how people walk.

    ``walk_m_per_min`` 75 is 4.5 km/h, an older resident's pace. An office is *at the edge*
    when it is nearer the community's edge than ``edge_share`` of the community's depth (the
    radius of its largest inscribed circle); *far* when its residents' 90th percentile walk
    exceeds ``p90_limit_min`` and is more than ``centre_factor`` times what it would be from
    the community's centre (a big village is far to walk wherever its office stands).
    A building farther than ``road_reach_m`` from any road, on roads not linked to the
    office's, or whose walk over the roads is more than ``max_detour`` times the straight line
    (roads missing from the data), walks in a straight line.
    """

    walk_m_per_min: float = 75.0
    edge_share: float = 0.1
    p90_limit_min: float = 15.0
    centre_factor: float = 1.3
    road_reach_m: float = 300.0
    max_detour: float = 4.0
    segment_m: float = 40.0
    join_m: float = 30.0


@dataclass(frozen=True)
class OfficeReach:
    """The report: one row per community, badly placed first.

    Columns: community_code, community_name, office_id, office_name, buildings, residents,
    median_min, p90_min, max_min (walking minutes, weighted by residents), share_over_15,
    share_over_30 (shares of residents), edge_m (the office's distance to the community's
    edge, negative outside it), depth_m (the radius of the community's largest inscribed
    circle), straight_line_buildings, badly_placed, flags (``outside``, ``edge``, ``far``,
    ``no_office``) and problems (the flags in words, with the figures).
    """

    table: pd.DataFrame
    rules: ReachRules = field(default_factory=ReachRules)

    @property
    def badly_placed(self) -> pd.DataFrame:
        """The communities whose office is badly placed."""
        return self.table[self.table["badly_placed"]]

    def to_json(self) -> dict[str, Any]:
        """JSON-ready: the rules, the counts and every community's figures."""
        rows = self.table.astype(object).where(self.table.notna(), None).to_dict("records")
        return {
            "rules": vars(self.rules),
            "communities": len(self.table),
            "badly_placed": int(self.table["badly_placed"].sum()),
            "rows": rows,
        }


def weighted_quantile(values: np.ndarray, weights: np.ndarray, q: float) -> float:
    """The smallest value at or below which ``q`` of the total weight lies.

    Examples
    --------
    >>> weighted_quantile(np.array([1.0, 2.0, 10.0]), np.array([1, 1, 8]), 0.5)
    10.0
    >>> weighted_quantile(np.array([3.0, 1.0]), np.array([0, 0]), 0.5)  # no weight: unweighted
    1.0
    """
    values = np.asarray(values, dtype=float)
    weights = np.asarray(weights, dtype=float)
    if values.size == 0:
        return float("nan")
    if weights.sum() <= 0:
        weights = np.ones_like(values)
    order = np.argsort(values)
    cumulative = np.cumsum(weights[order])
    return float(values[order][np.searchsorted(cumulative, q * cumulative[-1])])


def road_graph(
    roads_m: np.ndarray, segment_m: float = 40.0, join_m: float = 30.0
) -> tuple[nx.Graph, np.ndarray]:
    """A walking graph of metric road lines, noded where lines cross, with a node every
    ``segment_m`` at most and each dead end joined to a road within ``join_m``; returns the
    graph (nodes 0…n-1, edge ``weight`` in metres) and the nodes' coordinates (n × 2).

    Examples
    --------
    >>> from shapely import LineString
    >>> cross = [LineString([(0, 0), (100, 0)]), LineString([(50, -50), (50, 50)])]
    >>> g, xy = road_graph(np.array(cross))
    >>> round(nx.shortest_path_length(g, 0, len(xy) - 1, weight="weight"))  # (0,0) to (50,50)
    100
    """
    graph = nx.Graph()
    if len(roads_m) == 0:
        return graph, np.empty((0, 2))
    noded = shapely.union_all(shapely.line_merge(np.asarray(roads_m)))
    parts = shapely.get_parts(shapely.segmentize(noded, segment_m))
    ids: dict[tuple[float, float], int] = {}
    for part in parts:
        coords = np.round(shapely.get_coordinates(part), 2)
        keys = [ids.setdefault((x, y), len(ids)) for x, y in coords]
        steps = np.hypot(*np.diff(coords, axis=0).T)
        graph.add_weighted_edges_from(
            (a, b, w) for a, b, w in zip(keys[:-1], keys[1:], steps, strict=True) if a != b
        )
    xy = np.array(list(ids), dtype=float).reshape(-1, 2)
    graph.add_nodes_from(range(len(xy)))
    _join_dead_ends(graph, xy, join_m)
    return graph, xy


def _join_dead_ends(graph: nx.Graph, xy: np.ndarray, join_m: float) -> None:
    """Link each dead end to the nearest node within ``join_m`` that the graph reaches only by
    a long way round (a lane drawn stopping short of the street it meets)."""
    ends = [n for n, degree in graph.degree() if degree == 1]
    if not ends or join_m <= 0:
        return
    tree = shapely.STRtree(shapely.points(xy))
    pairs = tree.query(shapely.points(xy[ends]), predicate="dwithin", distance=join_m)
    gaps = np.hypot(*(xy[np.asarray(ends)[pairs[0]]] - xy[pairs[1]]).T)
    best: dict[int, tuple[float, int]] = {}
    for k, other, gap in zip(pairs[0], pairs[1], gaps, strict=True):
        end = ends[k]
        if other == end:
            continue
        around = nx.single_source_dijkstra_path_length(
            graph, end, cutoff=3 * join_m, weight="weight"
        )
        if int(other) in around or (end in best and best[end][0] <= gap):
            continue
        best[end] = (float(gap), int(other))
    graph.add_weighted_edges_from((end, other, gap) for end, (gap, other) in best.items())


def _walks(
    graph: nx.Graph,
    nodes: shapely.STRtree | None,
    node_xy: np.ndarray,
    office: shapely.Point,
    points: np.ndarray,
    rules: ReachRules,
) -> tuple[np.ndarray, np.ndarray]:
    """Walking metres from each point to the office, and which went in a straight line."""
    straight = shapely.distance(points, office)
    if nodes is None or len(points) == 0:
        return straight, np.ones(len(points), dtype=bool)
    office_node = int(nodes.query_nearest(office)[0])
    office_access = float(np.hypot(*(node_xy[office_node] - (office.x, office.y))))
    near = nodes.query_nearest(points, return_distance=True)
    (point_idx, node_idx), access = near[0], near[1]
    # query_nearest returns every tie: keep the first node of each point
    first = np.unique(point_idx, return_index=True)[1]
    node_of, access_of = node_idx[first], access[first]
    # Walks longer than max_detour × the straight line become straight lines below, so the
    # search may stop there without changing any answer.
    cutoff = rules.max_detour * max(float(straight.max()), rules.road_reach_m)
    reached = nx.single_source_dijkstra_path_length(
        graph, office_node, cutoff=cutoff, weight="weight"
    )
    network = np.array([reached.get(int(n), np.inf) for n in node_of]) + access_of + office_access
    # No road within reach, or not connected to the office's road: a straight line. Nearer to
    # each other than to any road: walk straight across.
    use_straight = (
        (access_of > rules.road_reach_m)
        | (office_access > rules.road_reach_m)
        | ~np.isfinite(network)
        | (network > rules.max_detour * np.maximum(straight, rules.road_reach_m))
        | (straight <= access_of + office_access)
    )
    return np.where(use_straight, straight, network), use_straight


def office_reach(
    communities: gpd.GeoDataFrame,
    buildings: gpd.GeoDataFrame,
    roads: gpd.GeoDataFrame,
    offices: gpd.GeoDataFrame,
    *,
    rules: ReachRules | None = None,
    metric_epsg: int | None = None,
) -> OfficeReach:
    """How far each community's residents walk to its office; which offices are badly placed.

    Parameters
    ----------
    communities : GeoDataFrame
        Columns ``code`` and the polygon; ``short_name`` or ``name`` when present (lon/lat).
    buildings : GeoDataFrame
        Footprints or points with ``residents``; each belongs to the community holding its
        representative point.
    roads : GeoDataFrame
        Road centre lines (may be empty: every walk is then a straight line).
    offices : GeoDataFrame
        Columns ``id``, ``community_code``, ``name`` and a point (the ``offices`` layer); the
        first office of a community is its office.
    rules : ReachRules, optional
    metric_epsg : int, optional
        The metric CRS to measure in; default the UTM zone of the data.

    Returns
    -------
    OfficeReach
        One row per community, badly placed first, then by 90th percentile walk.
    """
    rules = rules or ReachRules()
    for frame, name, needed in (
        (communities, "communities", ("code",)),
        (buildings, "buildings", ("residents",)),
        (offices, "offices", ("id", "community_code", "name")),
    ):
        missing = [c for c in needed if c not in frame.columns]
        if missing:
            raise InputError(f"office_reach: {name} lacks column(s) {', '.join(missing)}")
    if communities.empty:
        raise InputError("office_reach: no communities given")
    crs = metric_crs(communities.total_bounds, metric_epsg)
    comm = communities.to_crs(crs).reset_index(drop=True)
    points = gpd.GeoDataFrame(
        {"residents": pd.to_numeric(buildings["residents"], errors="coerce").fillna(0).to_numpy()},
        geometry=shapely.point_on_surface(buildings.to_crs(crs).geometry.to_numpy()),
        crs=crs,
    )
    joined = gpd.sjoin(points, comm[["code", "geometry"]], predicate="within", how="inner")
    graph, node_xy = road_graph(
        roads.to_crs(crs).geometry.to_numpy(), rules.segment_m, rules.join_m
    )
    nodes = shapely.STRtree(shapely.points(node_xy)) if len(node_xy) else None
    office_m = offices.to_crs(crs).drop_duplicates("community_code").set_index("community_code")
    label = "short_name" if "short_name" in comm else ("name" if "name" in comm else "code")

    rows = []
    for _, community in comm.iterrows():
        code = str(community["code"])
        mine = joined[joined["code"] == code]
        row: dict[str, Any] = {
            "community_code": code,
            "community_name": community[label] if pd.notna(community[label]) else code,
            "buildings": len(mine),
            "residents": int(mine["residents"].sum()),
            "depth_m": _depth(community.geometry),
        }
        if code not in office_m.index:
            rows.append(
                {**row, "badly_placed": True, "flags": ["no_office"], "problems": ["no office"]}
            )
            continue
        office = office_m.loc[code]
        where = office.geometry
        homes = mine.geometry.to_numpy()
        weights = mine["residents"].to_numpy(dtype=float)
        walks, straight = _walks(graph, nodes, node_xy, where, homes, rules)
        minutes = walks / rules.walk_m_per_min
        total = weights.sum()
        share = weights / total if total > 0 else np.full(len(weights), 1 / max(len(weights), 1))
        inside = bool(community.geometry.covers(where))
        edge = float(community.geometry.boundary.distance(where)) * (1 if inside else -1)
        row.update(
            office_id=str(office["id"]),
            office_name=office["name"],
            median_min=_round(weighted_quantile(minutes, weights, 0.5)),
            p90_min=_round(weighted_quantile(minutes, weights, 0.9)),
            max_min=_round(float(minutes.max())) if len(minutes) else None,
            share_over_15=round(float(share[minutes > 15].sum()), 3),
            share_over_30=round(float(share[minutes > 30].sum()), 3),
            edge_m=round(edge, 1),
            straight_line_buildings=int(straight.sum()),
        )
        problems, flags = [], []
        if not inside:
            flags.append("outside")
            problems.append(f"outside its community ({-edge:,.0f} m beyond its edge)")
        elif edge < rules.edge_share * row["depth_m"]:
            flags.append("edge")
            problems.append(
                f"at the edge: {edge:,.0f} m from it; the community is {row['depth_m']:,.0f} m deep"
            )
        p90 = row["p90_min"]
        if p90 is not None and p90 > rules.p90_limit_min:
            centre = _centre(community.geometry)
            from_centre, _ = _walks(graph, nodes, node_xy, centre, homes, rules)
            centre_p90 = weighted_quantile(from_centre / rules.walk_m_per_min, weights, 0.9)
            if p90 > rules.centre_factor * centre_p90:
                flags.append("far")
                problems.append(
                    f"far: 90% of residents walk up to {p90:.0f} min (from the community's "
                    f"centre {centre_p90:.0f}); {row['share_over_30']:.0%} over 30 min"
                )
        rows.append({**row, "badly_placed": bool(flags), "flags": flags, "problems": problems})
    table = pd.DataFrame(rows).reindex(columns=_COLUMNS)
    table["badly_placed"] = table["badly_placed"].astype(bool)
    table = table.sort_values(
        ["badly_placed", "p90_min", "community_code"], ascending=[False, False, True]
    ).reset_index(drop=True)
    return OfficeReach(table, rules)


def _depth(polygon: shapely.Geometry) -> float:
    """The radius of the largest circle inside the polygon, in metres (to 1 m)."""
    circle = shapely.maximum_inscribed_circle(polygon, tolerance=1.0)
    return round(float(circle.length), 1)


def _centre(polygon: shapely.Geometry) -> shapely.Point:
    """The polygon's centroid, or the centre of its largest inscribed circle when the centroid
    falls outside (a crescent-shaped community)."""
    centroid = polygon.centroid
    if polygon.covers(centroid):
        return centroid
    return shapely.get_point(shapely.maximum_inscribed_circle(polygon, 1.0), 0)


def _round(value: float) -> float | None:
    return None if not np.isfinite(value) else round(value, 1)
