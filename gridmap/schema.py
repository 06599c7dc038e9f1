"""The data model: every layer's columns, types and geometry, in one place that all code uses.

docs/data-model.md describes the same model for people; tests/test_schema.py keeps the two in step.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "LAYERS",
    "PLAN_LAYERS",
    "RECORD_LAYERS",
    "RESERVED_LAYERS",
    "Column",
    "Layer",
    "conform",
    "layer",
    "single_part_where_possible",
]


@dataclass(frozen=True)
class Column:
    """One attribute column of a layer.

    ``dtype`` is one of "str", "int", "float", "bool", "bytes" (photos). ``required`` columns
    must be present in a source file (after --field mapping); ``nullable`` says whether a value
    may be missing.
    """

    name: str
    dtype: str
    required: bool = False
    nullable: bool = True
    doc: str = ""


@dataclass(frozen=True)
class Layer:
    """A layer of the workspace: its id column, attribute columns and geometry kind."""

    name: str
    id_column: str
    columns: tuple[Column, ...]
    geometry: str | None  # "polygon" | "polygon_or_point" | "line" | "point" | None (a table)
    doc: str = ""

    @property
    def column_names(self) -> list[str]:
        return [c.name for c in self.columns]

    @property
    def required(self) -> list[str]:
        return [c.name for c in self.columns if c.required]

    def column(self, name: str) -> Column:
        for c in self.columns:
            if c.name == name:
                return c
        raise KeyError(name)


DIVISION_LEVELS = ("district", "street", "community")
UNIT_KINDS = ("compound", "social_unit", "other")

DIVISIONS = Layer(
    "divisions",
    "code",
    (
        Column(
            "code",
            "str",
            True,
            False,
            "12-digit statistical code: 6 district + 3 street "
            "+ 3 community; districts and streets are padded with zeros (500108000000)",
        ),
        Column("name", "str", True, False, "formal name, e.g. 南湖社区居民委员会"),
        Column("short_name", "str", doc="name residents use, e.g. 南湖社区"),
        Column("level", "str", nullable=False, doc="district | street | community"),
        Column("parent_code", "str", doc="12-digit code of the enclosing division"),
    ),
    "polygon",
    "Administrative divisions: district, streets/towns (街道/镇), communities/villages (社区/村).",
)

UNITS = Layer(
    "units",
    "id",
    (
        Column("id", "str", True, False),
        Column(
            "kind",
            "str",
            nullable=False,
            doc="compound (封闭小区) | social_unit (社会单位) | other",
        ),
        Column("name", "str", True, False),
        Column("category", "str", doc="finer kind, e.g. school, hospital, enterprise, office"),
        Column("community_code", "str", doc="the community holding most of the unit"),
        Column(
            "own_grid",
            "bool",
            doc="专属网格: the unit is one grid whatever its residents (default false)",
        ),
    ),
    "polygon",
    "Closed compounds and social units: each is kept whole by the partition.",
)

BUILDINGS = Layer(
    "buildings",
    "id",
    (
        Column("id", "str", True, False),
        Column("name", "str"),
        Column("address", "str"),
        Column("unit_id", "str", doc="the compound or social unit it belongs to, if any"),
        Column("floors", "int"),
        Column("households", "int"),
        Column("residents", "int", nullable=False),
        Column(
            "residents_estimated",
            "bool",
            nullable=False,
            doc="true when residents = footprint area × floors × persons per m²",
        ),
    ),
    "polygon_or_point",
    "Building footprints (points are accepted and kept as points).",
)

ROADS = Layer(
    "roads",
    "id",
    (
        Column("id", "str", True, False),
        Column("name", "str"),
        Column("class", "str", doc="e.g. primary, secondary, residential (OSM highway values)"),
    ),
    "line",
    "Optional road centre lines; main roads bound grids where possible.",
)

STAFF = Layer(
    "staff",
    "id",
    (
        Column("id", "str", True, False),
        Column("name", "str", True, False),
        Column("role", "str", True, False, "a key of Settings.roles, e.g. police (警员)"),
        Column("phone_public", "str", doc="shown on the grid's public board"),
        Column("phone_private", "str", doc="never shown to the public"),
        Column("duties", "str"),
        Column("community_code", "str", doc="the community the person works in, if known"),
    ),
    None,
    "Grid staff. Assignment to grids comes with plans.",
)

GRIDS = Layer(
    "grids",
    "code",
    (
        Column("code", "str", True, False, "15-digit grid code: community code + 3 digits"),
        Column("name", "str"),
        Column("community_code", "str"),
    ),
    "polygon",
    "Grid polygons imported from elsewhere (a legacy, hand-drawn layer) for checking/repair.",
)

OFFICES = Layer(
    "offices",
    "id",
    (
        Column("id", "str", True, False),
        Column("community_code", "str", doc="the community it serves"),
        Column("name", "str", True, False, "e.g. 南湖社区居民委员会"),
        Column("address", "str"),
        Column("phone", "str", doc="the office's public phone"),
        Column("hours", "str", doc="opening hours, e.g. 周一至周五 09:00-12:00 14:00-17:30"),
    ),
    "point",
    "Community offices (社区居委会/村委会) where residents go: a point each.",
)

LANDCOVER = Layer(
    "landcover",
    "id",
    (
        Column("id", "str", True, False),
        Column("kind", "str", True, False, "water | park | forest"),
        Column("name", "str", doc="e.g. 长江, 广阳岛"),
    ),
    "polygon",
    "Optional water and green areas (rivers, lakes, parks, wooded hills), for the base map only.",
)

LAYERS: dict[str, Layer] = {
    lyr.name: lyr for lyr in (DIVISIONS, UNITS, BUILDINGS, ROADS, STAFF, GRIDS, OFFICES, LANDCOVER)
}

# The store's own tables (gridmap.store.contract): plans and their immutable revisions, then
# publications, staff assignments, incidents, users and the audit log. Times are ISO 8601 text
# in UTC ("2026-03-01T08:00:00.000000Z"), so that text order is time order.
_TIME = "ISO 8601 time, UTC"
PLANS = Layer(
    "plans",
    "id",
    (
        Column("id", "str", True, False, '"1", "2", …'),
        Column("name", "str"),
        Column("status", "str", nullable=False, doc="draft | published | archived"),
        Column("communities", "str", nullable=False, doc="JSON list of community codes"),
        Column("head", "int", nullable=False, doc="number of the newest revision"),
        Column("created_at", "str", nullable=False, doc=_TIME),
        Column("created_by", "str", nullable=False),
        Column("copied_from", "str", doc="the plan it was copied from"),
        Column("params", "str", doc="how it was made (target, tolerance, weight, seed…), JSON"),
    ),
    None,
    "Grid plans: one row per plan; its data lives in its revisions.",
)
PLAN_REVISIONS = Layer(
    "plan_revisions",
    "plan_id",
    (
        Column("plan_id", "str", True, False),
        Column("number", "int", True, False, "1, 2, … per plan"),
        Column("base", "int", doc="the revision it was made from"),
        Column("created_at", "str", nullable=False, doc=_TIME),
        Column("created_by", "str", nullable=False),
        Column("operation", "str", nullable=False, doc="partition, copy, move, merge, split…"),
        Column("detail", "str", doc="JSON"),
    ),
    None,
    "Immutable revisions of plans, keyed by (plan_id, number).",
)
PLAN_CELLS = Layer(
    "plan_cells",
    "plan_id",
    (
        Column("plan_id", "str", True, False),
        Column("cell_id", "str", True, False, 'community code + "-C" + number'),
        Column("version", "int", True, False, "1, then +1 whenever a revision changes the cell"),
        Column("community_code", "str", nullable=False),
        Column("atom_id", "str", nullable=False),
        Column("residents", "int"),
        Column("households", "int"),
    ),
    "polygon",
    "The canvas of a plan, stored once and shared by its revisions.",
)
PLAN_ASSIGNMENTS = Layer(
    "plan_assignments",
    "plan_id",
    (
        Column("plan_id", "str", True, False),
        Column("revision", "int", True, False),
        Column("cell_id", "str", True, False),
        Column("cell_version", "int", True, False),
        Column("grid_code", "str", True, False),
    ),
    None,
    "Which grid each cell is in, per revision.",
)
PLAN_GRIDS = Layer(
    "plan_grids",
    "plan_id",
    (
        Column("plan_id", "str", True, False),
        Column("revision", "int", True, False),
        Column("code", "str", True, False),
        Column("community_code", "str", nullable=False),
        Column("name", "str"),
        Column("residents", "int"),
        Column("households", "int"),
        Column("cells", "int"),
        Column("compactness", "float", doc="Polsby-Popper, 4πA/P²"),
    ),
    "polygon",
    "The grids of each revision, dissolved from its cells.",
)
PLAN_LAYERS: dict[str, Layer] = {
    lyr.name: lyr for lyr in (PLANS, PLAN_REVISIONS, PLAN_CELLS, PLAN_ASSIGNMENTS, PLAN_GRIDS)
}

PUBLICATIONS = Layer(
    "publications",
    "community_code",
    (
        Column("community_code", "str", True, False),
        Column("plan_id", "str", True, False),
        Column("revision", "int", True, False),
        Column("valid_from", "str", True, False, _TIME),
        Column("valid_to", "str", doc="empty while in force"),
        Column("published_by", "str", nullable=False),
        Column(
            "regridded_at",
            "str",
            doc="when the open incidents of the community were moved to this plan's grids "
            "(empty until the publication takes effect: a future valid_from)",
        ),
    ),
    None,
    "Which plan revision is in force in a community, from when until when.",
)
STAFF_ASSIGNMENTS = Layer(
    "staff_assignments",
    "staff_id",
    (
        Column("staff_id", "str", True, False),
        Column("grid_code", "str", True, False),
        Column("role", "str", True, False),
        Column("assigned_at", "str", nullable=False, doc=_TIME),
        Column("assigned_by", "str", nullable=False),
    ),
    None,
    "Roles of staff in grids; a person may hold roles in several grids.",
)
INCIDENTS = Layer(
    "incidents",
    "id",
    (
        Column("id", "str", True, False),
        Column("version", "int", nullable=False, doc="1 on creation, +1 per update"),
        Column("created_at", "str", nullable=False, doc=_TIME),
        Column("updated_at", "str", nullable=False, doc=_TIME),
        Column("category", "str"),
        Column("status", "str"),
        Column("description", "str"),
        Column("lon", "float"),
        Column("lat", "float"),
        Column("grid_code", "str"),
        Column("community_code", "str"),
        Column("street_code", "str"),
        Column("address", "str"),
        Column("reporter_contact", "str", doc="private: never in a public answer"),
        Column("deadline", "str", doc=_TIME),
        Column("assignee", "str", doc="staff id"),
        Column("channel", "str", doc="office (recorded by staff) | open311 (a resident's report)"),
        Column(
            "public_note",
            "str",
            doc="the text a staff member made public; the public sees no other free text",
        ),
        Column("stage_deadline", "str", doc=_TIME + ": when the current stage must end"),
        Column("department", "str", doc="code of the department the case is dispatched to"),
        Column("satisfaction", "int", doc="1-5, given at evaluation (评价)"),
        Column("extension_hours", "float", doc="working hours of a pending extension request"),
        Column("closed_at", "str", doc=_TIME + ": when the case was closed (结案)"),
    ),
    "point",
    "Incidents at a point, and where they stand.",
)
INCIDENT_EVENTS = Layer(
    "incident_events",
    "incident_id",
    (
        Column("incident_id", "str", True, False),
        Column("seq", "int", True, False, "1, 2, … per incident"),
        Column("at", "str", nullable=False, doc=_TIME),
        Column("actor", "str", nullable=False),
        Column("action", "str", nullable=False, doc="report, register, dispatch, regrid…"),
        Column("from_status", "str"),
        Column("to_status", "str"),
        Column("note", "str"),
    ),
    None,
    "The steps of each incident's life.",
)
USERS = Layer(
    "users",
    "name",
    (
        Column("name", "str", True, False),
        Column("role", "str", nullable=False, doc="public | staff | planner | admin"),
        Column("password_hash", "str", nullable=False),
        Column("created_at", "str", nullable=False, doc=_TIME),
        Column("active", "bool", nullable=False),
        Column(
            "scope",
            "str",
            doc="JSON list of the district, street or community codes the user works in; "
            "empty: city-wide (admins are always city-wide)",
        ),
        Column(
            "duties",
            "str",
            doc="JSON list of workflow roles: acceptor (受理员), dispatcher (派遣员), "
            "handler (处置单位), supervisor (监督员)",
        ),
        Column("department", "str", doc="a handler's department code"),
    ),
    None,
    "People who sign in.",
)
AUDIT_LOG = Layer(
    "audit_log",
    "seq",
    (
        Column("seq", "int", True, False, "1, 2, …"),
        Column("at", "str", nullable=False, doc=_TIME),
        Column("actor", "str", nullable=False),
        Column("action", "str", nullable=False, doc="the store method: commit, publish…"),
        Column("outcome", "str", nullable=False, doc="ok | conflict | refused"),
        Column("plan_id", "str"),
        Column("revision", "int"),
        Column("detail", "str", doc="JSON"),
    ),
    None,
    "Every change: who, when, what, which plan and revision, and its outcome.",
)
SIGN_IN_FAILURES = Layer(
    "sign_in_failures",
    "name",
    (
        Column("name", "str", nullable=False, doc="the user name tried (at most 100 characters)"),
        Column("at", "str", nullable=False, doc=_TIME),
    ),
    None,
    "Wrong passwords of the last minutes, per user name: the lockout every server process sees "
    "(kept only for the lockout window; not part of a backup).",
)
RATE_USAGE = Layer(
    "rate_usage",
    "client",
    (
        Column("bucket", "str", nullable=False, doc="requests, sign_in_address or sign_in_name"),
        Column("client", "str", nullable=False, doc="the client address or user name"),
        Column("slot", "int", nullable=False, doc="the 10-second slot: Unix time // 10"),
        Column("process", "str", nullable=False, doc="the server process that took the tokens"),
        Column("tokens", "float", nullable=False, doc="tokens it took in that slot"),
    ),
    None,
    "Tokens each server process took from its rate-limit buckets in the last minute: how every "
    "process on the store shares one budget per client (not part of a backup).",
)
JOBS = Layer(
    "jobs",
    "id",
    (
        Column("id", "str", True, False, "1, 2, … in the order submitted"),
        Column("kind", "str", nullable=False, doc="what the job does: partition"),
        Column("state", "str", nullable=False, doc="queued | running | done | failed"),
        Column("params", "str", doc="JSON: the job's input (communities, target…)"),
        Column("created_at", "str", nullable=False, doc=_TIME),
        Column("created_by", "str", nullable=False, doc="the user who submitted it"),
        Column("started_at", "str", doc=_TIME + ", of the first claim"),
        Column("finished_at", "str", doc=_TIME),
        Column("progress", "str", doc="JSON: done, total, current community, stage"),
        Column("result_plan", "str", doc="the plan the job made"),
        Column("result", "str", doc="JSON: the job's summary (grids, in band…)"),
        Column("error", "str", doc="why the job failed"),
        Column("attempts", "int", doc="claims by a worker (a claim after a lost lease counts)"),
        Column("worker", "str", doc="the worker holding or last holding it (host:pid)"),
        Column("lease", "str", doc="the token of the current claim"),
        Column("lease_until", "str", doc=_TIME + ": another worker may claim it after"),
    ),
    None,
    "Long jobs run in the background (a partition), their progress and result; kept so that a "
    "restart neither loses nor repeats one (not part of a backup).",
)
SUBSIDY_RULES = Layer(
    "subsidy_rules",
    "name",
    (
        Column("name", "str", True, False, '"default": the rules in force'),
        Column("base_yuan", "float", nullable=False, doc="the base part a worker gets a month"),
        Column("assessed_yuan", "float", nullable=False, doc="the part released by assessment"),
        Column(
            "full_share",
            "float",
            nullable=False,
            doc="on-time share (0-1) at or above which the assessed part is released in full",
        ),
        Column(
            "pro_rata",
            "bool",
            nullable=False,
            doc="below full_share: release share/full_share of it (true) or nothing (false)",
        ),
        Column(
            "reopened_deduction_yuan",
            "float",
            nullable=False,
            doc="taken off the assessed part per reopened case (the part never goes below 0)",
        ),
        Column("updated_at", "str", nullable=False, doc=_TIME),
        Column("updated_by", "str", nullable=False),
    ),
    None,
    "How a grid worker's monthly subsidy is computed from the assessment (set by an admin).",
)
GRID_LOCKS = Layer(
    "grid_locks",
    "plan_id",
    (
        Column("plan_id", "str", True, False),
        Column("grid_code", "str", True, False),
        Column("locked_by", "str", nullable=False),
        Column("locked_at", "str", nullable=False, doc=_TIME),
    ),
    None,
    "Grids of a draft plan a planner has locked: an edit that changes one is refused "
    "(working state, not part of a backup).",
)
PLAN_SUBMISSIONS = Layer(
    "plan_submissions",
    "plan_id",
    (
        Column("plan_id", "str", True, False),
        Column("revision", "int", nullable=False, doc="the revision submitted"),
        Column("state", "str", nullable=False, doc="submitted | refused"),
        Column("submitted_by", "str", nullable=False),
        Column("submitted_at", "str", nullable=False, doc=_TIME),
        Column("note", "str", doc="the planner's note to the admin"),
        Column("refused_by", "str", doc="the admin who sent it back"),
        Column("refused_at", "str", doc=_TIME),
        Column("reason", "str", doc="why it was sent back"),
    ),
    None,
    "A draft a planner submitted for publication, one row per plan (in a backup; the audit "
    "log keeps every submission, withdrawal and refusal).",
)
DEPARTMENTS = Layer(
    "departments",
    "code",
    (
        Column("code", "str", True, False, "a short ASCII id, e.g. chengguan"),
        Column("name", "str", nullable=False, doc="e.g. 城管执法中队"),
        Column("phone", "str", doc="the duty phone the office calls"),
    ),
    None,
    "Departments cases are dispatched to (城管, 住建, 派出所, 物业, 市场监管, 环保…).",
)
INCIDENT_PHOTOS = Layer(
    "incident_photos",
    "incident_id",
    (
        Column("incident_id", "str", True, False),
        Column("seq", "int", True, False, "1, 2, … per incident"),
        Column("kind", "str", nullable=False, doc="before | after"),
        Column("content_type", "str", nullable=False, doc="image/jpeg | image/png | image/webp"),
        Column("width", "int", nullable=False),
        Column("height", "int", nullable=False),
        Column("data", "bytes", nullable=False, doc="the image, re-encoded without EXIF"),
        Column("public", "bool", nullable=False, doc="staff made it public (Open311 media_url)"),
        Column("at", "str", nullable=False, doc=_TIME),
        Column("actor", "str", nullable=False),
    ),
    None,
    "Photos of incidents, before and after handling.",
)
RECORD_LAYERS: dict[str, Layer] = {
    lyr.name: lyr
    for lyr in (
        PUBLICATIONS,
        STAFF_ASSIGNMENTS,
        INCIDENTS,
        INCIDENT_EVENTS,
        USERS,
        AUDIT_LOG,
        SIGN_IN_FAILURES,
        RATE_USAGE,
        JOBS,
        SUBSIDY_RULES,
        GRID_LOCKS,
        PLAN_SUBMISSIONS,
        DEPARTMENTS,
        INCIDENT_PHOTOS,
    )
}

# Tables the store owns (plans, revisions, incidents…): a reference-layer write never touches them.
RESERVED_LAYERS = (*PLAN_LAYERS, *RECORD_LAYERS)


def layer(name: str) -> Layer:
    """The layer called ``name``.

    Examples
    --------
    >>> layer("buildings").id_column
    'id'
    """
    try:
        return (LAYERS | PLAN_LAYERS | RECORD_LAYERS)[name]
    except KeyError:
        from gridmap.errors import InputError

        raise InputError(f"unknown layer {name!r}; the layers are {', '.join(LAYERS)}") from None


_PANDAS_DTYPES = {"str": "str", "int": "Int64", "float": "Float64", "bool": "boolean"}


def conform(frame, lyr: Layer):  # type: ignore[no-untyped-def]
    """Return ``frame`` with exactly ``lyr``'s columns (plus geometry), typed as the schema says.

    Missing optional columns are added empty; extra columns are dropped. Strings stay strings,
    integers become nullable ``Int64``, booleans nullable ``boolean`` so that a missing value is
    never confused with 0 or False.

    Examples
    --------
    >>> import pandas as pd
    >>> out = conform(pd.DataFrame({"id": [1], "name": ["张某一"], "role": ["police"]}),
    ...               layer("staff"))
    >>> list(out.columns)[:3], out["id"].iloc[0]
    (['id', 'name', 'role'], '1')
    """
    import pandas as pd

    out = frame.copy()
    for col in lyr.columns:
        if col.name not in out.columns:
            out[col.name] = pd.Series(pd.NA, index=out.index, dtype="object")
        values = out[col.name]
        if col.dtype == "str":
            as_text = values.map(_as_text, na_action="ignore")
            out[col.name] = as_text.astype("str").where(as_text.notna(), None)
        elif col.dtype == "int":
            out[col.name] = pd.to_numeric(values, errors="raise").round().astype("Int64")
        elif col.dtype == "float":
            out[col.name] = pd.to_numeric(values, errors="raise").astype("Float64")
        else:
            flags = [None if pd.isna(v) else _as_bool(v) for v in values.tolist()]
            out[col.name] = pd.Series(pd.array(flags, dtype="boolean"), index=out.index)
    keep = lyr.column_names + ([out.geometry.name] if lyr.geometry else [])
    return out[keep]


def _as_bool(value: object) -> bool:
    text = str(value).strip().lower()
    if text in ("1", "1.0", "true", "t", "yes", "y", "是"):
        return True
    if text in ("0", "0.0", "false", "f", "no", "n", "否"):
        return False
    raise ValueError(f"not a yes/no value: {value!r}")


def _as_text(value: object) -> str:
    # 1.0 read from a numeric column is the id "1", not "1.0".
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def single_part_where_possible(geoms):  # type: ignore[no-untyped-def]
    """Polygon layers are stored as MultiPolygon; a single part reads back as a Polygon.

    Both stores give geometries back this way, so that what was imported is what is read.

    Examples
    --------
    >>> import numpy as np, shapely
    >>> one = shapely.MultiPolygon([shapely.box(0, 0, 1, 1)])
    >>> single_part_where_possible(np.array([one]))[0].geom_type
    'Polygon'
    """
    import shapely

    one = (shapely.get_type_id(geoms) == shapely.GeometryType.MULTIPOLYGON) & (
        shapely.get_num_geometries(geoms) == 1
    )
    out = geoms.copy()
    out[one] = shapely.get_geometry(geoms[one], 0)
    return out
