"""Sharing parts out among the pieces of a graph, and explaining the parts out of band.

Private to :mod:`gridmap.engine.partition.solve`: units above the maximum become parts of their
own, the rest of the graph falls into connected pieces (parts never span two), and each piece
gets its number of parts by weight.
"""

from __future__ import annotations

from collections.abc import Collection

import numpy as np
from numpy.typing import NDArray

from gridmap.engine.graph import Adjacency
from gridmap.engine.partition.build import components

__all__ = ["Plan", "allocate", "explain"]

Floats = NDArray[np.float64]
Ints = NDArray[np.int64]
Plan = list[tuple[Ints, int]]  # the units of each piece to partition, and its number of parts


def allocate(
    w: Floats, adj: Adjacency, n_parts: int, target: float, tolerance: float, notes: list[str]
) -> Plan:
    """[(units, k)]: the pieces to partition, each with its number of parts.

    Units above the maximum are parts of their own; the rest of the graph falls into connected
    pieces, which share the remaining parts by weight (D'Hondt: the next part goes to the
    piece with the most weight per part), at least one each. A piece left without a part (more
    pieces than parts) joins the oversize unit it touches, or else makes an extra part.
    ``notes`` gets what was done.

    Examples
    --------
    Four units in a row and an island, in three parts: the row gets two, the island one.

    >>> adj = Adjacency(5, np.array([0, 1, 2]), np.array([1, 2, 3]), np.ones(3))
    >>> notes = []
    >>> [(units.tolist(), k) for units, k in allocate(np.array([1, 1, 1, 1, 2.0]), adj, 3,
    ...                                               2.0, 0.2, notes)]
    [([0, 1, 2, 3], 2), ([4], 1)]
    >>> notes[0][:44]
    'the graph has 2 separate pieces; parts never'
    """
    high = target * (1 + tolerance)
    over = np.flatnonzero(w > high)
    if len(over):
        shown = ", ".join(f"unit {u} ({w[u]:,.0f})" for u in over[:10])
        more = f" and {len(over) - 10} more" if len(over) > 10 else ""
        notes.append(
            f"{len(over)} unit(s) weigh more than the maximum {high:,.0f} and are parts of "
            f"their own: {shown}{more}"
        )
    rest = np.ones(adj.n, dtype=bool)
    rest[over] = False
    both = rest[adj.left] & rest[adj.right]
    piece_of = np.where(rest, components(adj.n, adj.left[both], adj.right[both]), -1)
    if len(over):  # renumber the pieces of the other units 0, 1, … in order of first unit
        _, piece_of[rest] = np.unique(piece_of[rest], return_inverse=True)
    n_pieces = int(piece_of.max()) + 1 if rest.any() else 0
    whole = piece_of if not len(over) else components(adj.n, adj.left, adj.right)
    if whole.max() > 0:
        notes.append(
            f"the graph has {int(whole.max()) + 1} separate pieces; parts never span two, so "
            "each piece gets its own parts, by weight, at least one"
        )
    order = np.argsort(piece_of, kind="stable")
    order = order[piece_of[order] >= 0]  # the units of piece 0, then of piece 1…, each sorted
    members = np.split(order, np.searchsorted(piece_of[order], np.arange(1, n_pieces)))
    weight = np.bincount(piece_of[order], weights=w[order], minlength=n_pieces)
    joined: dict[int, list[int]] = {}  # oversize unit → pieces merged into its part
    spare = n_parts - len(over)
    if spare < n_pieces:
        touch = _touching_oversize(adj, piece_of, over)
        for c in np.argsort(weight, kind="stable"):
            if spare >= n_pieces - sum(len(v) for v in joined.values()):
                break
            if c in touch:
                joined.setdefault(touch[c], []).append(int(c))
    merged = {c for cs in joined.values() for c in cs}
    own = [c for c in range(n_pieces) if c not in merged]
    count = dict.fromkeys(own, 1)
    for _ in range(max(spare - len(own), 0)):
        room = [c for c in own if count[c] < len(members[c])]
        c = max(room, key=lambda c: (weight[c] / count[c], -c))
        count[c] += 1
    made = len(over) + len(own)
    if made > n_parts:
        notes.append(
            f"{made} parts made instead of n_parts={n_parts}: the graph has more separate "
            "pieces (and oversize units) than parts"
        )
    plan: list[tuple[NDArray[np.int64], int]] = []
    for u in over:
        units = np.concatenate([[u], *(members[c] for c in joined.get(int(u), []))])
        plan.append((np.sort(units).astype(np.int64), 1))
    plan.extend((members[c], count[c]) for c in own)
    if len(plan) > 1:
        shown = "; ".join(
            f"{len(u)} unit(s) weighing {w[u].sum():,.0f} → {k}" for u, k in plan[:12]
        )
        more = f"; and {len(plan) - 12} more" if len(plan) > 12 else ""
        notes.append(f"parts per piece: {shown}{more}")
    return plan


def _touching_oversize(adj: Adjacency, piece_of: Ints, over: Ints) -> dict[int, int]:
    """For each piece touching an oversize unit, the one it shares most boundary with."""
    is_over = np.zeros(adj.n, dtype=bool)
    is_over[over] = True
    best: dict[int, tuple[float, int]] = {}
    for a, b, s in zip(adj.left.tolist(), adj.right.tolist(), adj.shared.tolist(), strict=True):
        for unit, other in ((a, b), (b, a)):
            if is_over[unit] and not is_over[other]:
                c = int(piece_of[other])
                if c not in best or s > best[c][0]:
                    best[c] = (s, unit)
    return {c: u for c, (_, u) in best.items()}


def explain(
    labels: Ints,
    weight: Floats,
    in_band: NDArray[np.bool_],
    w: Floats,
    target: float,
    tolerance: float,
    plan: Plan,
    no_band: Collection[int] = (),
    lightest_neighbour: Floats | None = None,
) -> list[str]:
    """One sentence per part out of band (``no_band``: pieces, by index in ``plan``, where
    every arrangement was tried and none has all its parts in band; ``lightest_neighbour``:
    per unit, the weight of its lightest neighbour, for units that no arrangement can put in
    band: below the minimum alone, above the maximum with any neighbour)."""
    low, high = target * (1 - tolerance), target * (1 + tolerance)
    stranded = np.zeros(len(w), dtype=bool)
    if lightest_neighbour is not None:
        stranded = (w < low) & (w + lightest_neighbour > high)
    piece_parts = {}
    for index, (units, k) in enumerate(plan):
        for p in np.unique(labels[units]).tolist():
            piece_parts[p] = (units, k, index)
    out = []
    for p in np.flatnonzero(~in_band).tolist():
        units = np.flatnonzero(labels == p)
        side = "above the maximum" if weight[p] > high else "below the minimum"
        bound = high if weight[p] > high else low
        head = f"part {p}: weight {weight[p]:,.0f} is {side} {bound:,.0f}"
        heaviest = units[np.argmax(w[units])]
        piece_units, k, index = piece_parts[p]
        piece_weight = w[piece_units].sum()
        if w[heaviest] > high:
            why = f"a single unit ({heaviest}) of {w[heaviest]:,.0f} exceeds the maximum"
        elif stranded[units].any():
            u = units[np.argmax(stranded[units])]
            why = (
                f"unit {u} weighs {w[u]:,.0f}, below the minimum, and with any of its "
                f"neighbours above the maximum: no arrangement puts its part in band"
            )
        elif low <= piece_weight / k <= high and index in no_band:
            why = (
                f"none of the contiguous arrangements of its {len(piece_units)} units into {k} "
                "parts has every part within the band (all were tried)"
            )
        elif low <= piece_weight / k <= high:
            why = "no contiguous arrangement within the band was found around it"
        elif k == 1 and len(plan) > 1:
            why = f"it is a separate piece of the graph, weighing {piece_weight:,.0f}"
        elif len(plan) > 1:
            why = (
                f"its piece of the graph weighs {piece_weight:,.0f} for {k} parts "
                f"({piece_weight / k:,.0f} each)"
            )
        else:
            why = f"the total {piece_weight:,.0f} makes {piece_weight / k:,.0f} per part"
        out.append(f"{head}: {why}")
    return out
