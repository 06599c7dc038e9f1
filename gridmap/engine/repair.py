"""Adopt a hand-drawn grid layer onto the canvas: its gaps and overlaps vanish by construction.

A legacy layer (drawn in CAD or another GIS) has gaps, overlaps, slivers and parts outside the
community. Repair does not mend its polygons: it reads, for every atom of the canvas, which
hand-drawn grid holds most of it, and makes that the plan. The grids are then unions of cells,
which tile the community, so no gap or overlap can remain. Every cell whose grid differs from
what the layer drew there is reported with the reason:

- ``majority``: the cell (or another cell of its atom) straddles grids; the atom goes to the
  grid holding most of its area.
- ``overlap_resolved``: part of the cell lay where grids overlap.
- ``gap_filled``: part of the cell lay in no grid; an atom mostly in no grid goes to the
  neighbouring grid it shares the longest boundary with, gaps filling from their edges inward.
- ``reconnected``: the cell was in a detached piece of its grid; every piece but the largest
  (by area) goes to the neighbouring grid it shares the longest boundary with.

Areas are taken in a metric CRS (``metric``: EPSG code, pyproj CRS or callable; default the
UTM zone of the cells).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
import shapely
from numpy.typing import NDArray

from gridmap.engine.edits.plan import Metric, Plan, load_plan
from gridmap.engine.graph import Adjacency
from gridmap.engine.plan import dissolve_grids, grid_table
from gridmap.errors import InputError

__all__ = ["REASONS", "RepairResult", "repair_onto_canvas"]

REASONS = ("majority", "overlap_resolved", "gap_filled", "reconnected")

_TOLERANCE = 1e-6  # areas below this fraction of a cell are floating-point noise
_CHANGE_COLUMNS = ["cell_id", "atom_id", "from", "to", "reason", "area_m2"]


@dataclass(frozen=True, eq=False)
class RepairResult:
    """A plan adopted from a hand-drawn layer, and every change made to what was drawn.

    Attributes
    ----------
    cells : GeoDataFrame
        The canvas's cells with ``grid`` = the hand-drawn code they now belong to.
    grids : GeoDataFrame
        :func:`gridmap.engine.plan.dissolve_grids` of the cells, with ``compactness``.
    changes : DataFrame
        One row per cell whose grid differs from the drawing anywhere in it: cell_id,
        atom_id, from (the hand-drawn codes overlapping it, most area first, joined by ","; None
        when none does), to, reason (one of :data:`REASONS`), area_m2 (the part of the cell
        the drawing did not give to ``to`` alone).
    dropped : tuple of str
        Hand-drawn codes that receive no cell.
    notes : tuple of str
        Everything else a planner should know: area outside the canvas, overlap and gap
        totals, grids spanning communities, pieces that could not be reconnected.
    """

    cells: gpd.GeoDataFrame
    grids: gpd.GeoDataFrame
    changes: pd.DataFrame
    dropped: tuple[str, ...]
    notes: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        """JSON-serializable report (without geometries)."""
        changes = self.changes.astype(object).where(self.changes.notna(), None)
        return {
            "grids": len(self.grids),
            "changed_cells": len(self.changes),
            "by_reason": {r: int((self.changes["reason"] == r).sum()) for r in REASONS},
            "changes": [
                {k: (v.item() if isinstance(v, np.generic) else v) for k, v in row.items()}
                for row in changes.to_dict(orient="records")
            ],
            "dropped": list(self.dropped),
            "notes": list(self.notes),
        }


def repair_onto_canvas(
    hand_drawn: gpd.GeoDataFrame,
    cells: gpd.GeoDataFrame,
    *,
    code_column: str = "code",
    metric: Metric = None,
    adjacency: Adjacency | None = None,
) -> RepairResult:
    """Adopt the hand-drawn grids onto the canvas's cells, whole atoms at a time.

    Parameters
    ----------
    hand_drawn : GeoDataFrame
        The legacy grids: ``code_column`` and polygons (EPSG:4326, or any CRS it is
        reprojected from). Rows sharing a code are one grid; invalid polygons are made valid.
    cells : GeoDataFrame
        The canvas: index cell_id; community_code, atom_id, residents, households, geometry
        (EPSG:4326). A ``grid`` column, if any, is ignored.
    code_column : str, default "code"
    metric : EPSG code, pyproj CRS or callable, optional
    adjacency : Adjacency, optional
        The cells' adjacency in metres (``Canvas.adjacency``), computed when not given.

    Returns
    -------
    RepairResult

    Raises
    ------
    InputError
        A missing code column or CRS, empty codes, or a community no hand-drawn grid reaches.

    Examples
    --------
    >>> cells = gpd.GeoDataFrame({"community_code": "500108003002", "atom_id": list("abc"),
    ...     "residents": [10, 20, 30], "households": [4, 8, 12]}, index=["c1", "c2", "c3"],
    ...     geometry=[shapely.box(106.55 + i / 1e3, 29.55, 106.55 + (i + 1) / 1e3, 29.551)
    ...               for i in range(3)], crs=4326)
    >>> drawn = gpd.GeoDataFrame({"code": ["A", "B"]}, crs=4326, geometry=[
    ...     shapely.box(106.5499, 29.5499, 106.5513, 29.5511),   # c1 and 30% of c2
    ...     shapely.box(106.5516, 29.5499, 106.5531, 29.5511)])  # c3 and 40% of c2: a gap
    >>> result = repair_onto_canvas(drawn, cells)
    >>> result.cells["grid"].tolist()
    ['A', 'B', 'B']
    >>> result.changes[["cell_id", "from", "to", "reason"]].values.tolist()
    [['c2', 'B,A', 'B', 'gap_filled']]
    """
    codes, drawn = _hand_drawn(hand_drawn, code_column)
    plan = load_plan(cells.assign(grid=""), adjacency, metric)
    drawn_m = shapely.transform(drawn, plan.metric, interleaved=False)
    notes: list[str] = []

    # what the drawing says inside each cell
    cell, code, part = _pieces(plan.projected, drawn_m)
    home = _home_community(plan, cell, code, part, codes, notes)
    valid = plan.community[cell] == home[code]
    covered = _covered(plan, drawn_m, home)
    exclusive = _exclusive(drawn_m)
    notes += _outside_notes(plan, drawn_m, codes)

    # atoms: to the grid holding most, unless most of the atom lies in no grid
    labels, gap_atom = _majority(plan, cell[valid], code[valid], part[valid], covered, codes)
    filled = labels == ""
    _fill_gaps(plan, labels)
    reconnected = _reconnect(plan, labels, notes)

    cells_out = cells.copy()
    cells_out["grid"] = pd.Series(labels, index=cells.index, dtype=object)
    grids = dissolve_grids(cells_out)
    grids["compactness"] = grid_table(grids, plan.metric, 1.0)["compactness"].to_numpy()
    changes = _changes(
        plan,
        labels,
        (cell, code, part, valid),
        covered,
        exclusive,
        codes,
        filled | gap_atom,
        reconnected,
    )
    overlap = float(shapely.area(drawn_m).sum() - shapely.area(shapely.union_all(drawn_m)))
    if overlap > _TOLERANCE:
        notes.append(f"the drawn grids overlap on {overlap:.1f} m²")
    gap = float(plan.area.sum() - covered.sum())
    if gap > _TOLERANCE * float(plan.area.sum()):
        notes.append(f"{gap:.1f} m² of the canvas lay in no drawn grid")
    dropped = tuple(c for c in codes.tolist() if c not in set(labels.tolist()))
    notes += [f"grid {c} receives no cell: it holds most of no atom" for c in dropped]
    return RepairResult(cells_out, grids, changes, dropped, tuple(notes))


# -- steps -------------------------------------------------------------------------------------


def _hand_drawn(
    hand_drawn: gpd.GeoDataFrame, code_column: str
) -> tuple[NDArray[np.object_], NDArray[np.object_]]:
    """Sorted codes and one valid (Multi)Polygon per code, lon/lat."""
    if not isinstance(hand_drawn, gpd.GeoDataFrame):
        raise InputError(f"hand_drawn must be a GeoDataFrame, not {type(hand_drawn).__name__}")
    if code_column not in hand_drawn.columns:
        raise InputError(
            f"hand_drawn has no column {code_column!r} (code_column); "
            f"it has {', '.join(map(str, hand_drawn.columns))}"
        )
    if hand_drawn.crs is None:
        raise InputError("hand_drawn has no CRS; set the one it was drawn in (EPSG:4326?)")
    if not pyproj.CRS.from_user_input(hand_drawn.crs).equals(pyproj.CRS.from_epsg(4326)):
        hand_drawn = hand_drawn.to_crs(4326)
    empty = hand_drawn[code_column].isna() | (hand_drawn[code_column].astype(str).str.strip() == "")
    if empty.any():
        raise InputError(f"hand_drawn: no {code_column} in rows {hand_drawn.index[empty].tolist()}")
    geoms = shapely.make_valid(np.asarray(hand_drawn.geometry.array))
    by_code: dict[str, list[Any]] = {}
    for key, geom in zip(hand_drawn[code_column].astype(str), geoms, strict=True):
        parts = shapely.get_parts(geom) if geom is not None else np.array([], dtype=object)
        by_code.setdefault(key, []).extend(parts[shapely.get_type_id(parts) == 3].tolist())
    codes = np.array(sorted(by_code), dtype=object)
    drawn = np.array(
        [shapely.union_all(np.array(by_code[c], dtype=object)) for c in codes], dtype=object
    )
    return codes, drawn


def _pieces(
    cells: NDArray[np.object_], drawn: NDArray[np.object_]
) -> tuple[NDArray[np.int64], NDArray[np.int64], NDArray[np.float64]]:
    """(cell, code, area) for every cell and drawn grid overlapping with more than noise."""
    cell, code = shapely.STRtree(drawn).query(cells, predicate="intersects")
    area = shapely.area(shapely.intersection(cells[cell], drawn[code]))
    keep = area > _TOLERANCE * shapely.area(cells[cell])
    return cell[keep].astype(np.int64), code[keep].astype(np.int64), area[keep]


def _home_community(
    plan: Plan,
    cell: NDArray[np.int64],
    code: NDArray[np.int64],
    part: NDArray[np.float64],
    codes: NDArray[np.object_],
    notes: list[str],
) -> NDArray[np.object_]:
    """The community of each drawn grid: where most of its area on the canvas lies."""
    table = pd.DataFrame({"code": code, "community": plan.community[cell], "area": part})
    summed = table.groupby(["code", "community"], sort=True)["area"].sum().reset_index()
    summed = summed.sort_values(["code", "area"], ascending=[True, False], kind="stable")
    home = np.full(len(codes), None, dtype=object)
    for (c, community, area), first in zip(
        summed[["code", "community", "area"]].itertuples(index=False),
        ~summed["code"].duplicated().to_numpy(),
        strict=True,
    ):
        if first:
            home[c] = community
        else:
            notes.append(
                f"grid {codes[c]} reaches {area:.1f} m² into community {community}; a grid "
                f"belongs to one community, so it is kept in {home[c]} only"
            )
    return home


def _covered(plan: Plan, drawn: NDArray[np.object_], home: NDArray[np.object_]) -> NDArray[Any]:
    """Area of each cell that some drawn grid of its own community covers."""
    out = np.zeros(len(plan.area))
    for community in np.unique(plan.community):
        mine = drawn[home == community]
        if not len(mine):
            continue
        union = shapely.union_all(mine)
        shapely.prepare(union)
        where = np.flatnonzero(plan.community == community)
        hit = where[shapely.intersects(union, plan.projected[where])]
        out[hit] = shapely.area(shapely.intersection(plan.projected[hit], union))
    return np.minimum(out, plan.area)


def _exclusive(drawn: NDArray[np.object_]) -> NDArray[np.object_]:
    """Each drawn grid minus the others: where the drawing gives a place to it alone."""
    left, right = shapely.STRtree(drawn).query(drawn, predicate="intersects")
    out = drawn.copy()
    for i in range(len(drawn)):
        others = right[(left == i) & (right != i)]
        if len(others):
            out[i] = shapely.difference(drawn[i], shapely.union_all(drawn[others]))
    return out


def _outside_notes(plan: Plan, drawn: NDArray[np.object_], codes: NDArray[np.object_]) -> list[str]:
    canvas = shapely.coverage_union_all(plan.projected)
    outside = shapely.area(shapely.difference(drawn, canvas))
    return [
        f"grid {c}: {a:.1f} m² lie outside the canvas and are dropped"
        for c, a, total in zip(codes, outside, shapely.area(drawn), strict=True)
        if a > _TOLERANCE * max(total, 1.0)
    ]


def _majority(
    plan: Plan,
    cell: NDArray[np.int64],
    code: NDArray[np.int64],
    part: NDArray[np.float64],
    covered: NDArray[np.float64],
    codes: NDArray[np.object_],
) -> tuple[NDArray[np.object_], NDArray[np.bool_]]:
    """Each cell's label ("" for an atom mostly in no grid) and whether its atom is such."""
    n_atoms = len(plan.atom_ids)
    table = pd.DataFrame({"atom": plan.atom[cell], "code": code, "area": part})
    summed = table.groupby(["atom", "code"], sort=True)["area"].sum().reset_index()
    best = summed.sort_values(["atom", "area", "code"], ascending=[True, False, True])
    best = best.drop_duplicates("atom")
    winner = np.full(n_atoms, -1, dtype=np.int64)
    held = np.zeros(n_atoms)
    winner[best["atom"].to_numpy()] = best["code"].to_numpy()
    held[best["atom"].to_numpy()] = best["area"].to_numpy()
    uncovered = np.bincount(plan.atom, weights=plan.area - covered, minlength=n_atoms)
    gap = (winner < 0) | (uncovered > held)
    labels = np.where(gap, "", codes[np.maximum(winner, 0)]).astype(object)[plan.atom]
    return labels, gap[plan.atom]


def _fill_gaps(plan: Plan, labels: NDArray[np.object_]) -> None:
    """Give unlabelled atoms the neighbouring grid with the longest shared boundary, outside in."""
    left, right, shared = plan.adjacency.left, plan.adjacency.right, plan.adjacency.shared
    community = plan.community
    while (labels == "").any():
        pending = labels == ""
        rows = []
        for inner, outer in ((left, right), (right, left)):
            ok = pending[inner] & ~pending[outer] & (community[outer] == community[inner])
            rows.append(
                pd.DataFrame(
                    {"atom": plan.atom[inner[ok]], "grid": labels[outer[ok]], "shared": shared[ok]}
                )
            )
        table = pd.concat(rows).groupby(["atom", "grid"], sort=True)["shared"].sum()
        if table.empty:
            stuck = sorted(set(community[pending]))
            raise InputError(
                f"community {', '.join(stuck)}: no drawn grid reaches these cells "
                f"({', '.join(map(str, plan.cells.index[pending][:10]))}…), nothing to fill from"
            )
        best = table.reset_index().sort_values(
            ["atom", "shared", "grid"], ascending=[True, False, True], kind="stable"
        )
        best = best.drop_duplicates("atom")
        take = pd.Series(best["grid"].to_numpy(), index=best["atom"].to_numpy())
        moving = pending & np.isin(plan.atom, take.index.to_numpy())
        labels[moving] = take.reindex(plan.atom[moving]).to_numpy()


def _reconnect(plan: Plan, labels: NDArray[np.object_], notes: list[str]) -> NDArray[np.bool_]:
    """Move every detached piece of a grid to the neighbour it shares most boundary with.

    A grid keeps its largest piece (by area). The smallest detached piece moves first, one at a
    time: a piece joins a grid it touches, so the number of pieces falls at every move.
    """
    moved = np.zeros(len(labels), dtype=bool)
    stuck: set[int] = set()
    while True:
        comp = plan.components(labels)
        table = pd.DataFrame(
            {"comp": comp, "grid": labels, "area": plan.area, "first": np.arange(len(labels))}
        )
        pieces = table.groupby("comp").agg(
            grid=("grid", "first"), area=("area", "sum"), first=("first", "min")
        )
        pieces = pieces.sort_values(["grid", "area", "first"], ascending=[True, False, True])
        detached = pieces[pieces["grid"].duplicated() & ~pieces["first"].isin(stuck)]
        if detached.empty:
            return moved
        pick = detached.sort_values(["area", "grid", "first"], kind="stable").iloc[0]
        piece = comp == pick.name
        code = str(pick["grid"])
        community = plan.community[piece][0]
        options = {
            g: length
            for g, length in plan.shared_with(piece, labels).items()
            if g != code and plan.community[labels == g][0] == community
        }
        if not options:
            stuck.add(int(pick["first"]))
            shown = ", ".join(map(str, plan.cells.index[piece][:10]))
            notes.append(
                f"grid {code}: a detached piece (cells {shown}) touches no other grid and stays"
            )
            continue
        labels[piece] = min(options, key=lambda g: (-options[g], g))
        moved |= piece


def _changes(
    plan: Plan,
    labels: NDArray[np.object_],
    pieces: tuple[NDArray[np.int64], NDArray[np.int64], NDArray[np.float64], NDArray[np.bool_]],
    covered: NDArray[np.float64],
    exclusive: NDArray[np.object_],
    codes: NDArray[np.object_],
    gap_filled: NDArray[np.bool_],
    reconnected: NDArray[np.bool_],
) -> pd.DataFrame:
    cell, code, part, valid = pieces
    n = len(labels)
    noise = _TOLERANCE * plan.area
    position = {c: i for i, c in enumerate(codes.tolist())}
    to = np.array([position.get(label, -1) for label in labels.tolist()], dtype=np.int64)
    alone = np.zeros(n)
    has = to >= 0
    alone[has] = shapely.area(shapely.intersection(plan.projected[has], exclusive[to[has]]))
    changed_area = np.maximum(plan.area - alone, 0.0)
    drawn_sum = np.bincount(cell[valid], weights=part[valid], minlength=n)
    overlap = drawn_sum - covered > noise
    partly_gap = plan.area - covered > noise
    reason = np.where(
        reconnected,
        "reconnected",
        np.where(
            gap_filled,
            "gap_filled",
            np.where(overlap, "overlap_resolved", np.where(partly_gap, "gap_filled", "majority")),
        ),
    )
    listed = reconnected | gap_filled | (changed_area > noise)
    order = np.lexsort((-part, cell))
    overlapping: dict[int, list[str]] = {}
    for c, k in zip(cell[order].tolist(), code[order].tolist(), strict=True):
        overlapping.setdefault(c, []).append(str(codes[k]))
    rows = np.flatnonzero(listed).tolist()
    return pd.DataFrame(
        {
            "cell_id": plan.cells.index[rows].to_numpy(dtype=object),
            "atom_id": plan.atom_ids[plan.atom[rows]],
            "from": [",".join(overlapping[r]) if r in overlapping else None for r in rows],
            "to": labels[rows],
            "reason": reason[rows].astype(object),
            "area_m2": changed_area[rows],
        },
        columns=_CHANGE_COLUMNS,
    )
