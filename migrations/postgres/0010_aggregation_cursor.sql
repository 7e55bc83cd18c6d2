-- The analytics aggregator's position (same table and meaning as
-- migrations/sqlite/0010_aggregation_cursor.sql, which documents it). Global like worker_leases:
-- it runs as the owner (the connecting role) and the app role gets nothing on it.
CREATE TABLE aggregation_cursors (
    name           text PRIMARY KEY,
    updated_at     timestamptz NOT NULL,
    call_tenant_id uuid NOT NULL,
    connection_id  uuid NOT NULL,
    call_id        integer NOT NULL,
    saved_at       timestamptz NOT NULL
);

REVOKE ALL ON aggregation_cursors FROM lineup_app;
