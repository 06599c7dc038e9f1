"""An edit's validation report agrees with ``gridmap check --plan`` on the same revision.

The edit endpoint checks only the community it edits (a tenth of a second, where the whole
district takes two); that shortcut is sound only when it finds what the full check finds there.
On a draft copy of the published sample (seed 0), random moves, merges and splits go through
the API; after each, the edit's report and the full check of the new head revision must name
the same issues (kind and grids) in the edited community.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pytest
import shapely
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from published import ACTOR, SECRET, api_settings, sample_gpkg

from gridmap.api import create_app
from gridmap.api.auth import hash_password, issue_token
from gridmap.service.plans import coverage_report
from gridmap.store import GpkgStore

__all__ = ["sample_gpkg"]  # fixtures of the published sample, imported for pytest to find

NANHU = "500108002001"  # 南湖社区


@dataclass
class Drafting:
    """An app over a copy of the published sample, a planner's headers and the store."""

    client: TestClient
    store: GpkgStore
    path: Path
    headers: dict[str, str]

    def draft(self) -> str:
        """A new draft copy of plan 1 (every community, as partitioned with seed 0)."""
        return self.store.copy_plan("1", name="edit checks", actor=ACTOR).plan_id

    def edit(self, plan_id: str, body: dict[str, Any]) -> Any:
        head = self.store.plan(plan_id).head
        body = {"base_revision": head, **body}
        return self.client.post(f"/api/plans/{plan_id}/edits", json=body, headers=self.headers)


@pytest.fixture(scope="module")
def drafting(sample_gpkg: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Drafting]:
    path = tmp_path_factory.mktemp("edit-checks") / "nanan.gpkg"
    shutil.copyfile(sample_gpkg, path)
    store = GpkgStore(path)
    user = store.add_user("paula", "planner", hash_password("pw"), actor=ACTOR)
    headers = {"Authorization": f"Bearer {issue_token(user, SECRET, 60)}"}
    try:
        with TestClient(create_app(api_settings(workspace=path))) as client:
            yield Drafting(client, store, path, headers)
    finally:
        store.close()


def _issues(report: dict[str, Any] | Any, community: str) -> set[tuple[str, tuple[str, ...]]]:
    """(kind, grids) of the issues naming a grid of ``community``."""
    issues = report["issues"] if isinstance(report, dict) else [i.to_dict() for i in report.issues]
    return {
        (i["kind"], tuple(i["grids"]))
        for i in issues
        if any(str(g).startswith(community) for g in i["grids"])
    }


def assert_edit_agrees_with_full_check(d: Drafting, plan_id: str, answer: Any) -> None:
    assert answer.status_code == 201, answer.text
    body = answer.json()
    (community,) = body["communities"]
    with GpkgStore(d.path) as store:
        full = coverage_report(store, plan_id, None, api_settings(workspace=d.path))
    assert _issues(body["report"], community) == _issues(full, community), (
        f"edit report: {[i['detail'] for i in body['report']['issues']]}; full check: "
        f"{[i.detail for i in full.issues if i.grids and i.grids[0].startswith(community)]}"
    )


def test_moving_a_nanhu_atom_validates_as_the_full_check_does(drafting: Drafting) -> None:
    # The case of issue 10, on the sample of its day: atom A0006 (282 residents) of 南湖社区 from
    # grid …003 to …001; the edit's report said "mismatched_edge" along a narrow inlet of the
    # community's own outline, where the full check, with the neighbouring community filling
    # the inlet, said ok. The sample has changed since: the heaviest atom of 南湖社区 lying on
    # an edge between two of its grids is moved instead (the first such move the engine takes).
    plan_id = drafting.draft()
    cells = drafting.store.revision(plan_id).cells
    nanhu = cells[cells["community_code"] == NANHU]
    weight = nanhu.groupby("atom_id")["residents"].sum()
    moves = sorted(_neighbours(nanhu), key=lambda m: (-int(weight[m[0]]), m))
    assert moves, "南湖社区 has more than one grid"
    for atom, _, to_grid in moves:
        answer = drafting.edit(plan_id, {"operation": "move", "atoms": [atom], "to_grid": to_grid})
        if answer.status_code == 201:
            break
        assert answer.status_code == 422, answer.text  # refused (it would cut its grid)
    assert answer.status_code == 201, answer.text
    assert answer.json()["report"]["ok"], answer.json()["report"]["issues"]
    assert_edit_agrees_with_full_check(drafting, plan_id, answer)


def _neighbours(cells: gpd.GeoDataFrame) -> list[tuple[str, str, str]]:
    """(atom, its grid, a grid its cells share an edge with), sorted."""
    geoms = cells.geometry.values
    left, right = shapely.STRtree(geoms).query(geoms, predicate="intersects")
    grid = cells["grid"].to_numpy()
    other = grid[left] != grid[right]
    left, right = left[other], right[other]
    edge = shapely.length(shapely.intersection(geoms[left], geoms[right])) > 0
    atoms = cells["atom_id"].to_numpy()
    return sorted(
        {(atoms[a], grid[a], grid[b]) for a, b in zip(left[edge], right[edge], strict=True)}
    )


def _random_edit(
    rng: np.random.Generator, cells: gpd.GeoDataFrame, kind: str
) -> dict[str, Any] | None:
    pairs = _neighbours(cells)
    if kind == "move" and pairs:
        atom, _, to = pairs[int(rng.integers(len(pairs)))]
        return {"operation": "move", "atoms": [atom], "to_grid": to}
    if kind == "merge" and pairs:
        _, a, b = pairs[int(rng.integers(len(pairs)))]
        return {"operation": "merge", "grids": [a, b]}
    atoms = cells.groupby("grid")["atom_id"].nunique()
    splittable = sorted(atoms.index[atoms > 1])
    if not splittable:
        return None
    grid = splittable[int(rng.integers(len(splittable)))]
    return {"operation": "split", "grid": str(grid), "seed": int(rng.integers(1000))}


@settings(
    max_examples=4,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(
    pick=st.integers(0, 10_000),
    kinds=st.lists(st.sampled_from(["move", "merge", "split"]), min_size=2, max_size=2),
    seed=st.integers(0, 2**32 - 1),
)
def test_edit_reports_agree_with_the_full_check(
    drafting: Drafting, pick: int, kinds: list[str], seed: int
) -> None:
    rng = np.random.default_rng(seed)
    plan_id = drafting.draft()
    cells = drafting.store.revision(plan_id).cells
    communities = sorted(cells["community_code"].unique())
    community = communities[pick % len(communities)]
    checked = 0
    for kind in kinds:
        cells = drafting.store.revision(plan_id).cells
        mine = cells[cells["community_code"] == community]
        answer = None
        for _ in range(10):  # a random edit may be refused (it would cut a grid in two)
            body = _random_edit(rng, mine, kind)
            answer = None if body is None else drafting.edit(plan_id, body)
            if answer is None or answer.status_code != 422:
                break
        if answer is None or answer.status_code == 422:
            continue
        assert_edit_agrees_with_full_check(drafting, plan_id, answer)
        checked += 1
    # an example whose every edit was refused would check nothing
    assert checked, f"no edit of {kinds} in community {community} was accepted in 10 tries"
