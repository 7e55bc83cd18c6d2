//! Queues.

use lineup_domain::{NewQueue, Queue, QueuePatch, TenantId};
use lineup_store::{CursorValue, Entity, Page, PageRequest, SortKey, StoreError, StoreResult};
use sqlx::sqlite::SqliteRow;
use sqlx::{SqliteExecutor, SqlitePool};
use uuid::Uuid;

use crate::codec::{db, id, ts, RowExt};
use crate::paging::{bind_after, keyset};
use crate::SqliteStore;

const COLUMNS: &str = "id, name, template_id, prefix, is_active, created_at, updated_at";

pub(crate) async fn create(store: &SqliteStore, tenant: TenantId, new: NewQueue) -> StoreResult<Queue> {
    let spec = new.validate()?;
    let now = lineup_store::now_micros();
    let mut tx = store.writer.begin().await.map_err(db)?;
    let template = sqlx::query("SELECT 1 FROM templates WHERE tenant_id = ? AND id = ?")
        .bind(id(tenant))
        .bind(id(spec.template_id))
        .fetch_optional(&mut *tx)
        .await
        .map_err(db)?;
    if template.is_none() {
        return Err(StoreError::NotFound(Entity::Template));
    }
    let queue = Queue {
        id: Uuid::now_v7(),
        name: spec.name,
        template_id: spec.template_id,
        prefix: spec.prefix,
        is_active: true,
        created_at: now,
        updated_at: now,
    };
    sqlx::query(
        "INSERT INTO queues (id, tenant_id, template_id, name, prefix, is_active, created_at, updated_at) \
         VALUES (?, ?, ?, ?, ?, 1, ?, ?)",
    )
    .bind(id(queue.id))
    .bind(id(tenant))
    .bind(id(queue.template_id))
    .bind(&queue.name)
    .bind(&queue.prefix)
    .bind(ts(now))
    .bind(ts(now))
    .execute(&mut *tx)
    .await
    .map_err(db)?;
    tx.commit().await.map_err(db)?;
    Ok(queue)
}

pub(crate) async fn get<'e>(conn: impl SqliteExecutor<'e>, tenant: TenantId, queue_id: Uuid) -> StoreResult<Queue> {
    let row = sqlx::query(&format!("SELECT {COLUMNS} FROM queues WHERE tenant_id = ? AND id = ?"))
        .bind(id(tenant))
        .bind(id(queue_id))
        .fetch_optional(conn)
        .await
        .map_err(db)?
        .ok_or(StoreError::NotFound(Entity::Queue))?;
    from_row(&row)
}

pub(crate) async fn list(pool: &SqlitePool, tenant: TenantId, page: &PageRequest) -> StoreResult<Page<Queue>> {
    let ks = keyset(page, &[(SortKey::Name, "name"), (SortKey::CreatedAt, "created_at")], "id")?;
    let sql = format!("SELECT {COLUMNS} FROM queues WHERE tenant_id = ?{}{}", ks.condition, ks.order_by);
    let rows = bind_after(sqlx::query(&sql).bind(id(tenant)), &ks.after_binds).fetch_all(pool).await.map_err(db)?;
    let queues = rows.iter().map(from_row).collect::<StoreResult<Vec<_>>>()?;
    Ok(page.finish(queues, |q| {
        let value = match page.sort {
            SortKey::Name => CursorValue::Text(q.name.clone()),
            _ => CursorValue::Time(q.created_at),
        };
        (value, q.id)
    }))
}

pub(crate) async fn update(
    store: &SqliteStore,
    tenant: TenantId,
    queue_id: Uuid,
    patch: QueuePatch,
) -> StoreResult<Queue> {
    let mut tx = store.writer.begin().await.map_err(db)?;
    let mut queue = get(&mut *tx, tenant, queue_id).await?;
    patch.apply(&mut queue, lineup_store::now_micros())?;
    sqlx::query("UPDATE queues SET name = ?, prefix = ?, is_active = ?, updated_at = ? WHERE id = ?")
        .bind(&queue.name)
        .bind(&queue.prefix)
        .bind(queue.is_active)
        .bind(ts(queue.updated_at))
        .bind(id(queue.id))
        .execute(&mut *tx)
        .await
        .map_err(db)?;
    tx.commit().await.map_err(db)?;
    Ok(queue)
}

fn from_row(row: &SqliteRow) -> StoreResult<Queue> {
    Ok(Queue {
        id: row.uuid("id")?,
        name: row.text("name")?,
        template_id: row.uuid("template_id")?,
        prefix: row.text("prefix")?,
        is_active: row.flag("is_active")?,
        created_at: row.time("created_at")?,
        updated_at: row.time("updated_at")?,
    })
}
