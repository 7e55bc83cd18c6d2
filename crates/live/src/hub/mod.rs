//! The tokio side: the [`Hub`] holds every tenant's [`TenantLive`] and channel feeds, takes
//! inputs, publishes coalesced deltas on a timer and hands out [`Subscription`]s.
//!
//! Inputs only mark channels dirty; [`Hub::run`] renders each dirty channel that has
//! subscribers at most once per tick (`1 / max_rate_per_second`), diffs it against the last
//! published document and, when it changed, publishes one delta with the next sequence number.
//! Publishing goes through a `tokio::sync::broadcast` that never waits, so a slow subscriber
//! cannot hold up the hub or other subscribers; it lags instead and resyncs with a snapshot.
//!
//! Locking: one short-held registry lock maps tenants to their state, and each tenant has its
//! own lock over its state and feeds. No lock is held across an `.await`.

mod feed;
mod subscription;

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use chrono::{DateTime, Utc};
use lineup_domain::TenantId;
use tokio::sync::{broadcast, watch};
use tokio::time::MissedTickBehavior;

pub use subscription::Subscription;

use feed::ChannelFeed;
use subscription::SubscriberGuard;

use crate::channel::ChannelId;
use crate::config::LiveConfig;
use crate::frame::Frame;
use crate::input::LiveInput;
use crate::state::{Affected, TenantLive};

/// The live hub. Cheap to clone: clones share one hub.
#[derive(Clone)]
pub struct Hub {
    inner: Arc<Inner>,
}

/// Counters of a hub, for metrics.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct HubStats {
    /// Tenants with state in the hub.
    pub tenants: usize,
    /// Channels that have been subscribed to or snapshotted (and are kept up to date while they
    /// have subscribers).
    pub channels: usize,
    /// Live subscriptions over all channels.
    pub subscribers: usize,
    /// Frames built so far: deltas published plus snapshots serialised.
    pub frames_published: u64,
    /// Times a lagging subscription resynced with a snapshot.
    pub resyncs: u64,
}

struct Inner {
    config: LiveConfig,
    registry: Mutex<Registry>,
    resyncs: AtomicU64,
}

/// The tenants, and the current day start new tenants begin with.
#[derive(Default)]
struct Registry {
    day_start: Option<DateTime<Utc>>,
    tenants: HashMap<TenantId, Arc<Mutex<TenantHub>>>,
}

/// One tenant: its state and the feeds of its channels.
pub(crate) struct TenantHub {
    live: TenantLive,
    feeds: HashMap<ChannelId, ChannelFeed>,
}

impl TenantHub {
    fn mark_dirty(&mut self, affected: &Affected, changed_at: Option<DateTime<Utc>>) {
        if affected.is_empty() {
            return;
        }
        for (id, feed) in &mut self.feeds {
            if affected.contains(id) {
                feed.mark_dirty(changed_at);
            }
        }
    }

    /// The feed of `channel`, created (rendered at `now`) on first use and brought up to date.
    fn feed(&mut self, channel: &ChannelId, now: DateTime<Utc>, config: &LiveConfig) -> &mut ChannelFeed {
        let TenantHub { live, feeds } = self;
        let feed = feeds.entry(channel.clone()).or_insert_with(|| ChannelFeed::new(channel.clone(), live, now, config));
        feed.refresh(live, now);
        feed
    }
}

/// Locks a mutex, recovering the data if a panic poisoned it: every critical section leaves the
/// state consistent between statements that could panic, and the hub must keep serving.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Hub {
    /// An empty hub.
    pub fn new(config: LiveConfig) -> Hub {
        Hub { inner: Arc::new(Inner { config, registry: Mutex::default(), resyncs: AtomicU64::new(0) }) }
    }

    /// The hub's configuration.
    pub fn config(&self) -> &LiveConfig {
        &self.inner.config
    }

    /// Applies inputs to their tenants' state and marks the channels they affect dirty. Cheap and
    /// synchronous: rendering and publishing happen in [`Hub::run`]. `DayStarted` applies to every
    /// tenant, including those created later.
    pub fn apply(&self, inputs: impl IntoIterator<Item = LiveInput>) {
        self.apply_inputs(inputs, None);
    }

    /// [`Hub::apply`] of changes committed at `changed_at` (the oldest of them): the deltas they
    /// cause carry it as `changedAt`, so subscribers can tell how long a change took to reach
    /// them.
    pub fn apply_changes(&self, inputs: impl IntoIterator<Item = LiveInput>, changed_at: DateTime<Utc>) {
        self.apply_inputs(inputs, Some(changed_at));
    }

    fn apply_inputs(&self, inputs: impl IntoIterator<Item = LiveInput>, changed_at: Option<DateTime<Utc>>) {
        for input in inputs {
            match input.tenant() {
                Some(tenant) => {
                    let tenant = self.tenant(tenant);
                    let mut tenant = lock(&tenant);
                    let affected = tenant.live.apply(input);
                    tenant.mark_dirty(&affected, changed_at);
                }
                None => self.apply_to_all(input),
            }
        }
    }

    fn apply_to_all(&self, input: LiveInput) {
        let tenants: Vec<_> = {
            let mut registry = lock(&self.inner.registry);
            if let LiveInput::DayStarted { start } = input {
                registry.day_start = registry.day_start.max(Some(start));
            }
            registry.tenants.values().cloned().collect()
        };
        for tenant in tenants {
            let mut tenant = lock(&tenant);
            let affected = tenant.live.apply(input.clone());
            tenant.mark_dirty(&affected, None);
        }
    }

    /// The tenant's entry, created empty (with the current day start) on first sight.
    fn tenant(&self, tenant: TenantId) -> Arc<Mutex<TenantHub>> {
        let mut registry = lock(&self.inner.registry);
        let day_start = registry.day_start;
        let config = self.inner.config;
        registry
            .tenants
            .entry(tenant)
            .or_insert_with(|| {
                let mut live = TenantLive::new(config);
                if let Some(start) = day_start {
                    live.apply(LiveInput::DayStarted { start });
                }
                Arc::new(Mutex::new(TenantHub { live, feeds: HashMap::new() }))
            })
            .clone()
    }

    /// Publishes until `stop` turns true or its sender is dropped: every tick
    /// (`1 / max_rate_per_second`) runs [`Hub::publish_pending`].
    pub async fn run(self, mut stop: watch::Receiver<bool>) {
        let mut ticks = tokio::time::interval(self.inner.config.tick());
        ticks.set_missed_tick_behavior(MissedTickBehavior::Delay);
        while !*stop.borrow_and_update() {
            tokio::select! {
                _ = ticks.tick() => {
                    let published = self.publish_pending();
                    if published > 0 {
                        tracing::trace!(published, "live deltas published");
                    }
                }
                changed = stop.changed() => {
                    if changed.is_err() {
                        break;
                    }
                }
            }
        }
    }

    /// One publishing round at the current time: renders every channel that has subscribers and
    /// is dirty or whose document expired, and publishes a delta for each that changed. Returns
    /// how many deltas it published. [`Hub::run`] calls this every tick.
    pub fn publish_pending(&self) -> usize {
        let now = Utc::now();
        let tenants: Vec<_> = lock(&self.inner.registry).tenants.values().cloned().collect();
        let mut published = 0;
        for tenant in tenants {
            let mut tenant = lock(&tenant);
            let TenantHub { live, feeds } = &mut *tenant;
            for feed in feeds.values_mut().filter(|feed| feed.subscribers > 0) {
                published += usize::from(feed.refresh(live, now));
            }
        }
        published
    }

    /// Subscribes to a tenant's channel. A subscriber that holds the document as of `since`
    /// gets in [`Subscription::initial`] nothing when that is current, the missed deltas when the
    /// channel's history still has them, else one fresh snapshot (no `since`, too old, or ahead
    /// of the hub, e.g. after a restart). Its receiver then gets every later delta. The channel
    /// is brought up to date first (a channel nobody followed is rendered now and, if it changed
    /// since its last delta, that delta is published early), so `initial` is never stale.
    pub fn subscribe(&self, tenant: TenantId, channel: &ChannelId, since: Option<u64>) -> Subscription {
        let entry = self.tenant(tenant);
        let (initial, receiver, seq) = {
            let mut tenant = lock(&entry);
            let feed = tenant.feed(channel, Utc::now(), &self.inner.config);
            feed.subscribers += 1;
            (feed.frames_since(since), feed.receiver(), feed.seq())
        };
        let guard = SubscriberGuard::new(entry, channel.clone());
        Subscription::new(tenant, channel.clone(), initial, receiver, seq, guard)
    }

    /// A snapshot of a tenant's channel as rendered now, carrying the channel's current seq.
    /// When the channel changed since its last delta, that delta is published first, so the
    /// snapshot and the deltas after it always line up.
    pub fn snapshot(&self, tenant: TenantId, channel: &ChannelId) -> Arc<Frame> {
        let entry = self.tenant(tenant);
        let mut tenant = lock(&entry);
        tenant.feed(channel, Utc::now(), &self.inner.config).snapshot()
    }

    /// [`Hub::snapshot`] together with a receiver of the deltas after it, taken atomically so
    /// that nothing is missed and nothing stale is buffered: how a lagging subscription resyncs.
    fn resync(&self, tenant: TenantId, channel: &ChannelId) -> (Arc<Frame>, broadcast::Receiver<Arc<Frame>>) {
        let entry = self.tenant(tenant);
        let mut tenant = lock(&entry);
        let feed = tenant.feed(channel, Utc::now(), &self.inner.config);
        self.inner.resyncs.fetch_add(1, Ordering::Relaxed);
        (feed.snapshot(), feed.receiver())
    }

    /// Current counters.
    pub fn stats(&self) -> HubStats {
        let tenants: Vec<_> = lock(&self.inner.registry).tenants.values().cloned().collect();
        let mut stats = HubStats {
            tenants: tenants.len(),
            resyncs: self.inner.resyncs.load(Ordering::Relaxed),
            ..HubStats::default()
        };
        for tenant in tenants {
            let tenant = lock(&tenant);
            stats.channels += tenant.feeds.len();
            for feed in tenant.feeds.values() {
                stats.subscribers += feed.subscribers;
                stats.frames_published += feed.frames_built;
            }
        }
        stats
    }
}
