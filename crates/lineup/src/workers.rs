//! The ingestion workers inside the binary: `lineup serve` runs them beside the API (unless
//! `--no-workers`), `lineup worker` runs them alone, `lineup demo` runs them against its
//! simulator.

use std::sync::Arc;

use lineup_security::SecretBox;
use lineup_store::DynStore;
use lineup_workers::{Health, Supervisor, SupervisorConfig};
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// Which workers `lineup worker` runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum WorkerRole {
    /// Pollers and reconcilers (under connection leases), the inbox processor and the outbox
    /// dispatcher.
    All,
    /// Pollers and reconcilers only.
    Ingest,
    /// The inbox processor and the outbox dispatcher (webhooks) only.
    Process,
}

/// The running workers of this process.
pub struct Workers {
    pub health: Health,
    stop: watch::Sender<bool>,
    task: JoinHandle<anyhow::Result<()>>,
}

impl Workers {
    /// Starts the supervisor with `config`, limited to `role`, sharing the process's change
    /// notifier `commits` (the API's): the dispatcher wakes on it, the processor bumps it.
    pub fn start(
        store: DynStore,
        secrets: Option<SecretBox>,
        mut config: SupervisorConfig,
        role: WorkerRole,
        commits: watch::Sender<u64>,
    ) -> Self {
        (config.ingest, config.process, config.dispatch) = match role {
            WorkerRole::All => (true, true, true),
            WorkerRole::Ingest => (true, false, false),
            WorkerRole::Process => (false, true, true),
        };
        if secrets.is_none() && config.ingest {
            tracing::warn!("no secret_keys configured: PBX connections cannot be polled");
        }
        let health = Health::new();
        let (stop, stopped) = watch::channel(false);
        let supervisor = Supervisor::new(store, secrets.map(Arc::new), health.clone(), config).with_commits(commits);
        let task = tokio::spawn(supervisor.run(stopped));
        tracing::info!(?role, "ingestion workers started");
        Workers { health, stop, task }
    }

    /// Stops every worker (releasing connection leases) and waits for them.
    pub async fn shutdown(self) {
        let _ = self.stop.send(true);
        match self.task.await {
            Ok(Ok(())) => tracing::info!("ingestion workers stopped"),
            Ok(Err(e)) => tracing::warn!(error = %format!("{e:#}"), "ingestion workers stopped with an error"),
            Err(e) => tracing::warn!(error = %e, "ingestion workers panicked"),
        }
    }
}

/// `lineup worker`: the workers of `role` alone, with the probes and metrics on the configured
/// address, until SIGINT/SIGTERM.
pub async fn run_alone(config: crate::config::Config, role: WorkerRole) -> anyhow::Result<()> {
    let store = crate::serve::open_migrated(&config).await?;
    let state = crate::serve::app_state(&config, store.clone(), None);
    lineup_api::live::spawn_announcer(store.clone(), state.events.subscribe());
    let workers = Workers::start(store, config.secret_box()?, config.workers.clone(), role, state.events.clone());
    let state = crate::serve::observed(state, Some(&workers));
    let app = lineup_api::routes::health::routes().with_state(state);
    let listener = crate::serve::bind(config.listen, false).await?;
    tracing::info!(addr = %listener.local_addr()?, "worker probes listening");
    let served = axum::serve(listener, app).with_graceful_shutdown(crate::serve::shutdown_signal()).await;
    workers.shutdown().await;
    served.map_err(Into::into)
}
