//! [`CallStore`] for [`PostgresStore`]: calls, worker checkpoints and worker leases.
//!
//! Applying observations is one tenant transaction (row-level security applies). It settles the
//! inbox lease first, so a lost lease stops it before anything is written. Then it locks the
//! call row (`SELECT … FOR UPDATE`, or inserts the row when the call is new and locks that), so
//! concurrent applications to one call merge one after the other and none is lost, while
//! different calls never wait for each other's rows. Placing and moving the item use the same
//! functions as the item and session methods, and take their locks in the same order: the
//! queue row (`FOR NO KEY UPDATE`, only to open a session, so concurrent first calls open one),
//! the session row, the item row. The outbox rows are written last, under the outbox lock.
//!
//! Checkpoints run in tenant transactions too. Leases have no tenant: they serve every tenant's
//! workers and run as the connecting role, like inbox claims; `lineup_app` has no privilege on
//! `worker_leases` (migrations/postgres/0005_calls.sql).

use std::collections::HashMap;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use lineup_domain::call::{CallKey, CallRecord, CallState, Observation, Phase};
use lineup_domain::{DomainError, DomainEvent, Item, TenantId};
use lineup_store::calls::apply::{self, ItemMove};
use lineup_store::inbox::lease_until;
use lineup_store::{
    to_micros, AppliedCall, BatchApplied, CallFilter, CallStore, CursorValue, Entity, InboxApplication, InboxLease,
    Page, PageRequest, Settlement, StoreError, StoreResult, StoredCall, WorkerLease, CALL_ACTOR,
};
use sqlx::postgres::PgRow;
use sqlx::{Connection, PgConnection, Postgres, QueryBuilder};
use uuid::Uuid;

use crate::inbox::complete_on;
use crate::paging::{self, CREATED_AT};
use crate::rows::{col, db};
use crate::sessions::{self, Lock};
use crate::{events, items, statuses, tenant_tx, PostgresStore};

const COLUMNS: &str = "id, state, queue_id, item_id, item_note, revisions, created_at, updated_at";

/// How many times a new call's row is looked for again after a concurrent insert of it.
const INSERT_RACE_RETRIES: usize = 3;

/// A call row as this module works on it: the state and what surrounds it.
struct CallRow {
    id: Uuid,
    state: CallState,
    queue_id: Option<Uuid>,
    item_id: Option<Uuid>,
    item_note: Option<String>,
    revisions: i64,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

impl CallRow {
    /// A call not stored yet, first observed `now`.
    fn new(key: CallKey, now: DateTime<Utc>) -> CallRow {
        CallRow {
            id: Uuid::now_v7(),
            state: CallState::new(key),
            queue_id: None,
            item_id: None,
            item_note: None,
            revisions: 0,
            created_at: now,
            updated_at: now,
        }
    }

    fn stored(&self, tenant: TenantId) -> StoredCall {
        StoredCall {
            tenant_id: tenant,
            record: self.state.record(),
            queue_id: self.queue_id,
            item_id: self.item_id,
            item_note: self.item_note.clone(),
            revisions: self.revisions,
            created_at: self.created_at,
            updated_at: self.updated_at,
        }
    }
}

#[async_trait]
impl CallStore for PostgresStore {
    async fn apply_call_observations(
        &self,
        tenant: TenantId,
        key: CallKey,
        observations: &[Observation],
        lease: Option<&InboxLease>,
        now: DateTime<Utc>,
    ) -> StoreResult<AppliedCall> {
        apply::check(tenant, key, observations, lease)?;
        let now = to_micros(now);
        let mut tx = tenant_tx(&self.pool, tenant).await?;
        if let Some(lease) = lease {
            if complete_on(&mut tx, tenant, lease, now).await? == Settlement::LeaseLost {
                let call = match find(&mut tx, tenant, key, false).await? {
                    Some(row) => row.stored(tenant),
                    None => apply::unstored(tenant, key, now),
                };
                tx.rollback().await.map_err(db)?;
                let moves = Vec::new();
                return Ok(AppliedCall {
                    call,
                    changed: false,
                    item_created: false,
                    item_moves: moves,
                    lease_lost: true,
                });
            }
        }
        let (applied, events) = merge(&mut tx, tenant, key, observations, now).await?;
        events::append_all(&mut tx, tenant, &events, now).await?;
        tx.commit().await.map_err(db)?;
        Ok(applied)
    }

    async fn apply_inbox_batch(
        &self,
        tenant: TenantId,
        messages: &[InboxApplication],
        now: DateTime<Utc>,
    ) -> StoreResult<Vec<BatchApplied>> {
        let now = to_micros(now);
        let checks = apply::check_batch(tenant, messages);
        let mut tx = tenant_tx(&self.pool, tenant).await?;
        let mut results = Vec::with_capacity(messages.len());
        let mut events = Vec::new();
        for (message, check) in messages.iter().zip(checks) {
            if let Err(reason) = check {
                results.push(BatchApplied::Failed(reason));
                continue;
            }
            let mut savepoint = tx.begin().await.map_err(db)?;
            if complete_on(&mut savepoint, tenant, &message.lease, now).await? == Settlement::LeaseLost {
                savepoint.rollback().await.map_err(db)?;
                results.push(BatchApplied::LeaseLost);
                continue;
            }
            let observations = std::slice::from_ref(&message.observation);
            match merge(&mut savepoint, tenant, message.observation.call, observations, now).await {
                Ok((applied, mut made)) => {
                    savepoint.commit().await.map_err(db)?;
                    events.append(&mut made);
                    results.push(BatchApplied::Applied(Box::new(applied)));
                }
                Err(e) => {
                    savepoint.rollback().await.map_err(db)?;
                    results.push(BatchApplied::Failed(e.to_string()));
                }
            }
        }
        events::append_all(&mut tx, tenant, &events, now).await?;
        tx.commit().await.map_err(db)?;
        Ok(results)
    }

    async fn call_queues(&self, tenant: TenantId, keys: &[CallKey]) -> StoreResult<HashMap<CallKey, Uuid>> {
        let connections: Vec<Uuid> = keys.iter().map(|k| k.connection).collect();
        let calls: Vec<i32> = keys.iter().map(|k| k.call_id).collect();
        let mut tx = tenant_tx(&self.pool, tenant).await?;
        let rows = sqlx::query(
            "SELECT c.connection_id, c.call_id, c.queue_id FROM calls c \
             JOIN UNNEST($2::uuid[], $3::int4[]) AS k (connection_id, call_id) \
             ON k.connection_id = c.connection_id AND k.call_id = c.call_id \
             WHERE c.tenant_id = $1 AND c.queue_id IS NOT NULL",
        )
        .bind(tenant)
        .bind(&connections)
        .bind(&calls)
        .fetch_all(&mut *tx)
        .await
        .map_err(db)?;
        tx.commit().await.map_err(db)?;
        rows.iter()
            .map(|row| {
                let key = CallKey { connection: col(row, "connection_id")?, call_id: col(row, "call_id")? };
                Ok((key, col(row, "queue_id")?))
            })
            .collect()
    }

    async fn get_call(&self, tenant: TenantId, key: CallKey) -> StoreResult<StoredCall> {
        in_tenant!(&self.pool, tenant, get, key)
    }

    async fn list_calls(
        &self,
        tenant: TenantId,
        filter: &CallFilter,
        page: &PageRequest,
    ) -> StoreResult<Page<StoredCall>> {
        in_tenant!(&self.pool, tenant, list, filter, page)
    }

    async fn get_checkpoint(
        &self,
        tenant: TenantId,
        connection_id: Uuid,
        name: &str,
    ) -> StoreResult<Option<serde_json::Value>> {
        in_tenant!(&self.pool, tenant, get_checkpoint, connection_id, name)
    }

    async fn put_checkpoint(
        &self,
        tenant: TenantId,
        connection_id: Uuid,
        name: &str,
        value: &serde_json::Value,
        now: DateTime<Utc>,
    ) -> StoreResult<()> {
        in_tenant!(&self.pool, tenant, put_checkpoint, connection_id, name, value, to_micros(now))
    }

    async fn acquire_lease(
        &self,
        name: &str,
        holder: &str,
        now: DateTime<Utc>,
        ttl: Duration,
    ) -> StoreResult<Option<WorkerLease>> {
        // One statement: taken when new, expired or already the holder's; the epoch grows when
        // the holder changes. Concurrent acquirers serialise on the row (or the unique name).
        let row = sqlx::query(
            "INSERT INTO worker_leases (name, holder, expires_at, epoch) VALUES ($1, $2, $3, 1) \
             ON CONFLICT (name) DO UPDATE SET holder = EXCLUDED.holder, expires_at = EXCLUDED.expires_at, \
             epoch = worker_leases.epoch + CASE WHEN worker_leases.holder = EXCLUDED.holder THEN 0 ELSE 1 END \
             WHERE worker_leases.expires_at <= $4 OR worker_leases.holder = EXCLUDED.holder \
             RETURNING name, holder, expires_at, epoch",
        )
        .bind(name)
        .bind(holder)
        .bind(lease_until(now, ttl))
        .bind(to_micros(now))
        .fetch_optional(&self.pool)
        .await
        .map_err(db)?;
        row.as_ref().map(lease_from_row).transpose()
    }

    async fn release_lease(&self, name: &str, holder: &str) -> StoreResult<()> {
        // The row stays, expired long ago, so the epoch never goes back.
        sqlx::query("UPDATE worker_leases SET expires_at = $3 WHERE name = $1 AND holder = $2")
            .bind(name)
            .bind(holder)
            .bind(DateTime::<Utc>::UNIX_EPOCH)
            .execute(&self.pool)
            .await
            .map(|_| ())
            .map_err(db)
    }

    async fn list_leases(&self) -> StoreResult<Vec<WorkerLease>> {
        let rows = sqlx::query("SELECT name, holder, expires_at, epoch FROM worker_leases ORDER BY name COLLATE \"C\"")
            .fetch_all(&self.pool)
            .await
            .map_err(db)?;
        rows.iter().map(lease_from_row).collect()
    }
}

/// Merges the observations into the locked call and carries the change into the call's item;
/// returns what it did and the events for the caller to append last. Unchanged: nothing is
/// written (a new call's row is kept: it was observed).
async fn merge(
    conn: &mut PgConnection,
    tenant: TenantId,
    key: CallKey,
    observations: &[Observation],
    now: DateTime<Utc>,
) -> StoreResult<(AppliedCall, Vec<DomainEvent>)> {
    let (mut row, created) = lock_or_insert(conn, tenant, key, now).await?;
    let before = row.state.record();
    let mut state = row.state.clone();
    let revisions = apply::merge(&mut state, observations);
    if !created && state == row.state {
        let call = row.stored(tenant);
        return Ok((
            AppliedCall { call, changed: false, item_created: false, item_moves: Vec::new(), lease_lost: false },
            Vec::new(),
        ));
    }
    row.state = state;
    row.revisions += revisions;
    row.updated_at = now;
    let record = row.state.record();
    let mut events = Vec::new();
    let mut item_created = false;
    let mut session_id = None;
    if row.item_id.is_none() {
        row.queue_id = match &record.queue_dn {
            Some(dn) => mapped_queue(&mut *conn, tenant, key.connection, dn).await?,
            None => None,
        };
        row.item_note = None;
        if let Some(queue_id) = row.queue_id {
            match place_item(conn, tenant, queue_id, &record, now).await? {
                Ok((item, event)) => {
                    row.item_id = Some(item.id);
                    session_id = Some(item.session_id);
                    item_created = true;
                    events.push(event);
                }
                Err(note) => row.item_note = Some(note),
            }
        }
    }
    let mut item_moves = Vec::new();
    if let Some(item_id) = row.item_id {
        if item_created || before.phase != record.phase {
            let (moves, of_session) = move_item(conn, tenant, item_id, record.phase, now, &mut events).await?;
            (item_moves, session_id) = (moves, session_id.or(of_session));
        }
        let session_id = match session_id {
            Some(id) => Some(id),
            None => item_session(&mut *conn, tenant, item_id).await?,
        };
        if let (Some(session_id), Some(queue_id)) = (session_id, row.queue_id) {
            events.push(DomainEvent::call_updated(session_id, item_id, queue_id, &record));
        }
    }
    write(conn, &row, &record).await?;
    let call = row.stored(tenant);
    Ok((AppliedCall { call, changed: true, item_created, item_moves, lease_lost: false }, events))
}

/// The call's row locked for update; a new call's row is inserted (empty) and so locked by this
/// transaction. Of concurrent first inserts one wins; the others wait for it and then lock its
/// row.
async fn lock_or_insert(
    conn: &mut PgConnection,
    tenant: TenantId,
    key: CallKey,
    now: DateTime<Utc>,
) -> StoreResult<(CallRow, bool)> {
    for _ in 0..=INSERT_RACE_RETRIES {
        if let Some(row) = find(&mut *conn, tenant, key, true).await? {
            return Ok((row, false));
        }
        let fresh = CallRow::new(key, now);
        let record = fresh.state.record();
        let inserted = sqlx::query(
            "INSERT INTO calls (id, tenant_id, connection_id, call_id, state, outcome, phase, reconciled, revisions, \
             created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, false, 0, $8, $8) \
             ON CONFLICT (tenant_id, connection_id, call_id) DO NOTHING",
        )
        .bind(fresh.id)
        .bind(tenant)
        .bind(key.connection)
        .bind(key.call_id)
        .bind(state_json(&fresh.state)?)
        .bind(apply::outcome_name(record.outcome))
        .bind(apply::phase_name(record.phase))
        .bind(now)
        .execute(&mut *conn)
        .await
        .map_err(db)?
        .rows_affected();
        if inserted == 1 {
            return Ok((fresh, true));
        }
    }
    Err(StoreError::Backend(format!("call {}/{} could be neither found nor inserted", key.connection, key.call_id)))
}

/// The queue a DN of the connection feeds, if it is mapped.
async fn mapped_queue(
    conn: &mut PgConnection,
    tenant: TenantId,
    connection_id: Uuid,
    dn: &str,
) -> StoreResult<Option<Uuid>> {
    sqlx::query_scalar(
        "SELECT queue_id FROM pbx_queue_mappings WHERE tenant_id = $1 AND connection_id = $2 AND dn = $3",
    )
    .bind(tenant)
    .bind(connection_id)
    .bind(dn)
    .fetch_optional(conn)
    .await
    .map_err(db)
}

/// Makes the call's item under a savepoint: `Err(note)` when the domain refuses it (inactive
/// queue, metadata the schema refuses), and then nothing of the attempt is kept (not even a
/// session it opened).
async fn place_item(
    conn: &mut PgConnection,
    tenant: TenantId,
    queue_id: Uuid,
    record: &CallRecord,
    now: DateTime<Utc>,
) -> StoreResult<Result<(Item, DomainEvent), String>> {
    let mut savepoint = conn.begin().await.map_err(db)?;
    match place(&mut savepoint, tenant, queue_id, record, now).await {
        Ok(placed) => {
            savepoint.commit().await.map_err(db)?;
            Ok(Ok(placed))
        }
        Err(StoreError::Domain(refused)) => {
            savepoint.rollback().await.map_err(db)?;
            Ok(Err(refused.to_string()))
        }
        Err(e) => Err(e),
    }
}

/// Adds the call's item, in `Waiting`, to the queue's latest active session (locked), opening
/// one when it has none: then under the queue row's lock, looking again first, so concurrent
/// first calls of a queue open one session.
async fn place(
    conn: &mut PgConnection,
    tenant: TenantId,
    queue_id: Uuid,
    record: &CallRecord,
    now: DateTime<Utc>,
) -> StoreResult<(Item, DomainEvent)> {
    ensure_queue_active(conn, tenant, queue_id, false).await?;
    let session = match sessions::latest_active(conn, tenant, queue_id).await? {
        Some(session) => session,
        None => {
            ensure_queue_active(conn, tenant, queue_id, true).await?;
            match sessions::latest_active(conn, tenant, queue_id).await? {
                Some(session) => session,
                None => {
                    let name = apply::session_name(record, now);
                    let opened = sessions::open(conn, tenant, queue_id, Some(name), now).await?;
                    sessions::load(&mut *conn, tenant, opened.id, Lock::Update).await?
                }
            }
        }
    };
    let all = statuses::of_session(&mut *conn, tenant, session.session.id).await?;
    let waiting = all
        .iter()
        .find(|s| s.label == Phase::Waiting.status_label())
        .ok_or_else(|| apply::missing_status(Phase::Waiting))?;
    let valid = apply::new_item(record, waiting.id).validate()?;
    items::insert(conn, tenant, &session, valid, CALL_ACTOR, now).await
}

/// `QueueInactive` unless the queue is active; with `lock`, the queue row is locked
/// `FOR NO KEY UPDATE` until commit (as opening a session locks it; items' foreign keys still
/// pass).
async fn ensure_queue_active(conn: &mut PgConnection, tenant: TenantId, queue_id: Uuid, lock: bool) -> StoreResult<()> {
    let lock = if lock { " FOR NO KEY UPDATE" } else { "" };
    let active: bool =
        sqlx::query_scalar(&format!("SELECT is_active FROM queues WHERE tenant_id = $1 AND id = $2{lock}"))
            .bind(tenant)
            .bind(queue_id)
            .fetch_optional(conn)
            .await
            .map_err(db)?
            .ok_or(StoreError::NotFound(Entity::Queue))?;
    if active {
        Ok(())
    } else {
        Err(DomainError::QueueInactive.into())
    }
}

/// The session of a call's item, unless the item or its session is gone (deleted).
async fn item_session(conn: &mut PgConnection, tenant: TenantId, item_id: Uuid) -> StoreResult<Option<Uuid>> {
    sqlx::query_scalar(
        "SELECT i.session_id FROM items i JOIN sessions s ON s.id = i.session_id \
         WHERE i.tenant_id = $1 AND i.id = $2 AND NOT s.is_deleted",
    )
    .bind(tenant)
    .bind(item_id)
    .fetch_optional(conn)
    .await
    .map_err(db)
}

/// Moves the call's item to `phase`'s status, pushing one event per move; returns the moves and
/// the item's session (`None` when the item is gone).
/// An item of a completed, archived or deleted session is left where it is.
async fn move_item(
    conn: &mut PgConnection,
    tenant: TenantId,
    item_id: Uuid,
    phase: Phase,
    now: DateTime<Utc>,
    events: &mut Vec<DomainEvent>,
) -> StoreResult<(Vec<String>, Option<Uuid>)> {
    let mut item = match items::load(&mut *conn, tenant, item_id, true).await {
        Ok(item) => item,
        Err(StoreError::NotFound(Entity::Item)) => return Ok((Vec::new(), None)),
        Err(e) => return Err(e),
    };
    let session = sessions::load(&mut *conn, tenant, item.session_id, Lock::None).await?;
    if session.session.ensure_open().is_err() {
        return Ok((Vec::new(), Some(item.session_id)));
    }
    let all = statuses::of_session(&mut *conn, tenant, item.session_id).await?;
    let status_of = |label: &str| all.iter().find(|s| s.label == label).map(|s| s.id);
    status_of(phase.status_label()).ok_or_else(|| apply::missing_status(phase))?;
    let current = all.iter().find(|s| s.id == item.status_id).ok_or_else(|| {
        StoreError::Backend(format!("item {item_id} is in status {}, which its session does not have", item.status_id))
    })?;
    let moves = apply::item_moves(&session.machine, &current.label, phase);
    for step in &moves {
        let to = match step {
            ItemMove::Transition(name) => items::resolve_move(&session, &all, &item, &ItemMove::request(name))?,
            ItemMove::Direct(label) => status_of(label).ok_or_else(|| apply::missing_status(phase))?,
        };
        events.push(items::move_to(&mut *conn, tenant, &mut item, to, CALL_ACTOR, now).await?);
    }
    Ok((moves.iter().map(|m| m.name().to_string()).collect(), Some(item.session_id)))
}

/// Stores the locked call row with the record columns derived from its state.
async fn write(conn: &mut PgConnection, row: &CallRow, record: &CallRecord) -> StoreResult<()> {
    sqlx::query(
        "UPDATE calls SET state = $2, history_id = $3, caller = $4, queue_dn = $5, agent_dn = $6, entered_at = $7, \
         answered_at = $8, left_queue_at = $9, ended_at = $10, wait_ms = $11, talk_ms = $12, outcome = $13, \
         phase = $14, reconciled = $15, queue_id = $16, item_id = $17, item_note = $18, revisions = $19, \
         updated_at = $20 WHERE id = $1",
    )
    .bind(row.id)
    .bind(state_json(&row.state)?)
    .bind(&record.history_id)
    .bind(&record.caller)
    .bind(&record.queue_dn)
    .bind(&record.agent_dn)
    .bind(record.entered_at)
    .bind(record.answered_at)
    .bind(record.left_queue_at)
    .bind(record.ended_at)
    .bind(record.wait_ms)
    .bind(record.talk_ms)
    .bind(apply::outcome_name(record.outcome))
    .bind(apply::phase_name(record.phase))
    .bind(record.reconciled)
    .bind(row.queue_id)
    .bind(row.item_id)
    .bind(&row.item_note)
    .bind(row.revisions)
    .bind(row.updated_at)
    .execute(conn)
    .await
    .map(|_| ())
    .map_err(db)
}

fn state_json(state: &CallState) -> StoreResult<serde_json::Value> {
    serde_json::to_value(state).map_err(StoreError::backend)
}

/// The tenant's call `key`, if stored; with `lock`, its row is locked for update.
async fn find(conn: &mut PgConnection, tenant: TenantId, key: CallKey, lock: bool) -> StoreResult<Option<CallRow>> {
    let lock = if lock { " FOR UPDATE" } else { "" };
    let row = sqlx::query(&format!(
        "SELECT {COLUMNS} FROM calls WHERE tenant_id = $1 AND connection_id = $2 AND call_id = $3{lock}"
    ))
    .bind(tenant)
    .bind(key.connection)
    .bind(key.call_id)
    .fetch_optional(conn)
    .await
    .map_err(db)?;
    row.as_ref().map(call_row).transpose()
}

async fn get(conn: &mut PgConnection, tenant: TenantId, key: CallKey) -> StoreResult<StoredCall> {
    let row = find(conn, tenant, key, false).await?.ok_or(StoreError::NotFound(Entity::Call))?;
    Ok(row.stored(tenant))
}

/// A page of the tenant's calls by first observation, filtered.
async fn list(
    conn: &mut PgConnection,
    tenant: TenantId,
    filter: &CallFilter,
    page: &PageRequest,
) -> StoreResult<Page<StoredCall>> {
    let sort = paging::column(page, &[CREATED_AT])?;
    let mut qb = QueryBuilder::<Postgres>::new(format!("SELECT {COLUMNS} FROM calls WHERE tenant_id = "));
    qb.push_bind(tenant);
    if let Some(connection_id) = filter.connection_id {
        qb.push(" AND connection_id = ").push_bind(connection_id);
    }
    if let Some(queue_id) = filter.queue_id {
        qb.push(" AND queue_id = ").push_bind(queue_id);
    }
    if let Some(outcome) = filter.outcome {
        qb.push(" AND outcome = ").push_bind(apply::outcome_name(outcome));
    }
    if let Some(reconciled) = filter.reconciled {
        qb.push(" AND reconciled = ").push_bind(reconciled);
    }
    if let Some(from) = filter.entered_from {
        qb.push(" AND entered_at >= ").push_bind(from);
    }
    if let Some(to) = filter.entered_to {
        qb.push(" AND entered_at < ").push_bind(to);
    }
    paging::push_keyset(&mut qb, page, sort, "id")?;
    let rows = qb.build().fetch_all(conn).await.map_err(db)?;
    let calls = rows.iter().map(call_row).collect::<StoreResult<Vec<_>>>()?;
    let page = page.finish(calls, |c| (CursorValue::Time(c.created_at), c.id));
    Ok(Page { items: page.items.iter().map(|c| c.stored(tenant)).collect(), next_cursor: page.next_cursor })
}

async fn get_checkpoint(
    conn: &mut PgConnection,
    tenant: TenantId,
    connection_id: Uuid,
    name: &str,
) -> StoreResult<Option<serde_json::Value>> {
    sqlx::query_scalar("SELECT value FROM worker_checkpoints WHERE tenant_id = $1 AND connection_id = $2 AND name = $3")
        .bind(tenant)
        .bind(connection_id)
        .bind(name)
        .fetch_optional(conn)
        .await
        .map_err(db)
}

async fn put_checkpoint(
    conn: &mut PgConnection,
    tenant: TenantId,
    connection_id: Uuid,
    name: &str,
    value: &serde_json::Value,
    now: DateTime<Utc>,
) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO worker_checkpoints (tenant_id, connection_id, name, value, updated_at) \
         VALUES ($1, $2, $3, $4, $5) ON CONFLICT (tenant_id, connection_id, name) \
         DO UPDATE SET value = EXCLUDED.value, updated_at = EXCLUDED.updated_at",
    )
    .bind(tenant)
    .bind(connection_id)
    .bind(name)
    .bind(value)
    .bind(now)
    .execute(conn)
    .await
    .map(|_| ())
    .map_err(db)
}

fn call_row(row: &PgRow) -> StoreResult<CallRow> {
    Ok(CallRow {
        id: col(row, "id")?,
        state: serde_json::from_value(col(row, "state")?).map_err(StoreError::backend)?,
        queue_id: col(row, "queue_id")?,
        item_id: col(row, "item_id")?,
        item_note: col(row, "item_note")?,
        revisions: col(row, "revisions")?,
        created_at: col(row, "created_at")?,
        updated_at: col(row, "updated_at")?,
    })
}

fn lease_from_row(row: &PgRow) -> StoreResult<WorkerLease> {
    Ok(WorkerLease {
        name: col(row, "name")?,
        holder: col(row, "holder")?,
        expires_at: col(row, "expires_at")?,
        epoch: col(row, "epoch")?,
    })
}
