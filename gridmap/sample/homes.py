"""Where people live in the built-up 社区: a few large compounds of towers, old compounds and
low-rise blocks beside them, and the planners' hard cases.

Chongqing's new compounds hold 3,000 to 12,000 residents in towers of 18 to 33 floors (200 to
1,500 residents each). A 社区 of about 10,000 residents is one or two such compounds, an old
compound or two of 6-9 floors and some old low-rise houses; the rest of its blocks are offices,
shops, schools and green slopes. :func:`choose_homes` decides which block pieces are homes, so
that the compounds come out that large, and sets up the hard cases:

* dense blocks of towers standing in the street, outside any compound (about 800-1,100
  residents each), which the partition must still balance into grids;
* social units that are a grid of their own (专属网格) whatever their residents: a university,
  a big hospital and an industrial park.
"""

from __future__ import annotations

import numpy as np
import shapely

from gridmap.sample.geography import Frame
from gridmap.sample.layout import Pieces

__all__ = ["OWN_GRID", "choose_homes"]

# Residents a m² of block piece holds at the usual households per floor (rough, to choose how
# many pieces a 社区's target needs; the households are fitted to the target afterwards).
_NEW_PER_M2 = 0.16
_OLD_PER_M2 = 0.05
# Share of a 社区's target living in new compounds and in old ones, by street kind.
_NEW_SHARE = {"core": 0.62, "newtown": 0.78, "town": 0.40, "mountain": 0.30}
_OLD_SHARE = {"core": 0.18, "newtown": 0.07, "town": 0.25, "mountain": 0.25}
# A core 社区 has a dense block of free-standing towers with this chance.
_DENSE_P = 0.5
# What a piece not needed for homes becomes: (role, probability).
_SPARE_NEW = (("park", 0.45), ("office", 0.25), ("enterprise", 0.30))
_SPARE_OLD = (("park", 0.4), ("low", 0.6))

# The social units that are a grid of their own: template, name, street (9-digit code) where
# it stands, residents (students in dormitories, staff quarters, workers' dormitories).
OWN_GRID = {
    "university": ("university", "重庆南山学院", "500108101", 6500),
    "hospital": ("big_hospital", "南岸区第一人民医院", "500108003", 350),
    "industry": ("industrial", "茶园工业园区", "500108008", 1600),
}


def choose_homes(
    rng: np.random.Generator,
    frame: Frame,
    pieces: Pieces,
    target: np.ndarray,
    keep: set[int],
    plain: set[int],
) -> dict[str, int]:
    """Decide which block pieces are homes; set ``pieces.role`` in place.

    ``keep`` are pieces whose role is already decided (the big compound, the offices' ground);
    ``plain`` are communities left as they are (the small one, set up by the caller).
    Returns {OWN_GRID key: piece} for the social units that are a grid of their own.
    """
    area = shapely.area(pieces.geoms)
    kind_of_street = [s.kind for s in frame.streets]
    code_of_street = [s.code[:9] for s in frame.streets]
    fixed = set(keep)
    own: dict[str, int] = {}
    for key, (template, _, street_code, _) in OWN_GRID.items():
        s = code_of_street.index(street_code)
        cand = np.flatnonzero((pieces.street == s) & np.isin(pieces.role, ("new", "old", "school")))
        cand = np.array([p for p in cand if p not in fixed], dtype=np.int64)
        if not len(cand):
            continue
        p = int(cand[np.argmax(area[cand])])
        pieces.role[p] = template
        own[key] = p
        fixed.add(p)
    # A 社区 holding the big compound or a unit of its own gets no dense block besides.
    busy = {int(pieces.community[p]) for p in fixed}
    for c in np.unique(pieces.community):
        if int(c) in plain:
            continue
        mine = np.flatnonzero(pieces.community == c)
        mine = np.array([p for p in mine if p not in fixed], dtype=np.int64)
        kind = kind_of_street[int(pieces.street[mine[0]])] if len(mine) else "town"
        _homes_of(rng, pieces, area, mine, float(target[c]), kind, dense=int(c) not in busy)
    return own


def _homes_of(
    rng, pieces: Pieces, area, mine: np.ndarray, target: float, kind: str, *, dense: bool
) -> None:
    """Roles of one 社区's free pieces: enough compounds for ``target``, the rest spare."""
    new_need = _NEW_SHARE[kind] * target
    old_need = _OLD_SHARE[kind] * target
    # Larger pieces first (with some noise): a compound of 3,000 and more needs room.
    order = mine[np.argsort(-area[mine] * rng.uniform(0.7, 1.3, len(mine)), kind="stable")]
    new = order[pieces.role[order] == "new"]
    old = order[pieces.role[order] == "old"]
    if dense and kind == "core" and rng.random() < _DENSE_P:
        # A dense block: a mid-sized piece of towers standing in the street (about one tower
        # of 950 residents per 5,000 m² of piece); compounds still hold most people.
        fit = [p for p in np.concatenate([new, old]) if 8_000 <= area[p] <= 20_000]
        if fit:
            p = fit[int(rng.integers(len(fit)))]
            pieces.role[p] = "tower"
            new_need = max(new_need - area[p] / 5_000 * 950, 0.4 * target)
            new, old = new[new != p], old[old != p]
    if new_need > 0 and area[new].sum() * _NEW_PER_M2 < new_need:
        # Too few new pieces: the largest old ones are rebuilt as towers, then open ground.
        spare = order[
            np.isin(pieces.role[order], ("park", "low", "office", "enterprise", "factory"))
        ]
        for p in np.concatenate([old, spare]):
            if area[new].sum() * _NEW_PER_M2 >= new_need:
                break
            pieces.role[p] = "new"
            new, old = np.append(new, p), old[old != p]
    homes_new = _enough(new, area * _NEW_PER_M2, new_need)
    homes_old = _enough(old, area * _OLD_PER_M2, old_need)
    _spare(rng, pieces, new[~np.isin(new, homes_new)], _SPARE_NEW, kind)
    _spare(rng, pieces, old[~np.isin(old, homes_old)], _SPARE_OLD, kind)


def _enough(ordered: np.ndarray, holds: np.ndarray, need: float) -> np.ndarray:
    """The first pieces of ``ordered`` that together hold ``need`` (at least one if any)."""
    if need <= 0 or not len(ordered):
        return ordered[:0]
    total = np.cumsum(holds[ordered])
    return ordered[: int(np.searchsorted(total, need)) + 1]


def _spare(rng, pieces: Pieces, which: np.ndarray, choices, kind: str) -> None:
    if not len(which):
        return
    roles = np.array([r for r, _ in choices])
    p = np.array([w for _, w in choices])
    role = roles[rng.choice(len(roles), size=len(which), p=p / p.sum())]
    if kind != "core":
        role = np.where(role == "enterprise", "factory", role)
    pieces.role[which] = role
