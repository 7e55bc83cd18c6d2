//! [`PbxStore`] for [`PostgresStore`]: PBX connections and their queue mappings. Every
//! tenant-scoped call runs in a tenant transaction (row-level security applies); a change locks
//! the connection row, writes, and audits in the same transaction. Only
//! `list_enabled_pbx_connections`, which serves the polling workers of every tenant, runs as the
//! connecting role (see the crate documentation). The sealed client secret is written and erased
//! here, and read only by that listing. Agents are in `agents`.

use std::collections::{BTreeSet, HashMap};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use lineup_domain::pbx::sort_mappings;
use lineup_domain::{
    Actor, AuditAction, PbxAgent, PbxConnection, PbxConnectionChange, PbxConnectionSpec, QueueMapping,
    SealedClientSecret, StoredPbxAgent, TenantId,
};
use lineup_store::{CursorValue, EnabledPbxConnection, Entity, Page, PageRequest, PbxStore, StoreError, StoreResult};
use sqlx::postgres::PgRow;
use sqlx::{PgConnection, PgPool, Postgres, QueryBuilder};
use uuid::Uuid;

use crate::audit;
use crate::paging::{self, ValueKind, CREATED_AT, NAME};
use crate::rows::{col, db};
use crate::PostgresStore;

/// The columns of the view; never the secret.
const COLUMNS: &str = "id, name, base_url, client_id, client_secret_changed_at, poll_interval_ms, is_enabled, \
     created_at, updated_at";

#[async_trait]
impl PbxStore for PostgresStore {
    async fn sync_pbx_agents(
        &self,
        tenant: TenantId,
        connection_id: Uuid,
        agents: &[PbxAgent],
        now: DateTime<Utc>,
    ) -> StoreResult<usize> {
        in_tenant!(&self.pool, tenant, crate::agents::sync, connection_id, agents, now)
    }

    async fn list_pbx_agents(&self, tenant: TenantId) -> StoreResult<Vec<StoredPbxAgent>> {
        in_tenant!(&self.pool, tenant, crate::agents::list)
    }

    async fn create_pbx_connection(
        &self,
        actor: &Actor,
        tenant: TenantId,
        spec: PbxConnectionSpec,
    ) -> StoreResult<PbxConnection> {
        in_tenant!(&self.pool, tenant, create, actor, spec)
    }
    async fn get_pbx_connection(&self, tenant: TenantId, id: Uuid) -> StoreResult<PbxConnection> {
        in_tenant!(&self.pool, tenant, get, id)
    }
    async fn list_pbx_connections(&self, tenant: TenantId, page: &PageRequest) -> StoreResult<Page<PbxConnection>> {
        in_tenant!(&self.pool, tenant, list, page)
    }
    async fn update_pbx_connection(
        &self,
        actor: &Actor,
        tenant: TenantId,
        id: Uuid,
        change: PbxConnectionChange,
    ) -> StoreResult<PbxConnection> {
        in_tenant!(&self.pool, tenant, update, actor, id, change)
    }
    async fn set_pbx_queue_mappings(
        &self,
        actor: &Actor,
        tenant: TenantId,
        id: Uuid,
        mappings: Vec<QueueMapping>,
    ) -> StoreResult<PbxConnection> {
        in_tenant!(&self.pool, tenant, set_mappings, actor, id, mappings)
    }
    async fn delete_pbx_connection(&self, actor: &Actor, tenant: TenantId, id: Uuid) -> StoreResult<()> {
        in_tenant!(&self.pool, tenant, delete, actor, id)
    }
    async fn list_enabled_pbx_connections(&self) -> StoreResult<Vec<EnabledPbxConnection>> {
        list_enabled(&self.pool).await
    }
}

/// Stores a connection without mappings and audits it.
async fn create(
    conn: &mut PgConnection,
    tenant: TenantId,
    actor: &Actor,
    spec: PbxConnectionSpec,
) -> StoreResult<PbxConnection> {
    let now = lineup_store::now_micros();
    let connection = PbxConnection {
        id: spec.id,
        name: spec.name,
        base_url: spec.base_url,
        client_id: spec.client_id,
        has_client_secret: true,
        client_secret_changed_at: now,
        poll_interval_ms: spec.poll_interval_ms,
        is_enabled: spec.is_enabled,
        queue_mappings: Vec::new(),
        created_at: now,
        updated_at: now,
    };
    sqlx::query(
        "INSERT INTO pbx_connections (id, tenant_id, name, base_url, client_id, client_secret, \
         client_secret_changed_at, poll_interval_ms, is_enabled, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $7, $7)",
    )
    .bind(connection.id)
    .bind(tenant)
    .bind(&connection.name)
    .bind(&connection.base_url)
    .bind(&connection.client_id)
    .bind(&spec.client_secret.sealed)
    .bind(now)
    .bind(interval_column(connection.poll_interval_ms))
    .bind(connection.is_enabled)
    .execute(&mut *conn)
    .await
    .map_err(db)?;
    audit::record::<PbxConnection>(
        conn,
        tenant,
        actor,
        AuditAction::PbxConnectionCreate,
        connection.id,
        None,
        &connection,
    )
    .await?;
    Ok(connection)
}

/// One live connection of the tenant with its mappings.
async fn get(conn: &mut PgConnection, tenant: TenantId, id: Uuid) -> StoreResult<PbxConnection> {
    fetch(conn, tenant, id, "").await
}

/// One live connection of the tenant, its row locked with `lock` (e.g. `FOR NO KEY UPDATE`).
async fn fetch(conn: &mut PgConnection, tenant: TenantId, id: Uuid, lock: &str) -> StoreResult<PbxConnection> {
    let row = sqlx::query(&format!(
        "SELECT {COLUMNS} FROM pbx_connections WHERE tenant_id = $1 AND id = $2 AND deleted_at IS NULL {lock}"
    ))
    .bind(tenant)
    .bind(id)
    .fetch_optional(&mut *conn)
    .await
    .map_err(db)?
    .ok_or(StoreError::NotFound(Entity::PbxConnection))?;
    let mut connection = connection(&row)?;
    connection.queue_mappings = mappings_of(conn, tenant, &[id]).await?.remove(&id).unwrap_or_default();
    Ok(connection)
}

/// A page of the tenant's live connections by name or creation time.
async fn list(conn: &mut PgConnection, tenant: TenantId, page: &PageRequest) -> StoreResult<Page<PbxConnection>> {
    let sort = paging::column(page, &[NAME, CREATED_AT])?;
    let mut qb = QueryBuilder::<Postgres>::new(format!(
        "SELECT {COLUMNS} FROM pbx_connections WHERE deleted_at IS NULL AND tenant_id = "
    ));
    qb.push_bind(tenant);
    paging::push_keyset(&mut qb, page, sort, "id")?;
    let rows = qb.build().fetch_all(&mut *conn).await.map_err(db)?;
    let mut connections = rows.iter().map(connection).collect::<StoreResult<Vec<_>>>()?;
    let ids: Vec<Uuid> = connections.iter().map(|c| c.id).collect();
    let mut mappings = mappings_of(conn, tenant, &ids).await?;
    for c in &mut connections {
        c.queue_mappings = mappings.remove(&c.id).unwrap_or_default();
    }
    Ok(page.finish(connections, |c| {
        let value = match sort.kind {
            ValueKind::Text => CursorValue::Text(c.name.clone()),
            _ => CursorValue::Time(c.created_at),
        };
        (value, c.id)
    }))
}

/// Applies a validated change to the locked row and audits it; a change that changes nothing
/// writes nothing.
async fn update(
    conn: &mut PgConnection,
    tenant: TenantId,
    actor: &Actor,
    id: Uuid,
    change: PbxConnectionChange,
) -> StoreResult<PbxConnection> {
    let now = lineup_store::now_micros();
    let before = fetch(conn, tenant, id, "FOR NO KEY UPDATE").await?;
    let mut after = before.clone();
    if !change.apply(&mut after, now) {
        return Ok(before);
    }
    sqlx::query(
        "UPDATE pbx_connections SET name = $2, base_url = $3, client_id = $4, \
         client_secret = COALESCE($5, client_secret), client_secret_changed_at = $6, poll_interval_ms = $7, \
         is_enabled = $8, updated_at = $9 WHERE id = $1",
    )
    .bind(id)
    .bind(&after.name)
    .bind(&after.base_url)
    .bind(&after.client_id)
    .bind(change.client_secret.as_ref().map(|s| s.sealed.as_str()))
    .bind(after.client_secret_changed_at)
    .bind(interval_column(after.poll_interval_ms))
    .bind(after.is_enabled)
    .bind(after.updated_at)
    .execute(&mut *conn)
    .await
    .map_err(db)?;
    audit::record(conn, tenant, actor, AuditAction::PbxConnectionUpdate, id, Some(&before), &after).await?;
    Ok(after)
}

/// Replaces the locked connection's mappings after checking every queue is the tenant's;
/// audited as an update; the same set again writes nothing.
async fn set_mappings(
    conn: &mut PgConnection,
    tenant: TenantId,
    actor: &Actor,
    id: Uuid,
    mut mappings: Vec<QueueMapping>,
) -> StoreResult<PbxConnection> {
    sort_mappings(&mut mappings);
    let now = lineup_store::now_micros();
    let before = fetch(conn, tenant, id, "FOR NO KEY UPDATE").await?;
    let queues: Vec<Uuid> = mappings.iter().map(|m| m.queue_id).collect::<BTreeSet<_>>().into_iter().collect();
    let found: i64 = sqlx::query_scalar("SELECT count(*) FROM queues WHERE tenant_id = $1 AND id = ANY($2)")
        .bind(tenant)
        .bind(&queues)
        .fetch_one(&mut *conn)
        .await
        .map_err(db)?;
    if usize::try_from(found).ok() != Some(queues.len()) {
        return Err(StoreError::NotFound(Entity::Queue));
    }
    if before.queue_mappings == mappings {
        return Ok(before);
    }
    sqlx::query("DELETE FROM pbx_queue_mappings WHERE tenant_id = $1 AND connection_id = $2")
        .bind(tenant)
        .bind(id)
        .execute(&mut *conn)
        .await
        .map_err(db)?;
    let dns: Vec<&str> = mappings.iter().map(|m| m.dn.as_str()).collect();
    let targets: Vec<Uuid> = mappings.iter().map(|m| m.queue_id).collect();
    sqlx::query(
        "INSERT INTO pbx_queue_mappings (tenant_id, connection_id, dn, queue_id) \
         SELECT $1, $2, m.dn, m.queue_id FROM UNNEST($3::text[], $4::uuid[]) AS m (dn, queue_id)",
    )
    .bind(tenant)
    .bind(id)
    .bind(&dns)
    .bind(&targets)
    .execute(&mut *conn)
    .await
    .map_err(db)?;
    sqlx::query("UPDATE pbx_connections SET updated_at = $2 WHERE id = $1")
        .bind(id)
        .bind(now)
        .execute(&mut *conn)
        .await
        .map_err(db)?;
    let after = PbxConnection { queue_mappings: mappings, updated_at: now, ..before.clone() };
    audit::record(conn, tenant, actor, AuditAction::PbxConnectionUpdate, id, Some(&before), &after).await?;
    Ok(after)
}

/// Soft-deletes the locked connection: erases its sealed secret, removes its mappings, hides it.
async fn delete(conn: &mut PgConnection, tenant: TenantId, actor: &Actor, id: Uuid) -> StoreResult<()> {
    let now = lineup_store::now_micros();
    let before = fetch(conn, tenant, id, "FOR NO KEY UPDATE").await?;
    let after = before.deleted(now);
    for table in ["pbx_queue_mappings", "pbx_agents"] {
        sqlx::query(&format!("DELETE FROM {table} WHERE tenant_id = $1 AND connection_id = $2"))
            .bind(tenant)
            .bind(id)
            .execute(&mut *conn)
            .await
            .map_err(db)?;
    }
    sqlx::query(
        "UPDATE pbx_connections SET client_secret = NULL, client_secret_changed_at = $2, is_enabled = false, \
         updated_at = $2, deleted_at = $2 WHERE id = $1",
    )
    .bind(id)
    .bind(now)
    .execute(&mut *conn)
    .await
    .map_err(db)?;
    audit::record(conn, tenant, actor, AuditAction::PbxConnectionDelete, id, Some(&before), &after).await?;
    Ok(())
}

/// Every enabled live connection of every tenant with its sealed secret, in one snapshot. Runs
/// as the connecting role: it serves every tenant's workers (see the crate documentation).
async fn list_enabled(pool: &PgPool) -> StoreResult<Vec<EnabledPbxConnection>> {
    let mut tx = pool.begin().await.map_err(db)?;
    sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY").execute(&mut *tx).await.map_err(db)?;
    let rows = sqlx::query(&format!(
        "SELECT tenant_id, client_secret, {COLUMNS} FROM pbx_connections \
         WHERE is_enabled AND deleted_at IS NULL ORDER BY tenant_id, created_at, id"
    ))
    .fetch_all(&mut *tx)
    .await
    .map_err(db)?;
    let mapping_rows = sqlx::query(
        "SELECT m.connection_id, m.dn, m.queue_id FROM pbx_queue_mappings m \
         JOIN pbx_connections c ON c.id = m.connection_id WHERE c.is_enabled AND c.deleted_at IS NULL",
    )
    .fetch_all(&mut *tx)
    .await
    .map_err(db)?;
    tx.commit().await.map_err(db)?;
    let mut mappings = group_mappings(&mapping_rows)?;
    rows.iter()
        .map(|row| {
            let mut connection = connection(row)?;
            connection.queue_mappings = mappings.remove(&connection.id).unwrap_or_default();
            Ok(EnabledPbxConnection {
                tenant_id: col(row, "tenant_id")?,
                connection,
                client_secret: SealedClientSecret { sealed: col(row, "client_secret")? },
            })
        })
        .collect()
}

/// The mappings of the tenant's connections `ids`, by connection, each list in DN order.
async fn mappings_of(
    conn: &mut PgConnection,
    tenant: TenantId,
    ids: &[Uuid],
) -> StoreResult<HashMap<Uuid, Vec<QueueMapping>>> {
    if ids.is_empty() {
        return Ok(HashMap::new());
    }
    let rows = sqlx::query(
        "SELECT connection_id, dn, queue_id FROM pbx_queue_mappings WHERE tenant_id = $1 AND connection_id = ANY($2)",
    )
    .bind(tenant)
    .bind(ids)
    .fetch_all(conn)
    .await
    .map_err(db)?;
    group_mappings(&rows)
}

fn group_mappings(rows: &[PgRow]) -> StoreResult<HashMap<Uuid, Vec<QueueMapping>>> {
    let mut by_connection: HashMap<Uuid, Vec<QueueMapping>> = HashMap::new();
    for row in rows {
        let mapping = QueueMapping { dn: col(row, "dn")?, queue_id: col(row, "queue_id")? };
        by_connection.entry(col(row, "connection_id")?).or_default().push(mapping);
    }
    for list in by_connection.values_mut() {
        sort_mappings(list);
    }
    Ok(by_connection)
}

/// A poll interval as the `integer` column holds it (the domain keeps it within 250..=60000).
fn interval_column(ms: u32) -> i32 {
    i32::try_from(ms).unwrap_or(i32::MAX)
}

fn connection(row: &PgRow) -> StoreResult<PbxConnection> {
    let interval: i32 = col(row, "poll_interval_ms")?;
    Ok(PbxConnection {
        id: col(row, "id")?,
        name: col(row, "name")?,
        base_url: col(row, "base_url")?,
        client_id: col(row, "client_id")?,
        has_client_secret: true,
        client_secret_changed_at: col(row, "client_secret_changed_at")?,
        poll_interval_ms: u32::try_from(interval)
            .map_err(|_| StoreError::Backend(format!("poll_interval_ms holds {interval}")))?,
        is_enabled: col(row, "is_enabled")?,
        queue_mappings: Vec::new(),
        created_at: col(row, "created_at")?,
        updated_at: col(row, "updated_at")?,
    })
}
