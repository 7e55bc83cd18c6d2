//! The inbox processor: claims due inbox messages and applies each to its call.
//!
//! A claim hands out at most one message per call (the call's oldest unsettled one), under a
//! lease; the processor applies messages of different calls concurrently. Applying a message
//! merges its observation into the call, moves the call's queue item and writes the outbox rows
//! and the message's completion in one transaction
//! ([`lineup_store::CallStore::apply_call_observations`]), so a message takes effect exactly once
//! even if the process dies at any point: an uncommitted application is claimed again after its
//! lease. A failure is recorded on the message: retried with back-off, then dead-lettered with its
//! error for an operator to replay or discard.
//!
//! Every processor serves every tenant and connection (claims look across tenants); on
//! PostgreSQL several nodes' processors share the work (claims skip each other's rows).

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use futures::StreamExt;
use lineup_domain::call::Observation;
use lineup_store::{ClaimScope, DynStore, InboxMessage, InboxRetryPolicy};
use tokio::sync::{watch, Notify};

use crate::health::Health;
use crate::metrics as m;

/// The processor's health name.
pub const NAME: &str = "inbox-processor";

/// How the processor works.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProcessorConfig {
    /// Messages claimed at once.
    pub batch: u32,
    /// Messages applied concurrently.
    pub concurrency: usize,
    /// How long a claimed message is the processor's before another may claim it.
    pub lease: Duration,
    /// How long to wait for new messages when the inbox is empty (a local enqueue wakes it
    /// earlier; other nodes' enqueues are found by this poll).
    pub idle_wait: Duration,
    /// Retries and dead-lettering.
    pub retry: InboxRetryPolicy,
    /// How often the inbox depth gauges are refreshed.
    pub depth_every: Duration,
    /// Whose messages it claims: every connection's (the default), or one connection's.
    pub scope: ClaimScope,
}

impl Default for ProcessorConfig {
    fn default() -> Self {
        ProcessorConfig {
            batch: 256,
            concurrency: 8,
            lease: Duration::from_secs(30),
            idle_wait: Duration::from_millis(250),
            retry: InboxRetryPolicy::default(),
            depth_every: Duration::from_secs(5),
            scope: ClaimScope::All,
        }
    }
}

/// What happened to one message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Applied {
    /// Applied; the call (or its item) changed.
    Changed,
    /// Applied; it told nothing new.
    Unchanged,
    /// Failed; retried later or dead-lettered.
    Failed,
    /// Another claimer holds it now.
    LeaseLost,
}

/// The inbox processor.
#[derive(Clone)]
pub struct InboxProcessor {
    store: DynStore,
    health: Health,
    ready: Arc<Notify>,
    config: ProcessorConfig,
}

impl InboxProcessor {
    /// A processor woken early by `ready` (which pollers and reconcilers notify).
    pub fn new(store: DynStore, health: Health, ready: Arc<Notify>, config: ProcessorConfig) -> InboxProcessor {
        InboxProcessor { store, health, ready, config }
    }

    /// Processes until `stop` turns true.
    pub async fn run(self, mut stop: watch::Receiver<bool>) {
        self.health.register(NAME);
        let mut depth_at = tokio::time::Instant::now();
        loop {
            if *stop.borrow() {
                break;
            }
            let done = match self.process_batch().await {
                Ok(n) => n,
                Err(e) => {
                    tracing::warn!(error = %e, "inbox claim failed");
                    self.health.failure(NAME, Utc::now(), &e.to_string());
                    0
                }
            };
            if depth_at.elapsed() >= self.config.depth_every {
                depth_at = tokio::time::Instant::now();
                self.refresh_depth().await;
            }
            if done == 0 {
                tokio::select! {
                    _ = self.ready.notified() => {}
                    _ = tokio::time::sleep(self.config.idle_wait) => {}
                    changed = stop.changed() => if changed.is_err() { break },
                }
            }
        }
    }

    /// Claims one batch and applies it; the number of messages handled.
    pub async fn process_batch(&self) -> anyhow::Result<usize> {
        let claimed = self.store.claim(self.config.scope, Utc::now(), self.config.batch, self.config.lease).await?;
        let count = claimed.len();
        let results: Vec<Applied> = futures::stream::iter(claimed)
            .map(|message| self.apply(message))
            .buffer_unordered(self.config.concurrency.max(1))
            .collect()
            .await;
        for (result, label) in [
            (Applied::Changed, "applied"),
            (Applied::Unchanged, "unchanged"),
            (Applied::Failed, "failed"),
            (Applied::LeaseLost, "lease_lost"),
        ] {
            let n = results.iter().filter(|r| **r == result).count() as u64;
            if n > 0 {
                metrics::counter!(m::INBOX_PROCESSED, "result" => label).increment(n);
            }
        }
        if count > 0 {
            self.health.success(NAME, Utc::now(), None);
        }
        Ok(count)
    }

    /// Applies one claimed message and settles it.
    pub async fn apply(&self, message: InboxMessage) -> Applied {
        let lease = message.lease();
        let waited = (Utc::now() - message.enqueued_at).to_std().unwrap_or_default();
        let outcome = match serde_json::from_value::<Observation>(message.payload.clone()) {
            Err(e) => Err(format!("the message is not an observation: {e}")),
            Ok(obs) if obs.call.connection != message.connection_id => {
                Err(format!("the observation names connection {}, not the message's", obs.call.connection))
            }
            Ok(obs) => self
                .store
                .apply_call_observations(
                    lease.tenant_id,
                    obs.call,
                    std::slice::from_ref(&obs),
                    Some(&lease),
                    Utc::now(),
                )
                .await
                .map_err(|e| e.to_string()),
        };
        match outcome {
            Ok(applied) if applied.lease_lost => Applied::LeaseLost,
            Ok(applied) => {
                metrics::histogram!(m::APPLY_LAG).record(waited.as_secs_f64());
                if applied.changed {
                    Applied::Changed
                } else {
                    Applied::Unchanged
                }
            }
            Err(error) => {
                tracing::warn!(message = %message.id, attempts = message.attempts + 1, %error, "inbox message failed");
                if let Err(e) = self.store.fail(&lease, &error, Utc::now(), &self.config.retry).await {
                    tracing::warn!(message = %message.id, error = %e, "recording the failure failed; the lease will lapse");
                }
                Applied::Failed
            }
        }
    }

    /// Updates the inbox gauges and the processor's lag.
    pub async fn refresh_depth(&self) {
        match self.store.inbox_depth(None).await {
            Ok(depth) => {
                metrics::gauge!(m::INBOX_PENDING).set(depth.pending as f64);
                metrics::gauge!(m::INBOX_IN_FLIGHT).set(depth.in_flight as f64);
                metrics::gauge!(m::DEAD_LETTERS).set(depth.dead as f64);
                let lag = depth.oldest_pending_at.map(|t| (Utc::now() - t).num_milliseconds().max(0));
                metrics::gauge!(m::INBOX_LAG).set(lag.unwrap_or(0) as f64 / 1000.0);
                self.health.success(NAME, Utc::now(), Some(lag.unwrap_or(0)));
            }
            Err(e) => self.health.failure(NAME, Utc::now(), &format!("reading the inbox depth: {e}")),
        }
    }
}
