//! Logins: finding an account at sign-in, login sessions and their token pairs.
//!
//! `find`, `resolve_access` and `refresh` take the token or username a request presents and run
//! as the connecting role: they are how a request learns its tenant. Storing and revoking a
//! session are tenant-scoped.

use chrono::{DateTime, Utc};
use lineup_domain::{Principal, Subject, TenantId};
use lineup_store::{
    Entity, LoginCandidate, LoginMembership, NewLoginSession, RefreshOutcome, StoreError, StoreResult, TokenHash,
    TokenPair,
};
use sqlx::postgres::PgRow;
use sqlx::PgConnection;
use uuid::Uuid;

use crate::rows::{self, col, db};

/// The account with this username and all its memberships (ordered by tenant slug), in one
/// query; `None` when there is no such account.
pub(crate) async fn find(conn: &mut PgConnection, username: &str) -> StoreResult<Option<LoginCandidate>> {
    let rows = sqlx::query(
        "SELECT u.id, u.username, u.password_hash, u.is_active, t.id AS tenant_id, t.slug, m.role, \
         m.is_active AS membership_active \
         FROM users u LEFT JOIN memberships m ON m.user_id = u.id LEFT JOIN tenants t ON t.id = m.tenant_id \
         WHERE u.username = $1 ORDER BY t.slug COLLATE \"C\"",
    )
    .bind(username)
    .fetch_all(conn)
    .await
    .map_err(db)?;
    let Some(first) = rows.first() else {
        return Ok(None);
    };
    let mut memberships = Vec::with_capacity(rows.len());
    for row in &rows {
        let Some(tenant_id) = col::<Option<Uuid>>(row, "tenant_id")? else {
            continue;
        };
        memberships.push(LoginMembership {
            tenant_id,
            tenant_slug: col(row, "slug")?,
            role: rows::role(row, "role")?,
            is_active: col(row, "membership_active")?,
        });
    }
    Ok(Some(LoginCandidate {
        user_id: col(first, "id")?,
        username: col(first, "username")?,
        password_hash: col(first, "password_hash")?,
        is_active: col(first, "is_active")?,
        memberships,
    }))
}

/// Stores a login session of a member of `tenant` and stamps the account's last login with the
/// session's creation time; a user who is not a member is `NotFound(User)`.
pub(crate) async fn create_session(conn: &mut PgConnection, tenant: TenantId, new: NewLoginSession) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO login_sessions (id, tenant_id, user_id, access_hash, access_expires_at, refresh_hash, \
         refresh_expires_at, user_agent, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(new.id)
    .bind(tenant)
    .bind(new.user_id)
    .bind(&new.tokens.access_hash[..])
    .bind(new.tokens.access_expires_at)
    .bind(&new.tokens.refresh_hash[..])
    .bind(new.tokens.refresh_expires_at)
    .bind(&new.user_agent)
    .bind(new.created_at)
    .execute(&mut *conn)
    .await
    .map_err(db)?;
    // Row-level security shows the account only when it is a member of this tenant.
    let stamped = sqlx::query("UPDATE users SET last_login_at = $2 WHERE id = $1")
        .bind(new.user_id)
        .bind(lineup_store::to_micros(new.created_at))
        .execute(conn)
        .await
        .map_err(db)?;
    if stamped.rows_affected() == 0 {
        return Err(StoreError::NotFound(Entity::User));
    }
    Ok(())
}

/// Joins a login session `ls` to its account `u` and its membership `m` of the session's tenant.
const SESSION_PRINCIPAL: &str = "FROM login_sessions ls JOIN users u ON u.id = ls.user_id \
     JOIN memberships m ON m.tenant_id = ls.tenant_id AND m.user_id = ls.user_id";

/// The principal of a live access token at `now`.
pub(crate) async fn resolve_access(
    conn: &mut PgConnection,
    hash: &TokenHash,
    now: DateTime<Utc>,
) -> StoreResult<Option<Principal>> {
    let row = sqlx::query(&format!(
        "SELECT ls.id, ls.tenant_id, ls.user_id, u.username, m.role {SESSION_PRINCIPAL} \
         WHERE ls.access_hash = $1 AND ls.revoked_at IS NULL AND ls.access_expires_at > $2 \
         AND u.is_active AND m.is_active"
    ))
    .bind(&hash[..])
    .bind(now)
    .fetch_optional(conn)
    .await
    .map_err(db)?;
    row.as_ref().map(user_principal).transpose()
}

/// Rotates the token pair of the session whose current refresh token is `hash`, inside the
/// caller's transaction (which the caller commits whatever the outcome). The session row is
/// locked, so of concurrent callers presenting one token exactly one rotates; the others then
/// find it as the previous token, which is a replay and revokes the session.
pub(crate) async fn refresh(
    conn: &mut PgConnection,
    hash: &TokenHash,
    next: TokenPair,
    now: DateTime<Utc>,
) -> StoreResult<RefreshOutcome> {
    let current = sqlx::query(&format!(
        "SELECT ls.id, ls.tenant_id, ls.user_id, u.username, m.role, \
         (ls.revoked_at IS NULL AND ls.refresh_expires_at > $2 AND u.is_active AND m.is_active) AS live \
         {SESSION_PRINCIPAL} WHERE ls.refresh_hash = $1 FOR UPDATE OF ls"
    ))
    .bind(&hash[..])
    .bind(now)
    .fetch_optional(&mut *conn)
    .await
    .map_err(db)?;
    if let Some(row) = current {
        if !col::<bool>(&row, "live")? {
            return Ok(RefreshOutcome::Invalid);
        }
        let principal = user_principal(&row)?;
        sqlx::query(
            "UPDATE login_sessions SET access_hash = $2, access_expires_at = $3, refresh_hash = $4, \
             refresh_expires_at = $5, previous_refresh_hash = refresh_hash, refreshed_at = $6 WHERE id = $1",
        )
        .bind(col::<Uuid>(&row, "id")?)
        .bind(&next.access_hash[..])
        .bind(next.access_expires_at)
        .bind(&next.refresh_hash[..])
        .bind(next.refresh_expires_at)
        .bind(now)
        .execute(conn)
        .await
        .map_err(db)?;
        return Ok(RefreshOutcome::Rotated(principal));
    }
    let replayed = sqlx::query(
        "UPDATE login_sessions SET revoked_at = COALESCE(revoked_at, $2) WHERE previous_refresh_hash = $1 RETURNING id",
    )
    .bind(&hash[..])
    .bind(now)
    .fetch_all(conn)
    .await
    .map_err(db)?;
    Ok(if replayed.is_empty() { RefreshOutcome::Invalid } else { RefreshOutcome::ReuseDetected })
}

/// Revokes a login session of the tenant; revoking it again keeps the first time.
pub(crate) async fn revoke_session(
    conn: &mut PgConnection,
    tenant: TenantId,
    session_id: Uuid,
    now: DateTime<Utc>,
) -> StoreResult<()> {
    let done =
        sqlx::query("UPDATE login_sessions SET revoked_at = COALESCE(revoked_at, $3) WHERE tenant_id = $1 AND id = $2")
            .bind(tenant)
            .bind(session_id)
            .bind(now)
            .execute(conn)
            .await
            .map_err(db)?;
    if done.rows_affected() == 0 {
        return Err(StoreError::NotFound(Entity::LoginSession));
    }
    Ok(())
}

/// A user's principal from a row with the session `id`, `tenant_id`, `user_id`, `username` and
/// the membership's `role`.
fn user_principal(row: &PgRow) -> StoreResult<Principal> {
    Ok(Principal {
        tenant_id: col(row, "tenant_id")?,
        role: rows::role(row, "role")?,
        subject: Subject::User {
            user_id: col(row, "user_id")?,
            username: col(row, "username")?,
            session_id: col(row, "id")?,
        },
    })
}
