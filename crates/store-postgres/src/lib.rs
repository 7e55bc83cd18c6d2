//! PostgreSQL implementation of the Lineup [`Store`]: the production and scale-out backend.
//!
//! This crate owns the PostgreSQL schema (`migrations/postgres`) and the SQL that reads and writes
//! it. Every mutating call is one transaction that locks what it changes (the queue row for
//! session numbers, the session row for item numbers), lets `lineup-domain` decide, and writes its
//! outbox rows last, under one advisory lock, so event sequence numbers grow in commit order.
//! It must not decide a rule itself, must not name another backend, and must not return rows of
//! another tenant or of a soft-deleted session.

mod events;
mod items;
mod paging;
mod queues;
mod rows;
mod sessions;
mod statuses;
mod templates;

use async_trait::async_trait;
use lineup_domain::{
    Item, ItemHistoryEntry, ItemPatch, Lifecycle, NewItem, NewQueue, NewSession, NewTemplate, NewTemplateStatus, Queue,
    QueuePatch, Session, SessionPatch, SessionStatus, SessionStatusPatch, StatusChangeRequest, Template,
    TemplateStatus, TenantId,
};
use lineup_store::{EventScope, ItemFilter, Page, PageRequest, Store, StoreError, StoreResult, StoredEvent};
use sqlx::postgres::{PgPool, PgPoolOptions};
use uuid::Uuid;

use rows::db;

/// A Lineup store in a PostgreSQL database, over a connection pool. Cloning shares the pool.
#[derive(Clone, Debug)]
pub struct PostgresStore {
    pool: PgPool,
}

impl PostgresStore {
    /// Connects a pool of at most `max_connections` to the database at `url`
    /// (`postgres://user@host:port/db`). Does not migrate.
    pub async fn connect(url: &str, max_connections: u32) -> StoreResult<Self> {
        let pool = PgPoolOptions::new().max_connections(max_connections).connect(url).await.map_err(db)?;
        Ok(PostgresStore { pool })
    }

    /// The underlying pool, for callers that need PostgreSQL itself (LISTEN/NOTIFY, leases).
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }
}

#[async_trait]
impl Store for PostgresStore {
    async fn migrate(&self) -> StoreResult<()> {
        sqlx::migrate!("../../migrations/postgres").run(&self.pool).await.map_err(StoreError::backend)
    }

    async fn ping(&self) -> StoreResult<()> {
        sqlx::query("SELECT 1").execute(&self.pool).await.map(|_| ()).map_err(db)
    }

    async fn ensure_tenant(&self, tenant: TenantId, name: &str, slug: &str) -> StoreResult<()> {
        sqlx::query("INSERT INTO tenants (id, name, slug, created_at) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING")
            .bind(tenant)
            .bind(name)
            .bind(slug)
            .bind(lineup_store::now_micros())
            .execute(&self.pool)
            .await
            .map(|_| ())
            .map_err(db)
    }

    async fn create_template(&self, tenant: TenantId, new: NewTemplate) -> StoreResult<Template> {
        templates::create(&self.pool, tenant, new).await
    }
    async fn get_template(&self, tenant: TenantId, id: Uuid) -> StoreResult<Template> {
        templates::get(&self.pool, tenant, id).await
    }
    async fn list_templates(&self, tenant: TenantId, page: &PageRequest) -> StoreResult<Page<Template>> {
        templates::list(&self.pool, tenant, page).await
    }
    async fn add_template_status(
        &self,
        tenant: TenantId,
        template_id: Uuid,
        new: NewTemplateStatus,
    ) -> StoreResult<TemplateStatus> {
        templates::add_status(&self.pool, tenant, template_id, new).await
    }

    async fn create_queue(&self, tenant: TenantId, new: NewQueue) -> StoreResult<Queue> {
        queues::create(&self.pool, tenant, new).await
    }
    async fn get_queue(&self, tenant: TenantId, id: Uuid) -> StoreResult<Queue> {
        queues::get(&self.pool, tenant, id).await
    }
    async fn list_queues(&self, tenant: TenantId, page: &PageRequest) -> StoreResult<Page<Queue>> {
        queues::list(&self.pool, tenant, page).await
    }
    async fn update_queue(&self, tenant: TenantId, id: Uuid, patch: QueuePatch) -> StoreResult<Queue> {
        queues::update(&self.pool, tenant, id, patch).await
    }

    async fn create_session(&self, tenant: TenantId, queue_id: Uuid, new: NewSession) -> StoreResult<Session> {
        sessions::create(&self.pool, tenant, queue_id, new).await
    }
    async fn get_session(&self, tenant: TenantId, id: Uuid) -> StoreResult<Session> {
        sessions::get(&self.pool, tenant, id).await
    }
    async fn list_sessions(&self, tenant: TenantId, queue_id: Uuid, page: &PageRequest) -> StoreResult<Page<Session>> {
        sessions::list(&self.pool, tenant, queue_id, page).await
    }
    async fn update_session(&self, tenant: TenantId, id: Uuid, patch: SessionPatch) -> StoreResult<Session> {
        sessions::update(&self.pool, tenant, id, patch).await
    }
    async fn change_lifecycle(&self, tenant: TenantId, id: Uuid, to: Lifecycle) -> StoreResult<Session> {
        sessions::change_lifecycle(&self.pool, tenant, id, to).await
    }
    async fn delete_session(&self, tenant: TenantId, id: Uuid) -> StoreResult<()> {
        sessions::delete(&self.pool, tenant, id).await
    }

    async fn list_session_statuses(&self, tenant: TenantId, session_id: Uuid) -> StoreResult<Vec<SessionStatus>> {
        statuses::list(&self.pool, tenant, session_id).await
    }
    async fn update_session_status(
        &self,
        tenant: TenantId,
        id: Uuid,
        patch: SessionStatusPatch,
    ) -> StoreResult<SessionStatus> {
        statuses::update(&self.pool, tenant, id, patch).await
    }

    async fn create_item(&self, tenant: TenantId, session_id: Uuid, new: NewItem) -> StoreResult<Item> {
        items::create(&self.pool, tenant, session_id, new).await
    }
    async fn get_item(&self, tenant: TenantId, id: Uuid) -> StoreResult<Item> {
        items::get(&self.pool, tenant, id).await
    }
    async fn list_items(
        &self,
        tenant: TenantId,
        session_id: Uuid,
        filter: &ItemFilter,
        page: &PageRequest,
    ) -> StoreResult<Page<Item>> {
        items::list(&self.pool, tenant, session_id, filter, page).await
    }
    async fn update_item(&self, tenant: TenantId, id: Uuid, patch: ItemPatch) -> StoreResult<Item> {
        items::update(&self.pool, tenant, id, patch).await
    }
    async fn change_item_status(&self, tenant: TenantId, id: Uuid, change: StatusChangeRequest) -> StoreResult<Item> {
        items::change_status(&self.pool, tenant, id, change).await
    }
    async fn item_history(&self, tenant: TenantId, id: Uuid) -> StoreResult<Vec<ItemHistoryEntry>> {
        items::history(&self.pool, tenant, id).await
    }

    async fn read_events(
        &self,
        tenant: TenantId,
        scope: EventScope,
        after: i64,
        limit: u32,
    ) -> StoreResult<Vec<StoredEvent>> {
        events::read(&self.pool, tenant, scope, after, limit).await
    }
    async fn last_event_seq(&self) -> StoreResult<i64> {
        events::last_seq(&self.pool).await
    }
}
