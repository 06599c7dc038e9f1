"""The compactness polish: it raises Polsby-Popper, keeps every part connected and in band."""

from __future__ import annotations

import numpy as np
import shapely

from gridmap.engine.graph import adjacency, connected_parts
from gridmap.engine.partition.polish import polish
from gridmap.engine.partition.solve import _piece


def pp(labels, adj, areas, perimeters):  # type: ignore[no-untyped-def]
    k = int(labels.max()) + 1
    inside = labels[adj.left] == labels[adj.right]
    per = np.bincount(labels, weights=perimeters, minlength=k) - 2 * np.bincount(
        labels[adj.left[inside]], weights=adj.shared[inside], minlength=k
    )
    return 4 * np.pi * np.bincount(labels, weights=areas, minlength=k) / per**2


def test_polish_draws_a_finger_back_within_the_band() -> None:
    # a 12 × 12 grid of unit squares in four quadrants of 36, part 0 with a finger of three
    # squares into part 1: the polish, free within ±20% of 36, rounds the parts again and
    # leaves every part connected and in band
    side = 12
    cells = np.array([shapely.box(i, j, i + 1, j + 1) for j in range(side) for i in range(side)])
    adj = adjacency(cells)
    n = len(cells)
    x, y = np.arange(n) % side, np.arange(n) // side
    labels = (x >= 6).astype(int) + 2 * (y >= 6).astype(int)
    labels[(y == 2) & (x >= 6) & (x < 9)] = 0  # the finger
    weights, areas, perimeters = np.ones(n), np.ones(n), np.full(n, 4.0)
    piece = _piece(
        np.arange(n),
        adj,
        weights,
        np.c_[x, y].astype(float),
        areas,
        perimeters,
        np.ones(len(adj.left)),
    )
    before = pp(labels, adj, areas, perimeters)
    out = polish(piece, labels, 4, 36.0, 0.2 * 36)
    after = pp(out, adj, areas, perimeters)
    assert after.sum() > before.sum() + 0.05
    assert after.min() > before.min()
    w = np.bincount(out, weights=weights, minlength=4)
    assert (np.abs(w - 36) <= 0.2 * 36).all()
    for q in range(4):
        assert connected_parts(adj, out == q).max() == 0
