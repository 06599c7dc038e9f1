"""The one settings class. Built by the caller (CLI, app factory, tests), never at import time."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

__all__ = ["DEFAULT_DEADLINES", "DEFAULT_OPTIONAL_ROLES", "DEFAULT_ROLES", "Settings"]

# Nan'an's practice: a grid head plus the five staff roles (网格五员). Other cities name other
# roles, so this is only the default of Settings.roles.
DEFAULT_ROLES: dict[str, str] = {
    "grid_head": "网格长",
    "police": "警员",
    "city_management": "城管协管员",
    "floating_population": "流动人口协管员",
    "mediation": "综治信访调解员",
    "safety_fire": "安全消防联络员",
}

# Overrides of a case's deadline in clock hours, by category prefix (the longest that matches
# wins; "*": any category). None by default: a case is due after its category's limit in working
# hours (gridmap/cases/data/categories.csv) on the working-day calendar.
DEFAULT_DEADLINES: dict[str, float] = {}

# Optional staff roles a grid may have beside the staff roles (楼栋长, 居民小组长): shown after the
# grid's staff, never counted as missing.
DEFAULT_OPTIONAL_ROLES: dict[str, str] = {
    "building_leader": "楼栋长",
    "group_leader": "居民小组长",
}


class Settings(BaseSettings):
    """gridmap's settings; every field can be set as an environment variable GRIDMAP_<NAME>.

    Examples
    --------
    >>> Settings(target=2500).target
    2500
    """

    model_config = SettingsConfigDict(env_prefix="GRIDMAP_", extra="forbid")

    workspace: Path = Field(
        Path("workspace/nanan.gpkg"), description="The GeoPackage workspace used by default."
    )
    database_url: str | None = Field(None, description="PostgreSQL/PostGIS URL, when used.")
    read_database_url: str | None = Field(
        None,
        description="A streaming replica of database_url: lookups, search, layers and tiles read "
        "from it (writes and signed-in work stay on database_url).",
    )
    refresh_seconds: float = Field(
        2.0,
        ge=0,
        description="How often the server looks for publications and staff changes made by "
        "other processes (or replicated), to rebuild its lookup index and tiles; 0: never.",
    )
    job_workers: int = Field(
        1,
        ge=0,
        le=8,
        description="Threads of each server process that run background jobs (partitions "
        "submitted over the API); 0: this process runs none, another one does.",
    )
    job_lease_seconds: float = Field(
        15.0,
        ge=2,
        description="How long a worker holds a job without renewing its lease (it renews every "
        "third of this); a job whose server was killed is taken up again after it.",
    )
    job_poll_seconds: float = Field(
        2.0, gt=0, description="How often an idle worker looks for jobs submitted elsewhere."
    )
    job_processes: int = Field(
        1,
        ge=1,
        le=64,
        description="Processes a background partition spreads its communities over.",
    )
    job_max_attempts: int = Field(
        3,
        ge=1,
        description="Times a job may lose its worker (server killed) before it is failed.",
    )
    target: int = Field(3000, gt=0, description="Target weight (residents) per grid.")
    tolerance: float = Field(0.2, ge=0, lt=1, description="Allowed relative deviation.")
    weight: str = Field("residents", pattern="^(residents|households)$")
    metric_epsg: int | None = Field(
        None, description="EPSG code for metric work; None picks the UTM zone of the data."
    )
    persons_per_m2: float = Field(
        0.025,
        gt=0,
        description="Residents per m² of floor area, to estimate a building's residents "
        "(footprint area × floors × this) when the source has none.",
    )
    persons_per_household: float = Field(
        2.6, gt=0, description="Residents per household, when only households are known."
    )
    default_floors: int = Field(1, ge=1, description="Floors assumed when a building has none.")
    overlap_tolerance_m2: float = Field(
        1.0, ge=0, description="Overlaps of communities below this area are not reported."
    )
    roles: dict[str, str] = Field(
        default_factory=lambda: dict(DEFAULT_ROLES),
        description="Staff roles: key → display name (zh-CN).",
    )
    token_secret: SecretStr | None = Field(
        None,
        description="Key that signs sign-in tokens (HS256). Unset: one is generated once and kept "
        "in token_secret_file; set it (the same on every server) when several serve one database.",
    )
    token_secret_file: Path | None = Field(
        None,
        description="Where a generated token key is kept (mode 0600); default: beside the "
        "workspace, <workspace>.secret.",
    )
    token_minutes: int = Field(30, gt=0, le=24 * 60, description="Lifetime of a sign-in token.")
    max_write_bytes: int = Field(
        1_000_000, gt=0, description="Largest request body a write endpoint accepts (bytes)."
    )
    rate_limit_per_second: float = Field(
        20.0, ge=0, description="Public requests per second per client IP (token bucket); 0: off."
    )
    rate_limit_burst: int = Field(
        400,
        gt=0,
        description="Requests a client IP may make at once (a map view loads dozens "
        "of tiles) before the rate limit applies.",
    )
    rate_limit_sync_seconds: float = Field(
        1.0,
        ge=0,
        le=60,
        description="How often each server process shares what its rate-limit and sign-in "
        "buckets gave out with the other processes on the store (one short transaction); a "
        "client's budget is shared with about this much lag. 0: each process limits alone.",
    )
    max_layer_features: int = Field(
        10_000,
        gt=0,
        description="Most features one /api/layers answer may hold; a larger answer asks for a "
        "smaller bbox (the map reads buildings as tiles).",
    )
    sign_in_per_minute: float = Field(
        10.0,
        ge=0,
        description="Sign-in attempts per minute per client IP and per user name (token "
        "buckets, after sign_in_burst at once); 0: off. Each attempt costs an argon2 hash.",
    )
    sign_in_burst: int = Field(10, gt=0, description="Sign-in attempts at once before the rate.")
    sign_in_tarpit_s: float = Field(
        1.0,
        ge=0,
        le=30,
        description="How long a sign-in refused for its address's rate waits before its 429.",
    )
    sign_in_concurrency: int = Field(
        2,
        gt=0,
        description="Password hashes computed at once (argon2 takes ~64 MiB and a core for "
        "~50 ms each); more sign-ins wait up to a second, then get 503 with Retry-After.",
    )
    cors_origins: list[str] = Field(
        default_factory=list,
        description="Origins allowed to call the API from a browser (CORS); none by default.",
    )
    access_log: str = Field(
        "off",
        pattern=r"^(off|on|sample:[1-9][0-9]*)$",
        description="What the access log of `gridmap serve` records of the public reads (an "
        "anonymous GET or HEAD: lookups, search, layers, tiles, pages, health): 'off' none, "
        "'on' every one, 'sample:N' one in N. Sign-ins, writes and signed-in requests are "
        "always recorded. Off by default: a log line costs more CPU than a lookup.",
    )
    tile_cache_size: int = Field(
        4096, ge=0, description="Vector tiles kept in memory (least recently used out)."
    )
    tiles_prebuilt: bool = Field(
        True,
        description="Serve the tiles prebuilt in the store (gridmap tiles build) while they are "
        "current, and build them in the background after a publication or a load made through "
        "the server; off: every tile is encoded live (and cached in memory).",
    )
    tile_prebuild_max_zoom: int = Field(
        16, ge=0, le=20, description="Last zoom prebuilt; tiles beyond it are encoded live."
    )
    tile_build_workers: int = Field(
        0,
        ge=0,
        description="Processes (GeoPackage) or connections (PostGIS) that build tiles; 0: up to 2.",
    )
    tile_check_seconds: float = Field(
        2.0,
        ge=0,
        description="How often a server checks which prebuilt tile set is current (a set built "
        "by another process, a publication dated earlier coming into force).",
    )
    tile_max_age: int = Field(
        60, ge=0, description="Cache-Control max-age of tiles and layers, in seconds."
    )
    optional_roles: dict[str, str] = Field(
        default_factory=lambda: dict(DEFAULT_OPTIONAL_ROLES),
        description="Optional staff roles (building and group leaders): key → display name; "
        "shown after the staff roles, never counted as missing.",
    )
    incident_deadlines: dict[str, float] = Field(
        default_factory=lambda: dict(DEFAULT_DEADLINES),
        description="Overrides of a case's deadline in clock hours by category prefix ('*': any "
        "other); none by default: the category's limit in working hours applies.",
    )
    case_workflow_csv: Path | None = Field(
        None,
        description="The case workflow's steps and who takes them (default: the shipped "
        "gridmap/cases/data/workflow.csv).",
    )
    case_stages_csv: Path | None = Field(
        None,
        description="The stages' time limits and reminders in working hours (default: the "
        "shipped gridmap/cases/data/stages.csv).",
    )
    photo_max_bytes: int = Field(
        8_000_000, gt=0, description="Largest incident photo accepted (bytes of the upload)."
    )
    photo_max_pixels: int = Field(
        40_000_000, gt=0, description="Largest incident photo accepted (width × height)."
    )
    open311_jurisdiction: str | None = Field(
        None,
        description="The Open311 jurisdiction_id this server answers to (e.g. a domain), besides "
        "its district codes; requests naming another are 404.",
    )
    open311_api_keys: list[SecretStr] = Field(
        default_factory=list,
        description="Keys that may POST Open311 requests (api_key); none: anyone may report.",
    )

    def all_roles(self) -> dict[str, str]:
        """The staff roles, then the optional ones (building and group leaders), in board order.

        Examples
        --------
        >>> list(Settings().all_roles())[-2:]
        ['building_leader', 'group_leader']
        """
        return {
            **self.roles,
            **{k: v for k, v in self.optional_roles.items() if k not in self.roles},
        }
