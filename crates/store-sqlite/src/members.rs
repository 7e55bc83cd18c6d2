//! Members: user accounts as one tenant sees them, through the tenant's memberships.
//!
//! Accounts (`users`) are global; a membership gives one of them a role in one tenant. Every
//! read of an account here goes through a membership of the tenant asking.

use chrono::{DateTime, Utc};
use lineup_domain::{Actor, AuditAction, Member, MemberChange, MemberSpec, Role, TenantId};
use lineup_store::{CursorValue, Entity, Page, PageRequest, SortKey, StoreError, StoreResult};
use sqlx::sqlite::SqliteRow;
use sqlx::{SqliteConnection, SqliteExecutor, SqlitePool};
use uuid::Uuid;

use crate::audit;
use crate::codec::{conflict_or_db, db, id, ts, RowExt};
use crate::paging::{bind_after, keyset};
use crate::SqliteStore;

/// The member view (memberships `m` joined to users `u`): the membership gives role, creation
/// time and half of the active flag, the account the rest.
const COLUMNS: &str = "u.id, u.username, u.email, u.full_name, m.role, (u.is_active AND m.is_active) AS is_active, \
     u.last_login_at, m.created_at, MAX(u.updated_at, m.updated_at) AS updated_at";

const FROM: &str = "FROM memberships m JOIN users u ON u.id = m.user_id";

const USERNAME_TAKEN: (&str, &str) = ("users.username", "username is already taken");
const EMAIL_TAKEN: (&str, &str) = ("users.email", "email is already taken");
const ALREADY_MEMBER: (&str, &str) =
    ("memberships.tenant_id, memberships.user_id", "the user is already a member of this tenant");
const MANAGED_ELSEWHERE: &str =
    "this account is managed by another tenant: only that tenant can change its email, name or password";

/// Creates an account homed in `tenant` and its membership, and audits it.
pub(crate) async fn create(
    store: &SqliteStore,
    actor: &Actor,
    tenant: TenantId,
    spec: MemberSpec,
) -> StoreResult<Member> {
    let now = lineup_store::now_micros();
    let mut tx = store.writer.begin().await.map_err(db)?;
    sqlx::query(
        "INSERT INTO users (id, username, email, full_name, password_hash, home_tenant_id, is_active, \
         created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, 1, ?, ?)",
    )
    .bind(id(spec.id))
    .bind(&spec.username)
    .bind(&spec.email)
    .bind(&spec.full_name)
    .bind(&spec.password_hash)
    .bind(id(tenant))
    .bind(ts(now))
    .bind(ts(now))
    .execute(&mut *tx)
    .await
    .map_err(|e| conflict_or_db(e, &[USERNAME_TAKEN, EMAIL_TAKEN]))?;
    insert_membership(&mut tx, tenant, spec.id, spec.role, now).await?;
    let member = Member {
        id: spec.id,
        username: spec.username,
        email: spec.email,
        full_name: spec.full_name,
        role: spec.role,
        is_active: true,
        last_login_at: None,
        created_at: now,
        updated_at: now,
    };
    audit::record::<Member>(&mut tx, tenant, actor, AuditAction::UserCreate, member.id, None, &member).await?;
    tx.commit().await.map_err(db)?;
    Ok(member)
}

/// Adds the account named `username` to `tenant` with `role`, and audits it.
pub(crate) async fn add(
    store: &SqliteStore,
    actor: &Actor,
    tenant: TenantId,
    username: &str,
    role: Role,
) -> StoreResult<Member> {
    let now = lineup_store::now_micros();
    let mut tx = store.writer.begin().await.map_err(db)?;
    let user_id = sqlx::query("SELECT id FROM users WHERE username = ?")
        .bind(username)
        .fetch_optional(&mut *tx)
        .await
        .map_err(db)?
        .ok_or(StoreError::NotFound(Entity::User))?
        .uuid("id")?;
    insert_membership(&mut tx, tenant, user_id, role, now).await?;
    let member = get(&mut *tx, tenant, user_id).await?;
    audit::record::<Member>(&mut tx, tenant, actor, AuditAction::MembershipCreate, user_id, None, &member).await?;
    tx.commit().await.map_err(db)?;
    Ok(member)
}

async fn insert_membership(
    conn: &mut SqliteConnection,
    tenant: TenantId,
    user_id: Uuid,
    role: Role,
    now: DateTime<Utc>,
) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO memberships (tenant_id, user_id, role, is_active, created_at, updated_at) \
         VALUES (?, ?, ?, 1, ?, ?)",
    )
    .bind(id(tenant))
    .bind(id(user_id))
    .bind(role.as_str())
    .bind(ts(now))
    .bind(ts(now))
    .execute(conn)
    .await
    .map_err(|e| conflict_or_db(e, &[ALREADY_MEMBER]))?;
    Ok(())
}

/// One member of the tenant.
pub(crate) async fn get<'e>(conn: impl SqliteExecutor<'e>, tenant: TenantId, user_id: Uuid) -> StoreResult<Member> {
    Ok(load(conn, tenant, user_id).await?.0)
}

/// One member of the tenant with the account's home tenant.
async fn load<'e>(conn: impl SqliteExecutor<'e>, tenant: TenantId, user_id: Uuid) -> StoreResult<(Member, Uuid)> {
    let row =
        sqlx::query(&format!("SELECT {COLUMNS}, u.home_tenant_id {FROM} WHERE m.tenant_id = ? AND m.user_id = ?"))
            .bind(id(tenant))
            .bind(id(user_id))
            .fetch_optional(conn)
            .await
            .map_err(db)?
            .ok_or(StoreError::NotFound(Entity::User))?;
    Ok((from_row(&row)?, row.uuid("home_tenant_id")?))
}

/// A page of the tenant's members by username (byte order) or by when they joined.
pub(crate) async fn list(pool: &SqlitePool, tenant: TenantId, page: &PageRequest) -> StoreResult<Page<Member>> {
    let ks = keyset(page, &[(SortKey::Name, "u.username"), (SortKey::CreatedAt, "m.created_at")], "m.user_id")?;
    let sql = format!("SELECT {COLUMNS} {FROM} WHERE m.tenant_id = ?{}{}", ks.condition, ks.order_by);
    let q = sqlx::query(&sql).bind(id(tenant));
    let rows = bind_after(q, &ks.after_binds).fetch_all(pool).await.map_err(db)?;
    let members = rows.iter().map(from_row).collect::<StoreResult<Vec<_>>>()?;
    Ok(page.finish(members, |m| {
        let value = match page.sort {
            SortKey::Name => CursorValue::Text(m.username.clone()),
            _ => CursorValue::Time(m.created_at),
        };
        (value, m.id)
    }))
}

/// Changes a member: account fields (only from the account's home tenant) and membership
/// fields; ends the user's login sessions in the tenant when the change calls for it; audits the
/// change. A refused change writes nothing.
pub(crate) async fn update(
    store: &SqliteStore,
    actor: &Actor,
    tenant: TenantId,
    user_id: Uuid,
    change: MemberChange,
) -> StoreResult<Member> {
    let now = lineup_store::now_micros();
    let mut tx = store.writer.begin().await.map_err(db)?;
    let (before, home) = load(&mut *tx, tenant, user_id).await?;
    let changes_account = change.email.as_ref().is_some_and(|e| *e != before.email)
        || change.full_name.as_ref().is_some_and(|n| *n != before.full_name)
        || change.password_hash.is_some();
    if changes_account {
        if home != tenant {
            return Err(StoreError::Conflict(MANAGED_ELSEWHERE.into()));
        }
        sqlx::query(
            "UPDATE users SET email = COALESCE(?, email), full_name = COALESCE(?, full_name), \
             password_hash = COALESCE(?, password_hash), updated_at = ? WHERE id = ?",
        )
        .bind(&change.email)
        .bind(&change.full_name)
        .bind(&change.password_hash)
        .bind(ts(now))
        .bind(id(user_id))
        .execute(&mut *tx)
        .await
        .map_err(|e| conflict_or_db(e, &[EMAIL_TAKEN]))?;
    }
    if change.role.is_some() || change.is_active.is_some() {
        sqlx::query(
            "UPDATE memberships SET role = COALESCE(?, role), is_active = COALESCE(?, is_active), updated_at = ? \
             WHERE tenant_id = ? AND user_id = ?",
        )
        .bind(change.role.map(Role::as_str))
        .bind(change.is_active)
        .bind(ts(now))
        .bind(id(tenant))
        .bind(id(user_id))
        .execute(&mut *tx)
        .await
        .map_err(db)?;
    }
    if change.ends_sessions(&before) {
        sqlx::query(
            "UPDATE login_sessions SET revoked_at = ? WHERE tenant_id = ? AND user_id = ? AND revoked_at IS NULL",
        )
        .bind(ts(now))
        .bind(id(tenant))
        .bind(id(user_id))
        .execute(&mut *tx)
        .await
        .map_err(db)?;
    }
    let after = get(&mut *tx, tenant, user_id).await?;
    audit::record(&mut tx, tenant, actor, AuditAction::UserUpdate, user_id, Some(&before), &after).await?;
    tx.commit().await.map_err(db)?;
    Ok(after)
}

fn from_row(row: &SqliteRow) -> StoreResult<Member> {
    Ok(Member {
        id: row.uuid("id")?,
        username: row.text("username")?,
        email: row.text("email")?,
        full_name: row.text("full_name")?,
        role: row.role("role")?,
        is_active: row.flag("is_active")?,
        last_login_at: row.opt_time("last_login_at")?,
        created_at: row.time("created_at")?,
        updated_at: row.time("updated_at")?,
    })
}
