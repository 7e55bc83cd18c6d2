//! [`TallyStore`] for [`PostgresStore`]: pre-aggregated call tallies and their marks.
//!
//! The tenant-scoped calls run in tenant transactions (row-level security applies); replacing a
//! bucket checks the queue, deletes the bucket's rows, inserts the new ones and upserts the marks
//! of its calls in one. Only `changed_calls`, which serves the aggregator across tenants, runs as
//! the connecting role (see the crate documentation); it reads, never writes.

use std::collections::HashMap;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use lineup_domain::call::CallKey;
use lineup_domain::TenantId;
use lineup_store::{
    to_micros, AgentScope, ChangedCallCursor, StoreResult, StoredCall, StoredTally, TallyBucket, TallyFilter,
    TallyMark, TallyStore,
};
use sqlx::{PgConnection, Postgres, QueryBuilder};

use crate::calls::{call_row, COLUMNS};
use crate::rows::{col, db};
use crate::{queues, PostgresStore};

#[async_trait]
impl TallyStore for PostgresStore {
    async fn changed_calls(
        &self,
        after: Option<ChangedCallCursor>,
        limit: u32,
    ) -> StoreResult<Vec<(ChangedCallCursor, StoredCall)>> {
        let mut qb =
            QueryBuilder::<Postgres>::new(format!("SELECT {COLUMNS}, tenant_id, connection_id, call_id FROM calls"));
        if let Some(cursor) = after {
            qb.push(" WHERE (updated_at, tenant_id, connection_id, call_id) > (")
                .push_bind(cursor.updated_at)
                .push(", ")
                .push_bind(cursor.tenant_id)
                .push(", ")
                .push_bind(cursor.call.connection)
                .push(", ")
                .push_bind(cursor.call.call_id)
                .push(")");
        }
        qb.push(" ORDER BY updated_at, tenant_id, connection_id, call_id LIMIT ").push_bind(i64::from(limit));
        let rows = qb.build().fetch_all(&self.pool).await.map_err(db)?;
        rows.iter()
            .map(|row| {
                let tenant_id: TenantId = col(row, "tenant_id")?;
                let call = call_row(row)?;
                let key = CallKey { connection: col(row, "connection_id")?, call_id: col(row, "call_id")? };
                let cursor = ChangedCallCursor { updated_at: call.updated_at, tenant_id, call: key };
                Ok((cursor, call.stored(tenant_id)))
            })
            .collect()
    }

    async fn aggregation_cursor(&self, name: &str) -> StoreResult<Option<ChangedCallCursor>> {
        let row = sqlx::query(
            "SELECT updated_at, call_tenant_id, connection_id, call_id FROM aggregation_cursors WHERE name = $1",
        )
        .bind(name)
        .fetch_optional(&self.pool)
        .await
        .map_err(db)?;
        row.map(|row| {
            Ok(ChangedCallCursor {
                updated_at: col(&row, "updated_at")?,
                tenant_id: col(&row, "call_tenant_id")?,
                call: CallKey { connection: col(&row, "connection_id")?, call_id: col(&row, "call_id")? },
            })
        })
        .transpose()
    }

    async fn save_aggregation_cursor(
        &self,
        name: &str,
        cursor: ChangedCallCursor,
        now: DateTime<Utc>,
    ) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO aggregation_cursors (name, updated_at, call_tenant_id, connection_id, call_id, saved_at) \
             VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (name) DO UPDATE SET updated_at = EXCLUDED.updated_at, \
             call_tenant_id = EXCLUDED.call_tenant_id, connection_id = EXCLUDED.connection_id, call_id = EXCLUDED.call_id, \
             saved_at = EXCLUDED.saved_at \
             WHERE (EXCLUDED.updated_at, EXCLUDED.call_tenant_id, EXCLUDED.connection_id, EXCLUDED.call_id) \
                 > (aggregation_cursors.updated_at, aggregation_cursors.call_tenant_id, \
                    aggregation_cursors.connection_id, aggregation_cursors.call_id)",
        )
        .bind(name)
        .bind(lineup_store::to_micros(cursor.updated_at))
        .bind(cursor.tenant_id)
        .bind(cursor.call.connection)
        .bind(cursor.call.call_id)
        .bind(lineup_store::to_micros(now))
        .execute(&self.pool)
        .await
        .map(|_| ())
        .map_err(db)
    }

    async fn tally_marks(&self, tenant: TenantId, calls: &[CallKey]) -> StoreResult<HashMap<CallKey, TallyMark>> {
        in_tenant!(&self.pool, tenant, marks, calls)
    }

    async fn replace_tally_bucket(
        &self,
        tenant: TenantId,
        bucket: &TallyBucket,
        now: DateTime<Utc>,
    ) -> StoreResult<()> {
        in_tenant!(&self.pool, tenant, replace_bucket, bucket, to_micros(now))
    }

    async fn list_tallies(&self, tenant: TenantId, filter: &TallyFilter) -> StoreResult<Vec<StoredTally>> {
        in_tenant!(&self.pool, tenant, list, filter)
    }
}

/// The marks of those of the tenant's `calls` that were counted in a bucket.
async fn marks(
    conn: &mut PgConnection,
    tenant: TenantId,
    calls: &[CallKey],
) -> StoreResult<HashMap<CallKey, TallyMark>> {
    let connections: Vec<_> = calls.iter().map(|k| k.connection).collect();
    let call_ids: Vec<i32> = calls.iter().map(|k| k.call_id).collect();
    let rows = sqlx::query(
        "SELECT m.connection_id, m.call_id, m.queue_id, m.bucket_start FROM call_tally_marks m \
         JOIN UNNEST($2::uuid[], $3::int4[]) AS k (connection_id, call_id) \
         ON k.connection_id = m.connection_id AND k.call_id = m.call_id \
         WHERE m.tenant_id = $1",
    )
    .bind(tenant)
    .bind(&connections)
    .bind(&call_ids)
    .fetch_all(conn)
    .await
    .map_err(db)?;
    rows.iter()
        .map(|row| {
            let key = CallKey { connection: col(row, "connection_id")?, call_id: col(row, "call_id")? };
            let mark = TallyMark { queue_id: col(row, "queue_id")?, bucket_start: col(row, "bucket_start")? };
            Ok((key, mark))
        })
        .collect()
}

/// Replaces the rows of one of the tenant's queues' buckets and marks its calls as counted in it.
async fn replace_bucket(
    conn: &mut PgConnection,
    tenant: TenantId,
    bucket: &TallyBucket,
    now: DateTime<Utc>,
) -> StoreResult<()> {
    queues::get(&mut *conn, tenant, bucket.queue_id).await?;
    sqlx::query("DELETE FROM call_tallies WHERE tenant_id = $1 AND queue_id = $2 AND bucket_start = $3")
        .bind(tenant)
        .bind(bucket.queue_id)
        .bind(bucket.bucket_start)
        .execute(&mut *conn)
        .await
        .map_err(db)?;
    if !bucket.rows.is_empty() {
        let agents: Vec<&str> = bucket.rows.iter().map(|r| r.agent_dn.as_deref().unwrap_or("")).collect();
        let offered: Vec<i64> = bucket.rows.iter().map(|r| r.offered).collect();
        let tallies: Vec<&serde_json::Value> = bucket.rows.iter().map(|r| &r.tally).collect();
        sqlx::query(
            "INSERT INTO call_tallies (tenant_id, queue_id, agent_dn, bucket_start, offered, tally, updated_at) \
             SELECT $1, $2, r.agent_dn, $3, r.offered, r.tally, $4 \
             FROM UNNEST($5::text[], $6::int8[], $7::jsonb[]) AS r (agent_dn, offered, tally)",
        )
        .bind(tenant)
        .bind(bucket.queue_id)
        .bind(bucket.bucket_start)
        .bind(now)
        .bind(&agents)
        .bind(&offered)
        .bind(&tallies)
        .execute(&mut *conn)
        .await
        .map_err(db)?;
    }
    if !bucket.calls.is_empty() {
        let connections: Vec<_> = bucket.calls.iter().map(|k| k.connection).collect();
        let call_ids: Vec<i32> = bucket.calls.iter().map(|k| k.call_id).collect();
        // DISTINCT: one statement may not upsert a row twice.
        sqlx::query(
            "INSERT INTO call_tally_marks (tenant_id, connection_id, call_id, queue_id, bucket_start) \
             SELECT DISTINCT $1::uuid, k.connection_id, k.call_id, $2::uuid, $3::timestamptz \
             FROM UNNEST($4::uuid[], $5::int4[]) AS k (connection_id, call_id) \
             ON CONFLICT (tenant_id, connection_id, call_id) DO UPDATE SET \
             queue_id = EXCLUDED.queue_id, bucket_start = EXCLUDED.bucket_start",
        )
        .bind(tenant)
        .bind(bucket.queue_id)
        .bind(bucket.bucket_start)
        .bind(&connections)
        .bind(&call_ids)
        .execute(&mut *conn)
        .await
        .map_err(db)?;
    }
    Ok(())
}

/// The tenant's tally rows matching `filter`, by bucket, queue and agent (queue-wide first).
async fn list(conn: &mut PgConnection, tenant: TenantId, filter: &TallyFilter) -> StoreResult<Vec<StoredTally>> {
    let mut qb = QueryBuilder::<Postgres>::new(
        "SELECT queue_id, agent_dn, bucket_start, offered, tally, updated_at FROM call_tallies WHERE tenant_id = ",
    );
    qb.push_bind(tenant)
        .push(" AND bucket_start >= ")
        .push_bind(filter.from)
        .push(" AND bucket_start < ")
        .push_bind(filter.to);
    if !filter.queue_ids.is_empty() {
        qb.push(" AND queue_id = ANY(").push_bind(&filter.queue_ids).push(")");
    }
    match &filter.agents {
        AgentScope::Queue => qb.push(" AND agent_dn = ''"),
        AgentScope::Agent(dn) => qb.push(" AND agent_dn = ").push_bind(dn),
        AgentScope::AllAgents => qb.push(" AND agent_dn <> ''"),
    };
    qb.push(" ORDER BY bucket_start, queue_id, agent_dn");
    let rows = qb.build().fetch_all(conn).await.map_err(db)?;
    rows.iter()
        .map(|row| {
            let agent: String = col(row, "agent_dn")?;
            Ok(StoredTally {
                queue_id: col(row, "queue_id")?,
                agent_dn: (!agent.is_empty()).then_some(agent),
                bucket_start: col(row, "bucket_start")?,
                offered: col(row, "offered")?,
                tally: col(row, "tally")?,
                updated_at: col(row, "updated_at")?,
            })
        })
        .collect()
}
