"""Small hand-made plan data for the contract suite (also imported by its child processes)."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from gridmap.engine.plan import dissolve_grids
from gridmap.store.contract import Store

C1, C2 = "500108003002", "500108003004"  # two communities of 南坪街道
X0, Y0, STEP = 106.56, 29.52, 0.001


def cells_of(community: str = C1, n: int = 6, x0: float = X0) -> gpd.GeoDataFrame:
    """``n`` square cells in a row, the first half in grid 001, the rest in grid 002."""
    xs = x0 + STEP * np.arange(n)
    return gpd.GeoDataFrame(
        {
            "community_code": [community] * n,
            "atom_id": [f"{community}-A{i}" for i in range(n)],
            "grid": [f"{community}00{1 + (i >= n // 2)}" for i in range(n)],
            "residents": [500 + i for i in range(n)],
            "households": [200 + i for i in range(n)],
        },
        geometry=shapely.box(xs, Y0, xs + STEP, Y0 + STEP),
        crs=4326,
        index=pd.Index([f"{community}-C{i:04d}" for i in range(n)], name="cell_id"),
    )


def make_plan(store: Store, community: str = C1, actor: str = "alice", n: int = 6) -> str:
    """A draft plan of ``community`` (revision 1) in ``store``; returns its id."""
    cells = cells_of(community, n)
    made = store.create_plan(
        cells, grids_of(cells), name=f"plan of {community}", params={"target": 3000}, actor=actor
    )
    return made.plan_id


def grids_of(cells: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """The grids dissolved from ``cells``, with a compactness column."""
    grids = dissolve_grids(cells)
    grids["compactness"] = 0.5
    return grids


def moved(cells: gpd.GeoDataFrame, cell: str, grid: str) -> gpd.GeoDataFrame:
    """``cells`` with one cell given to another grid."""
    out = cells.copy()
    out.loc[cell, "grid"] = grid
    return out


def lattice(n: int, community: str = C1, stripes: int = 10) -> tuple[gpd.GeoDataFrame, ...]:
    """A big plan quickly: ``n`` cells on a square lattice, grids = vertical stripes (boxes)."""
    side = int(np.ceil(np.sqrt(n)))
    i = np.arange(side * side)
    col, row = i % side, i // side
    step = STEP / 10
    xs, ys = X0 + col * step, Y0 + row * step
    per = int(np.ceil(side / stripes))
    grid_no = col // per
    codes = np.array([f"{community}{g + 1:03d}" for g in range(stripes)], dtype=object)
    cells = gpd.GeoDataFrame(
        {
            "community_code": community,
            "atom_id": [f"A{k}" for k in i],
            "grid": codes[grid_no],
            "residents": 1,
            "households": 1,
        },
        geometry=shapely.box(xs, ys, xs + step, ys + step),
        crs=4326,
        index=pd.Index([f"{community}-C{k:07d}" for k in i], name="cell_id"),
    )
    used = np.unique(grid_no)
    x_lo = X0 + used * per * step
    x_hi = X0 + np.minimum((used + 1) * per, side) * step
    counts = np.bincount(grid_no)[used]
    grids = gpd.GeoDataFrame(
        {
            "code": codes[used],
            "community_code": community,
            "residents": counts,
            "households": counts,
            "cells": counts,
            "compactness": 0.5,
        },
        geometry=shapely.box(x_lo, Y0, x_hi, Y0 + side * step),
        crs=4326,
    )
    return cells, grids
