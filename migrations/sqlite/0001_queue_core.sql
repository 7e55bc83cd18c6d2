-- Queue core: tenants, templates, queues, sessions, items, history and the outbox.
-- Timestamps are TEXT in fixed-width RFC 3339 UTC with microseconds (sortable as text);
-- UUIDs are lower-case hyphenated TEXT; JSON is TEXT.

CREATE TABLE tenants (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    slug        TEXT NOT NULL UNIQUE,
    created_at  TEXT NOT NULL
);

CREATE TABLE templates (
    id               TEXT PRIMARY KEY,
    tenant_id        TEXT NOT NULL REFERENCES tenants(id),
    name             TEXT NOT NULL,
    machine          TEXT NOT NULL,           -- {"init":..,"transitions":[..]}
    metadata_schema  TEXT,
    created_at       TEXT NOT NULL,
    updated_at       TEXT NOT NULL
);
CREATE INDEX templates_tenant_created ON templates (tenant_id, created_at, id);
CREATE INDEX templates_tenant_name ON templates (tenant_id, name, id);

CREATE TABLE template_statuses (
    id           TEXT PRIMARY KEY,
    tenant_id    TEXT NOT NULL REFERENCES tenants(id),
    template_id  TEXT NOT NULL REFERENCES templates(id),
    label        TEXT NOT NULL,
    color        TEXT NOT NULL,
    sort_order   INTEGER NOT NULL,
    UNIQUE (template_id, label)
);

CREATE TABLE queues (
    id           TEXT PRIMARY KEY,
    tenant_id    TEXT NOT NULL REFERENCES tenants(id),
    template_id  TEXT NOT NULL REFERENCES templates(id),
    name         TEXT NOT NULL,
    prefix       TEXT NOT NULL,
    is_active    INTEGER NOT NULL DEFAULT 1,
    session_seq  INTEGER NOT NULL DEFAULT 0,  -- last sessionNumber handed out
    created_at   TEXT NOT NULL,
    updated_at   TEXT NOT NULL
);
CREATE INDEX queues_tenant_created ON queues (tenant_id, created_at, id);
CREATE INDEX queues_tenant_name ON queues (tenant_id, name, id);

CREATE TABLE sessions (
    id               TEXT PRIMARY KEY,
    tenant_id        TEXT NOT NULL REFERENCES tenants(id),
    queue_id         TEXT NOT NULL REFERENCES queues(id),
    name             TEXT NOT NULL,
    status           TEXT NOT NULL CHECK (status IN ('active', 'paused', 'completed', 'archived')),
    session_number   INTEGER NOT NULL,
    item_seq         INTEGER NOT NULL DEFAULT 0,  -- last item number handed out
    machine          TEXT NOT NULL,               -- cloned from the template
    metadata_schema  TEXT,                        -- cloned from the template
    is_deleted       INTEGER NOT NULL DEFAULT 0,
    started_at       TEXT NOT NULL,
    ended_at         TEXT,
    created_at       TEXT NOT NULL,
    updated_at       TEXT NOT NULL,
    UNIQUE (queue_id, session_number)
);
CREATE INDEX sessions_queue_state_created ON sessions (tenant_id, queue_id, status, created_at);
CREATE INDEX sessions_queue_created ON sessions (tenant_id, queue_id, created_at, id);

CREATE TABLE session_statuses (
    id                  TEXT PRIMARY KEY,
    tenant_id           TEXT NOT NULL REFERENCES tenants(id),
    session_id          TEXT NOT NULL REFERENCES sessions(id),
    template_status_id  TEXT REFERENCES template_statuses(id),
    label               TEXT NOT NULL,
    color               TEXT NOT NULL,
    sort_order          INTEGER NOT NULL,
    UNIQUE (session_id, label)
);

CREATE TABLE items (
    id            TEXT PRIMARY KEY,
    tenant_id     TEXT NOT NULL REFERENCES tenants(id),
    queue_id      TEXT NOT NULL REFERENCES queues(id),
    session_id    TEXT NOT NULL REFERENCES sessions(id),
    status_id     TEXT NOT NULL REFERENCES session_statuses(id),
    number        INTEGER NOT NULL,
    queue_number  TEXT NOT NULL,
    name          TEXT NOT NULL,
    metadata      TEXT NOT NULL DEFAULT '{}',
    created_at    TEXT NOT NULL,
    updated_at    TEXT NOT NULL,
    UNIQUE (session_id, number)
);
CREATE INDEX items_session_status_number ON items (tenant_id, session_id, status_id, number);
CREATE INDEX items_session_created ON items (tenant_id, session_id, created_at, id);
CREATE INDEX items_queue_created ON items (tenant_id, queue_id, created_at);

-- The session binding of an item never changes, whatever writes to the table.
CREATE TRIGGER items_session_immutable BEFORE UPDATE OF session_id, queue_id ON items
WHEN NEW.session_id IS NOT OLD.session_id OR NEW.queue_id IS NOT OLD.queue_id
BEGIN
    SELECT RAISE(ABORT, 'an item''s session cannot be changed');
END;

CREATE TABLE item_status_history (
    id              TEXT PRIMARY KEY,
    tenant_id       TEXT NOT NULL REFERENCES tenants(id),
    item_id         TEXT NOT NULL REFERENCES items(id),
    from_status_id  TEXT,
    to_status_id    TEXT NOT NULL,
    changed_by      TEXT NOT NULL,
    changed_at      TEXT NOT NULL
);
CREATE INDEX item_status_history_item ON item_status_history (tenant_id, item_id, changed_at);

CREATE TABLE outbox (
    seq         INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant_id   TEXT NOT NULL REFERENCES tenants(id),
    event_type  TEXT NOT NULL,
    session_id  TEXT NOT NULL,
    item_id     TEXT,
    payload     TEXT NOT NULL,
    created_at  TEXT NOT NULL
);
CREATE INDEX outbox_session_seq ON outbox (tenant_id, session_id, seq);
CREATE INDEX outbox_item_seq ON outbox (tenant_id, item_id, seq);
