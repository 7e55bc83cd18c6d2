//! What every handler shares: the store, the acting tenant, the change notifier, the settings.

use std::time::Duration;

use lineup_domain::TenantId;
use lineup_store::DynStore;
use tokio::sync::watch;

/// Settings of the HTTP API.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiConfig {
    /// How often an idle SSE stream sends a keep-alive comment.
    pub sse_keepalive: Duration,
    /// How long an idle SSE stream waits before it reads the outbox again without being notified
    /// (this catches writes made by other processes).
    pub sse_poll_interval: Duration,
}

impl Default for ApiConfig {
    fn default() -> Self {
        ApiConfig { sse_keepalive: Duration::from_secs(15), sse_poll_interval: Duration::from_secs(1) }
    }
}

/// The state of the router. Cloning is cheap: every field is a handle.
#[derive(Clone)]
pub struct AppState {
    /// Where everything is stored.
    pub store: DynStore,
    /// The tenant every request acts in (until authentication picks it per request).
    pub tenant: TenantId,
    /// Bumped after every committed change, so idle streams read the outbox at once.
    pub events: watch::Sender<u64>,
    /// Settings.
    pub config: ApiConfig,
}

impl AppState {
    /// State over `store` acting in `tenant`, with default settings and a fresh notifier.
    pub fn new(store: DynStore, tenant: TenantId) -> Self {
        AppState { store, tenant, events: watch::Sender::new(0), config: ApiConfig::default() }
    }

    /// The same state with other settings.
    pub fn with_config(mut self, config: ApiConfig) -> Self {
        self.config = config;
        self
    }

    /// Wakes every idle stream of this process: call after a change was committed.
    pub fn notify_committed(&self) {
        self.events.send_modify(|n| *n = n.wrapping_add(1));
    }
}
