//! The inbox processor: claims due inbox messages and applies each to its call.
//!
//! A claim hands out at most one message per call (the call's oldest unsettled one), under a
//! lease. The processor groups a claim by tenant and applies each tenant's messages in
//! transactions of up to [`ProcessorConfig::transaction`] messages
//! ([`lineup_store::CallStore::apply_inbox_batch`]): every message under its own savepoint merges
//! its observation into the call, moves the call's queue item and settles the message, and the
//! outbox rows of all of them are written last, so one commit (one fsync, one turn of the outbox
//! lock) carries many messages. A message takes effect exactly once even if the process dies at
//! any point: an uncommitted application is claimed again after its lease. A failure is recorded
//! on the message: retried with back-off, then dead-lettered with its error for an operator to
//! replay or discard.
//!
//! A tenant's messages are split into up to [`ProcessorConfig::concurrency`] lanes that run
//! concurrently, each applying its messages a transaction at a time. Messages that may touch the
//! same queue (the queue their call is stored with, else the queue their observation names)
//! always share a lane: transactions side by side then never wait for each other's session rows,
//! so they cannot deadlock, while different queues' calls are applied in parallel. Different
//! tenants are processed concurrently too. Every processor serves every tenant and connection
//! //! (claims look across tenants); on PostgreSQL several nodes' processors share the work (claims
//! skip each other's rows).

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use futures::StreamExt;
use lineup_domain::call::{CallKey, Observation};
use lineup_domain::TenantId;
use lineup_store::{BatchApplied, ClaimScope, DynStore, InboxApplication, InboxMessage, InboxRetryPolicy};
use tokio::sync::{watch, Notify};
use uuid::Uuid;

use crate::health::Health;
use crate::metrics as m;

/// The processor's health name.
pub const NAME: &str = "inbox-processor";

/// How the processor works.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProcessorConfig {
    /// Messages claimed at once.
    pub batch: u32,
    /// Most messages applied in one transaction.
    pub transaction: usize,
    /// Lanes of one tenant applied concurrently (and tenants processed concurrently).
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
            batch: 512,
            transaction: 128,
            concurrency: 4,
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
    committed: Option<watch::Sender<u64>>,
}

impl InboxProcessor {
    /// A processor woken early by `ready` (which pollers and reconcilers notify).
    pub fn new(store: DynStore, health: Health, ready: Arc<Notify>, config: ProcessorConfig) -> InboxProcessor {
        InboxProcessor { store, health, ready, config, committed: None }
    }

    /// The same processor, bumping `committed` (the process's change notifier) after every batch
    /// that changed something, so this process's outbox readers (streams, the live hub, the
    /// dispatcher) and, through them, other nodes hear of it at once.
    pub fn with_committed(mut self, committed: watch::Sender<u64>) -> InboxProcessor {
        self.committed = Some(committed);
        self
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
        let mut results = Vec::with_capacity(count);
        let mut tenants: Vec<(TenantId, Vec<Claimed>)> = Vec::new();
        for message in claimed {
            match decode(&message) {
                Err(error) => results.push(self.failed(&message, &error).await),
                Ok(observation) => {
                    let claimed = Claimed { waited: waited(&message), message, observation };
                    match tenants.iter_mut().find(|(t, _)| *t == claimed.message.tenant_id) {
                        Some((_, list)) => list.push(claimed),
                        None => tenants.push((claimed.message.tenant_id, vec![claimed])),
                    }
                }
            }
        }
        let applied: Vec<Vec<Applied>> = futures::stream::iter(tenants)
            .map(|(tenant, messages)| self.apply_tenant(tenant, messages))
            .buffer_unordered(self.config.concurrency.max(1))
            .collect()
            .await;
        results.extend(applied.into_iter().flatten());
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
        if let Some(committed) = self.committed.as_ref().filter(|_| results.contains(&Applied::Changed)) {
            committed.send_modify(|n| *n = n.wrapping_add(1));
        }
        Ok(count)
    }

    /// Applies one tenant's claimed messages: its lanes concurrently, each a transaction at a
    /// time.
    async fn apply_tenant(&self, tenant: TenantId, messages: Vec<Claimed>) -> Vec<Applied> {
        let lanes = self.lanes(tenant, messages).await;
        let applied = futures::future::join_all(lanes.into_iter().map(|lane| self.apply_lane(tenant, lane))).await;
        applied.into_iter().flatten().collect()
    }

    /// Splits a tenant's messages into lanes by the queue they may touch; one lane when the
    /// store writes one transaction at a time (there is nothing to split for).
    async fn lanes(&self, tenant: TenantId, messages: Vec<Claimed>) -> Vec<Vec<Claimed>> {
        let lanes = self.config.concurrency.min(self.store.concurrent_writers()).max(1);
        if lanes == 1 {
            return vec![messages];
        }
        let keys: Vec<CallKey> = messages.iter().map(|c| c.observation.call).collect();
        let stored = match self.store.call_queues(tenant, &keys).await {
            Ok(stored) => stored,
            Err(e) => {
                tracing::warn!(error = %e, "reading the calls' queues failed; applying in one lane");
                return vec![messages];
            }
        };
        let mut mapped: HashMap<Uuid, HashMap<String, Uuid>> = HashMap::new();
        for connection in keys.iter().map(|k| k.connection).collect::<HashSet<_>>() {
            match self.store.get_pbx_connection(tenant, connection).await {
                Ok(c) => {
                    mapped.insert(connection, c.queue_mappings.into_iter().map(|m| (m.dn, m.queue_id)).collect());
                }
                Err(e) => {
                    tracing::warn!(error = %e, "reading the connection's queue mappings failed; applying in one lane");
                    return vec![messages];
                }
            }
        }
        let queue_of = |c: &Claimed| {
            let call = c.observation.call;
            stored.get(&call).copied().or_else(|| {
                let dn = c.observation.kind.queue_dn()?;
                mapped.get(&call.connection)?.get(dn).copied()
            })
        };
        partition(messages, queue_of, lanes)
    }

    /// Applies one lane's messages, a transaction of up to [`ProcessorConfig::transaction`] at a
    /// time.
    async fn apply_lane(&self, tenant: TenantId, messages: Vec<Claimed>) -> Vec<Applied> {
        let mut results = Vec::with_capacity(messages.len());
        for chunk in messages.chunks(self.config.transaction.max(1)) {
            let batch: Vec<InboxApplication> = chunk
                .iter()
                .map(|c| InboxApplication { lease: c.message.lease(), observation: c.observation.clone() })
                .collect();
            match self.store.apply_inbox_batch(tenant, &batch, Utc::now()).await {
                Ok(outcomes) => {
                    for (claimed, outcome) in chunk.iter().zip(outcomes) {
                        results.push(match outcome {
                            BatchApplied::LeaseLost => Applied::LeaseLost,
                            BatchApplied::Applied(applied) => {
                                metrics::histogram!(m::APPLY_LAG).record(claimed.waited.as_secs_f64());
                                if applied.changed {
                                    Applied::Changed
                                } else {
                                    Applied::Unchanged
                                }
                            }
                            BatchApplied::Failed(error) => self.failed(&claimed.message, &error).await,
                        });
                    }
                }
                Err(e) => {
                    let error = format!("the batch's transaction failed: {e}");
                    for claimed in chunk {
                        results.push(self.failed(&claimed.message, &error).await);
                    }
                }
            }
        }
        results
    }

    /// Records a failed attempt on the message (retried later, or dead-lettered).
    async fn failed(&self, message: &InboxMessage, error: &str) -> Applied {
        tracing::warn!(message = %message.id, attempts = message.attempts + 1, %error, "inbox message failed");
        if let Err(e) = self.store.fail(&message.lease(), error, Utc::now(), &self.config.retry).await {
            tracing::warn!(message = %message.id, error = %e, "recording the failure failed; the lease will lapse");
        }
        Applied::Failed
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

/// A claimed message with its decoded observation.
struct Claimed {
    message: InboxMessage,
    observation: Observation,
    /// How long it waited in the inbox before it was claimed.
    waited: Duration,
}

/// How long a message has waited since it was enqueued.
fn waited(message: &InboxMessage) -> Duration {
    (Utc::now() - message.enqueued_at).to_std().unwrap_or_default()
}

/// The message's observation: `Err` when it is not one, or names another connection.
fn decode(message: &InboxMessage) -> Result<Observation, String> {
    match serde_json::from_value::<Observation>(message.payload.clone()) {
        Err(e) => Err(format!("the message is not an observation: {e}")),
        Ok(obs) if obs.call.connection != message.connection_id => {
            Err(format!("the observation names connection {}, not the message's", obs.call.connection))
        }
        Ok(obs) => Ok(obs),
    }
}

/// Splits `items` into at most `lanes` lanes so that items with the same key share a lane:
/// groups of one key (items without a key are groups of their own) go, largest first, to the
/// lane with the fewest items so far. Within a lane items keep their order.
pub fn partition<T>(items: Vec<T>, key: impl Fn(&T) -> Option<Uuid>, lanes: usize) -> Vec<Vec<T>> {
    let lanes = lanes.max(1);
    let mut groups: Vec<(usize, Vec<(usize, T)>)> = Vec::new();
    let mut group_of: HashMap<Uuid, usize> = HashMap::new();
    for (at, item) in items.into_iter().enumerate() {
        match key(&item) {
            Some(k) => match group_of.get(&k) {
                Some(&g) => groups[g].1.push((at, item)),
                None => {
                    group_of.insert(k, groups.len());
                    groups.push((at, vec![(at, item)]));
                }
            },
            None => groups.push((at, vec![(at, item)])),
        }
    }
    groups.sort_by(|a, b| b.1.len().cmp(&a.1.len()).then(a.0.cmp(&b.0)));
    let mut filled: Vec<Vec<(usize, T)>> = (0..lanes).map(|_| Vec::new()).collect();
    for (_, group) in groups {
        if let Some(lane) = filled.iter_mut().min_by_key(|lane| lane.len()) {
            lane.extend(group);
        }
    }
    filled
        .into_iter()
        .filter(|lane| !lane.is_empty())
        .map(|mut lane| {
            lane.sort_by_key(|(at, _)| *at);
            lane.into_iter().map(|(_, item)| item).collect()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn items_of_one_key_share_a_lane_and_lanes_are_balanced() {
        let (a, b, c) = (Uuid::from_u128(1), Uuid::from_u128(2), Uuid::from_u128(3));
        let items = vec![(1, Some(a)), (2, Some(b)), (3, Some(a)), (4, None), (5, Some(c)), (6, Some(a)), (7, None)];
        let lanes = partition(items, |i| i.1, 3);
        let ids: Vec<Vec<i32>> = lanes.iter().map(|l| l.iter().map(|i| i.0).collect()).collect();
        assert_eq!(ids, [vec![1, 3, 6], vec![2, 5], vec![4, 7]]);
        let one = partition(vec![(1, Some(a)), (2, Some(b))], |i| i.1, 1);
        assert_eq!(one.len(), 1, "one lane takes everything");
        assert!(partition(Vec::<(i32, Option<Uuid>)>::new(), |i| i.1, 4).is_empty());
        let spread = partition((0..8).map(|n| (n, None)).collect(), |i: &(i32, Option<Uuid>)| i.1, 4);
        assert_eq!(spread.iter().map(Vec::len).collect::<Vec<_>>(), [2, 2, 2, 2], "keyless items spread");
    }
}
