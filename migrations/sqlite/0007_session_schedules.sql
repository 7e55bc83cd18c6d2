-- Session schedules: a cron per queue (6 fields with seconds, UTC) that rotates its shifts.
-- session_name is a template ({date} becomes the due date). last_run_at is the scheduled instant
-- the last rotation ran for (NULL until the first); a rotation for an instant not after it is a
-- no-op, which makes concurrent schedulers harmless.
CREATE TABLE session_schedules (
    tenant_id     TEXT NOT NULL REFERENCES tenants(id),
    queue_id      TEXT PRIMARY KEY REFERENCES queues(id),
    cron          TEXT NOT NULL,
    session_name  TEXT NOT NULL CHECK (length(session_name) BETWEEN 1 AND 100),
    last_run_at   TEXT,
    created_at    TEXT NOT NULL,
    updated_at    TEXT NOT NULL
);
CREATE INDEX session_schedules_tenant ON session_schedules (tenant_id, queue_id);
