-- 005: units that are a grid of their own (专属网格), and the community offices layer.
-- Columns follow gridmap/schema.py (see 001).

ALTER TABLE gridmap.units ADD COLUMN IF NOT EXISTS own_grid boolean;

CREATE TABLE gridmap.offices (
    id text PRIMARY KEY,
    community_code text,
    name text NOT NULL,
    address text,
    phone text,
    hours text,
    geom geometry(Point, 4326),
    fid bigserial NOT NULL
);
CREATE INDEX offices_geom_gist ON gridmap.offices USING gist (geom);
