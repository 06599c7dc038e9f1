"""The canvas of one community: atoms, and the cells that tile the community, one atom each.

A plan is an assignment of cells to grids (see docs/DESIGN, "the plan is an assignment of
cells"). The canvas is laid once per community:

- atoms: each compound and social unit (and each unit of kind "other") is one atom; scattered
  buildings are grouped by proximity, never across a main road (rules in
  :mod:`gridmap.engine.canvas.atoms`);
- cells: a tessellation of the community minus the excluded gaps (a river, say) in which every
  cell is one Polygon owned by one atom, no cell border runs through a footprint, and empty land
  goes to the nearest atom (method in :mod:`gridmap.engine.canvas.cells`). An atom has one cell
  per connected part of its land; large empty land is not cut further.

Everything is computed in a metric CRS and converted to EPSG:4326 at the end, vertex by vertex,
so edges shared in metres stay shared in degrees.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
import shapely
from numpy.typing import NDArray

from gridmap.crs import metric_crs, transformer
from gridmap.engine.canvas.atoms import AtomSet, make_atoms
from gridmap.engine.canvas.cells import merge_small_parts, relabel, territory_parts
from gridmap.engine.canvas.inputs import Inputs, read_inputs
from gridmap.engine.graph import Adjacency, adjacency

__all__ = ["ATOM_KINDS", "Canvas", "build_canvas"]

ATOM_KINDS = ("compound", "social_unit", "other_unit", "cluster", "empty")
_LONLAT = pyproj.CRS.from_epsg(4326)


@dataclass(frozen=True, eq=False)
class Canvas:
    """The canvas of one community (geometries in EPSG:4326).

    Attributes
    ----------
    community_code : str
    atoms : GeoDataFrame
        Index ``atom_id`` ("A0001"…); columns kind (one of :data:`ATOM_KINDS`), unit_id,
        name, one column per weight (e.g. residents, households), n_buildings, and geometry:
        the atom's footprint on the canvas (the unit polygon with its buildings, or the union of
        a cluster's footprints; points are buffered), clipped to the community.
    cells : GeoDataFrame
        Index ``cell_id`` ("<community_code>-C0001"…); columns atom_id, the weights, area_m2,
        geometry (Polygon). A building's weight lies on the cell holding most of its
        footprint (always a cell of its own atom), so the other cells of an atom weigh 0.
    building_atom, building_cell : Series
        Every building given, by id: its atom_id and cell_id, None when it is not on the canvas
        (listed in ``report["outside"]``, ``report["in_excluded"]`` or
        ``report["no_geometry"]``).
    excluded : GeoDataFrame
        The gaps cut out of the canvas (their part inside the community), with area_m2.
    adjacency : Adjacency
        Neighbouring cells (by position in ``cells``), shared boundary lengths in metres.
    metric : pyproj.CRS
        The CRS the canvas was computed in.
    report : dict
        JSON-serializable. Counts: area_m2 (of the canvas), n_buildings,
        n_buildings_on_canvas, n_units, n_atoms, atoms_by_kind, n_cells, small_parts_merged.
        Decisions, by id: outside, in_excluded, no_geometry (buildings off the canvas),
        units_outside, unit_not_on_canvas (building → the unit_id it names), adopted
        (building → unit), split_clusters, merged_atoms, heavy_atoms (above the cap),
        missing_weights (per column); and warnings, in words.
    """

    community_code: str
    atoms: gpd.GeoDataFrame
    cells: gpd.GeoDataFrame
    building_atom: pd.Series
    building_cell: pd.Series
    excluded: gpd.GeoDataFrame
    adjacency: Adjacency
    metric: pyproj.CRS
    report: dict[str, Any]


def build_canvas(
    community_code: str,
    community: shapely.Polygon | shapely.MultiPolygon,
    buildings: gpd.GeoDataFrame,
    units: gpd.GeoDataFrame,
    *,
    roads: gpd.GeoDataFrame | None = None,
    gaps: gpd.GeoSeries | None = None,
    metric: pyproj.CRS | int | str | None = None,
    cluster_distance_m: float = 30.0,
    main_road_classes: Sequence[str] = ("motorway", "trunk", "primary", "secondary"),
    weight_columns: Sequence[str] = ("residents", "households"),
    max_atom_weight: float = 3600.0,
    max_cluster_weight: float | None = None,
    min_part_area_m2: float = 1000.0,
    point_radius_m: float = 3.0,
    seed: int = 0,
) -> Canvas:
    """Lay the canvas of one community: its atoms and the cells that tile it.

    Parameters
    ----------
    community_code : str
        The community's 12-digit code; cell ids are ``f"{community_code}-C0001"``….
    community : Polygon or MultiPolygon
        The community, lon/lat (EPSG:4326).
    buildings : GeoDataFrame
        Buildings (polygons or points) with an ``id`` column (else the index is the id), an
        optional ``unit_id`` and the ``weight_columns``; missing weights count 0 (reported).
        Buildings lying mostly outside the community, or mostly in an excluded gap, are left
        out of the canvas and listed in the report.
    units : GeoDataFrame
        Compounds, social units and other units (``id``, ``kind``, ``name``). Units lying mostly
        outside the community are left out (listed in ``report["units_outside"]``); their
        buildings inside it count as scattered.
    roads : GeoDataFrame, optional
        Road centre lines with a ``class`` column; classes in ``main_road_classes`` are main
        roads, which scattered buildings are never grouped across: two footprints are not
        linked when the segment between their nearest points crosses a main road line.
    gaps : GeoSeries, optional
        Areas allowed to lie in no cell (a river, say): cut out of the canvas, reported in
        ``Canvas.excluded``.
    metric : pyproj.CRS, EPSG code or None
        The metric CRS; None picks :func:`gridmap.crs.metric_crs` of the community.
    cluster_distance_m : float
        Scattered footprints closer than this are grouped (single linkage).
    main_road_classes : sequence of str
        Road classes that scattered clusters never cross.
    weight_columns : sequence of str
        Building columns summed per atom and cell; the first is the weight that
        ``max_atom_weight`` caps.
    max_atom_weight : float
        The most one grid may hold: atoms heavier than this are reported (``heavy_atoms``);
        units are never split here, only reported (:mod:`~gridmap.engine.canvas.split_units`
        splits them before).
    max_cluster_weight : float, optional
        A cluster of scattered buildings heavier than this is split by k-means on building
        centroids until every part is under it (or a single building). Default
        ``max_atom_weight``; the partition passes about half the band's width, so that grids
        can be balanced from such atoms.
    min_part_area_m2 : float
        An atom's detached territory part smaller than this, holding no footprint, goes to the
        neighbouring cell it shares the most boundary with.
    point_radius_m : float
        Buildings given as points (or lines) get a footprint of this radius.
    seed : int
        Seed of the k-means split.

    GeoDataFrames without a CRS are taken to be EPSG:4326, gridmap's storage CRS.

    Returns
    -------
    Canvas

    Raises
    ------
    InputError
        No community polygon, duplicate building or unit ids, an unknown unit kind, or a
        missing weight or id column.

    Examples
    --------
    A compound with two towers, and two houses 100 m apart on either side of it:

    >>> import geopandas as gpd
    >>> from shapely import box, Point
    >>> d = 1e-5  # about a metre
    >>> community = box(106.55, 29.55, 106.55 + 300 * d, 29.55 + 200 * d)
    >>> units = gpd.GeoDataFrame({"id": ["U1"], "kind": ["compound"], "name": ["渝兴湾"]},
    ...     geometry=[box(106.551, 29.5505, 106.552, 29.5515)], crs=4326)
    >>> buildings = gpd.GeoDataFrame({
    ...     "id": ["B1", "B2", "B3", "B4"], "unit_id": ["U1", "U1", None, None],
    ...     "residents": [300, 200, 5, 4], "households": [110, 70, 2, 2]},
    ...     geometry=[box(106.5512, 29.5507, 106.5514, 29.5509),
    ...               box(106.5516, 29.5507, 106.5518, 29.5509),
    ...               Point(106.5502, 29.5510), Point(106.5528, 29.5510)], crs=4326)
    >>> canvas = build_canvas("500108003001", community, buildings, units)
    >>> canvas.atoms[["kind", "unit_id", "residents", "n_buildings"]].to_numpy().tolist()
    [['compound', 'U1', 500, 2], ['cluster', None, 5, 1], ['cluster', None, 4, 1]]
    >>> canvas.building_atom.tolist()
    ['A0001', 'A0001', 'A0002', 'A0003']
    >>> canvas.cells.index[0], bool(shapely.coverage_is_valid(canvas.cells.geometry.values))
    ('500108003001-C0001', True)
    >>> print(round(canvas.cells["area_m2"].sum() / canvas.report["area_m2"], 9))
    1.0
    """
    data = read_inputs(
        community,
        buildings,
        units,
        roads=roads,
        gaps=gaps,
        metric=metric if metric is not None else metric_crs(shapely.bounds(community)),
        main_road_classes=main_road_classes,
        weight_columns=weight_columns,
        point_radius_m=point_radius_m,
    )
    on = data.on_canvas
    weights = data.weights[:, on]
    atoms = make_atoms(
        data.footprints[on],
        data.unit_of_building[on],
        weights[0] if len(weights) else np.zeros(int(on.sum())),
        data.units,
        data.unit_kind,
        data.unit_ids,
        data.unit_names,
        data.main_roads,
        cluster_distance=cluster_distance_m,
        max_weight=max_atom_weight if max_cluster_weight is None else max_cluster_weight,
        seed=seed,
    )
    if not atoms.kind:  # no building and no unit: the whole community is one empty atom
        atoms = AtomSet(["empty"], [None], [None], np.array([shapely.Polygon()]), atoms.of_building)
    cells, cell_atom, adj, merged = _cells(data.region, atoms, min_part_area_m2)
    building_cell = _cell_of_buildings(data.footprints[on], atoms.of_building, cells, cell_atom)

    atom_ids = np.array([f"A{k + 1:04d}" for k in range(len(atoms.kind))], dtype=object)
    cell_ids = np.array([f"{community_code}-C{k + 1:04d}" for k in range(len(cells))], dtype=object)
    atom_index = pd.Index(atom_ids, name="atom_id")
    atom_columns: dict[str, Any] = {
        "kind": pd.Series(atoms.kind, index=atom_index, dtype=object),
        "unit_id": pd.Series(atoms.unit_id, index=atom_index, dtype=object),
        "name": pd.Series(atoms.name, index=atom_index, dtype=object),
    }
    cell_columns: dict[str, Any] = {"atom_id": atom_ids[cell_atom]}
    for column, values in zip(data.weight_columns, weights, strict=True):
        atom_columns[column] = _sums(atoms.of_building, values, len(atom_ids))
        cell_columns[column] = _sums(building_cell, values, len(cells))
    atom_columns["n_buildings"] = np.bincount(atoms.of_building, minlength=len(atom_ids))
    cell_columns["area_m2"] = shapely.area(cells)
    to_lonlat = _lonlat(data.metric)
    atom_frame = _frame(atom_columns, to_lonlat(atoms.footprint), atom_index)
    return Canvas(
        community_code=community_code,
        atoms=atom_frame,
        cells=_frame(cell_columns, to_lonlat(cells), pd.Index(cell_ids, name="cell_id")),
        building_atom=_by_building(data, atom_ids[atoms.of_building], "atom_id"),
        building_cell=_by_building(data, cell_ids[building_cell], "cell_id"),
        excluded=_frame(
            {"area_m2": shapely.area(data.excluded)},
            to_lonlat(data.excluded),
            data.excluded_index,
        ),
        adjacency=adj,
        metric=data.metric,
        report=_report(
            data,
            atoms,
            atom_ids,
            atom_frame,
            len(cells),
            merged,
            max_atom_weight,
            max_atom_weight if max_cluster_weight is None else max_cluster_weight,
        ),
    )


def _cells(
    region: shapely.Geometry, atoms: AtomSet, min_part_area_m2: float
) -> tuple[NDArray[np.object_], NDArray[np.int64], Adjacency, int]:
    """Cells in order (by atom; the cell holding footprint first; then by area) and adjacency."""
    if atoms.kind == ["empty"]:
        cells = shapely.get_parts(region)
        cell_atom, holds = np.zeros(len(cells), np.int64), np.zeros(len(cells), bool)
        adj, merged = adjacency(cells), 0
    else:
        parts, part_atom, has_fp = territory_parts(region, atoms.footprint)
        cells, cell_atom, holds, adj, merged = merge_small_parts(
            parts, part_atom, has_fp, min_part_area_m2
        )
    order = np.lexsort((-shapely.area(cells), ~holds, cell_atom))
    return cells[order], cell_atom[order], relabel(adj, np.argsort(order), len(cells)), merged


def _frame(
    columns: dict[str, Any], geometry: NDArray[np.object_], index: pd.Index
) -> gpd.GeoDataFrame:
    """A GeoDataFrame in EPSG:4326 of ``columns`` and a last column "geometry".

    The geometry goes in with the other columns, a GeoSeries with its CRS: GeoPandas then
    only takes it as the frame's geometry, much faster than ``geometry=`` and ``crs=``.
    """
    columns = {**columns, "geometry": gpd.GeoSeries(geometry, index=index, crs=_LONLAT)}
    return gpd.GeoDataFrame(pd.DataFrame(columns, index=index), geometry="geometry")


def _by_building(data: Inputs, values: NDArray[np.object_], name: str) -> pd.Series:
    """A value for every building given: ``values`` for those on the canvas, else None."""
    out = np.full(len(data.building_ids), None, dtype=object)
    out[data.on_canvas] = values
    return pd.Series(out, index=data.building_ids, dtype=object, name=name)


def _cell_of_buildings(
    footprints: NDArray[np.object_],
    building_atom: NDArray[np.int64],
    cells: NDArray[np.object_],
    cell_atom: NDArray[np.int64],
) -> NDArray[np.int64]:
    """The cell of its own atom holding most of each footprint."""
    out = np.zeros(len(footprints), dtype=np.int64)
    if not len(footprints):
        return out
    # a footprint always lies in its own atom's cells; the first cell of the atom is the
    # fallback for one reduced to nothing by rounding, and the answer for an atom of one cell
    out[:] = np.searchsorted(cell_atom, building_atom)
    n_cells = np.bincount(cell_atom, minlength=int(building_atom.max()) + 1)
    ask, among = np.flatnonzero(n_cells[building_atom] > 1), np.flatnonzero(n_cells[cell_atom] > 1)
    if not len(ask):
        return out
    b, c = shapely.STRtree(cells[among]).query(footprints[ask], predicate="intersects")
    b, c = ask[b], among[c]
    same = cell_atom[c] == building_atom[b]
    b, c = b[same], c[same]
    # only a footprint touching several cells of its atom needs the areas of its overlaps
    several = np.bincount(b, minlength=len(footprints))[b] > 1
    area = np.zeros(len(b))
    area[several] = shapely.area(shapely.intersection(footprints[b[several]], cells[c[several]]))
    order = np.lexsort((c, -area, b))
    b, c = b[order], c[order]
    first = np.unique(b, return_index=True)[1]
    out[b[first]] = c[first]
    return out


def _sums(group: NDArray[np.int64], values: NDArray[np.float64], n: int) -> NDArray[np.int64]:
    return np.rint(np.bincount(group, weights=values, minlength=n)).astype(np.int64)


def _lonlat(metric: pyproj.CRS):  # type: ignore[no-untyped-def]
    """Geometries from ``metric`` to EPSG:4326; equal vertices stay equal (shared edges)."""
    to_lonlat = transformer(metric, _LONLAT)

    def convert(geoms: NDArray[np.object_]) -> NDArray[np.object_]:
        def apply(x: NDArray[np.float64], y: NDArray[np.float64]) -> Any:
            return to_lonlat.transform(x, y)

        return shapely.transform(np.asarray(geoms, dtype=object), apply, interleaved=False)

    return convert


def _report(
    data: Inputs,
    atoms: AtomSet,
    atom_ids: NDArray[np.object_],
    atom_frame: pd.DataFrame,
    n_cells: int,
    merged_parts: int,
    max_atom_weight: float,
    max_cluster_weight: float,
) -> dict[str, Any]:
    """Counts, and every decision the canvas made about the input, by id."""
    on_ids = data.building_ids[data.on_canvas]
    notes, kind = atoms.notes, atoms.kind
    atom_of = atom_ids[atoms.of_building] if len(atoms.of_building) else atom_ids[:0]
    primary = data.weight_columns[0] if data.weight_columns else None
    heavy = atom_frame.index[atom_frame[primary] > max_atom_weight].tolist() if primary else []
    report: dict[str, Any] = {
        **data.notes,
        "area_m2": float(shapely.area(data.region)),
        "n_buildings": len(data.building_ids),
        "n_buildings_on_canvas": int(data.on_canvas.sum()),
        "n_units": len(data.units),
        "n_atoms": len(kind),
        "atoms_by_kind": {k: kind.count(k) for k in ATOM_KINDS if k in kind},
        "n_cells": n_cells,
        "adopted": {str(on_ids[b]): data.unit_ids[u] for b, u in notes.get("adopted", [])},
        "split_clusters": [
            {"buildings": len(members), "parts": parts, "atom_ids": sorted(set(atom_of[members]))}
            for members, parts in notes.get("split", [])
        ],
        "merged_atoms": [
            {"atom_id": atom_ids[m["atom"]], "units": m["units"], "clusters": m["clusters"]}
            for m in notes.get("merged", [])
        ],
        "heavy_atoms": heavy,
        "small_parts_merged": int(merged_parts),
    }
    warnings = list(data.notes.get("warnings", []))
    if report["adopted"]:
        warnings.append(
            f"{len(report['adopted'])} building(s) without unit_id overlap a unit polygon and "
            "were given to that unit"
        )
    for split in report["split_clusters"]:
        warnings.append(
            f"a cluster of {split['buildings']} scattered buildings weighed more than "
            f"{max_cluster_weight:g} and was split by k-means into {split['parts']} atoms"
        )
    for merged in report["merged_atoms"]:
        warnings.append(
            f"footprints overlap, so these became one atom ({merged['atom_id']}): units "
            f"{', '.join(merged['units']) or 'none'} and {merged['clusters']} cluster(s)"
        )
    if heavy:
        warnings.append(f"atoms heavier than {max_atom_weight:g}: {', '.join(heavy)}")
    report["warnings"] = warnings
    return report
