"""Read a source file of any supported format into one frame, remembering where each row was.

Every frame returned has a ``_where`` column ("feature 12", "line 40") so that reports and
errors can point at the row in the user's own file.
"""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import pyogrio.raw
import shapely
import shapely.errors

from gridmap.errors import InputError

__all__ = ["SourceRead", "read_source"]

_LON = ("lon", "lng", "long", "longitude", "x", "经度")
_LAT = ("lat", "latitude", "y", "纬度")
_WKT = ("wkt", "geometry", "geom", "the_geom", "shape")


@dataclass
class SourceRead:
    """What was read: the frame, plus notes on how (encoding, CRS) and anything passed over."""

    frame: pd.DataFrame
    notes: list[str] = field(default_factory=list)
    skipped: list[dict[str, object]] = field(default_factory=list)
    has_geometry: bool = True
    feature_warnings: list[dict[str, str]] = field(default_factory=list)


def read_source(path: Path, layer: str, *, encoding: str | None = None) -> SourceRead:
    """Read ``path`` for gridmap layer ``layer``.

    GeoJSON, GeoPackage and Shapefile go through pyogrio (GDAL); CSV through pandas, with
    geometry from lon/lat columns or a WKT column; OSM PBF/XML through pyosmium.
    """
    path = Path(path)
    if not path.exists():
        raise InputError(f"{path}: no such file")
    name = path.name.lower()
    if name.endswith((".osm.pbf", ".pbf", ".osm")):
        return _read_osm(path, layer)
    if name.endswith((".csv", ".tsv", ".txt")):
        return _read_csv(path, encoding)
    if name.endswith(".shp"):
        return _read_shapefile(path, encoding)
    if name.endswith((".geojson", ".json", ".gpkg", ".fgb", ".zip")):
        return _read_ogr(path, layer, encoding)
    raise InputError(
        f"{path}: unsupported format; gridmap reads GeoJSON, GeoPackage, Shapefile, CSV "
        "(lon/lat or WKT columns) and OSM PBF"
    )


def _read_ogr(
    path: Path, layer: str, encoding: str | None, notes: list[str] | None = None
) -> SourceRead:
    try:
        layers = [str(n) for n, _ in pyogrio.list_layers(path)]
    except Exception as exc:
        raise InputError(f"{path}: GDAL cannot open it ({exc})") from exc
    if len(layers) == 1:
        chosen = layers[0]
    elif layer in layers:
        chosen = layer
    else:
        raise InputError(
            f"{path}: holds layers {', '.join(layers)}; none is called {layer!r}. "
            "Extract the one to import, or rename it."
        )
    try:
        with warnings.catch_warnings():
            # GDAL warns of an unclosed ring and reads on; GEOS then refuses it (handled below).
            warnings.filterwarnings("ignore", "Non closed ring", RuntimeWarning)
            frame = pyogrio.read_dataframe(
                path, layer=chosen, encoding=encoding, fid_as_index=False
            )
    except shapely.errors.GEOSException:
        # One malformed geometry (an unclosed ring, a ring of two points) makes GEOS refuse the
        # whole layer: read it again feature by feature so the report can name that feature.
        frame = _read_ogr_per_feature(path, chosen, encoding)
    except Exception as exc:
        raise InputError(f"{path}: GDAL cannot read layer {chosen!r} ({exc})") from exc
    frame["_where"] = [f"feature {i}" for i in range(1, len(frame) + 1)]
    has_geometry = isinstance(frame, gpd.GeoDataFrame)
    return SourceRead(frame, list(notes or []), has_geometry=has_geometry)


def _read_ogr_per_feature(path: Path, layer: str, encoding: str | None) -> gpd.GeoDataFrame:
    """Read attributes and raw WKB apart; geometries GEOS cannot build become ``None`` with the
    reason in ``_geom_error`` (the import then rejects exactly those features)."""
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", "Non closed ring", RuntimeWarning)
            frame = pyogrio.read_dataframe(
                path, layer=layer, encoding=encoding, fid_as_index=False, read_geometry=False
            )
            _, _, wkb, _ = pyogrio.raw.read(path, layer=layer, encoding=encoding, columns=[])
    except Exception as exc:
        raise InputError(f"{path}: GDAL cannot read layer {layer!r} ({exc})") from exc
    geoms = np.empty(len(wkb), dtype=object)
    errors: list[str | None] = [None] * len(wkb)
    for i, raw in enumerate(wkb):
        if raw is None:
            continue
        try:
            geoms[i] = shapely.from_wkb(raw)
        except shapely.errors.GEOSException as exc:
            errors[i] = _geos_words(str(exc))
    frame["_geom_error"] = errors
    return gpd.GeoDataFrame(frame, geometry=geoms, crs=pyogrio.read_info(path, layer=layer)["crs"])


def _geos_words(message: str) -> str:
    """GEOS's refusal in words a user knows."""
    if "closed linestring" in message:
        return "a ring is not closed (its first and last points differ)"
    if "must contain" in message and "points" in message:
        return "a ring has too few points (a ring needs at least 4, first = last)"
    return f"unreadable geometry ({message})"


def _read_shapefile(path: Path, encoding: str | None) -> SourceRead:
    notes = []
    if encoding is None:
        from gridmap.io.encoding import detect_dbf_encoding

        encoding, how = detect_dbf_encoding(path)
        notes.append(how)
    else:
        notes.append(f"encoding {encoding} as given")
    return _read_ogr(path, "", encoding, notes)


def _read_csv(path: Path, encoding: str | None) -> SourceRead:
    raw = path.read_bytes()
    notes = []
    if encoding is None:
        for candidate in ("utf-8-sig", "gb18030"):
            try:
                text = raw.decode(candidate)
                encoding = candidate
                break
            except UnicodeDecodeError:
                continue
        else:
            raise InputError(f"{path}: text is neither UTF-8 nor GB18030; pass --encoding")
        if encoding != "utf-8-sig":
            notes.append(f"text decodes as {encoding}, not UTF-8")
    else:
        try:
            text = raw.decode(encoding)
        except (UnicodeDecodeError, LookupError) as exc:
            raise InputError(f"{path}: cannot decode as {encoding} ({exc})") from exc
    sep = "\t" if path.suffix.lower() == ".tsv" else ","
    try:
        frame = pd.read_csv(
            io.StringIO(text), sep=sep, dtype=str, keep_default_na=False, na_values=[""]
        )
    except (pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise InputError(f"{path}: not a readable CSV table ({exc})") from exc
    # Line numbers as a spreadsheet shows them: the header is line 1.
    frame["_where"] = [f"line {i}" for i in range(2, len(frame) + 2)]
    columns = {c.strip().lower(): c for c in frame.columns}
    lon = next((columns[c] for c in _LON if c in columns), None)
    lat = next((columns[c] for c in _LAT if c in columns), None)
    wkt = next((columns[c] for c in _WKT if c in columns), None)
    if lon and lat:
        x = pd.to_numeric(frame[lon], errors="coerce")
        y = pd.to_numeric(frame[lat], errors="coerce")
        geoms = shapely.points(x.to_numpy(), y.to_numpy())
        bad = (x.isna() | y.isna()).to_numpy()
        geoms[bad] = None
        frame["_geom_error"] = None
        frame.loc[bad, "_geom_error"] = (
            f"{lon}/{lat} missing or not numbers: "
            + frame.loc[bad, lon].astype(str)
            + ", "
            + frame.loc[bad, lat].astype(str)
        )
        notes.append(f"points from columns {lon}, {lat}")
        frame = gpd.GeoDataFrame(frame.drop(columns=[lon, lat]), geometry=geoms)
    elif wkt:
        geoms = shapely.from_wkt(frame[wkt].fillna("").to_numpy(), on_invalid="ignore")
        unreadable = pd.isna(geoms) & frame[wkt].notna().to_numpy()
        geoms[shapely.is_empty(geoms)] = None
        frame["_geom_error"] = None
        frame.loc[unreadable, "_geom_error"] = "unreadable WKT: " + frame.loc[
            unreadable, wkt
        ].astype(str).str.slice(0, 60)
        notes.append(f"geometry from WKT column {wkt}")
        frame = gpd.GeoDataFrame(frame.drop(columns=[wkt]), geometry=geoms)
    else:
        return SourceRead(frame, notes, has_geometry=False)
    return SourceRead(frame, notes)


def _read_osm(path: Path, layer: str) -> SourceRead:
    from gridmap.io.osm import read_osm

    result = read_osm(path, layer)
    frame = result.frame.copy()
    ids = frame["osm_id"] if "osm_id" in frame else frame["id"]
    frame["_where"] = [f"OSM {i}" for i in ids]
    skipped: list[dict[str, object]] = [
        {"id": s.get("id"), "where": f"OSM {s.get('id')}", "reason": s.get("reason")}
        for s in result.skipped
    ]
    tag_issues = [
        {
            "id": t["id"],
            "where": f"OSM {t['id']}",
            "kind": "osm_tag",
            "detail": f"{t['tag']}={t['value']}: {t['reason']}",
        }
        for t in result.tag_issues
    ]
    return SourceRead(
        frame, [f"read with pyosmium ({layer})"], skipped, feature_warnings=tag_issues
    )
