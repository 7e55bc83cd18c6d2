//! Stream tickets: single-use credentials for stream URLs, standing for a login session or an
//! API key.

use chrono::{DateTime, Utc};
use lineup_domain::{Principal, Subject, TenantId};
use lineup_store::{NewStreamTicket, StoreResult, TokenHash};
use sqlx::PgConnection;
use uuid::Uuid;

use crate::rows::{self, col, db};

/// Stores a ticket of the tenant acting as `principal`, first clearing the tenant's expired ones.
pub(crate) async fn create(
    conn: &mut PgConnection,
    tenant: TenantId,
    principal: &Principal,
    ticket: NewStreamTicket,
) -> StoreResult<()> {
    sqlx::query("DELETE FROM stream_tickets WHERE tenant_id = $1 AND expires_at <= $2")
        .bind(tenant)
        .bind(lineup_store::now_micros())
        .execute(&mut *conn)
        .await
        .map_err(db)?;
    let (session_id, api_key_id) = match &principal.subject {
        Subject::User { session_id, .. } => (Some(*session_id), None),
        Subject::ApiKey { key_id, .. } => (None, Some(*key_id)),
    };
    sqlx::query(
        "INSERT INTO stream_tickets (ticket_hash, tenant_id, session_id, api_key_id, expires_at) \
         VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(&ticket.hash[..])
    .bind(tenant)
    .bind(session_id)
    .bind(api_key_id)
    .bind(ticket.expires_at)
    .execute(conn)
    .await
    .map_err(db)?;
    Ok(())
}

/// Consumes the ticket with this hash in one statement (so it answers at most once, even to
/// concurrent callers) and returns the principal it stands for, with the current role, when the
/// ticket is unexpired at `now` and its login session or API key is still valid.
pub(crate) async fn redeem(
    conn: &mut PgConnection,
    hash: &TokenHash,
    now: DateTime<Utc>,
) -> StoreResult<Option<Principal>> {
    let row = sqlx::query(
        "WITH t AS (DELETE FROM stream_tickets WHERE ticket_hash = $1 \
         RETURNING tenant_id, session_id, api_key_id, expires_at) \
         SELECT t.tenant_id, t.session_id, t.api_key_id, u.id AS user_id, u.username, m.role AS user_role, \
         k.name AS key_name, k.role AS key_role \
         FROM t \
         LEFT JOIN login_sessions ls ON ls.id = t.session_id AND ls.tenant_id = t.tenant_id \
             AND ls.revoked_at IS NULL AND ls.refresh_expires_at > $2 \
         LEFT JOIN users u ON u.id = ls.user_id AND u.is_active \
         LEFT JOIN memberships m ON m.tenant_id = ls.tenant_id AND m.user_id = ls.user_id AND m.is_active \
         LEFT JOIN api_keys k ON k.id = t.api_key_id AND k.tenant_id = t.tenant_id \
             AND k.revoked_at IS NULL AND (k.expires_at IS NULL OR k.expires_at > $2) \
         WHERE t.expires_at > $2",
    )
    .bind(&hash[..])
    .bind(now)
    .fetch_optional(conn)
    .await
    .map_err(db)?;
    let Some(row) = row else {
        return Ok(None);
    };
    let tenant_id: Uuid = col(&row, "tenant_id")?;
    if let Some(session_id) = col::<Option<Uuid>>(&row, "session_id")? {
        let user_id: Option<Uuid> = col(&row, "user_id")?;
        let role: Option<String> = col(&row, "user_role")?;
        let (Some(user_id), Some(_)) = (user_id, role) else {
            return Ok(None);
        };
        return Ok(Some(Principal {
            tenant_id,
            role: rows::role(&row, "user_role")?,
            subject: Subject::User { user_id, username: col(&row, "username")?, session_id },
        }));
    }
    let Some(key_id) = col::<Option<Uuid>>(&row, "api_key_id")? else {
        return Ok(None);
    };
    let name: Option<String> = col(&row, "key_name")?;
    let Some(name) = name else {
        return Ok(None);
    };
    Ok(Some(Principal { tenant_id, role: rows::role(&row, "key_role")?, subject: Subject::ApiKey { key_id, name } }))
}
