-- Agents of a PBX connection (same table and meaning as migrations/sqlite/0008_pbx_agents.sql,
-- which documents it), with row-level security like every tenant table.
CREATE TABLE pbx_agents (
    tenant_id      uuid NOT NULL REFERENCES tenants (id),
    connection_id  uuid NOT NULL REFERENCES pbx_connections (id),
    dn             text NOT NULL CHECK (char_length(dn) BETWEEN 1 AND 32),
    name           text NOT NULL,
    queue_dns      jsonb NOT NULL,
    logged_in      boolean NOT NULL,
    paused         boolean NOT NULL,
    since          timestamptz NOT NULL,
    updated_at     timestamptz NOT NULL,
    PRIMARY KEY (connection_id, dn)
);
CREATE INDEX pbx_agents_tenant ON pbx_agents (tenant_id, connection_id, dn);

GRANT SELECT, INSERT, UPDATE, DELETE ON pbx_agents TO lineup_app;

ALTER TABLE pbx_agents ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON pbx_agents TO lineup_app
    USING (tenant_id = lineup_current_tenant()) WITH CHECK (tenant_id = lineup_current_tenant());
