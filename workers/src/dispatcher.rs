//! The outbox dispatcher: carries committed events out of the outbox, at least once, to the
//! tenants' outbound webhooks. (In-process readers follow the outbox themselves: the SSE streams
//! by `seq` from `Last-Event-ID`, the live hub of every API node from its own cursor, woken by
//! PostgreSQL `LISTEN/NOTIFY`; see `lineup_api::live::feed`.)
//!
//! - **Webhooks**: the dispatcher reads the outbox in batches from the persisted cursor
//!   [`WEBHOOK_CURSOR`], creates one delivery per event and webhook that takes it
//!   ([`lineup_store::WebhookStore::enqueue_deliveries`]), then advances the cursor. A crash
//!   between the two creates the same deliveries again, which the store refuses (one delivery per
//!   webhook and event), so nothing is lost and nothing doubled. Several dispatchers (one per node)
//!   may run: they create the same deliveries, which is harmless, and claim deliveries with
//!   `SKIP LOCKED`.
//! - **Delivery**: due deliveries are claimed under a lease and POSTed as signed JSON
//!   (`X-Lineup-Signature`, see [`lineup_domain::webhook::sign`]) with `X-Lineup-Event-Id` and
//!   `X-Lineup-Event-Type`; a 2xx answer within the timeout delivers it, anything else is retried
//!   with exponential back-off and, after the last attempt, the delivery fails. Every attempt is
//!   recorded in the delivery log. A delivery whose dispatcher dies mid-attempt is claimed again
//!   when its lease ends, so a receiver may see an event twice: receivers deduplicate by the event
//!   id.
//!
//! The dispatcher wakes every `poll_interval` (200 ms by default), or earlier when
//! [`with_wake`](OutboxDispatcher::with_wake)'s channel says something was committed.

use std::collections::HashSet;
use std::error::Error as _;
use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use futures::StreamExt;
use lineup_domain::webhook::{sign, webhook_secret_context, EVENT_ID_HEADER, EVENT_TYPE_HEADER, SIGNATURE_HEADER};
use lineup_domain::TenantId;
use lineup_security::SecretBox;
use lineup_store::{AttemptOutcome, AttemptRecorded, ClaimedDelivery, DeliveryScope, DynStore, InboxRetryPolicy};
use tokio::sync::{watch, Notify};

use crate::health::Health;
use crate::metrics as m;

/// The dispatcher's health name.
pub const NAME: &str = "outbox-dispatcher";
/// The outbox cursor of delivery creation: the last event turned into webhook deliveries.
pub const WEBHOOK_CURSOR: &str = "webhooks";

/// How the dispatcher works.
#[derive(Debug, Clone, PartialEq)]
pub struct DispatcherConfig {
    /// How long to wait for new events or due deliveries when there is nothing to do.
    pub poll_interval: Duration,
    /// Events read from the outbox at once.
    pub batch: u32,
    /// Deliveries claimed at once.
    pub delivery_batch: u32,
    /// Deliveries POSTed concurrently.
    pub concurrency: usize,
    /// How long a claimed delivery is this dispatcher's before another may claim it (longer than
    /// `request_timeout`).
    pub lease: Duration,
    /// How long one POST may take, connection included.
    pub request_timeout: Duration,
    /// Retries and failure: after attempt `n` fails, the next waits `base_delay * 2^(n-1)` (at
    /// most `max_delay`); attempt `max_attempts` failing fails the delivery.
    pub retry: InboxRetryPolicy,
    /// Whose deliveries it claims (every tenant's by default).
    pub scope: DeliveryScope,
    /// Whether it creates and delivers webhook deliveries at all (off: it does nothing).
    pub webhooks: bool,
}

impl Default for DispatcherConfig {
    /// Polls every 200 ms; POSTs time out after 10 s; 12 attempts from 10 s doubling up to 1 h
    /// (about 3.4 hours from the first attempt to failure).
    fn default() -> Self {
        DispatcherConfig {
            poll_interval: Duration::from_millis(200),
            batch: 500,
            delivery_batch: 64,
            concurrency: 16,
            lease: Duration::from_secs(60),
            request_timeout: Duration::from_secs(10),
            retry: InboxRetryPolicy {
                max_attempts: 12,
                base_delay: Duration::from_secs(10),
                max_delay: Duration::from_secs(3600),
            },
            scope: DeliveryScope::All,
            webhooks: true,
        }
    }
}

/// The outbox dispatcher of one process. See the module documentation.
pub struct OutboxDispatcher {
    store: DynStore,
    secrets: Option<Arc<SecretBox>>,
    health: Health,
    config: DispatcherConfig,
    client: reqwest::Client,
    wake: Option<watch::Receiver<u64>>,
    deliveries_ready: Notify,
}

impl OutboxDispatcher {
    /// A dispatcher over `store`, opening webhook secrets with `secrets` (without it every
    /// delivery attempt fails, saying so), reporting to `health`.
    pub fn new(
        store: DynStore,
        secrets: Option<Arc<SecretBox>>,
        health: Health,
        config: DispatcherConfig,
    ) -> OutboxDispatcher {
        let client = reqwest::Client::builder()
            .timeout(config.request_timeout)
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("Lineup-Webhooks/", env!("CARGO_PKG_VERSION")))
            .build()
            .unwrap_or_else(|e| {
                tracing::warn!(error = %e, "the webhook HTTP client could not be configured; using the defaults");
                reqwest::Client::new()
            });
        OutboxDispatcher { store, secrets, health, config, client, wake: None, deliveries_ready: Notify::new() }
    }

    /// The same dispatcher, also woken when `wake` changes (e.g. the API's commit notifier), so
    /// local commits go out without waiting for the next poll.
    pub fn with_wake(mut self, wake: watch::Receiver<u64>) -> OutboxDispatcher {
        self.wake = Some(wake);
        self
    }

    /// Dispatches until `stop` turns true; a batch of deliveries being POSTed is finished first.
    pub async fn run(self, stop: watch::Receiver<bool>) {
        self.health.register(NAME);
        tracing::info!(webhooks = self.config.webhooks, "outbox dispatcher started");
        let this = Arc::new(self);
        let outbox = this.clone().outbox_loop(stop.clone());
        let deliveries = this.clone().delivery_loop(stop);
        tokio::join!(outbox, deliveries);
        tracing::info!("outbox dispatcher stopped");
    }

    /// Creates deliveries, batch after batch, until stopped.
    async fn outbox_loop(self: Arc<Self>, mut stop: watch::Receiver<bool>) {
        if !self.config.webhooks {
            return;
        }
        let mut wake = self.wake.clone();
        loop {
            if *stop.borrow() {
                break;
            }
            let busy = match self.create_deliveries().await {
                Ok(n) => n >= self.config.batch as usize,
                Err(e) => {
                    self.failed("creating webhook deliveries", &e);
                    false
                }
            };
            if busy {
                continue;
            }
            tokio::select! {
                _ = tokio::time::sleep(self.config.poll_interval) => {}
                _ = changed(&mut wake) => {}
                changed = stop.changed() => if changed.is_err() { break },
            }
        }
    }

    /// Claims and attempts deliveries, batch after batch, until stopped.
    async fn delivery_loop(self: Arc<Self>, mut stop: watch::Receiver<bool>) {
        if !self.config.webhooks {
            return;
        }
        loop {
            if *stop.borrow() {
                break;
            }
            let handled = match self.deliver_due().await {
                Ok(n) => n,
                Err(e) => {
                    self.failed("claiming webhook deliveries", &e);
                    0
                }
            };
            if handled >= self.config.delivery_batch as usize {
                continue;
            }
            tokio::select! {
                _ = tokio::time::sleep(self.config.poll_interval) => {}
                _ = self.deliveries_ready.notified() => {}
                changed = stop.changed() => if changed.is_err() { break },
            }
        }
    }

    fn failed(&self, what: &str, e: &anyhow::Error) {
        tracing::warn!(error = %format!("{e:#}"), "outbox dispatcher: {what} failed");
        self.health.failure(NAME, Utc::now(), &format!("{what}: {e:#}"));
    }

    /// Reads the next batch of events after the webhook cursor, creates their deliveries, and
    /// advances the cursor past them. Reports the dispatcher's lag (the age of the oldest event
    /// not yet handled). Returns how many events it handled.
    pub async fn create_deliveries(&self) -> anyhow::Result<usize> {
        let cursor = self.store.get_outbox_cursor(WEBHOOK_CURSOR).await?.unwrap_or(0);
        let events = self.store.read_outbox(cursor, self.config.batch).await?;
        let now = Utc::now();
        let lag_ms = events.first().map_or(0, |(_, e)| (now - e.created_at).num_milliseconds().max(0));
        metrics::gauge!(m::OUTBOX_LAG).set(lag_ms as f64 / 1000.0);
        let Some(last) = events.last().map(|(_, e)| e.seq) else {
            self.health.success(NAME, now, Some(0));
            return Ok(0);
        };
        let tenants: HashSet<TenantId> = self.store.webhook_tenants().await?.into_iter().collect();
        let mut created = 0;
        for (tenant, event) in events.iter().filter(|(t, _)| tenants.contains(t)) {
            created += self.store.enqueue_deliveries(*tenant, event).await?;
        }
        self.store.advance_outbox_cursor(WEBHOOK_CURSOR, last).await?;
        if created > 0 {
            self.deliveries_ready.notify_one();
        }
        self.health.success(NAME, Utc::now(), Some(lag_ms));
        Ok(events.len())
    }

    /// Claims one batch of due deliveries and attempts each (concurrently). Returns how many it
    /// attempted.
    pub async fn deliver_due(&self) -> anyhow::Result<usize> {
        let claimed = self
            .store
            .claim_due_deliveries(self.config.scope, Utc::now(), self.config.delivery_batch, self.config.lease)
            .await?;
        let count = claimed.len();
        let results: Vec<&'static str> = futures::stream::iter(claimed)
            .map(|delivery| self.attempt(delivery))
            .buffer_unordered(self.config.concurrency.max(1))
            .collect()
            .await;
        for label in ["delivered", "retry", "failed", "stale", "error"] {
            let n = results.iter().filter(|r| **r == label).count() as u64;
            if n > 0 {
                metrics::counter!(m::WEBHOOK_DELIVERIES, "result" => label).increment(n);
            }
        }
        Ok(count)
    }

    /// POSTs one claimed delivery and records the attempt; the metric label of what happened.
    async fn attempt(&self, claimed: ClaimedDelivery) -> &'static str {
        let d = &claimed.delivery;
        let outcome = match self.open_secret(&claimed) {
            Ok(secret) => self.post(&claimed, &secret).await,
            Err(error) => AttemptOutcome::Failed { status: None, error },
        };
        if let AttemptOutcome::Failed { error, .. } = &outcome {
            tracing::debug!(delivery = %d.id, webhook = %d.webhook_id, event = d.event_id, %error, "webhook attempt failed");
        }
        let recorded =
            self.store.record_delivery_attempt(claimed.tenant_id, d.id, &outcome, Utc::now(), &self.config.retry).await;
        match recorded {
            Ok(AttemptRecorded::Delivered) => "delivered",
            Ok(AttemptRecorded::RetryScheduled { .. }) => "retry",
            Ok(AttemptRecorded::Failed { attempts }) => {
                tracing::warn!(delivery = %d.id, webhook = %d.webhook_id, event = d.event_id, attempts, "webhook delivery failed for good");
                "failed"
            }
            Ok(AttemptRecorded::NotPending) => "stale",
            Err(e) => {
                tracing::warn!(delivery = %d.id, error = %e, "recording a webhook attempt failed; the lease will lapse");
                "error"
            }
        }
    }

    /// The webhook's secret in clear, or why it cannot be had.
    fn open_secret(&self, claimed: &ClaimedDelivery) -> Result<String, String> {
        let secrets =
            self.secrets.as_deref().ok_or("no secret key is configured, so the webhook's secret cannot be opened")?;
        let context = webhook_secret_context(claimed.delivery.webhook_id);
        secrets
            .open(&claimed.secret.sealed, &context)
            .map(|plain| plain.to_string())
            .map_err(|e| format!("the webhook's secret cannot be opened: {e}"))
    }

    /// One signed POST of the delivery's body.
    async fn post(&self, claimed: &ClaimedDelivery, secret: &str) -> AttemptOutcome {
        let d = &claimed.delivery;
        let body = match serde_json::to_vec(&d.event) {
            Ok(body) => body,
            Err(e) => {
                return AttemptOutcome::Failed { status: None, error: format!("the body does not serialise: {e}") }
            }
        };
        let signature = sign(secret, Utc::now().timestamp(), &body);
        let sent = self
            .client
            .post(&claimed.url)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header(EVENT_ID_HEADER, d.event_id.to_string())
            .header(EVENT_TYPE_HEADER, d.event_type.as_str())
            .header(SIGNATURE_HEADER, signature)
            .body(body)
            .send()
            .await;
        match sent {
            Ok(answer) if answer.status().is_success() => {
                AttemptOutcome::Delivered { status: answer.status().as_u16() }
            }
            Ok(answer) => AttemptOutcome::Failed {
                status: Some(answer.status().as_u16()),
                error: format!("the endpoint answered {}", answer.status()),
            },
            Err(e) => AttemptOutcome::Failed { status: None, error: describe(e) },
        }
    }
}

/// Waits until `wake` changes; forever when there is none (or its sender is gone).
async fn changed(wake: &mut Option<watch::Receiver<u64>>) {
    match wake {
        Some(rx) => {
            if rx.changed().await.is_err() {
                *wake = None;
                std::future::pending::<()>().await;
            }
        }
        None => std::future::pending::<()>().await,
    }
}

/// A request error for the delivery log: what went wrong and why, without the URL (whose query
/// may hold a token).
fn describe(e: reqwest::Error) -> String {
    let what = if e.is_timeout() {
        "the request timed out"
    } else if e.is_connect() {
        "the connection failed"
    } else if e.is_redirect() {
        "the endpoint redirected"
    } else {
        "the request failed"
    };
    let mut text = what.to_string();
    let e = e.without_url();
    let mut source = e.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}
