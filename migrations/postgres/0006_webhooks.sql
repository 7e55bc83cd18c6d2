-- Outbound webhooks: each tenant's HTTP endpoints that receive its queue events, the delivery of
-- every event to every webhook that takes it (the delivery log), and the outbox dispatchers'
-- cursors (same tables and meaning as migrations/sqlite/0006_webhooks.sql). See
-- crates/store/src/webhooks.rs for the contract and workers/src/dispatcher.rs for the dispatcher.
--
-- A webhook POSTs the tenant's events to url, signed with its secret. secret holds only the
-- sealed secret (lineup_security::SecretBox, context 'webhooks.secret:<id>'), NULL once deleted.
-- event_types names the event types it takes (empty: every type). from_seq is the tenant's last
-- outbox seq when the webhook was created: it receives only events with a higher seq (those
-- committed after it), never the tenant's history. Deleting is soft, like PBX connections.
CREATE TABLE webhooks (
    id                 uuid PRIMARY KEY,
    tenant_id          uuid NOT NULL REFERENCES tenants (id),
    name               text NOT NULL,
    url                text NOT NULL,
    secret             text,                    -- sealed; NULL once deleted
    secret_changed_at  timestamptz NOT NULL,
    event_types        text[] NOT NULL DEFAULT '{}',
    is_enabled         boolean NOT NULL DEFAULT true,
    from_seq           bigint NOT NULL,
    created_at         timestamptz NOT NULL,
    updated_at         timestamptz NOT NULL,
    deleted_at         timestamptz,
    CHECK ((deleted_at IS NULL) = (secret IS NOT NULL))
);
CREATE INDEX webhooks_tenant_created ON webhooks (tenant_id, created_at, id);
CREATE INDEX webhooks_tenant_name ON webhooks (tenant_id, name COLLATE "C", id);

-- One event's delivery to one webhook, unique per (webhook, event) so dispatching an event again
-- never makes a second delivery. payload is the JSON body POSTed (a snapshot: a redelivery sends
-- the same body). A delivery is 'pending' (attempted at next_attempt_at: at once, after a
-- failure's back-off, or when a claimer's lease ends), 'delivered' (a 2xx came back, at
-- delivered_at) or 'failed' (its last attempt failed, or its webhook was deleted). attempts counts
-- the attempts since creation or the last redelivery; last_status_code and last_error are the
-- latest attempt's (the status is NULL when no answer came).
CREATE TABLE webhook_deliveries (
    id                uuid PRIMARY KEY,
    tenant_id         uuid NOT NULL REFERENCES tenants (id),
    webhook_id        uuid NOT NULL REFERENCES webhooks (id),
    event_seq         bigint NOT NULL,          -- the outbox seq: the event id receivers dedup by
    event_type        text NOT NULL,
    payload           jsonb NOT NULL,
    state             text NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'delivered', 'failed')),
    attempts          integer NOT NULL DEFAULT 0,
    next_attempt_at   timestamptz,
    last_status_code  integer,
    last_error        text,
    created_at        timestamptz NOT NULL,
    delivered_at      timestamptz,
    CONSTRAINT webhook_deliveries_once UNIQUE (webhook_id, event_seq),
    CHECK ((state = 'pending') = (next_attempt_at IS NOT NULL))
);
-- Claims walk the pending deliveries by due time...
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (next_attempt_at) WHERE state = 'pending';
-- ...and the delivery log pages one webhook's deliveries by creation.
CREATE INDEX webhook_deliveries_log ON webhook_deliveries (tenant_id, webhook_id, created_at, id);

-- How far each outbox subscriber (e.g. 'webhooks', the dispatcher's delivery creation) has read:
-- global infrastructure with no tenant, only ever moved forwards.
CREATE TABLE outbox_cursors (
    name        text PRIMARY KEY,
    last_seq    bigint NOT NULL,
    updated_at  timestamptz NOT NULL
);

-- A new webhook reads the tenant's last outbox seq.
CREATE INDEX outbox_tenant_seq ON outbox (tenant_id, seq);

-- Webhooks and deliveries are tenant data: the app role works on them only inside its tenant,
-- under row-level security like every tenant table (0002_access.sql). Reading the outbox across
-- tenants, the cursors and delivery claims serve every tenant's dispatcher and run as the owner
-- (the connecting role), like inbox claims; the app role gets nothing on the cursors (the
-- default privileges of 0002_access.sql would grant it).
GRANT SELECT, INSERT, UPDATE, DELETE ON webhooks, webhook_deliveries TO lineup_app;
REVOKE ALL ON outbox_cursors FROM lineup_app;

ALTER TABLE webhooks ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON webhooks TO lineup_app
    USING (tenant_id = lineup_current_tenant()) WITH CHECK (tenant_id = lineup_current_tenant());

ALTER TABLE webhook_deliveries ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON webhook_deliveries TO lineup_app
    USING (tenant_id = lineup_current_tenant()) WITH CHECK (tenant_id = lineup_current_tenant());
