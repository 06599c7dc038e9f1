"""Statistical division codes (统计用区划代码): normalising, levels, parents, short names."""

from __future__ import annotations

import re
from collections.abc import Sequence

__all__ = [
    "community_of_grid",
    "district_of",
    "division_level",
    "grid_sequence",
    "in_scope",
    "normalize_division_code",
    "parent_code",
    "short_name",
    "street_of",
]

_PAD = {4: 8, 6: 6, 9: 3, 12: 0}
_SUFFIXES = (
    ("社区居民委员会", "社区"),
    ("居民委员会", "社区"),
    ("村民委员会", "村"),
    ("居委会", "社区"),
    ("村委会", "村"),
)


def normalize_division_code(raw: object) -> str | None:
    """The 12-digit form of a 4-, 6-, 9- or 12-digit code; None when ``raw`` is no such code.

    Districts and streets are padded with zeros, as the national statistical codes are.

    Examples
    --------
    >>> normalize_division_code("500108"), normalize_division_code(500108001)
    ('500108000000', '500108001000')
    >>> normalize_division_code("5001080010021"), normalize_division_code(None)
    (None, None)
    """
    if raw is None or (isinstance(raw, float) and raw != raw):
        return None
    text = str(raw).strip()
    if text.endswith(".0"):
        text = text[:-2]
    if not re.fullmatch(r"\d+", text) or len(text) not in _PAD:
        return None
    return text + "0" * _PAD[len(text)]


def division_level(code: str) -> str:
    """district, street or community, read off a 12-digit code.

    Examples
    --------
    >>> [division_level(c) for c in ("500108000000", "500108001000", "500108001002")]
    ['district', 'street', 'community']
    """
    if code.endswith("000000"):
        return "district" if code[4:6] != "00" else "city"
    if code.endswith("000"):
        return "street"
    return "community"


def parent_code(code: str) -> str:
    """The code of the enclosing division.

    Examples
    --------
    >>> parent_code("500108001002"), parent_code("500108001000"), parent_code("500108000000")
    ('500108001000', '500108000000', '500100000000')
    """
    level = division_level(code)
    if level == "community":
        return street_of(code)
    if level == "street":
        return district_of(code)
    return code[:4] + "00000000"


def community_of_grid(grid_code: str) -> str:
    """The 12-digit community code a DB11 grid code starts with (community + sequence).

    CJ/T 349's 20-digit codes put a 6-digit service-object code first:
    :mod:`gridmap.engine.gridcodes` reads those.

    Examples
    --------
    >>> community_of_grid("500108003002001")
    '500108003002'
    """
    return str(grid_code)[:12]


def grid_sequence(grid_code: str) -> str:
    """The part of a grid code after its community's 12 digits (its sequence number).

    Examples
    --------
    >>> grid_sequence("500108003002001")
    '001'
    """
    return str(grid_code)[12:]


def street_of(code: str) -> str:
    """The street (街道/镇) code of a community or grid code.

    Examples
    --------
    >>> street_of("500108003002"), street_of("500108003002001")
    ('500108003000', '500108003000')
    """
    return str(code)[:9] + "000"


def district_of(code: str) -> str:
    """The district (区) code of a street, community or grid code.

    Examples
    --------
    >>> district_of("500108003002001")
    '500108000000'
    """
    return str(code)[:6] + "000000"


def short_name(name: str) -> str:
    """The name residents use: 南湖社区居民委员会 → 南湖社区, 石岗村民委员会 → 石岗村.

    Examples
    --------
    >>> short_name("南湖社区居民委员会"), short_name("石岗村民委员会"), short_name("南坪街道")
    ('南湖社区', '石岗村', '南坪街道')
    """
    for suffix, replacement in _SUFFIXES:
        if name.endswith(suffix):
            return name[: -len(suffix)] + (
                "" if name[: -len(suffix)].endswith(replacement) else replacement
            )
    return name


def in_scope(scope: Sequence[str], code: str | None) -> bool:
    """Whether a community, grid or street ``code`` lies in ``scope``, a list of division codes
    (districts, streets or communities; empty: everywhere).

    Examples
    --------
    >>> in_scope([], "500108003002001"), in_scope(["500108003000"], "500108003002001")
    (True, True)
    >>> in_scope(["500108003002"], "500108004001"), in_scope(["500108003002"], None)
    (False, False)
    """
    if not scope:
        return True
    if not code:
        return False
    code = str(code)
    for entry in scope:
        level = division_level(entry)
        if level == "community" and code[:12] == entry:
            return True
        if level == "street" and street_of(code) == entry:
            return True
        if level == "district" and district_of(code) == entry:
            return True
        if level == "city" and code[:4] == entry[:4]:
            return True
    return False
