"""The plan as the edits see it: cells, their metric shapes, neighbours, atoms; and the checks.

Private helpers of :mod:`gridmap.engine.edits` and :mod:`gridmap.engine.repair`. The checks
return problems as ``(reason, message)`` pairs; the public functions decide what to raise.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
import shapely
from numpy.typing import NDArray
from scipy import sparse
from scipy.sparse import csgraph

from gridmap.crs import metric_crs
from gridmap.engine.graph import Adjacency, adjacency, connected_parts
from gridmap.engine.gridcodes import crosswalk, stable_codes
from gridmap.engine.plan import CELL_COLUMNS, dissolve_grids, grid_table
from gridmap.errors import InputError

__all__ = [
    "REQUIRED",
    "AtomGraph",
    "Metric",
    "Plan",
    "Problem",
    "load_plan",
    "metric_function",
]

REQUIRED = CELL_COLUMNS

Metric = int | str | pyproj.CRS | Callable[..., tuple[Any, Any]] | None
Problem = tuple[str, str]  # (reason word, sentence)

# Stable codes weigh cells by residents; a tiny share of area on top decides between cells of
# equal residents (a grid of empty land keeps its code too) without ever outweighing a person.
_AREA_TIEBREAK = 1e-6


def metric_function(metric: Metric, cells: gpd.GeoDataFrame) -> Callable[..., tuple[Any, Any]]:
    """(lon, lat) arrays → (x, y) metres: ``metric`` as a callable, a CRS, an EPSG code or None.

    None takes the UTM zone of the cells (:func:`gridmap.crs.metric_crs`).
    """
    if callable(metric):
        return metric
    if metric is None:
        crs = metric_crs(cells)
    elif isinstance(metric, int):
        crs = metric_crs(None, epsg=metric)
    else:
        crs = pyproj.CRS.from_user_input(metric)
        if not crs.is_projected or crs.axis_info[0].unit_name != "metre":
            raise InputError(f"metric={metric!r} is not a projected CRS in metres")
    transformer = pyproj.Transformer.from_crs(4326, crs, always_xy=True)
    return lambda x, y: transformer.transform(x, y)


@dataclass(frozen=True)
class AtomGraph:
    """The atoms of some cells as units for :func:`partition_graph` (metres)."""

    cells: NDArray[np.int64]  # positions of the cells taken
    unit: NDArray[np.int64]  # unit (0…n-1) of each of those cells
    adjacency: Adjacency
    weights: NDArray[np.float64]
    areas: NDArray[np.float64]
    perimeters: NDArray[np.float64]
    centroids: NDArray[np.float64]


@dataclass(frozen=True, eq=False)
class Plan:
    """A plan's cells with everything the edits measure, by cell position."""

    cells: gpd.GeoDataFrame
    metric: Callable[..., tuple[Any, Any]]
    projected: NDArray[np.object_]
    area: NDArray[np.float64]
    adjacency: Adjacency  # shared boundaries, metres
    linked: Adjacency  # the same plus links between cells of one atom (contiguity)
    grid: NDArray[np.object_]
    atom: NDArray[np.int64]  # atom number of each cell: atom ids repeat across communities
    atom_ids: NDArray[np.object_]  # atom_id of each atom number
    atom_community: NDArray[np.object_]  # community of each atom number
    community: NDArray[np.object_]
    residents: NDArray[np.float64]

    # -- lookups -------------------------------------------------------------------------------

    def positions(self, cell_ids: Iterable[Any]) -> tuple[NDArray[np.int64], list[Any]]:
        """Positions of ``cell_ids`` and the ids that are not cells of the plan."""
        ids = list(cell_ids)
        pos = self.cells.index.get_indexer(pd.Index(ids, dtype=object))
        return pos[pos >= 0].astype(np.int64), [i for i, p in zip(ids, pos, strict=True) if p < 0]

    def atom_numbers(self, atom_ids: Iterable[Any]) -> tuple[NDArray[np.int64], list[Any]]:
        """Atom numbers of ``atom_ids`` and the ids that are not atoms of the plan."""
        found: list[int] = []
        unknown: list[Any] = []
        for atom_id in atom_ids:
            numbers = np.flatnonzero(self.atom_ids == str(atom_id))
            if len(numbers) > 1:
                raise InputError(
                    f"atom {atom_id} is in several communities "
                    f"({', '.join(map(str, self.atom_community[numbers]))}); "
                    "edit one community's cells at a time"
                )
            if len(numbers):
                found.append(int(numbers[0]))
            else:
                unknown.append(atom_id)
        return np.array(found, dtype=np.int64), unknown

    def cells_of_atoms(self, atoms: NDArray[np.int64]) -> NDArray[np.bool_]:
        return np.isin(self.atom, atoms)

    def codes(self) -> list[str]:
        return sorted(set(self.grid.tolist()))

    def community_of(self, code: str) -> str:
        return str(self.community[np.flatnonzero(self.grid == code)[0]])

    # -- measures ------------------------------------------------------------------------------

    def pieces(self, labels: NDArray[np.object_], label: Any) -> int:
        """How many connected pieces the cells labelled ``label`` form (atoms count as one)."""
        members = labels == label
        if not members.any():
            return 0
        return int(connected_parts(self.linked, members).max()) + 1

    def components(self, labels: NDArray[np.object_]) -> NDArray[np.int64]:
        """The connected piece of each cell among the cells of its own label (one graph pass)."""
        adj = self.linked
        same = labels[adj.left] == labels[adj.right]
        graph = sparse.csr_matrix(
            (np.ones(int(same.sum())), (adj.left[same], adj.right[same])), shape=(adj.n, adj.n)
        )
        return csgraph.connected_components(graph, directed=False)[1].astype(np.int64)

    def shared_with(
        self, members: NDArray[np.bool_], labels: NDArray[np.object_]
    ) -> dict[Any, float]:
        """Boundary length (m) the ``members`` cells share with each label outside them."""
        left, right, shared = self.adjacency.left, self.adjacency.right, self.adjacency.shared
        out_l = members[left] & ~members[right]
        out_r = members[right] & ~members[left]
        other = np.concatenate([labels[right[out_l]], labels[left[out_r]]])
        length = np.concatenate([shared[out_l], shared[out_r]])
        totals: dict[Any, float] = {}
        for label, value in zip(other.tolist(), length.tolist(), strict=True):
            totals[label] = totals.get(label, 0.0) + value
        return totals

    def problems(
        self,
        labels: NDArray[np.object_],
        touched: Iterable[Any],
        *,
        names: dict[Any, str] | None = None,
        before: dict[Any, int] | None = None,
    ) -> list[Problem]:
        """Grids among ``touched`` that ``labels`` would leave empty or in more pieces.

        A grid may keep the pieces it already had (``before``, default: counted on the plan),
        never gain one.
        """
        names = names or {}
        before = before or {}
        found: list[Problem] = []
        for label in touched:
            name = names.get(label, f"grid {label}")
            count = self.pieces(labels, label)
            if count == 0:
                found.append(("empties", f"{name} would be left empty"))
                continue
            allowed = max(1, before.get(label, self.pieces(self.grid, label)))
            if count > allowed:
                found.append(("disconnects", f"{name} would fall into {count} pieces"))
        return found

    def atom_graph(self, members: NDArray[np.bool_], weight: str) -> AtomGraph:
        """The atoms of the ``members`` cells as a graph: shared lengths summed, metres."""
        cells = np.flatnonzero(members).astype(np.int64)
        atoms, unit = np.unique(self.atom[cells], return_inverse=True)
        n = len(atoms)
        unit_of = np.full(len(self.atom), -1, dtype=np.int64)
        unit_of[cells] = unit
        adj = self.adjacency
        a, b = unit_of[adj.left], unit_of[adj.right]
        both = (a >= 0) & (b >= 0)
        inner = both & (a == b)
        cross = both & (a != b)
        inner_shared = np.bincount(a[inner], weights=adj.shared[inner], minlength=n)
        pairs = pd.DataFrame(
            {
                "lo": np.minimum(a[cross], b[cross]),
                "hi": np.maximum(a[cross], b[cross]),
                "shared": adj.shared[cross],
            }
        )
        summed = pairs.groupby(["lo", "hi"], sort=True)["shared"].sum().reset_index()
        graph = Adjacency(
            n,
            summed["lo"].to_numpy(np.int64),
            summed["hi"].to_numpy(np.int64),
            summed["shared"].to_numpy(np.float64),
        )
        geoms = self.projected[cells]
        area = self.area[cells]
        areas = np.bincount(unit, weights=area, minlength=n)
        perimeters = (
            np.bincount(unit, weights=shapely.length(geoms), minlength=n) - 2 * inner_shared
        )
        centre = shapely.centroid(geoms)
        safe = np.where(areas > 0, areas, 1.0)
        cx = np.bincount(unit, weights=shapely.get_x(centre) * area, minlength=n) / safe
        cy = np.bincount(unit, weights=shapely.get_y(centre) * area, minlength=n) / safe
        values = _numbers(self.cells[weight]).to_numpy()[cells]
        return AtomGraph(
            cells,
            unit.astype(np.int64),
            graph,
            np.bincount(unit, weights=values, minlength=n).astype(np.float64),
            areas.astype(np.float64),
            perimeters.astype(np.float64),
            np.column_stack([cx, cy]).astype(np.float64),
        )

    # -- the new plan --------------------------------------------------------------------------

    def finish(
        self, labels: NDArray[np.object_], *, scheme: str = "db11"
    ) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame, pd.DataFrame, dict[Any, str]]:
        """New cells, grids (with compactness), crosswalk and the code each label takes.

        Codes come from :func:`stable_codes`: a grid holding most of an old grid's residents
        keeps its code, the others take the next free numbers of their community.
        """
        index = self.cells.index
        old = pd.Series(self.grid, index=index, dtype=object)
        new = pd.Series(labels, index=index, dtype=object)
        total_area = float(self.area.sum()) or 1.0
        weights = pd.Series(self.residents + _AREA_TIEBREAK * self.area / total_area, index=index)
        frame = self.cells.copy()
        frame["grid"] = new.to_numpy()
        shapes = dissolve_grids(frame)
        codes = stable_codes(
            old, new, weights, shapes.set_index("code"), scheme=scheme, metric=self.metric
        )
        code_of = {label: str(code) for label, code in codes.items()}
        frame["grid"] = pd.Series(new.map(code_of).to_numpy(), index=index, dtype=object)
        shapes["code"] = shapes["code"].map(code_of).astype(object)
        grids = shapes.sort_values("code", kind="stable").reset_index(drop=True)
        grids["compactness"] = grid_table(grids, self.metric, 1.0)["compactness"].to_numpy()
        moved = pd.Series(self.residents.round().astype(np.int64), index=index)
        walk = crosswalk(old, frame["grid"], moved)
        return frame, grids, walk, code_of


def load_plan(
    cells: gpd.GeoDataFrame, adjacency_: Adjacency | None = None, metric: Metric = None
) -> Plan:
    """Check ``cells`` against the plan's contract and measure them."""
    if not isinstance(cells, gpd.GeoDataFrame):
        raise InputError(f"cells must be a GeoDataFrame, not {type(cells).__name__}")
    missing = [c for c in REQUIRED if c not in cells.columns]
    if missing:
        raise InputError(
            f"cells: missing column(s) {', '.join(missing)}; "
            f"they have {', '.join(map(str, cells.columns))}"
        )
    if len(cells) == 0:
        raise InputError("cells: the plan has no cells")
    if not cells.index.is_unique:
        repeated = cells.index[cells.index.duplicated()].unique().tolist()[:20]
        raise InputError(f"cells: cell ids repeat: {repeated}")
    if cells["grid"].isna().any():
        rows = cells.index[cells["grid"].isna().to_numpy()].tolist()[:20]
        raise InputError(f"cells: no grid for cells {rows}; a plan assigns every cell")
    if cells.crs is None or not pyproj.CRS.from_user_input(cells.crs).is_geographic:
        raise InputError(f"cells must be in EPSG:4326 (lon/lat), not {cells.crs}")
    fn = metric_function(metric, cells)
    projected = shapely.transform(np.asarray(cells.geometry.array), fn, interleaved=False)
    if adjacency_ is None:
        adjacency_ = adjacency(projected)
    elif adjacency_.n != len(cells):
        raise InputError(
            f"adjacency is over {adjacency_.n} polygons but the plan has {len(cells)} cells"
        )
    community = cells["community_code"].astype(str).to_numpy(dtype=object)
    atom_id = cells["atom_id"].astype(str).to_numpy(dtype=object)
    _, first, atom = np.unique(community + "\x1f" + atom_id, return_index=True, return_inverse=True)
    return Plan(
        cells=cells,
        metric=fn,
        projected=projected,
        area=shapely.area(projected),
        adjacency=adjacency_,
        linked=_link_atoms(adjacency_, atom.astype(np.int64)),
        grid=cells["grid"].astype(str).to_numpy(dtype=object),
        atom=atom.astype(np.int64),
        atom_ids=atom_id[first],
        atom_community=community[first],
        community=community,
        residents=_numbers(cells["residents"]).to_numpy(),
    )


def _link_atoms(adj: Adjacency, atom: NDArray[np.int64]) -> Adjacency:
    """``adj`` plus a chain through the cells of each atom: an atom is one piece of a grid."""
    order = np.argsort(atom, kind="stable")
    same = atom[order[1:]] == atom[order[:-1]]
    a, b = order[:-1][same], order[1:][same]
    left = np.concatenate([adj.left, np.minimum(a, b)])
    right = np.concatenate([adj.right, np.maximum(a, b)])
    shared = np.concatenate([adj.shared, np.zeros(len(a))])
    return Adjacency(adj.n, left.astype(np.int64), right.astype(np.int64), shared)


def _numbers(values: pd.Series) -> pd.Series:
    return pd.to_numeric(values, errors="coerce").astype(float).fillna(0.0)
