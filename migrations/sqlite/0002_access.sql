-- Access: tenant settings, user accounts, memberships with roles, login sessions, API keys,
-- stream tickets and the audit log. Token columns hold SHA-256 hashes (32-byte BLOBs), never
-- tokens; password_hash holds an argon2id PHC string.

ALTER TABLE tenants ADD COLUMN settings TEXT NOT NULL DEFAULT '{}';
ALTER TABLE tenants ADD COLUMN updated_at TEXT NOT NULL DEFAULT '';
UPDATE tenants SET updated_at = created_at;

-- Accounts are global (one person may belong to several tenants); what a tenant sees of them
-- always goes through its memberships.
CREATE TABLE users (
    id             TEXT PRIMARY KEY,
    username       TEXT NOT NULL UNIQUE,
    email          TEXT NOT NULL UNIQUE,
    full_name      TEXT NOT NULL,
    password_hash  TEXT NOT NULL,
    home_tenant_id TEXT NOT NULL REFERENCES tenants(id),  -- only its admins change email, name, password
    is_active      INTEGER NOT NULL DEFAULT 1,
    last_login_at  TEXT,
    created_at     TEXT NOT NULL,
    updated_at     TEXT NOT NULL
);

CREATE TABLE memberships (
    tenant_id   TEXT NOT NULL REFERENCES tenants(id),
    user_id     TEXT NOT NULL REFERENCES users(id),
    role        TEXT NOT NULL CHECK (role IN ('admin', 'supervisor', 'analyst', 'agent', 'kiosk', 'display')),
    is_active   INTEGER NOT NULL DEFAULT 1,
    created_at  TEXT NOT NULL,
    updated_at  TEXT NOT NULL,
    PRIMARY KEY (tenant_id, user_id)
);
CREATE INDEX memberships_user ON memberships (user_id);

CREATE TABLE login_sessions (
    id                     TEXT PRIMARY KEY,
    tenant_id              TEXT NOT NULL REFERENCES tenants(id),
    user_id                TEXT NOT NULL REFERENCES users(id),
    access_hash            BLOB NOT NULL UNIQUE,
    access_expires_at      TEXT NOT NULL,
    refresh_hash           BLOB NOT NULL UNIQUE,
    refresh_expires_at     TEXT NOT NULL,
    previous_refresh_hash  BLOB,
    user_agent             TEXT,
    created_at             TEXT NOT NULL,
    refreshed_at           TEXT,
    revoked_at             TEXT
);
CREATE INDEX login_sessions_previous ON login_sessions (previous_refresh_hash);
CREATE INDEX login_sessions_user ON login_sessions (tenant_id, user_id);

CREATE TABLE api_keys (
    id            TEXT PRIMARY KEY,
    tenant_id     TEXT NOT NULL REFERENCES tenants(id),
    name          TEXT NOT NULL,
    role          TEXT NOT NULL CHECK (role IN ('admin', 'supervisor', 'analyst', 'agent', 'kiosk', 'display')),
    prefix        TEXT NOT NULL,
    key_hash      BLOB NOT NULL UNIQUE,
    created_at    TEXT NOT NULL,
    expires_at    TEXT,
    last_used_at  TEXT,
    revoked_at    TEXT
);
CREATE INDEX api_keys_tenant_created ON api_keys (tenant_id, created_at, id);
CREATE INDEX api_keys_tenant_name ON api_keys (tenant_id, name, id);

-- Single-use credentials for stream URLs (EventSource cannot send headers). Exactly one of
-- session_id (a user's login session) and api_key_id is set.
CREATE TABLE stream_tickets (
    ticket_hash  BLOB PRIMARY KEY,
    tenant_id    TEXT NOT NULL REFERENCES tenants(id),
    session_id   TEXT REFERENCES login_sessions(id),
    api_key_id   TEXT REFERENCES api_keys(id),
    expires_at   TEXT NOT NULL,
    CHECK ((session_id IS NULL) <> (api_key_id IS NULL))
);
CREATE INDEX stream_tickets_expiry ON stream_tickets (expires_at);

CREATE TABLE audit_log (
    id           TEXT PRIMARY KEY,
    tenant_id    TEXT NOT NULL REFERENCES tenants(id),
    at           TEXT NOT NULL,
    actor_kind   TEXT NOT NULL CHECK (actor_kind IN ('user', 'apiKey', 'system')),
    actor_id     TEXT,
    actor_name   TEXT NOT NULL,
    action       TEXT NOT NULL,
    target_type  TEXT NOT NULL,
    target_id    TEXT NOT NULL,
    before       TEXT,
    after        TEXT
);
CREATE INDEX audit_log_tenant_at ON audit_log (tenant_id, at, id);
