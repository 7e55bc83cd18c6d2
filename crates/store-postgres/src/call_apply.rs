//! Applying observations to calls: one call ([`apply_call`]) or a batch of inbox messages
//! ([`apply_batch`]), each in one tenant transaction (see [`crate::calls`] for the locking).
//!
//! A batch applies at once when it can: one statement settles every lease, one locks every
//! stored call (with its item's session) and one inserts the new ones, the messages merge
//! through the transaction's [`Lookups`] without a savepoint each, one statement writes the
//! changed calls and one appends the outbox rows. When a message fails, that transaction is
//! rolled back and the batch applies one message at a time instead, each under its own
//! savepoint (settlement included), so the failing message is rolled back alone.

use std::collections::HashSet;

use chrono::{DateTime, Utc};
use lineup_domain::call::{CallKey, CallRecord, Observation, Phase};
use lineup_domain::{DomainError, DomainEvent, Item, TenantId};
use lineup_store::calls::apply::{self, ItemMove};
use lineup_store::{
    AppliedCall, BatchApplied, Entity, InboxApplication, InboxLease, Settlement, StoreError, StoreResult, CALL_ACTOR,
};
use sqlx::{Connection, PgConnection};
use uuid::Uuid;

use crate::call_lookups::Lookups;
use crate::calls::{find, state_json, CallRow};
use crate::inbox::{complete_many, complete_on};
use crate::rows::db;
use crate::{events, items, sessions, tenant_tx, PostgresStore};

/// Applies observations of one call in one transaction, settling `lease` first when given (see
/// [`lineup_store::CallStore::apply_call_observations`]); the observations are checked already.
pub(crate) async fn apply_call(
    store: &PostgresStore,
    tenant: TenantId,
    key: CallKey,
    observations: &[Observation],
    lease: Option<&InboxLease>,
    now: DateTime<Utc>,
) -> StoreResult<AppliedCall> {
    let mut tx = tenant_tx(&store.pool, tenant).await?;
    if let Some(lease) = lease {
        if complete_on(&mut tx, tenant, lease, now).await? == Settlement::LeaseLost {
            let call = match find(&mut tx, tenant, key, false).await? {
                Some(row) => row.stored(tenant),
                None => apply::unstored(tenant, key, now),
            };
            tx.rollback().await.map_err(db)?;
            let item_moves = Vec::new();
            return Ok(AppliedCall { call, changed: false, item_created: false, item_moves, lease_lost: true });
        }
    }
    let mut lookups = Lookups::default();
    let (applied, events) = merge(&mut tx, &mut lookups, tenant, key, observations, now).await?;
    write_calls(&mut tx, lookups.take_changed()).await?;
    events::append_all(&mut tx, tenant, &events, now).await?;
    tx.commit().await.map_err(db)?;
    Ok(applied)
}

/// Applies a batch of one tenant's inbox messages (see
/// [`lineup_store::CallStore::apply_inbox_batch`]): at once when every message applies, else
/// one message at a time.
pub(crate) async fn apply_batch(
    store: &PostgresStore,
    tenant: TenantId,
    messages: &[InboxApplication],
    now: DateTime<Utc>,
) -> StoreResult<Vec<BatchApplied>> {
    let checks = apply::check_batch(tenant, messages);
    if let Some(results) = apply_at_once(store, tenant, messages, &checks, now).await? {
        return Ok(results);
    }
    apply_one_by_one(store, tenant, messages, checks, now).await
}

/// Applies a batch in one transaction without a savepoint per message: every lease settled by
/// one statement, every call got by one or two, every changed call written by one, every outbox
/// row by one. `None` (and nothing kept) when applying a message fails (its merge, or getting
/// or writing the calls): the caller then applies the batch one message at a time.
async fn apply_at_once(
    store: &PostgresStore,
    tenant: TenantId,
    messages: &[InboxApplication],
    checks: &[Result<(), String>],
    now: DateTime<Utc>,
) -> StoreResult<Option<Vec<BatchApplied>>> {
    let leases: Vec<&InboxLease> =
        messages.iter().zip(checks).filter(|(_, check)| check.is_ok()).map(|(m, _)| &m.lease).collect();
    if leases.iter().map(|l| l.message_id).collect::<HashSet<_>>().len() < leases.len() {
        // One message twice: only settling one lease at a time tells which one settles it.
        return Ok(None);
    }
    let mut tx = tenant_tx(&store.pool, tenant).await?;
    let settled = complete_many(&mut tx, tenant, &leases, now).await?;
    let mut events = Vec::new();
    let results = match merge_all(&mut tx, tenant, messages, checks, &settled, &mut events, now).await {
        Ok(results) => results,
        Err(_) => {
            tx.rollback().await.map_err(db)?;
            return Ok(None);
        }
    };
    events::append_all(&mut tx, tenant, &events, now).await?;
    tx.commit().await.map_err(db)?;
    Ok(Some(results))
}

/// Merges the messages whose leases were `settled` through one transaction's lookups (their
/// calls got at once first) and writes the changed calls; pushes the events to append.
async fn merge_all(
    conn: &mut PgConnection,
    tenant: TenantId,
    messages: &[InboxApplication],
    checks: &[Result<(), String>],
    settled: &HashSet<Uuid>,
    events: &mut Vec<DomainEvent>,
    now: DateTime<Utc>,
) -> StoreResult<Vec<BatchApplied>> {
    let mut lookups = Lookups::default();
    let applying =
        |(m, check): &(&InboxApplication, &Result<(), String>)| check.is_ok() && settled.contains(&m.lease.message_id);
    let keys: Vec<CallKey> = messages.iter().zip(checks).filter(applying).map(|(m, _)| m.observation.call).collect();
    lookups.preload(&mut *conn, tenant, &keys, now).await?;
    let mut results = Vec::with_capacity(messages.len());
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
        let (applied, mut made) =
            merge(&mut *conn, &mut lookups, tenant, message.observation.call, observations, now).await?;
        events.append(&mut made);
        results.push(BatchApplied::Applied(Box::new(applied)));
    }
    write_calls(conn, lookups.take_changed()).await?;
    Ok(results)
}

/// Applies a batch in one transaction with a savepoint per message (settlement included), so a
/// failing message is rolled back alone and is retried later.
async fn apply_one_by_one(
    store: &PostgresStore,
    tenant: TenantId,
    messages: &[InboxApplication],
    checks: Vec<Result<(), String>>,
    now: DateTime<Utc>,
) -> StoreResult<Vec<BatchApplied>> {
    let mut tx = tenant_tx(&store.pool, tenant).await?;
    let mut lookups = Lookups::default();
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
        let key = message.observation.call;
        let observations = std::slice::from_ref(&message.observation);
        let merged = match merge(&mut savepoint, &mut lookups, tenant, key, observations, now).await {
            Ok(merged) => write_calls(&mut savepoint, lookups.take_changed()).await.map(|()| merged),
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
                lookups.forget_call(key);
                lookups.clear();
                results.push(BatchApplied::Failed(e.to_string()));
            }
        }
    }
    events::append_all(&mut tx, tenant, &events, now).await?;
    tx.commit().await.map_err(db)?;
    Ok(results)
}

/// Merges the observations into the call (locked, or inserted by the lookups) and carries the
/// change into the call's item; returns what it did and the events for the caller to append
/// last. The changed call is recorded in `lookups` for the caller to write. Unchanged: nothing
/// is written (a new call's row is kept: it was observed).
async fn merge(
    conn: &mut PgConnection,
    lookups: &mut Lookups,
    tenant: TenantId,
    key: CallKey,
    observations: &[Observation],
    now: DateTime<Utc>,
) -> StoreResult<(AppliedCall, Vec<DomainEvent>)> {
    let (mut row, created) = lookups.call(&mut *conn, tenant, key, now).await?;
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
        let session_id = lookups.item_session(&mut *conn, tenant, item_id).await?;
        if let (Some(session_id), Some(queue_id)) = (session_id, row.queue_id) {
            events.push(DomainEvent::call_updated(session_id, item_id, queue_id, &record));
        }
    }
    let call = row.stored(tenant);
    lookups.changed_call(key, row);
    Ok((AppliedCall { call, changed: true, item_created, item_moves, lease_lost: false }, events))
}

/// Makes the call's item under a savepoint: `Err(note)` when the domain refuses it (inactive
/// queue, metadata the schema refuses), and then nothing of the attempt is kept (not even a
/// session it opened).
async fn place_item(
    conn: &mut PgConnection,
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
    let mut savepoint = conn.begin().await.map_err(db)?;
    match place(&mut savepoint, lookups, tenant, queue_id, latest, record, now).await {
        Ok(placed) => {
            savepoint.commit().await.map_err(db)?;
            Ok(Ok(placed))
        }
        Err(StoreError::Domain(refused)) => {
            savepoint.rollback().await.map_err(db)?;
            lookups.clear();
            Ok(Err(refused.to_string()))
        }
        Err(e) => Err(e),
    }
}

/// Adds the call's item, in `Waiting`, to the queue's latest active session (`latest`, locked),
/// opening one when it has none: then under the queue row's lock, looking again first, so
/// concurrent first calls of a queue open one session.
async fn place(
    conn: &mut PgConnection,
    lookups: &mut Lookups,
    tenant: TenantId,
    queue_id: Uuid,
    latest: Option<Uuid>,
    record: &CallRecord,
    now: DateTime<Utc>,
) -> StoreResult<(Item, DomainEvent)> {
    let session_id = match latest {
        Some(session_id) => session_id,
        None => {
            ensure_queue_active(conn, tenant, queue_id, true).await?;
            let session_id = match sessions::latest_active(conn, tenant, queue_id).await? {
                Some(found) => found.session.id,
                None => {
                    let name = apply::session_name(record, now);
                    sessions::open(conn, tenant, queue_id, Some(name), now).await?.id
                }
            };
            lookups.opened_session(queue_id, session_id);
            session_id
        }
    };
    let session = lookups.session(&mut *conn, tenant, session_id).await?;
    let waiting = session
        .statuses
        .iter()
        .find(|s| s.label == Phase::Waiting.status_label())
        .ok_or_else(|| apply::missing_status(Phase::Waiting))?;
    let valid = apply::new_item(record, waiting.id).validate()?;
    let placed = items::insert(conn, tenant, &session.row, &session.statuses, valid, CALL_ACTOR, now).await?;
    lookups.placed_item(placed.0.id, session_id);
    Ok(placed)
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

/// Moves the call's item (`known` when just placed, else read and locked) to `phase`'s status,
/// pushing one event per move; returns the moves. An item that is gone, or of a completed,
/// archived or deleted session, is left where it is.
#[allow(clippy::too_many_arguments)]
async fn move_item(
    conn: &mut PgConnection,
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
        None => match items::load(&mut *conn, tenant, item_id, true).await {
            Ok(item) => item,
            Err(StoreError::NotFound(Entity::Item)) => return Ok(Vec::new()),
            Err(e) => return Err(e),
        },
    };
    let session = lookups.session(&mut *conn, tenant, item.session_id).await?;
    if session.row.session.ensure_open().is_err() {
        return Ok(Vec::new());
    }
    let all = &session.statuses;
    let status_of = |label: &str| all.iter().find(|s| s.label == label).map(|s| s.id);
    status_of(phase.status_label()).ok_or_else(|| apply::missing_status(phase))?;
    let current = all.iter().find(|s| s.id == item.status_id).ok_or_else(|| {
        StoreError::Backend(format!("item {item_id} is in status {}, which its session does not have", item.status_id))
    })?;
    let moves = apply::item_moves(&session.row.machine, &current.label, phase);
    for step in &moves {
        let to = match step {
            ItemMove::Transition(name) => items::resolve_move(&session.row, all, &item, &ItemMove::request(name))?,
            ItemMove::Direct(label) => status_of(label).ok_or_else(|| apply::missing_status(phase))?,
        };
        events.push(items::move_to(&mut *conn, tenant, &mut item, to, CALL_ACTOR, now).await?);
    }
    Ok(moves.iter().map(|m| m.name().to_string()).collect())
}

/// Stores changed call rows (each locked, or inserted, by this transaction) with the record
/// columns derived from their state, in one statement.
async fn write_calls(conn: &mut PgConnection, rows: Vec<CallRow>) -> StoreResult<()> {
    if rows.is_empty() {
        return Ok(());
    }
    let records: Vec<CallRecord> = rows.iter().map(|r| r.state.record()).collect();
    let ids: Vec<Uuid> = rows.iter().map(|r| r.id).collect();
    let states = rows.iter().map(|r| state_json(&r.state)).collect::<StoreResult<Vec<_>>>()?;
    let text = |f: fn(&CallRecord) -> &Option<String>| records.iter().map(|r| f(r).as_deref()).collect::<Vec<_>>();
    let time = |f: fn(&CallRecord) -> Option<DateTime<Utc>>| records.iter().map(f).collect::<Vec<_>>();
    let outcomes: Vec<String> = records.iter().map(|r| apply::outcome_name(r.outcome)).collect();
    let phases: Vec<String> = records.iter().map(|r| apply::phase_name(r.phase)).collect();
    let updated = sqlx::query(
        "UPDATE calls c SET state = v.state, history_id = v.history_id, caller = v.caller, queue_dn = v.queue_dn, \
         agent_dn = v.agent_dn, entered_at = v.entered_at, answered_at = v.answered_at, \
         left_queue_at = v.left_queue_at, ended_at = v.ended_at, wait_ms = v.wait_ms, talk_ms = v.talk_ms, \
         outcome = v.outcome, phase = v.phase, reconciled = v.reconciled, queue_id = v.queue_id, \
         item_id = v.item_id, item_note = v.item_note, revisions = v.revisions, updated_at = v.updated_at \
         FROM UNNEST($1::uuid[], $2::jsonb[], $3::text[], $4::text[], $5::text[], $6::text[], $7::timestamptz[], \
         $8::timestamptz[], $9::timestamptz[], $10::timestamptz[], $11::int8[], $12::int8[], $13::text[], \
         $14::text[], $15::bool[], $16::uuid[], $17::uuid[], $18::text[], $19::int8[], $20::timestamptz[]) \
         AS v (id, state, history_id, caller, queue_dn, agent_dn, entered_at, answered_at, left_queue_at, \
         ended_at, wait_ms, talk_ms, outcome, phase, reconciled, queue_id, item_id, item_note, revisions, \
         updated_at) WHERE c.id = v.id",
    )
    .bind(&ids)
    .bind(&states)
    .bind(text(|r| &r.history_id))
    .bind(text(|r| &r.caller))
    .bind(text(|r| &r.queue_dn))
    .bind(text(|r| &r.agent_dn))
    .bind(time(|r| r.entered_at))
    .bind(time(|r| r.answered_at))
    .bind(time(|r| r.left_queue_at))
    .bind(time(|r| r.ended_at))
    .bind(records.iter().map(|r| r.wait_ms).collect::<Vec<_>>())
    .bind(records.iter().map(|r| r.talk_ms).collect::<Vec<_>>())
    .bind(&outcomes)
    .bind(&phases)
    .bind(records.iter().map(|r| r.reconciled).collect::<Vec<_>>())
    .bind(rows.iter().map(|r| r.queue_id).collect::<Vec<_>>())
    .bind(rows.iter().map(|r| r.item_id).collect::<Vec<_>>())
    .bind(rows.iter().map(|r| r.item_note.as_deref()).collect::<Vec<_>>())
    .bind(rows.iter().map(|r| r.revisions).collect::<Vec<_>>())
    .bind(rows.iter().map(|r| r.updated_at).collect::<Vec<_>>())
    .execute(conn)
    .await
    .map_err(db)?
    .rows_affected();
    if updated != rows.len() as u64 {
        return Err(StoreError::Backend(format!("{} of {} changed calls were stored", updated, rows.len())));
    }
    Ok(())
}
