//! The outbox: events written in the change's transaction and read by streams.

use chrono::{DateTime, Utc};
use lineup_domain::{DomainEvent, EventKind, TenantId};
use lineup_store::{EventScope, StoreError, StoreResult, StoredEvent};
use sqlx::sqlite::SqliteRow;
use sqlx::{SqliteConnection, SqlitePool};

use crate::codec::{db, id, json, ts, RowExt};

/// Appends an event inside the caller's transaction. SQLite's single writer makes the
/// AUTOINCREMENT `seq` follow commit order.
pub(crate) async fn append(
    conn: &mut SqliteConnection,
    tenant: TenantId,
    event: &DomainEvent,
    now: DateTime<Utc>,
) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO outbox (tenant_id, event_type, session_id, item_id, payload, created_at) VALUES (?, ?, ?, ?, ?, ?)",
    )
    .bind(id(tenant))
    .bind(event.kind.as_str())
    .bind(id(event.session_id))
    .bind(event.item_id.map(id))
    .bind(json(&event.payload))
    .bind(ts(now))
    .execute(conn)
    .await
    .map(|_| ())
    .map_err(db)
}

/// Appends events in their order, one statement per 500.
pub(crate) async fn append_all(
    conn: &mut SqliteConnection,
    tenant: TenantId,
    events: &[DomainEvent],
    now: DateTime<Utc>,
) -> StoreResult<()> {
    for chunk in events.chunks(500) {
        let rows = vec!["(?, ?, ?, ?, ?, ?)"; chunk.len()].join(", ");
        let sql = format!(
            "INSERT INTO outbox (tenant_id, event_type, session_id, item_id, payload, created_at) VALUES {rows}"
        );
        let mut query = sqlx::query(&sql);
        for event in chunk {
            query = query
                .bind(id(tenant))
                .bind(event.kind.as_str())
                .bind(id(event.session_id))
                .bind(event.item_id.map(id))
                .bind(json(&event.payload))
                .bind(ts(now));
        }
        query.execute(&mut *conn).await.map_err(db)?;
    }
    Ok(())
}

pub(crate) async fn read(
    pool: &SqlitePool,
    tenant: TenantId,
    scope: EventScope,
    after: i64,
    limit: u32,
) -> StoreResult<Vec<StoredEvent>> {
    let (col, scope_id) = match scope {
        EventScope::Session(s) => ("session_id", s),
        EventScope::Item(i) => ("item_id", i),
    };
    let sql = format!(
        "SELECT {EVENT_COLUMNS} FROM outbox WHERE tenant_id = ? AND {col} = ? AND seq > ? ORDER BY seq LIMIT ?"
    );
    let rows = sqlx::query(&sql)
        .bind(id(tenant))
        .bind(id(scope_id))
        .bind(after)
        .bind(i64::from(limit))
        .fetch_all(pool)
        .await
        .map_err(db)?;
    rows.iter().map(stored_event).collect()
}

/// The columns [`stored_event`] reads.
pub(crate) const EVENT_COLUMNS: &str = "seq, event_type, session_id, item_id, payload, created_at";

/// An outbox row as a [`StoredEvent`].
pub(crate) fn stored_event(r: &SqliteRow) -> StoreResult<StoredEvent> {
    let name = r.text("event_type")?;
    Ok(StoredEvent {
        seq: r.int("seq")?,
        kind: EventKind::parse(&name)
            .ok_or_else(|| StoreError::Backend(format!("unknown event type '{name}' in the outbox")))?,
        session_id: r.uuid("session_id")?,
        item_id: r.opt_uuid("item_id")?,
        payload: r.json("payload")?,
        created_at: r.time("created_at")?,
    })
}

pub(crate) async fn last_seq(pool: &SqlitePool) -> StoreResult<i64> {
    let row = sqlx::query("SELECT COALESCE(MAX(seq), 0) AS seq FROM outbox").fetch_one(pool).await.map_err(db)?;
    row.int("seq")
}
