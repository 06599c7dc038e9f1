-- 001: the six layers of gridmap.schema, one table each, in schema `gridmap`.
--
-- Columns follow gridmap/schema.py exactly (str -> text, int -> integer, bool -> boolean; a
-- column with nullable=False is NOT NULL; the id column is the primary key). Two columns are the
-- store's own and never reach a frame:
--   fid            insertion order, so that a layer reads back in the order it was written, as
--                  a GeoPackage does (a sequence default, not an identity column, because
--                  PostgreSQL 15 does not allow identity columns on partitioned tables);
--   district_code  (buildings, grids) the 12-digit code of the district: the first 6 digits of
--                  the community's code padded with zeros. It is the partition key to come:
--                  declarative partitioning (PARTITION BY LIST (district_code)), which lets Citus
--                  shard these tables by district, arrives in a later migration.
-- Geometries are lon/lat WGS-84 (EPSG:4326); every geometry column has a GiST index.

CREATE EXTENSION IF NOT EXISTS postgis;

CREATE SCHEMA IF NOT EXISTS gridmap;

CREATE TABLE gridmap.divisions (
    code text PRIMARY KEY,
    name text NOT NULL,
    short_name text,
    level text NOT NULL,
    parent_code text,
    geom geometry(MultiPolygon, 4326),
    fid bigserial NOT NULL
);
CREATE INDEX divisions_geom_gist ON gridmap.divisions USING gist (geom);

CREATE TABLE gridmap.units (
    id text PRIMARY KEY,
    kind text NOT NULL,
    name text NOT NULL,
    category text,
    community_code text,
    geom geometry(MultiPolygon, 4326),
    fid bigserial NOT NULL
);
CREATE INDEX units_geom_gist ON gridmap.units USING gist (geom);

-- Footprints are polygons; a building known only by its address point stays a point.
CREATE TABLE gridmap.buildings (
    id text PRIMARY KEY,
    name text,
    address text,
    unit_id text,
    floors integer,
    households integer,
    residents integer NOT NULL,
    residents_estimated boolean NOT NULL,
    geom geometry(Geometry, 4326),
    district_code text,
    fid bigserial NOT NULL
);
CREATE INDEX buildings_geom_gist ON gridmap.buildings USING gist (geom);

CREATE TABLE gridmap.roads (
    id text PRIMARY KEY,
    name text,
    "class" text,
    geom geometry(MultiLineString, 4326),
    fid bigserial NOT NULL
);
CREATE INDEX roads_geom_gist ON gridmap.roads USING gist (geom);

CREATE TABLE gridmap.staff (
    id text PRIMARY KEY,
    name text NOT NULL,
    role text NOT NULL,
    phone_public text,
    phone_private text,
    duties text,
    community_code text,
    fid bigserial NOT NULL
);

CREATE TABLE gridmap.grids (
    code text PRIMARY KEY,
    name text,
    community_code text,
    geom geometry(MultiPolygon, 4326),
    district_code text,
    fid bigserial NOT NULL
);
CREATE INDEX grids_geom_gist ON gridmap.grids USING gist (geom);
