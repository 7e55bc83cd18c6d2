//! [`InboxStore`] for [`PostgresStore`]. Enqueueing, settling and dead-letter administration run
//! in a tenant transaction (row-level security applies); a claim, and the store-wide depth, run
//! as the connecting role because the workers that claim serve every tenant — the one exception
//! besides credential resolution, and a claim reads and writes only `inbox_messages`.
//!
//! A claim is one statement: it picks due messages in inbox order with
//! `FOR UPDATE OF m SKIP LOCKED`, so concurrent claimers pass over each other's rows instead of
//! waiting or double-claiming, and marks them in flight. The unique index
//! `inbox_messages_one_in_flight_per_call` backs the one-in-flight-per-call rule where snapshots
//! could disagree (two messages of a call committed out of `seq` order, each picked by another
//! claimer): the later claim fails on it and is run again, and then sees the first.
//!
//! Settling is one guarded `UPDATE` on a `PgConnection` ([`complete_on`]; [`complete_many`]
//! settles a batch's leases in one statement, each as strictly), so a later `complete_in(tx)`
//! can run it inside the processor's tenant transaction, next to its queue-core writes.
//! Enqueueing many messages is one statement too.

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
use sqlx::postgres::PgRow;
use sqlx::{PgConnection, Postgres, QueryBuilder};
use uuid::Uuid;

use crate::paging::{self, SortColumn, ValueKind};
use crate::rows::{col, db, unique_violation};
use crate::PostgresStore;

const COLUMNS: &str = "id, seq, tenant_id, connection_id, source, call_key, dedup_key, payload, observed_at, \
     enqueued_at, state, attempts, claims, not_before, leased_until, last_error, settled_at";

/// Dead letters sort by when they were enqueued.
const ENQUEUED_AT: SortColumn = SortColumn { key: SortKey::CreatedAt, expr: "enqueued_at", kind: ValueKind::Time };

/// How many times a claim runs again after losing a race on the one-in-flight-per-call index.
const CLAIM_RACE_RETRIES: usize = 5;

#[async_trait]
impl InboxStore for PostgresStore {
    async fn enqueue(&self, tenant: TenantId, new: NewInboxMessage) -> StoreResult<Enqueued> {
        in_tenant!(&self.pool, tenant, insert, &new)
    }
    async fn enqueue_many(&self, tenant: TenantId, new: Vec<NewInboxMessage>) -> StoreResult<Vec<Enqueued>> {
        in_tenant!(&self.pool, tenant, insert_all, &new)
    }

    async fn claim(
        &self,
        scope: ClaimScope,
        now: DateTime<Utc>,
        limit: u32,
        lease: Duration,
    ) -> StoreResult<Vec<InboxMessage>> {
        let mut races = 0;
        loop {
            match claim_once(self, scope, now, limit, lease).await {
                Err(e) if races < CLAIM_RACE_RETRIES && is_in_flight_race(&e) => {
                    races += 1;
                    tracing::debug!(races, "inbox claim raced another claimer on one call; claiming again");
                }
                Err(e) => return Err(db(e)),
                Ok(rows) => {
                    let mut claimed = rows.iter().map(message).collect::<StoreResult<Vec<_>>>()?;
                    claimed.sort_by_key(|m| m.seq);
                    return Ok(claimed);
                }
            }
        }
    }

    async fn complete(&self, lease: &InboxLease, now: DateTime<Utc>) -> StoreResult<Settlement> {
        in_tenant!(&self.pool, lease.tenant_id, complete_on, lease, now)
    }
    async fn fail(
        &self,
        lease: &InboxLease,
        error: &str,
        now: DateTime<Utc>,
        policy: &InboxRetryPolicy,
    ) -> StoreResult<Settlement> {
        in_tenant!(&self.pool, lease.tenant_id, fail, lease, error, now, policy)
    }

    async fn list_dead_letters(&self, tenant: TenantId, page: &PageRequest) -> StoreResult<Page<InboxMessage>> {
        in_tenant!(&self.pool, tenant, list_dead, page)
    }
    async fn get_inbox_message(&self, tenant: TenantId, id: Uuid) -> StoreResult<InboxMessage> {
        in_tenant!(&self.pool, tenant, get, id)
    }
    async fn replay_dead_letter(&self, tenant: TenantId, id: Uuid, now: DateTime<Utc>) -> StoreResult<InboxMessage> {
        in_tenant!(&self.pool, tenant, replay, id, now)
    }
    async fn discard_dead_letter(&self, tenant: TenantId, id: Uuid) -> StoreResult<()> {
        in_tenant!(&self.pool, tenant, discard, id)
    }

    async fn inbox_depth(&self, tenant: Option<TenantId>) -> StoreResult<InboxDepth> {
        match tenant {
            Some(tenant) => in_tenant!(&self.pool, tenant, depth_of),
            None => {
                let mut conn = self.pool.acquire().await.map_err(db)?;
                depth(&mut conn, None).await
            }
        }
    }
}

/// Inserts one message unless its dedup key is taken in the tenant and connection.
async fn insert(conn: &mut PgConnection, tenant: TenantId, new: &NewInboxMessage) -> StoreResult<Enqueued> {
    let id = Uuid::now_v7();
    let inserted = sqlx::query(
        "INSERT INTO inbox_messages (id, tenant_id, connection_id, source, call_key, dedup_key, payload, \
         observed_at, enqueued_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) \
         ON CONFLICT (tenant_id, connection_id, dedup_key) DO NOTHING",
    )
    .bind(id)
    .bind(tenant)
    .bind(new.connection_id)
    .bind(new.source.as_str())
    .bind(&new.call_key)
    .bind(&new.dedup_key)
    .bind(&new.payload)
    .bind(lineup_store::to_micros(new.observed_at))
    .bind(lineup_store::now_micros())
    .execute(conn)
    .await
    .map_err(db)?
    .rows_affected();
    Ok(if inserted == 1 { Enqueued::New(id) } else { Enqueued::Duplicate })
}

/// Inserts messages in one statement, in their order (each draws its `seq` in turn, so the
/// inbox order follows `new`); a message whose dedup key is stored, or taken earlier in `new`,
/// is a duplicate.
async fn insert_all(conn: &mut PgConnection, tenant: TenantId, new: &[NewInboxMessage]) -> StoreResult<Vec<Enqueued>> {
    if new.is_empty() {
        return Ok(Vec::new());
    }
    let ids: Vec<Uuid> = new.iter().map(|_| Uuid::now_v7()).collect();
    let connections: Vec<Uuid> = new.iter().map(|m| m.connection_id).collect();
    let sources: Vec<&str> = new.iter().map(|m| m.source.as_str()).collect();
    let call_keys: Vec<&str> = new.iter().map(|m| m.call_key.as_str()).collect();
    let dedup_keys: Vec<&str> = new.iter().map(|m| m.dedup_key.as_str()).collect();
    let payloads: Vec<&serde_json::Value> = new.iter().map(|m| &m.payload).collect();
    let observed: Vec<DateTime<Utc>> = new.iter().map(|m| lineup_store::to_micros(m.observed_at)).collect();
    let inserted: HashSet<Uuid> = sqlx::query_scalar(
        "INSERT INTO inbox_messages (id, tenant_id, connection_id, source, call_key, dedup_key, payload, \
         observed_at, enqueued_at) \
         SELECT m.id, $1, m.connection_id, m.source, m.call_key, m.dedup_key, m.payload, m.observed_at, $2 \
         FROM UNNEST($3::uuid[], $4::uuid[], $5::text[], $6::text[], $7::text[], $8::jsonb[], $9::timestamptz[]) \
         WITH ORDINALITY AS m (id, connection_id, source, call_key, dedup_key, payload, observed_at, n) \
         ORDER BY m.n ON CONFLICT (tenant_id, connection_id, dedup_key) DO NOTHING RETURNING id",
    )
    .bind(tenant)
    .bind(lineup_store::now_micros())
    .bind(&ids)
    .bind(&connections)
    .bind(&sources)
    .bind(&call_keys)
    .bind(&dedup_keys)
    .bind(&payloads)
    .bind(&observed)
    .fetch_all(conn)
    .await
    .map_err(db)?
    .into_iter()
    .collect();
    Ok(ids.into_iter().map(|id| if inserted.contains(&id) { Enqueued::New(id) } else { Enqueued::Duplicate }).collect())
}

/// One claim statement, as the connecting role. The candidates: due, and no earlier unsettled
/// message of their call, nor a live in-flight one (a replayed dead letter waits for the call's
/// current message).
async fn claim_once(
    store: &PostgresStore,
    scope: ClaimScope,
    now: DateTime<Utc>,
    limit: u32,
    lease: Duration,
) -> Result<Vec<PgRow>, sqlx::Error> {
    let now = lineup_store::to_micros(now);
    let mut qb = QueryBuilder::<Postgres>::new(
        "WITH picked AS (SELECT m.id FROM inbox_messages m WHERE m.state IN ('pending', 'in_flight') \
         AND ((m.state = 'pending' AND (m.not_before IS NULL OR m.not_before <= ",
    );
    qb.push_bind(now).push(")) OR (m.state = 'in_flight' AND m.leased_until <= ").push_bind(now).push("))");
    if let ClaimScope::Connection(connection) = scope {
        qb.push(" AND m.connection_id = ").push_bind(connection);
    }
    qb.push(
        " AND NOT EXISTS (SELECT 1 FROM inbox_messages o \
             WHERE o.tenant_id = m.tenant_id AND o.connection_id = m.connection_id AND o.call_key = m.call_key \
             AND o.state IN ('pending', 'in_flight') AND o.id <> m.id \
             AND (o.seq < m.seq OR (o.state = 'in_flight' AND o.leased_until > ",
    );
    qb.push_bind(now).push("))) ORDER BY m.seq LIMIT ");
    qb.push_bind(i64::from(limit));
    qb.push(
        " FOR UPDATE OF m SKIP LOCKED) \
         UPDATE inbox_messages i SET state = 'in_flight', claims = i.claims + 1, leased_until = ",
    );
    qb.push_bind(lease_until(now, lease));
    qb.push(format_args!(" FROM picked WHERE i.id = picked.id RETURNING {}", qualified("i")));
    qb.build().fetch_all(store.pool()).await
}

/// Whether a claim failed because another claimer put a message of the same call in flight.
fn is_in_flight_race(e: &sqlx::Error) -> bool {
    unique_violation(e).as_deref() == Some("inbox_messages_one_in_flight_per_call")
}

/// Marks the leased message done if the lease is still its own: the one statement settling
/// needs, usable inside a caller's tenant transaction.
pub(crate) async fn complete_on(
    conn: &mut PgConnection,
    tenant: TenantId,
    lease: &InboxLease,
    now: DateTime<Utc>,
) -> StoreResult<Settlement> {
    let done = sqlx::query(
        "UPDATE inbox_messages SET state = 'done', leased_until = NULL, settled_at = $4 \
         WHERE tenant_id = $1 AND id = $2 AND claims = $3 AND state = 'in_flight'",
    )
    .bind(tenant)
    .bind(lease.message_id)
    .bind(claim_number(lease.claim)?)
    .bind(lineup_store::to_micros(now))
    .execute(conn)
    .await
    .map_err(db)?
    .rows_affected();
    Ok(if done == 1 { Settlement::Completed } else { Settlement::LeaseLost })
}

/// Settles many leases of the tenant as done in one statement, each exactly as [`complete_on`]
/// would (in flight, and still under that claim); returns the messages settled (the others'
/// leases were lost). The leases must be of different messages.
pub(crate) async fn complete_many(
    conn: &mut PgConnection,
    tenant: TenantId,
    leases: &[&InboxLease],
    now: DateTime<Utc>,
) -> StoreResult<HashSet<Uuid>> {
    if leases.is_empty() {
        return Ok(HashSet::new());
    }
    let ids: Vec<Uuid> = leases.iter().map(|l| l.message_id).collect();
    let claims = leases.iter().map(|l| claim_number(l.claim)).collect::<StoreResult<Vec<i32>>>()?;
    let settled: Vec<Uuid> = sqlx::query_scalar(
        "UPDATE inbox_messages m SET state = 'done', leased_until = NULL, settled_at = $2 \
         FROM UNNEST($3::uuid[], $4::int4[]) AS l (id, claims) \
         WHERE m.tenant_id = $1 AND m.id = l.id AND m.claims = l.claims AND m.state = 'in_flight' \
         RETURNING m.id",
    )
    .bind(tenant)
    .bind(lineup_store::to_micros(now))
    .bind(&ids)
    .bind(&claims)
    .fetch_all(conn)
    .await
    .map_err(db)?;
    Ok(settled.into_iter().collect())
}

/// Records a failed attempt under a lease that is still the message's own.
async fn fail(
    conn: &mut PgConnection,
    tenant: TenantId,
    lease: &InboxLease,
    error: &str,
    now: DateTime<Utc>,
    policy: &InboxRetryPolicy,
) -> StoreResult<Settlement> {
    let attempts: Option<i32> = sqlx::query_scalar(
        "SELECT attempts FROM inbox_messages \
         WHERE tenant_id = $1 AND id = $2 AND claims = $3 AND state = 'in_flight' FOR UPDATE",
    )
    .bind(tenant)
    .bind(lease.message_id)
    .bind(claim_number(lease.claim)?)
    .fetch_optional(&mut *conn)
    .await
    .map_err(db)?;
    let Some(attempts) = attempts else {
        return Ok(Settlement::LeaseLost);
    };
    let attempts = u32::try_from(attempts).map_err(StoreError::backend)?.saturating_add(1);
    let retry_at = policy.retry_at(attempts, now);
    let (state, settled_at) = match retry_at {
        Some(_) => (InboxState::Pending, None),
        None => (InboxState::Dead, Some(lineup_store::to_micros(now))),
    };
    sqlx::query(
        "UPDATE inbox_messages SET state = $3, attempts = $4, not_before = $5, leased_until = NULL, \
         last_error = $6, settled_at = $7 WHERE tenant_id = $1 AND id = $2",
    )
    .bind(tenant)
    .bind(lease.message_id)
    .bind(state.as_str())
    .bind(i32::try_from(attempts).unwrap_or(i32::MAX))
    .bind(retry_at)
    .bind(lineup_store::inbox::storable_error(error))
    .bind(settled_at)
    .execute(conn)
    .await
    .map_err(db)?;
    Ok(match retry_at {
        Some(not_before) => Settlement::RetryScheduled { attempts, not_before },
        None => Settlement::DeadLettered { attempts },
    })
}

async fn list_dead(conn: &mut PgConnection, tenant: TenantId, page: &PageRequest) -> StoreResult<Page<InboxMessage>> {
    let sort = paging::column(page, &[ENQUEUED_AT])?;
    let mut qb = QueryBuilder::<Postgres>::new(format!("SELECT {COLUMNS} FROM inbox_messages WHERE tenant_id = "));
    qb.push_bind(tenant);
    qb.push(" AND state = 'dead'");
    paging::push_keyset(&mut qb, page, sort, "id")?;
    let rows = qb.build().fetch_all(conn).await.map_err(db)?;
    let messages = rows.iter().map(message).collect::<StoreResult<Vec<_>>>()?;
    Ok(page.finish(messages, |m| (CursorValue::Time(m.enqueued_at), m.id)))
}

async fn get(conn: &mut PgConnection, tenant: TenantId, id: Uuid) -> StoreResult<InboxMessage> {
    let row = sqlx::query(&format!("SELECT {COLUMNS} FROM inbox_messages WHERE tenant_id = $1 AND id = $2"))
        .bind(tenant)
        .bind(id)
        .fetch_optional(conn)
        .await
        .map_err(db)?
        .ok_or(StoreError::NotFound(Entity::InboxMessage))?;
    message(&row)
}

/// The state of a message of the tenant, locked for the rest of the transaction.
async fn lock_state(conn: &mut PgConnection, tenant: TenantId, id: Uuid) -> StoreResult<InboxState> {
    let state: String =
        sqlx::query_scalar("SELECT state FROM inbox_messages WHERE tenant_id = $1 AND id = $2 FOR UPDATE")
            .bind(tenant)
            .bind(id)
            .fetch_optional(conn)
            .await
            .map_err(db)?
            .ok_or(StoreError::NotFound(Entity::InboxMessage))?;
    parse_state(&state)
}

async fn replay(conn: &mut PgConnection, tenant: TenantId, id: Uuid, now: DateTime<Utc>) -> StoreResult<InboxMessage> {
    if lock_state(&mut *conn, tenant, id).await? != InboxState::Dead {
        return Err(StoreError::Conflict(conflict::NOT_A_DEAD_LETTER.into()));
    }
    let row = sqlx::query(&format!(
        "UPDATE inbox_messages SET state = 'pending', seq = DEFAULT, attempts = 0, not_before = $3, \
         settled_at = NULL WHERE tenant_id = $1 AND id = $2 RETURNING {COLUMNS}"
    ))
    .bind(tenant)
    .bind(id)
    .bind(lineup_store::to_micros(now))
    .fetch_one(conn)
    .await
    .map_err(db)?;
    message(&row)
}

async fn discard(conn: &mut PgConnection, tenant: TenantId, id: Uuid) -> StoreResult<()> {
    match lock_state(&mut *conn, tenant, id).await? {
        InboxState::Dead => {}
        InboxState::Discarded => return Ok(()),
        _ => return Err(StoreError::Conflict(conflict::NOT_A_DEAD_LETTER.into())),
    }
    sqlx::query("UPDATE inbox_messages SET state = 'discarded' WHERE tenant_id = $1 AND id = $2")
        .bind(tenant)
        .bind(id)
        .execute(conn)
        .await
        .map_err(db)?;
    Ok(())
}

async fn depth_of(conn: &mut PgConnection, tenant: TenantId) -> StoreResult<InboxDepth> {
    depth(conn, Some(tenant)).await
}

/// The gauges of one tenant or, as the connecting role, of all.
async fn depth(conn: &mut PgConnection, tenant: Option<TenantId>) -> StoreResult<InboxDepth> {
    let mut qb = QueryBuilder::<Postgres>::new(
        "SELECT count(*) FILTER (WHERE state = 'pending') AS pending, \
         count(*) FILTER (WHERE state = 'in_flight') AS in_flight, \
         count(*) FILTER (WHERE state = 'dead') AS dead, \
         min(enqueued_at) FILTER (WHERE state = 'pending') AS oldest_pending_at \
         FROM inbox_messages WHERE state IN ('pending', 'in_flight', 'dead')",
    );
    if let Some(tenant) = tenant {
        qb.push(" AND tenant_id = ").push_bind(tenant);
    }
    let row = qb.build().fetch_one(conn).await.map_err(db)?;
    let gauge = |name: &str| col::<i64>(&row, name).map(i64::unsigned_abs);
    Ok(InboxDepth {
        pending: gauge("pending")?,
        in_flight: gauge("in_flight")?,
        dead: gauge("dead")?,
        oldest_pending_at: col(&row, "oldest_pending_at")?,
    })
}

/// [`COLUMNS`], each qualified with `alias`.
fn qualified(alias: &str) -> String {
    COLUMNS.split(", ").map(|c| format!("{alias}.{c}")).collect::<Vec<_>>().join(", ")
}

fn claim_number(claim: u32) -> StoreResult<i32> {
    i32::try_from(claim).map_err(StoreError::backend)
}

fn count(row: &PgRow, name: &str) -> StoreResult<u32> {
    u32::try_from(col::<i32>(row, name)?).map_err(StoreError::backend)
}

fn parse_state(state: &str) -> StoreResult<InboxState> {
    InboxState::parse(state).ok_or_else(|| StoreError::Backend(format!("unknown inbox state '{state}'")))
}

fn message(row: &PgRow) -> StoreResult<InboxMessage> {
    let source: String = col(row, "source")?;
    Ok(InboxMessage {
        id: col(row, "id")?,
        tenant_id: col(row, "tenant_id")?,
        seq: col(row, "seq")?,
        connection_id: col(row, "connection_id")?,
        source: InboxSource::parse(&source)
            .ok_or_else(|| StoreError::Backend(format!("unknown inbox source '{source}'")))?,
        call_key: col(row, "call_key")?,
        dedup_key: col(row, "dedup_key")?,
        payload: col(row, "payload")?,
        observed_at: col(row, "observed_at")?,
        enqueued_at: col(row, "enqueued_at")?,
        state: parse_state(&col::<String>(row, "state")?)?,
        attempts: count(row, "attempts")?,
        claims: count(row, "claims")?,
        not_before: col(row, "not_before")?,
        leased_until: col(row, "leased_until")?,
        last_error: col(row, "last_error")?,
        settled_at: col(row, "settled_at")?,
    })
}
