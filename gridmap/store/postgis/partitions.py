"""Tables partitioned by district: which district a row is in, and its partition.

Buildings, grids and plan revisions' grids are ``PARTITION BY LIST (district_code)``
(gridmap/store/sql/002_partitions.sql): one partition per district, named
``<table>_<12-digit code>``, plus a default partition for rows in no known district ('').
That is the key a distributed PostgreSQL (Citus) shards on; see docs/scaling.md.

A building's district is the first 6 digits of the division containing a point on its
surface (a community before a street or district), padded to 12: computed here in bulk with
an STRtree rather than by a per-row subquery in the database, which took 1.7 s of a 2.6 s
load of the Nan'an sample.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
import psycopg
import shapely
from psycopg import sql

__all__ = [
    "NO_DISTRICT",
    "PARTITIONED",
    "attach_district_table",
    "district_of_code",
    "districts_of_geometries",
    "drop_partitions",
    "ensure_partitions",
    "is_district",
    "new_district_table",
    "partitions",
]

NO_DISTRICT = ""  # district_code of a row in no known district (the default partition)
PARTITIONED = ("buildings", "grids", "plan_grids")
_DISTRICT = re.compile(r"^\d{12}$")

_DIVISIONS = sql.SQL(
    "SELECT code, level = 'community', ST_AsBinary(geom) FROM gridmap.divisions"
    " WHERE geom IS NOT NULL"
)
_ENSURE = sql.SQL("SELECT gridmap.district_partition(%s, %s)")
_NEW_TABLE = sql.SQL("SELECT gridmap.new_district_table(%s, %s)")
_PARTITIONS = sql.SQL(
    "SELECT c.relname, pg_get_expr(c.relpartbound, c.oid) FROM pg_inherits AS i"
    " JOIN pg_class AS c ON c.oid = i.inhrelid WHERE i.inhparent = %s::regclass"
    " ORDER BY c.relname"
)


def district_of_code(code: object) -> str:
    """The district of a 12-digit division or grid code: its first 6 digits padded with zeros.

    Examples
    --------
    >>> district_of_code("500108003002"), district_of_code("500108003002001")
    ('500108000000', '500108000000')
    >>> district_of_code(None)
    ''
    """
    if (
        not isinstance(code, str)
        or len(code) < 6
        or not (code[:6].isascii() and code[:6].isdigit())
    ):
        return NO_DISTRICT
    return code[:6] + "000000"


def districts_of_geometries(conn: psycopg.Connection[Any], geoms: np.ndarray) -> np.ndarray:
    """The district code of each geometry: of the division holding a point on its surface.

    A community is preferred to a street or district, then the smallest code; a geometry in
    no division (or missing) gets :data:`NO_DISTRICT`. Divisions are read from the database,
    so call this after writing them in the same transaction.
    """
    out = np.full(len(geoms), NO_DISTRICT, dtype=object)
    rows = conn.execute(_DIVISIONS).fetchall()
    present = ~shapely.is_missing(geoms) & ~shapely.is_empty(geoms)
    if not rows or not present.any():
        return out
    codes = np.array([code for code, _, _ in rows], dtype=object)
    community = np.array([flag for _, flag, _ in rows], dtype=bool)
    divisions = shapely.from_wkb([bytes(wkb) for _, _, wkb in rows])
    where = np.flatnonzero(present)
    # A tree of the points, queried with the divisions: GEOS prepares each (large) division
    # once, instead of testing every point against unprepared polygons.
    tree = shapely.STRtree(shapely.point_on_surface(geoms[where]))
    division, found = tree.query(divisions, predicate="intersects")
    if not len(found):
        return out
    # Best division per geometry: communities first, then the smallest code (a rank per
    # division, computed once), then each geometry's first match in that order.
    rank = np.empty(len(codes), dtype=np.int64)
    rank[np.lexsort((codes.astype(str), ~community))] = np.arange(len(codes))
    order = np.lexsort((rank[division], found))
    first = np.ones(len(order), dtype=bool)
    first[1:] = found[order][1:] != found[order][:-1]
    best = order[first]
    district = np.array([district_of_code(c) for c in codes], dtype=object)
    out[where[found[best]]] = district[division[best]]
    return out


def partitions(conn: psycopg.Connection[Any], table: str) -> dict[str, str]:
    """The partitions of ``gridmap.<table>``: name → bound (``FOR VALUES IN (...)``/DEFAULT)."""
    qualified = f"gridmap.{table}"
    return dict(conn.execute(_PARTITIONS, (qualified,)).fetchall())


def ensure_partitions(conn: psycopg.Connection[Any], table: str, codes: Iterable[str]) -> None:
    """Create the partitions of ``gridmap.<table>`` for these district codes where absent."""
    for code in sorted(set(codes)):
        if _DISTRICT.match(code):
            conn.execute(_ENSURE, (table, code))


def new_district_table(conn: psycopg.Connection[Any], table: str, code: str) -> sql.Identifier:
    """A new, unattached and unindexed table for district ``code`` of ``gridmap.<table>``.

    Load it with COPY, then :func:`attach_district_table`: PostgreSQL builds its indexes
    once, when it is attached, instead of row by row.
    """
    row = conn.execute(_NEW_TABLE, (table, code)).fetchone()
    assert row is not None
    return sql.Identifier("gridmap", row[0])


def attach_district_table(
    conn: psycopg.Connection[Any], table: str, child: sql.Identifier, code: str
) -> None:
    """Attach a table made by :func:`new_district_table` as the partition of ``code``."""
    conn.execute(
        sql.SQL("ALTER TABLE {} ATTACH PARTITION {} FOR VALUES IN ({})").format(
            sql.Identifier("gridmap", table), child, sql.Literal(code)
        )
    )


def drop_partitions(conn: psycopg.Connection[Any], table: str, keep: Sequence[str] = ()) -> None:
    """Drop every district partition of ``gridmap.<table>`` and empty its default one."""
    for name, bound in partitions(conn, table).items():
        if bound == "DEFAULT":
            conn.execute(sql.SQL("TRUNCATE {}").format(sql.Identifier("gridmap", name)))
        elif name not in keep:
            conn.execute(sql.SQL("DROP TABLE {}").format(sql.Identifier("gridmap", name)))


def is_district(code: str) -> bool:
    """Whether ``code`` names a district partition (12 digits) rather than the default one."""
    return bool(_DISTRICT.match(code))
