//! Stream tickets: single-use credentials for stream URLs, standing for a login session or an
//! API key.

use chrono::{DateTime, Utc};
use lineup_domain::{Principal, Subject};
use lineup_store::{NewStreamTicket, StoreResult, TokenHash};

use crate::codec::{db, id, ts, RowExt};
use crate::SqliteStore;

/// Stores a ticket of the principal's tenant acting as `principal`, first clearing the tenant's
/// expired ones.
pub(crate) async fn create(store: &SqliteStore, principal: &Principal, ticket: NewStreamTicket) -> StoreResult<()> {
    let tenant = principal.tenant_id;
    let (session_id, api_key_id) = match &principal.subject {
        Subject::User { session_id, .. } => (Some(*session_id), None),
        Subject::ApiKey { key_id, .. } => (None, Some(*key_id)),
    };
    let mut tx = store.writer.begin().await.map_err(db)?;
    sqlx::query("DELETE FROM stream_tickets WHERE tenant_id = ? AND expires_at <= ?")
        .bind(id(tenant))
        .bind(ts(lineup_store::now_micros()))
        .execute(&mut *tx)
        .await
        .map_err(db)?;
    sqlx::query(
        "INSERT INTO stream_tickets (ticket_hash, tenant_id, session_id, api_key_id, expires_at) \
         VALUES (?, ?, ?, ?, ?)",
    )
    .bind(&ticket.hash[..])
    .bind(id(tenant))
    .bind(session_id.map(id))
    .bind(api_key_id.map(id))
    .bind(ts(ticket.expires_at))
    .execute(&mut *tx)
    .await
    .map_err(db)?;
    tx.commit().await.map_err(db)
}

/// Consumes the ticket with this hash and returns the principal it stands for, with the current
/// role, when the ticket is unexpired at `now` and its login session or API key is still valid.
/// The ticket is deleted in a write transaction (writes are serialised), so it answers at most
/// once, even to concurrent callers; a ticket presented too late is consumed all the same.
pub(crate) async fn redeem(
    store: &SqliteStore,
    hash: &TokenHash,
    now: DateTime<Utc>,
) -> StoreResult<Option<Principal>> {
    let mut tx = store.writer.begin().await.map_err(db)?;
    let ticket = sqlx::query(
        "DELETE FROM stream_tickets WHERE ticket_hash = ? RETURNING tenant_id, session_id, api_key_id, expires_at",
    )
    .bind(&hash[..])
    .fetch_optional(&mut *tx)
    .await
    .map_err(db)?;
    let principal = match ticket {
        Some(t) if t.text("expires_at")? > ts(now) => {
            let row = sqlx::query(
                "SELECT u.id AS user_id, u.username, m.role AS user_role, k.name AS key_name, k.role AS key_role \
                 FROM (SELECT ? AS tenant_id, ? AS session_id, ? AS api_key_id) t \
                 LEFT JOIN login_sessions ls ON ls.id = t.session_id AND ls.tenant_id = t.tenant_id \
                     AND ls.revoked_at IS NULL AND ls.refresh_expires_at > ? \
                 LEFT JOIN users u ON u.id = ls.user_id AND u.is_active \
                 LEFT JOIN memberships m ON m.tenant_id = ls.tenant_id AND m.user_id = ls.user_id AND m.is_active \
                 LEFT JOIN api_keys k ON k.id = t.api_key_id AND k.tenant_id = t.tenant_id \
                     AND k.revoked_at IS NULL AND (k.expires_at IS NULL OR k.expires_at > ?)",
            )
            .bind(t.text("tenant_id")?)
            .bind(t.opt_text("session_id")?)
            .bind(t.opt_text("api_key_id")?)
            .bind(ts(now))
            .bind(ts(now))
            .fetch_one(&mut *tx)
            .await
            .map_err(db)?;
            let tenant_id = t.uuid("tenant_id")?;
            match (t.opt_uuid("session_id")?, t.opt_uuid("api_key_id")?) {
                (Some(session_id), _) => match (row.opt_uuid("user_id")?, row.opt_text("user_role")?) {
                    (Some(user_id), Some(_)) => Some(Principal {
                        tenant_id,
                        role: row.role("user_role")?,
                        subject: Subject::User { user_id, username: row.text("username")?, session_id },
                    }),
                    _ => None,
                },
                (None, Some(key_id)) => match row.opt_text("key_name")? {
                    Some(name) => Some(Principal {
                        tenant_id,
                        role: row.role("key_role")?,
                        subject: Subject::ApiKey { key_id, name },
                    }),
                    None => None,
                },
                (None, None) => None,
            }
        }
        _ => None,
    };
    tx.commit().await.map_err(db)?;
    Ok(principal)
}
