-- 009: processes that agree (issue 13).
-- Tokens each server process took from its rate-limit buckets (gridmap.api.limits), per bucket
-- kind, client and 10-second slot: every process adds what it took about once a second and
-- reads what the others took, so one client's budget is shared by all of them. Old slots are
-- deleted as new ones are written.
CREATE TABLE gridmap.rate_usage (
    bucket text NOT NULL,
    client text NOT NULL,
    slot bigint NOT NULL,
    process text NOT NULL,
    tokens double precision NOT NULL,
    PRIMARY KEY (bucket, client, slot, process)
);
CREATE INDEX rate_usage_slot ON gridmap.rate_usage (slot);

-- A publication or a staff change wakes every server listening on channel gridmap_changes
-- (gridmap.api.watch), so its lookup index and tiles are rebuilt at once; delivered at commit.
CREATE FUNCTION gridmap.notify_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('gridmap_changes', TG_TABLE_NAME);
    RETURN NULL;
END
$$;
CREATE TRIGGER publications_notify AFTER INSERT OR UPDATE OR DELETE ON gridmap.publications
    FOR EACH STATEMENT EXECUTE FUNCTION gridmap.notify_change();
CREATE TRIGGER staff_assignments_notify AFTER INSERT OR UPDATE OR DELETE
    ON gridmap.staff_assignments FOR EACH STATEMENT EXECUTE FUNCTION gridmap.notify_change();
