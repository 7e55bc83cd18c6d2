-- Calls: what Lineup knows about each 3CX call, the queue item it became, and the bookkeeping of
-- the ingestion workers (same tables and meaning as migrations/sqlite/0005_calls.sql). See
-- crates/store/src/calls.rs for the contract.
--
-- A call is one row per (tenant, PBX connection, 3CX call id). state holds the CallState (the
-- join-semilattice of everything observed, lineup_domain::call) and is the source of truth; the
-- record columns beside it are derived from it on every change (CallState::record) so analytics
-- can read and filter them: times are PBX times, wait_ms/talk_ms milliseconds, outcome and phase
-- the camelCase names of CallOutcome and Phase, reconciled true once 3CX's history told the
-- outcome. queue_id is the Lineup queue the call's queue DN maps to (once mapped; the item's
-- queue once it has one), item_id the queue item it became, item_note why a mapped call has no
-- item (e.g. the queue is inactive). revisions counts the observations that changed the state.
-- created_at is when the call was first observed, updated_at its latest change (Lineup's clock).
-- id is internal: the tie-breaker of keyset pages.
CREATE TABLE calls (
    id             uuid PRIMARY KEY,
    tenant_id      uuid NOT NULL REFERENCES tenants (id),
    connection_id  uuid NOT NULL,                 -- the PBX connection (no FK, like the inbox)
    call_id        integer NOT NULL,              -- 3CX's call id
    state          jsonb NOT NULL,
    history_id     text,
    caller         text,
    queue_dn       text,
    agent_dn       text,
    entered_at     timestamptz,
    answered_at    timestamptz,
    left_queue_at  timestamptz,
    ended_at       timestamptz,
    wait_ms        bigint,
    talk_ms        bigint,
    outcome        text NOT NULL
                   CHECK (outcome IN ('inProgress', 'abandoned', 'dropped', 'overflowed', 'answered')),
    phase          text NOT NULL
                   CHECK (phase IN ('waiting', 'ringing', 'talking', 'wrapUp', 'completed', 'abandoned')),
    reconciled     boolean NOT NULL,
    queue_id       uuid REFERENCES queues (id),
    item_id        uuid REFERENCES items (id),
    item_note      text,
    revisions      bigint NOT NULL,
    created_at     timestamptz NOT NULL,
    updated_at     timestamptz NOT NULL,
    CONSTRAINT calls_key UNIQUE (tenant_id, connection_id, call_id)
);
-- Call lists page by first observation...
CREATE INDEX calls_tenant_created ON calls (tenant_id, created_at, id);
-- ...and analytics read a queue's calls by time of entry.
CREATE INDEX calls_tenant_queue_entered ON calls (tenant_id, queue_id, entered_at);

-- A worker's checkpoint for one PBX connection (e.g. the reconciler's "history read up to"):
-- a JSON value the worker alone interprets, replaced on every put.
CREATE TABLE worker_checkpoints (
    tenant_id      uuid NOT NULL REFERENCES tenants (id),
    connection_id  uuid NOT NULL,
    name           text NOT NULL,
    value          jsonb NOT NULL,
    updated_at     timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, connection_id, name)
);

-- Named leases at most one holder owns at a time (e.g. "poll PBX connection X"), global
-- infrastructure with no tenant. A lease lapses at expires_at unless its holder renews it; epoch
-- grows every time the holder changes and fences a holder that lost it. A released lease keeps
-- its row (expired), so epoch never goes back.
CREATE TABLE worker_leases (
    name        text PRIMARY KEY,
    holder      text NOT NULL,
    expires_at  timestamptz NOT NULL,
    epoch       bigint NOT NULL
);

-- Calls and checkpoints are tenant data: the app role works on them only inside its tenant,
-- under row-level security like every tenant table (0002_access.sql). Leases serve every
-- tenant's workers and run as the owner (the connecting role), like inbox claims; the app role
-- gets nothing on them (the default privileges of 0002_access.sql would grant it).
GRANT SELECT, INSERT, UPDATE, DELETE ON calls, worker_checkpoints TO lineup_app;
REVOKE ALL ON worker_leases FROM lineup_app;

ALTER TABLE calls ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON calls TO lineup_app
    USING (tenant_id = lineup_current_tenant()) WITH CHECK (tenant_id = lineup_current_tenant());

ALTER TABLE worker_checkpoints ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON worker_checkpoints TO lineup_app
    USING (tenant_id = lineup_current_tenant()) WITH CHECK (tenant_id = lineup_current_tenant());
