//! Feeds the live hub from storage: a tenant's state is rebuilt from the stored queues, open
//! sessions' items and calls the first time one of its channels is subscribed, and from then on
//! every committed outbox event of the tenant is turned into hub inputs.
//!
//! The feed tails the outbox across tenants (`read_outbox`) from the newest event at start. It
//! reads when this process commits (the API's change notifier), when another process commits
//! (`Store::outbox_wakeups`: PostgreSQL `LISTEN/NOTIFY`), and at least every
//! [`FeedConfig::poll_every`] (a notification lost while the listener reconnected). A tenant
//! rebuilt at outbox position `S` skips the events up to `S` (storage already shows them) and
//! applies the later ones in order, so its state converges to storage even while it changes.
//!
//! Agent presence and queue changes (created, renamed, deactivated) are not outbox events: the
//! pollers store presence ([`lineup_store::PbxStore`]) and the admin API the queues, and the feed
//! reads both for every followed tenant every [`FeedConfig::directory_every`], on a timer of its
//! own, so they reach every node's hub within that time whatever else happens.
//!
//! Deleting a session or archiving it emits no event: its items keep counting until the session
//! is completed (which every archive passes through) or the process restarts.

use std::collections::HashMap;
use std::time::Duration;

use chrono::{DateTime, NaiveTime, Utc};
use futures::StreamExt;
use lineup_domain::call::CallOutcome;
use lineup_domain::{EventKind, Item, Lifecycle, Queue, Session, StoredPbxAgent, TenantId};
use lineup_live::{AgentPresence, CallUpdate, Hub, ItemInfo, LiveInput, QueueInfo};
use lineup_store::page::MAX_LIMIT;
use lineup_store::{
    CallFilter, DynStore, ItemFilter, Page, PageRequest, SortKey, SortOrder, StoreResult, StoredCall, StoredEvent,
};
use tokio::sync::{mpsc, oneshot, watch};
use tokio::time::Instant;
use uuid::Uuid;

/// Events read from the outbox at a time.
const BATCH: u32 = 500;

/// How the feed works.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FeedConfig {
    /// Longest time between two outbox reads when nothing wakes the feed.
    pub poll_every: Duration,
    /// How often followed tenants' agent presence and queue list are read (the pollers store
    /// presence every few seconds; neither is an outbox event).
    pub directory_every: Duration,
}

impl Default for FeedConfig {
    fn default() -> Self {
        FeedConfig { poll_every: Duration::from_secs(1), directory_every: Duration::from_secs(2) }
    }
}

/// A handle to the running feed: asks it to make a tenant's state ready.
#[derive(Clone)]
pub struct Feed {
    requests: mpsc::Sender<(TenantId, oneshot::Sender<Result<(), String>>)>,
}

impl Feed {
    /// Returns once the tenant's live state is rebuilt from storage and followed (at once when it
    /// already is); `Err` when the rebuild failed (the next call tries again).
    pub async fn ensure_tenant(&self, tenant: TenantId) -> Result<(), String> {
        let (tx, rx) = oneshot::channel();
        self.requests.send((tenant, tx)).await.map_err(|_| "the live feed has stopped".to_string())?;
        rx.await.map_err(|_| "the live feed has stopped".to_string())?
    }
}

/// Starts the feed of `hub` on the current runtime; it stops when `stop` turns true. `local`
/// is the change notifier this process bumps after its commits.
pub fn spawn(
    store: DynStore,
    hub: Hub,
    local: watch::Receiver<u64>,
    config: FeedConfig,
    stop: watch::Receiver<bool>,
) -> Feed {
    let (requests, inbox) = mpsc::channel(64);
    let tail = Tail { store, hub, tenants: HashMap::new(), labels: HashMap::new(), day: day_start(Utc::now()) };
    tokio::spawn(tail.run(inbox, local, config, stop));
    Feed { requests }
}

/// The state of the tail loop.
struct Tail {
    store: DynStore,
    hub: Hub,
    /// Followed tenants, with the outbox position their rebuild read at.
    tenants: HashMap<TenantId, i64>,
    /// Status labels of sessions, by session: `(queue, status id → label)`.
    labels: HashMap<Uuid, HashMap<Uuid, String>>,
    /// Start of the current day (UTC).
    day: DateTime<Utc>,
}

impl Tail {
    async fn run(
        mut self,
        mut requests: mpsc::Receiver<(TenantId, oneshot::Sender<Result<(), String>>)>,
        mut local: watch::Receiver<u64>,
        config: FeedConfig,
        mut stop: watch::Receiver<bool>,
    ) {
        let mut cursor = loop {
            match self.store.last_event_seq().await {
                Ok(seq) => break seq,
                Err(e) => {
                    tracing::warn!(error = %e, "live feed: reading the outbox position failed");
                    tokio::select! {
                        _ = tokio::time::sleep(config.poll_every) => {}
                        _ = stop.changed() => return,
                    }
                }
            }
        };
        let mut wakeups = self.wakeups().await;
        let mut directory_due = Instant::now() + config.directory_every;
        loop {
            if *stop.borrow() {
                return;
            }
            self.roll_day();
            loop {
                match self.read(&mut cursor).await {
                    Ok(n) if n as u32 == BATCH => continue,
                    Ok(_) => break,
                    Err(e) => {
                        tracing::warn!(error = %e, "live feed: reading the outbox failed");
                        break;
                    }
                }
            }
            // Wait for a reason to read the outbox again; refresh queues and agents meanwhile.
            let poll_due = Instant::now() + config.poll_every;
            loop {
                tokio::select! {
                    request = requests.recv() => match request {
                        Some((tenant, reply)) => {
                            let result = self.ensure(tenant).await;
                            let _ = reply.send(result);
                            break;
                        }
                        None => return,
                    },
                    _ = local.changed() => break,
                    woke = wakeups.next() => {
                        if woke.is_none() {
                            wakeups = self.wakeups().await;
                        }
                        break;
                    }
                    _ = tokio::time::sleep_until(poll_due) => break,
                    _ = tokio::time::sleep_until(directory_due) => {
                        directory_due = Instant::now() + config.directory_every;
                        self.refresh_directories().await;
                    }
                    _ = stop.changed() => break,
                }
            }
        }
    }

    /// Reads every followed tenant's queues and agents into the hub.
    async fn refresh_directories(&mut self) {
        let tenants: Vec<TenantId> = self.tenants.keys().copied().collect();
        for tenant in tenants {
            match self.directory(tenant).await {
                Ok(inputs) => self.hub.apply(inputs),
                Err(e) => tracing::warn!(error = %e, %tenant, "live feed: reading queues and agents failed"),
            }
        }
    }

    /// The store's outbox notifications; never-yielding after a failure (the poll still runs).
    async fn wakeups(&self) -> futures::stream::BoxStream<'static, ()> {
        match self.store.outbox_wakeups().await {
            Ok(stream) => stream,
            Err(e) => {
                tracing::warn!(error = %e, "live feed: listening for outbox notifications failed; polling only");
                Box::pin(futures::stream::pending())
            }
        }
    }

    /// Restarts today's counters at midnight (UTC).
    fn roll_day(&mut self) {
        let today = day_start(Utc::now());
        if today != self.day {
            self.day = today;
            self.hub.apply([LiveInput::DayStarted { start: today }]);
        }
    }

    /// Reads and applies the next outbox batch; returns how many events it read.
    async fn read(&mut self, cursor: &mut i64) -> StoreResult<usize> {
        let events = self.store.read_outbox(*cursor, BATCH).await?;
        let read = events.len();
        let mut inputs = Vec::new();
        let mut oldest: Option<DateTime<Utc>> = None;
        for (tenant, event) in events {
            *cursor = event.seq;
            let Some(&since) = self.tenants.get(&tenant) else { continue };
            if event.seq <= since {
                continue;
            }
            match self.inputs_of(tenant, &event).await {
                Ok(mut more) => {
                    oldest = Some(oldest.map_or(event.created_at, |t| t.min(event.created_at)));
                    inputs.append(&mut more);
                }
                Err(e) => tracing::warn!(error = %e, seq = event.seq, "live feed: an event could not be read"),
            }
        }
        if let Some(changed_at) = oldest {
            self.hub.apply_changes(inputs, changed_at);
        }
        Ok(read)
    }

    /// What one outbox event tells the hub.
    async fn inputs_of(&mut self, tenant: TenantId, event: &StoredEvent) -> StoreResult<Vec<LiveInput>> {
        Ok(match event.kind {
            EventKind::ItemCreated | EventKind::ItemUpdated => {
                match serde_json::from_value::<Item>(event.payload.clone()) {
                    Ok(item) => vec![self.item_input(tenant, &item).await?],
                    Err(e) => return Err(bad_payload(event, e)),
                }
            }
            EventKind::ItemStatusChanged => {
                let item = event.payload.get("item").cloned().unwrap_or_default();
                match serde_json::from_value::<Item>(item) {
                    Ok(item) => vec![self.item_input(tenant, &item).await?],
                    Err(e) => return Err(bad_payload(event, e)),
                }
            }
            EventKind::SessionCompleted => match serde_json::from_value::<Session>(event.payload.clone()) {
                Ok(session) => {
                    self.labels.remove(&session.id);
                    vec![LiveInput::SessionClosed { tenant, queue_id: session.queue_id, session_id: session.id }]
                }
                Err(e) => return Err(bad_payload(event, e)),
            },
            EventKind::SessionPaused | EventKind::SessionResumed => Vec::new(),
            EventKind::CallUpdated => match serde_json::from_value::<CallUpdate>(event.payload.clone()) {
                Ok(call) => vec![LiveInput::Call { tenant, call }],
                Err(e) => return Err(bad_payload(event, e)),
            },
        })
    }

    /// The hub input of an item of an open session: its status's label, looked up in the
    /// session's statuses.
    async fn item_input(&mut self, tenant: TenantId, item: &Item) -> StoreResult<LiveInput> {
        if !self.labels.contains_key(&item.session_id) {
            let statuses = self.store.list_session_statuses(tenant, item.session_id).await?;
            self.labels.insert(item.session_id, statuses.into_iter().map(|s| (s.id, s.label)).collect());
        }
        let status = self.labels.get(&item.session_id).and_then(|l| l.get(&item.status_id)).cloned();
        let item = ItemInfo {
            id: item.id,
            queue_id: item.queue_id,
            session_id: item.session_id,
            status: status.unwrap_or_else(|| item.status_id.to_string()),
            open: true,
        };
        Ok(LiveInput::Item { tenant, item })
    }

    /// Rebuilds a tenant not followed yet.
    async fn ensure(&mut self, tenant: TenantId) -> Result<(), String> {
        if self.tenants.contains_key(&tenant) {
            return Ok(());
        }
        let since = self.store.last_event_seq().await.map_err(|e| e.to_string())?;
        let inputs = self.rebuild(tenant).await.map_err(|e| format!("rebuilding the live state: {e}"))?;
        self.hub.apply(inputs);
        self.tenants.insert(tenant, since);
        Ok(())
    }

    /// Everything storage says about the tenant's live state now.
    async fn rebuild(&mut self, tenant: TenantId) -> StoreResult<Vec<LiveInput>> {
        let store = self.store.clone();
        let mut inputs = vec![LiveInput::DayStarted { start: self.day }];
        let queues = self.queues(tenant).await?;
        inputs.extend(queues.iter().map(|queue| queue_input(tenant, queue)));
        for queue in &queues {
            let sessions = all_pages(SortKey::SessionNumber, |page| {
                let store = store.clone();
                let queue_id = queue.id;
                async move { store.list_sessions(tenant, queue_id, &page).await }
            })
            .await?;
            for session in
                sessions.iter().filter(|s| matches!(s.lifecycle_status, Lifecycle::Active | Lifecycle::Paused))
            {
                let items = all_pages(SortKey::Number, |page| {
                    let store = store.clone();
                    let session_id = session.id;
                    async move { store.list_items(tenant, session_id, &ItemFilter::default(), &page).await }
                })
                .await?;
                for item in &items {
                    inputs.push(self.item_input(tenant, item).await?);
                }
            }
        }
        inputs.extend(self.agents(tenant).await?);
        let live = CallFilter { outcome: Some(CallOutcome::InProgress), ..CallFilter::default() };
        let today = CallFilter { entered_from: Some(self.day), ..CallFilter::default() };
        for filter in [live, today] {
            let calls = all_pages(SortKey::CreatedAt, |page| {
                let store = store.clone();
                let filter = filter.clone();
                async move { store.list_calls(tenant, &filter, &page).await }
            })
            .await?;
            inputs.extend(calls.into_iter().filter_map(|c| call_input(tenant, c)));
        }
        Ok(inputs)
    }
}

impl Tail {
    /// The tenant's agents as the pollers last stored them.
    async fn agents(&self, tenant: TenantId) -> StoreResult<Vec<LiveInput>> {
        let agents = self.store.list_pbx_agents(tenant).await?;
        Ok(agents.into_iter().map(|a| LiveInput::Agent { tenant, agent: presence_of(a) }).collect())
    }

    /// Every queue of the tenant.
    async fn queues(&self, tenant: TenantId) -> StoreResult<Vec<Queue>> {
        let store = self.store.clone();
        all_pages(SortKey::CreatedAt, |page| {
            let store = store.clone();
            async move { store.list_queues(tenant, &page).await }
        })
        .await
    }

    /// The tenant's queues and agents as storage has them now (the hub ignores what did not
    /// change).
    async fn directory(&self, tenant: TenantId) -> StoreResult<Vec<LiveInput>> {
        let mut inputs: Vec<LiveInput> = self.queues(tenant).await?.iter().map(|q| queue_input(tenant, q)).collect();
        inputs.extend(self.agents(tenant).await?);
        Ok(inputs)
    }
}

/// A stored queue as a hub input.
fn queue_input(tenant: TenantId, queue: &Queue) -> LiveInput {
    LiveInput::Queue { tenant, queue: QueueInfo { id: queue.id, name: queue.name.clone(), active: queue.is_active } }
}

/// A stored agent as the hub's presence input.
fn presence_of(stored: StoredPbxAgent) -> AgentPresence {
    AgentPresence {
        dn: stored.agent.dn,
        name: stored.agent.name,
        queue_ids: stored.queue_ids,
        logged_in: stored.agent.logged_in,
        paused: stored.agent.paused,
        since: stored.since,
    }
}

/// A stored call as a hub input (calls without a queue item are not live-tracked).
fn call_input(tenant: TenantId, call: StoredCall) -> Option<LiveInput> {
    let update = CallUpdate { queue_id: call.queue_id, item_id: Some(call.item_id?), record: call.record };
    Some(LiveInput::Call { tenant, call: update })
}

/// Every page of a list, first to last.
async fn all_pages<T, F, Fut>(sort: SortKey, mut list: F) -> StoreResult<Vec<T>>
where
    F: FnMut(PageRequest) -> Fut,
    Fut: std::future::Future<Output = StoreResult<Page<T>>>,
{
    let mut all = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let page = PageRequest::new(Some(MAX_LIMIT), sort, SortOrder::Asc, cursor.as_deref())?;
        let Page { items, next_cursor } = list(page).await?;
        all.extend(items);
        match next_cursor {
            Some(next) => cursor = Some(next),
            None => return Ok(all),
        }
    }
}

/// Midnight (UTC) of the day of `now`.
fn day_start(now: DateTime<Utc>) -> DateTime<Utc> {
    now.date_naive().and_time(NaiveTime::MIN).and_utc()
}

fn bad_payload(event: &StoredEvent, e: serde_json::Error) -> lineup_store::StoreError {
    lineup_store::StoreError::Backend(format!(
        "outbox event {} ({}) has an unexpected payload: {e}",
        event.seq,
        event.kind.as_str()
    ))
}
