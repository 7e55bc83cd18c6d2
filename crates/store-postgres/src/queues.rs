//! Queues.

use lineup_domain::{NewQueue, Queue, QueuePatch, TenantId};
use lineup_store::{CursorValue, Entity, Page, PageRequest, StoreError, StoreResult};
use sqlx::{PgConnection, Postgres, QueryBuilder};
use uuid::Uuid;

use crate::paging::{self, ValueKind, CREATED_AT, NAME};
use crate::rows::{self, db, QUEUE_COLUMNS};

/// Creates a queue over a template of the same tenant; an unknown template is `NotFound`.
pub(crate) async fn create(conn: &mut PgConnection, tenant: TenantId, new: NewQueue) -> StoreResult<Queue> {
    let spec = new.validate()?;
    let now = lineup_store::now_micros();
    let queue = Queue {
        id: Uuid::now_v7(),
        name: spec.name,
        template_id: spec.template_id,
        prefix: spec.prefix,
        is_active: true,
        created_at: now,
        updated_at: now,
    };
    // One statement: the row is inserted only when the template exists for this tenant.
    let inserted = sqlx::query(
        "INSERT INTO queues (id, tenant_id, template_id, name, prefix, is_active, created_at, updated_at) \
         SELECT $1, t.tenant_id, t.id, $4, $5, true, $6, $6 FROM templates t WHERE t.tenant_id = $2 AND t.id = $3",
    )
    .bind(queue.id)
    .bind(tenant)
    .bind(queue.template_id)
    .bind(&queue.name)
    .bind(&queue.prefix)
    .bind(now)
    .execute(conn)
    .await
    .map_err(db)?;
    if inserted.rows_affected() == 0 {
        return Err(StoreError::NotFound(Entity::Template));
    }
    Ok(queue)
}

/// One queue of the tenant.
pub(crate) async fn get(conn: &mut PgConnection, tenant: TenantId, id: Uuid) -> StoreResult<Queue> {
    let row = sqlx::query(&format!("SELECT {QUEUE_COLUMNS} FROM queues WHERE tenant_id = $1 AND id = $2"))
        .bind(tenant)
        .bind(id)
        .fetch_optional(conn)
        .await
        .map_err(db)?
        .ok_or(StoreError::NotFound(Entity::Queue))?;
    rows::queue(&row)
}

/// A page of the tenant's queues by name or creation time.
pub(crate) async fn list(conn: &mut PgConnection, tenant: TenantId, page: &PageRequest) -> StoreResult<Page<Queue>> {
    let sort = paging::column(page, &[NAME, CREATED_AT])?;
    let mut qb = QueryBuilder::<Postgres>::new(format!("SELECT {QUEUE_COLUMNS} FROM queues WHERE tenant_id = "));
    qb.push_bind(tenant);
    paging::push_keyset(&mut qb, page, sort, "id")?;
    let rows = qb.build().fetch_all(conn).await.map_err(db)?;
    let queues = rows.iter().map(rows::queue).collect::<StoreResult<Vec<_>>>()?;
    Ok(page.finish(queues, |q| {
        let value = match sort.kind {
            ValueKind::Text => CursorValue::Text(q.name.clone()),
            _ => CursorValue::Time(q.created_at),
        };
        (value, q.id)
    }))
}

/// Applies a patch to a locked queue row; a refused patch writes nothing.
pub(crate) async fn update(
    conn: &mut PgConnection,
    tenant: TenantId,
    id: Uuid,
    patch: QueuePatch,
) -> StoreResult<Queue> {
    let now = lineup_store::now_micros();
    let row =
        sqlx::query(&format!("SELECT {QUEUE_COLUMNS} FROM queues WHERE tenant_id = $1 AND id = $2 FOR NO KEY UPDATE"))
            .bind(tenant)
            .bind(id)
            .fetch_optional(&mut *conn)
            .await
            .map_err(db)?
            .ok_or(StoreError::NotFound(Entity::Queue))?;
    let mut queue = rows::queue(&row)?;
    patch.apply(&mut queue, now)?;
    sqlx::query("UPDATE queues SET name = $2, prefix = $3, is_active = $4, updated_at = $5 WHERE id = $1")
        .bind(queue.id)
        .bind(&queue.name)
        .bind(&queue.prefix)
        .bind(queue.is_active)
        .bind(queue.updated_at)
        .execute(conn)
        .await
        .map_err(db)?;
    Ok(queue)
}
