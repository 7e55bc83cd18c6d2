//! Tenants: creation, lookup by id or slug, and changes to name and settings.

use lineup_domain::{Actor, AuditAction, Tenant, TenantId, TenantPatch, TenantSpec};
use lineup_store::access::conflict;
use lineup_store::{Entity, StoreError, StoreResult};
use sqlx::postgres::PgRow;
use sqlx::PgConnection;

use crate::audit;
use crate::rows::{col, conflict_or_db, db};

const COLUMNS: &str = "id, name, slug, settings, created_at, updated_at";

/// The unique constraint on the slug and what a clash with it means.
const SLUG_TAKEN: (&str, &str) = ("tenants_slug_key", conflict::SLUG_TAKEN);

/// Stores a new tenant and audits its creation; run in the new tenant's own transaction, so the
/// insert passes the row-level security check on `tenants` only for that id.
pub(crate) async fn create(
    conn: &mut PgConnection,
    id: TenantId,
    actor: &Actor,
    spec: TenantSpec,
) -> StoreResult<Tenant> {
    let now = lineup_store::now_micros();
    let tenant =
        Tenant { id, name: spec.name, slug: spec.slug, settings: spec.settings, created_at: now, updated_at: now };
    sqlx::query(
        "INSERT INTO tenants (id, name, slug, settings, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $5)",
    )
    .bind(tenant.id)
    .bind(&tenant.name)
    .bind(&tenant.slug)
    .bind(&tenant.settings)
    .bind(now)
    .execute(&mut *conn)
    .await
    .map_err(|e| conflict_or_db(e, &[SLUG_TAKEN]))?;
    audit::record::<Tenant>(conn, id, actor, AuditAction::TenantCreate, id, None, &tenant).await?;
    Ok(tenant)
}

/// The tenant with this id. Runs as the connecting role: this is how a request learns its tenant.
pub(crate) async fn get(conn: &mut PgConnection, id: TenantId) -> StoreResult<Tenant> {
    let row = sqlx::query(&format!("SELECT {COLUMNS} FROM tenants WHERE id = $1"))
        .bind(id)
        .fetch_optional(conn)
        .await
        .map_err(db)?
        .ok_or(StoreError::NotFound(Entity::Tenant))?;
    tenant(&row)
}

/// The tenant with this slug. Runs as the connecting role, like [`get`].
pub(crate) async fn find_by_slug(conn: &mut PgConnection, slug: &str) -> StoreResult<Tenant> {
    let row = sqlx::query(&format!("SELECT {COLUMNS} FROM tenants WHERE slug = $1"))
        .bind(slug)
        .fetch_optional(conn)
        .await
        .map_err(db)?
        .ok_or(StoreError::NotFound(Entity::Tenant))?;
    tenant(&row)
}

/// Applies a patch to the locked tenant row and audits it; a refused patch writes nothing.
pub(crate) async fn update(
    conn: &mut PgConnection,
    id: TenantId,
    actor: &Actor,
    patch: TenantPatch,
) -> StoreResult<Tenant> {
    let now = lineup_store::now_micros();
    let row = sqlx::query(&format!("SELECT {COLUMNS} FROM tenants WHERE id = $1 FOR NO KEY UPDATE"))
        .bind(id)
        .fetch_optional(&mut *conn)
        .await
        .map_err(db)?
        .ok_or(StoreError::NotFound(Entity::Tenant))?;
    let before = tenant(&row)?;
    let mut after = before.clone();
    patch.apply(&mut after)?;
    after.updated_at = now;
    sqlx::query("UPDATE tenants SET name = $2, settings = $3, updated_at = $4 WHERE id = $1")
        .bind(id)
        .bind(&after.name)
        .bind(&after.settings)
        .bind(now)
        .execute(&mut *conn)
        .await
        .map_err(db)?;
    audit::record(conn, id, actor, AuditAction::TenantUpdate, id, Some(&before), &after).await?;
    Ok(after)
}

fn tenant(row: &PgRow) -> StoreResult<Tenant> {
    Ok(Tenant {
        id: col(row, "id")?,
        name: col(row, "name")?,
        slug: col(row, "slug")?,
        settings: col(row, "settings")?,
        created_at: col(row, "created_at")?,
        updated_at: col(row, "updated_at")?,
    })
}
