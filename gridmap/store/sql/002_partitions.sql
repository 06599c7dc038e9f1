-- 002: buildings and grids partitioned by district: PARTITION BY LIST (district_code).
--
-- district_code is the 12-digit code of the district a row lies in (500108000000 for 南岸区),
-- the key a distributed PostgreSQL (Citus) shards on. It is never NULL: '' means "in no known
-- district", and such rows (and rows whose code is not 12 digits) live in the DEFAULT
-- partition. The primary key includes the partition key, as PostgreSQL and Citus require; ids
-- stay unique across districts because writers check them under a lock on the layer.
--
-- One partition per district, created on demand by gridmap.district_partition() (appends) or
-- by the bulk loader (a fresh table loaded with COPY, indexed once, then attached).
-- Partitions are named <layer>_<district code>, e.g. gridmap.buildings_500108000000.

-- A table for one district of a partitioned layer, not yet attached: same columns and
-- defaults, plus the CHECK that lets ATTACH PARTITION skip its validation scan.
CREATE FUNCTION gridmap.new_district_table(parent text, district text) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
    child text := parent || '_' || district;
BEGIN
    IF district !~ '^[0-9]{12}$' THEN
        RAISE EXCEPTION 'district code must be 12 digits, got %', quote_literal(district);
    END IF;
    EXECUTE format('CREATE TABLE gridmap.%I (LIKE gridmap.%I INCLUDING DEFAULTS)', child, parent);
    EXECUTE format(
        'ALTER TABLE gridmap.%I ADD CONSTRAINT %I CHECK (district_code = %L)',
        child, child || '_district', district
    );
    RETURN child;
END $$;

-- The partition of gridmap.<parent> holding district ``district``, created (and the district's
-- rows moved out of the default partition) when absent. Codes that are not 12 digits, and '',
-- belong to the default partition. Safe against concurrent callers: an advisory lock per
-- partition serialises its creation.
CREATE FUNCTION gridmap.district_partition(parent text, district text) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
    child text := parent || '_' || district;
BEGIN
    IF district !~ '^[0-9]{12}$' THEN
        RETURN parent || '_default';
    END IF;
    PERFORM pg_advisory_xact_lock(hashtext('gridmap.' || child));
    IF to_regclass(format('gridmap.%I', child)) IS NOT NULL THEN
        RETURN child;
    END IF;
    PERFORM gridmap.new_district_table(parent, district);
    EXECUTE format(
        'WITH moved AS (DELETE FROM gridmap.%I WHERE district_code = %L RETURNING *)'
        ' INSERT INTO gridmap.%I SELECT * FROM moved',
        parent || '_default', district, child
    );
    EXECUTE format(
        'ALTER TABLE gridmap.%I ATTACH PARTITION gridmap.%I FOR VALUES IN (%L)',
        parent, child, district
    );
    RETURN child;
END $$;

-- buildings ---------------------------------------------------------------------------------
ALTER TABLE gridmap.buildings RENAME TO buildings_001;
ALTER TABLE gridmap.buildings_001 RENAME CONSTRAINT buildings_pkey TO buildings_001_pkey;
ALTER INDEX gridmap.buildings_geom_gist RENAME TO buildings_001_geom_gist;

CREATE TABLE gridmap.buildings (
    id text NOT NULL,
    name text,
    address text,
    unit_id text,
    floors integer,
    households integer,
    residents integer NOT NULL,
    residents_estimated boolean NOT NULL,
    geom geometry(Geometry, 4326),
    district_code text NOT NULL DEFAULT '',
    fid bigint NOT NULL DEFAULT nextval('gridmap.buildings_fid_seq'),
    PRIMARY KEY (id, district_code)
) PARTITION BY LIST (district_code);
ALTER SEQUENCE gridmap.buildings_fid_seq OWNED BY gridmap.buildings.fid;
CREATE INDEX buildings_geom_gist ON gridmap.buildings USING gist (geom);
CREATE TABLE gridmap.buildings_default PARTITION OF gridmap.buildings DEFAULT;

INSERT INTO gridmap.buildings
SELECT id, name, address, unit_id, floors, households, residents, residents_estimated, geom,
       coalesce(district_code, ''), fid
FROM gridmap.buildings_001;
DROP TABLE gridmap.buildings_001;

-- grids -------------------------------------------------------------------------------------
ALTER TABLE gridmap.grids RENAME TO grids_001;
ALTER TABLE gridmap.grids_001 RENAME CONSTRAINT grids_pkey TO grids_001_pkey;
ALTER INDEX gridmap.grids_geom_gist RENAME TO grids_001_geom_gist;

CREATE TABLE gridmap.grids (
    code text NOT NULL,
    name text,
    community_code text,
    geom geometry(MultiPolygon, 4326),
    district_code text NOT NULL DEFAULT '',
    fid bigint NOT NULL DEFAULT nextval('gridmap.grids_fid_seq'),
    PRIMARY KEY (code, district_code)
) PARTITION BY LIST (district_code);
ALTER SEQUENCE gridmap.grids_fid_seq OWNED BY gridmap.grids.fid;
CREATE INDEX grids_geom_gist ON gridmap.grids USING gist (geom);
CREATE TABLE gridmap.grids_default PARTITION OF gridmap.grids DEFAULT;

INSERT INTO gridmap.grids
SELECT code, name, community_code, geom, coalesce(district_code, ''), fid
FROM gridmap.grids_001;
DROP TABLE gridmap.grids_001;

-- Rows already there move out of the default partition into their district's. (The codes
-- are collected first: a partition cannot be attached while a scan of its parent is open.)
DO $$
DECLARE
    layer text;
    codes text[];
    code text;
BEGIN
    FOREACH layer IN ARRAY ARRAY['buildings', 'grids'] LOOP
        EXECUTE format('SELECT array_agg(DISTINCT district_code) FROM gridmap.%I', layer)
            INTO codes;
        FOREACH code IN ARRAY coalesce(codes, '{}') LOOP
            PERFORM gridmap.district_partition(layer, code);
        END LOOP;
    END LOOP;
END $$;
