//! [`PbxStore`] for [`SqliteStore`]: PBX connections and their queue mappings. Changes run in
//! one write transaction with their audit entry; reads use the reader pool. The sealed client
//! secret is written and erased here, and read only by `list_enabled_pbx_connections`. Agents
//! are in `agents`.

use std::collections::HashMap;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use lineup_domain::pbx::sort_mappings;
use lineup_domain::{
    Actor, AuditAction, PbxAgent, PbxConnection, PbxConnectionChange, PbxConnectionSpec, QueueMapping,
    SealedClientSecret, StoredPbxAgent, TenantId,
};
use lineup_store::{
    CursorValue, EnabledPbxConnection, Entity, Page, PageRequest, PbxStore, SortKey, StoreError, StoreResult,
};
use sqlx::sqlite::SqliteRow;
use sqlx::{SqliteConnection, SqlitePool};
use uuid::Uuid;

use crate::audit;
use crate::codec::{db, id, ts, RowExt};
use crate::paging::{bind_after, keyset};
use crate::SqliteStore;

/// The columns of the view; never the secret.
const COLUMNS: &str = "id, name, base_url, client_id, client_secret_changed_at, poll_interval_ms, is_enabled, \
     created_at, updated_at";

#[async_trait]
impl PbxStore for SqliteStore {
    async fn sync_pbx_agents(
        &self,
        tenant: TenantId,
        connection_id: Uuid,
        agents: &[PbxAgent],
        now: DateTime<Utc>,
    ) -> StoreResult<usize> {
        crate::agents::sync(self, tenant, connection_id, agents, now).await
    }

    async fn list_pbx_agents(&self, tenant: TenantId) -> StoreResult<Vec<StoredPbxAgent>> {
        crate::agents::list(self, tenant).await
    }

    async fn create_pbx_connection(
        &self,
        actor: &Actor,
        tenant: TenantId,
        spec: PbxConnectionSpec,
    ) -> StoreResult<PbxConnection> {
        create(self, actor, tenant, spec).await
    }
    async fn get_pbx_connection(&self, tenant: TenantId, id: Uuid) -> StoreResult<PbxConnection> {
        let mut conn = self.reader.acquire().await.map_err(db)?;
        get(&mut conn, tenant, id).await
    }
    async fn list_pbx_connections(&self, tenant: TenantId, page: &PageRequest) -> StoreResult<Page<PbxConnection>> {
        list(&self.reader, tenant, page).await
    }
    async fn update_pbx_connection(
        &self,
        actor: &Actor,
        tenant: TenantId,
        id: Uuid,
        change: PbxConnectionChange,
    ) -> StoreResult<PbxConnection> {
        update(self, actor, tenant, id, change).await
    }
    async fn set_pbx_queue_mappings(
        &self,
        actor: &Actor,
        tenant: TenantId,
        id: Uuid,
        mappings: Vec<QueueMapping>,
    ) -> StoreResult<PbxConnection> {
        set_mappings(self, actor, tenant, id, mappings).await
    }
    async fn delete_pbx_connection(&self, actor: &Actor, tenant: TenantId, id: Uuid) -> StoreResult<()> {
        delete(self, actor, tenant, id).await
    }
    async fn list_enabled_pbx_connections(&self) -> StoreResult<Vec<EnabledPbxConnection>> {
        list_enabled(&self.reader).await
    }
}

/// Stores a connection without mappings and audits it.
async fn create(
    store: &SqliteStore,
    actor: &Actor,
    tenant: TenantId,
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
    let mut tx = store.writer.begin().await.map_err(db)?;
    sqlx::query(
        "INSERT INTO pbx_connections (id, tenant_id, name, base_url, client_id, client_secret, \
         client_secret_changed_at, poll_interval_ms, is_enabled, created_at, updated_at) \
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(id(connection.id))
    .bind(id(tenant))
    .bind(&connection.name)
    .bind(&connection.base_url)
    .bind(&connection.client_id)
    .bind(&spec.client_secret.sealed)
    .bind(ts(now))
    .bind(i64::from(connection.poll_interval_ms))
    .bind(connection.is_enabled)
    .bind(ts(now))
    .bind(ts(now))
    .execute(&mut *tx)
    .await
    .map_err(db)?;
    audit::record::<PbxConnection>(
        &mut tx,
        tenant,
        actor,
        AuditAction::PbxConnectionCreate,
        connection.id,
        None,
        &connection,
    )
    .await?;
    tx.commit().await.map_err(db)?;
    Ok(connection)
}

/// One live (not deleted) connection of the tenant with its mappings.
async fn get(conn: &mut SqliteConnection, tenant: TenantId, connection_id: Uuid) -> StoreResult<PbxConnection> {
    let row = sqlx::query(&format!(
        "SELECT {COLUMNS} FROM pbx_connections WHERE tenant_id = ? AND id = ? AND deleted_at IS NULL"
    ))
    .bind(id(tenant))
    .bind(id(connection_id))
    .fetch_optional(&mut *conn)
    .await
    .map_err(db)?
    .ok_or(StoreError::NotFound(Entity::PbxConnection))?;
    let mut connection = from_row(&row)?;
    connection.queue_mappings =
        mappings_of(conn, tenant, &[connection_id]).await?.remove(&connection_id).unwrap_or_default();
    Ok(connection)
}

/// A page of the tenant's live connections by name (byte order) or creation time.
async fn list(pool: &SqlitePool, tenant: TenantId, page: &PageRequest) -> StoreResult<Page<PbxConnection>> {
    let ks = keyset(page, &[(SortKey::Name, "name"), (SortKey::CreatedAt, "created_at")], "id")?;
    let sql = format!(
        "SELECT {COLUMNS} FROM pbx_connections WHERE tenant_id = ? AND deleted_at IS NULL{}{}",
        ks.condition, ks.order_by
    );
    let mut conn = pool.acquire().await.map_err(db)?;
    let rows =
        bind_after(sqlx::query(&sql).bind(id(tenant)), &ks.after_binds).fetch_all(&mut *conn).await.map_err(db)?;
    let mut connections = rows.iter().map(from_row).collect::<StoreResult<Vec<_>>>()?;
    let ids: Vec<Uuid> = connections.iter().map(|c| c.id).collect();
    let mut mappings = mappings_of(&mut conn, tenant, &ids).await?;
    for c in &mut connections {
        c.queue_mappings = mappings.remove(&c.id).unwrap_or_default();
    }
    Ok(page.finish(connections, |c| {
        let value = match page.sort {
            SortKey::Name => CursorValue::Text(c.name.clone()),
            _ => CursorValue::Time(c.created_at),
        };
        (value, c.id)
    }))
}

/// Applies a validated change and audits it; a change that changes nothing writes nothing.
async fn update(
    store: &SqliteStore,
    actor: &Actor,
    tenant: TenantId,
    connection_id: Uuid,
    change: PbxConnectionChange,
) -> StoreResult<PbxConnection> {
    let now = lineup_store::now_micros();
    let mut tx = store.writer.begin().await.map_err(db)?;
    let before = get(&mut tx, tenant, connection_id).await?;
    let mut after = before.clone();
    if !change.apply(&mut after, now) {
        return Ok(before);
    }
    sqlx::query(
        "UPDATE pbx_connections SET name = ?, base_url = ?, client_id = ?, \
         client_secret = COALESCE(?, client_secret), client_secret_changed_at = ?, poll_interval_ms = ?, \
         is_enabled = ?, updated_at = ? WHERE id = ?",
    )
    .bind(&after.name)
    .bind(&after.base_url)
    .bind(&after.client_id)
    .bind(change.client_secret.as_ref().map(|s| s.sealed.as_str()))
    .bind(ts(after.client_secret_changed_at))
    .bind(i64::from(after.poll_interval_ms))
    .bind(after.is_enabled)
    .bind(ts(after.updated_at))
    .bind(id(connection_id))
    .execute(&mut *tx)
    .await
    .map_err(db)?;
    audit::record(&mut tx, tenant, actor, AuditAction::PbxConnectionUpdate, connection_id, Some(&before), &after)
        .await?;
    tx.commit().await.map_err(db)?;
    Ok(after)
}

/// Replaces the connection's mappings after checking every queue is the tenant's; audited as an
/// update; the same set again writes nothing.
async fn set_mappings(
    store: &SqliteStore,
    actor: &Actor,
    tenant: TenantId,
    connection_id: Uuid,
    mut mappings: Vec<QueueMapping>,
) -> StoreResult<PbxConnection> {
    sort_mappings(&mut mappings);
    let now = lineup_store::now_micros();
    let mut tx = store.writer.begin().await.map_err(db)?;
    let before = get(&mut tx, tenant, connection_id).await?;
    for queue_id in mappings.iter().map(|m| m.queue_id).collect::<std::collections::BTreeSet<_>>() {
        let found = sqlx::query("SELECT 1 FROM queues WHERE tenant_id = ? AND id = ?")
            .bind(id(tenant))
            .bind(id(queue_id))
            .fetch_optional(&mut *tx)
            .await
            .map_err(db)?;
        if found.is_none() {
            return Err(StoreError::NotFound(Entity::Queue));
        }
    }
    if before.queue_mappings == mappings {
        return Ok(before);
    }
    sqlx::query("DELETE FROM pbx_queue_mappings WHERE tenant_id = ? AND connection_id = ?")
        .bind(id(tenant))
        .bind(id(connection_id))
        .execute(&mut *tx)
        .await
        .map_err(db)?;
    for m in &mappings {
        sqlx::query("INSERT INTO pbx_queue_mappings (tenant_id, connection_id, dn, queue_id) VALUES (?, ?, ?, ?)")
            .bind(id(tenant))
            .bind(id(connection_id))
            .bind(&m.dn)
            .bind(id(m.queue_id))
            .execute(&mut *tx)
            .await
            .map_err(db)?;
    }
    sqlx::query("UPDATE pbx_connections SET updated_at = ? WHERE id = ?")
        .bind(ts(now))
        .bind(id(connection_id))
        .execute(&mut *tx)
        .await
        .map_err(db)?;
    let after = PbxConnection { queue_mappings: mappings, updated_at: now, ..before.clone() };
    audit::record(&mut tx, tenant, actor, AuditAction::PbxConnectionUpdate, connection_id, Some(&before), &after)
        .await?;
    tx.commit().await.map_err(db)?;
    Ok(after)
}

/// Soft-deletes the connection: erases its sealed secret, removes its mappings, hides it.
async fn delete(store: &SqliteStore, actor: &Actor, tenant: TenantId, connection_id: Uuid) -> StoreResult<()> {
    let now = lineup_store::now_micros();
    let mut tx = store.writer.begin().await.map_err(db)?;
    let before = get(&mut tx, tenant, connection_id).await?;
    let after = before.deleted(now);
    for table in ["pbx_queue_mappings", "pbx_agents"] {
        sqlx::query(&format!("DELETE FROM {table} WHERE tenant_id = ? AND connection_id = ?"))
            .bind(id(tenant))
            .bind(id(connection_id))
            .execute(&mut *tx)
            .await
            .map_err(db)?;
    }
    sqlx::query(
        "UPDATE pbx_connections SET client_secret = NULL, client_secret_changed_at = ?, is_enabled = 0, \
         updated_at = ?, deleted_at = ? WHERE id = ?",
    )
    .bind(ts(now))
    .bind(ts(now))
    .bind(ts(now))
    .bind(id(connection_id))
    .execute(&mut *tx)
    .await
    .map_err(db)?;
    audit::record(&mut tx, tenant, actor, AuditAction::PbxConnectionDelete, connection_id, Some(&before), &after)
        .await?;
    tx.commit().await.map_err(db)?;
    Ok(())
}

/// Every enabled live connection of every tenant with its sealed secret.
async fn list_enabled(pool: &SqlitePool) -> StoreResult<Vec<EnabledPbxConnection>> {
    let mut conn = pool.acquire().await.map_err(db)?;
    let rows = sqlx::query(&format!(
        "SELECT tenant_id, client_secret, {COLUMNS} FROM pbx_connections \
         WHERE is_enabled = 1 AND deleted_at IS NULL ORDER BY tenant_id, created_at, id"
    ))
    .fetch_all(&mut *conn)
    .await
    .map_err(db)?;
    let mapping_rows = sqlx::query(
        "SELECT m.connection_id, m.dn, m.queue_id FROM pbx_queue_mappings m \
         JOIN pbx_connections c ON c.id = m.connection_id WHERE c.is_enabled = 1 AND c.deleted_at IS NULL",
    )
    .fetch_all(&mut *conn)
    .await
    .map_err(db)?;
    let mut mappings = group_mappings(&mapping_rows)?;
    rows.iter()
        .map(|row| {
            let mut connection = from_row(row)?;
            connection.queue_mappings = mappings.remove(&connection.id).unwrap_or_default();
            Ok(EnabledPbxConnection {
                tenant_id: row.uuid("tenant_id")?,
                connection,
                client_secret: SealedClientSecret { sealed: row.text("client_secret")? },
            })
        })
        .collect()
}

/// The mappings of the tenant's connections `ids`, by connection, each list in DN order.
async fn mappings_of(
    conn: &mut SqliteConnection,
    tenant: TenantId,
    ids: &[Uuid],
) -> StoreResult<HashMap<Uuid, Vec<QueueMapping>>> {
    if ids.is_empty() {
        return Ok(HashMap::new());
    }
    let placeholders = vec!["?"; ids.len()].join(", ");
    let sql = format!(
        "SELECT connection_id, dn, queue_id FROM pbx_queue_mappings WHERE tenant_id = ? AND connection_id IN ({placeholders})"
    );
    let mut q = sqlx::query(&sql).bind(id(tenant));
    for c in ids {
        q = q.bind(id(*c));
    }
    let rows = q.fetch_all(conn).await.map_err(db)?;
    group_mappings(&rows)
}

fn group_mappings(rows: &[SqliteRow]) -> StoreResult<HashMap<Uuid, Vec<QueueMapping>>> {
    let mut by_connection: HashMap<Uuid, Vec<QueueMapping>> = HashMap::new();
    for row in rows {
        let mapping = QueueMapping { dn: row.text("dn")?, queue_id: row.uuid("queue_id")? };
        by_connection.entry(row.uuid("connection_id")?).or_default().push(mapping);
    }
    for list in by_connection.values_mut() {
        sort_mappings(list);
    }
    Ok(by_connection)
}

fn from_row(row: &SqliteRow) -> StoreResult<PbxConnection> {
    let interval = row.int("poll_interval_ms")?;
    Ok(PbxConnection {
        id: row.uuid("id")?,
        name: row.text("name")?,
        base_url: row.text("base_url")?,
        client_id: row.text("client_id")?,
        has_client_secret: true,
        client_secret_changed_at: row.time("client_secret_changed_at")?,
        poll_interval_ms: u32::try_from(interval)
            .map_err(|_| StoreError::Backend(format!("poll_interval_ms holds {interval}")))?,
        is_enabled: row.flag("is_enabled")?,
        queue_mappings: Vec::new(),
        created_at: row.time("created_at")?,
        updated_at: row.time("updated_at")?,
    })
}
