//! Session statuses: the per-session copies of a template's statuses.

use lineup_domain::item::StatusRef;
use lineup_domain::{SessionStatus, SessionStatusPatch, TenantId};
use lineup_store::{Entity, StoreError, StoreResult};
use sqlx::{PgConnection, PgExecutor};
use uuid::Uuid;

use crate::rows::{self, col, db, SESSION_STATUS_COLUMNS};
use crate::sessions::{self, Lock};

/// A session's statuses by (order, label), without checking the session.
pub(crate) async fn of_session<'e>(
    conn: impl PgExecutor<'e>,
    tenant: TenantId,
    session_id: Uuid,
) -> StoreResult<Vec<SessionStatus>> {
    let rows = sqlx::query(&format!(
        "SELECT {SESSION_STATUS_COLUMNS} FROM session_statuses ss WHERE ss.tenant_id = $1 AND ss.session_id = $2 \
         ORDER BY ss.sort_order, ss.label COLLATE \"C\""
    ))
    .bind(tenant)
    .bind(session_id)
    .fetch_all(conn)
    .await
    .map_err(db)?;
    rows.iter().map(rows::session_status).collect()
}

/// The statuses as the move logic sees them.
pub(crate) fn refs(statuses: &[SessionStatus]) -> Vec<StatusRef<'_>> {
    statuses.iter().map(|s| StatusRef { id: s.id, label: &s.label }).collect()
}

/// The statuses of a live session of the tenant; a missing or deleted session is `NotFound`.
pub(crate) async fn list(
    conn: &mut PgConnection,
    tenant: TenantId,
    session_id: Uuid,
) -> StoreResult<Vec<SessionStatus>> {
    sessions::load(&mut *conn, tenant, session_id, Lock::None).await?;
    of_session(conn, tenant, session_id).await
}

/// Relabels, recolors or reorders a status of a live session. The session row is locked first
/// (before any status row, like every writer of a session), and a relabel is carried into the
/// session's copy of the machine in the same transaction.
pub(crate) async fn update(
    conn: &mut PgConnection,
    tenant: TenantId,
    id: Uuid,
    patch: SessionStatusPatch,
) -> StoreResult<SessionStatus> {
    let now = lineup_store::now_micros();
    let session_id: Uuid = sqlx::query(
        "SELECT s.id FROM session_statuses ss JOIN sessions s ON s.id = ss.session_id \
         WHERE ss.tenant_id = $1 AND ss.id = $2 AND NOT s.is_deleted FOR UPDATE OF s",
    )
    .bind(tenant)
    .bind(id)
    .fetch_optional(&mut *conn)
    .await
    .map_err(db)?
    .map(|row| col(&row, "id"))
    .transpose()?
    .ok_or(StoreError::NotFound(Entity::SessionStatus))?;
    let mut session = sessions::load(&mut *conn, tenant, session_id, Lock::None).await?;
    let all = of_session(&mut *conn, tenant, session_id).await?;
    let mut status = all.iter().find(|s| s.id == id).cloned().ok_or(StoreError::NotFound(Entity::SessionStatus))?;
    let others: Vec<&str> = all.iter().filter(|s| s.id != id).map(|s| s.label.as_str()).collect();
    let renamed = patch.apply(&mut status, &others)?;
    sqlx::query("UPDATE session_statuses SET label = $2, color = $3, sort_order = $4 WHERE id = $1")
        .bind(id)
        .bind(&status.label)
        .bind(&status.color)
        .bind(status.order)
        .execute(&mut *conn)
        .await
        .map_err(db)?;
    if let Some(old) = renamed {
        session.machine.rename_status(&old, &status.label);
        let machine = serde_json::to_value(&session.machine).map_err(StoreError::backend)?;
        sqlx::query("UPDATE sessions SET machine = $2, updated_at = $3 WHERE id = $1")
            .bind(session_id)
            .bind(&machine)
            .bind(now)
            .execute(&mut *conn)
            .await
            .map_err(db)?;
    }
    Ok(status)
}
