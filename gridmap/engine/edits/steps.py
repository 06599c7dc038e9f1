"""Steps of the edits: the result, the sides of a split, atoms a reshape sends away, sentences.

Private helpers of :mod:`gridmap.engine.edits`, which re-exports :class:`EditResult`. Nothing
here raises ``EditRefused``: what would refuse an edit comes back as a (reason, message) problem.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from numpy.typing import NDArray

from gridmap.engine.edits.diff import PlanDiff, diff_plans
from gridmap.engine.edits.geometry import left_share
from gridmap.engine.edits.plan import AtomGraph, Plan, Problem
from gridmap.engine.partition.solve import PartitionResult, partition_graph
from gridmap.errors import InputError

__all__ = [
    "EditResult",
    "as_polygon",
    "assemble",
    "atom_sentence",
    "auto_sides",
    "line_sides",
    "listed",
    "partition_atoms",
    "records",
    "send_away",
    "shown",
]


@dataclass(frozen=True, eq=False)
class EditResult:
    """A new plan revision and what changed.

    Attributes
    ----------
    cells : GeoDataFrame
        The new assignment (same cells, same columns; ``grid`` changed).
    grids : GeoDataFrame
        :func:`gridmap.engine.plan.dissolve_grids` of the cells, with ``compactness``
        (Polsby-Popper, metric).
    diff : PlanDiff
    crosswalk : DataFrame
        old_code, new_code, residents (every pair, unchanged ones included).
    changed : list of str
        One sentence per change.
    """

    cells: gpd.GeoDataFrame
    grids: gpd.GeoDataFrame
    diff: PlanDiff
    crosswalk: pd.DataFrame
    changed: list[str]

    def to_dict(self) -> dict[str, Any]:
        """JSON-serializable summary (without geometries)."""
        table = pd.DataFrame(self.grids.drop(columns="geometry"))
        return {
            "changed": list(self.changed),
            "diff": self.diff.to_dict(),
            "crosswalk": records(self.crosswalk),
            "grids": records(table),
        }


def assemble(
    plan: Plan,
    labels: NDArray[np.object_],
    scheme: str,
    describe: Callable[[dict[Any, str]], list[str]],
) -> EditResult:
    """The edit's result: new codes (stable_codes), grids, diff, and sentences for the codes."""
    cells, grids, walk, code_of = plan.finish(labels, scheme=scheme)
    changed = list(describe(code_of))
    old, new = set(plan.grid.tolist()), set(grids["code"].tolist())
    for label, code in sorted(code_of.items(), key=lambda kv: kv[1]):
        if label in old and code != label:
            changed.append(f"grid {label} continues as {code}")
    changed += [f"new grid {c}" for c in sorted(new - old)]
    changed += [f"code {c} retired" for c in sorted(old - new)]
    return EditResult(cells, grids, diff_plans(plan.cells, cells), walk, changed)


def auto_sides(
    plan: Plan,
    members: NDArray[np.bool_],
    code: str,
    seed: int,
    weight: str,
    tolerance: float,
    time_budget_s: float | None,
) -> tuple[NDArray[np.int64], tuple[str, str], list[str]]:
    graph = plan.atom_graph(members, weight)
    total = float(graph.weights.sum())
    result = partition_atoms(
        graph, 2, total / 2 if total > 0 else 1.0, tolerance, seed, time_budget_s
    )
    side = np.asarray(result.labels, dtype=np.int64)[graph.unit]
    names = (f"the first part of grid {code}", f"the second part of grid {code}")
    return side, names, [str(n) for n in result.notes]


def line_sides(
    plan: Plan, members: NDArray[np.bool_], code: str, line: Any
) -> tuple[NDArray[np.int64] | None, tuple[str, str]]:
    """Side (0 left, 1 right) of each ``members`` cell: its atom's side by majority of area.

    Returns the sides and their names, or None and the problem.
    """
    if not isinstance(line, shapely.LineString) or line.is_empty:
        raise InputError(f"line must be a shapely LineString, not {type(line).__name__}")
    _check_lonlat(line, "line")
    where = np.flatnonzero(members)
    share, problem = left_share(
        shapely.transform(line, plan.metric, interleaved=False), plan.projected[where]
    )
    if share is None:
        assert problem is not None
        return None, problem
    unit = plan.atom[where]
    area = plan.area[where]
    n = len(plan.atom_ids)
    left = np.bincount(unit, weights=share * area, minlength=n)
    whole = np.bincount(unit, weights=area, minlength=n)
    side = np.where(left[unit] > 0.5 * whole[unit], 0, 1).astype(np.int64)
    return side, (
        f"the part of grid {code} left of the line",
        f"the part of grid {code} right of the line",
    )


def send_away(
    plan: Plan, labels: NDArray[np.object_], leaving: NDArray[np.bool_], code: str
) -> list[str] | Problem:
    """Give the ``leaving`` atoms to neighbouring grids, from the outside in; labels in place.

    Each round, every leaving atom touching another grid of its community goes to the one it
    shares the longest boundary with (ties: the smallest code). Returns the receiving grids,
    or the problem when some atoms touch no other grid.
    """
    pending = leaving.copy()
    community = plan.community
    left, right, shared = plan.adjacency.left, plan.adjacency.right, plan.adjacency.shared
    receivers: set[str] = set()
    while pending.any():
        rows = []
        for inner, outer in ((left, right), (right, left)):
            ok = pending[inner] & ~pending[outer] & (labels[outer] != code)
            ok &= community[outer] == community[inner]
            rows.append(
                pd.DataFrame(
                    {"atom": plan.atom[inner[ok]], "grid": labels[outer[ok]], "shared": shared[ok]}
                )
            )
        table = pd.concat(rows).groupby(["atom", "grid"], sort=True)["shared"].sum()
        if table.empty:
            stuck = np.unique(plan.atom[pending])
            return (
                "no_neighbour",
                f"atom(s) {shown(plan.atom_ids[stuck])} would leave grid {code} "
                "but touch no other grid of the community",
            )
        best = table.reset_index().sort_values(
            ["atom", "shared", "grid"], ascending=[True, False, True], kind="stable"
        )
        best = best.drop_duplicates("atom")
        for atom, grid in zip(best["atom"], best["grid"], strict=True):
            moving = pending & (plan.atom == atom)
            labels[moving] = grid
            pending[moving] = False
            receivers.add(str(grid))
    return sorted(receivers)


def partition_atoms(
    graph: AtomGraph,
    k: int,
    target: float,
    tolerance: float,
    seed: int,
    time_budget_s: float | None,
) -> PartitionResult:
    return partition_graph(
        graph.weights,
        graph.adjacency,
        k,
        centroids=graph.centroids,
        areas=graph.areas,
        perimeters=graph.perimeters,
        target=target,
        tolerance=tolerance,
        seed=seed,
        time_budget_s=time_budget_s,
    )


def atom_sentence(plan: Plan, atom: int, what: str, inside: float | None = None) -> str:
    mask = plan.atom == atom
    n = int(mask.sum())
    people = int(plan.residents[mask].sum())
    homes = pd.to_numeric(plan.cells["households"], errors="coerce").fillna(0).to_numpy()[mask]
    share = "" if inside is None else f", {inside:.0%} inside the polygon"
    return (
        f"atom {plan.atom_ids[atom]} ({n} cell{'s' if n > 1 else ''}, {people} residents, "
        f"{int(homes.sum())} households{share}) {what}"
    )


def as_polygon(polygon: Any) -> shapely.Geometry:
    if not isinstance(polygon, shapely.Polygon | shapely.MultiPolygon) or polygon.is_empty:
        raise InputError(f"polygon must be a shapely (Multi)Polygon, not {polygon!r:.80}")
    _check_lonlat(polygon, "polygon")
    fixed = shapely.make_valid(polygon)
    parts = shapely.get_parts(fixed)
    return shapely.union_all(parts[shapely.get_type_id(parts) == 3])


def _check_lonlat(geom: shapely.Geometry, name: str) -> None:
    x0, y0, x1, y1 = shapely.bounds(geom)
    if not (-180 <= x0 <= x1 <= 180 and -90 <= y0 <= y1 <= 90):
        raise InputError(
            f"{name} must be in lon/lat (EPSG:4326); its bounds are "
            f"({x0:g}, {y0:g}, {x1:g}, {y1:g})"
        )


def listed(values: Iterable[Any], name: str) -> list[Any]:
    if isinstance(values, str):
        return [values]
    try:
        return list(values)
    except TypeError:
        raise InputError(f"{name} must be a list, not {values!r:.80}") from None


def shown(values: Iterable[Any], limit: int = 10) -> str:
    items = [str(v) for v in values]
    more = f" and {len(items) - limit} more" if len(items) > limit else ""
    return ", ".join(items[:limit]) + more


def records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    out = frame.astype(object).where(frame.notna(), None)
    return [
        {k: (v.item() if isinstance(v, np.generic) else v) for k, v in row.items()}
        for row in out.to_dict(orient="records")
    ]
