//! The agents of PBX connections (`PbxStore::sync_pbx_agents`, `list_pbx_agents`), in tenant
//! transactions: a sync locks the connection row (so two syncs of one connection run one after
//! the other) and applies the writes [`lineup_store::pbx::agents::plan`] decides.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use lineup_domain::{PbxAgent, StoredPbxAgent, TenantId};
use lineup_store::pbx::agents::{plan, AgentWrite};
use lineup_store::{Entity, StoreError, StoreResult};
use sqlx::postgres::PgRow;
use sqlx::PgConnection;
use uuid::Uuid;

use crate::rows::{col, db};

const COLUMNS: &str = "connection_id, dn, name, queue_dns, logged_in, paused, since, updated_at";

pub(crate) async fn sync(
    conn: &mut PgConnection,
    tenant: TenantId,
    connection_id: Uuid,
    agents: &[PbxAgent],
    now: DateTime<Utc>,
) -> StoreResult<usize> {
    let now = lineup_store::to_micros(now);
    let live: Option<i32> = sqlx::query_scalar(
        "SELECT 1 FROM pbx_connections WHERE tenant_id = $1 AND id = $2 AND deleted_at IS NULL FOR NO KEY UPDATE",
    )
    .bind(tenant)
    .bind(connection_id)
    .fetch_optional(&mut *conn)
    .await
    .map_err(db)?;
    live.ok_or(StoreError::NotFound(Entity::PbxConnection))?;
    let rows = sqlx::query(&format!("SELECT {COLUMNS} FROM pbx_agents WHERE tenant_id = $1 AND connection_id = $2"))
        .bind(tenant)
        .bind(connection_id)
        .fetch_all(&mut *conn)
        .await
        .map_err(db)?;
    let stored = rows.iter().map(|r| Ok((agent_of(r)?, col(r, "since")?))).collect::<StoreResult<Vec<_>>>()?;
    let writes = plan(&stored, agents, now);
    for write in &writes {
        match write {
            AgentWrite::Put { agent, since } => {
                sqlx::query(
                    "INSERT INTO pbx_agents (tenant_id, connection_id, dn, name, queue_dns, logged_in, paused, since, \
                     updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT (connection_id, dn) DO UPDATE \
                     SET name = EXCLUDED.name, queue_dns = EXCLUDED.queue_dns, logged_in = EXCLUDED.logged_in, \
                     paused = EXCLUDED.paused, since = EXCLUDED.since, updated_at = EXCLUDED.updated_at",
                )
                .bind(tenant)
                .bind(connection_id)
                .bind(&agent.dn)
                .bind(&agent.name)
                .bind(sqlx::types::Json(&agent.queue_dns))
                .bind(agent.logged_in)
                .bind(agent.paused)
                .bind(*since)
                .bind(now)
                .execute(&mut *conn)
                .await
                .map_err(db)?;
            }
            AgentWrite::Remove { dn } => {
                sqlx::query("DELETE FROM pbx_agents WHERE tenant_id = $1 AND connection_id = $2 AND dn = $3")
                    .bind(tenant)
                    .bind(connection_id)
                    .bind(dn)
                    .execute(&mut *conn)
                    .await
                    .map_err(db)?;
            }
        }
    }
    Ok(writes.len())
}

pub(crate) async fn list(conn: &mut PgConnection, tenant: TenantId) -> StoreResult<Vec<StoredPbxAgent>> {
    let rows = sqlx::query(&format!(
        "SELECT {COLUMNS} FROM pbx_agents WHERE tenant_id = $1 \
         ORDER BY connection_id, length(dn), dn COLLATE \"C\""
    ))
    .bind(tenant)
    .fetch_all(&mut *conn)
    .await
    .map_err(db)?;
    let mappings = sqlx::query("SELECT connection_id, dn, queue_id FROM pbx_queue_mappings WHERE tenant_id = $1")
        .bind(tenant)
        .fetch_all(&mut *conn)
        .await
        .map_err(db)?;
    let mut queue_of: HashMap<(Uuid, String), Uuid> = HashMap::new();
    for m in &mappings {
        queue_of.insert((col(m, "connection_id")?, col(m, "dn")?), col(m, "queue_id")?);
    }
    rows.iter()
        .map(|row| {
            let connection_id: Uuid = col(row, "connection_id")?;
            let agent = agent_of(row)?;
            let queue_ids =
                agent.queue_dns.iter().filter_map(|dn| queue_of.get(&(connection_id, dn.clone())).copied()).collect();
            Ok(StoredPbxAgent {
                connection_id,
                agent,
                since: col(row, "since")?,
                queue_ids,
                updated_at: col(row, "updated_at")?,
            })
        })
        .collect()
}

fn agent_of(row: &PgRow) -> StoreResult<PbxAgent> {
    let sqlx::types::Json(queue_dns) = col::<sqlx::types::Json<Vec<String>>>(row, "queue_dns")?;
    Ok(PbxAgent {
        dn: col(row, "dn")?,
        name: col(row, "name")?,
        queue_dns,
        logged_in: col(row, "logged_in")?,
        paused: col(row, "paused")?,
    })
}
