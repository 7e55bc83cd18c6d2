//! Storage for Lineup: the [`Store`] trait every backend implements, the pagination types it
//! speaks, and the conformance suite (`conformance`) each backend runs unchanged.
//!
//! This crate owns the storage contract. It must not name a backend or a SQL dialect; rules are
//! decided by `lineup-domain`, which every backend calls inside its transactions.

pub mod access;
pub mod calls;
pub mod conformance;
pub mod error;
pub mod inbox;
pub mod page;
pub mod pbx;
pub mod schedules;
pub mod tallies;
pub mod webhooks;

use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use lineup_domain::{
    EventKind, Item, ItemHistoryEntry, ItemPatch, Lifecycle, NewItem, NewQueue, NewSession, NewTemplate,
    NewTemplateStatus, Queue, QueuePatch, Session, SessionPatch, SessionStatus, SessionStatusPatch,
    StatusChangeRequest, Template, TemplateStatus, TenantId,
};
use uuid::Uuid;

pub use access::{
    AccessStore, LoginCandidate, LoginMembership, NewLoginSession, NewStreamTicket, RefreshOutcome, TokenHash,
    TokenPair,
};
pub use calls::{
    AppliedCall, BatchApplied, CallFilter, CallStore, InboxApplication, StoredCall, WorkerLease, CALL_ACTOR,
};
pub use error::{Entity, StoreError};
pub use inbox::{
    ClaimScope, Enqueued, InboxDepth, InboxLease, InboxMessage, InboxRetryPolicy, InboxSource, InboxState, InboxStore,
    NewInboxMessage, Settlement,
};
pub use page::{Cursor, CursorValue, Page, PageRequest, SortKey, SortOrder};
pub use pbx::{EnabledPbxConnection, PbxStore};
pub use schedules::{DueSchedule, RotateOutcome, ScheduleStore};
pub use tallies::{
    AgentScope, ChangedCallCursor, StoredTally, TallyBucket, TallyFilter, TallyMark, TallyRow, TallyStore,
};
pub use webhooks::{AttemptOutcome, AttemptRecorded, ClaimedDelivery, DeliveryScope, WebhookStore};

/// Result of a store call.
pub type StoreResult<T> = Result<T, StoreError>;

/// A shared, backend-agnostic store handle.
pub type DynStore = Arc<dyn Store>;

/// Which events a stream reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventScope {
    /// Every event of a session (its items' and its own).
    Session(Uuid),
    /// Every event of one item.
    Item(Uuid),
}

/// An outbox row: an event committed with the change that caused it. `seq` grows strictly in
/// commit order across the whole store, so a reader resuming after `seq` misses nothing.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredEvent {
    pub seq: i64,
    pub kind: EventKind,
    pub session_id: Uuid,
    pub item_id: Option<Uuid>,
    pub payload: serde_json::Value,
    pub created_at: DateTime<Utc>,
}

/// Filters of an item list.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ItemFilter {
    /// Only items in this session status.
    pub status_id: Option<Uuid>,
}

/// The storage contract. Every method is scoped by tenant: an object of another tenant is
/// `NotFound`, exactly as if it did not exist. Every mutating method runs in one transaction
/// that also writes the outbox rows of the events it causes; a refused change stores nothing.
#[async_trait]
pub trait Store:
    AccessStore + CallStore + InboxStore + PbxStore + ScheduleStore + TallyStore + WebhookStore + Send + Sync + 'static
{
    /// Applies pending migrations.
    async fn migrate(&self) -> StoreResult<()>;
    /// Checks the database answers.
    async fn ping(&self) -> StoreResult<()>;

    /// Validates and stores a template with its statuses.
    async fn create_template(&self, tenant: TenantId, new: NewTemplate) -> StoreResult<Template>;
    async fn get_template(&self, tenant: TenantId, id: Uuid) -> StoreResult<Template>;
    /// Sorts by `Name` or `CreatedAt`.
    async fn list_templates(&self, tenant: TenantId, page: &PageRequest) -> StoreResult<Page<Template>>;
    /// Adds a status to a template; sessions created earlier are not touched.
    async fn add_template_status(
        &self,
        tenant: TenantId,
        template_id: Uuid,
        new: NewTemplateStatus,
    ) -> StoreResult<TemplateStatus>;

    /// Creates a queue over an existing template of the tenant.
    async fn create_queue(&self, tenant: TenantId, new: NewQueue) -> StoreResult<Queue>;
    async fn get_queue(&self, tenant: TenantId, id: Uuid) -> StoreResult<Queue>;
    /// Sorts by `Name` or `CreatedAt`.
    async fn list_queues(&self, tenant: TenantId, page: &PageRequest) -> StoreResult<Page<Queue>>;
    /// Renames, re-prefixes, deactivates or reactivates a queue.
    async fn update_queue(&self, tenant: TenantId, id: Uuid, patch: QueuePatch) -> StoreResult<Queue>;

    /// Opens session N+1 of an active queue, cloning the template's statuses, machine and schema.
    async fn create_session(&self, tenant: TenantId, queue_id: Uuid, new: NewSession) -> StoreResult<Session>;
    /// A soft-deleted session is `NotFound`.
    async fn get_session(&self, tenant: TenantId, id: Uuid) -> StoreResult<Session>;
    /// Sorts by `SessionNumber` or `CreatedAt`; soft-deleted sessions are left out.
    async fn list_sessions(&self, tenant: TenantId, queue_id: Uuid, page: &PageRequest) -> StoreResult<Page<Session>>;
    async fn update_session(&self, tenant: TenantId, id: Uuid, patch: SessionPatch) -> StoreResult<Session>;
    /// Moves the lifecycle and emits `session_paused|resumed|completed`.
    async fn change_lifecycle(&self, tenant: TenantId, id: Uuid, to: Lifecycle) -> StoreResult<Session>;
    /// Soft-deletes a session: it and its items are hidden from every read afterwards.
    async fn delete_session(&self, tenant: TenantId, id: Uuid) -> StoreResult<()>;

    /// The session's statuses by `order`.
    async fn list_session_statuses(&self, tenant: TenantId, session_id: Uuid) -> StoreResult<Vec<SessionStatus>>;
    /// Relabels, recolors or reorders a session status (a relabel renames it in the session's machine).
    async fn update_session_status(
        &self,
        tenant: TenantId,
        id: Uuid,
        patch: SessionStatusPatch,
    ) -> StoreResult<SessionStatus>;

    /// Adds an item to an active session with the next number of that session (gap-free and
    /// unique under concurrency), records its first history entry and emits `item_created`.
    async fn create_item(&self, tenant: TenantId, session_id: Uuid, new: NewItem) -> StoreResult<Item>;
    async fn get_item(&self, tenant: TenantId, id: Uuid) -> StoreResult<Item>;
    /// Sorts by `Number` or `CreatedAt`.
    async fn list_items(
        &self,
        tenant: TenantId,
        session_id: Uuid,
        filter: &ItemFilter,
        page: &PageRequest,
    ) -> StoreResult<Page<Item>>;
    /// Changes display name or metadata (re-checked against the session's schema); emits `item_updated`.
    async fn update_item(&self, tenant: TenantId, id: Uuid, patch: ItemPatch) -> StoreResult<Item>;
    /// Moves an item along the session's machine, records history, emits `item_status_changed`.
    async fn change_item_status(&self, tenant: TenantId, id: Uuid, change: StatusChangeRequest) -> StoreResult<Item>;
    /// The item's status history, oldest first.
    async fn item_history(&self, tenant: TenantId, id: Uuid) -> StoreResult<Vec<ItemHistoryEntry>>;

    /// Events of the scope with `seq > after`, oldest first, at most `limit`.
    async fn read_events(
        &self,
        tenant: TenantId,
        scope: EventScope,
        after: i64,
        limit: u32,
    ) -> StoreResult<Vec<StoredEvent>>;
    /// The highest `seq` written so far in the whole store (0 when none).
    async fn last_event_seq(&self) -> StoreResult<i64>;
    /// Tells the readers of the outbox in other processes that this process committed outbox
    /// rows (PostgreSQL: `NOTIFY`; SQLite: nothing, as one process owns the file). Called after
    /// the commits, at most once per burst of them, not inside each writing transaction.
    async fn announce_outbox(&self) -> StoreResult<()>;

    /// How many writing transactions the backend runs at once: work split into more lanes than
    /// this only queues (SQLite: 1, its single writer; by default: no limit worth knowing).
    fn concurrent_writers(&self) -> usize {
        usize::MAX
    }
    /// A stream that yields soon after any process announces outbox commits
    /// ([`Store::announce_outbox`]), so readers of the outbox in other processes need not poll
    /// fast (PostgreSQL: `LISTEN`; SQLite: it never yields). A reader must still poll now and
    /// then: a notification can be lost while the listening connection reconnects.
    async fn outbox_wakeups(&self) -> StoreResult<futures::stream::BoxStream<'static, ()>>;
}

/// The instant a store stamps on a change: now, truncated to microseconds so every backend
/// stores and returns exactly the same value.
pub fn now_micros() -> DateTime<Utc> {
    to_micros(Utc::now())
}

/// An instant as every backend keeps it: truncated to whole microseconds. A store applies it to
/// a caller's instant it both stores and returns, so the call returns what later reads return.
pub fn to_micros(t: DateTime<Utc>) -> DateTime<Utc> {
    DateTime::from_timestamp_micros(t.timestamp_micros()).expect("an instant within chrono's range")
}
