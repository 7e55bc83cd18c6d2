//! The audit log: one entry per audited change, written in the change's own transaction.

use lineup_domain::{Actor, ActorKind, AuditAction, AuditEntry, TenantId};
use lineup_store::{CursorValue, Page, PageRequest, SortKey, StoreError, StoreResult};
use serde::Serialize;
use sqlx::postgres::PgRow;
use sqlx::{PgConnection, Postgres, QueryBuilder};
use uuid::Uuid;

use crate::paging::{self, SortColumn, ValueKind};
use crate::rows::{col, db};

/// The audit log sorts by the entry's time only.
const AT: SortColumn = SortColumn { key: SortKey::CreatedAt, expr: "at", kind: ValueKind::Time };

const COLUMNS: &str = "id, at, actor_kind, actor_id, actor_name, action, target_type, target_id, before, after";

/// Records `action` by `actor` on the object `target_id`, as it was `before` (absent for a
/// creation) and is `after`. The views passed in never hold secrets.
pub(crate) async fn record<T: Serialize>(
    conn: &mut PgConnection,
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
         target_id, before, after) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
    )
    .bind(Uuid::now_v7())
    .bind(tenant)
    .bind(lineup_store::now_micros())
    .bind(actor.kind.as_str())
    .bind(actor.id)
    .bind(&actor.name)
    .bind(action.as_str())
    .bind(action.target_type())
    .bind(target_id)
    .bind(before)
    .bind(after)
    .execute(conn)
    .await
    .map_err(db)?;
    Ok(())
}

/// A page of the tenant's audit log by time (`SortKey::CreatedAt`), in the requested order.
pub(crate) async fn list(
    conn: &mut PgConnection,
    tenant: TenantId,
    page: &PageRequest,
) -> StoreResult<Page<AuditEntry>> {
    let sort = paging::column(page, &[AT])?;
    let mut qb = QueryBuilder::<Postgres>::new(format!("SELECT {COLUMNS} FROM audit_log WHERE tenant_id = "));
    qb.push_bind(tenant);
    paging::push_keyset(&mut qb, page, sort, "id")?;
    let rows = qb.build().fetch_all(conn).await.map_err(db)?;
    let entries = rows.iter().map(entry).collect::<StoreResult<Vec<_>>>()?;
    Ok(page.finish(entries, |e| (CursorValue::Time(e.at), e.id)))
}

fn entry(row: &PgRow) -> StoreResult<AuditEntry> {
    let kind: String = col(row, "actor_kind")?;
    Ok(AuditEntry {
        id: col(row, "id")?,
        at: col(row, "at")?,
        actor: Actor {
            kind: ActorKind::parse(&kind)
                .ok_or_else(|| StoreError::Backend(format!("unknown actor kind '{kind}' in the audit log")))?,
            id: col(row, "actor_id")?,
            name: col(row, "actor_name")?,
        },
        action: col(row, "action")?,
        target_type: col(row, "target_type")?,
        target_id: col(row, "target_id")?,
        before: col(row, "before")?,
        after: col(row, "after")?,
    })
}
