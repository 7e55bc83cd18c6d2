//! `lineup serve`: open and migrate the store, then serve the API until SIGINT/SIGTERM.

use std::net::SocketAddr;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use anyhow::Context;
use lineup_api::routes::health::WorkerHealth;
use lineup_api::WorkerReports;
use lineup_security::SecretBox;
use lineup_store::DynStore;
use lineup_workers::Health;
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use tokio::net::TcpListener;

use crate::config::Config;
use crate::storage;
use crate::workers::{WorkerRole, Workers};

/// Opens, migrates and serves the API, with the ingestion workers unless they are turned off.
/// `on_listen` is told the bound address.
pub async fn run(config: Config, on_listen: Option<Box<dyn FnOnce(SocketAddr) + Send>>) -> anyhow::Result<()> {
    let store = open_migrated(&config).await?;
    let secrets = config.secret_box()?;
    if secrets.is_none() {
        tracing::warn!("no secret_keys configured: third-party credentials (PBX, webhooks) cannot be stored");
    }
    let state = app_state(&config, store.clone(), secrets);
    lineup_api::live::spawn_announcer(store.clone(), state.events.subscribe());
    let workers = config.run_workers.then(|| {
        let secrets = config.secret_box().ok().flatten();
        Workers::start(store, secrets, config.workers.clone(), WorkerRole::All, state.events.clone())
    });
    let state = observed(state, workers.as_ref());
    let served = serve_state(state, bind(config.listen, false).await?, on_listen).await;
    if let Some(workers) = workers {
        workers.shutdown().await;
    }
    served
}

/// `state` reporting `workers` in `/readyz` and serving this process's metrics on `/metrics`.
pub fn observed(state: lineup_api::AppState, workers: Option<&Workers>) -> lineup_api::AppState {
    let state = match workers {
        Some(w) => state.with_workers(Arc::new(HealthReports(w.health.clone()))),
        None => state,
    };
    match metrics_recorder() {
        Some(handle) => state.with_metrics(Arc::new(move || handle.render())),
        None => state,
    }
}

/// The process's Prometheus recorder, installed on first use (with a task that keeps its
/// histograms trimmed); `None` when another recorder was installed first.
pub fn metrics_recorder() -> Option<PrometheusHandle> {
    static HANDLE: OnceLock<Option<PrometheusHandle>> = OnceLock::new();
    HANDLE
        .get_or_init(|| match PrometheusBuilder::new().install_recorder() {
            Ok(handle) => {
                let upkeep = handle.clone();
                tokio::spawn(async move {
                    loop {
                        tokio::time::sleep(Duration::from_secs(5)).await;
                        upkeep.run_upkeep();
                    }
                });
                Some(handle)
            }
            Err(e) => {
                tracing::warn!(error = %e, "no Prometheus recorder: /metrics is off");
                None
            }
        })
        .clone()
}

/// The workers' health as `/readyz` shows it.
struct HealthReports(Health);

impl WorkerReports for HealthReports {
    fn reports(&self) -> Vec<WorkerHealth> {
        self.0
            .snapshot()
            .into_iter()
            .map(|w| WorkerHealth {
                healthy: w.is_healthy(),
                name: w.name,
                last_success_at: w.last_success_at,
                last_error: w.last_error,
                last_error_at: w.last_error_at,
                lag_ms: w.lag_ms,
                consecutive_failures: w.consecutive_failures,
            })
            .collect()
    }
}

/// The API state for the configured settings, sealing third-party credentials with `secrets`
/// (`None`: refusing them).
pub fn app_state(config: &Config, store: DynStore, secrets: Option<SecretBox>) -> lineup_api::AppState {
    lineup_api::AppState::with_config(store, config.api.clone()).with_secrets(secrets)
}

/// Opens the configured store and applies migrations.
pub async fn open_migrated(config: &Config) -> anyhow::Result<DynStore> {
    let store = storage::open_with(&config.database_url, config.max_connections)
        .await
        .with_context(|| format!("opening {}", storage::redact(&config.database_url)))?;
    store.migrate().await.context("applying migrations")?;
    tracing::info!(database = %storage::redact(&config.database_url), "store ready");
    Ok(store)
}

/// Binds `addr`; with `fallback`, a port already in use falls back to a free one.
pub async fn bind(addr: SocketAddr, fallback: bool) -> anyhow::Result<TcpListener> {
    match TcpListener::bind(addr).await {
        Ok(l) => Ok(l),
        Err(e) if fallback && e.kind() == std::io::ErrorKind::AddrInUse => {
            tracing::warn!(%addr, "address in use; picking a free port");
            Ok(TcpListener::bind(SocketAddr::new(addr.ip(), 0)).await?)
        }
        Err(e) => Err(e).with_context(|| format!("binding {addr}")),
    }
}

/// Serves the API on `listener` until a shutdown signal, then drains.
pub async fn serve_state(
    state: lineup_api::AppState,
    listener: TcpListener,
    on_listen: Option<Box<dyn FnOnce(SocketAddr) + Send>>,
) -> anyhow::Result<()> {
    let app = lineup_api::router(state);
    let addr = listener.local_addr()?;
    tracing::info!(%addr, "listening");
    if let Some(hook) = on_listen {
        hook(addr);
    }
    axum::serve(listener, app.into_make_service_with_connect_info::<SocketAddr>())
        .with_graceful_shutdown(shutdown_signal())
        .await?;
    tracing::info!("shut down cleanly");
    Ok(())
}

/// Resolves on SIGINT (Ctrl-C) or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
    tracing::info!("shutdown signal received; draining connections");
}
