-- 010: prebuilt vector tiles (gridmap.store.tilesets). A tile set is built for one state of the
-- data (stamp); each tile is stored gzipped with its ETag, read by (set_id, layer, z, x, y).
CREATE TABLE gridmap.tile_sets (
    id integer PRIMARY KEY,
    stamp text NOT NULL,
    state text NOT NULL,
    zooms text NOT NULL,
    started_at timestamptz NOT NULL,
    finished_at timestamptz,
    tiles integer NOT NULL
);
CREATE TABLE gridmap.tiles (
    set_id integer NOT NULL,
    layer text NOT NULL,
    z integer NOT NULL,
    x integer NOT NULL,
    y integer NOT NULL,
    data bytea NOT NULL,
    etag text NOT NULL,
    PRIMARY KEY (set_id, layer, z, x, y)
);
-- Already compressed: no second pass by TOAST.
ALTER TABLE gridmap.tiles ALTER COLUMN data SET STORAGE EXTERNAL;
