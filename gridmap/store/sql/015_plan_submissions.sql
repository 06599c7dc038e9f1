-- 015: a draft a planner submitted for publication (one row per plan; the audit log keeps every
-- submission, withdrawal and refusal). state: submitted | refused (an admin sent it back).
CREATE TABLE gridmap.plan_submissions (
    plan_id bigint PRIMARY KEY REFERENCES gridmap.plans (id),
    revision integer NOT NULL,
    state text NOT NULL CHECK (state IN ('submitted', 'refused')),
    submitted_by text NOT NULL,
    submitted_at timestamptz NOT NULL,
    note text,
    refused_by text,
    refused_at timestamptz,
    reason text
);
