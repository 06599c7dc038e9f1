"""A writer in its own process, for the contract suite's race and crash tests.

python child.py ENGINE TARGET race PLAN ACTOR CELL GRID READY GO
    Load the plan's head, touch READY, wait for GO, commit the head with CELL moved to GRID.
    On a conflict, reload the head and commit again. Prints one JSON line per attempt.
python child.py ENGINE TARGET bigwrite PLAN CELLS
    Commit a new revision of CELLS lattice cells (a write that takes seconds). Prints
    "start" before the commit and "done" after it.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from conftest import open_target
from storedata import grids_of, lattice, moved

from gridmap.store.contract import StaleRevisionError


def race(
    engine: str, target: str, plan: str, actor: str, cell: str, grid: str, ready: str, go: str
) -> None:
    store = open_target(engine, target)
    head = store.revision(plan)
    Path(ready).touch()
    while not Path(go).exists():
        time.sleep(0.005)
    base = head.info.number
    for _ in range(2):
        edited = moved(head.cells, cell, grid)
        try:
            made = store.commit(
                plan,
                base,
                edited,
                grids_of(edited),
                actor=actor,
                operation="move",
                detail={"cell": cell},
            )
        except StaleRevisionError as err:
            print(
                json.dumps(
                    {
                        "outcome": "conflict",
                        "base": base,
                        "winner": err.winner.number,
                        "winner_by": err.winner.created_by,
                        "message": str(err),
                    }
                ),
                flush=True,
            )
            head = store.revision(plan)
            base = head.info.number
            continue
        print(json.dumps({"outcome": "ok", "base": base, "number": made.number}), flush=True)
        break
    store.close()


def bigwrite(engine: str, target: str, plan: str, n: str) -> None:
    store = open_target(engine, target)
    base = store.plan(plan).head
    cells, grids = lattice(int(n))
    print("start", flush=True)
    store.commit(plan, base, cells, grids, actor="crasher", operation="import")
    print("done", flush=True)
    store.close()


if __name__ == "__main__":
    engine, target, action, *args = sys.argv[1:]
    {"race": race, "bigwrite": bigwrite}[action](engine, target, *args)
