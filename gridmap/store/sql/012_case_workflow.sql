-- 012: the case workflow (gridmap/cases/workflow.py): each stage's deadline, the department a
-- case is dispatched to, the evaluation, a pending extension request and when it was closed;
-- users' workflow roles (duties) and department; departments; photos before and after.
ALTER TABLE gridmap.incidents
    ADD COLUMN stage_deadline timestamptz,
    ADD COLUMN department text,
    ADD COLUMN satisfaction integer CHECK (satisfaction BETWEEN 1 AND 5),
    ADD COLUMN extension_hours double precision,
    ADD COLUMN closed_at timestamptz;
CREATE INDEX incidents_stage_deadline ON gridmap.incidents (stage_deadline);

ALTER TABLE gridmap.users ADD COLUMN duties text, ADD COLUMN department text;

CREATE TABLE gridmap.departments (
    code text PRIMARY KEY,
    name text NOT NULL,
    phone text
);

CREATE TABLE gridmap.incident_photos (
    incident_id bigint NOT NULL REFERENCES gridmap.incidents (id),
    seq integer NOT NULL,
    kind text NOT NULL CHECK (kind IN ('before', 'after')),
    content_type text NOT NULL,
    width integer NOT NULL,
    height integer NOT NULL,
    data bytea NOT NULL,
    public boolean NOT NULL DEFAULT false,
    at timestamptz NOT NULL,
    actor text NOT NULL,
    PRIMARY KEY (incident_id, seq)
);
