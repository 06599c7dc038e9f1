"""Per-layer normalisation of attribute values: codes, roles, kinds, numbers.

Each normaliser takes the raw frame and returns one with exactly the schema's columns (typed),
plus the bookkeeping columns ``_where`` (and ``_geom_error``), rejecting values it cannot read.
"""

from __future__ import annotations

from collections.abc import Callable

import pandas as pd

from gridmap.codes import division_level, normalize_division_code, parent_code, short_name
from gridmap.io.geometry import Verdicts
from gridmap.reference import reference_divisions
from gridmap.schema import Layer, conform, layer
from gridmap.settings import Settings

__all__ = ["NORMALIZERS"]

_UNIT_KINDS = {
    "compound": "compound",
    "封闭小区": "compound",
    "小区": "compound",
    "封闭物业小区": "compound",
    "social_unit": "social_unit",
    "社会单位": "social_unit",
    "单位": "social_unit",
    "other": "other",
    "其他": "other",
}


def _typed(frame, lyr: Layer, v: Verdicts):  # type: ignore[no-untyped-def]
    """Numbers that are not numbers are rejected; then the frame is conformed to the schema."""
    frame = frame.copy()
    for col in lyr.columns:
        if col.name not in frame or col.dtype not in ("int", "float"):
            continue
        raw = frame[col.name]
        number = pd.to_numeric(raw, errors="coerce")
        v.reject(
            raw.notna() & number.isna(),
            f"bad_{col.name}",
            f"{col.name} is not a number: " + raw.astype(str),
        )
        frame[col.name] = number
    out = conform(frame, lyr)
    for extra in ("_where", "_geom_error"):
        if extra in frame:
            out[extra] = frame[extra]
    return out


def _divisions(frame, v: Verdicts, settings: Settings):  # type: ignore[no-untyped-def]
    lyr = layer("divisions")
    frame = frame.copy()
    ref = reference_divisions()
    raw = frame["code"] if "code" in frame else pd.Series(None, index=frame.index, dtype=object)
    code = raw.map(normalize_division_code)
    given = raw.notna() & (raw.astype(str).str.strip() != "")
    v.reject(
        given & code.isna(),
        "bad_code",
        "code " + raw.astype(str) + " is not a 4-, 6-, 9- or 12-digit statistical code",
    )
    stated_level = frame["level"] if "level" in frame else pd.Series(None, index=frame.index)
    for row in frame.index[~given & frame["name"].notna()]:
        name = str(frame.at[row, "name"])
        level = stated_level[row] if pd.notna(stated_level[row]) else None
        match = ref.match_name(name, level)
        if len(match) == 1:
            found = match.iloc[0]
            code[row] = found["code"]
            renamed = "" if found["name"] == name else f" (now {found['name']})"
            v.warn(
                row,
                "missing_code",
                f"no code; {name}{renamed} is {found['code']} in the "
                "reference table, and that code was used",
            )
        else:
            which = "no" if match.empty else f"{len(match)}"
            v.reject(
                frame.index == row,
                "missing_code",
                f"no code, and the name matches {which} reference divisions",
            )
    v.reject(code.isna() & ~given & frame["name"].isna(), "missing_code", "no code and no name")
    frame["code"] = code
    levels = code.map(lambda c: division_level(c) if isinstance(c, str) else None)
    v.reject(
        levels == "city",
        "bad_level",
        "a city-level code: gridmap's divisions are districts, streets and communities",
    )
    for row in frame.index[
        stated_level.notna() & levels.notna() & (stated_level != levels) & v.alive
    ]:
        v.warn(
            row,
            "level_mismatch",
            f"level says {stated_level[row]}, code {code[row]} is a "
            f"{levels[row]}; the code's level was used",
        )
    frame["level"] = levels
    derived = code.map(lambda c: parent_code(c) if isinstance(c, str) else None)
    if "parent_code" in frame:
        stated = frame["parent_code"].map(normalize_division_code)
        for row in frame.index[stated.notna() & derived.notna() & (stated != derived) & v.alive]:
            v.warn(
                row,
                "parent_mismatch",
                f"parent_code {stated[row]} disagrees with code "
                f"{code[row]}, whose parent is {derived[row]}; the code's parent was used",
            )
    frame["parent_code"] = derived
    for row in frame.index[v.alive & given & code.notna()]:
        known = ref.name_of(code[row])
        name = str(frame.at[row, "name"])
        if known and known != name and short_name(known) != short_name(name):
            v.warn(
                row,
                "name_mismatch",
                f"code {code[row]} is {known} in the reference table; the file says {name}",
            )
    if "short_name" not in frame:
        frame["short_name"] = None
    frame["short_name"] = frame["short_name"].where(
        frame["short_name"].notna(), frame["name"].map(short_name, na_action="ignore")
    )
    return _typed(frame, lyr, v)


def _units(frame, v: Verdicts, settings: Settings):  # type: ignore[no-untyped-def]
    frame = frame.copy()
    if "kind" not in frame:
        frame["kind"] = None
    kind = frame["kind"].map(lambda k: _UNIT_KINDS.get(str(k).strip().lower()), na_action="ignore")
    v.reject(
        frame["kind"].notna() & kind.isna(),
        "bad_kind",
        "kind " + frame["kind"].astype(str) + " is not compound, social_unit or other",
    )
    for row in frame.index[frame["kind"].isna()]:
        v.warn(row, "kind_assumed", "no kind: taken as other")
    frame["kind"] = kind.fillna("other")
    if "community_code" in frame:
        frame["community_code"] = frame["community_code"].map(normalize_division_code)
    return _typed(frame, layer("units"), v)


def _staff(frame, v: Verdicts, settings: Settings):  # type: ignore[no-untyped-def]
    frame = frame.copy()
    roles = settings.all_roles()
    lookup = {k.lower(): k for k in roles}
    lookup.update({name: key for key, name in roles.items()})
    role = frame["role"].map(lambda r: lookup.get(str(r).strip().lower()), na_action="ignore")
    allowed = ", ".join(f"{k} ({n})" for k, n in roles.items())
    v.reject(
        role.isna(), "bad_role", "role " + frame["role"].astype(str) + " is not one of " + allowed
    )
    frame["role"] = role
    v.reject(frame["name"].isna(), "missing_name", "no name")
    if "community_code" in frame:
        frame["community_code"] = frame["community_code"].map(normalize_division_code)
    return _typed(frame, layer("staff"), v)


_LANDCOVER_KINDS = {
    "water": "water",
    "水系": "water",
    "水域": "water",
    "河流": "water",
    "park": "park",
    "公园": "park",
    "绿地": "park",
    "forest": "forest",
    "林地": "forest",
    "山林": "forest",
}


def _landcover(frame, v: Verdicts, settings: Settings):  # type: ignore[no-untyped-def]
    frame = frame.copy()
    given = frame["kind"].astype(str).str.strip().str.lower()
    kind = given.map(_LANDCOVER_KINDS)
    v.reject(
        kind.isna(),
        "bad_kind",
        "kind " + frame["kind"].astype(str) + " is not water, park or forest",
    )
    frame["kind"] = kind
    return _typed(frame, layer("landcover"), v)


def _plain(name: str) -> Callable:  # type: ignore[type-arg]
    def normalise(frame, v: Verdicts, settings: Settings):  # type: ignore[no-untyped-def]
        frame = frame.copy()
        if "community_code" in frame:
            frame["community_code"] = frame["community_code"].map(normalize_division_code)
        return _typed(frame, layer(name), v)

    return normalise


NORMALIZERS = {
    "divisions": _divisions,
    "units": _units,
    "buildings": _plain("buildings"),
    "roads": _plain("roads"),
    "staff": _staff,
    "grids": _plain("grids"),
    "offices": _plain("offices"),
    "landcover": _landcover,
}
