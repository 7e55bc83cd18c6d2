-- PBX connections and their queue mappings (same tables and meaning as
-- migrations/sqlite/0003_pbx.sql, which documents them), with row-level security like every
-- tenant table. client_secret holds only the sealed secret (lx1.…), NULL once deleted.

CREATE TABLE pbx_connections (
    id                        uuid PRIMARY KEY,
    tenant_id                 uuid NOT NULL REFERENCES tenants (id),
    name                      text NOT NULL,
    base_url                  text NOT NULL,
    client_id                 text NOT NULL,
    client_secret             text,                 -- sealed; NULL once deleted
    client_secret_changed_at  timestamptz NOT NULL,
    poll_interval_ms          integer NOT NULL CHECK (poll_interval_ms BETWEEN 250 AND 60000),
    is_enabled                boolean NOT NULL DEFAULT true,
    created_at                timestamptz NOT NULL,
    updated_at                timestamptz NOT NULL,
    deleted_at                timestamptz,
    CHECK ((deleted_at IS NULL) = (client_secret IS NOT NULL))
);
CREATE INDEX pbx_connections_tenant_created ON pbx_connections (tenant_id, created_at, id);
CREATE INDEX pbx_connections_tenant_name ON pbx_connections (tenant_id, name COLLATE "C", id);

CREATE TABLE pbx_queue_mappings (
    tenant_id      uuid NOT NULL REFERENCES tenants (id),
    connection_id  uuid NOT NULL REFERENCES pbx_connections (id),
    dn             text NOT NULL CHECK (dn ~ '^[0-9]{1,10}$'),
    queue_id       uuid NOT NULL REFERENCES queues (id),
    PRIMARY KEY (connection_id, dn)
);
CREATE INDEX pbx_queue_mappings_queue ON pbx_queue_mappings (queue_id);

-- The app role works on both tables only inside its tenant (see 0002_access.sql). Listing the
-- enabled connections of every tenant for the polling workers runs as the owner instead (see
-- crates/store-postgres/src/lib.rs).
GRANT SELECT, INSERT, UPDATE, DELETE ON pbx_connections, pbx_queue_mappings TO lineup_app;

ALTER TABLE pbx_connections ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON pbx_connections TO lineup_app
    USING (tenant_id = lineup_current_tenant()) WITH CHECK (tenant_id = lineup_current_tenant());

ALTER TABLE pbx_queue_mappings ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON pbx_queue_mappings TO lineup_app
    USING (tenant_id = lineup_current_tenant()) WITH CHECK (tenant_id = lineup_current_tenant());
