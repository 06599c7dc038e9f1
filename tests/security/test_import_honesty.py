"""Issue 12 item 10, import honesty: the feature is named, rejects change the exit code, dropped
Z values are noted, and no area is invented by "repairing" a hole outside its shell."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from gridmap.cli import app
from gridmap.io.importer import import_file
from gridmap.store import Workspace

SQUARE = [[0, 0], [1, 0], [1, 1], [0, 1], [0, 0]]


def ring(x: float, y: float, size: float = 0.001, z: float | None = None) -> list[list[float]]:
    points = [[x + dx * size, y + dy * size] for dx, dy in SQUARE]
    return [[*p, z] for p in points] if z is not None else points


def feature(fid: str, rings: list[list[list[float]]]) -> dict[str, object]:
    return {
        "type": "Feature",
        "properties": {"id": fid, "residents": 10},
        "geometry": {"type": "Polygon", "coordinates": rings},
    }


def write_geojson(path: Path, features: list[dict[str, object]]) -> Path:
    path.write_text(json.dumps({"type": "FeatureCollection", "features": features}))
    return path


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, ["import", *args])
    return result.exit_code, result.output


def test_an_unclosed_ring_is_named_and_the_rest_is_read(tmp_path: Path) -> None:
    unclosed = ring(106.56, 29.51)[:-1]  # first point not repeated at the end
    src = write_geojson(
        tmp_path / "buildings.geojson",
        [
            feature("B1", [ring(106.55, 29.51)]),
            feature("B2", [unclosed]),
            feature("B3", [ring(106.57, 29.51)]),
        ],
    )
    report = import_file(Workspace(tmp_path / "w.gpkg"), src, "buildings")
    assert report.read == 3 and report.imported == 2 and report.accounted
    [bad] = report.rejected
    assert (bad.id, bad.where) == ("B2", "feature 2")
    assert "not closed" in bad.detail


def test_rejected_rows_exit_3_and_import_nothing_unless_allowed(tmp_path: Path) -> None:
    rows = ["id,lon,lat,residents"]
    rows += [f"B{i},106.55{i:02d},29.51,10" for i in range(3)]
    rows += [f"B{i},not-a-number,29.51,10" for i in range(3, 12)]  # 9 of 12 rejected
    csv = tmp_path / "buildings.csv"
    csv.write_text("\n".join(rows) + "\n")
    ws = tmp_path / "w.gpkg"

    code, output = run(str(csv), "--layer", "buildings", "--workspace", str(ws))
    assert code == 3, output
    assert "nothing imported: 9 of 12" in output and "--allow-rejects" in output
    assert not ws.exists() or Workspace(ws).read("buildings").empty

    code, output = run(
        str(csv), "--layer", "buildings", "--workspace", str(ws), "--allow-rejects", "--json"
    )
    assert code == 0, output
    payload = json.loads(output)
    assert (payload["imported"], len(payload["rejected"]), payload["accounted"]) == (3, 9, True)


def test_dropped_z_values_are_noted(tmp_path: Path) -> None:
    src = write_geojson(
        tmp_path / "z.geojson",
        [feature("B1", [ring(106.55, 29.51, z=12.0)]), feature("B2", [ring(106.56, 29.51)])],
    )
    report = import_file(Workspace(tmp_path / "w.gpkg"), src, "buildings")
    assert report.imported == 2
    assert any("Z values" in note and "1 feature" in note for note in report.notes)


@pytest.mark.parametrize("layer", ["buildings", "units"])
def test_a_hole_outside_its_shell_is_rejected_not_turned_into_area(
    tmp_path: Path, layer: str
) -> None:
    shell, far_hole = ring(106.55, 29.51), ring(106.59, 29.51)
    good = {"kind": "compound", "name": "甲小区"} if layer == "units" else {}
    features = [feature("A1", [shell, far_hole]), feature("A2", [ring(106.56, 29.51)])]
    for f in features:
        f["properties"].update(good)  # type: ignore[union-attr]
    src = write_geojson(tmp_path / "holes.geojson", features)
    report = import_file(Workspace(tmp_path / "w.gpkg"), src, layer)
    assert [(i.id, i.kind) for i in report.rejected] == [("A1", "hole_outside_shell")]
    assert "m² the file does not have" in report.rejected[0].detail
    assert not report.repaired and report.imported == 1
