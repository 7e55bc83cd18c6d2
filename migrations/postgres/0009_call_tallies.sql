-- Pre-aggregated call tallies and the marks of where each call was counted (same tables and
-- meaning as migrations/sqlite/0009_call_tallies.sql, which documents them), with row-level
-- security like every tenant table.
CREATE TABLE call_tallies (
    tenant_id     uuid NOT NULL REFERENCES tenants (id),
    queue_id      uuid NOT NULL REFERENCES queues (id),
    agent_dn      text NOT NULL COLLATE "C",
    bucket_start  timestamptz NOT NULL,
    offered       bigint NOT NULL CHECK (offered >= 0),
    tally         jsonb NOT NULL,
    updated_at    timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, queue_id, bucket_start, agent_dn)
);
CREATE INDEX call_tallies_bucket ON call_tallies (tenant_id, bucket_start, queue_id, agent_dn);

CREATE TABLE call_tally_marks (
    tenant_id      uuid NOT NULL REFERENCES tenants (id),
    connection_id  uuid NOT NULL,
    call_id        integer NOT NULL,
    queue_id       uuid NOT NULL,
    bucket_start   timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, connection_id, call_id)
);

CREATE INDEX calls_updated ON calls (updated_at, tenant_id, connection_id, call_id);

GRANT SELECT, INSERT, UPDATE, DELETE ON call_tallies, call_tally_marks TO lineup_app;

ALTER TABLE call_tallies ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON call_tallies TO lineup_app
    USING (tenant_id = lineup_current_tenant()) WITH CHECK (tenant_id = lineup_current_tenant());
ALTER TABLE call_tally_marks ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON call_tally_marks TO lineup_app
    USING (tenant_id = lineup_current_tenant()) WITH CHECK (tenant_id = lineup_current_tenant());
