-- PBX connections: how each tenant's 3CX is reached and polled, and which of its queues (by DN)
-- feed which Lineup queue. client_secret holds the secret sealed with lineup_security::SecretBox
-- (lx1.<key id>.<nonce>.<ciphertext>) under the context 'pbx_connections.client_secret:<id>';
-- never the secret in clear. Deleting is soft: deleted_at is set, the sealed secret erased
-- (client_secret NULL) and the mappings removed; the row stays so ids recorded elsewhere (inbox
-- messages) stay meaningful.

CREATE TABLE pbx_connections (
    id                        TEXT PRIMARY KEY,
    tenant_id                 TEXT NOT NULL REFERENCES tenants(id),
    name                      TEXT NOT NULL,
    base_url                  TEXT NOT NULL,
    client_id                 TEXT NOT NULL,
    client_secret             TEXT,                 -- sealed; NULL once deleted
    client_secret_changed_at  TEXT NOT NULL,
    poll_interval_ms          INTEGER NOT NULL CHECK (poll_interval_ms BETWEEN 250 AND 60000),
    is_enabled                INTEGER NOT NULL DEFAULT 1,
    created_at                TEXT NOT NULL,
    updated_at                TEXT NOT NULL,
    deleted_at                TEXT,
    CHECK ((deleted_at IS NULL) = (client_secret IS NOT NULL))
);
CREATE INDEX pbx_connections_tenant_created ON pbx_connections (tenant_id, created_at, id);
CREATE INDEX pbx_connections_tenant_name ON pbx_connections (tenant_id, name, id);

-- One 3CX queue DN feeds one Lineup queue of the same tenant, per connection.
CREATE TABLE pbx_queue_mappings (
    tenant_id      TEXT NOT NULL REFERENCES tenants(id),
    connection_id  TEXT NOT NULL REFERENCES pbx_connections(id),
    dn             TEXT NOT NULL CHECK (length(dn) BETWEEN 1 AND 10 AND dn NOT GLOB '*[^0-9]*'),
    queue_id       TEXT NOT NULL REFERENCES queues(id),
    PRIMARY KEY (connection_id, dn)
);
CREATE INDEX pbx_queue_mappings_queue ON pbx_queue_mappings (queue_id);
