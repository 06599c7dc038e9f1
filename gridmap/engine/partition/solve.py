"""Balanced, contiguous, compact partition of a graph of units (atoms' cells) into grids.

:func:`partition_graph` is the tool; :func:`n_parts_for` says how many grids a total makes.
The search itself lives in :mod:`gridmap.engine.partition.build` (k-means++ seeds and a
balanced power diagram, made contiguous), :mod:`gridmap.engine.partition.search` (the score,
single moves, flow along the parts' graph, ejection chains, exchanges) and
:mod:`gridmap.engine.partition.improve` (straight re-splits of neighbouring parts, and the
schedule). Every step keeps every part connected.
"""

from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from gridmap.engine.graph import Adjacency
from gridmap.engine.partition.build import Piece, components, first_plan
from gridmap.engine.partition.exact import EXACT_MAX_UNITS, ExactResult, exact_partition
from gridmap.engine.partition.improve import improve
from gridmap.engine.partition.pieces import Plan, allocate, explain
from gridmap.engine.partition.polish import polish
from gridmap.engine.partition.regions import rearrange_regions
from gridmap.engine.partition.search import INNER_BAND, Search
from gridmap.errors import InputError

__all__ = ["PartitionResult", "n_parts_for", "partition_graph"]

Floats = NDArray[np.float64]
Ints = NDArray[np.int64]


@dataclass(frozen=True)
class PartitionResult:
    """A partition of units into parts, and how good it is.

    Attributes
    ----------
    labels
        Part of each unit, 0..n_parts-1 (more when the graph has more separate pieces, or more
        oversize units, than parts: see ``notes``).
    part_weights
        Total weight of each part.
    in_band
        Whether each part's weight lies within ``target ± tolerance·target``.
    contiguous
        Whether each part is one connected piece (always true; checked, not assumed).
    compactness
        Polsby-Popper (4π·area/perimeter²) of each part, from the units' areas and the part's
        external boundary: the units' perimeters less twice the lengths shared inside it.
    iterations
        Units moved by the local search, over all starts.
    notes
        Why parts lie out of band, and what was done about pieces and oversize units.
    target, tolerance
        The band the parts were balanced to.
    """

    labels: NDArray[np.int64]
    part_weights: NDArray[np.float64]
    in_band: NDArray[np.bool_]
    contiguous: NDArray[np.bool_]
    compactness: NDArray[np.float64]
    iterations: int
    notes: list[str]
    target: float
    tolerance: float

    @property
    def n_parts(self) -> int:
        """Number of parts."""
        return len(self.part_weights)

    def to_dict(self) -> dict[str, object]:
        """Plain Python values (lists, floats), ready for JSON."""
        return {
            key: value.tolist() if isinstance(value, np.ndarray) else value
            for key, value in asdict(self).items()
        }


def n_parts_for(total: float, target: float, tolerance: float | None = None) -> int:
    """How many parts of about ``target`` a ``total`` makes: ``max(1, round(total/target))``.

    With ``tolerance``, when that count puts the mean part outside ``target ± tolerance`` but
    another count would put it inside, the count whose mean is nearest the target: 7,380
    residents make three grids of 2,460 rather than two of 3,690 (above 3,600). Between
    3,600 and 4,800 no count works, and the rounded one stands.

    Examples
    --------
    >>> n_parts_for(10_400, 3000), n_parts_for(1200, 3000), n_parts_for(0, 3000)
    (3, 1, 1)
    >>> n_parts_for(7380, 3000), n_parts_for(7380, 3000, 0.2), n_parts_for(4400, 3000, 0.2)
    (2, 3, 1)
    """
    if not target > 0:
        raise InputError(f"target must be positive, not {target!r}")
    rounded = max(1, round(total / target))
    if tolerance is None or abs(total / rounded - target) <= tolerance * target:
        return rounded
    fewest = max(1, math.ceil(total / (target * (1 + tolerance))))
    most = math.floor(total / (target * (1 - tolerance))) if tolerance < 1 else fewest
    if fewest > most:
        return rounded
    return min(range(fewest, most + 1), key=lambda k: (abs(total / k - target), k))


def partition_graph(
    weights: ArrayLike,
    adj: Adjacency,
    n_parts: int,
    *,
    centroids: ArrayLike,
    areas: ArrayLike,
    perimeters: ArrayLike | None = None,
    target: float | None = None,
    tolerance: float = 0.2,
    seed: int = 0,
    time_budget_s: float | None = None,
    edge_cost: ArrayLike | None = None,
    inner_band: float = INNER_BAND,
    polish_band: float | None = None,
) -> PartitionResult:
    """Partition the units of ``adj`` into ``n_parts`` contiguous, balanced, compact parts.

    Every part is non-empty and connected; parts never span separate pieces of the graph (the
    parts are shared out among pieces by weight, at least one each). A unit heavier than
    ``target·(1 + tolerance)`` is a part of its own. Otherwise each part is brought within
    ``target ± tolerance·target`` whenever the units allow it and, within that, within
    ``inner_band`` of the tolerance of its piece's mean weight (by default half: ±10% for
    ±20%), while its Polsby-Popper
    (boundaries priced by ``edge_cost``) is kept as high as that allows.

    The search: k-means++ seeds and a power diagram whose offsets balance the weights (compact,
    roughly balanced), made contiguous; then single moves, moves along the least-squares flow
    between parts, ejection chains and exchanges of boundary units, and straight re-splits of
    neighbouring parts, each kept only if it lowers the score and leaves every part connected.

    Parameters
    ----------
    weights
        Weight of each unit (residents, households…), ≥ 0.
    adj
        Adjacency of the units, with shared boundary lengths (metres).
    n_parts
        Number of parts wanted (:func:`n_parts_for` gives it from a target).
    centroids
        (n, 2) unit centroids in a metric CRS.
    areas
        Unit areas (m²).
    perimeters
        Unit perimeters (m); default: the sum of each unit's shared lengths, at least the
        perimeter of a circle of its area.
    target
        Target weight of a part (default: total weight / n_parts).
    tolerance
        Half-width of the band, as a fraction of ``target``.
    seed
        Seed of ``numpy.random.default_rng``; the same inputs and seed give the same labels.
    time_budget_s
        Wall-clock budget. Without it, one start (deterministic); with it, starts from further
        seeds while time remains, the best kept (the result then depends on the machine).
    edge_cost
        Price of each adjacency edge per metre of shared boundary (default 1): e.g. 0.2 where
        a road runs, so that boundaries follow roads.
    inner_band
        Half-width of the inner band around the mean, as a fraction of ``tolerance``: inside
        it shape decides, beyond it balance. Smaller is more even, larger more compact
        (0.2: ±4% for ±20%, nearly all parts within ±5%; 1: compact within the whole band).
    polish_band
        How far from the target, as a fraction of ``tolerance``, the compactness polish may
        move a part (default ``inner_band``; 1: the whole band). The polish, the last pass,
        moves and swaps boundary units wherever that raises the parts' Polsby-Popper on
        their true perimeters; without a time budget the search makes several starts, each
        polished, and keeps the plan with fewest parts out of band, then the most compact.

    Returns
    -------
    PartitionResult

    Raises
    ------
    InputError
        Arrays of the wrong shape, negative or non-finite values, ``n_parts`` < 1 or above
        the number of units.

    Examples
    --------
    Six unit squares in a row, each of weight 1, in three parts:

    >>> import shapely
    >>> from gridmap.engine.graph import adjacency
    >>> boxes = np.array([shapely.box(i, 0, i + 1, 1) for i in range(6)])
    >>> result = partition_graph(
    ...     np.ones(6), adjacency(boxes), 3,
    ...     centroids=np.c_[np.arange(6) + 0.5, np.full(6, 0.5)], areas=np.ones(6),
    ...     perimeters=np.full(6, 4.0))
    >>> result.labels.tolist(), result.part_weights.tolist(), result.in_band.all()
    ([0, 0, 1, 1, 2, 2], [2.0, 2.0, 2.0], np.True_)
    >>> result.compactness.round(3).tolist()
    [0.698, 0.698, 0.698]
    """
    started = time.perf_counter()
    w, xy, area, perim, cost = _checked(
        weights, adj, n_parts, centroids, areas, perimeters, edge_cost, tolerance
    )
    if not (math.isfinite(inner_band) and 0 <= inner_band <= 1):
        raise InputError(f"inner_band must be between 0 and 1, not {inner_band!r}")
    polish_band = inner_band if polish_band is None else polish_band
    if not (math.isfinite(polish_band) and 0 <= polish_band <= 1):
        raise InputError(f"polish_band must be between 0 and 1, not {polish_band!r}")
    total = float(w.sum())
    target = total / n_parts if target is None else float(target)
    if not (math.isfinite(target) and (target > 0 or total <= 0 <= target)):
        raise InputError(f"target must be a finite number > 0, not {target!r}")
    notes: list[str] = []
    balance = w
    if total <= 0:
        balance = area
        notes.append("all weights are zero: parts are balanced by area instead")
    aim = target if total > 0 else float(area.sum()) / n_parts
    aim = aim if aim > 0 else 1.0
    plan = allocate(balance, adj, n_parts, aim, tolerance if total > 0 else math.inf, notes)
    labels = np.full(adj.n, -1, dtype=np.int64)
    next_label = 0
    iterations = 0
    no_band: set[int] = set()  # pieces proven to have no arrangement with every part in band
    work = sum(len(units) for units, k in plan if 1 < k < len(units))  # units left to search
    pcost = _priced_perimeters(adj, perim, cost) if work else perim
    for index, (units, k) in enumerate(plan):
        if k == 1 or k == len(units):
            labels[units] = next_label + (np.arange(len(units)) if k > 1 else 0)
        else:
            budget = None
            if time_budget_s is not None:  # the time left, shared by the units left
                spent = time.perf_counter() - started
                budget = max(time_budget_s - spent, 0.0) * len(units) / work
                work -= len(units)
            piece = _piece(units, adj, balance, xy, area, pcost, cost)
            true_piece = _piece(units, adj, balance, xy, area, perim, np.ones(len(adj.left)))
            local, moves, proven = _best_of_starts(
                piece, true_piece, k, aim, tolerance, seed, index, budget, inner_band, polish_band
            )
            labels[units] = next_label + local
            iterations += moves
            if proven:
                no_band.add(index)
        next_label += k
    return _result(labels, w, adj, area, perim, target, tolerance, iterations, notes, plan, no_band)


# --- inputs -------------------------------------------------------------------------------------


def _checked(
    weights: ArrayLike,
    adj: Adjacency,
    n_parts: int,
    centroids: ArrayLike,
    areas: ArrayLike,
    perimeters: ArrayLike | None,
    edge_cost: ArrayLike | None,
    tolerance: float,
) -> tuple[Floats, Floats, Floats, Floats, Floats]:
    """The inputs as float arrays, or an InputError that says what came in."""
    n = adj.n

    def vector(name: str, value: ArrayLike, size: int) -> NDArray[np.float64]:
        arr = np.asarray(value, dtype=np.float64)
        if arr.shape != (size,):
            raise InputError(f"{name} must have shape ({size},), not {arr.shape}")
        bad = ~np.isfinite(arr) | (arr < 0)
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise InputError(
                f"{name} must be finite and ≥ 0; {int(bad.sum())} value(s) are not, "
                f"the first at position {i}: {float(arr[i])!r}"
            )
        return arr

    if isinstance(n_parts, bool) or not isinstance(n_parts, int | np.integer):
        raise InputError(f"n_parts must be an integer, not {n_parts!r}")
    if n == 0:
        raise InputError("the graph has no units")
    if not 1 <= n_parts <= n:
        raise InputError(f"n_parts must be between 1 and the number of units ({n}), not {n_parts}")
    if not (math.isfinite(tolerance) and tolerance >= 0):
        raise InputError(f"tolerance must be a finite number ≥ 0, not {tolerance!r}")
    w = vector("weights", weights, n)
    area = vector("areas", areas, n)
    xy = np.asarray(centroids, dtype=np.float64)
    if xy.shape != (n, 2) or not np.isfinite(xy).all():
        raise InputError(f"centroids must be finite with shape ({n}, 2), not {xy.shape}")
    m = len(adj.left)
    cost = np.ones(m) if edge_cost is None else vector("edge_cost", edge_cost, m)
    if perimeters is None:
        touching = np.bincount(adj.left, adj.shared, n) + np.bincount(adj.right, adj.shared, n)
        perim = np.maximum(touching, 2 * np.sqrt(np.pi * area))
    else:
        perim = vector("perimeters", perimeters, n)
    return w, xy, area, perim, cost


def _priced_perimeters(adj: Adjacency, perim: Floats, cost: Floats) -> Floats:
    """Each unit's perimeter with the stretches it shares priced by their cost (outside: 1)."""
    n = adj.n
    touching = np.bincount(adj.left, adj.shared, n) + np.bincount(adj.right, adj.shared, n)
    priced = np.bincount(adj.left, adj.shared * cost, n) + np.bincount(
        adj.right, adj.shared * cost, n
    )
    return np.maximum(perim - touching, 0.0) + priced


def _piece(
    units: Ints, adj: Adjacency, w: Floats, xy: Floats, area: Floats, pcost: Floats, cost: Floats
) -> Piece:
    """The sub-graph on ``units`` (sorted) in local numbering."""
    local = np.full(adj.n, -1, dtype=np.int64)
    local[units] = np.arange(len(units))
    keep = (local[adj.left] >= 0) & (local[adj.right] >= 0)
    a, b = local[adj.left[keep]], local[adj.right[keep]]
    priced = adj.shared[keep] * cost[keep]
    src, dst = np.concatenate([a, b]), np.concatenate([b, a])
    price = np.concatenate([priced, priced])
    order = np.lexsort((dst, src))
    src, dst, price = src[order], dst[order], price[order]
    indptr = np.concatenate([[0], np.cumsum(np.bincount(src, minlength=len(units)))])
    return Piece(
        indptr.astype(np.int64),
        dst.astype(np.int64),
        price,
        w[units],
        xy[units],
        area[units],
        pcost[units],
    )


# Starts of the search without a time budget, each polished, the best kept: on Prague's real
# footprints at a target of 1,000 the mean Polsby-Popper over canvas seeds 0-5 went from
# 0.66 ± 0.04 (one start, no polish) to 0.72 ± 0.00 (bench/README.md); the search is a small
# share of a community's time (the canvas is most of it).
POLISHED_STARTS = 8
_POLISHED_UNITS = 600  # fewer starts on larger pieces: at most about this many units searched
_SEED_STEP = 7919  # seeds of later starts: apart from the seeds callers pass (0, 1, 2, ...)

# --- search --------------------------------------------------------------------------------------

# Without a time budget one start: further starts from other seeds change little (the search
# converges to similar plans) and would double the time. With a budget, starts go on while
# time remains, up to this many:
_MAX_STARTS = 32


@dataclass
class _Memo:
    """What the starts on one piece share: the search depends on the piece, not the start.

    ``exact``: the exhaustive searches' results (within the band or not); ``solved``: what
    :func:`_solve` made of each first plan without a budget (small pieces often give several
    seeds the same first plan; the search from it is deterministic); ``splits``: the straight
    re-splits of each union of two parts (:data:`~gridmap.engine.partition.search.Search.splits`).
    """

    exact: dict[bool, ExactResult] = field(default_factory=dict)
    solved: dict[bytes, tuple[Ints, int, bool]] = field(default_factory=dict)
    splits: dict[tuple[int, ...], Any] = field(default_factory=dict)


def _solve(
    piece: Piece,
    k: int,
    target: float,
    tolerance: float,
    seed: int,
    index: int,
    budget: float | None,
    inner: float = INNER_BAND,
    memo: _Memo | None = None,
) -> tuple[Ints, int, bool]:
    """Best labels of several starts on one piece, the moves made, and whether no arrangement
    has every part in band (proven by trying them all).

    A small piece (up to EXACT_MAX_UNITS units) where the local search left a part out of band
    is also searched exhaustively, within a budget; its best arrangement replaces the local
    search's when it scores better. The exhaustive search depends on the piece alone, not on
    the start: ``memo`` keeps its results for the next start on the same piece, with what
    else the starts can share (:class:`_Memo`).
    """
    memo = _Memo() if memo is None else memo
    if budget is None:
        plan = first_plan(piece, k, target, np.random.default_rng([seed, index, 0]))
        key = plan.tobytes()
        if key in memo.solved:
            return memo.solved[key]
        search = Search(piece, plan, k, target, tolerance, inner)
        search.splits = memo.splits
        improve(search)
        out = _finish(
            piece,
            k,
            target,
            tolerance,
            inner,
            (search.score(), search.labels()),
            search.moves,
            memo.exact,
        )
        memo.solved[key] = out
        return out
    started = time.perf_counter()
    best: tuple[float, NDArray[np.int64]] | None = None
    moves = 0
    for start in range(_MAX_STARTS):
        elapsed = time.perf_counter() - started
        if start > 0 and elapsed * (start + 1) / start > budget:
            break
        rng = np.random.default_rng([seed, index, start])
        search = Search(piece, first_plan(piece, k, target, rng), k, target, tolerance, inner)
        search.splits = memo.splits
        search.deadline = started + budget
        improve(search)
        moves += search.moves
        score = search.score()
        if best is None or score < best[0]:
            best = (score, search.labels())
    assert best is not None
    return _finish(piece, k, target, tolerance, inner, best, moves, memo.exact)


def _finish(
    piece: Piece,
    k: int,
    target: float,
    tolerance: float,
    inner: float,
    best: tuple[float, Ints],
    moves: int,
    memo: dict[bool, ExactResult],
) -> tuple[Ints, int, bool]:
    """:func:`_solve`'s best start, or the exhaustive search's arrangement where better."""
    labels = best[1]
    weights = np.bincount(labels, weights=piece.weights, minlength=k)
    if (np.abs(weights - target) <= tolerance * target).all():
        return labels, moves, False
    if piece.n > EXACT_MAX_UNITS:  # too large to search whole: search around each part out
        return rearrange_regions(piece, labels, k, target, tolerance, inner), moves, False
    if True not in memo:
        memo[True] = exact_partition(piece, k, target, tolerance, inner=inner)
    exact = memo[True]
    proven = exact.labels is None and exact.complete
    if proven:  # then the fewest parts out of band, if every arrangement can be tried
        if False not in memo:
            memo[False] = exact_partition(
                piece, k, target, tolerance, 10_000, within_band=False, inner=inner
            )
        exact = memo[False]
    if exact.labels is not None and exact.score < best[0] - 1e-9:
        return exact.labels, moves, proven
    return best[1], moves, proven


def _best_of_starts(
    piece: Piece,
    true_piece: Piece,
    k: int,
    target: float,
    tolerance: float,
    seed: int,
    index: int,
    budget: float | None,
    inner: float,
    polish_band: float,
) -> tuple[Ints, int, bool]:
    """:func:`_solve` from POLISHED_STARTS seeds (one with a time budget: :func:`_solve` then
    makes its own starts), each polished (:func:`~gridmap.engine.partition.polish.polish`);
    the plan with fewest parts out of band, then the highest mean Polsby-Popper, wins. A
    start whose piece is proven to have no arrangement in band is the last: the exhaustive
    search behind the proof (:mod:`~gridmap.engine.partition.exact`) is the slow part, and
    would run again for each start.

    The search's score prices boundaries along roads and pulls parts towards the mean; the
    polish and the choice between starts look at true perimeters (``true_piece``) and at
    ``polish_band`` of the tolerance only. Start 0 is the search as it was, so the plan chosen
    never has more parts out of band than it.
    """
    limit = polish_band * tolerance
    best: tuple[tuple[int, float], Ints, int, bool] | None = None
    moves = 0
    starts = 1 if budget is not None else min(POLISHED_STARTS, max(1, _POLISHED_UNITS // piece.n))
    memo = _Memo()
    polished: set[bytes] = set()
    for start in range(starts):
        local, made, proven = _solve(
            piece,
            k,
            target,
            tolerance,
            seed + _SEED_STEP * start,
            index,
            budget,
            inner,
            memo,
        )
        moves += made
        if local.tobytes() in polished:  # polished before: the same plan, no better than best
            continue
        polished.add(local.tobytes())
        local = polish(true_piece, local, k, target, limit * target)
        key = _plan_key(true_piece, local, k, target, tolerance)
        if best is None or key < best[0]:
            best = (key, local, moves, proven)
        if proven:  # no arrangement has every part in band: the exhaustive search that proved
            break  # it (and found the fewest out) would run again for each start
    assert best is not None
    return best[1], moves, best[3]


def _plan_key(
    piece: Piece, labels: Ints, k: int, target: float, tolerance: float
) -> tuple[int, float]:
    """(parts out of band, minus the mean Polsby-Popper): lower is better."""
    w = np.bincount(labels, weights=piece.weights, minlength=k)
    out = int((np.abs(w - target) > tolerance * target * (1 + 1e-12)).sum())
    src = piece.sources()
    inside = labels[src] == labels[piece.indices]
    per = np.bincount(labels, weights=piece.pcost, minlength=k) - np.bincount(
        labels[src[inside]], weights=piece.cost[inside], minlength=k
    )
    pp = 4 * np.pi * np.bincount(labels, weights=piece.areas, minlength=k) / per**2
    return (out, -float(pp.mean()))


# --- result --------------------------------------------------------------------------------------


def _result(
    labels: Ints,
    w: Floats,
    adj: Adjacency,
    area: Floats,
    perim: Floats,
    target: float,
    tolerance: float,
    iterations: int,
    notes: list[str],
    plan: Plan,
    no_band: set[int],
) -> PartitionResult:
    """Renumber parts by their first unit, measure them, explain those out of band."""
    _, first = np.unique(labels, return_index=True)
    rank = np.empty(len(first), dtype=np.int64)
    rank[np.argsort(first, kind="stable")] = np.arange(len(first))
    labels = rank[labels]
    k = len(first)
    weight = np.bincount(labels, weights=w, minlength=k).astype(np.float64)
    inside = labels[adj.left] == labels[adj.right]
    comp = components(adj.n, adj.left[inside], adj.right[inside])
    n_comp = int(comp.max()) + 1
    pieces = np.bincount(np.unique(labels * n_comp + comp) // n_comp, minlength=k)
    part_area = np.bincount(labels, weights=area, minlength=k)
    boundary = np.bincount(labels, weights=perim, minlength=k) - 2 * np.bincount(
        labels[adj.left[inside]], weights=adj.shared[inside], minlength=k
    )
    with np.errstate(divide="ignore", invalid="ignore"):
        pp = np.where(boundary > 0, 4 * np.pi * part_area / boundary**2, 0.0)
    in_band = np.abs(weight - target) <= tolerance * target * (1 + 1e-12)
    lightest = np.full(adj.n, np.inf)
    np.minimum.at(lightest, adj.left, w[adj.right])
    np.minimum.at(lightest, adj.right, w[adj.left])
    notes = notes + explain(labels, weight, in_band, w, target, tolerance, plan, no_band, lightest)
    return PartitionResult(
        labels,
        weight,
        in_band,
        pieces == 1,
        np.clip(pp, 0.0, 1.0),
        iterations,
        notes,
        target,
        tolerance,
    )
