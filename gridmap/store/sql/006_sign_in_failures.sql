-- 006: wrong passwords of the last minutes per user name, so that a lockout holds in every
-- server process (gridmap.api.sign_in_guard); rows older than the lockout window are deleted.
CREATE TABLE gridmap.sign_in_failures (
    name text NOT NULL,
    at timestamptz NOT NULL
);
CREATE INDEX sign_in_failures_name_at ON gridmap.sign_in_failures (name, at);
