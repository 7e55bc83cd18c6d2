//! Items: numbering, changes, status moves and history.

use chrono::{DateTime, Utc};
use lineup_domain::item::{start_status, StatusRef};
use lineup_domain::metadata::check_metadata;
use lineup_domain::{
    format_queue_number, DomainEvent, EventKind, Item, ItemHistoryEntry, ItemPatch, NewItem, SessionStatus,
    StatusChangeRequest, TenantId,
};
use lineup_store::{CursorValue, Entity, ItemFilter, Page, PageRequest, SortKey, StoreError, StoreResult};
use sqlx::sqlite::SqliteRow;
use sqlx::{SqliteConnection, SqliteExecutor, SqlitePool};
use uuid::Uuid;

use crate::codec::{db, id, json, ts, RowExt};
use crate::paging::{bind_after, keyset};
use crate::sessions::SessionRow;
use crate::{events, sessions, SqliteStore};

const COLUMNS: &str =
    "i.id, i.queue_id, i.session_id, i.status_id, i.number, i.queue_number, i.name, i.metadata, i.created_at";

/// Who is recorded as having placed a new item in its first status through the API.
const CREATOR: &str = "api";

/// A new item's validated parts ([`NewItem::validate`]): display name, metadata, requested
/// start status.
pub(crate) type ValidItem = (String, serde_json::Value, Option<Uuid>);

pub(crate) async fn create(store: &SqliteStore, tenant: TenantId, session_id: Uuid, new: NewItem) -> StoreResult<Item> {
    let valid = new.validate()?;
    let now = lineup_store::now_micros();
    let mut tx = store.writer.begin().await.map_err(db)?;
    let session = sessions::load(&mut *tx, tenant, session_id).await?;
    let statuses = sessions::statuses(&mut tx, tenant, session.session.id).await?;
    let (item, event) = insert(&mut tx, tenant, &session, &statuses, valid, CREATOR, now).await?;
    events::append(&mut tx, tenant, &event, now).await?;
    tx.commit().await.map_err(db)?;
    Ok(item)
}

/// Adds an item to `session`, which must be active, with the session's next number and a first
/// history entry by `created_by`, inside the caller's write transaction. Returns the item and
/// its `item_created` event, which the caller appends to the outbox.
pub(crate) async fn insert(
    conn: &mut SqliteConnection,
    tenant: TenantId,
    session: &SessionRow,
    statuses: &[SessionStatus],
    (name, metadata, requested_status): ValidItem,
    created_by: &str,
    now: DateTime<Utc>,
) -> StoreResult<(Item, DomainEvent)> {
    let session_id = session.session.id;
    session.session.ensure_active()?;
    check_metadata(session.metadata_schema.as_ref(), &metadata)?;
    let status_id = start_status(&session.machine, statuses, requested_status)?;
    let row = sqlx::query(
        "UPDATE sessions SET item_seq = item_seq + 1 WHERE id = ? \
         RETURNING item_seq, (SELECT prefix FROM queues WHERE queues.id = sessions.queue_id) AS prefix",
    )
    .bind(id(session_id))
    .fetch_one(&mut *conn)
    .await
    .map_err(db)?;
    let number = row.int("item_seq")?;
    let item = Item {
        id: Uuid::now_v7(),
        queue_id: session.session.queue_id,
        session_id,
        status_id,
        queue_number: format_queue_number(&row.text("prefix")?, number),
        display_name: name,
        metadata,
        created_at: now,
    };
    sqlx::query(
        "INSERT INTO items (id, tenant_id, queue_id, session_id, status_id, number, queue_number, name, metadata, \
         created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(id(item.id))
    .bind(id(tenant))
    .bind(id(item.queue_id))
    .bind(id(session_id))
    .bind(id(status_id))
    .bind(number)
    .bind(&item.queue_number)
    .bind(&item.display_name)
    .bind(json(&item.metadata))
    .bind(ts(now))
    .bind(ts(now))
    .execute(&mut *conn)
    .await
    .map_err(db)?;
    record_history(conn, tenant, item.id, None, status_id, created_by, now).await?;
    let event = DomainEvent::item(EventKind::ItemCreated, &item);
    Ok((item, event))
}

/// Loads a visible item (its session not deleted) with its number.
pub(crate) async fn load<'e>(
    conn: impl SqliteExecutor<'e>,
    tenant: TenantId,
    item_id: Uuid,
) -> StoreResult<(Item, i64)> {
    let row = sqlx::query(&format!(
        "SELECT {COLUMNS} FROM items i JOIN sessions s ON s.id = i.session_id \
         WHERE i.tenant_id = ? AND i.id = ? AND s.is_deleted = 0"
    ))
    .bind(id(tenant))
    .bind(id(item_id))
    .fetch_optional(conn)
    .await
    .map_err(db)?
    .ok_or(StoreError::NotFound(Entity::Item))?;
    from_row(&row)
}

/// The visible items (their sessions not deleted) among `ids`, with their numbers.
pub(crate) async fn load_many(
    conn: &mut SqliteConnection,
    tenant: TenantId,
    ids: &[Uuid],
) -> StoreResult<Vec<(Item, i64)>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let marks = vec!["?"; ids.len()].join(", ");
    let sql = format!(
        "SELECT {COLUMNS} FROM items i JOIN sessions s ON s.id = i.session_id \
         WHERE i.tenant_id = ? AND s.is_deleted = 0 AND i.id IN ({marks})"
    );
    let mut query = sqlx::query(&sql).bind(id(tenant));
    for item in ids {
        query = query.bind(id(*item));
    }
    query.fetch_all(conn).await.map_err(db)?.iter().map(from_row).collect()
}

pub(crate) async fn get(pool: &SqlitePool, tenant: TenantId, item_id: Uuid) -> StoreResult<Item> {
    Ok(load(pool, tenant, item_id).await?.0)
}

pub(crate) async fn list(
    pool: &SqlitePool,
    tenant: TenantId,
    session_id: Uuid,
    filter: &ItemFilter,
    page: &PageRequest,
) -> StoreResult<Page<Item>> {
    sessions::load(pool, tenant, session_id).await?;
    let ks = keyset(page, &[(SortKey::Number, "i.number"), (SortKey::CreatedAt, "i.created_at")], "i.id")?;
    let status_clause = if filter.status_id.is_some() { " AND i.status_id = ?" } else { "" };
    let sql = format!(
        "SELECT {COLUMNS} FROM items i WHERE i.tenant_id = ? AND i.session_id = ?{status_clause}{}{}",
        ks.condition, ks.order_by
    );
    let mut q = sqlx::query(&sql).bind(id(tenant)).bind(id(session_id));
    if let Some(s) = filter.status_id {
        q = q.bind(id(s));
    }
    let rows = bind_after(q, &ks.after_binds).fetch_all(pool).await.map_err(db)?;
    let items = rows.iter().map(from_row).collect::<StoreResult<Vec<_>>>()?;
    let page = page.finish(items, |(item, number)| {
        let value = match page.sort {
            SortKey::Number => CursorValue::Int(*number),
            _ => CursorValue::Time(item.created_at),
        };
        (value, item.id)
    });
    Ok(Page { items: page.items.into_iter().map(|(i, _)| i).collect(), next_cursor: page.next_cursor })
}

pub(crate) async fn update(
    store: &SqliteStore,
    tenant: TenantId,
    item_id: Uuid,
    patch: ItemPatch,
) -> StoreResult<Item> {
    let now = lineup_store::now_micros();
    let mut tx = store.writer.begin().await.map_err(db)?;
    let (mut item, _) = load(&mut *tx, tenant, item_id).await?;
    let session = sessions::load(&mut *tx, tenant, item.session_id).await?;
    session.session.ensure_open()?;
    if patch.apply(&mut item)? {
        check_metadata(session.metadata_schema.as_ref(), &item.metadata)?;
    }
    sqlx::query("UPDATE items SET name = ?, metadata = ?, updated_at = ? WHERE id = ?")
        .bind(&item.display_name)
        .bind(json(&item.metadata))
        .bind(ts(now))
        .bind(id(item_id))
        .execute(&mut *tx)
        .await
        .map_err(db)?;
    events::append(&mut tx, tenant, &DomainEvent::item(EventKind::ItemUpdated, &item), now).await?;
    tx.commit().await.map_err(db)?;
    Ok(item)
}

pub(crate) async fn change_status(
    store: &SqliteStore,
    tenant: TenantId,
    item_id: Uuid,
    change: StatusChangeRequest,
) -> StoreResult<Item> {
    let now = lineup_store::now_micros();
    let mut tx = store.writer.begin().await.map_err(db)?;
    let (mut item, _) = load(&mut *tx, tenant, item_id).await?;
    let session = sessions::load(&mut *tx, tenant, item.session_id).await?;
    session.session.ensure_open()?;
    let statuses = sessions::statuses(&mut tx, tenant, item.session_id).await?;
    let target = resolve_move(&session, &statuses, &item, &change)?;
    let event = move_to(&mut tx, tenant, &mut item, target, &change.actor(), now).await?;
    events::append(&mut tx, tenant, &event, now).await?;
    tx.commit().await.map_err(db)?;
    Ok(item)
}

/// The status `change` moves `item` to, checked against the session's machine.
pub(crate) fn resolve_move(
    session: &SessionRow,
    statuses: &[SessionStatus],
    item: &Item,
    change: &StatusChangeRequest,
) -> StoreResult<Uuid> {
    let refs: Vec<StatusRef<'_>> = statuses.iter().map(|s| StatusRef { id: s.id, label: &s.label }).collect();
    let current = *refs
        .iter()
        .find(|s| s.id == item.status_id)
        .ok_or_else(|| StoreError::Backend("the item's status is missing from its session".into()))?;
    Ok(change.resolve(&session.machine, current, &refs)?)
}

/// Puts `item` in status `to` and records the move by `actor` in its history, inside the
/// caller's write transaction; returns the `item_status_changed` event for the caller to append.
pub(crate) async fn move_to(
    conn: &mut SqliteConnection,
    tenant: TenantId,
    item: &mut Item,
    to: Uuid,
    actor: &str,
    now: DateTime<Utc>,
) -> StoreResult<DomainEvent> {
    let from = item.status_id;
    item.status_id = to;
    sqlx::query("UPDATE items SET status_id = ?, updated_at = ? WHERE id = ?")
        .bind(id(to))
        .bind(ts(now))
        .bind(id(item.id))
        .execute(&mut *conn)
        .await
        .map_err(db)?;
    record_history(conn, tenant, item.id, Some(from), to, actor, now).await?;
    Ok(DomainEvent::item_status_changed(item, from, actor))
}

async fn record_history(
    conn: &mut SqliteConnection,
    tenant: TenantId,
    item_id: Uuid,
    from: Option<Uuid>,
    to: Uuid,
    actor: &str,
    now: DateTime<Utc>,
) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO item_status_history (id, tenant_id, item_id, from_status_id, to_status_id, changed_by, changed_at) \
         VALUES (?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(id(Uuid::now_v7()))
    .bind(id(tenant))
    .bind(id(item_id))
    .bind(from.map(id))
    .bind(id(to))
    .bind(actor)
    .bind(ts(now))
    .execute(conn)
    .await
    .map(|_| ())
    .map_err(db)
}

pub(crate) async fn history(pool: &SqlitePool, tenant: TenantId, item_id: Uuid) -> StoreResult<Vec<ItemHistoryEntry>> {
    load(pool, tenant, item_id).await?;
    let rows = sqlx::query(
        "SELECT id, item_id, from_status_id, to_status_id, changed_by, changed_at FROM item_status_history \
         WHERE tenant_id = ? AND item_id = ? ORDER BY changed_at, rowid",
    )
    .bind(id(tenant))
    .bind(id(item_id))
    .fetch_all(pool)
    .await
    .map_err(db)?;
    rows.iter()
        .map(|r| {
            Ok(ItemHistoryEntry {
                id: r.uuid("id")?,
                item_id: r.uuid("item_id")?,
                from_status_id: r.opt_uuid("from_status_id")?,
                to_status_id: r.uuid("to_status_id")?,
                changed_by: r.text("changed_by")?,
                changed_at: r.time("changed_at")?,
            })
        })
        .collect()
}

fn from_row(row: &SqliteRow) -> StoreResult<(Item, i64)> {
    let item = Item {
        id: row.uuid("id")?,
        queue_id: row.uuid("queue_id")?,
        session_id: row.uuid("session_id")?,
        status_id: row.uuid("status_id")?,
        queue_number: row.text("queue_number")?,
        display_name: row.text("name")?,
        metadata: row.json("metadata")?,
        created_at: row.time("created_at")?,
    };
    Ok((item, row.int("number")?))
}
