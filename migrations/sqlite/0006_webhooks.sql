-- Outbound webhooks: each tenant's HTTP endpoints that receive its queue events, the delivery of
-- every event to every webhook that takes it (the delivery log), and the outbox dispatchers'
-- cursors. Same tables and meaning as migrations/postgres/0006_webhooks.sql, which documents the
-- columns; see crates/store/src/webhooks.rs for the contract.

-- secret holds the signing secret sealed with lineup_security::SecretBox under the context
-- 'webhooks.secret:<id>' (NULL once deleted); event_types a JSON array of event type names
-- ([] = every type); from_seq the tenant's last outbox seq when the webhook was created (it
-- receives only later events).
CREATE TABLE webhooks (
    id                 TEXT PRIMARY KEY,
    tenant_id          TEXT NOT NULL REFERENCES tenants(id),
    name               TEXT NOT NULL,
    url                TEXT NOT NULL,
    secret             TEXT,                    -- sealed; NULL once deleted
    secret_changed_at  TEXT NOT NULL,
    event_types        TEXT NOT NULL DEFAULT '[]',
    is_enabled         INTEGER NOT NULL DEFAULT 1,
    from_seq           INTEGER NOT NULL,
    created_at         TEXT NOT NULL,
    updated_at         TEXT NOT NULL,
    deleted_at         TEXT,
    CHECK ((deleted_at IS NULL) = (secret IS NOT NULL))
);
CREATE INDEX webhooks_tenant_created ON webhooks (tenant_id, created_at, id);
CREATE INDEX webhooks_tenant_name ON webhooks (tenant_id, name, id);

CREATE TABLE webhook_deliveries (
    id                TEXT PRIMARY KEY,
    tenant_id         TEXT NOT NULL REFERENCES tenants(id),
    webhook_id        TEXT NOT NULL REFERENCES webhooks(id),
    event_seq         INTEGER NOT NULL,
    event_type        TEXT NOT NULL,
    payload           TEXT NOT NULL,            -- the JSON body POSTed
    state             TEXT NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'delivered', 'failed')),
    attempts          INTEGER NOT NULL DEFAULT 0,
    next_attempt_at   TEXT,
    last_status_code  INTEGER,
    last_error        TEXT,
    created_at        TEXT NOT NULL,
    delivered_at      TEXT,
    CONSTRAINT webhook_deliveries_once UNIQUE (webhook_id, event_seq),
    CHECK ((state = 'pending') = (next_attempt_at IS NOT NULL))
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (next_attempt_at) WHERE state = 'pending';
CREATE INDEX webhook_deliveries_log ON webhook_deliveries (tenant_id, webhook_id, created_at, id);

-- Global: no tenant. One row per outbox subscriber (e.g. 'webhooks').
CREATE TABLE outbox_cursors (
    name        TEXT PRIMARY KEY,
    last_seq    INTEGER NOT NULL,
    updated_at  TEXT NOT NULL
);

-- A new webhook reads the tenant's last outbox seq.
CREATE INDEX outbox_tenant_seq ON outbox (tenant_id, seq);
