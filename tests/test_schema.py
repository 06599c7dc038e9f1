"""docs/data-model.md and gridmap/schema.py describe the same model."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from gridmap.io.export import SHAPEFILE_NAMES
from gridmap.schema import LAYERS, PLAN_LAYERS, RECORD_LAYERS, RESERVED_LAYERS

DOC = (Path(__file__).resolve().parent.parent / "docs" / "data-model.md").read_text("utf-8")


def section(name: str) -> str:
    match = re.search(rf"^## {name}\n(.*?)(?=^## |\Z)", DOC, flags=re.S | re.M)
    assert match, f"docs/data-model.md has no section for layer {name}"
    return match.group(1)


@pytest.mark.parametrize("name", [*LAYERS, *PLAN_LAYERS, *RECORD_LAYERS])
def test_every_column_is_documented_with_its_type(name: str) -> None:
    rows = re.findall(r"^\| (\w+) \| (\w+) \| (yes)? ?\|", section(name), flags=re.M)
    documented = {col: (kind, bool(req)) for col, kind, req in rows}
    words = {"str": "text", "int": "integer", "bool": "boolean", "float": "number"}
    words["bytes"] = "bytes"
    columns = (LAYERS | PLAN_LAYERS | RECORD_LAYERS)[name].columns
    expected = {c.name: (words[c.dtype], c.required) for c in columns}
    assert documented == expected


def test_reserved_names_and_shapefile_names_are_documented() -> None:
    for name in RESERVED_LAYERS:
        assert f"`{name}`" in DOC
    for column, short in SHAPEFILE_NAMES.items():
        if column != short:
            assert re.search(rf"^\| {column} \| {short}\b", DOC, flags=re.M), column
