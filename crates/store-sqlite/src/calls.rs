//! [`CallStore`] for [`SqliteStore`]: calls, worker checkpoints and worker leases.
//!
//! Applying observations is one transaction on the single writer connection, so applications
//! (of one call or of many) are serialised in the process and no merge is ever lost. It settles
//! the inbox lease first (a lost lease stops it before anything is written), merges, places and
//! moves the call's item with the same functions the item and session methods use, writes the
//! call row and last the outbox rows. Reads use the reader pool.

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
    Page, PageRequest, Settlement, SortKey, StoreError, StoreResult, StoredCall, WorkerLease, CALL_ACTOR,
};
use sqlx::sqlite::SqliteRow;
use sqlx::{Connection, SqliteConnection, SqliteExecutor};
use uuid::Uuid;

use crate::call_lookups::Lookups;
use crate::codec::{db, id, json, ts, RowExt};
use crate::inbox::{complete_many, complete_on};
use crate::paging::{bind_after, keyset};
use crate::{events, items, sessions, SqliteStore};

pub(crate) const COLUMNS: &str = "id, state, queue_id, item_id, item_note, revisions, created_at, updated_at";

/// What a released lease expires at: long past, so anyone may take it.
const RELEASED: &str = "1970-01-01T00:00:00.000000Z";

/// A call row as this module works on it: the state and what surrounds it.
#[derive(Clone)]
pub(crate) struct CallRow {
    id: Uuid,
    state: CallState,
    queue_id: Option<Uuid>,
    pub(crate) item_id: Option<Uuid>,
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

    pub(crate) fn stored(&self, tenant: TenantId) -> StoredCall {
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
impl CallStore for SqliteStore {
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
        let mut tx = self.writer.begin().await.map_err(db)?;
        if let Some(lease) = lease {
            if complete_on(&mut tx, lease, now).await? == Settlement::LeaseLost {
                let call = match find(&mut *tx, tenant, key).await? {
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
        let mut lookups = Lookups::default();
        let (applied, events) = merge(&mut tx, &mut lookups, tenant, key, observations, now).await?;
        lookups.flush(&mut tx, tenant).await?;
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
        if let Some(results) = apply_at_once(self, tenant, messages, &checks, now).await? {
            return Ok(results);
        }
        apply_one_by_one(self, tenant, messages, checks, now).await
    }

    async fn call_queues(&self, tenant: TenantId, keys: &[CallKey]) -> StoreResult<HashMap<CallKey, Uuid>> {
        let mut queues = HashMap::new();
        // Bound the statement's parameters (SQLite allows 32,766).
        for chunk in keys.chunks(1000) {
            let pairs = vec!["(?, ?)"; chunk.len()].join(", ");
            let sql = format!(
                "SELECT connection_id, call_id, queue_id FROM calls WHERE tenant_id = ? AND queue_id IS NOT NULL \
                 AND (connection_id, call_id) IN (VALUES {pairs})"
            );
            let mut query = sqlx::query(&sql).bind(id(tenant));
            for key in chunk {
                query = query.bind(id(key.connection)).bind(key.call_id);
            }
            for row in query.fetch_all(&self.reader).await.map_err(db)? {
                let call_id = i32::try_from(row.int("call_id")?)
                    .map_err(|e| StoreError::Backend(format!("calls.call_id out of range: {e}")))?;
                let key = CallKey { connection: row.uuid("connection_id")?, call_id };
                queues.insert(key, row.uuid("queue_id")?);
            }
        }
        Ok(queues)
    }

    async fn get_call(&self, tenant: TenantId, key: CallKey) -> StoreResult<StoredCall> {
        let row = find(&self.reader, tenant, key).await?.ok_or(StoreError::NotFound(Entity::Call))?;
        Ok(row.stored(tenant))
    }

    async fn list_calls(
        &self,
        tenant: TenantId,
        filter: &CallFilter,
        page: &PageRequest,
    ) -> StoreResult<Page<StoredCall>> {
        list(self, tenant, filter, page).await
    }

    async fn get_checkpoint(
        &self,
        tenant: TenantId,
        connection_id: Uuid,
        name: &str,
    ) -> StoreResult<Option<serde_json::Value>> {
        let row =
            sqlx::query("SELECT value FROM worker_checkpoints WHERE tenant_id = ? AND connection_id = ? AND name = ?")
                .bind(id(tenant))
                .bind(id(connection_id))
                .bind(name)
                .fetch_optional(&self.reader)
                .await
                .map_err(db)?;
        row.map(|r| r.json("value")).transpose()
    }

    async fn put_checkpoint(
        &self,
        tenant: TenantId,
        connection_id: Uuid,
        name: &str,
        value: &serde_json::Value,
        now: DateTime<Utc>,
    ) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO worker_checkpoints (tenant_id, connection_id, name, value, updated_at) VALUES (?, ?, ?, ?, ?) \
             ON CONFLICT (tenant_id, connection_id, name) DO UPDATE SET value = excluded.value, \
             updated_at = excluded.updated_at",
        )
        .bind(id(tenant))
        .bind(id(connection_id))
        .bind(name)
        .bind(json(value))
        .bind(ts(to_micros(now)))
        .execute(&self.writer)
        .await
        .map(|_| ())
        .map_err(db)
    }

    async fn acquire_lease(
        &self,
        name: &str,
        holder: &str,
        now: DateTime<Utc>,
        ttl: Duration,
    ) -> StoreResult<Option<WorkerLease>> {
        // One statement: taken when new, expired or already the holder's; the epoch grows when
        // the holder changes.
        let row = sqlx::query(
            "INSERT INTO worker_leases (name, holder, expires_at, epoch) VALUES (?1, ?2, ?3, 1) \
             ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at, \
             epoch = epoch + (holder <> excluded.holder) \
             WHERE worker_leases.expires_at <= ?4 OR worker_leases.holder = excluded.holder \
             RETURNING name, holder, expires_at, epoch",
        )
        .bind(name)
        .bind(holder)
        .bind(ts(lease_until(now, ttl)))
        .bind(ts(to_micros(now)))
        .fetch_optional(&self.writer)
        .await
        .map_err(db)?;
        row.as_ref().map(lease_from_row).transpose()
    }

    async fn release_lease(&self, name: &str, holder: &str) -> StoreResult<()> {
        sqlx::query("UPDATE worker_leases SET expires_at = ? WHERE name = ? AND holder = ?")
            .bind(RELEASED)
            .bind(name)
            .bind(holder)
            .execute(&self.writer)
            .await
            .map(|_| ())
            .map_err(db)
    }

    async fn list_leases(&self) -> StoreResult<Vec<WorkerLease>> {
        let rows = sqlx::query("SELECT name, holder, expires_at, epoch FROM worker_leases ORDER BY name")
            .fetch_all(&self.reader)
            .await
            .map_err(db)?;
        rows.iter().map(lease_from_row).collect()
    }
}

/// Applies a batch in one transaction without a savepoint per message: every lease settled by
/// one statement, every call read by one, every outbox row written by one. `None` (and nothing
/// kept) when a message fails: the caller then applies the batch one message at a time.
async fn apply_at_once(
    store: &SqliteStore,
    tenant: TenantId,
    messages: &[InboxApplication],
    checks: &[Result<(), String>],
    now: DateTime<Utc>,
) -> StoreResult<Option<Vec<BatchApplied>>> {
    let mut tx = store.writer.begin().await.map_err(db)?;
    let valid: Vec<&InboxApplication> =
        messages.iter().zip(checks).filter(|(_, check)| check.is_ok()).map(|(m, _)| m).collect();
    let leases: Vec<&InboxLease> = valid.iter().map(|m| &m.lease).collect();
    let settled = complete_many(&mut tx, &leases, now).await?;
    let mut lookups = Lookups::default();
    let keys: Vec<CallKey> =
        valid.iter().filter(|m| settled.contains(&m.lease.message_id)).map(|m| m.observation.call).collect();
    lookups.preload(&mut tx, tenant, &keys).await?;
    let mut results = Vec::with_capacity(messages.len());
    let mut events = Vec::new();
    for (message, check) in messages.iter().zip(checks) {
        if let Err(reason) = check {
            results.push(BatchApplied::Failed(reason.clone()));
            continue;
        }
        if !settled.contains(&message.lease.message_id) {
            results.push(BatchApplied::LeaseLost);
            continue;
        }
        let observations = std::slice::from_ref(&message.observation);
        match merge(&mut tx, &mut lookups, tenant, message.observation.call, observations, now).await {
            Ok((applied, mut made)) => {
                events.append(&mut made);
                results.push(BatchApplied::Applied(Box::new(applied)));
            }
            Err(_) => {
                tx.rollback().await.map_err(db)?;
                return Ok(None);
            }
        }
    }
    lookups.flush(&mut tx, tenant).await?;
    events::append_all(&mut tx, tenant, &events, now).await?;
    tx.commit().await.map_err(db)?;
    Ok(Some(results))
}

/// Applies a batch in one transaction with a savepoint per message (settlement included), so a
/// failing message is rolled back alone and is retried later.
async fn apply_one_by_one(
    store: &SqliteStore,
    tenant: TenantId,
    messages: &[InboxApplication],
    checks: Vec<Result<(), String>>,
    now: DateTime<Utc>,
) -> StoreResult<Vec<BatchApplied>> {
    let mut tx = store.writer.begin().await.map_err(db)?;
    let mut lookups = Lookups::default();
    let mut results = Vec::with_capacity(messages.len());
    let mut events = Vec::new();
    for (message, check) in messages.iter().zip(checks) {
        if let Err(reason) = check {
            results.push(BatchApplied::Failed(reason));
            continue;
        }
        let mut savepoint = tx.begin().await.map_err(db)?;
        if complete_on(&mut savepoint, &message.lease, now).await? == Settlement::LeaseLost {
            savepoint.rollback().await.map_err(db)?;
            results.push(BatchApplied::LeaseLost);
            continue;
        }
        let observations = std::slice::from_ref(&message.observation);
        let merged =
            match merge(&mut savepoint, &mut lookups, tenant, message.observation.call, observations, now).await {
                Ok(merged) => lookups.flush(&mut savepoint, tenant).await.map(|()| merged),
                Err(e) => Err(e),
            };
        match merged {
            Ok((applied, mut made)) => {
                savepoint.commit().await.map_err(db)?;
                events.append(&mut made);
                results.push(BatchApplied::Applied(Box::new(applied)));
            }
            Err(e) => {
                savepoint.rollback().await.map_err(db)?;
                lookups.reset();
                results.push(BatchApplied::Failed(e.to_string()));
            }
        }
    }
    events::append_all(&mut tx, tenant, &events, now).await?;
    tx.commit().await.map_err(db)?;
    Ok(results)
}

/// Merges the observations into the call inside the caller's write transaction and carries the
/// change into the call's item; returns what it did and the events to append. Unchanged: nothing
/// is written.
async fn merge(
    conn: &mut SqliteConnection,
    lookups: &mut Lookups,
    tenant: TenantId,
    key: CallKey,
    observations: &[Observation],
    now: DateTime<Utc>,
) -> StoreResult<(AppliedCall, Vec<DomainEvent>)> {
    let (mut row, created) = match lookups.call(&mut *conn, tenant, key).await? {
        Some(row) => (row, false),
        None => (CallRow::new(key, now), true),
    };
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
    let mut placed = None;
    if row.item_id.is_none() {
        row.queue_id = match &record.queue_dn {
            Some(dn) => lookups.mapped_queue(&mut *conn, tenant, key.connection, dn).await?,
            None => None,
        };
        row.item_note = None;
        if let Some(queue_id) = row.queue_id {
            match place_item(conn, lookups, tenant, queue_id, &record, now).await? {
                Ok((item, event)) => {
                    row.item_id = Some(item.id);
                    item_created = true;
                    events.push(event);
                    placed = Some(item);
                }
                Err(note) => row.item_note = Some(note),
            }
        }
    }
    let mut item_moves = Vec::new();
    if let Some(item_id) = row.item_id {
        if placed.is_some() || before.phase != record.phase {
            let item = placed.take();
            item_moves = move_item(conn, lookups, tenant, item_id, item, record.phase, now, &mut events).await?;
        }
        let session_id = lookups.item(&mut *conn, tenant, item_id).await?.map(|item| item.session_id);
        if let (Some(session_id), Some(queue_id)) = (session_id, row.queue_id) {
            events.push(DomainEvent::call_updated(session_id, item_id, queue_id, &record));
        }
    }
    let call = row.stored(tenant);
    lookups.changed_call(key, row);
    Ok((AppliedCall { call, changed: true, item_created, item_moves, lease_lost: false }, events))
}

/// Makes the call's item: `Err(note)` when the domain refuses it (inactive queue, metadata the
/// schema refuses), and then nothing of the attempt is kept (not even a session it opened: the
/// opening is under a savepoint).
async fn place_item(
    conn: &mut SqliteConnection,
    lookups: &mut Lookups,
    tenant: TenantId,
    queue_id: Uuid,
    record: &CallRecord,
    now: DateTime<Utc>,
) -> StoreResult<Result<(Item, DomainEvent), String>> {
    let (active, latest) = lookups.queue(&mut *conn, tenant, queue_id).await?;
    if !active {
        return Ok(Err(DomainError::QueueInactive.to_string()));
    }
    if let Some(session_id) = latest {
        return match place(conn, lookups, tenant, session_id, record, now).await {
            Err(StoreError::Domain(refused)) => Ok(Err(refused.to_string())),
            placed => placed.map(Ok),
        };
    }
    let mut savepoint = conn.begin().await.map_err(db)?;
    let name = apply::session_name(record, now);
    let opened = sessions::open(&mut savepoint, tenant, queue_id, Some(name), now).await?;
    lookups.opened_session(queue_id, opened.id);
    match place(&mut savepoint, lookups, tenant, opened.id, record, now).await {
        Ok(placed) => {
            savepoint.commit().await.map_err(db)?;
            Ok(Ok(placed))
        }
        Err(StoreError::Domain(refused)) => {
            savepoint.rollback().await.map_err(db)?;
            lookups.forget_session(queue_id, opened.id);
            Ok(Err(refused.to_string()))
        }
        Err(e) => Err(e),
    }
}

/// Stages the call's item, in `Waiting`, in `session_id` (its queue's latest active session).
async fn place(
    conn: &mut SqliteConnection,
    lookups: &mut Lookups,
    tenant: TenantId,
    session_id: Uuid,
    record: &CallRecord,
    now: DateTime<Utc>,
) -> StoreResult<(Item, DomainEvent)> {
    let session = lookups.session(&mut *conn, tenant, session_id).await?;
    let waiting = session
        .statuses
        .iter()
        .find(|s| s.label == Phase::Waiting.status_label())
        .ok_or_else(|| apply::missing_status(Phase::Waiting))?;
    let valid = apply::new_item(record, waiting.id).validate()?;
    let (item, event) =
        lookups.writes.insert(conn, tenant, &session.row, &session.statuses, valid, CALL_ACTOR, now).await?;
    lookups.changed_item(item.clone());
    Ok((item, event))
}

/// Moves the call's item (`known` when just placed, else read) to `phase`'s status, pushing one
/// event per move; returns the moves. An item that is gone, or of a completed, archived or
/// deleted session, is left where it is.
#[allow(clippy::too_many_arguments)]
async fn move_item(
    conn: &mut SqliteConnection,
    lookups: &mut Lookups,
    tenant: TenantId,
    item_id: Uuid,
    known: Option<Item>,
    phase: Phase,
    now: DateTime<Utc>,
    events: &mut Vec<DomainEvent>,
) -> StoreResult<Vec<String>> {
    let mut item = match known {
        Some(item) => item,
        None => match lookups.item(&mut *conn, tenant, item_id).await? {
            Some(item) => item,
            None => return Ok(Vec::new()),
        },
    };
    let session = lookups.session(&mut *conn, tenant, item.session_id).await?;
    if session.row.session.ensure_open().is_err() {
        return Ok(Vec::new());
    }
    let statuses = &session.statuses;
    let status_of = |label: &str| statuses.iter().find(|s| s.label == label).map(|s| s.id);
    status_of(phase.status_label()).ok_or_else(|| apply::missing_status(phase))?;
    let current = statuses
        .iter()
        .find(|s| s.id == item.status_id)
        .ok_or_else(|| StoreError::Backend("the item's status is missing from its session".into()))?;
    let moves = apply::item_moves(&session.row.machine, &current.label, phase);
    for step in &moves {
        let to = match step {
            ItemMove::Transition(name) => items::resolve_move(&session.row, statuses, &item, &ItemMove::request(name))?,
            ItemMove::Direct(label) => status_of(label).ok_or_else(|| apply::missing_status(phase))?,
        };
        events.push(lookups.writes.move_to(&mut item, to, CALL_ACTOR, now));
    }
    if !moves.is_empty() {
        lookups.changed_item(item);
    }
    Ok(moves.iter().map(|m| m.name().to_string()).collect())
}

/// The columns of a call row, in the order [`write_calls`] binds them.
const WRITE_COLUMNS: &str = "id, tenant_id, connection_id, call_id, state, history_id, caller, queue_dn, agent_dn, \
     entered_at, answered_at, left_queue_at, ended_at, wait_ms, talk_ms, outcome, phase, reconciled, queue_id, \
     item_id, item_note, revisions, created_at, updated_at";

/// What an existing row takes from a written one (key and creation stay).
const UPSERT: &str = "ON CONFLICT (id) DO UPDATE SET state = excluded.state, history_id = excluded.history_id, \
     caller = excluded.caller, queue_dn = excluded.queue_dn, agent_dn = excluded.agent_dn, \
     entered_at = excluded.entered_at, answered_at = excluded.answered_at, left_queue_at = excluded.left_queue_at, \
     ended_at = excluded.ended_at, wait_ms = excluded.wait_ms, talk_ms = excluded.talk_ms, \
     outcome = excluded.outcome, phase = excluded.phase, reconciled = excluded.reconciled, \
     queue_id = excluded.queue_id, item_id = excluded.item_id, item_note = excluded.item_note, \
     revisions = excluded.revisions, updated_at = excluded.updated_at";

/// Stores call rows (new or changed) with the record columns derived from their state, 200 rows
/// a statement.
pub(crate) async fn write_calls(conn: &mut SqliteConnection, tenant: TenantId, rows: Vec<CallRow>) -> StoreResult<()> {
    for chunk in rows.chunks(200) {
        let placeholders = format!("({})", vec!["?"; 24].join(", "));
        let values = vec![placeholders.as_str(); chunk.len()].join(", ");
        let sql = format!("INSERT INTO calls ({WRITE_COLUMNS}) VALUES {values} {UPSERT}");
        let mut query = sqlx::query(&sql);
        for row in chunk {
            let record = row.state.record();
            let state = serde_json::to_string(&row.state).map_err(StoreError::backend)?;
            query = query
                .bind(id(row.id))
                .bind(id(tenant))
                .bind(id(record.key.connection))
                .bind(record.key.call_id)
                .bind(state)
                .bind(record.history_id)
                .bind(record.caller)
                .bind(record.queue_dn)
                .bind(record.agent_dn)
                .bind(record.entered_at.map(ts))
                .bind(record.answered_at.map(ts))
                .bind(record.left_queue_at.map(ts))
                .bind(record.ended_at.map(ts))
                .bind(record.wait_ms)
                .bind(record.talk_ms)
                .bind(apply::outcome_name(record.outcome))
                .bind(apply::phase_name(record.phase))
                .bind(record.reconciled)
                .bind(row.queue_id.map(id))
                .bind(row.item_id.map(id))
                .bind(row.item_note.clone())
                .bind(row.revisions)
                .bind(ts(row.created_at))
                .bind(ts(row.updated_at));
        }
        query.execute(&mut *conn).await.map_err(db)?;
    }
    Ok(())
}

/// The tenant's call `key`, if stored.
async fn find<'e>(conn: impl SqliteExecutor<'e>, tenant: TenantId, key: CallKey) -> StoreResult<Option<CallRow>> {
    let row =
        sqlx::query(&format!("SELECT {COLUMNS} FROM calls WHERE tenant_id = ? AND connection_id = ? AND call_id = ?"))
            .bind(id(tenant))
            .bind(id(key.connection))
            .bind(key.call_id)
            .fetch_optional(conn)
            .await
            .map_err(db)?;
    row.as_ref().map(from_row).transpose()
}

/// A page of the tenant's calls by first observation, filtered.
async fn list(
    store: &SqliteStore,
    tenant: TenantId,
    filter: &CallFilter,
    page: &PageRequest,
) -> StoreResult<Page<StoredCall>> {
    let ks = keyset(page, &[(SortKey::CreatedAt, "created_at")], "id")?;
    let mut conditions = String::new();
    let conditions_of = [
        (filter.connection_id.is_some(), " AND connection_id = ?"),
        (filter.queue_id.is_some(), " AND queue_id = ?"),
        (filter.outcome.is_some(), " AND outcome = ?"),
        (filter.reconciled.is_some(), " AND reconciled = ?"),
        (filter.entered_from.is_some(), " AND entered_at >= ?"),
        (filter.entered_to.is_some(), " AND entered_at < ?"),
    ];
    for (_, condition) in conditions_of.iter().filter(|(on, _)| *on) {
        conditions.push_str(condition);
    }
    let sql = format!("SELECT {COLUMNS} FROM calls WHERE tenant_id = ?{conditions}{}{}", ks.condition, ks.order_by);
    let mut q = sqlx::query(&sql).bind(id(tenant));
    if let Some(c) = filter.connection_id {
        q = q.bind(id(c));
    }
    if let Some(queue) = filter.queue_id {
        q = q.bind(id(queue));
    }
    if let Some(outcome) = filter.outcome {
        q = q.bind(apply::outcome_name(outcome));
    }
    if let Some(reconciled) = filter.reconciled {
        q = q.bind(reconciled);
    }
    if let Some(from) = filter.entered_from {
        q = q.bind(ts(from));
    }
    if let Some(to) = filter.entered_to {
        q = q.bind(ts(to));
    }
    let rows = bind_after(q, &ks.after_binds).fetch_all(&store.reader).await.map_err(db)?;
    let calls = rows.iter().map(from_row).collect::<StoreResult<Vec<_>>>()?;
    let page = page.finish(calls, |c| (CursorValue::Time(c.created_at), c.id));
    Ok(Page { items: page.items.iter().map(|c| c.stored(tenant)).collect(), next_cursor: page.next_cursor })
}

pub(crate) fn from_row(row: &SqliteRow) -> StoreResult<CallRow> {
    Ok(CallRow {
        id: row.uuid("id")?,
        state: serde_json::from_str(&row.text("state")?).map_err(StoreError::backend)?,
        queue_id: row.opt_uuid("queue_id")?,
        item_id: row.opt_uuid("item_id")?,
        item_note: row.opt_text("item_note")?,
        revisions: row.int("revisions")?,
        created_at: row.time("created_at")?,
        updated_at: row.time("updated_at")?,
    })
}

fn lease_from_row(row: &SqliteRow) -> StoreResult<WorkerLease> {
    Ok(WorkerLease {
        name: row.text("name")?,
        holder: row.text("holder")?,
        expires_at: row.time("expires_at")?,
        epoch: row.int("epoch")?,
    })
}
