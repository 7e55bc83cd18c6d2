-- The inbox: every record the ingestion workers read from 3CX (poller, history reconciler, call
-- log) lands here before it touches the queue core. Same table and meaning as
-- migrations/sqlite/0004_inbox.sql. See crates/store/src/inbox.rs for the contract.
--
-- One row per external record, unique on (tenant, connection, dedup key): a record seen again
-- is not stored again, and rows are kept after processing so that stays true. A message is
-- 'pending' (due when not_before is NULL or past), 'in_flight' (claimed by a worker until
-- leased_until; claims counts the hand-outs and fences a worker whose lease was taken over),
-- then 'done', or 'dead' after too many failures (last_error says why) and 'discarded' when an
-- operator gives up on it. seq is the inbox order: a call's messages are handed out one at a
-- time, lowest seq first.
CREATE TABLE inbox_messages (
    id             uuid PRIMARY KEY,
    seq            bigserial NOT NULL,
    tenant_id      uuid NOT NULL REFERENCES tenants (id),
    connection_id  uuid NOT NULL,             -- the PBX connection the record came from
    source         text NOT NULL,             -- poller | history | calllog
    call_key       text NOT NULL CHECK (call_key <> ''),
    dedup_key      text NOT NULL CHECK (dedup_key <> ''),
    payload        jsonb NOT NULL,
    observed_at    timestamptz NOT NULL,
    enqueued_at    timestamptz NOT NULL,
    state          text NOT NULL DEFAULT 'pending'
                   CHECK (state IN ('pending', 'in_flight', 'done', 'dead', 'discarded')),
    attempts       integer NOT NULL DEFAULT 0,  -- failed attempts since enqueue or replay
    claims         integer NOT NULL DEFAULT 0,  -- hand-outs, ever
    not_before     timestamptz,
    leased_until   timestamptz,
    last_error     text,
    settled_at     timestamptz,                 -- when it became done or dead
    CONSTRAINT inbox_messages_dedup UNIQUE (tenant_id, connection_id, dedup_key),
    CHECK ((state = 'in_flight') = (leased_until IS NOT NULL))
);
-- Claims walk the unsettled messages in inbox order...
CREATE INDEX inbox_messages_unsettled ON inbox_messages (seq) WHERE state IN ('pending', 'in_flight');
-- ...and look for an earlier or in-flight message of the same call.
CREATE INDEX inbox_messages_unsettled_call ON inbox_messages (tenant_id, connection_id, call_key, seq)
    WHERE state IN ('pending', 'in_flight');
-- At most one message of a call is in flight, whatever the interleaving of claimers: a claim
-- that would break this fails and is retried (crates/store-postgres/src/inbox.rs).
CREATE UNIQUE INDEX inbox_messages_one_in_flight_per_call ON inbox_messages (tenant_id, connection_id, call_key)
    WHERE state = 'in_flight';
CREATE INDEX inbox_messages_dead ON inbox_messages (tenant_id, enqueued_at, id) WHERE state = 'dead';

-- Row-level security like every tenant table (0002_access.sql): enqueueing, settling and
-- dead-letter administration run as lineup_app in a tenant transaction. Claims (and the
-- store-wide depth) run as the owner: the workers that claim serve every tenant.
GRANT SELECT, INSERT, UPDATE, DELETE ON inbox_messages TO lineup_app;
GRANT USAGE ON SEQUENCE inbox_messages_seq_seq TO lineup_app;
ALTER TABLE inbox_messages ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON inbox_messages TO lineup_app
    USING (tenant_id = lineup_current_tenant()) WITH CHECK (tenant_id = lineup_current_tenant());
