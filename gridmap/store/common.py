"""What both engines of the storage contract check the same way, engine-neutral.

Times, actors, bboxes, reference-layer frames, revision frames, incident fields and users are
checked here once, so that :class:`~gridmap.store.gpkg.store.GpkgStore` and
:class:`~gridmap.store.postgis.store.PostgisStore` refuse the same inputs with the same words.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
import unicodedata
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from gridmap.errors import ConflictError, DuplicateIdError, InputError, NotFoundError
from gridmap.schema import conform, layer
from gridmap.store.contract import (
    INCIDENT_FIELDS,
    INCIDENT_TIMES,
    PlanInfo,
    RevisionInfo,
    StaleRevisionError,
)

__all__ = [
    "CELL_COLUMNS",
    "GRID_COLUMNS",
    "MAX_USER_NAME",
    "STAFF_FIELDS",
    "USER_ROLES",
    "CheckedRevision",
    "aware",
    "check_actor",
    "check_bbox",
    "check_department_code",
    "check_layer_frame",
    "check_new_user_name",
    "check_publishable",
    "check_revision",
    "check_user",
    "incident_values",
    "now",
    "publish_ids",
    "refuse_commit",
    "staff_etag",
    "to_json",
]

CELL_COLUMNS = ("community_code", "atom_id", "grid", "residents", "households")
CELL_ATTRS = ("community_code", "atom_id", "residents", "households")
GRID_COLUMNS = ("code", "community_code")
USER_ROLES = ("public", "staff", "planner", "admin")
# The fields of a person of the staff layer besides the id (what a change may set).
STAFF_FIELDS = ("name", "role", "phone_public", "phone_private", "duties", "community_code")
_G = shapely.GeometryType
ALLOWED_GEOMETRIES = {
    "polygon": (_G.POLYGON, _G.MULTIPOLYGON),
    "line": (_G.LINESTRING, _G.MULTILINESTRING),
    "polygon_or_point": (_G.POLYGON, _G.MULTIPOLYGON, _G.POINT),
    "point": (_G.POINT,),
}


def now() -> dt.datetime:
    """The current time, UTC, to the microsecond (what a store stamps)."""
    return dt.datetime.now(dt.UTC)


def aware(value: object, what: str) -> dt.datetime:
    """``value`` as an aware UTC datetime; a naive or non-datetime value is an InputError.

    Examples
    --------
    >>> aware(dt.datetime(2026, 3, 1, 16, tzinfo=dt.timezone(dt.timedelta(hours=8))), "at")
    datetime.datetime(2026, 3, 1, 8, 0, tzinfo=datetime.timezone.utc)
    """
    if not isinstance(value, dt.datetime):
        raise InputError(f"{what}: expected a datetime, got {value!r}")
    if value.tzinfo is None or value.utcoffset() is None:
        raise InputError(f"{what}: {value.isoformat()} has no time zone; give an aware time")
    return value.astimezone(dt.UTC)


def check_actor(actor: object) -> None:
    """An actor is a user's name: a non-empty string."""
    if not isinstance(actor, str) or not actor.strip():
        raise InputError(f"actor: expected the user's name, got {actor!r}")


def to_json(value: Mapping[str, Any] | None) -> str:
    """JSON text of a mapping (non-JSON values as text), as both engines store it."""
    return json.dumps(dict(value or {}), ensure_ascii=False, sort_keys=True, default=str)


def check_bbox(bbox: object) -> tuple[float, float, float, float] | None:
    """``bbox`` as four floats (min lon, min lat, max lon, max lat), or InputError."""
    if bbox is None:
        return None
    try:
        minx, miny, maxx, maxy = (float(v) for v in bbox)  # type: ignore[attr-defined]
    except (TypeError, ValueError):
        raise InputError(f"bbox: expected (minx, miny, maxx, maxy), got {bbox!r}") from None
    if not (minx <= maxx and miny <= maxy):
        raise InputError(f"bbox: min must not exceed max, got {bbox!r}")
    return minx, miny, maxx, maxy


def check_layer_frame(name: str, frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` conformed to reference layer ``name``, or an error naming the bad rows.

    Refused: a frame without geometry for a geometry layer, a CRS other than EPSG:4326, a
    missing or repeated id, a geometry of the wrong type.
    """
    lyr = layer(name)
    if lyr.geometry and not isinstance(frame, gpd.GeoDataFrame):
        raise InputError(f"{name}: expected a GeoDataFrame, got {type(frame).__name__}")
    if lyr.geometry and frame.crs is not None and frame.crs.to_epsg() != 4326:
        raise InputError(f"{name}: geometries must be lon/lat EPSG:4326, got {frame.crs}")
    new = conform(frame, lyr)
    ids = new[lyr.id_column]
    if ids.isna().any():
        rows = np.flatnonzero(ids.isna().to_numpy())[:20].tolist()
        raise InputError(f"{name}: no {lyr.id_column} in row(s) {', '.join(map(str, rows))}")
    twice = ids.duplicated(keep=False).to_numpy()
    if twice.any():
        groups = pd.Series(np.flatnonzero(twice), index=ids[twice].to_numpy())
        raise DuplicateIdError(name, lyr.id_column, groups.groupby(level=0).agg(list).to_dict())
    if lyr.geometry:
        geoms = new.geometry.to_numpy()
        allowed = ALLOWED_GEOMETRIES[lyr.geometry]
        bad = ~np.isin(shapely.get_type_id(geoms), allowed) & ~shapely.is_missing(geoms)
        if bad.any():
            pairs = list(zip(ids[bad], geoms[bad], strict=True))[:20]
            shown = ", ".join(f"{key} ({g.geom_type})" for key, g in pairs)
            kinds = " or ".join(t.name for t in allowed)
            raise InputError(f"{name}: geometry must be {kinds}; not so for {shown}")
    return new


@dataclass(frozen=True)
class CheckedRevision:
    """A revision's frames, checked: cell attributes as plain Python values, in cell order."""

    cell_ids: list[str]
    attrs: dict[str, list[Any]]  # CELL_ATTRS → values (None for missing)
    assignment: list[Any]  # the grid of each cell (None: unassigned)
    geometries: np.ndarray  # the cell polygons
    communities: tuple[str, ...]


def check_revision(cells: gpd.GeoDataFrame, grids: gpd.GeoDataFrame) -> CheckedRevision:
    """Check a revision's frames (see :class:`gridmap.store.contract.Revision`).

    Errors name the frame and what is wrong with it: a missing column, a repeated or missing
    cell id or grid code, a CRS other than EPSG:4326, no cells at all.

    Examples
    --------
    >>> cells = gpd.GeoDataFrame({"community_code": ["C"], "atom_id": ["A"], "grid": ["G"],
    ...     "residents": [3], "households": [1]}, geometry=[shapely.box(0, 0, 1, 1)],
    ...     index=["C-C1"])
    >>> check_revision(cells, cells.rename(columns={"grid": "code"})).cell_ids
    ['C-C1']
    """
    for what, frame, needed in (("cells", cells, CELL_COLUMNS), ("grids", grids, GRID_COLUMNS)):
        if not isinstance(frame, gpd.GeoDataFrame):
            raise InputError(f"{what}: expected a GeoDataFrame, got {type(frame).__name__}")
        if frame.crs is not None and frame.crs.to_epsg() != 4326:
            raise InputError(f"{what}: geometries must be lon/lat EPSG:4326, got {frame.crs}")
        missing = [c for c in needed if c not in frame.columns]
        if missing:
            raise InputError(
                f"{what}: missing column(s) {', '.join(missing)}; it has "
                f"{', '.join(map(str, frame.columns))}"
            )
    if cells.empty:
        raise InputError("cells: a revision needs at least one cell")
    ids = pd.Series(cells.index, dtype="object").map(str, na_action="ignore")
    _unique(ids, "cells", "cell id (the index)")
    _unique(grids["code"].map(str, na_action="ignore"), "grids", "code")
    attrs: dict[str, list[Any]] = {}
    for col in CELL_ATTRS:
        values = cells[col].reset_index(drop=True)
        if col in ("residents", "households"):
            values = pd.to_numeric(values, errors="raise").round().astype("Int64")
        else:
            values = values.map(str, na_action="ignore")
        attrs[col] = values.to_numpy(dtype=object, na_value=None).tolist()
    grid = cells["grid"].map(str, na_action="ignore").to_numpy(dtype=object, na_value=None)
    communities = tuple(sorted({c for c in attrs["community_code"] if c is not None}))
    return CheckedRevision(
        ids.tolist(), attrs, grid.tolist(), cells.geometry.to_numpy(), communities
    )


def refuse_commit(
    info: PlanInfo, base: object, head: Callable[[], RevisionInfo]
) -> InputError | StaleRevisionError | None:
    """Why a commit from revision ``base`` of plan ``info`` is refused; None when it may go on.

    Call with the plan read inside the commit's write transaction (the compare-and-set).
    ``head`` gives the head revision, the one that won, when ``base`` is stale. A base the plan
    never had is not a conflict but a NotFoundError, raised here.
    """
    if not isinstance(base, int) or isinstance(base, bool) or not 1 <= base <= info.head:
        raise NotFoundError(
            f"plan {info.id}: no revision {base!r} to start from; it has 1 to {info.head}"
        )
    if info.status != "draft":
        return InputError(
            f"plan {info.id} is {info.status}: only a draft takes new revisions; "
            "copy it (copy_plan) and edit the copy"
        )
    if base != info.head:
        return StaleRevisionError(info.id, base, head())
    return None


def publish_ids(plan_ids: Sequence[str]) -> list[str]:
    """The plan ids of a publish call as text: at least one, none twice."""
    ids = [plan_ids] if isinstance(plan_ids, str) else [str(p) for p in plan_ids]
    if not ids or len(set(ids)) != len(ids):
        raise InputError(f"plan_ids: expected distinct plan ids, got {list(plan_ids)!r}")
    return ids


def check_publishable(
    infos: Sequence[PlanInfo], expected_heads: Mapping[str, int] | None = None
) -> None:
    """Plans published in one call: none archived, no community covered by two of them, each
    at the head the caller checked (``expected_heads``), if given."""
    owner: dict[str, str] = {}
    for info in infos:
        expected = (expected_heads or {}).get(info.id)
        if expected is not None and expected != info.head:
            raise ConflictError(
                f"plan {info.id}: revision {expected} was checked, but the plan is now at "
                f"revision {info.head}; check it again before publishing"
            )
        if info.status == "archived":
            raise InputError(f"plan {info.id} is archived; copy it (copy_plan) to publish it again")
        for community in info.communities:
            if community in owner:
                raise InputError(
                    f"plans {owner[community]} and {info.id} both cover community {community}; "
                    "publish one of them"
                )
            owner[community] = info.id


def incident_values(fields: Mapping[str, Any]) -> dict[str, Any]:
    """Incident fields checked: known names only, lon/lat numbers, an aware deadline (UTC)."""
    unknown = sorted(set(fields) - set(INCIDENT_FIELDS))
    if unknown:
        raise InputError(
            f"incident: unknown field(s) {', '.join(unknown)}; the fields are "
            f"{', '.join(INCIDENT_FIELDS)}"
        )
    values: dict[str, Any] = {}
    for key, value in fields.items():
        if value is None:
            values[key] = None
        elif key in INCIDENT_TIMES:
            values[key] = aware(value, key)
        elif key in ("lon", "lat", "extension_hours"):
            try:
                values[key] = float(value)
            except (TypeError, ValueError):
                raise InputError(f"incident: {key} must be a number, got {value!r}") from None
        elif key == "satisfaction":
            if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 5:
                raise InputError(f"incident: satisfaction must be 1 to 5, got {value!r}")
            values[key] = value
        else:
            values[key] = str(value)
    return values


def staff_etag(row: Mapping[str, Any]) -> str:
    """A short hash of a person's id and :data:`STAFF_FIELDS`: changes whenever any field does.

    Examples
    --------
    >>> staff_etag({"id": "S1", "name": "张三"}) == staff_etag({"id": "S1", "name": "李四"})
    False
    """
    text = json.dumps([row.get(k) for k in ("id", *STAFF_FIELDS)], ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def check_user(name: object, role: object) -> None:
    """A user's name is a non-empty string and the role one of :data:`USER_ROLES`."""
    if not isinstance(name, str) or not name.strip():
        raise InputError(f"name: expected a user name, got {name!r}")
    if role not in USER_ROLES:
        raise InputError(f"role: {role!r} is not one of {', '.join(USER_ROLES)}")


# Scripts whose letters look alike: a name mixing two of them (a Cyrillic а among Latin
# letters) can pass for another user's name.
_LOOKALIKE_SCRIPTS = ("LATIN", "CYRILLIC", "GREEK", "ARMENIAN", "CHEROKEE")
MAX_USER_NAME = 100


def check_new_user_name(name: str) -> None:
    """A new user's name may not pass for another: written in its normal form (NFKC: no
    full-width ``ａｄａ`` for ``ada``), no invisible or control characters, letters of at most
    one of the scripts that look alike, at most :data:`MAX_USER_NAME` characters.

    Examples
    --------
    >>> check_new_user_name("ada")
    >>> check_new_user_name("王小明")
    >>> try:
    ...     check_new_user_name("аda")  # the first letter is Cyrillic
    ... except InputError as refused:
    ...     print(str(refused).split(',')[0])
    name: 'аda' mixes CYRILLIC and LATIN letters
    """
    if len(name) > MAX_USER_NAME:
        raise InputError(f"name: longer than {MAX_USER_NAME} characters")
    if unicodedata.normalize("NFKC", name) != name:
        shown = unicodedata.normalize("NFKC", name)
        raise InputError(f"name: {name!r} is not in its normal form; write {shown!r}")
    if any(unicodedata.category(c) in ("Cc", "Cf", "Zl", "Zp") for c in name):
        raise InputError(f"name: {name!r} holds an invisible or control character")
    scripts = {unicodedata.name(c, "").split(" ")[0] for c in name if c.isalpha()} & set(
        _LOOKALIKE_SCRIPTS
    )
    if len(scripts) > 1:
        raise InputError(
            f"name: {name!r} mixes {' and '.join(sorted(scripts))} letters, which look alike; "
            "write it in one script"
        )


def _unique(values: pd.Series, what: str, column: str) -> None:
    if values.isna().any():
        rows = np.flatnonzero(values.isna().to_numpy())[:20].tolist()
        raise InputError(f"{what}: no {column} in row(s) {', '.join(map(str, rows))}")
    twice = values[values.duplicated()].unique().tolist()
    if twice:
        raise InputError(f"{what}: {column} repeated: {', '.join(map(str, twice[:20]))}")


_DEPARTMENT_CODE = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,31}$")


def check_department_code(code: object) -> str:
    """A department code: a short lower-case ASCII id.

    >>> check_department_code("chengguan")
    'chengguan'
    """
    text = str(code).strip()
    if not _DEPARTMENT_CODE.match(text):
        raise InputError(
            f"department code {code!r}: use a short lower-case ASCII id (a-z0-9_.-, ≤ 32), "
            "e.g. chengguan"
        )
    return text
