//! The outbox: events written in the transaction of the change that caused them, read back by
//! scope and sequence.

use chrono::{DateTime, Utc};
use lineup_domain::{DomainEvent, EventKind, TenantId};
use lineup_store::{EventScope, StoreError, StoreResult, StoredEvent};
use sqlx::postgres::PgRow;
use sqlx::{PgConnection, PgPool};

use crate::rows::{col, db};

/// The notification channel writers announce their outbox commits on ([`announce`], [`wakeups`]).
pub(crate) const OUTBOX_CHANNEL: &str = "lineup_outbox";

/// Key of the transaction advisory lock that serialises outbox writers ("LINEUPOB" in ASCII).
const OUTBOX_LOCK_KEY: i64 = 0x4C49_4E45_5550_4F42;

/// Writes `event` to the outbox inside the caller's transaction ([`append_all`] of one).
pub(crate) async fn append(
    conn: &mut PgConnection,
    tenant: TenantId,
    event: &DomainEvent,
    now: DateTime<Utc>,
) -> StoreResult<()> {
    append_all(conn, tenant, std::slice::from_ref(event), now).await
}

/// Writes `events`, in order, to the outbox inside the caller's transaction, in one statement.
///
/// `seq` must grow in commit order: a reader that has seen seq N must never later see a new row
/// with a smaller seq. A plain `bigserial` does not give that (a transaction may draw seq 5, then
/// commit after another that drew seq 6). So every writer first takes one transaction-scoped
/// advisory lock, held until its commit, and only then draws seq. The caller must make this the
/// last statement of its transaction and commit right after: the lock is then held only for the
/// insert and the commit, and seq assignment and commit happen one writer at a time.
///
/// No `NOTIFY` here: a notifying transaction takes PostgreSQL's global notification-queue lock
/// at commit and writes the queue, on every writing transaction; writers announce their commits
/// afterwards with [`announce`] instead, one notification per burst of commits.
pub(crate) async fn append_all(
    conn: &mut PgConnection,
    tenant: TenantId,
    events: &[DomainEvent],
    now: DateTime<Utc>,
) -> StoreResult<()> {
    if events.is_empty() {
        return Ok(());
    }
    sqlx::query("SELECT pg_advisory_xact_lock($1)").bind(OUTBOX_LOCK_KEY).execute(&mut *conn).await.map_err(db)?;
    let kinds: Vec<&str> = events.iter().map(|e| e.kind.as_str()).collect();
    let sessions: Vec<uuid::Uuid> = events.iter().map(|e| e.session_id).collect();
    let items: Vec<Option<uuid::Uuid>> = events.iter().map(|e| e.item_id).collect();
    let payloads: Vec<&serde_json::Value> = events.iter().map(|e| &e.payload).collect();
    // One statement; rows are inserted (and draw seq) in the order of `events`.
    sqlx::query(
        "INSERT INTO outbox (tenant_id, event_type, session_id, item_id, payload, created_at) \
         SELECT $1, e.kind, e.session_id, e.item_id, e.payload, $6 \
         FROM UNNEST($2::text[], $3::uuid[], $4::uuid[], $5::jsonb[]) WITH ORDINALITY \
           AS e (kind, session_id, item_id, payload, n) ORDER BY e.n",
    )
    .bind(tenant)
    .bind(&kinds)
    .bind(&sessions)
    .bind(&items)
    .bind(&payloads)
    .bind(now)
    .execute(&mut *conn)
    .await
    .map_err(db)?;
    Ok(())
}

/// Notifies [`OUTBOX_CHANNEL`]: this process committed outbox rows (its own statement, after
/// the commits it announces).
pub(crate) async fn announce(pool: &PgPool) -> StoreResult<()> {
    sqlx::query("SELECT pg_notify($1, '')").bind(OUTBOX_CHANNEL).execute(pool).await.map(drop).map_err(db)
}

/// A stream yielding once per notification on [`OUTBOX_CHANNEL`], from a dedicated listening
/// connection. The listener reconnects by itself after a lost connection (notifications sent
/// meanwhile are lost: readers poll as well); the stream ends only if reconnecting fails.
pub(crate) async fn wakeups(pool: &PgPool) -> StoreResult<futures::stream::BoxStream<'static, ()>> {
    let mut listener = sqlx::postgres::PgListener::connect_with(pool).await.map_err(db)?;
    listener.listen(OUTBOX_CHANNEL).await.map_err(db)?;
    let stream = futures::stream::unfold(listener, |mut listener| async move {
        match listener.recv().await {
            Ok(_) => Some(((), listener)),
            Err(e) => {
                tracing::warn!(error = %e, "listening for outbox notifications failed");
                None
            }
        }
    });
    Ok(Box::pin(stream))
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
