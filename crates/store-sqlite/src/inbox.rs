//! [`InboxStore`] for [`SqliteStore`]: every change, claims included, runs on the single writer
//! connection, so claims are serialised and no two claimers ever see the same due message; reads
//! use the reader pool. `seq` is handed out by the writer as `max(seq) + 1`.
//!
//! Settling is one guarded `UPDATE` on a `SqliteConnection` (see [`complete_on`]), so a later
//! `complete_in(tx)` can run it inside the processor's own write transaction.

use std::collections::HashSet;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use lineup_domain::TenantId;
use lineup_store::inbox::{conflict, lease_until};
use lineup_store::{
    ClaimScope, CursorValue, Enqueued, Entity, InboxDepth, InboxLease, InboxMessage, InboxRetryPolicy, InboxSource,
    InboxState, InboxStore, NewInboxMessage, Page, PageRequest, Settlement, SortKey, StoreError, StoreResult,
};
use sqlx::sqlite::SqliteRow;
use sqlx::{SqliteConnection, SqliteExecutor};
use uuid::Uuid;

use crate::codec::{db, id, json, stored, ts, RowExt};
use crate::paging::{bind_after, keyset};
use crate::SqliteStore;

const COLUMNS: &str = "id, seq, tenant_id, connection_id, source, call_key, dedup_key, payload, observed_at, \
     enqueued_at, state, attempts, claims, not_before, leased_until, last_error, settled_at";

/// The next `seq`: one past the highest ever kept (rows are never deleted).
const NEXT_SEQ: &str = "(SELECT coalesce(max(seq), 0) + 1 FROM inbox_messages)";

#[async_trait]
impl InboxStore for SqliteStore {
    async fn enqueue(&self, tenant: TenantId, new: NewInboxMessage) -> StoreResult<Enqueued> {
        let mut tx = self.writer.begin().await.map_err(db)?;
        let out = insert(&mut tx, tenant, &new).await?;
        tx.commit().await.map_err(db)?;
        Ok(out)
    }

    async fn enqueue_many(&self, tenant: TenantId, new: Vec<NewInboxMessage>) -> StoreResult<Vec<Enqueued>> {
        let mut tx = self.writer.begin().await.map_err(db)?;
        let mut out = Vec::with_capacity(new.len());
        for chunk in new.chunks(300) {
            out.extend(insert_many(&mut tx, tenant, chunk).await?);
        }
        tx.commit().await.map_err(db)?;
        Ok(out)
    }

    async fn claim(
        &self,
        scope: ClaimScope,
        now: DateTime<Utc>,
        limit: u32,
        lease: Duration,
    ) -> StoreResult<Vec<InboxMessage>> {
        // The candidates: due, and no earlier unsettled message of their call, nor a live
        // in-flight one (a replayed dead letter waits for the call's current message).
        let only_connection = match scope {
            ClaimScope::All => "",
            ClaimScope::Connection(_) => " AND m.connection_id = ?4",
        };
        let sql = format!(
            "UPDATE inbox_messages SET state = 'in_flight', leased_until = ?3, claims = claims + 1 \
             WHERE id IN (SELECT m.id FROM inbox_messages m \
                 WHERE m.state IN ('pending', 'in_flight') \
                 AND ((m.state = 'pending' AND (m.not_before IS NULL OR m.not_before <= ?1)) \
                      OR (m.state = 'in_flight' AND m.leased_until <= ?1)){only_connection} \
                 AND NOT EXISTS (SELECT 1 FROM inbox_messages o \
                     WHERE o.tenant_id = m.tenant_id AND o.connection_id = m.connection_id \
                     AND o.call_key = m.call_key AND o.state IN ('pending', 'in_flight') AND o.id <> m.id \
                     AND (o.seq < m.seq OR (o.state = 'in_flight' AND o.leased_until > ?1))) \
                 ORDER BY m.seq LIMIT ?2) \
             RETURNING {COLUMNS}"
        );
        let mut q = sqlx::query(&sql).bind(ts(now)).bind(i64::from(limit)).bind(ts(lease_until(now, lease)));
        if let ClaimScope::Connection(connection) = scope {
            q = q.bind(id(connection));
        }
        let rows = q.fetch_all(&self.writer).await.map_err(db)?;
        let mut claimed = rows.iter().map(from_row).collect::<StoreResult<Vec<_>>>()?;
        claimed.sort_by_key(|m| m.seq);
        Ok(claimed)
    }

    async fn complete(&self, lease: &InboxLease, now: DateTime<Utc>) -> StoreResult<Settlement> {
        let mut conn = self.writer.acquire().await.map_err(db)?;
        complete_on(&mut conn, lease, now).await
    }

    async fn fail(
        &self,
        lease: &InboxLease,
        error: &str,
        now: DateTime<Utc>,
        policy: &InboxRetryPolicy,
    ) -> StoreResult<Settlement> {
        let mut tx = self.writer.begin().await.map_err(db)?;
        let row = sqlx::query(
            "SELECT attempts FROM inbox_messages \
             WHERE tenant_id = ? AND id = ? AND claims = ? AND state = 'in_flight'",
        )
        .bind(id(lease.tenant_id))
        .bind(id(lease.message_id))
        .bind(i64::from(lease.claim))
        .fetch_optional(&mut *tx)
        .await
        .map_err(db)?;
        let Some(row) = row else {
            return Ok(Settlement::LeaseLost);
        };
        let attempts = count(&row, "attempts")?.saturating_add(1);
        let retry_at = policy.retry_at(attempts, now);
        let (state, settled_at) = match retry_at {
            Some(_) => (InboxState::Pending, None),
            None => (InboxState::Dead, Some(ts(now))),
        };
        sqlx::query(
            "UPDATE inbox_messages SET state = ?, attempts = ?, not_before = ?, leased_until = NULL, \
             last_error = ?, settled_at = ? WHERE id = ?",
        )
        .bind(state.as_str())
        .bind(i64::from(attempts))
        .bind(retry_at.map(ts))
        .bind(lineup_store::inbox::storable_error(error))
        .bind(settled_at)
        .bind(id(lease.message_id))
        .execute(&mut *tx)
        .await
        .map_err(db)?;
        tx.commit().await.map_err(db)?;
        Ok(match retry_at {
            Some(not_before) => Settlement::RetryScheduled { attempts, not_before },
            None => Settlement::DeadLettered { attempts },
        })
    }

    async fn list_dead_letters(&self, tenant: TenantId, page: &PageRequest) -> StoreResult<Page<InboxMessage>> {
        let ks = keyset(page, &[(SortKey::CreatedAt, "enqueued_at")], "id")?;
        let sql = format!(
            "SELECT {COLUMNS} FROM inbox_messages WHERE tenant_id = ? AND state = 'dead'{}{}",
            ks.condition, ks.order_by
        );
        let q = sqlx::query(&sql).bind(id(tenant));
        let rows = bind_after(q, &ks.after_binds).fetch_all(&self.reader).await.map_err(db)?;
        let messages = rows.iter().map(from_row).collect::<StoreResult<Vec<_>>>()?;
        Ok(page.finish(messages, |m| (CursorValue::Time(m.enqueued_at), m.id)))
    }

    async fn get_inbox_message(&self, tenant: TenantId, message_id: Uuid) -> StoreResult<InboxMessage> {
        get(&self.reader, tenant, message_id).await
    }

    async fn replay_dead_letter(
        &self,
        tenant: TenantId,
        message_id: Uuid,
        now: DateTime<Utc>,
    ) -> StoreResult<InboxMessage> {
        let mut tx = self.writer.begin().await.map_err(db)?;
        if get(&mut *tx, tenant, message_id).await?.state != InboxState::Dead {
            return Err(StoreError::Conflict(conflict::NOT_A_DEAD_LETTER.into()));
        }
        sqlx::query(&format!(
            "UPDATE inbox_messages SET state = 'pending', seq = {NEXT_SEQ}, attempts = 0, not_before = ?, \
             settled_at = NULL WHERE id = ?"
        ))
        .bind(ts(now))
        .bind(id(message_id))
        .execute(&mut *tx)
        .await
        .map_err(db)?;
        let replayed = get(&mut *tx, tenant, message_id).await?;
        tx.commit().await.map_err(db)?;
        Ok(replayed)
    }

    async fn discard_dead_letter(&self, tenant: TenantId, message_id: Uuid) -> StoreResult<()> {
        let mut tx = self.writer.begin().await.map_err(db)?;
        match get(&mut *tx, tenant, message_id).await?.state {
            InboxState::Dead => {}
            InboxState::Discarded => return Ok(()),
            _ => return Err(StoreError::Conflict(conflict::NOT_A_DEAD_LETTER.into())),
        }
        sqlx::query("UPDATE inbox_messages SET state = 'discarded' WHERE id = ?")
            .bind(id(message_id))
            .execute(&mut *tx)
            .await
            .map_err(db)?;
        tx.commit().await.map_err(db)
    }

    async fn inbox_depth(&self, tenant: Option<TenantId>) -> StoreResult<InboxDepth> {
        let only_tenant = if tenant.is_some() { " AND tenant_id = ?" } else { "" };
        let sql = format!(
            "SELECT count(*) FILTER (WHERE state = 'pending') AS pending, \
             count(*) FILTER (WHERE state = 'in_flight') AS in_flight, \
             count(*) FILTER (WHERE state = 'dead') AS dead, \
             min(enqueued_at) FILTER (WHERE state = 'pending') AS oldest_pending_at \
             FROM inbox_messages WHERE state IN ('pending', 'in_flight', 'dead'){only_tenant}"
        );
        let mut q = sqlx::query(&sql);
        if let Some(tenant) = tenant {
            q = q.bind(id(tenant));
        }
        let row = q.fetch_one(&self.reader).await.map_err(db)?;
        Ok(InboxDepth {
            pending: row.int("pending")?.unsigned_abs(),
            in_flight: row.int("in_flight")?.unsigned_abs(),
            dead: row.int("dead")?.unsigned_abs(),
            oldest_pending_at: row.opt_time("oldest_pending_at")?,
        })
    }
}

/// Inserts one message unless its dedup key is taken in the tenant and connection.
async fn insert(conn: &mut SqliteConnection, tenant: TenantId, new: &NewInboxMessage) -> StoreResult<Enqueued> {
    let message_id = Uuid::now_v7();
    let inserted = sqlx::query(&format!(
        "INSERT INTO inbox_messages (id, seq, tenant_id, connection_id, source, call_key, dedup_key, payload, \
         observed_at, enqueued_at) VALUES (?, {NEXT_SEQ}, ?, ?, ?, ?, ?, ?, ?, ?) \
         ON CONFLICT (tenant_id, connection_id, dedup_key) DO NOTHING"
    ))
    .bind(id(message_id))
    .bind(id(tenant))
    .bind(id(new.connection_id))
    .bind(new.source.as_str())
    .bind(&new.call_key)
    .bind(&new.dedup_key)
    .bind(json(&new.payload))
    .bind(ts(stored(new.observed_at)))
    .bind(ts(lineup_store::now_micros()))
    .execute(&mut *conn)
    .await
    .map_err(db)?
    .rows_affected();
    Ok(if inserted == 1 { Enqueued::New(message_id) } else { Enqueued::Duplicate })
}

/// Inserts messages in one statement, numbered in their order after every stored message; a
/// message whose dedup key is stored (or earlier in `new`) is a duplicate.
async fn insert_many(
    conn: &mut SqliteConnection,
    tenant: TenantId,
    new: &[NewInboxMessage],
) -> StoreResult<Vec<Enqueued>> {
    let last: i64 = sqlx::query_scalar("SELECT coalesce(max(seq), 0) FROM inbox_messages")
        .fetch_one(&mut *conn)
        .await
        .map_err(db)?;
    let ids: Vec<Uuid> = new.iter().map(|_| Uuid::now_v7()).collect();
    let rows = vec!["(?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"; new.len()].join(", ");
    let sql = format!(
        "INSERT INTO inbox_messages (id, seq, tenant_id, connection_id, source, call_key, dedup_key, payload, \
         observed_at, enqueued_at) VALUES {rows} ON CONFLICT (tenant_id, connection_id, dedup_key) DO NOTHING \
         RETURNING id"
    );
    let enqueued_at = ts(lineup_store::now_micros());
    let mut query = sqlx::query(&sql);
    for (n, (message, message_id)) in new.iter().zip(&ids).enumerate() {
        query = query
            .bind(id(*message_id))
            .bind(last + 1 + n as i64)
            .bind(id(tenant))
            .bind(id(message.connection_id))
            .bind(message.source.as_str())
            .bind(&message.call_key)
            .bind(&message.dedup_key)
            .bind(json(&message.payload))
            .bind(ts(stored(message.observed_at)))
            .bind(enqueued_at.clone());
    }
    let mut inserted = HashSet::with_capacity(new.len());
    for row in query.fetch_all(&mut *conn).await.map_err(db)? {
        inserted.insert(row.uuid("id")?);
    }
    Ok(ids.into_iter().map(|i| if inserted.contains(&i) { Enqueued::New(i) } else { Enqueued::Duplicate }).collect())
}

/// Marks the leased message done if the lease is still its own: the one statement settling
/// needs, usable inside a caller's write transaction.
pub(crate) async fn complete_on(
    conn: &mut SqliteConnection,
    lease: &InboxLease,
    now: DateTime<Utc>,
) -> StoreResult<Settlement> {
    let done = sqlx::query(
        "UPDATE inbox_messages SET state = 'done', leased_until = NULL, settled_at = ? \
         WHERE tenant_id = ? AND id = ? AND claims = ? AND state = 'in_flight'",
    )
    .bind(ts(now))
    .bind(id(lease.tenant_id))
    .bind(id(lease.message_id))
    .bind(i64::from(lease.claim))
    .execute(conn)
    .await
    .map_err(db)?
    .rows_affected();
    Ok(if done == 1 { Settlement::Completed } else { Settlement::LeaseLost })
}

/// Settles many leases as done in one statement per 400; returns the messages settled (the
/// others' leases were lost).
pub(crate) async fn complete_many(
    conn: &mut SqliteConnection,
    leases: &[&InboxLease],
    now: DateTime<Utc>,
) -> StoreResult<HashSet<Uuid>> {
    let mut settled = HashSet::with_capacity(leases.len());
    for chunk in leases.chunks(400) {
        let triples = vec!["(?, ?, ?)"; chunk.len()].join(", ");
        let sql = format!(
            "UPDATE inbox_messages SET state = 'done', leased_until = NULL, settled_at = ? \
             WHERE state = 'in_flight' AND (tenant_id, id, claims) IN (VALUES {triples}) RETURNING id"
        );
        let mut query = sqlx::query(&sql).bind(ts(now));
        for lease in chunk {
            query = query.bind(id(lease.tenant_id)).bind(id(lease.message_id)).bind(i64::from(lease.claim));
        }
        for row in query.fetch_all(&mut *conn).await.map_err(db)? {
            settled.insert(row.uuid("id")?);
        }
    }
    Ok(settled)
}

/// One message of the tenant, in any state.
async fn get<'e>(conn: impl SqliteExecutor<'e>, tenant: TenantId, message_id: Uuid) -> StoreResult<InboxMessage> {
    let row = sqlx::query(&format!("SELECT {COLUMNS} FROM inbox_messages WHERE tenant_id = ? AND id = ?"))
        .bind(id(tenant))
        .bind(id(message_id))
        .fetch_optional(conn)
        .await
        .map_err(db)?
        .ok_or(StoreError::NotFound(Entity::InboxMessage))?;
    from_row(&row)
}

fn count(row: &SqliteRow, col: &str) -> StoreResult<u32> {
    u32::try_from(row.int(col)?).map_err(|e| StoreError::Backend(format!("column {col}: {e}")))
}

fn from_row(row: &SqliteRow) -> StoreResult<InboxMessage> {
    let source = row.text("source")?;
    let state = row.text("state")?;
    Ok(InboxMessage {
        id: row.uuid("id")?,
        tenant_id: row.uuid("tenant_id")?,
        seq: row.int("seq")?,
        connection_id: row.uuid("connection_id")?,
        source: InboxSource::parse(&source)
            .ok_or_else(|| StoreError::Backend(format!("unknown inbox source '{source}'")))?,
        call_key: row.text("call_key")?,
        dedup_key: row.text("dedup_key")?,
        payload: row.json("payload")?,
        observed_at: row.time("observed_at")?,
        enqueued_at: row.time("enqueued_at")?,
        state: InboxState::parse(&state)
            .ok_or_else(|| StoreError::Backend(format!("unknown inbox state '{state}'")))?,
        attempts: count(row, "attempts")?,
        claims: count(row, "claims")?,
        not_before: row.opt_time("not_before")?,
        leased_until: row.opt_time("leased_until")?,
        last_error: row.opt_text("last_error")?,
        settled_at: row.opt_time("settled_at")?,
    })
}
