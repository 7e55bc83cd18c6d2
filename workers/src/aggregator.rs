//! The analytics aggregator: keeps the pre-aggregated tallies (`TallyStore`) equal to the
//! reconciled calls. Every tick it reads the calls changed since its saved cursor (every tenant),
//! finds the buckets they make dirty ([`aggregate::dirty_buckets`]), recomputes each from all the
//! calls that entered it, replaces it, and saves the cursor.
//!
//! PostgreSQL writers may commit out of `updated_at` order, so each tick reads again the changes
//! of the last [`AggregatorConfig::overlap`] before the cursor: recomputing a bucket twice is
//! harmless. The saved cursor never passes this node's clock minus the overlap, so a call stamped
//! by a writer whose clock runs ahead does not make later changes look old (a writer whose clock
//! runs behind by more than the overlap would still be missed: keep the nodes' clocks in sync). One node aggregates at a time (the lease [`LEASE`]); the others skip their ticks.

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use lineup_analytics::TallyRules;
use lineup_domain::call::CallKey;
use lineup_domain::TenantId;
use lineup_store::page::MAX_LIMIT;
use lineup_store::{
    CallFilter, ChangedCallCursor, DynStore, Entity, PageRequest, SortKey, SortOrder, StoreError, StoredCall,
};
use tokio::sync::watch;
use uuid::Uuid;

use crate::aggregate::{dirty_buckets, recompute_bucket};
use crate::ticker::run_ticks;
use crate::Health;

/// The health name of the aggregator.
pub const NAME: &str = "analytics-aggregator";

/// The lease one aggregating node holds, and the name of its cursor.
pub const LEASE: &str = "analytics-aggregator";

/// How the aggregator works.
#[derive(Debug, Clone)]
pub struct AggregatorConfig {
    /// Time between ticks.
    pub every: Duration,
    /// Changed calls read at a time.
    pub batch: u32,
    /// Changes before the cursor read again each tick.
    pub overlap: Duration,
    /// The thresholds tallies are built with.
    pub rules: TallyRules,
    /// This node's name in the lease.
    pub node_id: String,
    /// Time to live of the lease (renewed every tick).
    pub lease_ttl: Duration,
}

impl Default for AggregatorConfig {
    fn default() -> Self {
        AggregatorConfig {
            every: Duration::from_secs(5),
            batch: 1000,
            overlap: Duration::from_secs(30),
            rules: TallyRules { service_level_secs: 20, short_abandon_secs: 5 },
            node_id: crate::supervisor::default_node_id(),
            lease_ttl: Duration::from_secs(30),
        }
    }
}

/// Keeps the tallies current; see the [module docs](self).
pub struct Aggregator {
    store: DynStore,
    health: Health,
    config: AggregatorConfig,
}

impl Aggregator {
    pub fn new(store: DynStore, health: Health, config: AggregatorConfig) -> Aggregator {
        Aggregator { store, health, config }
    }

    /// Ticks until `stop` turns true (or its sender is dropped), reporting each tick to health.
    pub async fn run(self, stop: watch::Receiver<bool>) {
        let this = &self;
        let tick = |now| async move { this.tick(now).await.map(drop) };
        run_ticks(NAME, &self.health, self.config.every, stop, "analytics aggregation failed", tick).await;
        let _ = self.store.release_lease(LEASE, &self.config.node_id).await;
    }

    /// One tick: aggregates when this node holds (or takes) the lease; `None` when another does.
    pub async fn tick(&self, now: DateTime<Utc>) -> anyhow::Result<Option<usize>> {
        let lease = self.store.acquire_lease(LEASE, &self.config.node_id, now, self.config.lease_ttl).await?;
        if lease.is_none() {
            return Ok(None);
        }
        self.run_once(now).await.map(Some)
    }

    /// Brings the tallies up to the calls stored now; returns how many buckets it replaced.
    pub async fn run_once(&self, now: DateTime<Utc>) -> anyhow::Result<usize> {
        let saved = self.store.aggregation_cursor(LEASE).await?;
        let overlap = TimeDelta::from_std(self.config.overlap).unwrap_or(TimeDelta::zero());
        let mut cursor = saved.map(|c| ChangedCallCursor {
            updated_at: c.updated_at - overlap,
            tenant_id: Uuid::nil(),
            call: CallKey { connection: Uuid::nil(), call_id: i32::MIN },
        });
        let mut replaced = 0;
        loop {
            let changed = self.store.changed_calls(cursor, self.config.batch).await?;
            let Some(&(last, _)) = changed.last() else { break };
            let full = changed.len() as u32 == self.config.batch;
            let calls: Vec<StoredCall> = changed.into_iter().map(|(_, call)| call).collect();
            let mut keys: BTreeMap<TenantId, Vec<CallKey>> = BTreeMap::new();
            for call in &calls {
                keys.entry(call.tenant_id).or_default().push(call.record.key);
            }
            let mut marks = HashMap::new();
            for (tenant, keys) in keys {
                for (key, mark) in self.store.tally_marks(tenant, &keys).await? {
                    marks.insert((tenant, key), mark);
                }
            }
            for (tenant, queue, start) in dirty_buckets(&calls, &marks) {
                let in_bucket = self.calls_entered(tenant, queue, start).await?;
                let bucket = recompute_bucket(queue, start, &in_bucket, self.config.rules)?;
                match self.store.replace_tally_bucket(tenant, &bucket, now).await {
                    Ok(()) => replaced += 1,
                    // The queue is gone (its tenant's data was removed): nothing to count.
                    Err(StoreError::NotFound(Entity::Queue)) => {}
                    Err(e) => return Err(e.into()),
                }
            }
            // Never save a position ahead of this node's clock minus the overlap: a call stamped
            // by a writer whose clock runs ahead must not make later changes look old.
            let horizon = ChangedCallCursor {
                updated_at: now - overlap,
                tenant_id: Uuid::nil(),
                call: CallKey { connection: Uuid::nil(), call_id: i32::MIN },
            };
            let keep = last.min(horizon);
            if saved.is_none_or(|s| keep > s) {
                self.store.save_aggregation_cursor(LEASE, keep, now).await?;
            }
            cursor = Some(last);
            if !full {
                break;
            }
        }
        Ok(replaced)
    }

    /// Every call of the queue that entered in the 15 minutes from `start`.
    async fn calls_entered(
        &self,
        tenant: TenantId,
        queue: Uuid,
        start: DateTime<Utc>,
    ) -> anyhow::Result<Vec<StoredCall>> {
        let filter = CallFilter {
            queue_id: Some(queue),
            entered_from: Some(start),
            entered_to: Some(start + TimeDelta::minutes(15)),
            ..CallFilter::default()
        };
        let mut calls = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let page = PageRequest::new(Some(MAX_LIMIT), SortKey::CreatedAt, SortOrder::Asc, cursor.as_deref())?;
            let got = self.store.list_calls(tenant, &filter, &page).await?;
            calls.extend(got.items);
            match got.next_cursor {
                Some(next) => cursor = Some(next),
                None => return Ok(calls),
            }
        }
    }
}
