"""The real frame of Nan'an (南岸区) and the rough geography the sample district is drawn on.

The district boundary and the streets' and communities' codes and names are real (from
data/chongqing). Everything else here is an approximation from public maps, good enough to make
the sample look like the city: where each street lies, how large it is, where the river and the
ridges run.
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import shapely
from pyproj import Transformer

__all__ = [
    "DISTRICT_CODE",
    "METRIC_EPSG",
    "Community",
    "Frame",
    "Landscape",
    "Street",
    "default_data_dir",
    "load_frame",
    "make_landscape",
    "to_lonlat",
    "to_metric",
]

DISTRICT_CODE = "500108"
METRIC_EPSG = 32648  # UTM 48N

_TO_METRIC = Transformer.from_crs(4326, METRIC_EPSG, always_xy=True)
_TO_LONLAT = Transformer.from_crs(METRIC_EPSG, 4326, always_xy=True)


def to_metric(geoms: np.ndarray) -> np.ndarray:
    """Geometries in lon/lat (EPSG:4326) to UTM 48N metres."""
    return shapely.transform(
        geoms, lambda c: np.column_stack(_TO_METRIC.transform(c[:, 0], c[:, 1]))
    )


def to_lonlat(geoms: np.ndarray) -> np.ndarray:
    """Geometries in UTM 48N metres to lon/lat (EPSG:4326)."""
    return shapely.transform(
        geoms, lambda c: np.column_stack(_TO_LONLAT.transform(c[:, 0], c[:, 1]))
    )


def lonlat_xy(lon: float, lat: float) -> tuple[float, float]:
    x, y = _TO_METRIC.transform(lon, lat)
    return float(x), float(y)


# Street profiles: seed (lon, lat) near the real centre, rough area in km², kind, mean residents
# of a 社区 and of a 村, block size range (m), and the block grid's bearing (degrees).
# kind: core = dense high-rise along the river; newtown = 茶园's new town; town = a small town
# centre among villages; mountain = 南山's forest with a small town on the ridge.
_STREETS = {
    "500108001": (106.547, 29.530, 5.5, "core", 10800, 0, (140, 240), 28),  # 铜元局
    "500108002": (106.551, 29.505, 7.0, "core", 10800, 0, (150, 260), 15),  # 花园路
    "500108003": (106.568, 29.531, 4.5, "core", 10800, 0, (140, 230), 5),  # 南坪
    "500108004": (106.586, 29.537, 5.0, "core", 10800, 0, (140, 240), 35),  # 海棠溪
    "500108005": (106.592, 29.553, 4.5, "core", 9500, 0, (120, 200), 52),  # 龙门浩
    "500108006": (106.598, 29.583, 7.0, "core", 10800, 0, (140, 240), 68),  # 弹子石
    "500108007": (106.617, 29.530, 33.0, "mountain", 5500, 2400, (110, 180), 20),  # 南山
    "500108008": (106.658, 29.523, 13.0, "newtown", 11200, 0, (190, 300), 10),  # 天文
    "500108101": (106.572, 29.506, 12.0, "core", 10800, 0, (160, 260), 20),  # 南坪镇
    "500108102": (106.615, 29.565, 14.0, "core", 10000, 2800, (140, 230), 40),  # 涂山镇
    "500108103": (106.632, 29.600, 17.0, "town", 6500, 2800, (120, 190), 25),  # 鸡冠石镇
    "500108105": (106.696, 29.562, 27.0, "town", 6000, 2500, (120, 180), 10),  # 峡口镇
    "500108106": (106.642, 29.497, 35.0, "newtown", 11000, 2600, (190, 300), 15),  # 长生桥镇
    "500108107": (106.716, 29.515, 38.0, "town", 6000, 2500, (120, 180), 30),  # 迎龙镇
    "500108108": (106.765, 29.572, 40.0, "town", 6000, 2500, (120, 180), 35),  # 广阳镇
}

# Ridges (forest, few houses): 南山 east of the urban core (the Yangtze cuts it at 铜锣峡) and
# 明月山 further east (cut at 广阳岛's 明月峡). lon/lat polylines; width in metres.
_RIDGES = (
    (
        (
            (106.655, 29.585),
            (106.633, 29.562),
            (106.615, 29.535),
            (106.603, 29.500),
            (106.594, 29.462),
        ),
        1500.0,
    ),
    (((106.795, 29.594), (106.768, 29.548), (106.742, 29.500), (106.728, 29.470)), 1100.0),
)
# 广阳岛, an island park in the Yangtze (no housing since it became an ecological island).
_ISLAND = ((106.768, 29.598), 2600.0, 700.0, -15.0)  # centre, semi-axes (m), bearing
# Neighbours across the Yangtze: the shared border is the river's centre line.
_ACROSS_RIVER = ("500103", "500105", "500107")
RIVER_HALF_WIDTH = 280.0


@dataclass(frozen=True)
class Community:
    code: str  # 12 digits
    name: str
    short_name: str
    is_village: bool


@dataclass(frozen=True)
class Street:
    code: str  # 12 digits
    name: str
    seed: tuple[float, float]  # metric
    area_km2: float
    kind: str
    shequ_mean: int
    village_mean: int
    block: tuple[int, int]
    bearing: float
    communities: tuple[Community, ...]

    @property
    def is_town(self) -> bool:
        return self.name.endswith("镇")


@dataclass(frozen=True)
class Frame:
    district_code: str  # 12 digits
    district_name: str
    district_parent: str  # 12 digits
    district_lonlat: shapely.Polygon  # coordinates as stored
    district: shapely.Polygon  # metric
    neighbours: dict[str, shapely.Geometry]  # metric, by 6-digit code
    streets: tuple[Street, ...]


@dataclass(frozen=True)
class Landscape:
    river: shapely.Geometry  # the river's half inside the district (no building)
    river_line: shapely.Geometry  # the district border along the river
    forest: shapely.Geometry  # ridges: few houses
    island: shapely.Geometry  # 广阳岛: no building

    @property
    def no_build(self) -> shapely.Geometry:
        return shapely.union(self.river, self.island)


def default_data_dir() -> Path:
    """data/chongqing of an installed wheel (gridmap/_data) or of the source tree."""
    pkg = Path(__file__).resolve().parent.parent
    for candidate in (pkg / "_data" / "chongqing", pkg.parent / "data" / "chongqing"):
        if (candidate / "divisions.csv").exists():
            return candidate
    return pkg.parent / "data" / "chongqing"


def short_name(name: str) -> str:
    """The name residents use: 南湖社区居民委员会 -> 南湖社区, 联合村村民委员会 -> 联合村."""
    for suffix in ("居民委员会", "村民委员会", "委员会"):
        if name.endswith(suffix):
            return name[: -len(suffix)]
    return name


def _pad(code: str) -> str:
    return code.ljust(12, "0") if len(code) < 12 else code


def load_frame(data_dir: Path) -> Frame:
    """Read Nan'an's boundary, streets and communities from ``data_dir``."""
    from gridmap.errors import InputError

    geojson, csv_path = data_dir / "districts.geojson", data_dir / "divisions.csv"
    for path in (geojson, csv_path):
        if not path.exists():
            raise InputError(f"data_dir={str(data_dir)!r} has no {path.name}")
    with geojson.open(encoding="utf-8") as f:
        features = json.load(f)["features"]
    shapes = {
        str(ft["properties"].get("code")): shapely.geometry.shape(ft["geometry"])
        for ft in features
        if ft["properties"].get("code")
    }
    if DISTRICT_CODE not in shapes:
        raise InputError(f"{geojson} has no district {DISTRICT_CODE}")
    district_ll = shapes[DISTRICT_CODE]
    district = to_metric(np.array([district_ll]))[0]
    neighbours = {c: to_metric(np.array([shapes[c]]))[0] for c in _ACROSS_RIVER if c in shapes}

    with csv_path.open(encoding="utf-8") as f:
        rows = [r for r in csv.DictReader(f) if r["code"].startswith(DISTRICT_CODE)]
    by_level: dict[str, list[dict[str, str]]] = {"district": [], "street": [], "community": []}
    for r in rows:
        by_level[r["level"]].append(r)
    (drow,) = by_level["district"]
    streets = []
    for srow in sorted(by_level["street"], key=lambda r: r["code"]):
        if srow["code"] not in _STREETS:
            raise InputError(f"{csv_path} has a street {srow['code']} this generator does not know")
        lon, lat, area, kind, shequ, village, block, bearing = _STREETS[srow["code"]]
        comms = tuple(
            Community(c["code"], c["name"], short_name(c["name"]), c["name"].endswith("村民委员会"))
            for c in sorted(by_level["community"], key=lambda r: r["code"])
            if c["parent_code"] == srow["code"]
        )
        streets.append(
            Street(
                _pad(srow["code"]),
                srow["name"],
                lonlat_xy(lon, lat),
                area,
                kind,
                shequ,
                village,
                block,
                bearing,
                comms,
            )
        )
    return Frame(
        _pad(drow["code"]),
        drow["name"],
        _pad(drow["parent_code"]),
        district_ll,
        district,
        neighbours,
        tuple(streets),
    )


def _line(points_lonlat) -> shapely.LineString:
    return shapely.LineString([lonlat_xy(lon, lat) for lon, lat in points_lonlat])


def make_landscape(frame: Frame) -> Landscape:
    """River strip, forest ridges and 广阳岛, in metres, clipped to the district."""
    d = frame.district
    border = d.boundary
    river_line = shapely.union_all(
        [shapely.intersection(border, n.buffer(5.0)) for n in frame.neighbours.values()]
    )
    river = shapely.intersection(shapely.buffer(river_line, RIVER_HALF_WIDTH), d)
    forest = shapely.union_all(
        [shapely.buffer(_line(pts), w / 2, quad_segs=4) for pts, w in _RIDGES]
    )
    (lon, lat), a, b, bearing = _ISLAND
    cx, cy = lonlat_xy(lon, lat)
    t = np.linspace(0, 2 * np.pi, 48, endpoint=False)
    r = np.radians(bearing)
    ex, ey = a * np.cos(t), b * np.sin(t)
    island = shapely.Polygon(
        np.column_stack(
            [cx + ex * np.cos(r) - ey * np.sin(r), cy + ex * np.sin(r) + ey * np.cos(r)]
        )
    )
    return Landscape(
        river, river_line, shapely.intersection(forest, d), shapely.intersection(island, d)
    )
