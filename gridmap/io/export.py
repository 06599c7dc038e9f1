"""Write a workspace layer out as GeoPackage, GeoJSON (RFC 7946), Shapefile (UTF-8) or CSV."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import pandas as pd
import pyogrio

from gridmap.errors import InputError
from gridmap.schema import layer
from gridmap.store.gpkg import GPKG_DATASET_OPTIONS, Workspace

__all__ = ["FORMATS", "export_frame", "export_layer"]

FORMATS = {"gpkg": ".gpkg", "geojson": ".geojson", "shp": ".shp", "csv": ".csv"}

# dBASE field names hold 10 characters; these are the readable short forms (documented in
# docs/data-model.md) instead of GDAL's silent truncation.
SHAPEFILE_NAMES = {
    "short_name": "short_name",
    "parent_code": "parent",
    "community_code": "community",
    "residents_estimated": "res_est",
    "households": "households",
    "phone_public": "phone_pub",
    "phone_private": "phone_priv",
    "compactness": "compact",
}


def export_layer(
    workspace: Workspace, name: str, out: Path, fmt: str | None = None
) -> dict[str, object]:
    """Export layer ``name`` of ``workspace`` to ``out``; returns what was written."""
    if not workspace.exists:
        raise InputError(f"{workspace.path}: no such workspace")
    frame = workspace.read(name)
    if name not in workspace.layers():
        raise InputError(f"{workspace.path}: layer {name} is empty; nothing to export")
    return export_frame(frame, name, Path(out), fmt)


def export_frame(
    frame: pd.DataFrame, name: str, out: Path, fmt: str | None = None
) -> dict[str, object]:
    """Write ``frame`` (a gridmap layer called ``name``) to ``out`` in ``fmt``."""
    fmt = (fmt or _format_of(out)).lower()
    if fmt not in FORMATS:
        raise InputError(f"--format {fmt!r}: choose one of {', '.join(FORMATS)}")
    out.parent.mkdir(parents=True, exist_ok=True)
    has_geometry = isinstance(frame, gpd.GeoDataFrame) and layer(name).geometry is not None
    if fmt == "csv":
        table = pd.DataFrame(frame.drop(columns="geometry")) if has_geometry else frame.copy()
        if has_geometry:
            table["wkt"] = frame.geometry.to_wkt(rounding_precision=-1)  # exact, as GeoJSON
        # UTF-8 with a byte-order mark: Excel on Chinese Windows reads it as UTF-8, not GBK.
        table.to_csv(out, index=False, encoding="utf-8-sig")
    elif fmt == "shp":
        if not has_geometry:
            raise InputError(f"layer {name} has no geometry; export it as csv or gpkg")
        _remove_shapefile(out)
        shp = frame.rename(columns=SHAPEFILE_NAMES)
        for col in shp.columns:
            if str(shp[col].dtype) == "boolean":  # dBASE has no nullable boolean: 1/0
                shp[col] = shp[col].astype("Int64")
        if layer(name).geometry == "polygon_or_point":
            # A Shapefile holds one geometry type; buildings may mix footprints and points.
            kinds = set(frame.geom_type.str.replace("Multi", ""))
            if len(kinds) > 1:
                raise InputError(
                    f"layer {name} mixes {', '.join(sorted(kinds))}; a Shapefile "
                    "holds one geometry type: export as gpkg or geojson"
                )
        pyogrio.write_dataframe(
            shp, out, driver="ESRI Shapefile", encoding="UTF-8", promote_to_multi=True
        )
    elif fmt == "geojson":
        out.unlink(missing_ok=True)
        pyogrio.write_dataframe(
            frame,
            out,
            driver="GeoJSON",
            layer=name,
            # Full precision: grids share vertices to the last digit, and RFC 7946's default
            # of 7 decimals breaks shared edges (our own check then finds mismatched edges).
            layer_options={"RFC7946": "YES", "WRITE_NAME": "NO", "COORDINATE_PRECISION": 15},
        )
    else:
        out.unlink(missing_ok=True)
        pyogrio.write_dataframe(
            frame, out, driver="GPKG", layer=name, dataset_options=GPKG_DATASET_OPTIONS
        )
    return {"layer": name, "format": fmt, "path": str(out), "features": len(frame)}


def _format_of(out: Path) -> str:
    suffix = out.suffix.lower()
    for fmt, ext in FORMATS.items():
        if suffix == ext or (fmt == "geojson" and suffix == ".json"):
            return fmt
    raise InputError(f"{out}: cannot tell the format from the suffix; pass --format")


def _remove_shapefile(out: Path) -> None:
    for ext in (".shp", ".shx", ".dbf", ".prj", ".cpg"):
        out.with_suffix(ext).unlink(missing_ok=True)
