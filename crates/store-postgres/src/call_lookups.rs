//! What applying calls reads, read once per transaction: the calls of a batch (one statement
//! locks all the stored ones, with their items' sessions; one more inserts the new ones), DN
//! mappings, queues' active sessions and sessions' machines and statuses. Every answer is kept
//! for the rest of the transaction, and the writers record what they change (a call merged, an
//! item placed, a session opened), so later messages of the batch see the transaction's own
//! writes.
//!
//! Calls are got as before, one at a time or many at once: a stored call's row is locked
//! (`FOR UPDATE`), a new call's row is inserted empty and so locked by this transaction, and of
//! concurrent first inserts one wins while the others wait for it and then lock its row. Changed
//! calls are kept here until the caller writes them ([`Lookups::take_changed`]): once per
//! transaction when the batch applies at once, once per savepoint otherwise.
//!
//! What is kept stays true while the transaction runs: the calls' rows are locked, and so is
//! every session kept (its row locked for update by [`sessions::latest_active`] or when it was
//! opened, or for share with the item [`crate::items::load`] read before), so its lifecycle,
//! machine and statuses cannot change before commit. Queues' activity and DN mappings are read
//! once per transaction. Locks taken under a savepoint that is rolled back are released: the
//! caller then clears the lookups ([`Lookups::clear`]), and forgets a call the savepoint may
//! have inserted or written ([`Lookups::forget_call`]).

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use chrono::{DateTime, Utc};
use lineup_domain::call::CallKey;
use lineup_domain::{SessionStatus, TenantId};
use lineup_store::calls::apply;
use lineup_store::{Entity, StoreError, StoreResult};
use sqlx::PgConnection;
use uuid::Uuid;

use crate::calls::{call_row, state_json, CallRow, COLUMNS};
use crate::rows::{col, db};
use crate::sessions::{self, Lock, SessionRow};
use crate::statuses;

/// How many times calls are looked for again after a concurrent insert of them.
const INSERT_RACE_RETRIES: usize = 3;

/// A session with its statuses by order.
pub(crate) struct SessionParts {
    /// The session with its machine and schema.
    pub row: SessionRow,
    /// Its statuses, as [`statuses::of_session`] orders them.
    pub statuses: Vec<SessionStatus>,
}

/// The transaction's lookups; see the [module docs](self).
#[derive(Default)]
pub(crate) struct Lookups {
    /// Calls by key, as stored (locked) or changed since.
    calls: HashMap<CallKey, CallRow>,
    /// Calls this transaction inserted empty and no merge has changed yet.
    fresh: HashSet<CallKey>,
    /// Calls changed and not written yet, in the order they first changed.
    changed: Vec<CallKey>,
    /// Items' sessions: `None` when the item or its session is gone.
    item_sessions: HashMap<Uuid, Option<Uuid>>,
    /// `(connection, DN)` → the mapped queue.
    mappings: HashMap<(Uuid, String), Option<Uuid>>,
    /// Queues: whether active, and their latest active session.
    queues: HashMap<Uuid, (bool, Option<Uuid>)>,
    sessions: HashMap<Uuid, Arc<SessionParts>>,
}

impl Lookups {
    /// Forgets what was read (after a savepoint rollback) but the calls: a rolled-back
    /// placement writes no call, and a caller whose savepoint may have written one forgets it
    /// with [`Lookups::forget_call`].
    pub fn clear(&mut self) {
        self.item_sessions.clear();
        self.mappings.clear();
        self.queues.clear();
        self.sessions.clear();
    }

    /// Forgets a call (after the rollback of a savepoint that may have inserted, locked or
    /// written its row): it is got again when next asked for.
    pub fn forget_call(&mut self, key: CallKey) {
        self.calls.remove(&key);
        self.fresh.remove(&key);
        self.changed.retain(|k| *k != key);
    }

    /// Gets the calls of `keys`: locks the stored ones' rows (reading their items' sessions
    /// too) in one statement, and inserts the others' rows empty in one more, stamped `now`.
    pub async fn preload(
        &mut self,
        conn: &mut PgConnection,
        tenant: TenantId,
        keys: &[CallKey],
        now: DateTime<Utc>,
    ) -> StoreResult<()> {
        let mut missing: Vec<CallKey> = keys.iter().filter(|k| !self.calls.contains_key(k)).copied().collect();
        missing.sort_unstable();
        missing.dedup();
        for _ in 0..=INSERT_RACE_RETRIES {
            if missing.is_empty() {
                return Ok(());
            }
            self.lock_stored(&mut *conn, tenant, &missing).await?;
            missing.retain(|k| !self.calls.contains_key(k));
            if missing.is_empty() {
                return Ok(());
            }
            self.insert_new(&mut *conn, tenant, &missing, now).await?;
            missing.retain(|k| !self.calls.contains_key(k));
        }
        match missing.first() {
            None => Ok(()),
            Some(key) => Err(StoreError::Backend(format!(
                "call {}/{} could be neither found nor inserted",
                key.connection, key.call_id
            ))),
        }
    }

    /// Locks and keeps the stored calls of `keys`, with their items' sessions.
    async fn lock_stored(&mut self, conn: &mut PgConnection, tenant: TenantId, keys: &[CallKey]) -> StoreResult<()> {
        let connections: Vec<Uuid> = keys.iter().map(|k| k.connection).collect();
        let call_ids: Vec<i32> = keys.iter().map(|k| k.call_id).collect();
        let columns: String = COLUMNS.split(", ").map(|c| format!("c.{c}")).collect::<Vec<_>>().join(", ");
        let rows = sqlx::query(&format!(
            "SELECT {columns}, c.connection_id, c.call_id, s.id AS item_session FROM calls c \
             JOIN UNNEST($2::uuid[], $3::int4[]) AS k (connection_id, call_id) \
             ON k.connection_id = c.connection_id AND k.call_id = c.call_id \
             LEFT JOIN items i ON i.id = c.item_id \
             LEFT JOIN sessions s ON s.id = i.session_id AND NOT s.is_deleted \
             WHERE c.tenant_id = $1 ORDER BY c.id FOR UPDATE OF c"
        ))
        .bind(tenant)
        .bind(&connections)
        .bind(&call_ids)
        .fetch_all(&mut *conn)
        .await
        .map_err(db)?;
        for row in &rows {
            let key = CallKey { connection: col(row, "connection_id")?, call_id: col(row, "call_id")? };
            let call = call_row(row)?;
            if let Some(item) = call.item_id {
                self.item_sessions.insert(item, col(row, "item_session")?);
            }
            self.calls.insert(key, call);
        }
        Ok(())
    }

    /// Inserts empty rows for the calls of `keys` and keeps those inserted (a call another
    /// transaction inserted first is left out: it is looked for again).
    async fn insert_new(
        &mut self,
        conn: &mut PgConnection,
        tenant: TenantId,
        keys: &[CallKey],
        now: DateTime<Utc>,
    ) -> StoreResult<()> {
        let mut fresh: HashMap<Uuid, (CallKey, CallRow)> = HashMap::with_capacity(keys.len());
        let (mut ids, mut connections, mut call_ids) = (Vec::new(), Vec::new(), Vec::new());
        let (mut states, mut outcomes, mut phases) = (Vec::new(), Vec::new(), Vec::new());
        for key in keys {
            let row = CallRow::new(*key, now);
            let record = row.state.record();
            ids.push(row.id);
            connections.push(key.connection);
            call_ids.push(key.call_id);
            states.push(state_json(&row.state)?);
            outcomes.push(apply::outcome_name(record.outcome));
            phases.push(apply::phase_name(record.phase));
            fresh.insert(row.id, (*key, row));
        }
        let inserted: Vec<Uuid> = sqlx::query_scalar(
            "INSERT INTO calls (id, tenant_id, connection_id, call_id, state, outcome, phase, reconciled, revisions, \
             created_at, updated_at) \
             SELECT k.id, $1, k.connection_id, k.call_id, k.state, k.outcome, k.phase, false, 0, $2, $2 \
             FROM UNNEST($3::uuid[], $4::uuid[], $5::int4[], $6::jsonb[], $7::text[], $8::text[]) \
             AS k (id, connection_id, call_id, state, outcome, phase) \
             ON CONFLICT (tenant_id, connection_id, call_id) DO NOTHING RETURNING id",
        )
        .bind(tenant)
        .bind(now)
        .bind(&ids)
        .bind(&connections)
        .bind(&call_ids)
        .bind(&states)
        .bind(&outcomes)
        .bind(&phases)
        .fetch_all(&mut *conn)
        .await
        .map_err(db)?;
        for id in inserted {
            if let Some((key, row)) = fresh.remove(&id) {
                self.fresh.insert(key);
                self.calls.insert(key, row);
            }
        }
        Ok(())
    }

    /// The call `key`, its row locked (inserted empty when it was not stored), and whether no
    /// application has merged into it yet (it is new).
    pub async fn call(
        &mut self,
        conn: &mut PgConnection,
        tenant: TenantId,
        key: CallKey,
        now: DateTime<Utc>,
    ) -> StoreResult<(CallRow, bool)> {
        if !self.calls.contains_key(&key) {
            self.preload(conn, tenant, &[key], now).await?;
        }
        let row = self.calls.get(&key).cloned().ok_or_else(|| {
            StoreError::Backend(format!("call {}/{} is not among the looked-up calls", key.connection, key.call_id))
        })?;
        Ok((row, self.fresh.contains(&key)))
    }

    /// Records a call as changed: later lookups see it, [`Lookups::take_changed`] hands it to
    /// the writer.
    pub fn changed_call(&mut self, key: CallKey, row: CallRow) {
        if !self.changed.contains(&key) {
            self.changed.push(key);
        }
        self.fresh.remove(&key);
        self.calls.insert(key, row);
    }

    /// The calls changed since the last call, each once, as they stand now.
    pub fn take_changed(&mut self) -> Vec<CallRow> {
        let keys = std::mem::take(&mut self.changed);
        keys.iter().filter_map(|key| self.calls.get(key).cloned()).collect()
    }

    /// The queue a DN of the connection feeds, if it is mapped.
    pub async fn mapped_queue(
        &mut self,
        conn: &mut PgConnection,
        tenant: TenantId,
        connection: Uuid,
        dn: &str,
    ) -> StoreResult<Option<Uuid>> {
        let key = (connection, dn.to_string());
        if let Some(found) = self.mappings.get(&key) {
            return Ok(*found);
        }
        let queue = sqlx::query_scalar(
            "SELECT queue_id FROM pbx_queue_mappings WHERE tenant_id = $1 AND connection_id = $2 AND dn = $3",
        )
        .bind(tenant)
        .bind(connection)
        .bind(dn)
        .fetch_optional(&mut *conn)
        .await
        .map_err(db)?;
        self.mappings.insert(key, queue);
        Ok(queue)
    }

    /// Whether the queue is active, and its latest active session (locked for update, kept with
    /// its statuses).
    pub async fn queue(
        &mut self,
        conn: &mut PgConnection,
        tenant: TenantId,
        queue_id: Uuid,
    ) -> StoreResult<(bool, Option<Uuid>)> {
        if let Some(found) = self.queues.get(&queue_id) {
            return Ok(*found);
        }
        let active: bool = sqlx::query_scalar("SELECT is_active FROM queues WHERE tenant_id = $1 AND id = $2")
            .bind(tenant)
            .bind(queue_id)
            .fetch_optional(&mut *conn)
            .await
            .map_err(db)?
            .ok_or(StoreError::NotFound(Entity::Queue))?;
        let latest = match active {
            true => match sessions::latest_active(&mut *conn, tenant, queue_id).await? {
                Some(row) => {
                    let session_id = row.session.id;
                    let statuses = statuses::of_session(&mut *conn, tenant, session_id).await?;
                    self.sessions.insert(session_id, Arc::new(SessionParts { row, statuses }));
                    Some(session_id)
                }
                None => None,
            },
            false => None,
        };
        self.queues.insert(queue_id, (active, latest));
        Ok((active, latest))
    }

    /// Records a session just opened (or found under the queue's lock) as its queue's latest
    /// active one.
    pub fn opened_session(&mut self, queue_id: Uuid, session_id: Uuid) {
        self.queues.insert(queue_id, (true, Some(session_id)));
    }

    /// A live session with its statuses (the caller holds a lock on its row).
    pub async fn session(
        &mut self,
        conn: &mut PgConnection,
        tenant: TenantId,
        session_id: Uuid,
    ) -> StoreResult<Arc<SessionParts>> {
        if let Some(found) = self.sessions.get(&session_id) {
            return Ok(found.clone());
        }
        let row = sessions::load(&mut *conn, tenant, session_id, Lock::None).await?;
        let statuses = statuses::of_session(&mut *conn, tenant, session_id).await?;
        let parts = Arc::new(SessionParts { row, statuses });
        self.sessions.insert(session_id, parts.clone());
        Ok(parts)
    }

    /// The session of a call's item, unless the item or its session is gone (deleted).
    pub async fn item_session(
        &mut self,
        conn: &mut PgConnection,
        tenant: TenantId,
        item_id: Uuid,
    ) -> StoreResult<Option<Uuid>> {
        if let Some(found) = self.item_sessions.get(&item_id) {
            return Ok(*found);
        }
        let session = sqlx::query_scalar(
            "SELECT i.session_id FROM items i JOIN sessions s ON s.id = i.session_id \
             WHERE i.tenant_id = $1 AND i.id = $2 AND NOT s.is_deleted",
        )
        .bind(tenant)
        .bind(item_id)
        .fetch_optional(&mut *conn)
        .await
        .map_err(db)?;
        self.item_sessions.insert(item_id, session);
        Ok(session)
    }

    /// Records an item's session (an item just placed).
    pub fn placed_item(&mut self, item_id: Uuid, session_id: Uuid) {
        self.item_sessions.insert(item_id, Some(session_id));
    }
}
