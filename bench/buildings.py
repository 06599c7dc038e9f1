"""Building-level cases for bench/partition.py: real footprints and a Chongqing tower district.

- Prague (Bubeneč): the 144 real building footprints and the morphological tessellation that
  momepy ships in its wheel (``momepy.datasets.get_path("bubenec")``; nothing is downloaded).
  The data has no heights: every building is taken as 5 floors, one resident per 35 m² of
  floor area (the issue's "area × floors"). Streets are the roads layer (none of them main).
- Chongqing towers: a generated community of 20 blocks on a street grid, most of them closed
  compounds (封闭小区) of 18–33-floor towers, the rest scattered towers and 6–9-floor slabs;
  residents = footprint × floors / 33 m².

Each case is what `gridmap partition` gets (a community polygon, buildings, units, roads, in
lon/lat) plus the building-level graph the peers partition: one cell per building (the
buildings' Voronoi cells), its adjacency, areas and perimeters in metres.
"""

from __future__ import annotations

import math
from typing import Any

import geopandas as gpd
import numpy as np
import pyproj
import shapely

from gridmap.engine.canvas.cells import territory_parts
from gridmap.engine.graph import adjacency

__all__ = ["prague", "towers"]

PRAGUE_FLOORS = 5
PRAGUE_M2_PER_RESIDENT = 35.0
TOWER_M2_PER_RESIDENT = 33.0
PERSONS_PER_HOUSEHOLD = 2.6


def prague() -> dict[str, Any]:
    """Bubeneč, Prague: 144 real footprints (momepy's bundled data), 5 floors each."""
    from momepy import datasets

    path = datasets.get_path("bubenec")
    buildings = gpd.read_file(path, layer="buildings")
    cells = gpd.read_file(path, layer="tessellation").set_index("uID").loc[buildings["uID"]]
    streets = gpd.read_file(path, layer="streets")
    metric = buildings.to_crs(4326).estimate_utm_crs()
    footprints = buildings.to_crs(metric).geometry.values
    residents = np.round(shapely.area(footprints) * PRAGUE_FLOORS / PRAGUE_M2_PER_RESIDENT)
    cell_polys = cells.to_crs(metric).geometry.values
    community = shapely.union_all(cell_polys)
    roads = gpd.GeoDataFrame(
        {"id": [f"S{i}" for i in range(len(streets))], "class": "residential"},
        geometry=streets.to_crs(4326).geometry.values,
        crs=4326,
    )
    return _case(
        "Prague Bubeneč",
        metric,
        community,
        footprints,
        residents,
        [None] * len(footprints),
        _units([], [], metric),
        roads,
        cell_polys,
    )


def towers(seed: int = 0) -> dict[str, Any]:
    """A Chongqing-style community of towers: compounds of 18–33 floors on a street grid."""
    rng = np.random.default_rng(seed)
    metric = pyproj.CRS.from_epsg(32648)  # UTM 48N: Chongqing
    x0, y0 = 660_000.0, 3_270_000.0 + 5_000.0 * seed
    cols, rows, bw, bh, street = 5, 4, 190.0, 150.0, 18.0
    footprints, residents, unit_of, unit_polys, unit_names, lines, classes = (
        [],
        [],
        [],
        [],
        [],
        [],
        [],
    )
    for r in range(rows):
        for c in range(cols):
            bx, by = x0 + c * (bw + street), y0 + r * (bh + street)
            block = shapely.box(bx, by, bx + bw, by + bh)
            compound = rng.random() < 0.7
            uid = f"U{len(unit_polys) + 1:02d}" if compound else None
            if compound:
                unit_polys.append(block.buffer(-4.0))
                unit_names.append(f"小区{len(unit_polys)}")
            for fp, floors in _block_buildings(rng, bx, by, bw, bh, compound):
                footprints.append(fp)
                residents.append(round(fp.area * floors / TOWER_M2_PER_RESIDENT))
                unit_of.append(uid)
    width, height = cols * (bw + street) - street, rows * (bh + street) - street
    for c in range(1, cols):
        x = x0 + c * (bw + street) - street / 2
        lines.append(shapely.LineString([(x, y0 - 10), (x, y0 + height + 10)]))
        classes.append("primary" if c == cols // 2 else "residential")
    for r in range(1, rows):
        y = y0 + r * (bh + street) - street / 2
        lines.append(shapely.LineString([(x0 - 10, y), (x0 + width + 10, y)]))
        classes.append("secondary" if r == rows // 2 else "residential")
    community = shapely.box(x0 - 10, y0 - 10, x0 + width + 10, y0 + height + 10)
    footprints_arr = np.array(footprints, dtype=object)
    to_lonlat = pyproj.Transformer.from_crs(metric, 4326, always_xy=True)
    roads = gpd.GeoDataFrame(
        {"id": [f"R{i}" for i in range(len(lines))], "class": classes},
        geometry=shapely.transform(np.array(lines), to_lonlat.transform, interleaved=False),
        crs=4326,
    )
    parts, owner, _ = territory_parts(community, footprints_arr)
    cell_polys = np.array(
        [shapely.union_all(parts[owner == b]) for b in range(len(footprints))], dtype=object
    )
    return _case(
        f"Chongqing towers (seed {seed})",
        metric,
        community,
        footprints_arr,
        np.array(residents, dtype=float),
        unit_of,
        _units(unit_polys, unit_names, metric),
        roads,
        cell_polys,
    )


def _block_buildings(rng, bx, by, bw, bh, compound):  # type: ignore[no-untyped-def]
    """(footprint, floors) of one block: rows of towers, or scattered towers and slabs."""
    out = []
    if compound:
        n_cols, n_rows = int(rng.integers(2, 5)), int(rng.integers(2, 4))
        for i in range(n_cols):
            for j in range(n_rows):
                w, h = rng.uniform(18, 26), rng.uniform(16, 22)
                cx = bx + (i + 0.5) * bw / n_cols + rng.uniform(-8, 8)
                cy = by + (j + 0.5) * bh / n_rows + rng.uniform(-6, 6)
                angle = rng.uniform(-15, 15)
                fp = shapely.affinity.rotate(
                    shapely.box(cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2), angle
                )
                out.append((fp, int(rng.integers(18, 34))))
        return out
    # scattered: a few towers along the block's edge, and low slabs inside
    for _ in range(int(rng.integers(6, 14))):
        tower = rng.random() < 0.4
        w, h = (rng.uniform(18, 24), rng.uniform(16, 20)) if tower else (rng.uniform(30, 50), 12)
        cx = bx + rng.uniform(w / 2 + 3, bw - w / 2 - 3)
        cy = by + rng.uniform(h / 2 + 3, bh - h / 2 - 3)
        fp = shapely.box(cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2)
        if any(fp.distance(other) < 4 for other, _ in out):
            continue
        out.append((fp, int(rng.integers(18, 34)) if tower else int(rng.integers(6, 10))))
    return out


def _units(polys: list, names: list, metric: pyproj.CRS) -> gpd.GeoDataFrame:  # type: ignore[type-arg]
    frame = gpd.GeoDataFrame(
        {
            "id": [f"U{i + 1:02d}" for i in range(len(polys))],
            "kind": "compound",
            "name": names,
        },
        geometry=list(polys),
        crs=metric,
    )
    return frame.to_crs(4326)


def _case(
    title: str,
    metric: pyproj.CRS,
    community: shapely.Geometry,
    footprints: np.ndarray,
    residents: np.ndarray,
    unit_of: list,  # type: ignore[type-arg]
    units: gpd.GeoDataFrame,
    roads: gpd.GeoDataFrame,
    cells: np.ndarray,
) -> dict[str, Any]:
    """The inputs of `gridmap partition` (lon/lat) and the peers' building-level graph."""
    to_lonlat = pyproj.Transformer.from_crs(metric, 4326, always_xy=True)
    buildings = gpd.GeoDataFrame(
        {
            "id": [f"B{i + 1:04d}" for i in range(len(footprints))],
            "unit_id": unit_of,
            "residents": residents.astype(int),
            "households": np.round(residents / PERSONS_PER_HOUSEHOLD).astype(int),
        },
        geometry=shapely.transform(footprints, to_lonlat.transform, interleaved=False),
        crs=4326,
    )
    adj = adjacency(cells)
    centres = shapely.centroid(cells)
    return {
        "title": title,
        "community": shapely.transform(community, to_lonlat.transform, interleaved=False),
        "buildings": buildings,
        "units": units,
        "roads": roads,
        "metric_epsg": int(metric.to_epsg()),
        "n": len(cells),
        "left": adj.left,
        "right": adj.right,
        "shared": adj.shared,
        "weights": residents.astype(float),
        "xy": np.column_stack([shapely.get_x(centres), shapely.get_y(centres)]),
        "areas": shapely.area(cells),
        "perimeters": shapely.length(cells),
        "cells": cells,
        "unit_of": np.array([u if u is not None else "" for u in unit_of], dtype=object),
        "max_units": math.inf,
    }


def run_gridmap_pipeline(p: dict[str, Any]) -> tuple[np.ndarray, dict[str, Any]]:
    """`gridmap partition` on a building case: each building's grid, and what to report."""
    from gridmap.engine.assign import assign_buildings
    from gridmap.engine.partition.community import partition_community

    result = partition_community(
        "500108000001",
        p["community"],
        p["buildings"],
        p["units"],
        roads=p["roads"],
        target=p["target"],
        tolerance=0.2,
        metric_epsg=p["metric_epsg"],
    )
    cells = result.cells
    grid_of_atom = cells.groupby("atom_id")["grid"].first()
    codes = grid_of_atom[result.building_atom.to_numpy()].to_numpy()
    labels = np.unique(codes, return_inverse=True)[1]
    # a footprint is cut when less than 99% of it lies in its grid (rounding aside)
    placed = assign_buildings(p["buildings"], result.grids)
    cut = int((placed["share"] < 0.99).sum())
    single = shapely.get_num_geometries(result.grids.geometry.values) == 1
    return labels, {
        "buildings_cut": cut,
        "grid_pp": float(result.grids["compactness"].mean()),
        # gridmap's grids are unions of its own cells, not of the buildings' Voronoi cells:
        # whether each is one piece is read from its polygon
        "single_part": single.tolist(),
    }


def compounds_cut(p: dict[str, Any], labels: np.ndarray, maximum: float) -> tuple[int, int]:
    """(compounds under ``maximum`` in more than one part, compounds under ``maximum``)."""
    unit_of = p["unit_of"]
    cut = whole = 0
    for uid in sorted(set(unit_of) - {""}):
        members = unit_of == uid
        if p["weights"][members].sum() > maximum:
            continue
        whole += 1
        cut += len(np.unique(labels[members])) > 1
    return cut, whole
