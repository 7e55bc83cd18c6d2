-- Agents of a PBX connection as the PBX last reported them (3CX users with an extension): the
-- live hub's source of presence. queue_dns is a JSON array of the 3CX queue DNs the agent is a
-- member of; logged_in is 3CX's queue status (LoggedIn), paused its presence profile being away;
-- since is when logged_in or paused last changed (when Lineup first saw the current value).
-- The poller replaces a connection's agents with what it reads; an agent no longer listed is
-- deleted.
CREATE TABLE pbx_agents (
    tenant_id      TEXT NOT NULL REFERENCES tenants(id),
    connection_id  TEXT NOT NULL REFERENCES pbx_connections(id),
    dn             TEXT NOT NULL CHECK (length(dn) BETWEEN 1 AND 32),
    name           TEXT NOT NULL,
    queue_dns      TEXT NOT NULL,
    logged_in      INTEGER NOT NULL CHECK (logged_in IN (0, 1)),
    paused         INTEGER NOT NULL CHECK (paused IN (0, 1)),
    since          TEXT NOT NULL,
    updated_at     TEXT NOT NULL,
    PRIMARY KEY (connection_id, dn)
);
CREATE INDEX pbx_agents_tenant ON pbx_agents (tenant_id, connection_id, dn);
