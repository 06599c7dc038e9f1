"""``gridmap repair``: mend a hand-drawn grid layer onto the workspace's canvas."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from gridmap.cli._app import JsonOpt, WorkspaceOpt, app, emit_json, err, fail, out, settings
from gridmap.errors import GridmapError, InputError


@app.command("repair")
def repair_command(
    grids: Annotated[Path, typer.Option("--grids", help="The hand-drawn grid layer.")],
    out_file: Annotated[Path, typer.Option("--out", help="Where to write the mended grids.")],
    workspace: WorkspaceOpt = None,
    code_field: Annotated[str, typer.Option(help="Column of --grids holding the code.")] = "code",
    tolerance: Annotated[
        float,
        typer.Option(
            help="m² per cell: a change up to this is mending (a gap, an overlap, a sliver, an "
            "edge that does not match); larger changes are listed as beyond it."
        ),
    ] = 100.0,
    as_json: JsonOpt = False,
) -> None:
    """Mend gaps, overlaps, slivers and mismatched edges: every grid snapped to whole atoms of
    the canvas, every change listed with its area. `gridmap check --grids OUT --workspace W`
    then finds no gap, overlap, sliver or mismatched edge."""
    import geopandas as gpd

    from gridmap.io.grid_layers import read_grid_file
    from gridmap.io.grid_repair import repair_grids, write_grids
    from gridmap.store import GpkgStore

    cfg = settings()
    path = workspace or cfg.workspace
    try:
        if not tolerance >= 0:
            raise InputError(f"--tolerance must be >= 0 m²; got {tolerance}")
        if not Path(path).exists():
            raise InputError(f"{path}: no such workspace")
        drawn = read_grid_file(grids, code_field)
        missing = drawn["code"].isna()
        if missing.any():
            rows = drawn.index[missing].tolist()[:20]
            raise InputError(
                f"{grids}: {int(missing.sum())} grid(s) have no {code_field} (rows {rows})"
            )
        with GpkgStore(path) as store:
            result = repair_grids(
                gpd.GeoDataFrame(drawn, crs=4326),
                store,
                target=cfg.target,
                tolerance=cfg.tolerance,
                metric_epsg=cfg.metric_epsg,
            )
        write_grids(result.grids, out_file)
    except GridmapError as exc:
        fail(exc, as_json)
    changes = result.changes
    beyond = changes[changes["area_m2"] > tolerance]
    summary = result.to_dict() | {
        "out": str(out_file),
        "tolerance_m2": tolerance,
        "changed_m2": float(changes["area_m2"].sum()),
        "beyond_tolerance": len(beyond),
    }
    if as_json:
        emit_json(summary)
        return
    reasons = ", ".join(f"{n} {r}" for r, n in summary["by_reason"].items() if n)
    out.print(
        f"{grids} → {out_file}: {summary['grids']} grids; {len(changes)} cell(s) changed "
        f"({reasons or 'none'}), {summary['changed_m2']:,.1f} m² in all; "
        f"{len(beyond)} change(s) above {tolerance:g} m²"
    )
    for row in changes.sort_values("area_m2", ascending=False).head(30).to_dict("records"):
        mark = " (beyond the tolerance)" if row["area_m2"] > tolerance else ""
        out.print(
            f"  {row['reason']}: cell {row['cell_id']} (atom {row['atom_id']}) "
            f"{row['from'] or 'no grid'} → {row['to']}: {row['area_m2']:,.1f} m²{mark}",
            highlight=False,
        )
    if len(changes) > 30:
        out.print(f"  … and {len(changes) - 30} more (see --json)")
    for note in summary["notes"]:
        err.print(f"  note: {note}", highlight=False)
