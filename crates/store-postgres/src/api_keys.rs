//! API keys: stored as the hash of their secret, listed by name or age, revoked, and resolved
//! to the principal they act as.

use chrono::{DateTime, Utc};
use lineup_domain::{Actor, ApiKey, ApiKeySpec, AuditAction, Principal, Subject, TenantId};
use lineup_store::{CursorValue, Entity, Page, PageRequest, StoreError, StoreResult, TokenHash};
use sqlx::postgres::PgRow;
use sqlx::{PgConnection, Postgres, QueryBuilder};
use uuid::Uuid;

use crate::audit;
use crate::paging::{self, ValueKind, CREATED_AT, NAME};
use crate::rows::{self, col, db};

const COLUMNS: &str = "id, name, role, prefix, created_at, expires_at, last_used_at, revoked_at";

/// `last_used_at` is written at most this often per key, so resolving a busy key rarely writes.
const LAST_USED_GRANULARITY: &str = "60 seconds";

/// Stores a key for the tenant and audits it; its expiry is kept to the microsecond, so the key
/// returned is the key later read.
pub(crate) async fn create(
    conn: &mut PgConnection,
    tenant: TenantId,
    actor: &Actor,
    spec: ApiKeySpec,
) -> StoreResult<ApiKey> {
    let key = ApiKey {
        id: spec.id,
        name: spec.name,
        role: spec.role,
        prefix: spec.prefix,
        created_at: lineup_store::now_micros(),
        expires_at: spec.expires_at.map(lineup_store::to_micros),
        last_used_at: None,
        revoked_at: None,
    };
    sqlx::query(
        "INSERT INTO api_keys (id, tenant_id, name, role, prefix, key_hash, created_at, expires_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(key.id)
    .bind(tenant)
    .bind(&key.name)
    .bind(key.role.as_str())
    .bind(&key.prefix)
    .bind(&spec.hash[..])
    .bind(key.created_at)
    .bind(key.expires_at)
    .execute(&mut *conn)
    .await
    .map_err(db)?;
    audit::record::<ApiKey>(conn, tenant, actor, AuditAction::ApiKeyCreate, key.id, None, &key).await?;
    Ok(key)
}

/// One key of the tenant, revoked or not.
pub(crate) async fn get(conn: &mut PgConnection, tenant: TenantId, id: Uuid) -> StoreResult<ApiKey> {
    let row = sqlx::query(&format!("SELECT {COLUMNS} FROM api_keys WHERE tenant_id = $1 AND id = $2"))
        .bind(tenant)
        .bind(id)
        .fetch_optional(conn)
        .await
        .map_err(db)?
        .ok_or(StoreError::NotFound(Entity::ApiKey))?;
    api_key(&row)
}

/// A page of the tenant's keys (revoked ones included) by name or creation time.
pub(crate) async fn list(conn: &mut PgConnection, tenant: TenantId, page: &PageRequest) -> StoreResult<Page<ApiKey>> {
    let sort = paging::column(page, &[NAME, CREATED_AT])?;
    let mut qb = QueryBuilder::<Postgres>::new(format!("SELECT {COLUMNS} FROM api_keys WHERE tenant_id = "));
    qb.push_bind(tenant);
    paging::push_keyset(&mut qb, page, sort, "id")?;
    let rows = qb.build().fetch_all(conn).await.map_err(db)?;
    let keys = rows.iter().map(api_key).collect::<StoreResult<Vec<_>>>()?;
    Ok(page.finish(keys, |k| {
        let value = match sort.kind {
            ValueKind::Text => CursorValue::Text(k.name.clone()),
            _ => CursorValue::Time(k.created_at),
        };
        (value, k.id)
    }))
}

/// Revokes a key of the tenant (a revoked key keeps its first revocation time) and audits it.
pub(crate) async fn revoke(
    conn: &mut PgConnection,
    tenant: TenantId,
    actor: &Actor,
    id: Uuid,
    now: DateTime<Utc>,
) -> StoreResult<ApiKey> {
    let now = lineup_store::to_micros(now);
    let row =
        sqlx::query(&format!("SELECT {COLUMNS} FROM api_keys WHERE tenant_id = $1 AND id = $2 FOR NO KEY UPDATE"))
            .bind(tenant)
            .bind(id)
            .fetch_optional(&mut *conn)
            .await
            .map_err(db)?
            .ok_or(StoreError::NotFound(Entity::ApiKey))?;
    let before = api_key(&row)?;
    let mut after = before.clone();
    if after.revoked_at.is_none() {
        after.revoked_at = Some(now);
        sqlx::query("UPDATE api_keys SET revoked_at = $2 WHERE id = $1")
            .bind(id)
            .bind(now)
            .execute(&mut *conn)
            .await
            .map_err(db)?;
        // Revoking a revoked key changes nothing, so it is not audited again.
        audit::record(conn, tenant, actor, AuditAction::ApiKeyRevoke, id, Some(&before), &after).await?;
    }
    Ok(after)
}

/// The principal of the live key with this hash at `now`, stamping its `last_used_at` when that
/// is unset or older than a minute, in one statement.
pub(crate) async fn resolve(
    conn: &mut PgConnection,
    hash: &TokenHash,
    now: DateTime<Utc>,
) -> StoreResult<Option<Principal>> {
    let now = lineup_store::to_micros(now);
    let row = sqlx::query(&format!(
        "WITH k AS (SELECT id, tenant_id, name, role, last_used_at FROM api_keys \
         WHERE key_hash = $1 AND revoked_at IS NULL AND (expires_at IS NULL OR expires_at > $2)), \
         stamp AS (UPDATE api_keys a SET last_used_at = $2 FROM k WHERE a.id = k.id \
         AND (k.last_used_at IS NULL OR k.last_used_at < $2 - interval '{LAST_USED_GRANULARITY}')) \
         SELECT id, tenant_id, name, role FROM k"
    ))
    .bind(&hash[..])
    .bind(now)
    .fetch_optional(conn)
    .await
    .map_err(db)?;
    row.map(|row| {
        Ok(Principal {
            tenant_id: col(&row, "tenant_id")?,
            role: rows::role(&row, "role")?,
            subject: Subject::ApiKey { key_id: col(&row, "id")?, name: col(&row, "name")? },
        })
    })
    .transpose()
}

fn api_key(row: &PgRow) -> StoreResult<ApiKey> {
    Ok(ApiKey {
        id: col(row, "id")?,
        name: col(row, "name")?,
        role: rows::role(row, "role")?,
        prefix: col(row, "prefix")?,
        created_at: col(row, "created_at")?,
        expires_at: col(row, "expires_at")?,
        last_used_at: col(row, "last_used_at")?,
        revoked_at: col(row, "revoked_at")?,
    })
}
