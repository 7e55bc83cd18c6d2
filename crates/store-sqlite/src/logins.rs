//! Logins: finding an account at sign-in, login sessions and their token pairs.
//!
//! `find`, `resolve_access` and `refresh` take the username or token a request presents and look
//! across tenants: they are how a request learns its tenant. Storing and revoking a session are
//! tenant-scoped.

use chrono::{DateTime, Utc};
use lineup_domain::{Principal, Subject, TenantId};
use lineup_store::{
    Entity, LoginCandidate, LoginMembership, NewLoginSession, RefreshOutcome, StoreError, StoreResult, TokenHash,
    TokenPair,
};
use sqlx::sqlite::SqliteRow;
use sqlx::SqlitePool;

use crate::codec::{db, id, ts, RowExt};
use crate::SqliteStore;

/// The account with this username and all its memberships (ordered by tenant slug), in one
/// query; `None` when there is no such account.
pub(crate) async fn find(pool: &SqlitePool, username: &str) -> StoreResult<Option<LoginCandidate>> {
    let rows = sqlx::query(
        "SELECT u.id, u.username, u.password_hash, u.is_active, t.id AS tenant_id, t.slug, m.role, \
         m.is_active AS membership_active \
         FROM users u LEFT JOIN memberships m ON m.user_id = u.id LEFT JOIN tenants t ON t.id = m.tenant_id \
         WHERE u.username = ? ORDER BY t.slug",
    )
    .bind(username)
    .fetch_all(pool)
    .await
    .map_err(db)?;
    let Some(first) = rows.first() else {
        return Ok(None);
    };
    let mut memberships = Vec::with_capacity(rows.len());
    for row in &rows {
        let Some(tenant_id) = row.opt_uuid("tenant_id")? else {
            continue;
        };
        memberships.push(LoginMembership {
            tenant_id,
            tenant_slug: row.text("slug")?,
            role: row.role("role")?,
            is_active: row.flag("membership_active")?,
        });
    }
    Ok(Some(LoginCandidate {
        user_id: first.uuid("id")?,
        username: first.text("username")?,
        password_hash: first.text("password_hash")?,
        is_active: first.flag("is_active")?,
        memberships,
    }))
}

/// Stores a login session of a member of its tenant and stamps the account's last login with the
/// session's creation time; a user who is not a member of the tenant is `NotFound(User)`.
pub(crate) async fn create_session(store: &SqliteStore, new: NewLoginSession) -> StoreResult<()> {
    let mut tx = store.writer.begin().await.map_err(db)?;
    let stamped = sqlx::query(
        "UPDATE users SET last_login_at = ? WHERE id = ? \
         AND EXISTS (SELECT 1 FROM memberships m WHERE m.tenant_id = ? AND m.user_id = users.id)",
    )
    .bind(ts(new.created_at))
    .bind(id(new.user_id))
    .bind(id(new.tenant_id))
    .execute(&mut *tx)
    .await
    .map_err(db)?;
    if stamped.rows_affected() == 0 {
        return Err(StoreError::NotFound(Entity::User));
    }
    sqlx::query(
        "INSERT INTO login_sessions (id, tenant_id, user_id, access_hash, access_expires_at, refresh_hash, \
         refresh_expires_at, user_agent, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(id(new.id))
    .bind(id(new.tenant_id))
    .bind(id(new.user_id))
    .bind(&new.tokens.access_hash[..])
    .bind(ts(new.tokens.access_expires_at))
    .bind(&new.tokens.refresh_hash[..])
    .bind(ts(new.tokens.refresh_expires_at))
    .bind(&new.user_agent)
    .bind(ts(new.created_at))
    .execute(&mut *tx)
    .await
    .map_err(db)?;
    tx.commit().await.map_err(db)
}

/// Joins a login session `ls` to its account `u` and its membership `m` of the session's tenant.
const SESSION_PRINCIPAL: &str = "FROM login_sessions ls JOIN users u ON u.id = ls.user_id \
     JOIN memberships m ON m.tenant_id = ls.tenant_id AND m.user_id = ls.user_id";

/// The principal of a live access token at `now`.
pub(crate) async fn resolve_access(
    pool: &SqlitePool,
    hash: &TokenHash,
    now: DateTime<Utc>,
) -> StoreResult<Option<Principal>> {
    let row = sqlx::query(&format!(
        "SELECT ls.id, ls.tenant_id, ls.user_id, u.username, m.role {SESSION_PRINCIPAL} \
         WHERE ls.access_hash = ? AND ls.revoked_at IS NULL AND ls.access_expires_at > ? \
         AND u.is_active AND m.is_active"
    ))
    .bind(&hash[..])
    .bind(ts(now))
    .fetch_optional(pool)
    .await
    .map_err(db)?;
    row.as_ref().map(user_principal).transpose()
}

/// Rotates the token pair of the session whose current refresh token is `hash`. The check and
/// the swap run in one write transaction and writes are serialised, so of concurrent callers
/// presenting one token exactly one rotates; the others then find it as the previous token,
/// which is a replay and revokes the session.
pub(crate) async fn refresh(
    store: &SqliteStore,
    hash: &TokenHash,
    next: TokenPair,
    now: DateTime<Utc>,
) -> StoreResult<RefreshOutcome> {
    let mut tx = store.writer.begin().await.map_err(db)?;
    let current = sqlx::query(&format!(
        "SELECT ls.id, ls.tenant_id, ls.user_id, u.username, m.role, \
         (ls.revoked_at IS NULL AND ls.refresh_expires_at > ? AND u.is_active AND m.is_active) AS live \
         {SESSION_PRINCIPAL} WHERE ls.refresh_hash = ?"
    ))
    .bind(ts(now))
    .bind(&hash[..])
    .fetch_optional(&mut *tx)
    .await
    .map_err(db)?;
    let outcome = if let Some(row) = current {
        if !row.flag("live")? {
            return Ok(RefreshOutcome::Invalid);
        }
        let principal = user_principal(&row)?;
        sqlx::query(
            "UPDATE login_sessions SET access_hash = ?, access_expires_at = ?, refresh_hash = ?, \
             refresh_expires_at = ?, previous_refresh_hash = refresh_hash, refreshed_at = ? WHERE id = ?",
        )
        .bind(&next.access_hash[..])
        .bind(ts(next.access_expires_at))
        .bind(&next.refresh_hash[..])
        .bind(ts(next.refresh_expires_at))
        .bind(ts(now))
        .bind(row.text("id")?)
        .execute(&mut *tx)
        .await
        .map_err(db)?;
        RefreshOutcome::Rotated(principal)
    } else {
        let replayed = sqlx::query(
            "UPDATE login_sessions SET revoked_at = COALESCE(revoked_at, ?) WHERE previous_refresh_hash = ?",
        )
        .bind(ts(now))
        .bind(&hash[..])
        .execute(&mut *tx)
        .await
        .map_err(db)?;
        if replayed.rows_affected() == 0 {
            RefreshOutcome::Invalid
        } else {
            RefreshOutcome::ReuseDetected
        }
    };
    tx.commit().await.map_err(db)?;
    Ok(outcome)
}

/// Revokes a login session of the tenant; revoking it again keeps the first time.
pub(crate) async fn revoke_session(
    store: &SqliteStore,
    tenant: TenantId,
    session_id: uuid::Uuid,
    now: DateTime<Utc>,
) -> StoreResult<()> {
    let done =
        sqlx::query("UPDATE login_sessions SET revoked_at = COALESCE(revoked_at, ?) WHERE tenant_id = ? AND id = ?")
            .bind(ts(now))
            .bind(id(tenant))
            .bind(id(session_id))
            .execute(&store.writer)
            .await
            .map_err(db)?;
    if done.rows_affected() == 0 {
        return Err(StoreError::NotFound(Entity::LoginSession));
    }
    Ok(())
}

/// A user's principal from a row with the session `id`, `tenant_id`, `user_id`, `username` and
/// the membership's `role`.
fn user_principal(row: &SqliteRow) -> StoreResult<Principal> {
    Ok(Principal {
        tenant_id: row.uuid("tenant_id")?,
        role: row.role("role")?,
        subject: Subject::User {
            user_id: row.uuid("user_id")?,
            username: row.text("username")?,
            session_id: row.uuid("id")?,
        },
    })
}
