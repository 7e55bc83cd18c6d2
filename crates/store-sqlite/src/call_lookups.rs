//! What applying calls reads, read once per transaction: the calls of a batch (one statement for
//! all of them, with their items' sessions), DN mappings, queues' active sessions and sessions'
//! machines and statuses. Every answer is kept for the rest of the transaction, and the writers
//! record what they change (a call written, an item placed, a session opened), so later messages
//! of the batch see the transaction's own writes.
//!
//! Changed calls are kept here until the caller writes them ([`Lookups::take_changed`]): once per
//! transaction when the batch applies at once, once per savepoint otherwise.
//!
//! Nothing else writes in the meantime: SQLite has one writer, and applying calls changes no
//! session's lifecycle, statuses or machine. After a rolled-back savepoint the caller clears the
//! lookups, since they may hold what the savepoint wrote.

use std::collections::HashMap;
use std::sync::Arc;

use lineup_domain::call::CallKey;
use lineup_domain::{SessionStatus, TenantId};
use lineup_store::{StoreError, StoreResult};
use sqlx::SqliteConnection;
use uuid::Uuid;

use crate::calls::{from_row, CallRow, COLUMNS};
use crate::codec::{db, id, RowExt};
use crate::sessions::{self, SessionRow};
use crate::queues;

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
    /// Items' sessions: `None` when the item or its session is gone.
    item_sessions: HashMap<Uuid, Option<Uuid>>,
    /// `(connection, DN)` → the mapped queue.
    mappings: HashMap<(Uuid, String), Option<Uuid>>,
    /// Queues: whether active, and their latest active session.
    queues: HashMap<Uuid, (bool, Option<Uuid>)>,
    sessions: HashMap<Uuid, Arc<SessionParts>>,
}

impl Lookups {
    /// Forgets what was read (after a savepoint rollback), keeping the changed calls not
    /// written yet.
    pub fn clear(&mut self) {
        let changed = std::mem::take(&mut self.changed);
        let mut calls = HashMap::with_capacity(changed.len());
        for key in &changed {
            if let Some(row) = self.calls.remove(key) {
                calls.insert(*key, row);
            }
        }
        *self = Lookups { calls, changed, ..Lookups::default() };
    }

    /// Reads the calls of `keys` (and their items' sessions) in one statement per 400 keys.
    pub async fn preload(&mut self, conn: &mut SqliteConnection, tenant: TenantId, keys: &[CallKey]) -> StoreResult<()> {
        let keys: Vec<CallKey> = keys.iter().filter(|k| !self.calls.contains_key(k)).copied().collect();
        for chunk in keys.chunks(400) {
            let pairs = vec!["(?, ?)"; chunk.len()].join(", ");
            let columns: String = COLUMNS.split(", ").map(|c| format!("c.{c}")).collect::<Vec<_>>().join(", ");
            let sql = format!(
                "SELECT {columns}, c.connection_id, c.call_id, s.id AS item_session FROM calls c \
                 LEFT JOIN items i ON i.id = c.item_id \
                 LEFT JOIN sessions s ON s.id = i.session_id AND s.is_deleted = 0 \
                 WHERE c.tenant_id = ? AND (c.connection_id, c.call_id) IN (VALUES {pairs})"
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
                if let Some(item) = call.item_id {
                    self.item_sessions.insert(item, row.opt_uuid("item_session")?);
                }
                self.calls.insert(key, Some(call));
            }
        }
        Ok(())
    }

    /// The stored call `key`, if any.
    pub async fn call(&mut self, conn: &mut SqliteConnection, tenant: TenantId, key: CallKey) -> StoreResult<Option<CallRow>> {
        if !self.calls.contains_key(&key) {
            self.preload(conn, tenant, &[key]).await?;
        }
        Ok(self.calls.get(&key).cloned().flatten())
    }

    /// Records a call as changed: later lookups see it, [`Lookups::take_changed`] hands it to
    /// the writer.
    pub fn changed_call(&mut self, key: CallKey, row: CallRow) {
        if !self.changed.contains(&key) {
            self.changed.push(key);
        }
        self.calls.insert(key, Some(row));
    }

    /// The calls changed since the last call, each once, as they stand now.
    pub fn take_changed(&mut self) -> Vec<CallRow> {
        let keys = std::mem::take(&mut self.changed);
        keys.iter().filter_map(|key| self.calls.get(key).cloned().flatten()).collect()
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

    /// The session of a call's item, unless the item or its session is gone (deleted).
    pub async fn item_session(
        &mut self,
        conn: &mut SqliteConnection,
        tenant: TenantId,
        item_id: Uuid,
    ) -> StoreResult<Option<Uuid>> {
        if let Some(found) = self.item_sessions.get(&item_id) {
            return Ok(*found);
        }
        let row = sqlx::query(
            "SELECT i.session_id FROM items i JOIN sessions s ON s.id = i.session_id \
             WHERE i.tenant_id = ? AND i.id = ? AND s.is_deleted = 0",
        )
        .bind(id(tenant))
        .bind(id(item_id))
        .fetch_optional(&mut *conn)
        .await
        .map_err(db)?;
        let session = row.map(|r| r.uuid("session_id")).transpose()?;
        self.item_sessions.insert(item_id, session);
        Ok(session)
    }

    /// Records an item's session (an item just placed).
    pub fn placed_item(&mut self, item_id: Uuid, session_id: Uuid) {
        self.item_sessions.insert(item_id, Some(session_id));
    }
}
