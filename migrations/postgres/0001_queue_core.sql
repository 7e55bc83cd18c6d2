-- Queue core: tenants, templates, queues, sessions, items, history and the outbox.
-- Same tables, columns and meaning as migrations/sqlite/0001_queue_core.sql, in native types:
-- uuid keys, timestamptz (microsecond precision), jsonb documents, boolean flags.
-- Names are compared and sorted with COLLATE "C" (byte order), like SQLite's default.

CREATE TABLE tenants (
    id          uuid PRIMARY KEY,
    name        text NOT NULL,
    slug        text NOT NULL UNIQUE,
    created_at  timestamptz NOT NULL
);

CREATE TABLE templates (
    id               uuid PRIMARY KEY,
    tenant_id        uuid NOT NULL REFERENCES tenants (id),
    name             text NOT NULL,
    machine          jsonb NOT NULL,           -- {"init":..,"transitions":[..]}
    metadata_schema  jsonb,
    created_at       timestamptz NOT NULL,
    updated_at       timestamptz NOT NULL
);
CREATE INDEX templates_tenant_created ON templates (tenant_id, created_at, id);
CREATE INDEX templates_tenant_name ON templates (tenant_id, name COLLATE "C", id);

CREATE TABLE template_statuses (
    id           uuid PRIMARY KEY,
    tenant_id    uuid NOT NULL REFERENCES tenants (id),
    template_id  uuid NOT NULL REFERENCES templates (id),
    label        text NOT NULL,
    color        text NOT NULL,
    sort_order   integer NOT NULL,
    UNIQUE (template_id, label)
);

CREATE TABLE queues (
    id           uuid PRIMARY KEY,
    tenant_id    uuid NOT NULL REFERENCES tenants (id),
    template_id  uuid NOT NULL REFERENCES templates (id),
    name         text NOT NULL,
    prefix       text NOT NULL,
    is_active    boolean NOT NULL DEFAULT true,
    session_seq  bigint NOT NULL DEFAULT 0,  -- last sessionNumber handed out
    created_at   timestamptz NOT NULL,
    updated_at   timestamptz NOT NULL
);
CREATE INDEX queues_tenant_created ON queues (tenant_id, created_at, id);
CREATE INDEX queues_tenant_name ON queues (tenant_id, name COLLATE "C", id);

CREATE TABLE sessions (
    id               uuid PRIMARY KEY,
    tenant_id        uuid NOT NULL REFERENCES tenants (id),
    queue_id         uuid NOT NULL REFERENCES queues (id),
    name             text NOT NULL,
    status           text NOT NULL CHECK (status IN ('active', 'paused', 'completed', 'archived')),
    session_number   bigint NOT NULL,
    item_seq         bigint NOT NULL DEFAULT 0,  -- last item number handed out
    machine          jsonb NOT NULL,             -- cloned from the template
    metadata_schema  jsonb,                      -- cloned from the template
    is_deleted       boolean NOT NULL DEFAULT false,
    started_at       timestamptz NOT NULL,
    ended_at         timestamptz,
    created_at       timestamptz NOT NULL,
    updated_at       timestamptz NOT NULL,
    UNIQUE (queue_id, session_number)
);
CREATE INDEX sessions_queue_state_created ON sessions (tenant_id, queue_id, status, created_at);
CREATE INDEX sessions_queue_created ON sessions (tenant_id, queue_id, created_at, id);

CREATE TABLE session_statuses (
    id                  uuid PRIMARY KEY,
    tenant_id           uuid NOT NULL REFERENCES tenants (id),
    session_id          uuid NOT NULL REFERENCES sessions (id),
    template_status_id  uuid REFERENCES template_statuses (id),
    label               text NOT NULL,
    color               text NOT NULL,
    sort_order          integer NOT NULL,
    UNIQUE (session_id, label)
);

CREATE TABLE items (
    id            uuid PRIMARY KEY,
    tenant_id     uuid NOT NULL REFERENCES tenants (id),
    queue_id      uuid NOT NULL REFERENCES queues (id),
    session_id    uuid NOT NULL REFERENCES sessions (id),
    status_id     uuid NOT NULL REFERENCES session_statuses (id),
    number        bigint NOT NULL,
    queue_number  text NOT NULL,
    name          text NOT NULL,
    metadata      jsonb NOT NULL DEFAULT '{}',
    created_at    timestamptz NOT NULL,
    updated_at    timestamptz NOT NULL,
    UNIQUE (session_id, number)
);
CREATE INDEX items_session_status_number ON items (tenant_id, session_id, status_id, number);
CREATE INDEX items_session_created ON items (tenant_id, session_id, created_at, id);
CREATE INDEX items_queue_created ON items (tenant_id, queue_id, created_at);

-- The session binding of an item never changes, whatever writes to the table.
CREATE FUNCTION items_refuse_session_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.session_id IS DISTINCT FROM OLD.session_id OR NEW.queue_id IS DISTINCT FROM OLD.queue_id THEN
        RAISE EXCEPTION 'an item''s session cannot be changed' USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    RETURN NEW;
END;
$$;

CREATE TRIGGER items_session_immutable BEFORE UPDATE OF session_id, queue_id ON items
FOR EACH ROW EXECUTE FUNCTION items_refuse_session_change();

CREATE TABLE item_status_history (
    id              uuid PRIMARY KEY,
    seq             bigserial NOT NULL,  -- insertion order: breaks ties between equal changed_at
    tenant_id       uuid NOT NULL REFERENCES tenants (id),
    item_id         uuid NOT NULL REFERENCES items (id),
    from_status_id  uuid,
    to_status_id    uuid NOT NULL,
    changed_by      text NOT NULL,
    changed_at      timestamptz NOT NULL
);
CREATE INDEX item_status_history_item ON item_status_history (tenant_id, item_id, changed_at, seq);

-- seq grows in commit order: writers take a transaction advisory lock before inserting here,
-- as the last statement of their transaction (see crates/store-postgres/src/events.rs).
CREATE TABLE outbox (
    seq         bigserial PRIMARY KEY,
    tenant_id   uuid NOT NULL REFERENCES tenants (id),
    event_type  text NOT NULL,
    session_id  uuid NOT NULL,
    item_id     uuid,
    payload     jsonb NOT NULL,
    created_at  timestamptz NOT NULL
);
CREATE INDEX outbox_session_seq ON outbox (tenant_id, session_id, seq);
CREATE INDEX outbox_item_seq ON outbox (tenant_id, item_id, seq);
