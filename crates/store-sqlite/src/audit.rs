//! The audit log: one entry per audited change, written in the change's own transaction.

use lineup_domain::{Actor, ActorKind, AuditAction, AuditEntry, TenantId};
use lineup_store::{CursorValue, Page, PageRequest, SortKey, StoreError, StoreResult};
use serde::Serialize;
use sqlx::sqlite::SqliteRow;
use sqlx::{SqliteConnection, SqlitePool};
use uuid::Uuid;

use crate::codec::{db, id, json, ts, RowExt};
use crate::paging::{bind_after, keyset};

const COLUMNS: &str = "id, at, actor_kind, actor_id, actor_name, action, target_type, target_id, before, after";

/// Records `action` by `actor` on the object `target_id`, as it was `before` (absent for a
/// creation) and is `after`, on the caller's write transaction. The views passed in never hold
/// secrets.
pub(crate) async fn record<T: Serialize>(
    conn: &mut SqliteConnection,
    tenant: TenantId,
    actor: &Actor,
    action: AuditAction,
    target_id: Uuid,
    before: Option<&T>,
    after: &T,
) -> StoreResult<()> {
    let before = before.map(serde_json::to_value).transpose().map_err(StoreError::backend)?;
    let after = serde_json::to_value(after).map_err(StoreError::backend)?;
    sqlx::query(
        "INSERT INTO audit_log (id, tenant_id, at, actor_kind, actor_id, actor_name, action, target_type, \
         target_id, before, after) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(id(Uuid::now_v7()))
    .bind(id(tenant))
    .bind(ts(lineup_store::now_micros()))
    .bind(actor.kind.as_str())
    .bind(actor.id.map(id))
    .bind(&actor.name)
    .bind(action.as_str())
    .bind(action.target_type())
    .bind(id(target_id))
    .bind(before.as_ref().map(json))
    .bind(json(&after))
    .execute(conn)
    .await
    .map_err(db)?;
    Ok(())
}

/// A page of the tenant's audit log by time (`SortKey::CreatedAt`), in the requested order.
pub(crate) async fn list(pool: &SqlitePool, tenant: TenantId, page: &PageRequest) -> StoreResult<Page<AuditEntry>> {
    let ks = keyset(page, &[(SortKey::CreatedAt, "at")], "id")?;
    let sql = format!("SELECT {COLUMNS} FROM audit_log WHERE tenant_id = ?{}{}", ks.condition, ks.order_by);
    let q = sqlx::query(&sql).bind(id(tenant));
    let rows = bind_after(q, &ks.after_binds).fetch_all(pool).await.map_err(db)?;
    let entries = rows.iter().map(entry).collect::<StoreResult<Vec<_>>>()?;
    Ok(page.finish(entries, |e| (CursorValue::Time(e.at), e.id)))
}

fn entry(row: &SqliteRow) -> StoreResult<AuditEntry> {
    let kind = row.text("actor_kind")?;
    Ok(AuditEntry {
        id: row.uuid("id")?,
        at: row.time("at")?,
        actor: Actor {
            kind: ActorKind::parse(&kind)
                .ok_or_else(|| StoreError::Backend(format!("unknown actor kind '{kind}' in the audit log")))?,
            id: row.opt_uuid("actor_id")?,
            name: row.text("actor_name")?,
        },
        action: row.text("action")?,
        target_type: row.text("target_type")?,
        target_id: row.uuid("target_id")?,
        before: row.opt_json("before")?,
        after: row.opt_json("after")?,
    })
}
