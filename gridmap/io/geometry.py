"""Geometry steps of an import: CRS, swapped axes, datum, type and validity.

Each step takes the frame and a ``Verdicts`` collector and returns the frame; a feature that
cannot be kept is rejected with its reason, one that was changed is reported as repaired.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import shapely
from shapely import GeometryType as GT

from gridmap.errors import InputError

__all__ = ["Verdicts", "fix_geometry", "to_lonlat"]

_POLYGONAL = (GT.POLYGON, GT.MULTIPOLYGON)
_LINEAR = (GT.LINESTRING, GT.MULTILINESTRING)
_ACCEPTED = {
    "polygon": _POLYGONAL,
    "polygon_or_point": (*_POLYGONAL, GT.POINT),
    "line": _LINEAR,
    "point": (GT.POINT,),
}
_WANTED = {
    "polygon": "polygons",
    "polygon_or_point": "polygons or points",
    "line": "lines",
    "point": "points",
}


class Verdicts:
    """Collects per-row rejections, repairs and warnings while an import runs."""

    def __init__(self, frame: pd.DataFrame, id_column: str):
        self.reason = pd.Series(None, index=frame.index, dtype="object")
        self.kind = pd.Series(None, index=frame.index, dtype="object")
        self.repaired: list[tuple[object, str, str]] = []
        self.warned: list[tuple[object, str, str]] = []
        self.id_column = id_column

    def reject(self, mask: pd.Series | np.ndarray, kind: str, detail: pd.Series | str) -> None:
        """Reject rows where ``mask`` holds, unless an earlier step already rejected them."""
        mask = pd.Series(mask, index=self.reason.index).astype("boolean").fillna(False)
        mask = mask.astype(bool) & self.reason.isna()
        if not mask.any():
            return
        detail = detail if isinstance(detail, pd.Series) else pd.Series(detail, index=mask.index)
        self.reason[mask] = detail[mask]
        self.kind[mask] = kind

    def repair(self, row: object, kind: str, detail: str) -> None:
        self.repaired.append((row, kind, detail))

    def warn(self, row: object, kind: str, detail: str) -> None:
        self.warned.append((row, kind, detail))

    @property
    def alive(self) -> pd.Series:
        return self.reason.isna()


def to_lonlat(
    frame, crs: str | int | None, swap_xy: bool, source: str, v: Verdicts, notes: list[str]
):  # type: ignore[no-untyped-def]
    """Bring ``frame`` to EPSG:4326 lon/lat; reject coordinates that cannot be lon/lat."""
    if crs is not None:
        if frame.crs is not None and not frame.crs.equals(crs):
            notes.append(f"the file says {frame.crs.to_string()}; --crs {crs} overrides it")
        frame = frame.set_crs(crs, allow_override=True)
    elif frame.crs is None or frame.crs.is_geographic:
        # GeoJSON always says EPSG:4326, whatever its numbers are: look at them.
        b = frame.geometry.bounds.dropna()
        if len(b) and ((b["maxx"].abs() > 180) | (b["maxy"].abs() > 180)).all():
            said = "no CRS in the file" if frame.crs is None else "the file says lon/lat"
            raise InputError(
                f"{source}: {said}, but the coordinates look projected (x up to "
                f"{b['maxx'].max():.0f}, y up to {b['maxy'].max():.0f}); pass --crs EPSG"
            )
        if frame.crs is None:
            notes.append("no CRS in the file: assumed EPSG:4326 (lon/lat); pass --crs otherwise")
            frame = frame.set_crs(4326)
    if not frame.crs.equals("EPSG:4326"):
        notes.append(f"reprojected from {frame.crs.to_string()} to EPSG:4326")
        frame = frame.to_crs(4326)
    if swap_xy:
        frame["geometry"] = shapely.transform(frame.geometry.values, lambda xy: xy[:, ::-1])
        notes.append("x and y swapped as asked (--swap-xy)")
        return frame
    b = frame.geometry.bounds
    x, y = (b["minx"] + b["maxx"]) / 2, (b["miny"] + b["maxy"]) / 2
    # A latitude where the longitude should be, in China's range: the columns were swapped.
    swapped = x.between(15, 56) & y.between(70, 140)
    hint = "x=" + x.round(5).astype(str) + ", y=" + y.round(5).astype(str)
    v.reject(
        swapped & (y > 90),
        "lonlat_swapped",
        hint + ": latitude beyond 90°, lon/lat look swapped; re-run with --swap-xy",
    )
    for row in frame.index[swapped & (y <= 90) & v.alive]:
        v.warn(row, "lonlat_swapped", f"{hint[row]}: lon/lat look swapped (China has lon 73–135)")
    outside = (b["minx"] < -180) | (b["maxx"] > 180) | (b["miny"] < -90) | (b["maxy"] > 90)
    v.reject(outside, "out_of_range", hint + ": not lon/lat; is the CRS right? pass --crs")
    return frame


# make_valid would turn these into area the file never had (a hole outside its shell becomes a
# polygon of its own; a shell inside another's hole a second part): refuse them instead.
_INVENTS_AREA = {"Hole lies outside shell": "hole_outside_shell", "Nested shells": "nested_shells"}


def fix_geometry(frame, kind: str, v: Verdicts, metric_crs, notes: list[str] | None = None):  # type: ignore[no-untyped-def]
    """Reject missing or wrong-typed geometry; repair invalid polygons with make_valid.

    Z (and M) values are dropped, and ``notes`` says how many features had them. A polygon that
    make_valid could only "repair" by inventing area (a hole outside its shell) is rejected.
    """
    geoms = frame.geometry.values
    missing = pd.isna(geoms) | shapely.is_empty(geoms)
    if "_geom_error" in frame:
        v.reject(missing & frame["_geom_error"].notna(), "bad_geometry", frame["_geom_error"])
    v.reject(missing, "no_geometry", "no geometry")
    with_z = int(shapely.has_z(geoms[~missing]).sum())
    if with_z and notes is not None:
        notes.append(
            f"Z values (heights) dropped from {with_z} feature(s): the workspace is 2D; "
            "give heights as a floors column"
        )
    geoms = shapely.force_2d(geoms)
    types = pd.Series(shapely.get_type_id(geoms), index=frame.index)
    wrong = ~types.isin([int(t) for t in _ACCEPTED[kind]]) & ~missing
    names = pd.Series(shapely.get_type_id(geoms), index=frame.index).map(
        lambda t: GT(t).name.title().replace("string", "String") if t >= 0 else "None"
    )
    v.reject(wrong, "wrong_geometry_type", names + f", but this layer takes {_WANTED[kind]}")

    invalid = v.alive & ~pd.Series(shapely.is_valid(geoms), index=frame.index)
    rows = frame.index[invalid]
    if len(rows):
        positions = frame.index.get_indexer(rows)
        before = geoms[positions]
        reasons = shapely.is_valid_reason(before)
        fixed = shapely.make_valid(before, method="structure", keep_collapsed=False)
        fixed = np.array([_keep_dimension(g, kind) for g in fixed], dtype=object)
        area = shapely.area(
            shapely.transform(np.concatenate([before, fixed]), metric_crs, interleaved=False)
        )
        n = len(before)
        for i, row in enumerate(rows):
            problem = reasons[i].split("[")[0]
            where = reasons[i][len(problem) :]
            if problem.strip() in _INVENTS_AREA and kind != "line":
                v.reject(
                    frame.index == row,
                    _INVENTS_AREA[problem.strip()],
                    f"{problem.strip()} at {where.strip('[]')}: make_valid would add "
                    f"{max(area[n + i] - abs(area[i]), 0.0):,.0f} m² the file does not have; "
                    "fix the rings in the source",
                )
                continue
            if fixed[i] is None or shapely.is_empty(fixed[i]):
                v.reject(
                    frame.index == row,
                    "invalid_geometry",
                    f"{reasons[i]}; nothing valid is left after make_valid",
                )
                continue
            geoms[positions[i]] = fixed[i]
            change = (
                f"; area {area[i] / 1e6:.4f} → {area[n + i] / 1e6:.4f} km²"
                if kind != "line"
                else ""
            )
            v.repair(
                row,
                _kind_of(problem),
                f"{problem} at {where.strip('[]')}: fixed with make_valid{change}",
            )
    frame = frame.copy()
    frame["geometry"] = geoms
    return frame


def _kind_of(problem: str) -> str:
    return problem.strip().lower().replace(" ", "_").replace("-", "_") or "invalid_geometry"


def _keep_dimension(geom, kind: str):  # type: ignore[no-untyped-def]
    """make_valid may return a collection with lower-dimension debris: keep what the layer takes."""
    if geom is None:
        return None
    wanted = _ACCEPTED[kind]
    if shapely.get_type_id(geom) in [int(t) for t in wanted]:
        return geom
    parts = [
        p for p in shapely.get_parts(geom) if shapely.get_type_id(p) in [int(t) for t in wanted]
    ]
    if not parts:
        return None
    if kind == "line":
        return shapely.multilinestrings(parts) if len(parts) > 1 else parts[0]
    polys = [p for p in parts if shapely.get_type_id(p) in (int(GT.POLYGON), int(GT.MULTIPOLYGON))]
    return shapely.union_all(polys) if polys else parts[0]
