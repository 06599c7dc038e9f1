"""Balanced contiguous partition: gridmap against spopt, pymetis and gerrychain, in one run.

    .venv/bin/python bench/partition.py [--timeout 120] [--only a,b,c]

gridmap runs twice: as `gridmap partition` does (inner band ±10% of the target: compact within
it; then polished within the whole band) and "gridmap-even" (inner_band=0.2: ±4%, nearly every
part within ±5%, polished within that).

Peers (pip install -r bench/requirements.txt; never runtime dependencies of gridmap):
- spopt MaxPHeuristic (threshold: 95% of the target, attributes: centroid x, y), Skater
  (n_clusters = parts, attributes x, y, floor: half the mean units per part — it cannot bound
  weights) and RegionKMeansHeuristic (n_clusters = parts, x, y; no weight constraint);
- pymetis.part_graph with contiguous=True (vertex weights ×100, edge weights: shared metres);
- gerrychain recursive_tree_part, epsilon 0.05, each graph's target its mean weight per part
  (its algorithm cannot finish unless every part can lie within epsilon of the target).
- on building cases, pymetis-whole and gerrychain-whole: the same on the building graph with
  each compound under the band's maximum contracted to one node (weights and areas summed),
  so that, like gridmap, they cannot cut it; gerrychain's epsilon is widened 5% → 10% → 20%
  → 30% → 50% where no tree cut reaches it (the table names the epsilons used).

Data: (a) a jittered Voronoi tessellation of 2,000 units with lognormal weights into 200
parts; (b) a 10,000-cell community (60% empty land) into round(total/3000) parts; (c) the
Nan'an sample: the atom graph of each community, built as `gridmap partition` builds it
(heavy units split, canvas, atoms; gridmap's count of grids), target 3,000 residents.
Building cases (bench/buildings.py): (d) Prague Bubeneč, 144 real footprints shipped in
momepy's wheel, 5 floors each (target 3,000, and (e) 1,000: another city's number);
(f) three generated Chongqing tower communities (compounds of 18–33-floor towers). There
gridmap runs the whole `gridmap partition` pipeline on the buildings (canvas included, in its
time), the peers the building-level graph (the buildings' Voronoi cells), and every method is
measured on that same graph: balance, contiguity, Polsby-Popper of the buildings' cells of
each part; compounds under the maximum cut; buildings cut (gridmap's grid polygons against the
footprints; 0 for the peers by construction).

Each (method, data set) runs in its own process with a time limit, after one untimed call on
a tiny graph (imports, first-call costs); what does not finish is reported as such. Times
count the solver call only (not building the peer's graph object).
Prints a table; nothing is asserted.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import pickle
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import shapely

sys.path.insert(0, str(Path(__file__).parent))
import buildings  # bench/buildings.py, beside this file

from gridmap.engine.graph import Adjacency, adjacency, connected_parts
from gridmap.engine.partition.rules import POLISH_BAND
from gridmap.engine.partition.solve import n_parts_for, partition_graph

METHODS = [
    "gridmap",
    "gridmap-even",
    "pymetis",
    "gerrychain",
    "pymetis-whole",
    "gerrychain-whole",
    "spopt-maxp",
    "spopt-skater",
    "spopt-rkm",
]
SPOPT = [m for m in METHODS if m.startswith("spopt")]
# gerrychain retries for ever where no part can come within epsilon: with many graphs, each
# gets this long (a graph not done in time counts as not solved)
PER_PROBLEM_S = 2.0


# --- data -------------------------------------------------------------------------------------


def problem(polys: np.ndarray, weights: np.ndarray, k: int, target: float) -> dict[str, Any]:
    """Everything a method needs about one graph to partition."""
    adj = adjacency(polys)
    c = shapely.centroid(polys)
    return {
        "n": len(polys),
        "left": adj.left,
        "right": adj.right,
        "shared": adj.shared,
        "weights": np.asarray(weights, dtype=float),
        "xy": np.column_stack([shapely.get_x(c), shapely.get_y(c)]),
        "areas": shapely.area(polys),
        "perimeters": shapely.length(polys),
        "k": int(min(k, len(polys))),
        "target": float(target),
    }


def voronoi_cells(
    rng: np.random.Generator, n: int, side: float, jitter: float = 0.35
) -> np.ndarray:
    """About ``n`` cells of a jittered square lattice's Voronoi diagram, clipped to a box."""
    m = math.ceil(math.sqrt(n))
    g = np.stack(np.meshgrid(np.arange(m), np.arange(m)), -1).reshape(-1, 2)[:n]
    pts = (g + 0.5 + rng.uniform(-jitter, jitter, g.shape)) * (side / m)
    box = shapely.box(0, 0, side, side)
    cells = shapely.get_parts(shapely.voronoi_polygons(shapely.multipoints(pts), extend_to=box))
    cells = shapely.intersection(cells, box)
    return cells[~shapely.is_empty(cells)]


def data_a() -> list[dict[str, Any]]:
    rng = np.random.default_rng(0)
    cells = voronoi_cells(rng, 2000, 4500.0)
    w = rng.lognormal(0.0, 0.6, len(cells))
    return [problem(cells, w, 200, w.sum() / 200)]


def data_b() -> list[dict[str, Any]]:
    rng = np.random.default_rng(1)
    cells = voronoi_cells(rng, 10_000, 2000.0)
    built = rng.random(len(cells)) < 0.4
    w = np.where(built, rng.lognormal(0.0, 1.0, len(cells)), 0.0)
    w *= 45_000 / w.sum()
    return [problem(cells, w, n_parts_for(w.sum(), 3000), 3000.0)]


def data_c() -> list[dict[str, Any]]:
    """The atom graphs gridmap itself partitions: every community of the Nan'an sample, its
    heavy units split and its canvas built exactly as `gridmap partition` does."""
    from gridmap.engine.partition.community import community_graph
    from gridmap.sample import build_sample
    from gridmap.store.gpkg import Workspace

    path = Path(tempfile.mkdtemp(prefix="gridmap-bench-sample-")) / "nanan.gpkg"
    build_sample(path)
    ws = Workspace(path)
    div = ws.read("divisions")
    comms = div[div["level"] == "community"]
    buildings, units, roads = ws.read("buildings"), ws.read("units"), ws.read("roads")
    b_tree = shapely.STRtree(buildings.geometry.values)
    u_tree = shapely.STRtree(units.geometry.values)
    r_tree = shapely.STRtree(roads.geometry.values)
    out = []
    for code, geom in zip(comms["code"], comms.geometry, strict=True):
        g = community_graph(
            code,
            geom,
            buildings.iloc[b_tree.query(geom, predicate="intersects")],
            units.iloc[u_tree.query(geom, predicate="intersects")],
            roads=roads.iloc[r_tree.query(geom, predicate="intersects")],
        )
        if g.graph.n < 2:
            continue
        out.append(
            {
                "n": g.graph.n,
                "left": g.graph.left,
                "right": g.graph.right,
                "shared": g.graph.shared,
                "weights": g.weights,
                "xy": g.centroids,
                "areas": g.areas,
                "perimeters": g.perimeters,
                "k": int(g.n_parts),
                "target": 3000.0,
            }
        )
    return out


def _with_count(case: dict[str, Any], target: float) -> dict[str, Any]:
    k = min(n_parts_for(float(case["weights"].sum()), target, 0.2), case["n"])
    return {**case, "k": k, "target": target, "cap_s": 60.0}


def data_d_building(target: float) -> list[dict[str, Any]]:
    return [_with_count(buildings.prague(), target)]


def data_f() -> list[dict[str, Any]]:
    return [_with_count(buildings.towers(seed), 3000.0) for seed in (0, 1, 2)]


DATA = {
    "a": ("(a) Voronoi 2,000 → 200", data_a),
    "b": ("(b) 10,000 cells", data_b),
    "c": ("(c) Nan'an sample", data_c),
    "d": ("(d) Prague, real buildings, target 3,000", lambda: data_d_building(3000.0)),
    "e": ("(e) Prague, real buildings, target 1,000", lambda: data_d_building(1000.0)),
    "f": ("(f) Chongqing towers, 3 communities", data_f),
}
BUILDING_DATA = {"d", "e", "f"}
BUILDING_METHODS = ["gridmap", "pymetis", "gerrychain", "pymetis-whole", "gerrychain-whole"]


# --- methods (run in a worker process) ---------------------------------------------------------


def run_gridmap(
    p: dict[str, Any], inner_band: float = 0.5, polish_band: float | None = POLISH_BAND
) -> np.ndarray:
    if "buildings" in p:  # a building case: the whole pipeline, canvas included
        labels, extra = buildings.run_gridmap_pipeline(p)
        _EXTRA.update(extra)
        return labels
    adj = Adjacency(p["n"], p["left"], p["right"], p["shared"])
    return partition_graph(
        p["weights"],
        adj,
        p["k"],
        centroids=p["xy"],
        areas=p["areas"],
        perimeters=p["perimeters"],
        target=p["target"],
        tolerance=0.2,
        seed=0,
        inner_band=inner_band,
        polish_band=polish_band,
    ).labels


def run_gridmap_even(p: dict[str, Any]) -> np.ndarray:
    return run_gridmap(p, inner_band=0.2, polish_band=None)  # polished within its ±4%


def run_pymetis(p: dict[str, Any]) -> np.ndarray:
    import pymetis

    if p["k"] == 1:
        return np.zeros(p["n"], dtype=int)
    n = p["n"]
    src = np.concatenate([p["left"], p["right"]])
    dst = np.concatenate([p["right"], p["left"]])
    ew = np.maximum(np.round(np.concatenate([p["shared"], p["shared"]])), 1).astype(int)
    order = np.lexsort((dst, src))
    xadj = np.concatenate([[0], np.cumsum(np.bincount(src, minlength=n))])
    vw = np.maximum(np.round(p["weights"] * 100), 0).astype(int)
    _, parts = pymetis.part_graph(
        p["k"],
        xadj=xadj.tolist(),
        adjncy=dst[order].tolist(),
        vweights=vw.tolist(),
        eweights=ew[order].tolist(),
        contiguous=True,
    )
    return np.asarray(parts)


def _networkx(p: dict[str, Any]):  # type: ignore[no-untyped-def]
    import networkx as nx

    g = nx.Graph()
    for i in range(p["n"]):
        g.add_node(i, pop=float(p["weights"][i]))
    g.add_edges_from(zip(p["left"].tolist(), p["right"].tolist(), strict=True))
    return g


def run_gerrychain(p: dict[str, Any]) -> np.ndarray:
    from gerrychain import Graph
    from gerrychain.partition.initial_partition_generators import recursive_tree_part

    if p["k"] == 1:
        return np.zeros(p["n"], dtype=int)
    g = Graph.from_networkx(_networkx(p))
    start = time.perf_counter()
    mean = float(p["weights"].sum()) / p["k"]
    flips = recursive_tree_part(g, range(p["k"]), mean, "pop", 0.05, rng=0)
    _clock(start)
    return np.array([flips[i] for i in range(p["n"])])


def run_gerrychain_ladder(p: dict[str, Any]) -> np.ndarray:
    """gerrychain at ε 5%, and where no tree cut reaches that (whole compounds of 1,100–3,600
    residents rarely can), at 10%, 20% (the band itself), then 30% and 50% (a plan with parts
    out of band, where none can have them all in); ``epsilon`` says which."""
    from functools import partial

    from gerrychain import Graph
    from gerrychain.partition.initial_partition_generators import recursive_tree_part
    from gerrychain.tree import bipartition_tree

    if p["k"] == 1:
        return np.zeros(p["n"], dtype=int)
    g = Graph.from_networkx(_networkx(p))
    mean = float(p["weights"].sum()) / p["k"]
    start = time.perf_counter()
    for eps in (0.05, 0.10, 0.20, 0.30, 0.50):
        cut = partial(bipartition_tree, max_attempts=2000)
        try:
            flips = recursive_tree_part(
                g, range(p["k"]), mean, "pop", eps, bipartition_tree_fn=cut, rng=0
            )
        except Exception:  # no balanced cut found in max_attempts trees: a wider epsilon
            continue
        _clock(start)
        _EXTRA["epsilon"] = eps
        return np.array([flips[i] for i in range(p["n"])])
    raise RuntimeError("no partition within ε 50%")


def _spopt_inputs(p: dict[str, Any]):  # type: ignore[no-untyped-def]
    import geopandas as gpd
    from libpysal.weights import W

    nb: dict[int, list[int]] = {i: [] for i in range(p["n"])}
    for a, b in zip(p["left"].tolist(), p["right"].tolist(), strict=True):
        nb[a].append(b)
        nb[b].append(a)
    w = W(nb, silence_warnings=True)
    gdf = gpd.GeoDataFrame(
        {"x": p["xy"][:, 0], "y": p["xy"][:, 1], "pop": p["weights"]},
        geometry=shapely.points(p["xy"]),
    )
    return gdf, w


def run_spopt(method: str, p: dict[str, Any]) -> np.ndarray:
    from spopt.region import MaxPHeuristic, RegionKMeansHeuristic, Skater

    if p["k"] == 1:
        return np.zeros(p["n"], dtype=int)
    gdf, w = _spopt_inputs(p)
    if method == "spopt-maxp":
        model = MaxPHeuristic(gdf, w, ["x", "y"], "pop", 0.95 * p["target"])
    elif method == "spopt-skater":
        floor = max(1, p["n"] // p["k"] // 2)
        model = Skater(gdf, w, ["x", "y"], n_clusters=p["k"], floor=floor, islands="ignore")
    else:
        model = RegionKMeansHeuristic(gdf[["x", "y"]].to_numpy(), p["k"], w)
    start = time.perf_counter()
    model.solve()
    _clock(start)
    return np.asarray(model.labels_)


def contract_compounds(p: dict[str, Any]) -> tuple[dict[str, Any], np.ndarray]:
    """The building graph with each compound under the band's maximum made one node.

    gridmap never cuts a closed compound (封闭小区) that fits in one grid; a peer run on the
    contracted graph obeys the same rule (it cannot cut a node). Weights and areas are summed,
    the node's perimeter is its cells' outer boundary, shared lengths between nodes summed.
    Returns the contracted problem and each building's node.
    """
    unit_of, weights = p["unit_of"], p["weights"]
    node = np.arange(p["n"])
    maximum = p["target"] * 1.2
    for uid in sorted(set(unit_of) - {""}):
        members = np.flatnonzero(unit_of == uid)
        if weights[members].sum() <= maximum:
            node[members] = members[0]
    node = np.unique(node, return_inverse=True)[1]
    m = int(node.max()) + 1
    a, b = node[p["left"]], node[p["right"]]
    inside = a == b
    inner = np.bincount(a[inside], weights=p["shared"][inside], minlength=m)
    lo, hi = np.minimum(a[~inside], b[~inside]), np.maximum(a[~inside], b[~inside])
    pairs, where = np.unique(np.column_stack([lo, hi]), axis=0, return_inverse=True)
    shared = np.bincount(where.ravel(), weights=p["shared"][~inside], minlength=len(pairs))
    areas = np.bincount(node, weights=p["areas"], minlength=m)
    xy = (
        np.column_stack(
            [np.bincount(node, weights=p["xy"][:, i] * p["areas"], minlength=m) for i in (0, 1)]
        )
        / areas[:, None]
    )
    small = {
        "n": m,
        "left": pairs[:, 0],
        "right": pairs[:, 1],
        "shared": shared,
        "weights": np.bincount(node, weights=weights, minlength=m),
        "xy": xy,
        "areas": areas,
        "perimeters": np.bincount(node, weights=p["perimeters"], minlength=m) - 2 * inner,
        "k": min(p["k"], m),
        "target": p["target"],
    }
    return small, node


def whole(run: Any, raw: Any) -> Any:
    """``run`` on the graph with compounds contracted, its labels spread back to buildings
    (``raw`` where there is no compound to contract: the peer's own row)."""

    def run_whole(p: dict[str, Any]) -> np.ndarray:
        small, node = contract_compounds(p) if "unit_of" in p else (p, None)
        if node is None or small["n"] == p["n"]:
            return raw(p)
        return np.asarray(run(small))[node]

    return run_whole


_SOLVE_TIME: list[float] = []
_EXTRA: dict[str, Any] = {}  # what a method reports besides labels (buildings cut)


def _clock(start: float) -> None:
    """Record a solver-only time (peers whose graph object is built before the call)."""
    _SOLVE_TIME.append(time.perf_counter() - start)


class _Timeout(Exception):
    pass


def _warm_up(run: Any) -> None:
    """One untimed call on a tiny graph: every method's imports and first-call costs."""
    cells = np.array([shapely.box(i, j, i + 1, j + 1) for i in range(3) for j in range(3)])
    tiny = problem(cells, np.arange(1.0, 10.0), 2, 22.5)
    with contextlib.suppress(Exception):  # a failure recurs, and is reported, on real graphs
        run(tiny)


def worker(method: str, path: str, out: str) -> None:
    """Run ``method`` on every problem of the pickle at ``path``; write labels and times."""
    problems = pickle.loads(Path(path).read_bytes())
    runners = {
        "gridmap": run_gridmap,
        "gridmap-even": run_gridmap_even,
        "pymetis": run_pymetis,
        "gerrychain": run_gerrychain,
        "pymetis-whole": whole(run_pymetis, run_pymetis),
        "gerrychain-whole": whole(run_gerrychain_ladder, run_gerrychain),
    }
    run = runners.get(method, lambda p: run_spopt(method, p))

    def alarm(*_: object) -> None:
        raise _Timeout

    _warm_up(run)  # imports and first calls outside the clock and the alarm
    signal.signal(signal.SIGALRM, alarm)
    results = []
    for p in problems:
        # one graph: the process's limit only
        cap = p.get("cap_s", PER_PROBLEM_S) if len(problems) > 1 else 0.0
        _SOLVE_TIME.clear()
        _EXTRA.clear()
        start = time.perf_counter()
        signal.setitimer(signal.ITIMER_REAL, cap)
        try:
            labels = run(p).tolist()
            error = None
        except _Timeout:
            labels, error = None, f"over {PER_PROBLEM_S:.0f} s"
        except Exception as exc:  # a peer failing on one problem is a result, not a crash
            labels, error = None, f"{type(exc).__name__}: {str(exc)[:80]}"
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
        spent = (
            _SOLVE_TIME[0] if _SOLVE_TIME and labels is not None else time.perf_counter() - start
        )
        results.append({"labels": labels, "seconds": spent, "error": error, **_EXTRA})
        Path(out).write_text(json.dumps(results))  # after each graph: a timeout keeps the rest


# --- measuring ----------------------------------------------------------------------------------


def measure(problems: list[dict[str, Any]], results: list[dict[str, Any]]) -> dict[str, Any]:
    devs, pps, connected, n_parts, solved = [], [], [], 0, 0
    units_cut = units_whole = bcut = 0
    for p, r in zip(problems, results, strict=True):
        if r["labels"] is None:
            continue
        solved += 1
        lab = np.unique(np.asarray(r["labels"]), return_inverse=True)[1]
        k = int(lab.max()) + 1
        n_parts += k
        adj = Adjacency(p["n"], p["left"], p["right"], p["shared"])
        weight = np.bincount(lab, weights=p["weights"], minlength=k)
        devs.append((weight - p["target"]) / p["target"])
        inside = lab[adj.left] == lab[adj.right]
        per = np.bincount(lab, weights=p["perimeters"], minlength=k) - 2 * np.bincount(
            lab[adj.left[inside]], weights=adj.shared[inside], minlength=k
        )
        pps.append(4 * np.pi * np.bincount(lab, weights=p["areas"], minlength=k) / per**2)
        if "single_part" in r:  # gridmap's own grid polygons (building cases)
            connected.append(r["single_part"])
        else:
            connected.append([connected_parts(adj, lab == q).max() == 0 for q in range(k)])
        if "unit_of" in p:
            cut, whole = buildings.compounds_cut(p, lab, p["target"] * 1.2)
            units_cut, units_whole = units_cut + cut, units_whole + whole
            bcut += int(r.get("buildings_cut", 0))
    if not solved:
        return {"solved": 0}
    dev = np.abs(np.concatenate(devs))
    return {
        "solved": solved,
        "parts": n_parts,
        "in20": float(np.mean(dev <= 0.2)),
        "in5": float(np.mean(dev <= 0.05)),
        "worst": float(dev.max()),
        "contiguous": float(np.mean(np.concatenate(connected))),
        "pp": float(np.mean(np.concatenate(pps))),
        "seconds": float(sum(r["seconds"] for r in results if r["labels"] is not None)),
        "units_cut": f"{units_cut}/{units_whole}" if "unit_of" in problems[0] else "–",
        "buildings_cut": str(bcut) if "unit_of" in problems[0] else "–",
        "epsilon": sorted({r["epsilon"] for r in results if r.get("epsilon") is not None}),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--timeout", type=float, default=120.0, help="seconds per method and data set"
    )
    parser.add_argument("--only", default="a,b,c", help="data sets, e.g. a,b")
    parser.add_argument(
        "--methods",
        default=None,
        help=f"default: all; on building cases ({','.join(sorted(BUILDING_DATA))}) "
        f"{','.join(BUILDING_METHODS)}",
    )
    parser.add_argument("--worker", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(*args.worker)
        return
    tmp = Path(tempfile.mkdtemp(prefix="gridmap-bench-partition-"))
    wall = time.perf_counter()
    rows = []
    gave_up: dict[str, int] = {}  # method → size of the largest graph it did not finish
    for key in args.only.split(","):
        title, build = DATA[key]
        try:
            problems = build()
        except ImportError as exc:
            print(f"{title}: skipped ({exc})")
            continue
        units = sum(p["n"] for p in problems)
        asked = sum(p["k"] for p in problems)
        print(
            f"{title}: {len(problems)} graph(s), {units:,} units, {asked:,} parts asked", flush=True
        )
        path = tmp / f"{key}.pickle"
        path.write_bytes(pickle.dumps(problems))
        largest = max(p["n"] for p in problems)
        methods = args.methods or ",".join(BUILDING_METHODS if key in BUILDING_DATA else METHODS)
        for method in methods.split(","):
            if gave_up.get(method, largest + 1) <= largest:
                rows.append((title, method, "skipped: did not finish on smaller graphs"))
                continue
            out = tmp / f"{key}-{method}.json"
            cmd = [sys.executable, __file__, "--worker", method, str(path), str(out)]
            try:
                subprocess.run(cmd, timeout=args.timeout, check=True, capture_output=True)
            except subprocess.TimeoutExpired:
                done = json.loads(out.read_text()) if out.exists() else []
                note = f"did not finish in {args.timeout:.0f} s"
                if done:
                    note += f" ({len(done)} of {len(problems)} graphs done)"
                rows.append((title, method, note))
                gave_up[method] = min(gave_up.get(method, largest), largest)
                print(f"  {method}: {note}", flush=True)
                continue
            except subprocess.CalledProcessError as exc:
                rows.append((title, method, "crashed: " + exc.stderr.decode()[-120:].strip()))
                continue
            stats = measure(problems, json.loads(out.read_text()))
            stats["of"] = len(problems)
            rows.append((title, method, stats))
            print(f"  {method}: {stats.get('seconds', 0):.2f} s", flush=True)
    print()
    print_table(rows)
    print(f"\nbench wall time {time.perf_counter() - wall:.0f} s")


def print_table(rows: list[tuple[str, str, Any]]) -> None:
    head = (
        "| data | method | solved | parts | time (s) | in ±20% | in ±5% | worst dev "
        "| contiguous | mean PP | speed vs spopt | PP vs spopt | compounds cut | buildings cut |"
    )
    print(head)
    print("|---" * 14 + "|")
    by_data: dict[str, list[tuple[str, Any]]] = {}
    for title, method, stats in rows:
        by_data.setdefault(title, []).append((method, stats))
    for title, entries in by_data.items():
        finished = [
            s
            for m, s in entries
            if m in SPOPT and isinstance(s, dict) and s.get("solved") == s.get("of")
        ]
        ref = min(finished, key=lambda s: s["seconds"]) if finished else None
        for method, s in entries:
            if not isinstance(s, dict):
                print(f"| {title} | {method} | {s} |" + " |" * 11)
                continue
            if not s.get("solved"):
                print(f"| {title} | {method} | 0/{s['of']} |" + " |" * 11)
                continue
            speed = f"{ref['seconds'] / s['seconds']:.1f}×" if ref and s["seconds"] > 0 else "–"
            if s.get("epsilon"):  # the ε gerrychain needed on each graph
                method += " (ε " + ", ".join(f"{e:.0%}" for e in s["epsilon"]) + ")"
            ppr = f"{s['pp'] / ref['pp']:.2f}" if ref else "–"
            print(
                f"| {title} | {method} | {s['solved']}/{s['of']} | {s['parts']} "
                f"| {s['seconds']:.2f} | {s['in20']:.1%} | {s['in5']:.1%} | {s['worst']:.1%} "
                f"| {s['contiguous']:.1%} | {s['pp']:.3f} | {speed} | {ppr} "
                f"| {s['units_cut']} | {s['buildings_cut']} |"
            )


if __name__ == "__main__":
    main()
