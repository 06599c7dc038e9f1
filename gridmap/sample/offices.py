"""Offices every division has: a street office per street, a committee office per community,
and in villages a school now and then and a few workshops."""

from __future__ import annotations

import numpy as np
import shapely

from gridmap.sample.units import SmallUnit

__all__ = ["office_requests", "reserve_pieces"]


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
    for c, comm in enumerate(comms):
        pts = []
        if comm.is_village:
            mine = np.flatnonzero(hamlets.community == c)
            mine = mine[np.argsort(-hamlets.share[mine])]
            pts.append(hamlets.xy[mine] + rng.normal(0, 30, (len(mine), 2)))
        else:
            free = np.flatnonzero((pieces.community == c) & np.isin(pieces.role, ("park", "low")))
            if len(free):
                core = shapely.buffer(pieces.geoms[free], -27.0)
                core = core[~shapely.is_empty(core)]
                pts.append(shapely.get_coordinates(shapely.point_on_surface(core)))
                pts.append(_points_in(pieces.geoms[free], 12.0))
        pts.append(cell_points(c))
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
