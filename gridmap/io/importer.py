"""Import a source file into a workspace layer, accounting for every feature.

The steps: read (any format) → map fields → check required columns and ids (errors stop the
import before anything is written) → normalise values → CRS, swapped axes, datum → geometry
type and validity (repairs are reported) → estimates (residents) → checks against the other
layers (warnings) → write all-or-nothing. Rejected features go to a side file with their reason.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import shapely

from gridmap.errors import DuplicateIdError, InputError, MissingColumnError
from gridmap.io import checks
from gridmap.io.geometry import Verdicts, fix_geometry, to_lonlat
from gridmap.io.normalize import NORMALIZERS
from gridmap.io.readers import read_source
from gridmap.io.report import ImportReport, Issue
from gridmap.schema import LAYERS, Layer, layer
from gridmap.settings import Settings
from gridmap.store.gpkg import Workspace

__all__ = ["ImportOptions", "import_file"]

DATUMS = ("wgs84", "gcj02", "bd09")

# Column names seen in Chinese sources, read as the schema's names when the schema's are absent.
_ALIASES = {
    "id": ("编号", "fid", "objectid", "osm_id"),
    "code": ("编码", "代码", "区划代码", "adcode"),
    "name": ("名称", "名字", "姓名"),
    "address": ("地址", "addr"),
    "floors": ("层数", "楼层", "levels", "building:levels"),
    "households": ("户数",),
    "residents": ("人口", "人数", "常住人口", "population"),
    "kind": ("类型",),
    "role": ("岗位", "职务"),
    "phone_public": ("电话", "公开电话", "phone"),
    "level": ("级别",),
    "parent_code": ("上级代码", "parent"),
    "class": ("等级", "highway", "fclass"),
}


@dataclass(frozen=True)
class ImportOptions:
    """How to read the source. Every field matches a ``gridmap import`` option."""

    field_map: Mapping[str, str] = field(default_factory=dict)  # target → source column
    datum: str = "wgs84"
    crs: str | int | None = None
    encoding: str | None = None
    swap_xy: bool = False
    replace: bool = False
    rejected_path: Path | None = None
    # False: when any feature is rejected, write nothing (the CLI's default; --allow-rejects).
    allow_rejects: bool = True


def import_file(
    workspace: Workspace,
    path: str | Path,
    layer_name: str,
    *,
    settings: Settings | None = None,
    options: ImportOptions | None = None,
) -> ImportReport:
    """Import ``path`` into ``layer_name`` of ``workspace`` and report on every feature.

    Raises :class:`MissingColumnError` or :class:`DuplicateIdError` (the workspace is not
    touched) for input that cannot be imported at all; everything else is a per-feature
    verdict in the returned :class:`ImportReport`.
    """
    settings = settings or Settings()
    options = options or ImportOptions()
    if options.datum not in DATUMS:
        raise InputError(f"--datum {options.datum!r}: choose one of {', '.join(DATUMS)}")
    if layer_name not in LAYERS:
        raise InputError(f"--layer {layer_name}: choose one of {', '.join(LAYERS)}")
    lyr = layer(layer_name)
    path = Path(path)
    source = str(path)
    read = read_source(path, layer_name, encoding=options.encoding)
    report = ImportReport(source=source, layer=layer_name, workspace=str(workspace.path))
    report.notes.extend(read.notes)
    report.read = len(read.frame) + len(read.skipped)
    for w in read.feature_warnings:
        report.warnings.append(Issue(w["kind"], w["detail"], w["id"], None, w["where"]))
    for s in read.skipped:
        report.rejected.append(
            Issue("unreadable", str(s["reason"]), str(s["id"]), None, str(s["where"]))
        )

    frame = read.frame
    if not lyr.geometry and isinstance(frame, gpd.GeoDataFrame):
        report.notes.append(f"geometry ignored: layer {lyr.name} has none")
        frame = pd.DataFrame(frame.drop(columns=frame.geometry.name))
    frame = _map_fields(frame, lyr, options.field_map, source, report)
    missing = [c for c in lyr.required if c not in frame.columns]
    if lyr.geometry and not read.has_geometry:
        raise InputError(
            f"{source}: no geometry; layer {lyr.name} needs {lyr.geometry}s "
            "(CSV: lon/lat columns or a WKT column)"
        )
    if missing and not (lyr.name == "divisions" and missing == ["code"]):
        raise MissingColumnError(source, missing, [c for c in frame.columns if c != "_where"])

    v = Verdicts(frame, lyr.id_column)
    frame = NORMALIZERS[lyr.name](frame, v, settings)
    _check_ids(frame, lyr, workspace, options.replace, source, v)

    if lyr.geometry:
        frame = to_lonlat(frame, options.crs, options.swap_xy, source, v, report.notes)
        metric = _metric_transform(frame, settings)
        if options.datum != "wgs84":
            frame = _convert_datum(frame, options.datum, v)
        frame = fix_geometry(frame, lyr.geometry, v, metric, report.notes)
        if lyr.name == "buildings":
            _estimate_residents(frame, v, settings, metric)
        _cross_checks(frame, lyr, workspace, v, settings, metric, options.replace)

    _fill_report(report, frame, v, lyr)
    rejected = frame[~v.alive]
    if len(rejected) or read.skipped:
        report.rejected_file = str(
            _write_rejected(rejected, v, read.skipped, workspace, path, lyr, options.rejected_path)
        )
    kept = frame[v.alive]
    if report.rejected and not options.allow_rejects:
        report.held_back = len(kept)
        return report
    report.imported = len(kept)
    if len(kept) or options.replace:
        workspace.write({lyr.name: kept}, replace=options.replace)
    if lyr.name == "grids" and len(kept):
        _adopt_as_plan(workspace, kept, source, settings, report)
    return report


def _adopt_as_plan(
    workspace: Workspace,
    grids: gpd.GeoDataFrame,
    source: str,
    settings: Settings,
    report: ImportReport,
) -> None:
    """Imported grids become a draft plan, snapped to the canvas (gridmap.io.grid_repair);
    the report lists every building whose grid changed in the snapping."""
    import getpass

    from gridmap.io.grid_repair import adopt_grids
    from gridmap.store import GpkgStore

    try:
        actor = getpass.getuser()
    except (KeyError, OSError):  # no login name (a container without an /etc/passwd entry)
        actor = "gridmap"
    try:
        with GpkgStore(workspace.path) as store:
            adopted = adopt_grids(
                grids[["code", "geometry"]],
                store,
                name=f"hand-drawn grids from {Path(source).name}",
                actor=actor,
                target=settings.target,
                tolerance=settings.tolerance,
                metric_epsg=settings.metric_epsg,
            )
    except InputError as exc:
        report.notes.append(f"the grids were not made a draft plan: {exc}")
        return
    report.snapped = adopted.pop("snapped")
    report.plan = adopted
    report.notes.append(
        f"draft plan {adopted['plan']}: {adopted['grids']} grids snapped to the canvas; "
        f"{adopted['changed_cells']} cell(s) and {len(report.snapped)} building(s) "
        "changed grid in the snapping"
    )


def _map_fields(frame, lyr: Layer, field_map, source: str, report: ImportReport):  # type: ignore[no-untyped-def]
    frame = frame.copy()
    for target, src in field_map.items():
        if target not in lyr.column_names:
            raise InputError(
                f"--field {target}={src}: layer {lyr.name} has no column {target}; "
                f"its columns are {', '.join(lyr.column_names)}"
            )
        if src not in frame.columns:
            raise InputError(
                f"{source}: --field {target}={src}: no column {src!r}; the file has "
                f"{', '.join(c for c in frame.columns if c != '_where')}"
            )
        if target in frame.columns and target != src:
            frame = frame.drop(columns=target)
        frame = frame.rename(columns={src: target})
    lowered = {str(c).lower(): c for c in frame.columns}
    for target in lyr.column_names:
        if target in frame.columns:
            continue
        for alias in _ALIASES.get(target, ()):
            if alias.lower() in lowered:
                frame = frame.rename(columns={lowered[alias.lower()]: target})
                report.notes.append(f"column {lowered[alias.lower()]!r} read as {target}")
                break
    return frame


def _check_ids(
    frame, lyr: Layer, workspace: Workspace, replace: bool, source: str, v: Verdicts
) -> None:
    ids = frame[lyr.id_column]
    v.reject(ids.isna(), "missing_id", f"no {lyr.id_column}")
    present = ids[ids.notna()]
    dup = present[present.duplicated(keep=False)]
    if len(dup):
        groups = frame.loc[dup.index].groupby(lyr.id_column)["_where"].agg(list)
        raise DuplicateIdError(source, lyr.id_column, groups.to_dict())
    if not replace:
        existing = set(workspace.read(lyr.name)[lyr.id_column])
        clash = present[present.isin(existing)]
        if len(clash):
            raise DuplicateIdError(
                source,
                lyr.id_column,
                {
                    k: [
                        f"{w}; already in the workspace"
                        for w in frame.loc[clash.index[clash == k], "_where"]
                    ]
                    for k in clash.unique()
                },
            )


def _metric_transform(frame, settings: Settings):  # type: ignore[no-untyped-def]
    from gridmap.crs import lonlat_to, metric_crs

    valid = frame.geometry[frame.geometry.notna() & ~frame.geometry.is_empty]
    bounds = valid.cx[-180:180, -90:90].total_bounds if len(valid) else [0, 0, 0, 0]
    if not np.all(np.isfinite(bounds)):
        bounds = [106.5, 29.5, 106.5, 29.5]
    return lonlat_to(metric_crs(tuple(bounds), settings.metric_epsg))


def _convert_datum(frame, datum: str, v: Verdicts):  # type: ignore[no-untyped-def]
    from gridmap.crs import outside_china, to_wgs84

    alive = v.alive & frame.geometry.notna()
    pts = shapely.point_on_surface(frame.geometry[alive].values)
    out = outside_china(shapely.get_x(pts), shapely.get_y(pts))
    for row in frame.index[alive][out]:
        v.warn(
            row,
            "outside_china",
            f"{datum.upper()} is only defined in China; the feature "
            "lies outside and was left unconverted",
        )
    frame = frame.copy()
    frame.loc[alive, "geometry"] = to_wgs84(frame.geometry[alive], datum).values
    return frame


def _estimate_residents(frame, v: Verdicts, settings: Settings, metric) -> None:  # type: ignore[no-untyped-def]
    """residents = footprint area × floors × persons per m², when the source has none."""
    for col in ("floors", "households", "residents"):
        v.reject(frame[col] < 0, f"negative_{col}", f"{col} is negative: " + frame[col].astype(str))
    need = frame["residents"].isna() & v.alive
    households = frame["households"]
    from_households = need & households.notna()
    frame.loc[from_households, "residents"] = (
        households[from_households] * settings.persons_per_household
    ).round()
    need &= ~from_households
    no_floors = need & frame["floors"].isna()
    for row in frame.index[no_floors]:
        v.warn(
            row,
            "floors_assumed",
            f"no floors and no residents: {settings.default_floors} "
            "floor(s) assumed for the estimate",
        )
    floors = frame["floors"].fillna(settings.default_floors)
    area = pd.Series(0.0, index=frame.index)
    if need.any():
        area[need] = shapely.area(
            shapely.transform(frame.geometry[need].values, metric, interleaved=False)
        )
    points = need & pd.Series(shapely.get_type_id(frame.geometry.values) == 0, index=frame.index)
    for row in frame.index[points]:
        v.warn(row, "residents_unknown", "a point without residents or households: 0 assumed")
    frame.loc[need, "residents"] = (area[need] * floors[need] * settings.persons_per_m2).round()
    frame["residents_estimated"] = (need | from_households).astype("boolean")
    frame["residents"] = frame["residents"].astype("Int64")


def _cross_checks(
    frame, lyr: Layer, workspace: Workspace, v: Verdicts, settings: Settings, metric, replace: bool
) -> None:  # type: ignore[no-untyped-def]
    alive = frame[v.alive]
    if lyr.name == "divisions":
        existing = workspace.read("divisions")
        if not replace:
            existing = existing[~existing["code"].isin(alive["code"])]
        both = pd.concat([existing.assign(_row=None), alive.assign(_row=alive.index)])
        for a, b, m2, where in checks.overlapping_divisions(
            both, metric, settings.overlap_tolerance_m2
        ):
            row = both.loc[both["code"] == b, "_row"].dropna()
            row = row.iloc[0] if len(row) else both.loc[both["code"] == a, "_row"].dropna().iloc[0]
            v.warn(
                row,
                "divisions_overlap",
                f"{a} and {b} overlap by {m2:,.0f} m² near {where.x:.5f}, {where.y:.5f}",
            )
        return
    if lyr.name not in ("buildings", "units", "grids", "offices"):
        return
    divisions = workspace.read("divisions")
    communities = divisions[divisions["level"] == "community"]
    if communities.empty:
        v.warn(
            None,
            "no_communities",
            "the workspace has no communities yet: import divisions "
            "first to check where these features lie",
        )
        return
    for pos in checks.outside_communities(alive.geometry, communities.geometry):
        v.warn(alive.index[pos], "outside_communities", "lies outside every community")
    if lyr.name in ("units", "grids", "offices"):
        guess = checks.community_of(alive.geometry, communities)
        fill = alive["community_code"].isna() & guess.notna()
        frame.loc[fill[fill].index, "community_code"] = guess[fill]
        if fill.any():
            v.warn(
                None,
                "community_code_filled",
                f"{int(fill.sum())} feature(s) had no "
                "community_code; set to the community holding most of each",
            )
    if lyr.name == "buildings":
        units = set(workspace.read("units")["id"])
        unknown = alive["unit_id"].notna() & ~alive["unit_id"].isin(units)
        for row in alive.index[unknown]:
            v.warn(
                row,
                "unknown_unit",
                f"unit_id {frame.at[row, 'unit_id']} is not in the "
                "units layer (import units first)",
            )


def _fill_report(report: ImportReport, frame, v: Verdicts, lyr: Layer) -> None:
    def ident(row):  # type: ignore[no-untyped-def]
        if row is None:
            return None, None, None
        rid = frame.at[row, lyr.id_column]
        name = frame.at[row, "name"] if "name" in frame else None
        return (
            None if pd.isna(rid) else str(rid),
            None if pd.isna(name) else str(name),
            frame.at[row, "_where"],
        )

    for row, kind, detail in v.repaired:
        if v.alive[row]:
            report.repaired.append(Issue(kind, detail, *ident(row)))
    for row, kind, detail in v.warned:
        if row is None or v.alive[row]:
            report.warnings.append(Issue(kind, detail, *ident(row)))
    for row in frame.index[~v.alive]:
        report.rejected.append(Issue(v.kind[row], v.reason[row], *ident(row)))


def _write_rejected(
    rejected,
    v: Verdicts,
    skipped,
    workspace: Workspace,
    source: Path,
    lyr: Layer,
    where: Path | None,
) -> Path:  # type: ignore[no-untyped-def]
    """The rejected features, as they came plus _reason, in a GeoJSON beside the workspace."""
    out = where or workspace.path.with_name(
        f"{workspace.path.stem}.rejected.{source.name.split('.')[0]}.{lyr.name}.geojson"
    )
    out.parent.mkdir(parents=True, exist_ok=True)
    table = pd.DataFrame(rejected).assign(_reason=v.reason[~v.alive], _kind=v.kind[~v.alive])
    extra = pd.DataFrame(
        [
            {
                "_where": s["where"],
                "_reason": s["reason"],
                "_kind": "unreadable",
                lyr.id_column: s["id"],
            }
            for s in skipped
        ]
    )
    table = pd.concat([table, extra], ignore_index=True)
    geometry = table.pop("geometry") if "geometry" in table else None
    for col in table.columns:
        table[col] = table[col].map(lambda x: None if _is_missing(x) else str(x))
    geoms = (
        np.array([g if isinstance(g, shapely.Geometry) else None for g in geometry], dtype=object)
        if geometry is not None
        else np.full(len(table), None)
    )
    out.unlink(missing_ok=True)
    pyogrio.write_dataframe(
        gpd.GeoDataFrame(table, geometry=geoms, crs=4326), out, driver="GeoJSON"
    )
    return out


def _is_missing(x: object) -> bool:
    try:
        return bool(pd.isna(x))
    except (TypeError, ValueError):
        return False
