-- 013: the rules of grid workers' monthly subsidies (a base part and a part released by the
-- assessment: on-time share, reopened cases), set by an admin (gridmap.service.stats). One row
-- per rule set; "default" is the one in force.
CREATE TABLE gridmap.subsidy_rules (
    name text PRIMARY KEY,
    base_yuan double precision NOT NULL,
    assessed_yuan double precision NOT NULL,
    full_share double precision NOT NULL,
    pro_rata boolean NOT NULL,
    reopened_deduction_yuan double precision NOT NULL,
    updated_at timestamptz NOT NULL,
    updated_by text NOT NULL
);
