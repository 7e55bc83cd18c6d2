//! Tenants: creation, lookup by id or slug, and changes to name and settings.

use lineup_domain::{Actor, AuditAction, Tenant, TenantId, TenantPatch, TenantSpec};
use lineup_store::{Entity, StoreError, StoreResult};
use sqlx::sqlite::SqliteRow;
use sqlx::SqliteExecutor;

use crate::audit;
use crate::codec::{conflict_or_db, db, id, json, ts, RowExt};
use crate::SqliteStore;

const COLUMNS: &str = "id, name, slug, settings, created_at, updated_at";

/// The unique column of the slug and what a clash with it means.
const SLUG_TAKEN: (&str, &str) = ("tenants.slug", "slug is already taken");

/// Stores a new tenant and audits its creation.
pub(crate) async fn create(
    store: &SqliteStore,
    actor: &Actor,
    tenant_id: TenantId,
    spec: TenantSpec,
) -> StoreResult<Tenant> {
    let now = lineup_store::now_micros();
    let tenant = Tenant {
        id: tenant_id,
        name: spec.name,
        slug: spec.slug,
        settings: spec.settings,
        created_at: now,
        updated_at: now,
    };
    let mut tx = store.writer.begin().await.map_err(db)?;
    sqlx::query("INSERT INTO tenants (id, name, slug, settings, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?)")
        .bind(id(tenant_id))
        .bind(&tenant.name)
        .bind(&tenant.slug)
        .bind(json(&tenant.settings))
        .bind(ts(now))
        .bind(ts(now))
        .execute(&mut *tx)
        .await
        .map_err(|e| conflict_or_db(e, &[SLUG_TAKEN]))?;
    audit::record::<Tenant>(&mut tx, tenant_id, actor, AuditAction::TenantCreate, tenant_id, None, &tenant).await?;
    tx.commit().await.map_err(db)?;
    Ok(tenant)
}

/// The tenant with this id.
pub(crate) async fn get<'e>(conn: impl SqliteExecutor<'e>, tenant_id: TenantId) -> StoreResult<Tenant> {
    let row = sqlx::query(&format!("SELECT {COLUMNS} FROM tenants WHERE id = ?"))
        .bind(id(tenant_id))
        .fetch_optional(conn)
        .await
        .map_err(db)?
        .ok_or(StoreError::NotFound(Entity::Tenant))?;
    from_row(&row)
}

/// The tenant with this slug.
pub(crate) async fn find_by_slug<'e>(conn: impl SqliteExecutor<'e>, slug: &str) -> StoreResult<Tenant> {
    let row = sqlx::query(&format!("SELECT {COLUMNS} FROM tenants WHERE slug = ?"))
        .bind(slug)
        .fetch_optional(conn)
        .await
        .map_err(db)?
        .ok_or(StoreError::NotFound(Entity::Tenant))?;
    from_row(&row)
}

/// Applies a patch to the tenant and audits it; a refused patch writes nothing.
pub(crate) async fn update(
    store: &SqliteStore,
    actor: &Actor,
    tenant_id: TenantId,
    patch: TenantPatch,
) -> StoreResult<Tenant> {
    let now = lineup_store::now_micros();
    let mut tx = store.writer.begin().await.map_err(db)?;
    let before = get(&mut *tx, tenant_id).await?;
    let mut after = before.clone();
    patch.apply(&mut after)?;
    after.updated_at = now;
    sqlx::query("UPDATE tenants SET name = ?, settings = ?, updated_at = ? WHERE id = ?")
        .bind(&after.name)
        .bind(json(&after.settings))
        .bind(ts(now))
        .bind(id(tenant_id))
        .execute(&mut *tx)
        .await
        .map_err(db)?;
    audit::record(&mut tx, tenant_id, actor, AuditAction::TenantUpdate, tenant_id, Some(&before), &after).await?;
    tx.commit().await.map_err(db)?;
    Ok(after)
}

fn from_row(row: &SqliteRow) -> StoreResult<Tenant> {
    Ok(Tenant {
        id: row.uuid("id")?,
        name: row.text("name")?,
        slug: row.text("slug")?,
        settings: row.json("settings")?,
        created_at: row.time("created_at")?,
        updated_at: row.time("updated_at")?,
    })
}
