//! The outbox: events written in the transaction of the change that caused them, read back by
//! scope and sequence.

use chrono::{DateTime, Utc};
use lineup_domain::{DomainEvent, EventKind, TenantId};
use lineup_store::{EventScope, StoreError, StoreResult, StoredEvent};
use sqlx::postgres::PgRow;
use sqlx::{PgConnection, PgPool};

use crate::rows::{col, db};

/// Key of the transaction advisory lock that serialises outbox writers ("LINEUPOB" in ASCII).
const OUTBOX_LOCK_KEY: i64 = 0x4C49_4E45_5550_4F42;

/// Writes `event` to the outbox inside the caller's transaction.
///
/// `seq` must grow in commit order: a reader that has seen seq N must never later see a new row
/// with a smaller seq. A plain `bigserial` does not give that (a transaction may draw seq 5, then
/// commit after another that drew seq 6). So every writer first takes one transaction-scoped
/// advisory lock, held until its commit, and only then draws seq. The caller must make this the
/// last statement of its transaction and commit right after: the lock is then held only for the
/// insert and the commit, and seq assignment and commit happen one writer at a time.
pub(crate) async fn append(
    conn: &mut PgConnection,
    tenant: TenantId,
    event: &DomainEvent,
    now: DateTime<Utc>,
) -> StoreResult<()> {
    sqlx::query("SELECT pg_advisory_xact_lock($1)").bind(OUTBOX_LOCK_KEY).execute(&mut *conn).await.map_err(db)?;
    sqlx::query(
        "INSERT INTO outbox (tenant_id, event_type, session_id, item_id, payload, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(tenant)
    .bind(event.kind.as_str())
    .bind(event.session_id)
    .bind(event.item_id)
    .bind(&event.payload)
    .bind(now)
    .execute(&mut *conn)
    .await
    .map_err(db)?;
    Ok(())
}

/// Events of the tenant in `scope` with `seq > after`, oldest first, at most `limit`.
pub(crate) async fn read(
    conn: &mut PgConnection,
    tenant: TenantId,
    scope: EventScope,
    after: i64,
    limit: u32,
) -> StoreResult<Vec<StoredEvent>> {
    let (column, id) = match scope {
        EventScope::Session(id) => ("session_id", id),
        EventScope::Item(id) => ("item_id", id),
    };
    let sql = format!(
        "SELECT {EVENT_COLUMNS} FROM outbox WHERE tenant_id = $1 AND {column} = $2 AND seq > $3 ORDER BY seq LIMIT $4"
    );
    let rows =
        sqlx::query(&sql).bind(tenant).bind(id).bind(after).bind(i64::from(limit)).fetch_all(conn).await.map_err(db)?;
    rows.iter().map(stored_event).collect()
}

/// The columns [`stored_event`] reads.
pub(crate) const EVENT_COLUMNS: &str = "seq, event_type, session_id, item_id, payload, created_at";

/// An outbox row as a [`StoredEvent`].
pub(crate) fn stored_event(row: &PgRow) -> StoreResult<StoredEvent> {
    let event_type: String = col(row, "event_type")?;
    let kind = EventKind::parse(&event_type)
        .ok_or_else(|| StoreError::Backend(format!("unknown event type '{event_type}' in the outbox")))?;
    Ok(StoredEvent {
        seq: col(row, "seq")?,
        kind,
        session_id: col(row, "session_id")?,
        item_id: col(row, "item_id")?,
        payload: col(row, "payload")?,
        created_at: col(row, "created_at")?,
    })
}

/// The highest seq in the outbox, 0 when it is empty.
pub(crate) async fn last_seq(pool: &PgPool) -> StoreResult<i64> {
    sqlx::query_scalar("SELECT COALESCE(MAX(seq), 0)::bigint FROM outbox").fetch_one(pool).await.map_err(db)
}
