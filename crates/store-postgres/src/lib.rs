//! PostgreSQL implementation of the Lineup [`Store`] and
//! [`AccessStore`](lineup_store::AccessStore): the production and scale-out backend.
//!
//! This crate owns the PostgreSQL schema (`migrations/postgres`) and the SQL that reads and writes
//! it. Every tenant-scoped call, reads included, is one transaction that first switches to the
//! role `lineup_app` and sets `lineup.tenant_id` to its tenant ([`tenant_tx`]), so row-level
//! security hides and protects every other tenant's rows as a second wall behind the `tenant_id`
//! each query names. Only the calls through which a request learns its tenant (credential
//! resolution, tenant lookup) and the store-wide ones (`migrate`, `ping`, `last_event_seq`) run
//! as the connecting role. So does `list_enabled_pbx_connections`, an exception by design: the
//! PBX polling workers serve every tenant and start from the enabled connections of all of them
//! (with their sealed client secrets, which only the workers' key opens); it reads, never writes,
//! and the workers act in each connection's tenant afterwards. So do the worker leases
//! (`acquire_lease`, `release_lease`, `list_leases`): global infrastructure without a tenant, on
//! a table the app role has no privilege on. So do the outbox dispatcher's calls (`read_outbox`,
//! the outbox cursors, `webhook_tenants`, `claim_due_deliveries`): it serves every tenant, and
//! creates and settles each delivery in its tenant's transaction afterwards. So does the tally
//! aggregator's `changed_calls`: it reads the changed calls of every tenant, and writes each
//! tenant's tallies in that tenant's transaction afterwards. A mutating call locks what it
//! changes (the queue row for session numbers, the session row for item numbers), lets
//! `lineup-domain` decide, writes its audit entry in the same transaction, and writes its outbox
//! rows last, under one advisory lock, so event sequence numbers grow in commit order.
//! It must not decide a rule itself, must not name another backend, and must not return rows of
//! another tenant or of a soft-deleted session.

/// Runs `$f(&mut tx, $tenant, $args..)` in a [`tenant_tx`] of `$tenant` and commits; an error
/// drops the transaction, which rolls it back.
macro_rules! in_tenant {
    ($pool:expr, $tenant:expr, $f:path $(, $arg:expr)* $(,)?) => {{
        let tenant: ::lineup_domain::TenantId = $tenant;
        let mut tx = $crate::tenant_tx($pool, tenant).await?;
        let out = $f(&mut tx, tenant $(, $arg)*).await?;
        tx.commit().await.map_err($crate::rows::db)?;
        Ok(out)
    }};
}

mod access;
mod agents;
mod api_keys;
mod audit;
mod call_apply;
mod call_lookups;
mod calls;
mod events;
mod inbox;
mod items;
mod logins;
mod members;
mod paging;
mod pbx;
mod queues;
mod rows;
mod schedules;
mod sessions;
mod statuses;
mod tallies;
mod templates;
mod tenants;
mod tickets;
mod webhooks;

use async_trait::async_trait;
use lineup_domain::{
    Item, ItemHistoryEntry, ItemPatch, Lifecycle, NewItem, NewQueue, NewSession, NewTemplate, NewTemplateStatus, Queue,
    QueuePatch, Session, SessionPatch, SessionStatus, SessionStatusPatch, StatusChangeRequest, Template,
    TemplateStatus, TenantId,
};
use lineup_store::{EventScope, ItemFilter, Page, PageRequest, Store, StoreError, StoreResult, StoredEvent};
use sqlx::postgres::{PgPool, PgPoolOptions};
use sqlx::{Postgres, Transaction};
use uuid::Uuid;

use rows::db;

/// The role tenant-scoped transactions run as; row-level security policies bind it.
const APP_ROLE: &str = "lineup_app";

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
    /// Its connections run as the connecting role, which row-level security does not bind.
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }
}

/// Begins a transaction scoped to `tenant`: in one round trip it switches to [`APP_ROLE`] and
/// sets `lineup.tenant_id`, both for this transaction only (`set_config(.., true)`, like
/// `SET LOCAL`), so they end with the commit or rollback and never leak into the pool. Inside it,
/// row-level security shows and accepts only the tenant's rows.
pub(crate) async fn tenant_tx(pool: &PgPool, tenant: TenantId) -> StoreResult<Transaction<'static, Postgres>> {
    let mut tx = pool.begin().await.map_err(db)?;
    sqlx::query("SELECT set_config('role', $1, true), set_config('lineup.tenant_id', $2, true)")
        .bind(APP_ROLE)
        .bind(tenant.to_string())
        .execute(&mut *tx)
        .await
        .map_err(db)?;
    Ok(tx)
}

#[async_trait]
impl Store for PostgresStore {
    async fn migrate(&self) -> StoreResult<()> {
        sqlx::migrate!("../../migrations/postgres").run(&self.pool).await.map_err(StoreError::backend)
    }

    async fn ping(&self) -> StoreResult<()> {
        sqlx::query("SELECT 1").execute(&self.pool).await.map(|_| ()).map_err(db)
    }

    async fn create_template(&self, tenant: TenantId, new: NewTemplate) -> StoreResult<Template> {
        in_tenant!(&self.pool, tenant, templates::create, new)
    }
    async fn get_template(&self, tenant: TenantId, id: Uuid) -> StoreResult<Template> {
        in_tenant!(&self.pool, tenant, templates::get, id)
    }
    async fn list_templates(&self, tenant: TenantId, page: &PageRequest) -> StoreResult<Page<Template>> {
        in_tenant!(&self.pool, tenant, templates::list, page)
    }
    async fn add_template_status(
        &self,
        tenant: TenantId,
        template_id: Uuid,
        new: NewTemplateStatus,
    ) -> StoreResult<TemplateStatus> {
        in_tenant!(&self.pool, tenant, templates::add_status, template_id, new)
    }

    async fn create_queue(&self, tenant: TenantId, new: NewQueue) -> StoreResult<Queue> {
        in_tenant!(&self.pool, tenant, queues::create, new)
    }
    async fn get_queue(&self, tenant: TenantId, id: Uuid) -> StoreResult<Queue> {
        in_tenant!(&self.pool, tenant, queues::get, id)
    }
    async fn list_queues(&self, tenant: TenantId, page: &PageRequest) -> StoreResult<Page<Queue>> {
        in_tenant!(&self.pool, tenant, queues::list, page)
    }
    async fn update_queue(&self, tenant: TenantId, id: Uuid, patch: QueuePatch) -> StoreResult<Queue> {
        in_tenant!(&self.pool, tenant, queues::update, id, patch)
    }

    async fn create_session(&self, tenant: TenantId, queue_id: Uuid, new: NewSession) -> StoreResult<Session> {
        in_tenant!(&self.pool, tenant, sessions::create, queue_id, new)
    }
    async fn get_session(&self, tenant: TenantId, id: Uuid) -> StoreResult<Session> {
        in_tenant!(&self.pool, tenant, sessions::get, id)
    }
    async fn list_sessions(&self, tenant: TenantId, queue_id: Uuid, page: &PageRequest) -> StoreResult<Page<Session>> {
        in_tenant!(&self.pool, tenant, sessions::list, queue_id, page)
    }
    async fn update_session(&self, tenant: TenantId, id: Uuid, patch: SessionPatch) -> StoreResult<Session> {
        in_tenant!(&self.pool, tenant, sessions::update, id, patch)
    }
    async fn change_lifecycle(&self, tenant: TenantId, id: Uuid, to: Lifecycle) -> StoreResult<Session> {
        in_tenant!(&self.pool, tenant, sessions::change_lifecycle, id, to)
    }
    async fn delete_session(&self, tenant: TenantId, id: Uuid) -> StoreResult<()> {
        in_tenant!(&self.pool, tenant, sessions::delete, id)
    }

    async fn list_session_statuses(&self, tenant: TenantId, session_id: Uuid) -> StoreResult<Vec<SessionStatus>> {
        in_tenant!(&self.pool, tenant, statuses::list, session_id)
    }
    async fn update_session_status(
        &self,
        tenant: TenantId,
        id: Uuid,
        patch: SessionStatusPatch,
    ) -> StoreResult<SessionStatus> {
        in_tenant!(&self.pool, tenant, statuses::update, id, patch)
    }

    async fn create_item(&self, tenant: TenantId, session_id: Uuid, new: NewItem) -> StoreResult<Item> {
        in_tenant!(&self.pool, tenant, items::create, session_id, new)
    }
    async fn get_item(&self, tenant: TenantId, id: Uuid) -> StoreResult<Item> {
        in_tenant!(&self.pool, tenant, items::get, id)
    }
    async fn list_items(
        &self,
        tenant: TenantId,
        session_id: Uuid,
        filter: &ItemFilter,
        page: &PageRequest,
    ) -> StoreResult<Page<Item>> {
        in_tenant!(&self.pool, tenant, items::list, session_id, filter, page)
    }
    async fn update_item(&self, tenant: TenantId, id: Uuid, patch: ItemPatch) -> StoreResult<Item> {
        in_tenant!(&self.pool, tenant, items::update, id, patch)
    }
    async fn change_item_status(&self, tenant: TenantId, id: Uuid, change: StatusChangeRequest) -> StoreResult<Item> {
        in_tenant!(&self.pool, tenant, items::change_status, id, change)
    }
    async fn item_history(&self, tenant: TenantId, id: Uuid) -> StoreResult<Vec<ItemHistoryEntry>> {
        in_tenant!(&self.pool, tenant, items::history, id)
    }

    async fn read_events(
        &self,
        tenant: TenantId,
        scope: EventScope,
        after: i64,
        limit: u32,
    ) -> StoreResult<Vec<StoredEvent>> {
        in_tenant!(&self.pool, tenant, events::read, scope, after, limit)
    }
    async fn last_event_seq(&self) -> StoreResult<i64> {
        events::last_seq(&self.pool).await
    }

    async fn announce_outbox(&self) -> StoreResult<()> {
        events::announce(&self.pool).await
    }

    async fn outbox_wakeups(&self) -> StoreResult<futures::stream::BoxStream<'static, ()>> {
        events::wakeups(&self.pool).await
    }
}
