"""`gridmap publish --assign-staff`: every grid gets a head, the others are shared.

The hand-made district (two communities of two grids each), partitioned and published in a real
GeoPackage store, then staffed the way a community is: as many grid heads as grids, one police
officer for the whole community.
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import handmade
import pandas as pd
import pytest

from gridmap.cli.serve_commands import assign_community_staff
from gridmap.service.plans import partition_store
from gridmap.store import GpkgStore


def _staff(rows: list[tuple[str, str, str]]) -> pd.DataFrame:
    return pd.DataFrame(
        [
            {
                "id": sid,
                "name": f"某{sid}",
                "role": role,
                "phone_public": f"023-0000-{k:04d}",
                "phone_private": None,
                "duties": None,
                "community_code": community,
            }
            for k, (sid, role, community) in enumerate(rows)
        ]
    )


@pytest.fixture(scope="module")
def published(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("assign") / "w.gpkg"
    store = GpkgStore(path)
    handmade.fill(store)
    plan_id = partition_store(
        store,
        communities=None,
        target=3000,
        tolerance=0.2,
        weight="residents",
        seed=0,
        actor="test",
    )["plan"]
    store.publish([plan_id], actor="test")
    store.close()
    return path


def _held(store: GpkgStore) -> dict[str, dict[str, list[str]]]:
    """grid → role → staff ids."""
    out: dict[str, dict[str, list[str]]] = defaultdict(lambda: defaultdict(list))
    for a in store.staff_assignments():
        out[a.grid_code][a.role].append(a.staff_id)
    return out


def test_every_grid_gets_its_head_and_shares_the_police(published: Path, tmp_path: Path) -> None:
    copy = tmp_path / "w.gpkg"
    copy.write_bytes(published.read_bytes())
    store = GpkgStore(copy)
    C1, C2 = handmade.C1, handmade.C2
    store.write(
        {
            "staff": _staff(
                [
                    ("H1", "grid_head", C1),
                    ("H2", "grid_head", C1),
                    ("P1", "police", C1),
                    ("H3", "grid_head", C2),  # one head for two grids: shared
                    ("P2", "police", C2),
                    ("P3", "police", C2),
                ]
            )
        },
        replace=True,
        actor="test",
    )
    made = assign_community_staff(store, actor="test")
    held = _held(store)
    grids = sorted(store.grids_at()["code"])
    assert len(grids) == 4 and set(held) == set(grids)
    c1 = [g for g in grids if g.startswith(C1)]
    c2 = [g for g in grids if g.startswith(C2)]
    assert [held[g]["grid_head"] for g in c1] == [["H1"], ["H2"]]
    assert [held[g]["police"] for g in c1] == [["P1"], ["P1"]]
    assert [held[g]["grid_head"] for g in c2] == [["H3"], ["H3"]]
    assert [held[g]["police"] for g in c2] == [["P2"], ["P3"]]
    assert made == 8
    # A role a grid already has is kept: a second run assigns nothing.
    assert assign_community_staff(store, actor="test") == 0
    # Only the communities asked for.
    store.unassign_staff("H1", c1[0], "grid_head", actor="test")
    assert assign_community_staff(store, actor="test", communities=[C2]) == 0
    assert assign_community_staff(store, actor="test", communities=[C1]) == 1
    store.close()
