"""The GeoPackage engine's file is a plain GeoPackage: GDAL lists and reads every table."""

from __future__ import annotations

import shutil
import sqlite3
import subprocess
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pyogrio
import pytest
import shapely
from storedata import C1, make_plan
from test_contract_layers import buildings

from gridmap.schema import PLAN_LAYERS, RECORD_LAYERS
from gridmap.store import GpkgStore


@pytest.fixture
def filled(tmp_path: Path) -> Path:
    path = tmp_path / "w.gpkg"
    with GpkgStore(path) as store:
        store.write({"buildings": buildings()}, actor="im")
        plan = make_plan(store, C1)
        store.publish([plan], actor="alice")
        store.add_incident({"lon": 106.561, "lat": 29.521, "status": "reported"}, actor="r")
    return path


def test_gdal_reads_every_table(filled: Path) -> None:
    listed = dict(pyogrio.list_layers(filled).tolist())
    for name in [*PLAN_LAYERS, *RECORD_LAYERS, "buildings"]:
        assert name in listed, name
        pyogrio.read_dataframe(filled, layer=name)  # every layer opens
    assert listed["plan_grids"] == "MultiPolygon" and listed["incidents"] == "Point"
    grids = pyogrio.read_dataframe(filled, layer="plan_grids")
    assert grids.crs.to_epsg() == 4326 and len(grids) == 2
    [incident] = pyogrio.read_dataframe(filled, layer="incidents").geometry
    assert (incident.x, incident.y) == (106.561, 29.521)
    near = pyogrio.read_dataframe(
        filled, layer="buildings", bbox=(106.5012, 29.5012, 106.5032, 29.5022)
    )
    assert sorted(near["id"]) == ["B21", "B22", "B23", "B41", "B42", "B43"]


@pytest.mark.gdal
def test_ogrinfo_opens_it_without_complaint(filled: Path) -> None:
    if shutil.which("ogrinfo") is None:
        pytest.skip("GDAL TESTS SKIPPED: no ogrinfo (apt-get install gdal-bin)")
    run = subprocess.run(
        ["ogrinfo", "-ro", "-al", "-so", str(filled)], capture_output=True, text=True, check=True
    )
    assert "ERROR" not in run.stderr and "Warning" not in run.stderr, run.stderr
    assert "Layer name: plan_grids" in run.stdout and "Layer name: audit_log" in run.stdout
    spat = subprocess.run(
        [
            "ogrinfo",
            "-ro",
            "-so",
            "-spat",
            "106.5012",
            "29.5012",
            "106.5032",
            "29.5022",
            str(filled),
            "buildings",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    assert "Feature Count: 6" in spat.stdout


def test_gdal_edits_keep_the_spatial_index(filled: Path) -> None:
    """A feature added by GDAL (as QGIS would) goes through our R-tree triggers and reads back."""
    extra = buildings(1, start=900).assign(id="Q1")
    extra["geometry"] = [shapely.box(106.70, 29.70, 106.701, 29.701)]
    pyogrio.write_dataframe(gpd.GeoDataFrame(extra), filled, layer="buildings", append=True)
    with GpkgStore(filled) as store:
        assert store.read("buildings", bbox=(106.699, 29.699, 106.702, 29.702))["id"].tolist() == [
            "Q1"
        ]
        store.write({"buildings": buildings(1, start=950)}, actor="im")
        assert len(store.read("buildings")) == 402
    with sqlite3.connect(filled) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        rtree = conn.execute("SELECT count(*) FROM rtree_buildings_geom").fetchone()[0]
    assert rtree == 402


def test_a_workspace_of_the_old_plan_layout_is_upgraded(tmp_path: Path) -> None:
    """Plans written whole before revisions existed become revision 1, nothing lost."""
    from storedata import cells_of, grids_of

    path = tmp_path / "old.gpkg"
    cells = cells_of(C1)
    grids = grids_of(cells)
    plan = pd.DataFrame(
        {
            "id": ["1"],
            "name": ["plan 1"],
            "status": ["draft"],
            "created_at": ["2026-11-01T08:00:00+00:00"],
            "created_by": [None],
            "weight": ["residents"],
            "target": [3000],
            "tolerance": [0.2],
            "seed": [0],
            "scheme": ["db11"],
            "params": ['{"target": 3000}'],
        }
    )
    old_cells = cells.reset_index().rename(columns={"grid": "grid_code"})
    old_cells = old_cells.assign(plan_id="1", cell_key="1:" + old_cells["cell_id"])
    old_grids = grids.assign(plan_id="1", grid_key="1:" + grids["code"])
    pyogrio.write_dataframe(plan, path, layer="plans")
    pyogrio.write_dataframe(old_cells, path, layer="plan_cells", promote_to_multi=True)
    pyogrio.write_dataframe(old_grids, path, layer="plan_grids", promote_to_multi=True)

    with GpkgStore(path) as store:
        [info] = store.plans()
        assert (info.id, info.status, info.head, info.params) == ("1", "draft", 1, {"target": 3000})
        assert info.created_at.isoformat() == "2026-11-01T08:00:00+00:00"
        back = store.revision("1")
        assert back.cells.index.tolist() == cells.index.tolist()
        assert back.cells["grid"].tolist() == cells["grid"].tolist()
        assert shapely.equals(back.grids.geometry.values, grids.geometry.values).all()
        assert [a.action for a in store.audit()] == ["upgrade"]
        assert store.create_plan(cells, grids, name="new", params={}, actor="a").plan_id == "2"
