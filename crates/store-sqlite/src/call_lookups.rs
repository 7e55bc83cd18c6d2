//! What applying calls reads, read once per transaction: the calls of a batch and their items
//! (one statement each for all of them), DN mappings, queues' active sessions and sessions'
//! machines and statuses. Every answer is kept for the rest of the transaction, and what the
//! call path changes (calls, items, history, session counters) is staged here, so later messages
//! of the batch see the transaction's own changes, and written set-based by
//! [`Lookups::flush`]: once per transaction when a batch applies at once, once per savepoint
//! otherwise.
//!
//! Nothing else writes in the meantime: SQLite has one writer, and applying calls changes no
//! session's lifecycle, statuses or machine. After a rolled-back savepoint the caller resets the
//! lookups (everything before it was flushed).

use std::collections::HashMap;
use std::sync::Arc;

use lineup_domain::call::CallKey;
use lineup_domain::{Item, SessionStatus, TenantId};
use lineup_store::{Entity, StoreError, StoreResult};
use sqlx::SqliteConnection;
use uuid::Uuid;

use crate::calls::{from_row, write_calls, CallRow, COLUMNS};
use crate::codec::{db, id, RowExt};
use crate::item_writes::ItemWrites;
use crate::sessions::{self, SessionRow};
use crate::{items, queues};

/// A session with its statuses by order.
pub(crate) struct SessionParts {
    pub row: SessionRow,
    pub statuses: Vec<SessionStatus>,
}

/// The transaction's lookups; see the [module docs](self).
#[derive(Default)]
pub(crate) struct Lookups {
    /// Calls by key: `None` when not stored.
    calls: HashMap<CallKey, Option<CallRow>>,
    /// Calls changed and not written yet, in the order they first changed.
    changed: Vec<CallKey>,
    /// Items as the transaction has them: `None` when the item or its session is gone.
    items: HashMap<Uuid, Option<Item>>,
    /// `(connection, DN)` → the mapped queue.
    mappings: HashMap<(Uuid, String), Option<Uuid>>,
    /// Queues: whether active, and their latest active session.
    queues: HashMap<Uuid, (bool, Option<Uuid>)>,
    sessions: HashMap<Uuid, Arc<SessionParts>>,
    /// Item changes not written yet.
    pub writes: ItemWrites,
}

impl Lookups {
    /// Forgets everything, staged changes included (after a savepoint rollback: what came
    /// before it was flushed).
    pub fn reset(&mut self) {
        *self = Lookups::default();
    }

    /// Forgets a session opened under a savepoint that was rolled back.
    pub fn forget_session(&mut self, queue_id: Uuid, session_id: Uuid) {
        self.queues.remove(&queue_id);
        self.sessions.remove(&session_id);
    }

    /// Writes the staged changes: items, history and counters, then calls.
    pub async fn flush(&mut self, conn: &mut SqliteConnection, tenant: TenantId) -> StoreResult<()> {
        self.writes.flush(&mut *conn, tenant).await?;
        let keys = std::mem::take(&mut self.changed);
        let rows: Vec<CallRow> = keys.iter().filter_map(|key| self.calls.get(key).cloned().flatten()).collect();
        write_calls(conn, tenant, rows).await
    }

    /// Reads the calls of `keys` and their items, in one statement per 400 of each.
    pub async fn preload(
        &mut self,
        conn: &mut SqliteConnection,
        tenant: TenantId,
        keys: &[CallKey],
    ) -> StoreResult<()> {
        let keys: Vec<CallKey> = keys.iter().filter(|k| !self.calls.contains_key(k)).copied().collect();
        let mut items = Vec::new();
        for chunk in keys.chunks(400) {
            let pairs = vec!["(?, ?)"; chunk.len()].join(", ");
            let sql = format!(
                "SELECT {COLUMNS}, connection_id, call_id FROM calls \
                 WHERE tenant_id = ? AND (connection_id, call_id) IN (VALUES {pairs})"
            );
            let mut query = sqlx::query(&sql).bind(id(tenant));
            for key in chunk {
                query = query.bind(id(key.connection)).bind(key.call_id);
            }
            for key in chunk {
                self.calls.insert(*key, None);
            }
            for row in query.fetch_all(&mut *conn).await.map_err(db)? {
                let call_id = i32::try_from(row.int("call_id")?)
                    .map_err(|e| StoreError::Backend(format!("calls.call_id out of range: {e}")))?;
                let key = CallKey { connection: row.uuid("connection_id")?, call_id };
                let call = from_row(&row)?;
                items.extend(call.item_id.filter(|item| !self.items.contains_key(item)));
                self.calls.insert(key, Some(call));
            }
        }
        for chunk in items.chunks(400) {
            for item in chunk {
                self.items.insert(*item, None);
            }
            for (item, _) in items::load_many(&mut *conn, tenant, chunk).await? {
                self.items.insert(item.id, Some(item));
            }
        }
        Ok(())
    }

    /// The stored call `key`, if any.
    pub async fn call(
        &mut self,
        conn: &mut SqliteConnection,
        tenant: TenantId,
        key: CallKey,
    ) -> StoreResult<Option<CallRow>> {
        if !self.calls.contains_key(&key) {
            self.preload(conn, tenant, &[key]).await?;
        }
        Ok(self.calls.get(&key).cloned().flatten())
    }

    /// Records a call as changed: later lookups see it, [`Lookups::flush`] writes it.
    pub fn changed_call(&mut self, key: CallKey, row: CallRow) {
        if !self.changed.contains(&key) {
            self.changed.push(key);
        }
        self.calls.insert(key, Some(row));
    }

    /// The queue a DN of the connection feeds, if it is mapped.
    pub async fn mapped_queue(
        &mut self,
        conn: &mut SqliteConnection,
        tenant: TenantId,
        connection: Uuid,
        dn: &str,
    ) -> StoreResult<Option<Uuid>> {
        let key = (connection, dn.to_string());
        if let Some(found) = self.mappings.get(&key) {
            return Ok(*found);
        }
        let row =
            sqlx::query("SELECT queue_id FROM pbx_queue_mappings WHERE tenant_id = ? AND connection_id = ? AND dn = ?")
                .bind(id(tenant))
                .bind(id(connection))
                .bind(dn)
                .fetch_optional(&mut *conn)
                .await
                .map_err(db)?;
        let queue = row.map(|r| r.uuid("queue_id")).transpose()?;
        self.mappings.insert(key, queue);
        Ok(queue)
    }

    /// Whether the queue is active, and its latest active session.
    pub async fn queue(
        &mut self,
        conn: &mut SqliteConnection,
        tenant: TenantId,
        queue_id: Uuid,
    ) -> StoreResult<(bool, Option<Uuid>)> {
        if let Some(found) = self.queues.get(&queue_id) {
            return Ok(*found);
        }
        let active = queues::get(&mut *conn, tenant, queue_id).await?.is_active;
        let latest = match active {
            true => match sessions::latest_active(&mut *conn, tenant, queue_id).await? {
                Some(row) => {
                    let session_id = row.session.id;
                    let statuses = sessions::statuses(&mut *conn, tenant, session_id).await?;
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

    /// Records a session just opened as its queue's latest active one.
    pub fn opened_session(&mut self, queue_id: Uuid, session_id: Uuid) {
        self.queues.insert(queue_id, (true, Some(session_id)));
    }

    /// A live session with its statuses.
    pub async fn session(
        &mut self,
        conn: &mut SqliteConnection,
        tenant: TenantId,
        session_id: Uuid,
    ) -> StoreResult<Arc<SessionParts>> {
        if let Some(found) = self.sessions.get(&session_id) {
            return Ok(found.clone());
        }
        let row = sessions::load(&mut *conn, tenant, session_id).await?;
        let statuses = sessions::statuses(&mut *conn, tenant, session_id).await?;
        let parts = Arc::new(SessionParts { row, statuses });
        self.sessions.insert(session_id, parts.clone());
        Ok(parts)
    }

    /// A call's item as the transaction has it, unless it or its session is gone (deleted).
    pub async fn item(
        &mut self,
        conn: &mut SqliteConnection,
        tenant: TenantId,
        item_id: Uuid,
    ) -> StoreResult<Option<Item>> {
        if let Some(found) = self.items.get(&item_id) {
            return Ok(found.clone());
        }
        let item = match items::load(&mut *conn, tenant, item_id).await {
            Ok((item, _)) => Some(item),
            Err(StoreError::NotFound(Entity::Item)) => None,
            Err(e) => return Err(e),
        };
        self.items.insert(item_id, item.clone());
        Ok(item)
    }

    /// Records an item as the transaction changed it (placed or moved).
    pub fn changed_item(&mut self, item: Item) {
        self.items.insert(item.id, Some(item));
    }
}
