-- Calls: what Lineup knows about each 3CX call (see crates/store/src/calls.rs), and the
-- bookkeeping of the ingestion workers. Same tables and meaning as
-- migrations/postgres/0005_calls.sql, which documents the columns.

CREATE TABLE calls (
    id             TEXT PRIMARY KEY,            -- internal: the keyset tie-breaker of call lists
    tenant_id      TEXT NOT NULL REFERENCES tenants(id),
    connection_id  TEXT NOT NULL,
    call_id        INTEGER NOT NULL,
    state          TEXT NOT NULL,               -- the CallState (JSON): the source of truth
    history_id     TEXT,
    caller         TEXT,
    queue_dn       TEXT,
    agent_dn       TEXT,
    entered_at     TEXT,
    answered_at    TEXT,
    left_queue_at  TEXT,
    ended_at       TEXT,
    wait_ms        INTEGER,
    talk_ms        INTEGER,
    outcome        TEXT NOT NULL
                   CHECK (outcome IN ('inProgress', 'abandoned', 'dropped', 'overflowed', 'answered')),
    phase          TEXT NOT NULL
                   CHECK (phase IN ('waiting', 'ringing', 'talking', 'wrapUp', 'completed', 'abandoned')),
    reconciled     INTEGER NOT NULL,
    queue_id       TEXT REFERENCES queues(id),
    item_id        TEXT REFERENCES items(id),
    item_note      TEXT,
    revisions      INTEGER NOT NULL,
    created_at     TEXT NOT NULL,
    updated_at     TEXT NOT NULL,
    CONSTRAINT calls_key UNIQUE (tenant_id, connection_id, call_id)
);
CREATE INDEX calls_tenant_created ON calls (tenant_id, created_at, id);
CREATE INDEX calls_tenant_queue_entered ON calls (tenant_id, queue_id, entered_at);

CREATE TABLE worker_checkpoints (
    tenant_id      TEXT NOT NULL REFERENCES tenants(id),
    connection_id  TEXT NOT NULL,
    name           TEXT NOT NULL,
    value          TEXT NOT NULL,               -- JSON
    updated_at     TEXT NOT NULL,
    PRIMARY KEY (tenant_id, connection_id, name)
);

-- Global: no tenant. One row per lease name, kept after release (expired) so epoch only grows.
CREATE TABLE worker_leases (
    name        TEXT PRIMARY KEY,
    holder      TEXT NOT NULL,
    expires_at  TEXT NOT NULL,
    epoch       INTEGER NOT NULL
);
