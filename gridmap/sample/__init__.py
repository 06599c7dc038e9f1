"""The Nan'an (南岸区, Chongqing) sample district: real divisions, generated city below them.

:func:`build_sample` writes the generated layers to files and imports them with the same
importer users run (no back door), into a new workspace that replaces ``out`` only when
complete.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

import geopandas as gpd
import pyogrio
from rich.progress import Progress, SpinnerColumn, TimeElapsedColumn

from gridmap.errors import InputError
from gridmap.io.importer import ImportOptions, import_file
from gridmap.settings import Settings
from gridmap.store.gpkg import Workspace

__all__ = ["SAMPLE_LAYERS", "build_sample"]

# Import order matters: communities first (buildings are checked against them), units before
# buildings (a building's unit must exist).
SAMPLE_LAYERS = ("divisions", "units", "buildings", "roads", "staff", "offices", "landcover")


def build_sample(
    out: str | os.PathLike[str],
    *,
    seed: int = 0,
    settings: Settings | None = None,
    progress: bool = False,
) -> dict[str, Any]:
    """Generate Nan'an for ``seed`` and import it into the workspace ``out`` (replaced).

    Returns {"workspace", "seed", "summary", "imports": [import reports as dicts]}.
    """
    from gridmap.sample.generate import generate_nanan

    settings = settings or Settings()
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    reports = []
    with (
        tempfile.TemporaryDirectory(prefix="gridmap-sample-") as tmp,
        Progress(
            SpinnerColumn(),
            "{task.description}",
            TimeElapsedColumn(),
            disable=not progress,
            transient=True,
        ) as bar,
    ):
        task = bar.add_task("generating Nan'an (南岸区)", total=len(SAMPLE_LAYERS) + 1)
        layers = generate_nanan(seed)
        bar.advance(task)
        staging = Workspace(Path(tmp) / "sample.gpkg")
        for name in SAMPLE_LAYERS:
            bar.update(task, description=f"importing {name}")
            source = Path(tmp) / f"{name}.gpkg"
            frame = layers[name]
            if isinstance(frame, gpd.GeoDataFrame):
                pyogrio.write_dataframe(frame, source, layer=name)
            else:
                source = source.with_suffix(".csv")
                frame.to_csv(source, index=False, encoding="utf-8")
            report = import_file(
                staging,
                source,
                name,
                settings=settings,
                options=ImportOptions(rejected_path=Path(tmp) / f"{name}.rejected.geojson"),
            )
            if report.rejected:
                first = report.rejected[0]
                raise InputError(
                    f"sample layer {name}: {len(report.rejected)} feature(s) rejected, first "
                    f"{first.id}: {first.detail} (a bug in the generator)"
                )
            reports.append(report.to_dict())
            bar.advance(task)
        os.replace(staging.path, out)
    workspace = Workspace(out)
    return {
        "workspace": str(out),
        "seed": seed,
        "summary": workspace.summary(),
        "imports": reports,
    }
