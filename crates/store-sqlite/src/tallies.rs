//! [`TallyStore`] for [`SqliteStore`]: pre-aggregated call tallies and their marks.

use std::collections::HashMap;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use lineup_domain::call::CallKey;
use lineup_domain::TenantId;
use lineup_store::{
    AgentScope, ChangedCallCursor, StoreError, StoreResult, StoredCall, StoredTally, TallyBucket, TallyFilter,
    TallyMark, TallyStore,
};

use crate::calls::{from_row, COLUMNS};
use crate::codec::{db, id, json, ts, RowExt};
use crate::{queues, SqliteStore};

#[async_trait]
impl TallyStore for SqliteStore {
    async fn changed_calls(
        &self,
        after: Option<ChangedCallCursor>,
        limit: u32,
    ) -> StoreResult<Vec<(ChangedCallCursor, StoredCall)>> {
        let condition = match after {
            Some(_) => "WHERE (updated_at, tenant_id, connection_id, call_id) > (?, ?, ?, ?)",
            None => "",
        };
        let sql = format!(
            "SELECT {COLUMNS}, tenant_id, connection_id, call_id FROM calls {condition} \
             ORDER BY updated_at, tenant_id, connection_id, call_id LIMIT ?"
        );
        let mut query = sqlx::query(&sql);
        if let Some(cursor) = after {
            query = query
                .bind(ts(cursor.updated_at))
                .bind(id(cursor.tenant_id))
                .bind(id(cursor.call.connection))
                .bind(cursor.call.call_id);
        }
        let rows = query.bind(i64::from(limit)).fetch_all(&self.reader).await.map_err(db)?;
        rows.iter()
            .map(|row| {
                let tenant_id = row.uuid("tenant_id")?;
                let call = from_row(row)?;
                let call_id = i32::try_from(row.int("call_id")?)
                    .map_err(|e| StoreError::Backend(format!("calls.call_id out of range: {e}")))?;
                let key = CallKey { connection: row.uuid("connection_id")?, call_id };
                let cursor = ChangedCallCursor { updated_at: row.time("updated_at")?, tenant_id, call: key };
                Ok((cursor, call.stored(tenant_id)))
            })
            .collect()
    }

    async fn tally_marks(&self, tenant: TenantId, calls: &[CallKey]) -> StoreResult<HashMap<CallKey, TallyMark>> {
        let mut marks = HashMap::new();
        for chunk in calls.chunks(400) {
            let pairs = vec!["(?, ?)"; chunk.len()].join(", ");
            let sql = format!(
                "SELECT connection_id, call_id, queue_id, bucket_start FROM call_tally_marks \
                 WHERE tenant_id = ? AND (connection_id, call_id) IN (VALUES {pairs})"
            );
            let mut query = sqlx::query(&sql).bind(id(tenant));
            for key in chunk {
                query = query.bind(id(key.connection)).bind(key.call_id);
            }
            for row in query.fetch_all(&self.reader).await.map_err(db)? {
                let call_id = i32::try_from(row.int("call_id")?)
                    .map_err(|e| StoreError::Backend(format!("call_tally_marks.call_id out of range: {e}")))?;
                let key = CallKey { connection: row.uuid("connection_id")?, call_id };
                let mark = TallyMark { queue_id: row.uuid("queue_id")?, bucket_start: row.time("bucket_start")? };
                marks.insert(key, mark);
            }
        }
        Ok(marks)
    }

    async fn replace_tally_bucket(
        &self,
        tenant: TenantId,
        bucket: &TallyBucket,
        now: DateTime<Utc>,
    ) -> StoreResult<()> {
        let mut tx = self.writer.begin().await.map_err(db)?;
        queues::get(&mut *tx, tenant, bucket.queue_id).await?;
        let start = ts(bucket.bucket_start);
        sqlx::query("DELETE FROM call_tallies WHERE tenant_id = ? AND queue_id = ? AND bucket_start = ?")
            .bind(id(tenant))
            .bind(id(bucket.queue_id))
            .bind(&start)
            .execute(&mut *tx)
            .await
            .map_err(db)?;
        for row in &bucket.rows {
            sqlx::query(
                "INSERT INTO call_tallies (tenant_id, queue_id, agent_dn, bucket_start, offered, tally, updated_at) \
                 VALUES (?, ?, ?, ?, ?, ?, ?)",
            )
            .bind(id(tenant))
            .bind(id(bucket.queue_id))
            .bind(row.agent_dn.as_deref().unwrap_or(""))
            .bind(&start)
            .bind(row.offered)
            .bind(json(&row.tally))
            .bind(ts(now))
            .execute(&mut *tx)
            .await
            .map_err(db)?;
        }
        for chunk in bucket.calls.chunks(400) {
            let rows = vec!["(?, ?, ?, ?, ?)"; chunk.len()].join(", ");
            let sql = format!(
                "INSERT INTO call_tally_marks (tenant_id, connection_id, call_id, queue_id, bucket_start) \
                 VALUES {rows} ON CONFLICT (tenant_id, connection_id, call_id) DO UPDATE SET \
                 queue_id = excluded.queue_id, bucket_start = excluded.bucket_start"
            );
            let mut query = sqlx::query(&sql);
            for key in chunk {
                query = query
                    .bind(id(tenant))
                    .bind(id(key.connection))
                    .bind(key.call_id)
                    .bind(id(bucket.queue_id))
                    .bind(start.clone());
            }
            query.execute(&mut *tx).await.map_err(db)?;
        }
        tx.commit().await.map_err(db)
    }

    async fn list_tallies(&self, tenant: TenantId, filter: &TallyFilter) -> StoreResult<Vec<StoredTally>> {
        let queues = match filter.queue_ids.is_empty() {
            true => String::new(),
            false => format!(" AND queue_id IN ({})", vec!["?"; filter.queue_ids.len()].join(", ")),
        };
        let agents = match &filter.agents {
            AgentScope::Queue => " AND agent_dn = ''",
            AgentScope::Agent(_) => " AND agent_dn = ?",
            AgentScope::AllAgents => " AND agent_dn <> ''",
        };
        let sql = format!(
            "SELECT queue_id, agent_dn, bucket_start, offered, tally, updated_at FROM call_tallies \
             WHERE tenant_id = ? AND bucket_start >= ? AND bucket_start < ?{queues}{agents} \
             ORDER BY bucket_start, queue_id, agent_dn"
        );
        let mut query = sqlx::query(&sql).bind(id(tenant)).bind(ts(filter.from)).bind(ts(filter.to));
        for queue in &filter.queue_ids {
            query = query.bind(id(*queue));
        }
        if let AgentScope::Agent(dn) = &filter.agents {
            query = query.bind(dn.clone());
        }
        let rows = query.fetch_all(&self.reader).await.map_err(db)?;
        rows.iter()
            .map(|row| {
                let agent = row.text("agent_dn")?;
                Ok(StoredTally {
                    queue_id: row.uuid("queue_id")?,
                    agent_dn: (!agent.is_empty()).then_some(agent),
                    bucket_start: row.time("bucket_start")?,
                    offered: row.int("offered")?,
                    tally: row.json("tally")?,
                    updated_at: row.time("updated_at")?,
                })
            })
            .collect()
    }

    async fn aggregation_cursor(&self, name: &str) -> StoreResult<Option<ChangedCallCursor>> {
        let row = sqlx::query(
            "SELECT updated_at, call_tenant_id, connection_id, call_id FROM aggregation_cursors WHERE name = ?",
        )
        .bind(name)
        .fetch_optional(&self.reader)
        .await
        .map_err(db)?;
        row.map(|row| {
            let call_id = i32::try_from(row.int("call_id")?)
                .map_err(|e| StoreError::Backend(format!("aggregation_cursors.call_id out of range: {e}")))?;
            Ok(ChangedCallCursor {
                updated_at: row.time("updated_at")?,
                tenant_id: row.uuid("call_tenant_id")?,
                call: CallKey { connection: row.uuid("connection_id")?, call_id },
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
             VALUES (?6, ?1, ?2, ?3, ?4, ?5) ON CONFLICT (name) DO UPDATE SET updated_at = excluded.updated_at, \
             call_tenant_id = excluded.call_tenant_id, connection_id = excluded.connection_id, call_id = excluded.call_id, \
             saved_at = excluded.saved_at \
             WHERE (excluded.updated_at, excluded.call_tenant_id, excluded.connection_id, excluded.call_id) \
                 > (aggregation_cursors.updated_at, aggregation_cursors.call_tenant_id, aggregation_cursors.connection_id, \
                    aggregation_cursors.call_id)",
        )
        .bind(ts(cursor.updated_at))
        .bind(id(cursor.tenant_id))
        .bind(id(cursor.call.connection))
        .bind(cursor.call.call_id)
        .bind(ts(now))
        .bind(name)
        .execute(&self.writer)
        .await
        .map(|_| ())
        .map_err(db)
    }
}
