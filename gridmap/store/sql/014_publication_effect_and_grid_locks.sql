-- 014: a publication may take effect at a later date. regridded_at is when the open incidents
-- of its community were moved to its grids: set by the publish itself when it takes effect at
-- once, else by whichever server process first notices the date has passed (NULL until then).
ALTER TABLE gridmap.publications ADD COLUMN regridded_at timestamptz;
UPDATE gridmap.publications SET regridded_at = valid_from WHERE valid_from <= now();

-- Grids of a draft plan that a planner has locked: an edit that changes one is refused.
CREATE TABLE gridmap.grid_locks (
    plan_id bigint NOT NULL REFERENCES gridmap.plans (id),
    grid_code text NOT NULL,
    locked_by text NOT NULL,
    locked_at timestamptz NOT NULL,
    PRIMARY KEY (plan_id, grid_code)
);

-- Water and green areas (rivers, parks, wooded hills): drawn by the base map, nothing else.
CREATE TABLE gridmap.landcover (
    id text PRIMARY KEY,
    kind text NOT NULL,
    name text,
    geom geometry(MultiPolygon, 4326),
    fid bigserial NOT NULL
);
CREATE INDEX landcover_geom_gist ON gridmap.landcover USING gist (geom);
