//! The supervisor: runs the inbox processor, the session scheduler, the outbox dispatcher and,
//! for every enabled PBX connection this node holds the lease of, its poller and reconcilers.
//!
//! Every [`SupervisorConfig::refresh_every`] it reads the enabled connections of every tenant;
//! a new connection gets a connection task, a changed one (its `updated_at` moved: new secret,
//! interval or mappings) is restarted, a removed or disabled one is stopped. A connection task
//! takes the lease `pbx:<connection id>` ([`lineup_store::CallStore::acquire_lease`]) and renews
//! it every third of its time to live; while it holds it, the poller runs and the reconcilers are
//! scheduled (tokio-cron-scheduler); when it loses it, they stop. Another node's task takes the
//! lease over once it lapses, so a dead node's connections move within one time to live. Two
//! nodes briefly polling one PBX during a take-over is harmless: the inbox refuses repeats.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use lineup_security::SecretBox;
use lineup_store::{DynStore, EnabledPbxConnection};
use tokio::sync::{watch, Notify};
use tokio::task::JoinHandle;
use tokio_cron_scheduler::{Job, JobScheduler};
use uuid::Uuid;

use crate::aggregator::{Aggregator, AggregatorConfig};
use crate::clock::PbxClock;
use crate::connection::PbxLink;
use crate::dispatcher::{DispatcherConfig, OutboxDispatcher};
use crate::health::Health;
use crate::metrics as m;
use crate::poller::{Poller, PollerConfig};
use crate::processor::{InboxProcessor, ProcessorConfig};
use crate::reconciler::{Reconciler, ReconcilerConfig};
use crate::scheduler::SessionScheduler;

/// What the supervisor runs and how.
#[derive(Debug, Clone)]
pub struct SupervisorConfig {
    /// This node's name in leases (unique per process).
    pub node_id: String,
    /// Run pollers and reconcilers.
    pub ingest: bool,
    /// Run the inbox processor.
    pub process: bool,
    /// Run the outbox dispatcher (in-process fan-out and webhooks).
    pub dispatch: bool,
    /// How often the session scheduler (run beside the processor) looks for due shift rotations.
    pub schedule_every: Duration,
    /// How often the enabled connections are read again.
    pub refresh_every: Duration,
    /// Time to live of a connection lease.
    pub lease_ttl: Duration,
    /// Per-request timeout of the XAPI clients.
    pub xapi_request_timeout: Duration,
    pub poller: PollerConfig,
    pub reconciler: ReconcilerConfig,
    pub processor: ProcessorConfig,
    pub dispatcher: DispatcherConfig,
    /// The analytics aggregator (run beside the processor; its `node_id` is this config's).
    pub analytics: AggregatorConfig,
}

impl Default for SupervisorConfig {
    fn default() -> Self {
        SupervisorConfig {
            node_id: default_node_id(),
            ingest: true,
            process: true,
            dispatch: true,
            schedule_every: crate::scheduler::DEFAULT_EVERY,
            refresh_every: Duration::from_secs(5),
            lease_ttl: Duration::from_secs(10),
            xapi_request_timeout: Duration::from_secs(10),
            poller: PollerConfig::default(),
            reconciler: ReconcilerConfig::default(),
            processor: ProcessorConfig::default(),
            dispatcher: DispatcherConfig::default(),
            analytics: AggregatorConfig::default(),
        }
    }
}

/// `<host>-<pid>-<random>`: unique per process, readable in lease listings.
pub fn default_node_id() -> String {
    let host = std::env::var("HOSTNAME").unwrap_or_else(|_| "node".into());
    format!("{host}-{}-{}", std::process::id(), &Uuid::new_v4().simple().to_string()[..8])
}

/// The lease name of a connection.
pub fn lease_name(connection: Uuid) -> String {
    format!("pbx:{connection}")
}

/// Runs the workers of this node.
pub struct Supervisor {
    store: DynStore,
    secrets: Option<Arc<SecretBox>>,
    health: Health,
    config: SupervisorConfig,
    ready: Arc<Notify>,
    commits: Option<watch::Sender<u64>>,
}

struct Running {
    updated_at: DateTime<Utc>,
    stop: watch::Sender<bool>,
    task: JoinHandle<()>,
}

impl Supervisor {
    /// A supervisor over `store`; `secrets` opens the PBX client secrets (without it no
    /// connection can be polled, and each reports that in its health).
    pub fn new(store: DynStore, secrets: Option<Arc<SecretBox>>, health: Health, config: SupervisorConfig) -> Self {
        Supervisor { store, secrets, health, config, ready: Arc::new(Notify::new()), commits: None }
    }

    /// The same supervisor sharing the process's change notifier `commits`: its dispatcher wakes
    /// when it changes (local commits go out without waiting for the next poll) and its inbox
    /// processor bumps it after committing changes.
    pub fn with_commits(mut self, commits: watch::Sender<u64>) -> Self {
        self.commits = Some(commits);
        self
    }

    /// Runs until `stop` turns true, then stops every worker and releases its leases.
    pub async fn run(self, mut stop: watch::Receiver<bool>) -> anyhow::Result<()> {
        let (stop_all, stopped) = watch::channel(false);
        let mut tasks = Vec::new();
        if self.config.process {
            let mut processor =
                InboxProcessor::new(self.store.clone(), self.health.clone(), self.ready.clone(), self.config.processor);
            if let Some(commits) = self.commits.clone() {
                processor = processor.with_committed(commits);
            }
            tasks.push(tokio::spawn(processor.run(stopped.clone())));
        }
        if self.config.process {
            let scheduler = SessionScheduler::new(self.store.clone(), self.health.clone(), self.config.schedule_every);
            tasks.push(tokio::spawn(scheduler.run(stopped.clone())));
            let analytics = AggregatorConfig { node_id: self.config.node_id.clone(), ..self.config.analytics.clone() };
            let aggregator = Aggregator::new(self.store.clone(), self.health.clone(), analytics);
            tasks.push(tokio::spawn(aggregator.run(stopped.clone())));
        }
        if self.config.dispatch {
            let mut dispatcher = OutboxDispatcher::new(
                self.store.clone(),
                self.secrets.clone(),
                self.health.clone(),
                self.config.dispatcher.clone(),
            );
            if let Some(commits) = &self.commits {
                dispatcher = dispatcher.with_wake(commits.subscribe());
            }
            tasks.push(tokio::spawn(dispatcher.run(stopped.clone())));
        }
        let mut running: BTreeMap<Uuid, Running> = BTreeMap::new();
        let scheduler = if self.config.ingest {
            let scheduler = JobScheduler::new().await?;
            scheduler.start().await?;
            Some(scheduler)
        } else {
            None
        };
        loop {
            if let Some(scheduler) = &scheduler {
                self.refresh(scheduler, &mut running).await;
            }
            tokio::select! {
                _ = tokio::time::sleep(self.config.refresh_every) => {}
                changed = stop.changed() => if changed.is_err() || *stop.borrow() { break },
            }
        }
        for (_, r) in std::mem::take(&mut running) {
            let _ = r.stop.send(true);
            let _ = r.task.await;
        }
        let _ = stop_all.send(true);
        for task in tasks {
            let _ = task.await;
        }
        if let Some(mut scheduler) = scheduler {
            let _ = scheduler.shutdown().await;
        }
        Ok(())
    }

    async fn refresh(&self, scheduler: &JobScheduler, running: &mut BTreeMap<Uuid, Running>) {
        let enabled = match self.store.list_enabled_pbx_connections().await {
            Ok(list) => list,
            Err(e) => {
                tracing::warn!(error = %e, "reading the PBX connections failed");
                self.health.failure("supervisor", Utc::now(), &e.to_string());
                return;
            }
        };
        self.health.success("supervisor", Utc::now(), None);
        let wanted: BTreeMap<Uuid, &EnabledPbxConnection> = enabled.iter().map(|c| (c.connection.id, c)).collect();
        let gone: Vec<Uuid> = running
            .iter()
            .filter(|(id, r)| wanted.get(id).is_none_or(|c| c.connection.updated_at != r.updated_at))
            .map(|(id, _)| *id)
            .collect();
        for id in gone {
            if let Some(r) = running.remove(&id) {
                let _ = r.stop.send(true);
                let _ = r.task.await;
            }
        }
        for (id, enabled) in wanted {
            if running.contains_key(&id) {
                continue;
            }
            let (stop, stopped) = watch::channel(false);
            let task = ConnectionTask {
                enabled: enabled.clone(),
                store: self.store.clone(),
                secrets: self.secrets.clone(),
                health: self.health.clone(),
                ready: self.ready.clone(),
                scheduler: scheduler.clone(),
                config: self.config.clone(),
            };
            let handle = tokio::spawn(task.run(stopped));
            running.insert(id, Running { updated_at: enabled.connection.updated_at, stop, task: handle });
        }
    }
}

/// The workers of one connection, under its lease.
struct ConnectionTask {
    enabled: EnabledPbxConnection,
    store: DynStore,
    secrets: Option<Arc<SecretBox>>,
    health: Health,
    ready: Arc<Notify>,
    scheduler: JobScheduler,
    config: SupervisorConfig,
}

/// What runs while the lease is held.
struct Active {
    poller_stop: watch::Sender<bool>,
    poller: JoinHandle<()>,
    jobs: Vec<Uuid>,
}

impl ConnectionTask {
    fn name(&self) -> String {
        format!("connection:{}", self.enabled.connection.id)
    }

    async fn run(self, mut stop: watch::Receiver<bool>) {
        let id = self.enabled.connection.id;
        let name = self.name();
        let lease = lease_name(id);
        let link = match self.secrets.as_deref() {
            None => Err(anyhow::anyhow!("no secret key is configured, so the client secret cannot be opened")),
            Some(secrets) => PbxLink::open(&self.enabled, secrets, |c| {
                c.request_timeout = self.config.xapi_request_timeout;
            }),
        };
        let link = match link {
            Ok(link) => link,
            Err(e) => {
                tracing::error!(connection = %id, error = %format!("{e:#}"), "cannot poll PBX connection");
                self.health.failure(&name, Utc::now(), &format!("{e:#}"));
                let _ = stop.changed().await;
                self.health.remove(&name);
                return;
            }
        };
        let renew_every = self.config.lease_ttl / 3;
        let mut active: Option<Active> = None;
        loop {
            let held =
                match self.store.acquire_lease(&lease, &self.config.node_id, Utc::now(), self.config.lease_ttl).await {
                    Ok(held) => held.is_some(),
                    Err(e) => {
                        tracing::warn!(connection = %id, error = %e, "renewing the connection lease failed");
                        false
                    }
                };
            metrics::gauge!(m::LEASE_HELD, "connection" => id.to_string()).set(if held { 1.0 } else { 0.0 });
            match (held, active.is_some()) {
                (true, false) => {
                    tracing::info!(connection = %id, node = %self.config.node_id, "took the PBX connection lease");
                    active = Some(self.start(&link).await);
                    self.health.success(&name, Utc::now(), None);
                }
                (false, true) => {
                    tracing::info!(connection = %id, "lost the PBX connection lease; stopping its workers");
                    self.halt(active.take()).await;
                }
                _ => {}
            }
            tokio::select! {
                _ = tokio::time::sleep(renew_every) => {}
                changed = stop.changed() => if changed.is_err() || *stop.borrow() { break },
            }
        }
        let was_active = active.is_some();
        self.halt(active).await;
        if was_active {
            if let Err(e) = self.store.release_lease(&lease, &self.config.node_id).await {
                tracing::warn!(connection = %id, error = %e, "releasing the connection lease failed");
            }
        }
        metrics::gauge!(m::LEASE_HELD, "connection" => id.to_string()).set(0.0);
        self.health.remove(&name);
    }

    async fn start(&self, link: &PbxLink) -> Active {
        let clock = PbxClock::new();
        let (poller_stop, stopped) = watch::channel(false);
        let poller = Poller::new(
            link.clone(),
            self.store.clone(),
            self.health.clone(),
            clock.clone(),
            self.ready.clone(),
            self.config.poller,
        );
        let poller = tokio::spawn(poller.run(stopped));
        let reconciler = Arc::new(Reconciler::new(
            link.clone(),
            self.store.clone(),
            self.health.clone(),
            clock,
            self.ready.clone(),
            self.config.reconciler.clone(),
        ));
        let mut jobs = Vec::new();
        let history = reconciler.clone();
        let history_job = Job::new_async(self.config.reconciler.history_schedule.as_str(), move |_, _| {
            let r = history.clone();
            Box::pin(async move {
                let _ = r.run_history().await;
            })
        });
        let call_log = reconciler.clone();
        let call_log_job = Job::new_async(self.config.reconciler.call_log_schedule.as_str(), move |_, _| {
            let r = call_log.clone();
            Box::pin(async move {
                let _ = r.run_call_log().await;
            })
        });
        for job in [history_job, call_log_job] {
            match job {
                Ok(job) => match self.scheduler.add(job).await {
                    Ok(uuid) => jobs.push(uuid),
                    Err(e) => tracing::error!(error = %e, "scheduling a reconciler failed"),
                },
                Err(e) => tracing::error!(error = %e, "a reconciler schedule is invalid"),
            }
        }
        Active { poller_stop, poller, jobs }
    }

    async fn halt(&self, active: Option<Active>) {
        if let Some(active) = active {
            let _ = active.poller_stop.send(true);
            let _ = active.poller.await;
            for job in active.jobs {
                let _ = self.scheduler.remove(&job).await;
            }
        }
    }
}
