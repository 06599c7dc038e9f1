"""Statistical division codes (统计用区划代码): normalising, levels, parents, short names."""

from __future__ import annotations

import re

__all__ = ["division_level", "normalize_division_code", "parent_code", "short_name"]

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
        return code[:9] + "000"
    if level == "street":
        return code[:6] + "000000"
    return code[:4] + "00000000"


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
