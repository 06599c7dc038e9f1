"""Offices every division has: a street office per street, a committee office per community,
and in villages a school now and then and a few workshops."""

from __future__ import annotations

import numpy as np
import shapely

from gridmap.sample.units import SmallUnit

__all__ = ["BADLY_PLACED_SHARE", "office_requests", "reserve_pieces"]

# Share of committee offices placed badly, as about a third of real ones are: at the edge of
# their community, a long walk from most of its residents.
BADLY_PLACED_SHARE = 0.3


def reserve_pieces(frame, pieces, big_piece) -> dict[int, int]:
    """Keep open ground for each street's office and each 社区's committee office.

    The street office (街道办事处 / 镇人民政府) gets the roomy piece nearest to the street's
    centre; a 社区 with no open piece wide enough gets its smallest such piece. Both become
    parks the offices are then placed in. Returns {street index: reserved piece}.
    """
    reserved: dict[int, int] = {}
    c = shapely.centroid(pieces.geoms)
    # Open ground wide enough for an office: a street office needs about 60 × 36 m, a
    # committee about 42 × 31 m.
    roomy = ~shapely.is_empty(shapely.buffer(pieces.geoms, -36.0))
    fits = ~shapely.is_empty(shapely.buffer(pieces.geoms, -27.0))
    not_big = np.arange(len(pieces.geoms)) != big_piece
    for s, street in enumerate(frame.streets):
        mine = np.flatnonzero((pieces.street == s) & roomy & not_big)
        if not len(mine):
            continue
        d = np.hypot(
            shapely.get_x(c[mine]) - street.seed[0], shapely.get_y(c[mine]) - street.seed[1]
        )
        reserved[s] = int(mine[np.argmin(d)])
        pieces.role[reserved[s]] = "park"
    area = shapely.area(pieces.geoms)
    for comm in np.unique(pieces.community):
        mine = np.flatnonzero((pieces.community == comm) & fits & not_big)
        mine = mine[~np.isin(mine, list(reserved.values()))]
        if len(mine) and not np.isin(pieces.role[mine], ("park", "low")).any():
            pieces.role[mine[np.argmin(area[mine])]] = "park"
    return reserved


def _points_in(polys: np.ndarray, spacing: float, limit: int = 400) -> np.ndarray:
    """Grid points inside polygons, polygon by polygon (at most ``limit``)."""
    out = []
    for poly in polys:
        x0, y0, x1, y1 = poly.bounds
        mx, my = np.meshgrid(np.arange(x0, x1, spacing), np.arange(y0, y1, spacing))
        gx, gy = mx.ravel(), my.ravel()
        inside = shapely.contains_xy(poly, gx, gy)
        out.append(np.column_stack([gx[inside], gy[inside]]))
    pts = np.vstack(out) if out else np.empty((0, 2))
    return pts[:limit]


# Residents a m² of each kind of block piece holds, roughly (see homes.py).
_HOLDS = {"new": 0.16, "old": 0.05, "low": 0.02, "tower": 0.3}


def _homes_centre(pieces, community: int) -> np.ndarray | None:
    """Where a 社区's residents are, on average (its home pieces weighted by what they hold)."""
    mine = np.flatnonzero((pieces.community == community) & np.isin(pieces.role, list(_HOLDS)))
    if not len(mine):
        return None
    c = shapely.centroid(pieces.geoms[mine])
    w = shapely.area(pieces.geoms[mine]) * np.array([_HOLDS[r] for r in pieces.role[mine]])
    return np.array(
        [np.average(shapely.get_x(c), weights=w), np.average(shapely.get_y(c), weights=w)]
    )


def office_requests(rng, frame, div, pieces, reserved, hamlets, comms, stems, names):
    """Street offices, community committees, village schools and workshops to place."""
    cells = div.cells
    req: list[SmallUnit] = []
    counts = [len(s.communities) for s in frame.streets]
    bearing_of = np.repeat([s.bearing for s in frame.streets], counts)
    street_of_comm = np.repeat(np.arange(len(frame.streets)), counts)

    def cell_points(c, near=None, k=60):
        idx = np.flatnonzero(div.community_of_cell == c)
        if near is None:
            idx = idx[rng.permutation(len(idx))]
        else:
            idx = idx[np.argsort(np.hypot(cells.x[idx] - near[0], cells.y[idx] - near[1]))]
        return np.column_stack([cells.x[idx[:k]], cells.y[idx[:k]]])

    for s, street in enumerate(frame.streets):
        if s not in reserved:
            continue
        p = reserved[s]
        suffix = "办事处" if street.name.endswith("街道") else "人民政府"
        req.append(
            SmallUnit(
                int(pieces.community[p]),
                f"{street.name}{suffix}",
                "government",
                "government",
                1,
                np.vstack(
                    [
                        shapely.get_coordinates(
                            shapely.point_on_surface(shapely.buffer(pieces.geoms[p], -36.0))
                        ),
                        _points_in(pieces.geoms[[p]], 10.0),
                    ]
                ),
                float(pieces.bearing[p]),
            )
        )
    badly = rng.random(len(comms)) < BADLY_PLACED_SHARE
    for c, comm in enumerate(comms):
        pts = []
        if comm.is_village:
            mine = np.flatnonzero(hamlets.community == c)
            pts.append(hamlets.xy[mine] + rng.normal(0, 30, (len(mine), 2)))
            centre = np.average(hamlets.xy[mine], axis=0, weights=hamlets.share[mine])
        else:
            free = np.flatnonzero((pieces.community == c) & np.isin(pieces.role, ("park", "low")))
            if len(free):
                core = shapely.buffer(pieces.geoms[free], -27.0)
                core = core[~shapely.is_empty(core)]
                pts.append(shapely.get_coordinates(shapely.point_on_surface(core)))
                pts.append(_points_in(pieces.geoms[free], 12.0))
            centre = _homes_centre(pieces, c)
        if centre is None:
            pts.append(cell_points(c))
        else:  # well placed: the free ground nearest the residents' centre
            pts.append(cell_points(c, near=centre))
            good = np.vstack(pts)
            pts = [good[np.argsort(np.hypot(*(good - centre).T), kind="stable")]]
        if badly[c]:  # at the edge: the cells nearest the community's boundary come first
            idx = np.flatnonzero(div.community_of_cell == c)
            edge = shapely.distance(
                shapely.boundary(div.communities[c]), shapely.points(cells.x[idx], cells.y[idx])
            )
            idx = idx[np.argsort(edge)[: max(12, len(idx) // 5)]]
            at_edge = np.column_stack([cells.x[idx], cells.y[idx]])[rng.permutation(len(idx))]
            pts.insert(0, at_edge)
        cand = np.vstack(pts)
        if comm.is_village:
            bearing = float(bearing_of[c]) + rng.normal(0, 20)
        else:  # aligned with the block grid
            mine = np.flatnonzero(pieces.street == street_of_comm[c])
            bearing = float(pieces.bearing[mine[0]]) if len(mine) else float(bearing_of[c])
        req.append(SmallUnit(c, comm.name, "office", "committee", 1, cand, bearing))
        if comm.is_village:  # a village school, workshops near the hamlets
            mine = np.flatnonzero(hamlets.community == c)

            def near_hamlet(c=c, mine=mine):
                return cell_points(c, hamlets.xy[rng.choice(mine)] + rng.normal(0, 150, 2))

            if rng.random() < 0.3:
                req.append(
                    SmallUnit(
                        c,
                        names.social_unit("school", stems[c]),
                        "school",
                        "school",
                        2,
                        near_hamlet(),
                        bearing,
                    )
                )
            for _ in range(int(rng.integers(0, 3))):
                req.append(
                    SmallUnit(
                        c,
                        names.social_unit("enterprise", stems[c]),
                        "enterprise",
                        "factory",
                        int(rng.integers(1, 4)),
                        near_hamlet(),
                        bearing + rng.normal(0, 25),
                    )
                )
    return req
