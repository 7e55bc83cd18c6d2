//! SQLite implementation of the Lineup [`Store`] and
//! [`AccessStore`](lineup_store::AccessStore): the embedded default, one file, WAL mode.
//!
//! All writes go through one connection (a pool of size one), so write transactions are
//! serialised in the process and item and session numbers are gap-free without retries; reads
//! use a separate pool and never wait for writers (WAL). This crate owns SQL for SQLite only;
//! every rule is decided by `lineup-domain` inside the write transaction.

mod access;
mod agents;
mod api_keys;
mod audit;
mod call_lookups;
mod calls;
mod codec;
mod events;
mod inbox;
mod item_writes;
mod items;
mod logins;
mod members;
mod paging;
mod pbx;
mod queues;
mod schedules;
mod sessions;
mod tallies;
mod templates;
mod tenants;
mod tickets;
mod webhooks;

use std::path::Path;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use lineup_domain::{
    Item, ItemHistoryEntry, ItemPatch, Lifecycle, NewItem, NewQueue, NewSession, NewTemplate, NewTemplateStatus, Queue,
    QueuePatch, Session, SessionPatch, SessionStatus, SessionStatusPatch, StatusChangeRequest, Template,
    TemplateStatus, TenantId,
};
use lineup_store::{EventScope, ItemFilter, Page, PageRequest, Store, StoreError, StoreResult, StoredEvent};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous};
use uuid::Uuid;

use codec::db;

/// A Lineup store in one SQLite file.
#[derive(Clone)]
pub struct SqliteStore {
    writer: SqlitePool,
    reader: SqlitePool,
    /// The background checkpoint task, stopped when the last clone of the store is dropped.
    _checkpointer: Option<Arc<Checkpointer>>,
}

/// Aborts the background checkpoint task when dropped.
struct Checkpointer(tokio::task::JoinHandle<()>);

impl Drop for Checkpointer {
    fn drop(&mut self) {
        self.0.abort();
    }
}

impl SqliteStore {
    /// Opens (creating if needed) the database file at `path`.
    pub async fn open(path: &Path) -> StoreResult<Self> {
        let options = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(Duration::from_secs(10))
            .foreign_keys(true);
        Self::with_options(options).await
    }

    /// Opens the database named by a `sqlite://path` or `sqlite:path` URL.
    pub async fn connect(url: &str) -> StoreResult<Self> {
        let options = SqliteConnectOptions::from_str(url)
            .map_err(|e| StoreError::Backend(format!("bad SQLite URL: {e}")))?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(Duration::from_secs(10))
            .foreign_keys(true);
        Self::with_options(options).await
    }

    /// The writer keeps a large page cache and leaves checkpoints to a background task (a
    /// commit that had to copy the WAL back into the database would wait for it), with its own
    /// automatic checkpoint only as a backstop when the WAL grows past ~40 MiB.
    async fn with_options(options: SqliteConnectOptions) -> StoreResult<Self> {
        let writer_options =
            options.clone().pragma("cache_size", "-65536").pragma("wal_autocheckpoint", WAL_BACKSTOP_PAGES.to_string());
        let writer = SqlitePoolOptions::new().max_connections(1).connect_with(writer_options).await.map_err(db)?;
        let reader = SqlitePoolOptions::new()
            .max_connections(8)
            .connect_with(options.pragma("cache_size", "-16384"))
            .await
            .map_err(db)?;
        let checkpointer = tokio::runtime::Handle::try_current()
            .ok()
            .map(|runtime| Arc::new(Checkpointer(runtime.spawn(checkpoint_regularly(reader.clone())))));
        Ok(SqliteStore { writer, reader, _checkpointer: checkpointer })
    }
}

/// WAL pages after which a commit checkpoints by itself (when the background task lags).
const WAL_BACKSTOP_PAGES: u32 = 10_000;

/// How often the background task checkpoints the WAL.
const CHECKPOINT_EVERY: Duration = Duration::from_millis(500);

/// Copies committed WAL frames into the database file from a reader connection (`PASSIVE`: it
/// never waits for the writer or readers), until aborted.
async fn checkpoint_regularly(pool: SqlitePool) {
    loop {
        tokio::time::sleep(CHECKPOINT_EVERY).await;
        if let Err(e) = sqlx::query("PRAGMA wal_checkpoint(PASSIVE)").execute(&pool).await {
            tracing::debug!(error = %e, "SQLite background checkpoint failed; the next one retries");
        }
    }
}

#[async_trait]
impl Store for SqliteStore {
    async fn migrate(&self) -> StoreResult<()> {
        sqlx::migrate!("../../migrations/sqlite").run(&self.writer).await.map_err(StoreError::backend)
    }

    async fn ping(&self) -> StoreResult<()> {
        sqlx::query("SELECT 1").execute(&self.reader).await.map(|_| ()).map_err(db)
    }

    async fn create_template(&self, tenant: TenantId, new: NewTemplate) -> StoreResult<Template> {
        templates::create(self, tenant, new).await
    }
    async fn get_template(&self, tenant: TenantId, id: Uuid) -> StoreResult<Template> {
        templates::get(&self.reader, tenant, id).await
    }
    async fn list_templates(&self, tenant: TenantId, page: &PageRequest) -> StoreResult<Page<Template>> {
        templates::list(&self.reader, tenant, page).await
    }
    async fn add_template_status(
        &self,
        tenant: TenantId,
        template_id: Uuid,
        new: NewTemplateStatus,
    ) -> StoreResult<TemplateStatus> {
        templates::add_status(self, tenant, template_id, new).await
    }

    async fn create_queue(&self, tenant: TenantId, new: NewQueue) -> StoreResult<Queue> {
        queues::create(self, tenant, new).await
    }
    async fn get_queue(&self, tenant: TenantId, id: Uuid) -> StoreResult<Queue> {
        queues::get(&self.reader, tenant, id).await
    }
    async fn list_queues(&self, tenant: TenantId, page: &PageRequest) -> StoreResult<Page<Queue>> {
        queues::list(&self.reader, tenant, page).await
    }
    async fn update_queue(&self, tenant: TenantId, id: Uuid, patch: QueuePatch) -> StoreResult<Queue> {
        queues::update(self, tenant, id, patch).await
    }

    async fn create_session(&self, tenant: TenantId, queue_id: Uuid, new: NewSession) -> StoreResult<Session> {
        sessions::create(self, tenant, queue_id, new).await
    }
    async fn get_session(&self, tenant: TenantId, id: Uuid) -> StoreResult<Session> {
        sessions::get(&self.reader, tenant, id).await
    }
    async fn list_sessions(&self, tenant: TenantId, queue_id: Uuid, page: &PageRequest) -> StoreResult<Page<Session>> {
        sessions::list(&self.reader, tenant, queue_id, page).await
    }
    async fn update_session(&self, tenant: TenantId, id: Uuid, patch: SessionPatch) -> StoreResult<Session> {
        sessions::update(self, tenant, id, patch).await
    }
    async fn change_lifecycle(&self, tenant: TenantId, id: Uuid, to: Lifecycle) -> StoreResult<Session> {
        sessions::change_lifecycle(self, tenant, id, to).await
    }
    async fn delete_session(&self, tenant: TenantId, id: Uuid) -> StoreResult<()> {
        sessions::delete(self, tenant, id).await
    }
    async fn list_session_statuses(&self, tenant: TenantId, session_id: Uuid) -> StoreResult<Vec<SessionStatus>> {
        sessions::list_statuses(&self.reader, tenant, session_id).await
    }
    async fn update_session_status(
        &self,
        tenant: TenantId,
        id: Uuid,
        patch: SessionStatusPatch,
    ) -> StoreResult<SessionStatus> {
        sessions::update_status(self, tenant, id, patch).await
    }

    async fn create_item(&self, tenant: TenantId, session_id: Uuid, new: NewItem) -> StoreResult<Item> {
        items::create(self, tenant, session_id, new).await
    }
    async fn get_item(&self, tenant: TenantId, id: Uuid) -> StoreResult<Item> {
        items::get(&self.reader, tenant, id).await
    }
    async fn list_items(
        &self,
        tenant: TenantId,
        session_id: Uuid,
        filter: &ItemFilter,
        page: &PageRequest,
    ) -> StoreResult<Page<Item>> {
        items::list(&self.reader, tenant, session_id, filter, page).await
    }
    async fn update_item(&self, tenant: TenantId, id: Uuid, patch: ItemPatch) -> StoreResult<Item> {
        items::update(self, tenant, id, patch).await
    }
    async fn change_item_status(&self, tenant: TenantId, id: Uuid, change: StatusChangeRequest) -> StoreResult<Item> {
        items::change_status(self, tenant, id, change).await
    }
    async fn item_history(&self, tenant: TenantId, id: Uuid) -> StoreResult<Vec<ItemHistoryEntry>> {
        items::history(&self.reader, tenant, id).await
    }

    async fn read_events(
        &self,
        tenant: TenantId,
        scope: EventScope,
        after: i64,
        limit: u32,
    ) -> StoreResult<Vec<StoredEvent>> {
        events::read(&self.reader, tenant, scope, after, limit).await
    }
    async fn last_event_seq(&self) -> StoreResult<i64> {
        events::last_seq(&self.reader).await
    }

    fn concurrent_writers(&self) -> usize {
        1
    }

    async fn announce_outbox(&self) -> StoreResult<()> {
        Ok(())
    }

    async fn outbox_wakeups(&self) -> StoreResult<futures::stream::BoxStream<'static, ()>> {
        Ok(Box::pin(futures::stream::pending()))
    }
}
