-- Pre-aggregated tallies of finished calls (lineup-analytics' Tally, as JSON) per queue, agent
-- ('' = the whole queue) and 15-minute bucket (UTC start), replaced whole by the aggregator; and
-- the mark of the bucket each call was last counted in, so a call corrected into another bucket
-- is taken out of the old one. calls_updated lets the aggregator read changed calls in order.
CREATE TABLE call_tallies (
    tenant_id     TEXT NOT NULL REFERENCES tenants(id),
    queue_id      TEXT NOT NULL REFERENCES queues(id),
    agent_dn      TEXT NOT NULL,
    bucket_start  TEXT NOT NULL,
    offered       INTEGER NOT NULL CHECK (offered >= 0),
    tally         TEXT NOT NULL,
    updated_at    TEXT NOT NULL,
    PRIMARY KEY (tenant_id, queue_id, bucket_start, agent_dn)
);
CREATE INDEX call_tallies_bucket ON call_tallies (tenant_id, bucket_start, queue_id, agent_dn);

CREATE TABLE call_tally_marks (
    tenant_id      TEXT NOT NULL REFERENCES tenants(id),
    connection_id  TEXT NOT NULL,
    call_id        INTEGER NOT NULL,
    queue_id       TEXT NOT NULL,
    bucket_start   TEXT NOT NULL,
    PRIMARY KEY (tenant_id, connection_id, call_id)
);

CREATE INDEX calls_updated ON calls (updated_at, tenant_id, connection_id, call_id);
