-- Where an analytics aggregator (by name) stopped reading changed calls: the last call's
-- updated_at and key. Global, like worker_leases: the aggregator serves every tenant.
CREATE TABLE aggregation_cursors (
    name           TEXT PRIMARY KEY,
    updated_at     TEXT NOT NULL,
    call_tenant_id TEXT NOT NULL,
    connection_id  TEXT NOT NULL,
    call_id        INTEGER NOT NULL,
    saved_at       TEXT NOT NULL
);
