-- Access: tenant settings, user accounts, memberships with roles, login sessions, API keys,
-- stream tickets and the audit log (same tables and meaning as migrations/sqlite/0002_access.sql),
-- then row-level security on every table that carries a tenant.
-- Token columns hold SHA-256 hashes (bytea), never tokens; password_hash is an argon2id PHC string.

ALTER TABLE tenants ADD COLUMN settings jsonb NOT NULL DEFAULT '{}';
ALTER TABLE tenants ADD COLUMN updated_at timestamptz;
UPDATE tenants SET updated_at = created_at;
ALTER TABLE tenants ALTER COLUMN updated_at SET NOT NULL;

-- Accounts are global (one person may belong to several tenants); what a tenant sees of them
-- always goes through its memberships.
CREATE TABLE users (
    id             uuid PRIMARY KEY,
    username       text NOT NULL UNIQUE,
    email          text NOT NULL UNIQUE,
    full_name      text NOT NULL,
    password_hash  text NOT NULL,
    home_tenant_id uuid NOT NULL REFERENCES tenants (id),  -- only its admins change email, name, password
    is_active      boolean NOT NULL DEFAULT true,
    last_login_at  timestamptz,
    created_at     timestamptz NOT NULL,
    updated_at     timestamptz NOT NULL
);

CREATE TABLE memberships (
    tenant_id   uuid NOT NULL REFERENCES tenants (id),
    user_id     uuid NOT NULL REFERENCES users (id),
    role        text NOT NULL CHECK (role IN ('admin', 'supervisor', 'analyst', 'agent', 'kiosk', 'display')),
    is_active   boolean NOT NULL DEFAULT true,
    created_at  timestamptz NOT NULL,
    updated_at  timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, user_id)
);
CREATE INDEX memberships_user ON memberships (user_id);

CREATE TABLE login_sessions (
    id                     uuid PRIMARY KEY,
    tenant_id              uuid NOT NULL REFERENCES tenants (id),
    user_id                uuid NOT NULL REFERENCES users (id),
    access_hash            bytea NOT NULL UNIQUE,
    access_expires_at      timestamptz NOT NULL,
    refresh_hash           bytea NOT NULL UNIQUE,
    refresh_expires_at     timestamptz NOT NULL,
    previous_refresh_hash  bytea,
    user_agent             text,
    created_at             timestamptz NOT NULL,
    refreshed_at           timestamptz,
    revoked_at             timestamptz
);
CREATE INDEX login_sessions_previous ON login_sessions (previous_refresh_hash);
CREATE INDEX login_sessions_user ON login_sessions (tenant_id, user_id);

CREATE TABLE api_keys (
    id            uuid PRIMARY KEY,
    tenant_id     uuid NOT NULL REFERENCES tenants (id),
    name          text NOT NULL,
    role          text NOT NULL CHECK (role IN ('admin', 'supervisor', 'analyst', 'agent', 'kiosk', 'display')),
    prefix        text NOT NULL,
    key_hash      bytea NOT NULL UNIQUE,
    created_at    timestamptz NOT NULL,
    expires_at    timestamptz,
    last_used_at  timestamptz,
    revoked_at    timestamptz
);
CREATE INDEX api_keys_tenant_created ON api_keys (tenant_id, created_at, id);
CREATE INDEX api_keys_tenant_name ON api_keys (tenant_id, name COLLATE "C", id);

-- Single-use credentials for stream URLs (EventSource cannot send headers). Exactly one of
-- session_id (a user's login session) and api_key_id is set.
CREATE TABLE stream_tickets (
    ticket_hash  bytea PRIMARY KEY,
    tenant_id    uuid NOT NULL REFERENCES tenants (id),
    session_id   uuid REFERENCES login_sessions (id),
    api_key_id   uuid REFERENCES api_keys (id),
    expires_at   timestamptz NOT NULL,
    CHECK ((session_id IS NULL) <> (api_key_id IS NULL))
);
CREATE INDEX stream_tickets_expiry ON stream_tickets (expires_at);

CREATE TABLE audit_log (
    id           uuid PRIMARY KEY,
    tenant_id    uuid NOT NULL REFERENCES tenants (id),
    at           timestamptz NOT NULL,
    actor_kind   text NOT NULL CHECK (actor_kind IN ('user', 'apiKey', 'system')),
    actor_id     uuid,
    actor_name   text NOT NULL,
    action       text NOT NULL,
    target_type  text NOT NULL,
    target_id    uuid NOT NULL,
    before       jsonb,
    after        jsonb
);
CREATE INDEX audit_log_tenant_at ON audit_log (tenant_id, at, id);

-- Row-level security, the second wall behind the tenant_id in every query. Tenant-scoped work
-- runs as the role lineup_app (SET LOCAL ROLE, so it also binds a superuser connection) with
-- lineup.tenant_id set for the transaction; rows of any other tenant are invisible to it and
-- cannot be written. Only credential resolution (login, token and key lookup), which is how a
-- request learns its tenant, runs as the owner.
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'lineup_app') THEN
        CREATE ROLE lineup_app NOLOGIN;
    END IF;
    BEGIN
        EXECUTE format('GRANT lineup_app TO %I', current_user);
    EXCEPTION WHEN others THEN
        RAISE NOTICE 'could not grant lineup_app to %: %', current_user, SQLERRM;
    END;
END
$$;

-- Sequences: USAGE only (nextval for bigserial columns); setval could send outbox seq backwards.
GRANT USAGE ON SCHEMA public TO lineup_app;
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO lineup_app;
GRANT USAGE ON ALL SEQUENCES IN SCHEMA public TO lineup_app;
ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO lineup_app;
ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT USAGE ON SEQUENCES TO lineup_app;
-- The migration ledger is not the app's business (the grant above caught it when sqlx keeps it here).
DO $$
BEGIN
    IF to_regclass('public._sqlx_migrations') IS NOT NULL THEN
        REVOKE ALL ON public._sqlx_migrations FROM lineup_app;
    END IF;
END
$$;

CREATE FUNCTION lineup_current_tenant() RETURNS uuid
    LANGUAGE sql STABLE
    AS $$ SELECT NULLIF(current_setting('lineup.tenant_id', true), '')::uuid $$;

ALTER TABLE tenants ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON tenants TO lineup_app
    USING (id = lineup_current_tenant()) WITH CHECK (id = lineup_current_tenant());

DO $$
DECLARE
    t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['templates', 'template_statuses', 'queues', 'sessions', 'session_statuses', 'items',
                             'item_status_history', 'outbox', 'memberships', 'login_sessions', 'api_keys',
                             'stream_tickets', 'audit_log']
    LOOP
        EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
        EXECUTE format('CREATE POLICY tenant_isolation ON %I TO lineup_app '
                       'USING (tenant_id = lineup_current_tenant()) '
                       'WITH CHECK (tenant_id = lineup_current_tenant())', t);
    END LOOP;
END
$$;

-- users has no tenant: lineup_app sees an account only through a membership of its tenant, and
-- creates accounts homed in its own tenant only.
ALTER TABLE users ENABLE ROW LEVEL SECURITY;
CREATE POLICY member_of_tenant ON users TO lineup_app
    USING (EXISTS (SELECT 1 FROM memberships m WHERE m.user_id = users.id AND m.tenant_id = lineup_current_tenant()));
CREATE POLICY create_account ON users FOR INSERT TO lineup_app
    WITH CHECK (home_tenant_id = lineup_current_tenant());

-- Adding an existing account to a tenant names it by username, but lineup_app sees no account
-- before it is a member. This function runs as its owner and answers only the id of the account
-- with exactly that username (NULL when there is none), nothing else about it.
CREATE FUNCTION lineup_account_id(p_username text) RETURNS uuid
    LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp
    AS $$ SELECT id FROM users WHERE username = p_username $$;
REVOKE ALL ON FUNCTION lineup_account_id(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION lineup_account_id(text) TO lineup_app;
