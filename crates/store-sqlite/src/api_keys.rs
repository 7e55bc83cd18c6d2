//! API keys: stored as the hash of their secret, listed by name or age, revoked, and resolved
//! to the principal they act as.

use chrono::{DateTime, TimeDelta, Utc};
use lineup_domain::{Actor, ApiKey, ApiKeySpec, AuditAction, Principal, Subject, TenantId};
use lineup_store::{CursorValue, Entity, Page, PageRequest, SortKey, StoreError, StoreResult, TokenHash};
use sqlx::sqlite::SqliteRow;
use sqlx::{SqliteExecutor, SqlitePool};
use uuid::Uuid;

use crate::audit;
use crate::codec::{db, id, stored, ts, RowExt};
use crate::paging::{bind_after, keyset};
use crate::SqliteStore;

const COLUMNS: &str = "id, name, role, prefix, created_at, expires_at, last_used_at, revoked_at";

/// `last_used_at` is written at most this often per key, so resolving a busy key rarely writes.
const LAST_USED_GRANULARITY: TimeDelta = TimeDelta::seconds(60);

/// Stores a key for the tenant and audits it.
pub(crate) async fn create(
    store: &SqliteStore,
    actor: &Actor,
    tenant: TenantId,
    spec: ApiKeySpec,
) -> StoreResult<ApiKey> {
    let key = ApiKey {
        id: spec.id,
        name: spec.name,
        role: spec.role,
        prefix: spec.prefix,
        created_at: lineup_store::now_micros(),
        expires_at: spec.expires_at.map(stored),
        last_used_at: None,
        revoked_at: None,
    };
    let mut tx = store.writer.begin().await.map_err(db)?;
    sqlx::query(
        "INSERT INTO api_keys (id, tenant_id, name, role, prefix, key_hash, created_at, expires_at) \
         VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(id(key.id))
    .bind(id(tenant))
    .bind(&key.name)
    .bind(key.role.as_str())
    .bind(&key.prefix)
    .bind(&spec.hash[..])
    .bind(ts(key.created_at))
    .bind(key.expires_at.map(ts))
    .execute(&mut *tx)
    .await
    .map_err(db)?;
    audit::record::<ApiKey>(&mut tx, tenant, actor, AuditAction::ApiKeyCreate, key.id, None, &key).await?;
    tx.commit().await.map_err(db)?;
    Ok(key)
}

/// One key of the tenant, revoked or not.
pub(crate) async fn get<'e>(conn: impl SqliteExecutor<'e>, tenant: TenantId, key_id: Uuid) -> StoreResult<ApiKey> {
    let row = sqlx::query(&format!("SELECT {COLUMNS} FROM api_keys WHERE tenant_id = ? AND id = ?"))
        .bind(id(tenant))
        .bind(id(key_id))
        .fetch_optional(conn)
        .await
        .map_err(db)?
        .ok_or(StoreError::NotFound(Entity::ApiKey))?;
    from_row(&row)
}

/// A page of the tenant's keys (revoked ones included) by name (byte order) or creation time.
pub(crate) async fn list(pool: &SqlitePool, tenant: TenantId, page: &PageRequest) -> StoreResult<Page<ApiKey>> {
    let ks = keyset(page, &[(SortKey::Name, "name"), (SortKey::CreatedAt, "created_at")], "id")?;
    let sql = format!("SELECT {COLUMNS} FROM api_keys WHERE tenant_id = ?{}{}", ks.condition, ks.order_by);
    let q = sqlx::query(&sql).bind(id(tenant));
    let rows = bind_after(q, &ks.after_binds).fetch_all(pool).await.map_err(db)?;
    let keys = rows.iter().map(from_row).collect::<StoreResult<Vec<_>>>()?;
    Ok(page.finish(keys, |k| {
        let value = match page.sort {
            SortKey::Name => CursorValue::Text(k.name.clone()),
            _ => CursorValue::Time(k.created_at),
        };
        (value, k.id)
    }))
}

/// Revokes a key of the tenant and audits it; a revoked key keeps its first revocation time and
/// is not audited again.
pub(crate) async fn revoke(
    store: &SqliteStore,
    actor: &Actor,
    tenant: TenantId,
    key_id: Uuid,
    now: DateTime<Utc>,
) -> StoreResult<ApiKey> {
    let mut tx = store.writer.begin().await.map_err(db)?;
    let before = get(&mut *tx, tenant, key_id).await?;
    let mut after = before.clone();
    if after.revoked_at.is_none() {
        after.revoked_at = Some(stored(now));
        sqlx::query("UPDATE api_keys SET revoked_at = ? WHERE id = ?")
            .bind(ts(now))
            .bind(id(key_id))
            .execute(&mut *tx)
            .await
            .map_err(db)?;
        // Revoking a revoked key changes nothing, so it is not audited again.
        audit::record(&mut tx, tenant, actor, AuditAction::ApiKeyRevoke, key_id, Some(&before), &after).await?;
    }
    tx.commit().await.map_err(db)?;
    Ok(after)
}

/// The principal of the live key with this hash at `now`. The lookup reads; only when
/// `last_used_at` is unset or older than a minute does it take the writer to stamp it (guarded,
/// so concurrent resolvers stamp once).
pub(crate) async fn resolve(
    store: &SqliteStore,
    hash: &TokenHash,
    now: DateTime<Utc>,
) -> StoreResult<Option<Principal>> {
    let row = sqlx::query(
        "SELECT id, tenant_id, name, role, last_used_at FROM api_keys \
         WHERE key_hash = ? AND revoked_at IS NULL AND (expires_at IS NULL OR expires_at > ?)",
    )
    .bind(&hash[..])
    .bind(ts(now))
    .fetch_optional(&store.reader)
    .await
    .map_err(db)?;
    let Some(row) = row else {
        return Ok(None);
    };
    let stale = ts(now - LAST_USED_GRANULARITY);
    if row.opt_text("last_used_at")?.is_none_or(|used| used < stale) {
        sqlx::query("UPDATE api_keys SET last_used_at = ? WHERE id = ? AND (last_used_at IS NULL OR last_used_at < ?)")
            .bind(ts(now))
            .bind(row.text("id")?)
            .bind(&stale)
            .execute(&store.writer)
            .await
            .map_err(db)?;
    }
    Ok(Some(Principal {
        tenant_id: row.uuid("tenant_id")?,
        role: row.role("role")?,
        subject: Subject::ApiKey { key_id: row.uuid("id")?, name: row.text("name")? },
    }))
}

fn from_row(row: &SqliteRow) -> StoreResult<ApiKey> {
    Ok(ApiKey {
        id: row.uuid("id")?,
        name: row.text("name")?,
        role: row.role("role")?,
        prefix: row.text("prefix")?,
        created_at: row.time("created_at")?,
        expires_at: row.opt_time("expires_at")?,
        last_used_at: row.opt_time("last_used_at")?,
        revoked_at: row.opt_time("revoked_at")?,
    })
}
