"""The sample district of Nan'an: the real frame, exact tilings, clean footprints, population."""

from __future__ import annotations

import csv
import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import shapely

from gridmap.errors import InputError
from gridmap.sample.generate import generate_nanan
from gridmap.schema import LAYERS
from gridmap.settings import DEFAULT_ROLES

DATA = Path(__file__).resolve().parents[1] / "data" / "chongqing"
PERSONS_PER_M2 = 0.025


@pytest.fixture(scope="module")
def layers(nanan_layers):
    return nanan_layers  # generate_nanan(0), generated once for the session


@pytest.fixture(scope="module")
def metric(layers):
    return {k: v.to_crs(32648) for k, v in layers.items() if k != "staff"}


def _real_divisions():
    with (DATA / "divisions.csv").open(encoding="utf-8") as f:
        return [r for r in csv.DictReader(f) if r["code"].startswith("500108")]


def _effective_residents(buildings_metric):
    """Residents with the importer's estimate (area × floors × 0.025) where unknown."""
    est = buildings_metric.area * buildings_metric["floors"].astype(float) * PERSONS_PER_M2
    return buildings_metric["residents"].astype(float).fillna(est)


def _assert_tiles(parts: np.ndarray, whole, what: str):
    assert all(p.geom_type == "Polygon" for p in parts), f"{what}: a part is not one polygon"
    union = shapely.union_all(parts)
    assert shapely.symmetric_difference(union, whole).area < 1e-6 * whole.area, what
    tree = shapely.STRtree(parts)
    i, j = tree.query(parts, predicate="intersects")
    keep = i < j
    overlap = shapely.area(shapely.intersection(parts[i[keep]], parts[j[keep]]))
    assert overlap.max(initial=0.0) < 1e-3, f"{what}: parts overlap ({overlap.max()} m²)"


def test_columns_are_the_schema(layers):
    for name, frame in layers.items():
        expected = LAYERS[name].column_names
        if LAYERS[name].geometry is None:  # staff
            assert list(frame.columns) == expected
        else:
            assert list(frame.columns) == [*expected, "geometry"]
            assert frame.crs.to_epsg() == 4326
        ids = frame[LAYERS[name].id_column]
        assert ids.is_unique and ids.notna().all()


def test_id_formats(layers):
    patterns = {
        "units": r"U\d{5}",
        "buildings": r"B\d{6}",
        "roads": r"R\d{4}",
        "staff": r"S\d{5}",
        "offices": r"O\d{4}",
        "landcover": r"L\d{3}",
    }
    for name, pattern in patterns.items():
        assert layers[name]["id"].str.fullmatch(pattern).all(), name


def test_landcover_has_the_river_and_parks_without_buildings(layers):
    cover = layers["landcover"]
    water = cover[cover["kind"] == "water"]
    assert water["name"].tolist() == ["长江"]
    parks = cover[cover["kind"] == "park"]
    assert "广阳岛" in set(parks["name"]) and len(parks) >= 5
    # the river runs along the district's border (its half outside is drawn too)
    district = layers["divisions"].query("level == 'district'").geometry.iloc[0]
    assert water.geometry.iloc[0].intersects(district.boundary)
    # a park holds no building
    street_parks = parks[parks["name"] != "广阳岛"]
    buildings = layers["buildings"]
    assert not buildings.intersects(street_parks.geometry.union_all()).any()


def test_real_frame(layers):
    d = layers["divisions"]
    assert d["level"].value_counts().to_dict() == {"district": 1, "street": 15, "community": 153}
    real = _real_divisions()
    streets = {r["code"] + "000": r["name"] for r in real if r["level"] == "street"}
    comms = {
        r["code"]: (r["name"], r["parent_code"] + "000") for r in real if r["level"] == "community"
    }
    got_s = d[d.level == "street"]
    assert dict(zip(got_s.code, got_s.name, strict=True)) == streets
    assert (got_s.parent_code == "500108000000").all()
    got_c = d[d.level == "community"]
    assert (
        dict(zip(got_c.code, zip(got_c.name, got_c.parent_code, strict=True), strict=True)) == comms
    )
    assert d.code.str.fullmatch(r"\d{12}").all() and d.parent_code.str.fullmatch(r"\d{12}").all()
    district = d[d.level == "district"].iloc[0]
    assert (district.code, district["name"], district.parent_code) == (
        "500108000000",
        "南岸区",
        "500100000000",
    )
    short = dict(zip(got_c.name, got_c.short_name, strict=True))
    assert short["南湖社区居民委员会"] == "南湖社区"
    assert short["联合村村民委员会"] == "联合村"
    assert (got_s.short_name == got_s.name).all()
    # The district is the stored boundary, coordinates as stored.
    with (DATA / "districts.geojson").open(encoding="utf-8") as f:
        feats = json.load(f)["features"]
    stored = next(
        shapely.geometry.shape(ft["geometry"])
        for ft in feats
        if ft["properties"].get("code") == "500108"
    )
    assert shapely.equals_exact(district.geometry, stored, tolerance=0)


def test_streets_tile_the_district(metric):
    d = metric["divisions"]
    streets = d[d.level == "street"].geometry.to_numpy()
    _assert_tiles(streets, d[d.level == "district"].geometry.iloc[0], "streets")
    area = shapely.area(streets) / 1e6
    assert area.sum() == pytest.approx(262.7, abs=0.5)
    assert area.min() > 3 and area.max() < 50


def test_communities_tile_each_street(metric):
    d = metric["divisions"]
    for street in d[d.level == "street"].itertuples():
        comms = d[d.parent_code == street.code].geometry.to_numpy()
        _assert_tiles(comms, street.geometry, street.name)
        assert shapely.area(comms).min() > 1e5, f"{street.name} has a tiny community"


def test_units_inside_their_community_and_disjoint(layers, metric):
    d = layers["divisions"].set_index("code")
    u = layers["units"]
    assert set(u.kind) == {"compound", "social_unit"}
    social = u[u.kind == "social_unit"]
    assert set(social.category) == {"school", "hospital", "enterprise", "office", "government"}
    comm = d.loc[u.community_code, "geometry"].to_numpy()
    assert shapely.within(u.geometry.to_numpy(), comm).all()
    um = metric["units"].geometry.to_numpy()
    i, j = shapely.STRtree(um).query(um, predicate="intersects")
    assert (i == j).all(), "units overlap"
    # One street office per street and one committee office per community.
    names = set(u.name)
    for row in d.itertuples():
        if row.level == "community":
            assert row.name in names, row.name
    offices = u[u.name.str.endswith(("街道办事处", "镇人民政府"))]
    assert len(offices) == 15 and (offices.category == "government").all()


def test_buildings_inside_and_not_overlapping(layers, metric):
    b, u = layers["buildings"], layers["units"]
    d = layers["divisions"]
    comms = d[d.level == "community"].reset_index(drop=True)
    geoms = b.geometry.to_numpy()
    bi, ci = shapely.STRtree(comms.geometry.to_numpy()).query(geoms, predicate="within")
    assert np.array_equal(np.sort(bi), np.arange(len(b))), "a building not inside one community"
    in_unit = b.unit_id.notna().to_numpy()
    assert set(b.unit_id[in_unit]) <= set(u.id)
    assert set(u.id) <= set(b.unit_id[in_unit]), "a unit without buildings"
    units = u.set_index("id")
    owner = units.loc[b.unit_id[in_unit]]
    assert shapely.within(geoms[in_unit], owner.geometry.to_numpy()).all()
    comm_of = np.empty(len(b), dtype=object)
    comm_of[bi] = comms.code.to_numpy()[ci]
    assert (comm_of[in_unit] == owner.community_code.to_numpy()).all()
    bm = metric["buildings"].geometry.to_numpy()
    i, j = shapely.STRtree(bm).query(bm, predicate="intersects")
    assert (i == j).all(), f"{(i != j).sum() // 2} pairs of footprints overlap"
    assert 20_000 <= len(b) <= 40_000


def test_building_attributes(layers, metric):
    b = layers["buildings"]
    assert not b.residents_estimated.any()
    assert b.floors.notna().all() and (b.floors >= 1).all()
    u = layers["units"].set_index("id")
    kind = b.unit_id.map(u["kind"])
    compound = b[kind == "compound"]
    assert compound.residents.notna().all() and (compound.households > 0).all()
    ratio = compound.residents.sum() / compound.households.sum()
    assert 2.4 < ratio < 2.8
    assert compound.name.str.fullmatch(r"\d+栋").all()
    first = compound.iloc[0]
    assert first.address.startswith("重庆市南岸区")
    assert first.address.endswith(u.loc[first.unit_id, "name"] + first["name"])
    floors = compound.floors
    assert floors.max() == 33 and ((floors >= 6) & (floors <= 9)).any()
    # Outside units: old low-rise houses, and towers standing in the street (dense blocks).
    scattered = b[b.unit_id.isna() & (b.floors <= 6)]
    street_towers = b[b.unit_id.isna() & (b.floors > 6)]
    assert len(scattered) + len(street_towers) == b.unit_id.isna().sum()
    assert scattered.floors.between(2, 6).all() and street_towers.floors.between(25, 33).all()
    assert street_towers.residents.between(800, 1100).all() and len(street_towers) >= 30
    unknown = scattered.residents.isna()
    assert 0.4 < unknown.mean() < 0.6
    assert (scattered.households.isna() == unknown).all()


def test_population(layers, metric):
    b = metric["buildings"]
    res = _effective_residents(b)
    assert 1_140_000 <= res.sum() <= 1_260_000
    d = layers["divisions"]
    comms = d[d.level == "community"].reset_index(drop=True)
    bi, ci = shapely.STRtree(comms.geometry.to_numpy()).query(
        layers["buildings"].geometry.to_numpy(), predicate="within"
    )
    per = pd.Series(res.to_numpy()[bi]).groupby(comms.code.to_numpy()[ci]).sum()
    per = per.reindex(comms.code, fill_value=0)
    village = comms.name.str.endswith("村民委员会").to_numpy()
    assert per[village].between(1200, 4500).all()
    assert per[~village].between(3000, 16000).all()
    assert per[~village].between(4000, 5000).any(), "no small community"
    grids = round(res.sum() / 3000)
    assert 350 <= grids <= 450
    # One compound too big for one grid.
    by_unit = b.residents.groupby(b.unit_id).sum()
    assert by_unit.max() >= 8500
    # The urban north-west is far denser than the south-east.
    md = metric["divisions"]
    area = dict(zip(md.name, md.area / 1e6, strict=True))
    streets = d[d.level == "street"].set_index("name")
    street_of = comms.set_index("code").parent_code
    per_street = per.groupby(street_of.reindex(per.index).to_numpy()).sum()
    dens = {n: per_street[streets.loc[n, "code"]] / area[n] for n in ("南坪街道", "广阳镇")}
    assert dens["南坪街道"] > 10 * dens["广阳镇"]


def test_roads(layers):
    r = layers["roads"]
    assert set(r["class"]) == {"primary", "secondary", "residential"}
    assert (r.geometry.geom_type == "LineString").all()
    assert r.loc[r["class"] != "residential", "name"].notna().all()
    assert "南滨路" in set(r.name)


def test_staff_as_a_community_is_staffed(layers, metric):
    s = layers["staff"]
    comms = set(layers["divisions"].query("level == 'community'").code)
    assert set(s.community_code) == comms
    roles = s.groupby(["community_code", "role"]).size().unstack(fill_value=0)
    assert list(roles.columns.sort_values()) == sorted(DEFAULT_ROLES)
    heads = roles["grid_head"]
    # A grid head for each grid a community makes, about 3,000 residents each …
    total = _effective_residents(metric["buildings"]).sum()
    assert abs(heads.sum() - total / 3000) < 0.1 * total / 3000
    # … and the police and assistants shared among its grids: one for up to 3-5 grids.
    for role in DEFAULT_ROLES:
        if role != "grid_head":
            assert (roles[role] >= 1).all() and (roles[role] < heads).any(), role
            assert (roles[role] <= heads).all(), role
    assert (roles["police"] == np.ceil(heads / 4)).all()
    assert s.name.str.fullmatch(r".某[一二三四五六七八九十百零]+").all() and s.name.is_unique
    assert s.phone_public.str.fullmatch(r"023-0000-\d{4,}").all()
    assert s.phone_private.str.fullmatch(r"100-0000-\d{4,}").all()
    assert s.duties.notna().all()


def test_deterministic(layers, sample_build_again):
    again = sample_build_again["layers"]  # generate_nanan(0) again, for a second build
    for name, frame in layers.items():
        pd.testing.assert_frame_equal(frame, again[name])
        if name != "staff":
            assert frame.geometry.to_wkb().equals(again[name].geometry.to_wkb()), name
    other = generate_nanan(1)
    d0, d1 = layers["divisions"], other["divisions"]
    assert d0.drop(columns="geometry").equals(d1.drop(columns="geometry"))
    streets = (d0.level == "street").to_numpy()
    assert not d0.geometry[streets].geom_equals(d1.geometry[streets], align=False).any()
    assert not layers["buildings"].address.head(50).equals(other["buildings"].address.head(50))


def test_bad_data_dir(tmp_path):
    with pytest.raises(InputError, match=re.escape(str(tmp_path))):
        generate_nanan(0, data_dir=tmp_path)
