//! The agents of PBX connections ([`PbxStore::sync_pbx_agents`](lineup_store::PbxStore),
//! `list_pbx_agents`): a sync is one write transaction that applies the writes
//! [`lineup_store::pbx::agents::plan`] decides; lists use the reader pool.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use lineup_domain::{PbxAgent, StoredPbxAgent, TenantId};
use lineup_store::pbx::agents::{plan, AgentWrite};
use lineup_store::{Entity, StoreError, StoreResult};
use sqlx::sqlite::SqliteRow;
use uuid::Uuid;

use crate::codec::{db, id, ts, RowExt};
use crate::SqliteStore;

const COLUMNS: &str = "connection_id, dn, name, queue_dns, logged_in, paused, since, updated_at";

pub(crate) async fn sync(
    store: &SqliteStore,
    tenant: TenantId,
    connection_id: Uuid,
    agents: &[PbxAgent],
    now: DateTime<Utc>,
) -> StoreResult<usize> {
    let now = lineup_store::to_micros(now);
    let mut tx = store.writer.begin().await.map_err(db)?;
    let live: Option<i64> =
        sqlx::query_scalar("SELECT 1 FROM pbx_connections WHERE tenant_id = ? AND id = ? AND deleted_at IS NULL")
            .bind(id(tenant))
            .bind(id(connection_id))
            .fetch_optional(&mut *tx)
            .await
            .map_err(db)?;
    live.ok_or(StoreError::NotFound(Entity::PbxConnection))?;
    let rows = sqlx::query(&format!("SELECT {COLUMNS} FROM pbx_agents WHERE tenant_id = ? AND connection_id = ?"))
        .bind(id(tenant))
        .bind(id(connection_id))
        .fetch_all(&mut *tx)
        .await
        .map_err(db)?;
    let stored = rows.iter().map(|r| Ok((agent_of(r)?, r.time("since")?))).collect::<StoreResult<Vec<_>>>()?;
    let writes = plan(&stored, agents, now);
    for write in &writes {
        match write {
            AgentWrite::Put { agent, since } => {
                sqlx::query(
                    "INSERT INTO pbx_agents (tenant_id, connection_id, dn, name, queue_dns, logged_in, paused, since, \
                     updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (connection_id, dn) DO UPDATE SET \
                     name = excluded.name, queue_dns = excluded.queue_dns, logged_in = excluded.logged_in, \
                     paused = excluded.paused, since = excluded.since, updated_at = excluded.updated_at",
                )
                .bind(id(tenant))
                .bind(id(connection_id))
                .bind(&agent.dn)
                .bind(&agent.name)
                .bind(serde_json::to_string(&agent.queue_dns).map_err(|e| StoreError::Backend(e.to_string()))?)
                .bind(agent.logged_in)
                .bind(agent.paused)
                .bind(ts(*since))
                .bind(ts(now))
                .execute(&mut *tx)
                .await
                .map_err(db)?;
            }
            AgentWrite::Remove { dn } => {
                sqlx::query("DELETE FROM pbx_agents WHERE tenant_id = ? AND connection_id = ? AND dn = ?")
                    .bind(id(tenant))
                    .bind(id(connection_id))
                    .bind(dn)
                    .execute(&mut *tx)
                    .await
                    .map_err(db)?;
            }
        }
    }
    tx.commit().await.map_err(db)?;
    Ok(writes.len())
}

pub(crate) async fn list(store: &SqliteStore, tenant: TenantId) -> StoreResult<Vec<StoredPbxAgent>> {
    let mut conn = store.reader.acquire().await.map_err(db)?;
    let rows = sqlx::query(&format!(
        "SELECT {COLUMNS} FROM pbx_agents WHERE tenant_id = ? ORDER BY connection_id, CAST(dn AS INTEGER), dn"
    ))
    .bind(id(tenant))
    .fetch_all(&mut *conn)
    .await
    .map_err(db)?;
    let mappings = sqlx::query("SELECT connection_id, dn, queue_id FROM pbx_queue_mappings WHERE tenant_id = ?")
        .bind(id(tenant))
        .fetch_all(&mut *conn)
        .await
        .map_err(db)?;
    let mut queue_of: HashMap<(Uuid, String), Uuid> = HashMap::new();
    for m in &mappings {
        queue_of.insert((m.uuid("connection_id")?, m.text("dn")?), m.uuid("queue_id")?);
    }
    rows.iter()
        .map(|row| {
            let connection_id = row.uuid("connection_id")?;
            let agent = agent_of(row)?;
            let queue_ids =
                agent.queue_dns.iter().filter_map(|dn| queue_of.get(&(connection_id, dn.clone())).copied()).collect();
            Ok(StoredPbxAgent {
                connection_id,
                agent,
                since: row.time("since")?,
                queue_ids,
                updated_at: row.time("updated_at")?,
            })
        })
        .collect()
}

fn agent_of(row: &SqliteRow) -> StoreResult<PbxAgent> {
    let queue_dns = serde_json::from_value(row.json("queue_dns")?)
        .map_err(|e| StoreError::Backend(format!("pbx_agents.queue_dns is not a list of DNs: {e}")))?;
    Ok(PbxAgent {
        dn: row.text("dn")?,
        name: row.text("name")?,
        queue_dns,
        logged_in: row.flag("logged_in")?,
        paused: row.flag("paused")?,
    })
}
