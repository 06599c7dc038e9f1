"""The sample looks like Chongqing: towers, large compounds, and the planners' hard cases.

Read from the workspace ``gridmap sample`` builds (through the importer), as the demo and the
API tests see it.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import shapely

from gridmap.sample.offices import BADLY_PLACED_SHARE
from gridmap.store import Workspace

METRIC = 32648


@pytest.fixture(scope="module")
def sample(sample_build: dict) -> dict:
    ws = Workspace(sample_build["workspace"])
    layers = {name: ws.read(name) for name in ("divisions", "units", "buildings", "offices")}
    metric = {k: v.to_crs(METRIC) for k, v in layers.items()}
    d = metric["divisions"]
    comms = d[d.level == "community"].reset_index(drop=True)
    b = metric["buildings"]
    bi, ci = shapely.STRtree(comms.geometry.to_numpy()).query(
        b.geometry.to_numpy(), predicate="within"
    )
    community = np.empty(len(b), dtype=object)
    community[bi] = comms.code.to_numpy()[ci]
    return {**metric, "communities": comms, "community_of_building": community}


def _compounds(sample: dict) -> pd.DataFrame:
    b, u = sample["buildings"], sample["units"].set_index("id")
    mine = b[b.unit_id.map(u["kind"]) == "compound"]
    return mine.groupby("unit_id").agg(residents=("residents", "sum"), top=("floors", "max"))


def test_towers_of_18_to_33_floors_hold_200_to_1500_residents(sample: dict) -> None:
    b, u = sample["buildings"], sample["units"].set_index("id")
    towers = b[(b.unit_id.map(u["kind"]) == "compound") & (b.floors >= 18)]
    assert len(towers) > 800 and towers.floors.max() == 33
    assert towers.residents.max() <= 1500
    assert towers.residents.between(200, 1500).mean() > 0.97
    assert 500 <= towers.residents.median() <= 900


def test_new_compounds_hold_3000_to_12000_beside_old_ones(sample: dict) -> None:
    compounds = _compounds(sample)
    new = compounds[compounds.top >= 18]
    old = compounds[compounds.top <= 9]
    assert len(new) >= 100 and len(old) >= 100
    assert new.residents.max() <= 12_000
    assert new.residents.between(3000, 12_000).mean() > 0.6
    assert 3000 <= new.residents.median() <= 6000
    assert old.residents.median() < 2000  # old compounds of 6-9 floors are smaller
    # The compound heavier than the band's maximum, several grids' worth, is there.
    assert new.residents.max() >= 11_000


def test_dense_blocks_of_heavy_towers_outside_compounds(sample: dict) -> None:
    b = sample["buildings"]
    street = b[b.unit_id.isna() & (b.floors >= 25)]
    assert len(street) >= 30 and street.residents.between(800, 1100).all()
    where = pd.Series(sample["community_of_building"][street.index]).value_counts()
    assert len(where) >= 5 and where.max() >= 3  # several blocks, several towers each


def test_units_that_are_a_grid_of_their_own(sample: dict) -> None:
    u, b = sample["units"], sample["buildings"]
    assert u.own_grid.notna().all()
    own = u[u.own_grid.astype(bool)].set_index("name")
    assert set(own.category) == {"school", "hospital", "enterprise"} and len(own) == 3
    residents = b.groupby("unit_id").residents.sum()
    got = {name: int(residents[row.id]) for name, row in own.iterrows()}
    assert got == {"重庆南山学院": 6500, "南岸区第一人民医院": 350, "茶园工业园区": 1600}
    assert (own.kind == "social_unit").all()
    # The university holds more residents than one grid may, the hospital far fewer.
    assert got["重庆南山学院"] > 3600 and got["南岸区第一人民医院"] < 2400


def test_a_large_thinly_populated_village(sample: dict) -> None:
    comms, b = sample["communities"], sample["buildings"]
    villages = comms[comms.name.str.endswith("村民委员会")].set_index("code")
    largest = villages.geometry.area.idxmax()
    km2 = villages.geometry.area[largest] / 1e6
    residents = b.residents[sample["community_of_building"] == largest].sum()
    assert km2 > 10 and residents / km2 < 400
    houses = b[sample["community_of_building"] == largest].geometry.centroid
    # Spread over the village, not one hamlet: houses reach across most of it.
    spread = shapely.MultiPoint(list(houses)).convex_hull.area / 1e6
    assert spread > 0.4 * km2


def test_every_community_has_an_office_some_badly_placed(sample: dict) -> None:
    offices, comms, b = sample["offices"], sample["communities"], sample["buildings"]
    assert sorted(offices.community_code) == sorted(comms.code)
    assert (offices.geometry.geom_type == "Point").all()
    assert offices.name.str.endswith("委员会").all()
    assert offices.address.str.startswith("重庆市南岸区").all()
    assert offices.phone.str.fullmatch(r"023-0001-\d{4}").all() and offices.hours.notna().all()
    home = comms.set_index("code").geometry
    inside = shapely.within(offices.geometry.to_numpy(), home[offices.community_code].to_numpy())
    assert inside.all()
    centre = b.geometry.centroid
    badly = []
    for office in offices.itertuples():
        polygon = home[office.community_code]
        edge = polygon.boundary.distance(office.geometry)
        mine = sample["community_of_building"] == office.community_code
        x, y = centre.x[mine].to_numpy(), centre.y[mine].to_numpy()
        w = b.residents[mine].astype(float).to_numpy()
        walk = np.average(np.hypot(x - office.geometry.x, y - office.geometry.y), weights=w)
        mx, my = np.average(x, weights=w), np.average(y, weights=w)
        best = np.average(np.hypot(x - mx, y - my), weights=w)
        # At the edge of its community, or a long walk for its residents.
        badly.append(edge < 0.05 * np.sqrt(polygon.area) or walk > 1.6 * best)
    share = float(np.mean(badly))
    assert BADLY_PLACED_SHARE - 0.1 <= share <= BADLY_PLACED_SHARE + 0.12, share
