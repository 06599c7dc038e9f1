"""Exports: every format reads back with the same features; GDAL sees correct Chinese text."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pytest
import shapely

from gridmap.errors import InputError
from gridmap.io.export import export_layer
from gridmap.io.importer import import_file
from gridmap.store import Workspace

NAMES = ["南湖社区居民委员会", "弹子石街道"]


@pytest.fixture
def workspace(tmp_path: Path) -> Workspace:
    frame = gpd.GeoDataFrame(
        {"code": ["500108003001", "500108006000"], "name": NAMES},
        geometry=[
            shapely.box(106.56, 29.52, 106.57, 29.53),
            shapely.MultiPolygon(
                [
                    shapely.box(106.60, 29.55, 106.61, 29.56),
                    shapely.box(106.62, 29.55, 106.63, 29.56),
                ]
            ),
        ],
        crs=4326,
    )
    frame.to_file(tmp_path / "d.geojson")
    ws = Workspace(tmp_path / "w.gpkg")
    import_file(ws, tmp_path / "d.geojson", "divisions")
    buildings = gpd.GeoDataFrame(
        {"id": ["B1", "B2"], "name": ["1栋", "2栋"], "floors": [6, 3], "residents": [120, None]},
        geometry=[
            shapely.box(106.561, 29.521, 106.5612, 29.5212),
            shapely.box(106.562, 29.521, 106.5622, 29.5212),
        ],
        crs=4326,
    )
    buildings.to_file(tmp_path / "b.geojson")
    import_file(ws, tmp_path / "b.geojson", "buildings")
    return ws


@pytest.mark.parametrize("fmt", ["gpkg", "geojson", "shp", "csv"])
def test_each_format_reads_back(workspace: Workspace, tmp_path: Path, fmt: str) -> None:
    out = tmp_path / f"divisions.{fmt}"
    result = export_layer(workspace, "divisions", out)
    assert result == {"layer": "divisions", "format": fmt, "path": str(out), "features": 2}
    if fmt == "csv":
        back = pd.read_csv(out, encoding="utf-8-sig", dtype=str)
        geoms = shapely.from_wkt(back["wkt"])
    else:
        back = gpd.read_file(out)
        geoms = back.geometry.values
    assert list(back["name"]) == NAMES
    original = workspace.read("divisions").geometry.values
    assert shapely.equals(geoms, original).all()


def test_geojson_is_rfc7946(workspace: Workspace, tmp_path: Path) -> None:
    out = tmp_path / "d.geojson"
    export_layer(workspace, "divisions", out)
    doc = json.loads(out.read_text(encoding="utf-8"))
    assert "crs" not in doc  # RFC 7946: WGS-84 implied, no crs member
    ring = doc["features"][0]["geometry"]["coordinates"][0]
    assert shapely.Polygon(ring).exterior.is_ccw  # exterior rings counter-clockwise


def test_shapefile_is_utf8_with_cpg_and_short_names(workspace: Workspace, tmp_path: Path) -> None:
    out = tmp_path / "b.shp"
    export_layer(workspace, "buildings", out)
    assert out.with_suffix(".cpg").read_text().strip().upper() in ("UTF-8", "UTF8")
    back = gpd.read_file(out)
    assert "res_est" in back.columns and list(back["res_est"]) == [0, 1]
    assert list(back["name"]) == ["1栋", "2栋"]


def test_unknown_format_and_empty_layer_are_refused(workspace: Workspace, tmp_path: Path) -> None:
    with pytest.raises(InputError, match="--format"):
        export_layer(workspace, "divisions", tmp_path / "x.kml")
    with pytest.raises(InputError, match="roads is empty"):
        export_layer(workspace, "roads", tmp_path / "r.gpkg")


@pytest.mark.gdal
@pytest.mark.parametrize("fmt", ["gpkg", "geojson", "shp", "csv"])
def test_gdal_ogrinfo_reads_chinese_text(workspace: Workspace, tmp_path: Path, fmt: str) -> None:
    ogrinfo = shutil.which("ogrinfo")
    if ogrinfo is None:
        pytest.skip("ogrinfo not installed (Debian: apt-get install gdal-bin)")
    out = tmp_path / f"divisions.{fmt}"
    export_layer(workspace, "divisions", out)
    run = subprocess.run(
        [ogrinfo, "-ro", "-al", "-q", str(out)],
        capture_output=True,
        check=True,
        env={"LANG": "C.UTF-8", "PATH": "/usr/bin:/bin"},
    )
    text = run.stdout.decode("utf-8")
    for name in NAMES:
        assert name in text, text[:2000]


def test_geojson_keeps_full_precision(tmp_path: Path) -> None:
    """Grids share vertices to the last digit; rounding to RFC 7946's default 7 decimals
    made exported plans fail our own coverage check (mismatched edges, specks)."""
    from gridmap.io.export import export_frame

    x = 106.12345678912345
    grids = gpd.GeoDataFrame(
        {"code": ["500108003001001", "500108003001002"]},
        geometry=[shapely.box(106.1, 29.5, x, 29.6), shapely.box(x, 29.5, 106.2, 29.6)],
        crs=4326,
    )
    out = tmp_path / "grids.geojson"
    export_frame(grids, "grids", out, "geojson")
    back = gpd.read_file(out)
    xs = shapely.get_coordinates(back.geometry.values)[:, 0]
    assert abs(xs - x).min() < 1e-12
