"""Read OpenStreetMap extracts (PBF or XML) into gridmap's buildings, divisions and roads layers.

The reader is pyosmium, the Python binding of libosmium, which the OSM community's own
developers maintain (it also runs osmium-tool and osm2pgsql). It streams large PBFs, assembles
multipolygon and boundary relations into areas with libosmium's well-tested assembler, and
hands each object's tags over as a dict-like list.

GDAL's OSM driver (read through pyogrio) was the alternative. It was not chosen because it
packs every tag not named in its osmconf.ini into one ``other_tags`` hstore string that must be
parsed again (``name:zh``, ``addr:*`` and ``building:levels`` all live there), because it decides
itself which ways and relations become polygons and drops the ones it cannot assemble with at
most a debug message, and because it cannot write OSM data: pyosmium's ``SimpleWriter`` lets
the tests build small, exact PBF files.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import osmium
import osmium.filter
import pandas as pd
import shapely

from gridmap.codes import normalize_division_code
from gridmap.errors import InputError
from gridmap.schema import layer as schema_layer

__all__ = ["OSM_LAYERS", "OsmRead", "read_osm"]

OSM_LAYERS = ("buildings", "divisions", "roads")

# admin_level of Chinese divisions: 区/县, 街道/镇, 社区/村.
_ADMIN_LEVELS = {6: "district", 8: "street", 10: "community"}
# Tags that may carry a statistical code, in order of trust; ISO3166-2* tags are tried last.
_CODE_TAGS = ("ref:stats", "ref:CN", "ref")
_AREA_RELATION_TYPES = ("multipolygon", "boundary")
_ADDRESS_TAGS = ("addr:province", "addr:city", "addr:district", "addr:street")
_DTYPES = {"str": "str", "int": "Int64", "float": "float64", "bool": "boolean"}
_TYPE_ORDER = {"n": 0, "w": 1, "r": 2}

_wkb = osmium.geom.WKBFactory()


@dataclass(frozen=True, eq=False)
class OsmRead:
    """What :func:`read_osm` returns: a layer's rows, and every feature that did not become one.

    Attributes
    ----------
    frame : geopandas.GeoDataFrame
        The layer in EPSG:4326, with the schema's columns in the schema's order (plus a few
        OSM-specific ones, see :func:`read_osm`).
    skipped : list of dict
        ``{"id": "r45", "reason": "..."}`` for each OSM object that was meant to become a row
        but did not, e.g. a multipolygon whose rings do not close.
    tag_issues : list of dict
        ``{"id", "tag", "value", "reason"}`` for each tag value that was read loosely or not at
        all, e.g. ``building:levels=5;6`` read as 6 floors.
    """

    frame: gpd.GeoDataFrame
    skipped: list[dict[str, str]]
    tag_issues: list[dict[str, str]] = field(default_factory=list)


def read_osm(path: str | os.PathLike[str], layer: str) -> OsmRead:
    """Read one gridmap layer from an OpenStreetMap file (``.osm.pbf`` or ``.osm`` XML).

    ``buildings``
        Closed ways and multipolygon relations tagged ``building=*`` (except ``building=no``)
        as Polygon or MultiPolygon, and nodes tagged ``building=*`` as Points. ``id`` is the
        OSM type letter and id ("w123", "r45", "n9"); ``name`` is ``name:zh``, else ``name``;
        ``address`` is composed from ``addr:province/city/district/street/housenumber``
        (重庆市南岸区南坪东路12号), else ``addr:full``; ``floors`` from ``building:levels``;
        ``households`` from ``building:flats``; ``residents`` is left empty for gridmap to
        estimate. An extra column ``osm_building`` holds the ``building`` value.
    ``divisions``
        Relations and closed ways tagged ``boundary=administrative``, as MultiPolygon.
        ``code`` is the first of ``ref:stats``, ``ref:CN``, ``ref``, ``ISO3166-2*`` that holds
        a 6-, 9- or 12-digit number, padded to 12 digits; ``level`` comes from ``admin_level``
        (6 district, 8 street, 10 community; other levels are returned with an empty level).
        Extra columns: ``admin_level`` and ``osm_id``. A closed way that is also a member of a
        boundary relation at the same admin_level is the relation's ring, not a division of its
        own: it is left out and listed in ``skipped``.
    ``roads``
        Ways tagged ``highway=*`` as LineString, except ``area=yes`` (squares, not centre
        lines); ``class`` is the highway value.

    Parameters
    ----------
    path : str or os.PathLike
        An OSM file osmium can read; the format is taken from the suffix.
    layer : str
        One of ``OSM_LAYERS``: "buildings", "divisions" or "roads".

    Returns
    -------
    OsmRead
        ``frame`` holds the rows; ``skipped`` lists, by id with a reason, every object whose
        geometry could not be built (a broken multipolygon, an unclosed building way, member
        ways or nodes missing from an extract); ``tag_issues`` lists tag values read loosely.

    Raises
    ------
    InputError
        For a layer not in ``OSM_LAYERS``, or a file osmium cannot read.

    Examples
    --------
    >>> import pathlib, shutil, tempfile
    >>> from osmium.osm.mutable import Node, Way
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "nanping.osm.pbf"
    >>> with osmium.SimpleWriter(str(path)) as writer:
    ...     writer.add_node(Node(id=1, location=(106.560, 29.520)))
    ...     writer.add_node(Node(id=2, location=(106.565, 29.521)))
    ...     writer.add_way(Way(id=7, nodes=[1, 2], tags={"highway": "primary", "name": "南坪东路"}))
    >>> read = read_osm(path, "roads")
    >>> read.frame[["id", "name", "class"]].to_dict("records")
    [{'id': 'w7', 'name': '南坪东路', 'class': 'primary'}]
    >>> read.frame.geometry.iloc[0].geom_type, read.frame.crs.to_epsg(), read.skipped
    ('LineString', 4326, [])
    >>> shutil.rmtree(path.parent)
    """
    if layer not in _READERS:
        raise InputError(
            f"layer={layer!r} cannot be read from OpenStreetMap; read_osm reads "
            f"{', '.join(OSM_LAYERS)}"
        )
    return _READERS[layer](Path(path))


# --- buildings ------------------------------------------------------------------------------


def _read_buildings(path: Path) -> OsmRead:
    found = _read_areas(
        path,
        osmium.filter.KeyFilter("building"),
        wanted=lambda tags: tags.get("building") != "no",
        attributes=_building_attributes,
        with_nodes=True,
        report_open_ways=True,
    )
    geoms = shapely.from_wkb(found.wkb)
    # Areas come as MultiPolygon; a building with one outer ring is a Polygon.
    single = (shapely.get_type_id(geoms) == 6) & (shapely.get_num_geometries(geoms) == 1)
    geoms[single] = shapely.get_geometry(geoms[single], 0)
    frame = _frame("buildings", found.rows, geoms, {"osm_building": "str"})
    return OsmRead(frame, _sorted(found.skipped), found.issues)


def _building_attributes(oid: str, tags: Any, issues: list[dict[str, str]]) -> dict[str, Any]:
    return {
        "id": oid,
        "name": _name(tags),
        "address": _address(tags),
        "floors": _count(oid, tags, "building:levels", issues),
        "households": _count(oid, tags, "building:flats", issues),
        "osm_building": tags.get("building"),
    }


def _address(tags: Any) -> str | None:
    """重庆市南岸区南坪东路12号 from the addr:* parts, in Chinese order and without separators."""
    street, number = tags.get("addr:street"), tags.get("addr:housenumber")
    if not street and not number:
        return tags.get("addr:full") or None
    parts: list[str] = []
    for key in _ADDRESS_TAGS:
        value = (tags.get(key) or "").strip()
        if value and (not parts or parts[-1] != value):  # 重庆市 is province and city
            parts.append(value)
    if number:
        number = number.strip()
        parts.append(number + "号" if number[-1:].isdigit() else number)
    return "".join(parts)


def _count(oid: str, tags: Any, key: str, issues: list[dict[str, str]]) -> int | None:
    """A whole number from a tag such as building:levels; loose readings go into ``issues``."""
    raw = tags.get(key)
    if raw is None:
        return None
    text = raw.strip()
    if text.isdigit():
        return int(text)
    try:
        values = [float(part) for part in re.split(r"[;,]", text)]
    except ValueError:
        values = []
    if not values or not all(math.isfinite(v) and v >= 0 for v in values):
        issues.append({"id": oid, "tag": key, "value": raw, "reason": "not a number; left empty"})
        return None
    count = math.floor(max(values))
    if len(values) > 1:
        reason = f"several values; took the largest, {count}"
    else:
        reason = f"not a whole number; counted whole ones, {count}"
    issues.append({"id": oid, "tag": key, "value": raw, "reason": reason})
    return count


# --- divisions ------------------------------------------------------------------------------


def _read_divisions(path: Path) -> OsmRead:
    found = _read_areas(
        path,
        osmium.filter.TagFilter(("boundary", "administrative")),
        wanted=lambda tags: True,
        attributes=_division_attributes,
        with_nodes=False,
        report_open_ways=False,  # open boundary ways are pieces of relations, not divisions
    )
    geoms = shapely.from_wkb(found.wkb)
    level_of = {row["osm_id"]: row["admin_level"] for row in found.rows}
    ring_of: dict[str, str] = {}  # closed way -> the relation whose ring it is
    for rid, way_ids in found.relation_ways.items():
        for wid in way_ids:
            way = f"w{wid}"
            if rid in level_of and way in level_of and level_of[way] == level_of[rid]:
                ring_of.setdefault(way, rid)
    keep = np.array([row["osm_id"] not in ring_of for row in found.rows], dtype=bool)
    skipped = found.skipped + [
        {"id": wid, "reason": f"a ring of boundary relation {rid}, which is returned instead"}
        for wid, rid in ring_of.items()
    ]
    rows = [row for row, kept in zip(found.rows, keep, strict=True) if kept]
    frame = _frame("divisions", rows, geoms[keep], {"admin_level": "Int64", "osm_id": "str"})
    return OsmRead(frame, _sorted(skipped), found.issues)


def _division_attributes(oid: str, tags: Any, issues: list[dict[str, str]]) -> dict[str, Any]:
    admin_level = _count(oid, tags, "admin_level", issues)
    return {
        "code": _division_code(tags),
        "name": _name(tags),
        "short_name": tags.get("short_name:zh") or tags.get("short_name"),
        "level": _ADMIN_LEVELS.get(admin_level) if admin_level is not None else None,
        "parent_code": None,
        "admin_level": admin_level,
        "osm_id": oid,
    }


def _division_code(tags: Any) -> str | None:
    iso_keys = sorted(tag.k for tag in tags if tag.k.startswith("ISO3166-2"))
    for key in (*_CODE_TAGS, *iso_keys):
        value = (tags.get(key) or "").strip()
        if re.fullmatch(r"\d{6}|\d{9}|\d{12}", value):
            return normalize_division_code(value)
    return None


# --- roads ----------------------------------------------------------------------------------


def _read_roads(path: Path) -> OsmRead:
    processor = (
        osmium.FileProcessor(str(path), osmium.osm.NODE | osmium.osm.WAY)
        .with_locations()
        .with_filter(osmium.filter.KeyFilter("highway"))
    )
    rows: list[dict[str, Any]] = []
    wkb: list[str] = []
    skipped: list[dict[str, str]] = []
    for obj in _objects(processor, path):
        if obj.type_str() != "w" or obj.tags.get("area") == "yes":
            continue
        oid = f"w{obj.id}"
        try:
            wkb.append(_wkb.create_linestring(obj))
        except (RuntimeError, osmium.InvalidLocationError) as exc:
            missing = [f"n{n.ref}" for n in obj.nodes if not n.location.valid()]
            reason = _missing_nodes(missing) if missing else f"no line could be built: {exc}"
            skipped.append({"id": oid, "reason": reason})
            continue
        rows.append({"id": oid, "name": _name(obj.tags), "class": obj.tags.get("highway")})
    frame = _frame("roads", rows, shapely.from_wkb(wkb), {})
    return OsmRead(frame, _sorted(skipped))


_READERS: dict[str, Callable[[Path], OsmRead]] = {
    "buildings": _read_buildings,
    "divisions": _read_divisions,
    "roads": _read_roads,
}


# --- shared ---------------------------------------------------------------------------------


@dataclass
class _Areas:
    rows: list[dict[str, Any]] = field(default_factory=list)
    wkb: list[str] = field(default_factory=list)
    skipped: list[dict[str, str]] = field(default_factory=list)
    issues: list[dict[str, str]] = field(default_factory=list)
    relation_ways: dict[str, list[int]] = field(default_factory=dict)


def _read_areas(
    path: Path,
    osm_filter: Any,
    *,
    wanted: Callable[[Any], bool],
    attributes: Callable[[str, Any, list[dict[str, str]]], dict[str, Any]],
    with_nodes: bool,
    report_open_ways: bool,
) -> _Areas:
    """Stream the file once with area assembly; each candidate ends as a row or in skipped.

    libosmium builds no area at all for an unclosed way or a relation with members missing, and
    an empty one for rings it cannot close; both are caught here. A relation's area may come
    before or after the relation itself, so the two are matched up at the end.
    """
    out = _Areas()
    no_area: dict[str, str | None] = {}  # candidate id -> why, should no area turn up
    built: set[str] = set()
    processor = osmium.FileProcessor(str(path)).with_areas(osm_filter).with_filter(osm_filter)
    for obj in _objects(processor, path):
        kind = obj.type_str()
        if not wanted(obj.tags):
            continue
        if kind == "a":
            oid = f"{'w' if obj.from_way() else 'r'}{obj.orig_id()}"
            built.add(oid)
            try:
                wkb = _wkb.create_multipolygon(obj)
            except (RuntimeError, osmium.InvalidLocationError) as exc:
                out.skipped.append({"id": oid, "reason": _broken_area(oid, exc)})
                continue
        elif kind == "n" and with_nodes:
            oid = f"n{obj.id}"
            if not obj.location.valid():
                out.skipped.append({"id": oid, "reason": "the node has no valid location"})
                continue
            wkb = _wkb.create_point(obj)
        elif kind == "w":
            if report_open_ways or obj.is_closed():
                no_area[f"w{obj.id}"] = _why_no_way_area(obj)
            continue
        elif kind == "r":
            rid = f"r{obj.id}"
            out.relation_ways[rid] = [m.ref for m in obj.members if m.type == "w"]
            no_area[rid] = _why_no_relation_area(obj.tags, out.relation_ways[rid])
            continue
        else:
            continue
        out.wkb.append(wkb)
        out.rows.append(attributes(oid, obj.tags, out.issues))

    pending = {oid: why for oid, why in no_area.items() if oid not in built}
    unexplained = [oid for oid, why in pending.items() if why is None]
    present: set[int] = set()
    lacking: dict[int, list[str]] = {}
    if unexplained:
        ways = {w for oid in unexplained for w in out.relation_ways.get(oid, [int(oid[1:])])}
        present, lacking = _diagnose_ways(path, ways)
    for oid, why in pending.items():
        if why is None:
            why = _why_no_area(oid, out.relation_ways.get(oid), present, lacking)
        out.skipped.append({"id": oid, "reason": why})
    return out


def _why_no_way_area(way: Any) -> str | None:
    """Why a way may yield no area, from what is cheap to see; None to look closer later."""
    if not way.is_closed():
        return "the way is not closed, so it encloses no area"
    if len(way.nodes) < 4:
        return "the closed way has fewer than 4 nodes"
    if way.tags.get("area") == "no":
        return "the way is tagged area=no"
    return None


def _why_no_area(
    oid: str, members: list[int] | None, present: set[int], lacking: dict[int, list[str]]
) -> str:
    if members is None:  # a closed way
        nodes = lacking.get(int(oid[1:]))
        return _missing_nodes(nodes) if nodes else "osmium assembled no area from the way"
    missing = [f"w{w}" for w in members if w not in present]
    if missing:
        return (
            f"member way(s) {', '.join(missing)} are not in the file, so its rings cannot be "
            "closed (an extract may cut through it)"
        )
    for way in members:
        if way in lacking:
            return f"member way w{way}: {_missing_nodes(lacking[way])}"
    return "osmium assembled no area from its member ways"


def _why_no_relation_area(tags: Any, way_ids: list[int]) -> str | None:
    """Why a relation may yield no area; None when only the member ways can tell."""
    kind = tags.get("type")
    if kind not in _AREA_RELATION_TYPES:
        return f"relation type={kind} is not an area relation (type=multipolygon or boundary)"
    if not way_ids:
        return "the relation has no way members"
    return None


def _broken_area(oid: str, exc: Exception) -> str:
    # osmium's own message names the derived area id, which means nothing to a mapper.
    if "invalid area" not in str(exc):
        return f"no polygon could be built: {exc}"
    if oid.startswith("r"):
        return "the member ways do not form closed, non-crossing rings (osmium built no polygon)"
    return "the way's ring crosses itself or is otherwise invalid (osmium built no polygon)"


def _missing_nodes(missing: list[str]) -> str:
    shown = ", ".join(missing[:10]) + (
        f" and {len(missing) - 10} more" if len(missing) > 10 else ""
    )
    return f"node(s) {shown} are not in the file (an extract may cut through it)"


def _diagnose_ways(path: Path, way_ids: set[int]) -> tuple[set[int], dict[int, list[str]]]:
    """Which of ``way_ids`` are in the file, and the missing nodes of those that lack some.

    A second read of the file, made only when something failed to become an area.
    """
    processor = (
        osmium.FileProcessor(str(path), osmium.osm.NODE | osmium.osm.WAY)
        .with_locations()
        .with_filter(osmium.filter.EntityFilter(osmium.osm.WAY))
        .with_filter(osmium.filter.IdFilter(way_ids))
    )
    present: set[int] = set()
    lacking: dict[int, list[str]] = {}
    for way in _objects(processor, path):
        present.add(way.id)
        missing = [f"n{n.ref}" for n in way.nodes if not n.location.valid()]
        if missing:
            lacking[way.id] = missing
    return present, lacking


def _objects(processor: osmium.FileProcessor, path: Path) -> Iterator[Any]:
    """The processor's objects; osmium's read errors (RuntimeError) become InputError.

    Only errors raised while reading are turned: the caller's loop body runs outside this.
    """
    objects = iter(processor)
    while True:
        try:
            obj = next(objects)
        except StopIteration:
            return
        except RuntimeError as exc:
            raise InputError(f"{path}: osmium cannot read it as OpenStreetMap data: {exc}") from exc
        yield obj


def _name(tags: Any) -> str | None:
    return tags.get("name:zh") or tags.get("name") or None


def _frame(
    layer_name: str, rows: list[dict[str, Any]], geoms: Any, extra: dict[str, str]
) -> gpd.GeoDataFrame:
    """The layer's frame: schema columns in schema order and dtype, then ``extra`` columns."""
    dtypes = {c.name: _DTYPES[c.dtype] for c in schema_layer(layer_name).columns} | extra
    data = {
        name: pd.Series([row.get(name) for row in rows], dtype=dtype)
        for name, dtype in dtypes.items()
    }
    return gpd.GeoDataFrame(data, geometry=gpd.GeoSeries(geoms, crs="EPSG:4326"))


def _sorted(skipped: list[dict[str, str]]) -> list[dict[str, str]]:
    return sorted(skipped, key=lambda s: (_TYPE_ORDER.get(s["id"][0], 3), int(s["id"][1:])))
