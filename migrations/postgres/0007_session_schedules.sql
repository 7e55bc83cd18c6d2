-- Session schedules (same table and meaning as migrations/sqlite/0007_session_schedules.sql,
-- which documents it), with row-level security like every tenant table.
CREATE TABLE session_schedules (
    tenant_id     uuid NOT NULL REFERENCES tenants (id),
    queue_id      uuid PRIMARY KEY REFERENCES queues (id),
    cron          text NOT NULL,
    session_name  text NOT NULL CHECK (char_length(session_name) BETWEEN 1 AND 100),
    last_run_at   timestamptz,
    created_at    timestamptz NOT NULL,
    updated_at    timestamptz NOT NULL
);
CREATE INDEX session_schedules_tenant ON session_schedules (tenant_id, queue_id);

-- The app role works on the table only inside its tenant (see 0002_access.sql). Listing the
-- schedules of every tenant for the scheduler runs as the owner instead (see
-- crates/store-postgres/src/lib.rs).
GRANT SELECT, INSERT, UPDATE, DELETE ON session_schedules TO lineup_app;

ALTER TABLE session_schedules ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON session_schedules TO lineup_app
    USING (tenant_id = lineup_current_tenant()) WITH CHECK (tenant_id = lineup_current_tenant());
