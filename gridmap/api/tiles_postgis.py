"""Vector tiles from PostGIS: one ST_AsMVT query per tile, on the store's connection pool.

The grids in force join publications to plan_grids exactly as
:meth:`PostgisStore.grids_at` does; a grid's deviation is its weight over its plan's target,
minus one (the plan's params, else the settings), rounded to 4 places as in
:class:`gridmap.api.features.FeatureCache`.
"""

from __future__ import annotations

import math
from typing import Any

from psycopg import sql

from gridmap.api.tiles_common import BUFFER, EXTENT, TILE_FIELDS, lonlat_bounds
from gridmap.settings import Settings

__all__ = ["PostgisTiles"]

_TILE = sql.SQL(
    "WITH box AS (SELECT ST_TileEnvelope(%(z)s, %(x)s, %(y)s) AS env,"
    " ST_Transform(ST_TileEnvelope(%(z)s, %(x)s, %(y)s, margin => %(margin)s), 4326) AS ll),"
    " src AS MATERIALIZED (SELECT {columns},"
    " ST_AsMVTGeom(ST_Transform(ST_Simplify(t.geom, %(simplify)s, true), 3857), box.env,"
    " %(extent)s, %(buffer)s, true) AS mvtgeom"
    " FROM {source}, box WHERE t.geom && box.ll{where})"
    " SELECT ST_AsMVT(src.*, %(layer)s, %(extent)s, 'mvtgeom') FROM src WHERE mvtgeom IS NOT NULL"
)
_DEVIATION = sql.SQL(
    "round(((CASE WHEN coalesce(pl.params->>'weight', %(weight)s) = 'households'"
    " THEN t.households ELSE t.residents END)::numeric"
    " / coalesce(nullif(pl.params->>'target', '')::numeric, %(target)s) - 1), 4)::float8"
    " AS deviation"
)
_IN_FORCE = sql.SQL(
    "gridmap.publications AS p JOIN gridmap.plan_grids AS t"
    " ON t.plan_id = p.plan_id AND t.revision = p.revision AND t.community_code = p.community_code"
    " JOIN gridmap.plans AS pl ON pl.id = t.plan_id"
)
_PLAN = sql.SQL("gridmap.plan_grids AS t JOIN gridmap.plans AS pl ON pl.id = t.plan_id")


def _half_unit(z: int, y: int) -> float:
    """Half a tile unit in degrees, at most, in both directions (a degree of latitude is
    sec(lat) times longer in Web Mercator): simplifying by it before the transform is what the
    GeoPackage encoder's simplification by half a unit does, and halves a heavy tile's SQL."""
    south, north = lonlat_bounds(z, 0, y)[1::2]
    return 360.0 / (1 << z) / EXTENT / 2 * math.cos(math.radians(max(abs(south), abs(north))))


class PostgisTiles:
    """Encode tiles with ST_AsMVT on the store's database."""

    def __init__(self, store: Any, settings: Settings) -> None:
        self.pool = store.pool  # the store's public connection pool
        self.settings = settings

    def invalidate(self) -> None:
        """Nothing to forget: every tile is a fresh query."""

    def tile(
        self, layer: str, z: int, x: int, y: int, plan: str | None = None, head: int | None = None
    ) -> bytes:
        """The MVT bytes of one tile of ``layer`` (b"" when no feature meets it)."""
        query, args = self._query(layer, plan, head)
        args.update(
            z=z, x=x, y=y, margin=BUFFER / EXTENT, extent=EXTENT, buffer=BUFFER, layer=layer
        )
        args["simplify"] = _half_unit(z, y)
        with self.pool.connection() as conn:
            row = conn.execute(query, args).fetchone()
        return bytes(row[0]) if row and row[0] is not None else b""

    def _query(
        self, layer: str, plan: str | None, head: int | None
    ) -> tuple[sql.Composable, dict[str, Any]]:
        fields = TILE_FIELDS[layer]
        args: dict[str, Any] = {}
        where: sql.Composable = sql.SQL("")
        if layer == "grids":
            columns = sql.SQL(", ").join(
                [sql.SQL("t.{}").format(sql.Identifier(f)) for f in fields if f != "deviation"]
                + [_DEVIATION]
            )
            args.update(weight=self.settings.weight, target=self.settings.target)
            if plan is None:
                source: sql.Composable = _IN_FORCE
                where = sql.SQL(
                    " AND p.valid_from <= now() AND (p.valid_to IS NULL OR p.valid_to > now())"
                )
            else:
                source = _PLAN
                where = sql.SQL(" AND t.plan_id = %(plan)s AND t.revision = %(head)s")
                args.update(plan=int(plan), head=head)
        else:
            columns = sql.SQL(", ").join(sql.SQL("t.{}").format(sql.Identifier(f)) for f in fields)
            table = "divisions" if layer in ("streets", "communities") else layer
            source = sql.SQL("gridmap.{} AS t").format(sql.Identifier(table))
            if table == "divisions":
                where = sql.SQL(" AND t.level = %(level)s")
                args["level"] = "street" if layer == "streets" else "community"
        return _TILE.format(columns=columns, source=source, where=where), args
