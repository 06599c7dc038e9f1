"""Search text as people type it, made comparable with the names and addresses it should find.

Pure functions, no I/O: full-width digits, letters and spaces (１２号, ＡＢＣ, the ideographic
space) become their half-width forms (Unicode NFKC), letters are lower-cased and white space
is dropped, so "南湖路 12号" and "南湖路１２号" both read "南湖路12号"; full pinyin
("nanhu" for 南湖) next to the initials the search index already has; and "南湖社区3栋"
(a place and a building number) split into the place and the building.
"""

from __future__ import annotations

import re
import unicodedata

__all__ = ["BuildingQuery", "building_query", "full_pinyin", "normalise"]

_SPACE = re.compile(r"\s+")
# A place followed by a building number: 南湖社区3栋, 云锦家园 1 幢, 南湖小区3号楼, 3座.
_BUILDING = re.compile(r"^(?P<place>.*?\D)(?P<number>\d+)(?:栋|幢|号楼|座|号)?$")
_BUILDING_WORD = re.compile(r"(栋|幢|号楼|座)$")


def normalise(text: str) -> str:
    """``text`` in the search index's form: NFKC, lower case, no white space.

    Examples
    --------
    >>> normalise("南湖路 12号")
    '南湖路12号'
    >>> normalise("南湖路１２号")
    '南湖路12号'
    >>> normalise("ＮＡＮ　hu")
    'nanhu'
    """
    return _SPACE.sub("", unicodedata.normalize("NFKC", text or "")).lower()


def full_pinyin(text: str) -> str:
    """Lower-case toneless pinyin of the Han characters of ``text``, run together; other
    characters kept (normalised).

    Examples
    --------
    >>> full_pinyin("南湖社区")
    'nanhushequ'
    >>> full_pinyin("云锦家园1栋")
    'yunjinjiayuan1dong'
    """
    from pypinyin import Style, lazy_pinyin

    return normalise("".join(lazy_pinyin(text, style=Style.NORMAL, errors="default")))


class BuildingQuery:
    """A query naming a place and a building in it (``place``, ``number``: 南湖社区, 3)."""

    def __init__(self, place: str, number: str) -> None:
        self.place, self.number = place, number

    def __repr__(self) -> str:
        return f"BuildingQuery({self.place!r}, {self.number!r})"

    def names(self) -> tuple[str, ...]:
        """How the building may be named: 3栋, 3幢, 3号楼, 3座."""
        return tuple(f"{self.number}{word}" for word in ("栋", "幢", "号楼", "座"))


def building_query(query: str) -> BuildingQuery | None:
    """The place and building number of a normalised query such as 南湖社区3栋, or None.

    A bare number after a place counts too (南湖社区3), but only a building word makes a
    query of one place name and a house number (南湖路12号 is an address, not a building).

    Examples
    --------
    >>> building_query("南湖社区3栋")
    BuildingQuery('南湖社区', '3')
    >>> building_query("云锦家园12号楼")
    BuildingQuery('云锦家园', '12')
    >>> building_query("南湖路12号") is None
    True
    >>> building_query("3栋") is None
    True
    """
    found = _BUILDING.match(query)
    if not found or not found["place"].strip():
        return None
    has_word = bool(_BUILDING_WORD.search(query))
    if not has_word and (query.endswith("号") or found["place"].endswith(("路", "街", "道"))):
        return None
    return BuildingQuery(found["place"], found["number"])
