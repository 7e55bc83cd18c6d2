//! Items: numbering within a session, edits, status moves and their history.

use chrono::{DateTime, Utc};
use lineup_domain::metadata::check_metadata;
use lineup_domain::{
    format_queue_number, DomainEvent, EventKind, Item, ItemHistoryEntry, ItemPatch, NewItem, SessionStatus,
    StatusChangeRequest, TenantId,
};
use lineup_store::{CursorValue, Entity, ItemFilter, Page, PageRequest, StoreError, StoreResult};
use sqlx::{PgConnection, PgExecutor, Postgres, QueryBuilder};
use uuid::Uuid;

use crate::paging::{self, ValueKind, CREATED_AT, NUMBER};
use crate::rows::{self, col, db, HISTORY_COLUMNS, ITEM_COLUMNS};
use crate::sessions::{self, Lock, SessionRow};
use crate::{events, statuses};

/// Who is recorded as having placed a new item in its first status.
const CREATOR: &str = "api";

/// A new item's validated parts ([`NewItem::validate`]): display name, metadata, requested
/// start status.
pub(crate) type ValidItem = (String, serde_json::Value, Option<Uuid>);

/// Adds an item to an active session. The session row is locked for the whole transaction, so
/// `item_seq` hands out gap-free, unique numbers to concurrent creators; a refusal rolls back.
pub(crate) async fn create(
    conn: &mut PgConnection,
    tenant: TenantId,
    session_id: Uuid,
    new: NewItem,
) -> StoreResult<Item> {
    let valid = new.validate()?;
    let now = lineup_store::now_micros();
    let session = sessions::load(&mut *conn, tenant, session_id, Lock::Update).await?;
    let all = statuses::of_session(&mut *conn, tenant, session_id).await?;
    let (item, event) = insert(conn, tenant, &session, &all, valid, CREATOR, now).await?;
    events::append(conn, tenant, &event, now).await?;
    Ok(item)
}

/// Adds an item to `session` (locked by the caller's transaction, and active; `all` are its
/// statuses) with the session's next number and a first history entry by `created_by`, inside
/// the caller's transaction. Returns the item and its `item_created` event, which the caller
/// appends to the outbox last.
pub(crate) async fn insert(
    conn: &mut PgConnection,
    tenant: TenantId,
    session: &SessionRow,
    all: &[SessionStatus],
    (display_name, metadata, requested_status): ValidItem,
    created_by: &str,
    now: DateTime<Utc>,
) -> StoreResult<(Item, DomainEvent)> {
    let session_id = session.session.id;
    session.session.ensure_active()?;
    check_metadata(session.metadata_schema.as_ref(), &metadata)?;
    let status_id = lineup_domain::item::start_status(&session.machine, all, requested_status)?;
    let numbered = sqlx::query(
        "UPDATE sessions s SET item_seq = s.item_seq + 1 FROM queues q WHERE s.id = $1 AND q.id = s.queue_id \
         RETURNING s.item_seq, q.prefix",
    )
    .bind(session_id)
    .fetch_one(&mut *conn)
    .await
    .map_err(db)?;
    let number: i64 = col(&numbered, "item_seq")?;
    let prefix: String = col(&numbered, "prefix")?;
    let item = Item {
        id: Uuid::now_v7(),
        queue_id: session.session.queue_id,
        session_id,
        status_id,
        queue_number: format_queue_number(&prefix, number),
        display_name,
        metadata,
        created_at: now,
    };
    sqlx::query(
        "INSERT INTO items (id, tenant_id, queue_id, session_id, status_id, number, queue_number, name, metadata, \
         created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $10)",
    )
    .bind(item.id)
    .bind(tenant)
    .bind(item.queue_id)
    .bind(item.session_id)
    .bind(item.status_id)
    .bind(number)
    .bind(&item.queue_number)
    .bind(&item.display_name)
    .bind(&item.metadata)
    .bind(now)
    .execute(&mut *conn)
    .await
    .map_err(db)?;
    record_move(conn, tenant, item.id, None, status_id, created_by, now).await?;
    let event = DomainEvent::item(EventKind::ItemCreated, &item);
    Ok((item, event))
}

/// Loads a live item of the tenant; with `lock`, the item row is locked for update and its
/// session row for share (so the session's lifecycle and machine hold until commit).
pub(crate) async fn load<'e>(conn: impl PgExecutor<'e>, tenant: TenantId, id: Uuid, lock: bool) -> StoreResult<Item> {
    let lock = if lock { " FOR UPDATE OF i FOR SHARE OF s" } else { "" };
    let row = sqlx::query(&format!(
        "SELECT {ITEM_COLUMNS} FROM items i JOIN sessions s ON s.id = i.session_id \
         WHERE i.tenant_id = $1 AND i.id = $2 AND NOT s.is_deleted{lock}"
    ))
    .bind(tenant)
    .bind(id)
    .fetch_optional(conn)
    .await
    .map_err(db)?
    .ok_or(StoreError::NotFound(Entity::Item))?;
    rows::item(&row)
}

/// One item of a live session of the tenant.
pub(crate) async fn get(conn: &mut PgConnection, tenant: TenantId, id: Uuid) -> StoreResult<Item> {
    load(conn, tenant, id, false).await
}

/// A page of a live session's items by number or creation time, optionally in one status.
pub(crate) async fn list(
    conn: &mut PgConnection,
    tenant: TenantId,
    session_id: Uuid,
    filter: &ItemFilter,
    page: &PageRequest,
) -> StoreResult<Page<Item>> {
    let sort = paging::column(page, &[NUMBER, CREATED_AT])?;
    sessions::load(&mut *conn, tenant, session_id, Lock::None).await?;
    let mut qb = QueryBuilder::<Postgres>::new(format!("SELECT {ITEM_COLUMNS} FROM items i WHERE i.tenant_id = "));
    qb.push_bind(tenant);
    qb.push(" AND i.session_id = ");
    qb.push_bind(session_id);
    if let Some(status_id) = filter.status_id {
        qb.push(" AND i.status_id = ");
        qb.push_bind(status_id);
    }
    paging::push_keyset(&mut qb, page, sort, "id")?;
    let rows = qb.build().fetch_all(conn).await.map_err(db)?;
    let items = rows
        .iter()
        .map(|r| Ok((rows::item(r)?, col::<i64>(r, "number")?)))
        .collect::<StoreResult<Vec<(Item, i64)>>>()?;
    let page = page.finish(items, |(item, number)| {
        let value = match sort.kind {
            ValueKind::Int => CursorValue::Int(*number),
            _ => CursorValue::Time(item.created_at),
        };
        (value, item.id)
    });
    Ok(Page { items: page.items.into_iter().map(|(item, _)| item).collect(), next_cursor: page.next_cursor })
}

/// Changes an item of an open session; new metadata is checked against the session's schema.
pub(crate) async fn update(conn: &mut PgConnection, tenant: TenantId, id: Uuid, patch: ItemPatch) -> StoreResult<Item> {
    let now = lineup_store::now_micros();
    let mut item = load(&mut *conn, tenant, id, true).await?;
    let session = sessions::load(&mut *conn, tenant, item.session_id, Lock::None).await?;
    session.session.ensure_open()?;
    if patch.apply(&mut item)? {
        check_metadata(session.metadata_schema.as_ref(), &item.metadata)?;
    }
    sqlx::query("UPDATE items SET name = $2, metadata = $3, updated_at = $4 WHERE id = $1")
        .bind(id)
        .bind(&item.display_name)
        .bind(&item.metadata)
        .bind(now)
        .execute(&mut *conn)
        .await
        .map_err(db)?;
    events::append(conn, tenant, &DomainEvent::item(EventKind::ItemUpdated, &item), now).await?;
    Ok(item)
}

/// Moves an item of an open session along the session's machine and records the move.
pub(crate) async fn change_status(
    conn: &mut PgConnection,
    tenant: TenantId,
    id: Uuid,
    change: StatusChangeRequest,
) -> StoreResult<Item> {
    let now = lineup_store::now_micros();
    let mut item = load(&mut *conn, tenant, id, true).await?;
    let session = sessions::load(&mut *conn, tenant, item.session_id, Lock::None).await?;
    session.session.ensure_open()?;
    let all = statuses::of_session(&mut *conn, tenant, item.session_id).await?;
    let to = resolve_move(&session, &all, &item, &change)?;
    let event = move_to(conn, tenant, &mut item, to, &change.actor(), now).await?;
    events::append(conn, tenant, &event, now).await?;
    Ok(item)
}

/// The status `change` moves `item` to, checked against the session's machine.
pub(crate) fn resolve_move(
    session: &SessionRow,
    all: &[SessionStatus],
    item: &Item,
    change: &StatusChangeRequest,
) -> StoreResult<Uuid> {
    let refs = statuses::refs(all);
    let from = item.status_id;
    let current = refs.iter().copied().find(|s| s.id == from).ok_or_else(|| {
        StoreError::Backend(format!("item {} is in status {from}, which its session does not have", item.id))
    })?;
    Ok(change.resolve(&session.machine, current, &refs)?)
}

/// Puts `item` (locked by [`load`]) in status `to` and records the move by `actor`, inside the
/// caller's transaction; returns the `item_status_changed` event, which the caller appends last.
pub(crate) async fn move_to(
    conn: &mut PgConnection,
    tenant: TenantId,
    item: &mut Item,
    to: Uuid,
    actor: &str,
    now: DateTime<Utc>,
) -> StoreResult<DomainEvent> {
    let from = item.status_id;
    sqlx::query("UPDATE items SET status_id = $2, updated_at = $3 WHERE id = $1")
        .bind(item.id)
        .bind(to)
        .bind(now)
        .execute(&mut *conn)
        .await
        .map_err(db)?;
    item.status_id = to;
    record_move(conn, tenant, item.id, Some(from), to, actor, now).await?;
    Ok(DomainEvent::item_status_changed(item, from, actor))
}

async fn record_move(
    conn: &mut PgConnection,
    tenant: TenantId,
    item_id: Uuid,
    from: Option<Uuid>,
    to: Uuid,
    changed_by: &str,
    now: DateTime<Utc>,
) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO item_status_history (id, tenant_id, item_id, from_status_id, to_status_id, changed_by, \
         changed_at) VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(Uuid::now_v7())
    .bind(tenant)
    .bind(item_id)
    .bind(from)
    .bind(to)
    .bind(changed_by)
    .bind(now)
    .execute(conn)
    .await
    .map_err(db)?;
    Ok(())
}

/// The status history of a live item, oldest first (insertion order breaks equal timestamps).
pub(crate) async fn history(conn: &mut PgConnection, tenant: TenantId, id: Uuid) -> StoreResult<Vec<ItemHistoryEntry>> {
    load(&mut *conn, tenant, id, false).await?;
    let rows = sqlx::query(&format!(
        "SELECT {HISTORY_COLUMNS} FROM item_status_history h WHERE h.tenant_id = $1 AND h.item_id = $2 \
         ORDER BY h.changed_at, h.seq"
    ))
    .bind(tenant)
    .bind(id)
    .fetch_all(conn)
    .await
    .map_err(db)?;
    rows.iter().map(rows::history_entry).collect()
}
