//! `lineup serve`: open and migrate the store, then serve the API until SIGINT/SIGTERM.

use std::net::SocketAddr;

use anyhow::Context;
use lineup_store::DynStore;
use tokio::net::TcpListener;

use crate::config::Config;
use crate::storage;

/// Opens, migrates and serves. `on_listen` is told the bound address.
pub async fn run(config: Config, on_listen: Option<Box<dyn FnOnce(SocketAddr) + Send>>) -> anyhow::Result<()> {
    let store = open_migrated(&config).await?;
    if config.secret_box()?.is_none() {
        tracing::warn!("no secret_keys configured: third-party credentials (PBX, webhooks) cannot be stored");
    }
    let state = app_state(&config, store);
    serve_state(state, bind(config.listen, false).await?, on_listen).await
}

/// The API state for the configured settings.
pub fn app_state(config: &Config, store: DynStore) -> lineup_api::AppState {
    lineup_api::AppState::with_config(store, config.api.clone())
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
