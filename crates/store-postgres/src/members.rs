//! Members: user accounts as one tenant sees them, through the tenant's memberships.
//!
//! Accounts (`users`) are global; a membership gives one of them a role in one tenant. Row-level
//! security shows `lineup_app` an account only through a membership of its tenant, so a new
//! account is inserted before its membership and never read back with `RETURNING`.

use lineup_domain::{Actor, AuditAction, Member, MemberChange, MemberSpec, Role, TenantId};
use lineup_store::access::conflict;
use lineup_store::{CursorValue, Entity, Page, PageRequest, SortKey, StoreError, StoreResult};
use sqlx::postgres::PgRow;
use sqlx::{PgConnection, Postgres, QueryBuilder};
use uuid::Uuid;

use crate::audit;
use crate::paging::{self, SortColumn, ValueKind};
use crate::rows::{self, col, conflict_or_db, db};

/// The member view (memberships `m` joined to users `u`): the membership gives role, creation
/// time and half of the active flag, the account the rest.
const COLUMNS: &str = "u.id, u.username, u.email, u.full_name, m.role, (u.is_active AND m.is_active) AS is_active, \
     u.last_login_at, m.created_at, GREATEST(u.updated_at, m.updated_at) AS updated_at";

const FROM: &str = "FROM memberships m JOIN users u ON u.id = m.user_id";

/// Members sort by username in byte order, or by when they joined the tenant.
const USERNAME: SortColumn = SortColumn { key: SortKey::Name, expr: "u.username COLLATE \"C\"", kind: ValueKind::Text };
const JOINED: SortColumn = SortColumn { key: SortKey::CreatedAt, expr: "m.created_at", kind: ValueKind::Time };

/// Unique constraints and what a clash with each means.
const USERNAME_TAKEN: (&str, &str) = ("users_username_key", conflict::USERNAME_TAKEN);
const EMAIL_TAKEN: (&str, &str) = ("users_email_key", conflict::EMAIL_TAKEN);
const ALREADY_MEMBER: (&str, &str) = ("memberships_pkey", conflict::ALREADY_MEMBER);

/// Creates an account homed in `tenant` and its membership, and audits it.
pub(crate) async fn create(
    conn: &mut PgConnection,
    tenant: TenantId,
    actor: &Actor,
    spec: MemberSpec,
) -> StoreResult<Member> {
    let now = lineup_store::now_micros();
    sqlx::query(
        "INSERT INTO users (id, username, email, full_name, password_hash, home_tenant_id, is_active, \
         created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, true, $7, $7)",
    )
    .bind(spec.id)
    .bind(&spec.username)
    .bind(&spec.email)
    .bind(&spec.full_name)
    .bind(&spec.password_hash)
    .bind(tenant)
    .bind(now)
    .execute(&mut *conn)
    .await
    .map_err(|e| conflict_or_db(e, &[USERNAME_TAKEN, EMAIL_TAKEN]))?;
    insert_membership(conn, tenant, spec.id, spec.role, now).await?;
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
    audit::record::<Member>(conn, tenant, actor, AuditAction::UserCreate, member.id, None, &member).await?;
    Ok(member)
}

/// Adds the account named `username` to `tenant` with `role`, and audits it. The account is
/// found through `lineup_account_id`, the one lookup `lineup_app` may make of an account that is
/// not (yet) a member of its tenant.
pub(crate) async fn add(
    conn: &mut PgConnection,
    tenant: TenantId,
    actor: &Actor,
    username: &str,
    role: Role,
) -> StoreResult<Member> {
    let now = lineup_store::now_micros();
    let user_id: Uuid = sqlx::query_scalar::<_, Option<Uuid>>("SELECT lineup_account_id($1)")
        .bind(username)
        .fetch_one(&mut *conn)
        .await
        .map_err(db)?
        .ok_or(StoreError::NotFound(Entity::User))?;
    insert_membership(conn, tenant, user_id, role, now).await?;
    let member = get(conn, tenant, user_id).await?;
    audit::record::<Member>(conn, tenant, actor, AuditAction::MembershipCreate, user_id, None, &member).await?;
    Ok(member)
}

async fn insert_membership(
    conn: &mut PgConnection,
    tenant: TenantId,
    user_id: Uuid,
    role: Role,
    now: chrono::DateTime<chrono::Utc>,
) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO memberships (tenant_id, user_id, role, is_active, created_at, updated_at) \
         VALUES ($1, $2, $3, true, $4, $4)",
    )
    .bind(tenant)
    .bind(user_id)
    .bind(role.as_str())
    .bind(now)
    .execute(conn)
    .await
    .map_err(|e| conflict_or_db(e, &[ALREADY_MEMBER]))?;
    Ok(())
}

/// One member of the tenant.
pub(crate) async fn get(conn: &mut PgConnection, tenant: TenantId, user_id: Uuid) -> StoreResult<Member> {
    let row = sqlx::query(&format!("SELECT {COLUMNS} {FROM} WHERE m.tenant_id = $1 AND m.user_id = $2"))
        .bind(tenant)
        .bind(user_id)
        .fetch_optional(conn)
        .await
        .map_err(db)?
        .ok_or(StoreError::NotFound(Entity::User))?;
    member(&row)
}

/// A page of the tenant's members by username or by when they joined.
pub(crate) async fn list(conn: &mut PgConnection, tenant: TenantId, page: &PageRequest) -> StoreResult<Page<Member>> {
    let sort = paging::column(page, &[USERNAME, JOINED])?;
    let mut qb = QueryBuilder::<Postgres>::new(format!("SELECT {COLUMNS} {FROM} WHERE m.tenant_id = "));
    qb.push_bind(tenant);
    paging::push_keyset(&mut qb, page, sort, "m.user_id")?;
    let rows = qb.build().fetch_all(conn).await.map_err(db)?;
    let members = rows.iter().map(member).collect::<StoreResult<Vec<_>>>()?;
    Ok(page.finish(members, |m| {
        let value = match sort.kind {
            ValueKind::Text => CursorValue::Text(m.username.clone()),
            _ => CursorValue::Time(m.created_at),
        };
        (value, m.id)
    }))
}

/// Changes a member: account fields (only from the account's home tenant) and membership
/// fields, with both rows locked; ends the user's login sessions in the tenant when the change
/// calls for it; audits the change. A refused change writes nothing.
pub(crate) async fn update(
    conn: &mut PgConnection,
    tenant: TenantId,
    actor: &Actor,
    user_id: Uuid,
    change: MemberChange,
) -> StoreResult<Member> {
    let now = lineup_store::now_micros();
    let row = sqlx::query(&format!(
        "SELECT {COLUMNS}, u.home_tenant_id {FROM} WHERE m.tenant_id = $1 AND m.user_id = $2 \
         FOR NO KEY UPDATE OF m, u"
    ))
    .bind(tenant)
    .bind(user_id)
    .fetch_optional(&mut *conn)
    .await
    .map_err(db)?
    .ok_or(StoreError::NotFound(Entity::User))?;
    let before = member(&row)?;
    let home: Uuid = col(&row, "home_tenant_id")?;
    let changes_account = change.email.as_ref().is_some_and(|e| *e != before.email)
        || change.full_name.as_ref().is_some_and(|n| *n != before.full_name)
        || change.password_hash.is_some();
    if changes_account {
        if home != tenant {
            return Err(StoreError::Conflict(conflict::MANAGED_ELSEWHERE.into()));
        }
        sqlx::query(
            "UPDATE users SET email = COALESCE($2, email), full_name = COALESCE($3, full_name), \
             password_hash = COALESCE($4, password_hash), updated_at = $5 WHERE id = $1",
        )
        .bind(user_id)
        .bind(&change.email)
        .bind(&change.full_name)
        .bind(&change.password_hash)
        .bind(now)
        .execute(&mut *conn)
        .await
        .map_err(|e| conflict_or_db(e, &[EMAIL_TAKEN]))?;
    }
    if change.role.is_some() || change.is_active.is_some() {
        sqlx::query(
            "UPDATE memberships SET role = COALESCE($3, role), is_active = COALESCE($4, is_active), updated_at = $5 \
             WHERE tenant_id = $1 AND user_id = $2",
        )
        .bind(tenant)
        .bind(user_id)
        .bind(change.role.map(Role::as_str))
        .bind(change.is_active)
        .bind(now)
        .execute(&mut *conn)
        .await
        .map_err(db)?;
    }
    if change.ends_sessions(&before) {
        sqlx::query(
            "UPDATE login_sessions SET revoked_at = $3 WHERE tenant_id = $1 AND user_id = $2 AND revoked_at IS NULL",
        )
        .bind(tenant)
        .bind(user_id)
        .bind(now)
        .execute(&mut *conn)
        .await
        .map_err(db)?;
    }
    let after = get(conn, tenant, user_id).await?;
    audit::record(conn, tenant, actor, AuditAction::UserUpdate, user_id, Some(&before), &after).await?;
    Ok(after)
}

fn member(row: &PgRow) -> StoreResult<Member> {
    Ok(Member {
        id: col(row, "id")?,
        username: col(row, "username")?,
        email: col(row, "email")?,
        full_name: col(row, "full_name")?,
        role: rows::role(row, "role")?,
        is_active: col(row, "is_active")?,
        last_login_at: col(row, "last_login_at")?,
        created_at: col(row, "created_at")?,
        updated_at: col(row, "updated_at")?,
    })
}
