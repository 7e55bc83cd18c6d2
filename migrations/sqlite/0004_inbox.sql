-- The inbox: every record the ingestion workers read from 3CX (poller, history reconciler, call
-- log) lands here before it touches the queue core. Same table and meaning as
-- migrations/postgres/0004_inbox.sql (which documents the columns); see
-- crates/store/src/inbox.rs for the contract. seq is handed out by the single writer as
-- max(seq) + 1, so it grows in commit order.
CREATE TABLE inbox_messages (
    id             TEXT PRIMARY KEY,
    seq            INTEGER NOT NULL UNIQUE,
    tenant_id      TEXT NOT NULL REFERENCES tenants(id),
    connection_id  TEXT NOT NULL,
    source         TEXT NOT NULL,
    call_key       TEXT NOT NULL CHECK (call_key <> ''),
    dedup_key      TEXT NOT NULL CHECK (dedup_key <> ''),
    payload        TEXT NOT NULL,
    observed_at    TEXT NOT NULL,
    enqueued_at    TEXT NOT NULL,
    state          TEXT NOT NULL DEFAULT 'pending'
                   CHECK (state IN ('pending', 'in_flight', 'done', 'dead', 'discarded')),
    attempts       INTEGER NOT NULL DEFAULT 0,
    claims         INTEGER NOT NULL DEFAULT 0,
    not_before     TEXT,
    leased_until   TEXT,
    last_error     TEXT,
    settled_at     TEXT,
    CONSTRAINT inbox_messages_dedup UNIQUE (tenant_id, connection_id, dedup_key),
    CHECK ((state = 'in_flight') = (leased_until IS NOT NULL))
);
CREATE INDEX inbox_messages_unsettled ON inbox_messages (seq) WHERE state IN ('pending', 'in_flight');
CREATE INDEX inbox_messages_unsettled_call ON inbox_messages (tenant_id, connection_id, call_key, seq)
    WHERE state IN ('pending', 'in_flight');
CREATE UNIQUE INDEX inbox_messages_one_in_flight_per_call ON inbox_messages (tenant_id, connection_id, call_key)
    WHERE state = 'in_flight';
CREATE INDEX inbox_messages_dead ON inbox_messages (tenant_id, enqueued_at, id) WHERE state = 'dead';
