//! The webhook half of the storage contract: each tenant's outbound webhooks, the deliveries of
//! its events to them (the delivery log), and the outbox reading the dispatcher does.
//!
//! **Webhooks** are tenant-scoped like PBX connections: another tenant's webhook (or a deleted
//! one) is `NotFound(Webhook)`; every change is audited (`webhook.create|update|delete`) in its
//! transaction with views that never hold the secret. The store keeps the signing secret only
//! sealed ([`SealedWebhookSecret`]) and hands it out only with a claimed delivery.
//!
//! **Deliveries**: the dispatcher reads the outbox across tenants ([`WebhookStore::read_outbox`])
//! from a persisted cursor ([`WebhookStore::get_outbox_cursor`],
//! [`advance_outbox_cursor`](WebhookStore::advance_outbox_cursor)) and turns each event into one
//! pending delivery per webhook that receives it ([`WebhookStore::enqueue_deliveries`]). A
//! delivery is unique per (webhook, event): enqueueing an event again creates nothing, so a
//! dispatcher that dies between enqueueing and advancing its cursor loses and doubles nothing.
//! A webhook receives the events committed after it was created (not the tenant's history), of
//! the types it names, while it is enabled.
//!
//! Due deliveries are [claimed](WebhookStore::claim_due_deliveries) under a lease (their next
//! attempt moves to the lease's end, so a delivery whose worker died is claimed again then) and
//! each attempt is [recorded](WebhookStore::record_delivery_attempt): delivered, or pending again
//! after an exponential back-off ([`InboxRetryPolicy`], the store's one retry policy), or failed
//! after the last attempt. An operator [redelivers](WebhookStore::redeliver) any delivery.
//! Deleting a webhook fails its pending deliveries; a disabled webhook's pending deliveries wait
//! until it is enabled again.

use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use lineup_domain::{Actor, SealedWebhookSecret, TenantId, Webhook, WebhookChange, WebhookDelivery, WebhookSpec};
use uuid::Uuid;

use crate::{InboxRetryPolicy, Page, PageRequest, StoreResult, StoredEvent};

/// The `last_error` a webhook's deletion leaves on its pending deliveries. Every backend uses it.
pub const WEBHOOK_DELETED: &str = "the webhook was deleted";

/// A delivery handed to a dispatcher: the delivery, its tenant, and where and how to send it as
/// the webhook is now (its URL, and its sealed secret to open under
/// `webhook_secret_context(delivery.webhook_id)`).
#[derive(Debug, Clone, PartialEq)]
pub struct ClaimedDelivery {
    pub tenant_id: TenantId,
    pub delivery: WebhookDelivery,
    pub url: String,
    pub secret: SealedWebhookSecret,
}

/// Which deliveries a claim may hand out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeliveryScope {
    /// Every tenant's (the dispatcher's).
    All,
    /// One tenant's only.
    Tenant(TenantId),
}

/// What one attempt to POST a delivery came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AttemptOutcome {
    /// The endpoint answered 2xx with this status.
    Delivered { status: u16 },
    /// No 2xx: the status when an answer came, and why it failed.
    Failed { status: Option<u16>, error: String },
}

/// What recording an attempt did to the delivery.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttemptRecorded {
    /// The delivery is delivered.
    Delivered,
    /// The delivery is pending again, due at `next_attempt_at`.
    RetryScheduled { attempts: u32, next_attempt_at: DateTime<Utc> },
    /// That was the last attempt: the delivery failed.
    Failed { attempts: u32 },
    /// The delivery was not pending (another attempt settled it): nothing changed.
    NotPending,
}

/// The webhook half of the storage contract. Instants a caller passes (`now`) are kept to the
/// microsecond ([`crate::to_micros`]).
#[async_trait]
pub trait WebhookStore: Send + Sync {
    /// Stores a validated webhook (its secret already sealed); it receives the tenant's events
    /// committed from now on.
    async fn create_webhook(&self, actor: &Actor, tenant: TenantId, spec: WebhookSpec) -> StoreResult<Webhook>;
    async fn get_webhook(&self, tenant: TenantId, id: Uuid) -> StoreResult<Webhook>;
    /// Sorts by `Name` or `CreatedAt`; deleted webhooks are left out.
    async fn list_webhooks(&self, tenant: TenantId, page: &PageRequest) -> StoreResult<Page<Webhook>>;
    /// Applies a validated change (a new sealed secret replaces the stored one); a change that
    /// changes nothing is neither stored nor audited.
    async fn update_webhook(
        &self,
        actor: &Actor,
        tenant: TenantId,
        id: Uuid,
        change: WebhookChange,
    ) -> StoreResult<Webhook>;
    /// Soft-deletes the webhook: hidden from every read afterwards, its sealed secret erased, its
    /// pending deliveries failed with [`WEBHOOK_DELETED`]. Deleting it again is `NotFound`.
    async fn delete_webhook(&self, actor: &Actor, tenant: TenantId, id: Uuid) -> StoreResult<()>;

    /// Outbox events of every tenant with `seq > after_seq`, oldest first, at most `limit`, each
    /// with its tenant. Runs across tenants (the dispatcher serves them all).
    async fn read_outbox(&self, after_seq: i64, limit: u32) -> StoreResult<Vec<(TenantId, StoredEvent)>>;
    /// The last seq the subscriber `name` handled, or `None` before its first advance.
    async fn get_outbox_cursor(&self, name: &str) -> StoreResult<Option<i64>>;
    /// Moves the cursor of `name` to `seq` unless it is already there or further (it never moves
    /// backwards); returns where it is now.
    async fn advance_outbox_cursor(&self, name: &str, seq: i64) -> StoreResult<i64>;
    /// The tenants with at least one enabled webhook, so a dispatcher skips the others' events.
    async fn webhook_tenants(&self) -> StoreResult<Vec<TenantId>>;

    /// Creates one pending delivery, due at once, of `event` (an event of `tenant`) to every
    /// enabled webhook of the tenant that takes its type and was created before it committed.
    /// A webhook that has the event's delivery already gets none. Returns how many it created.
    async fn enqueue_deliveries(&self, tenant: TenantId, event: &StoredEvent) -> StoreResult<u32>;
    /// Hands out up to `limit` pending deliveries of `scope` due by `now` (of live, enabled
    /// webhooks), oldest due first, moving each one's next attempt to `now + lease`. Concurrent
    /// claimers never receive the same delivery within a lease.
    async fn claim_due_deliveries(
        &self,
        scope: DeliveryScope,
        now: DateTime<Utc>,
        limit: u32,
        lease: Duration,
    ) -> StoreResult<Vec<ClaimedDelivery>>;
    /// Records an attempt on a pending delivery of the tenant: delivered, or (failed) pending
    /// again at the time `policy` gives, or failed when that was its last attempt. The status
    /// and error are kept as the delivery's last ones. `NotFound(WebhookDelivery)` when the
    /// tenant has no such delivery.
    async fn record_delivery_attempt(
        &self,
        tenant: TenantId,
        id: Uuid,
        outcome: &AttemptOutcome,
        now: DateTime<Utc>,
        policy: &InboxRetryPolicy,
    ) -> StoreResult<AttemptRecorded>;
    /// The delivery log of one webhook of the tenant, by `CreatedAt` in the page's order (the API
    /// asks newest first). `NotFound(Webhook)` for a webhook the tenant does not have.
    async fn list_deliveries(
        &self,
        tenant: TenantId,
        webhook_id: Uuid,
        page: &PageRequest,
    ) -> StoreResult<Page<WebhookDelivery>>;
    /// One delivery of the tenant (of a live webhook).
    async fn get_delivery(&self, tenant: TenantId, id: Uuid) -> StoreResult<WebhookDelivery>;
    /// Puts a delivery (in any state) back in line: pending, due at `now`, with no attempts; its
    /// last status and error stay until the next attempt. `NotFound(WebhookDelivery)` unless the
    /// tenant has it and its webhook is live.
    async fn redeliver(&self, tenant: TenantId, id: Uuid, now: DateTime<Utc>) -> StoreResult<WebhookDelivery>;
}
