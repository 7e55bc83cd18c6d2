//! What every handler shares: the store, the change notifier, the limiters, the settings.

use std::sync::Arc;
use std::time::Duration;

use lineup_security::SecretBox;
use lineup_store::DynStore;
use tokio::sync::watch;

use crate::auth::limits::{Limiters, RateLimits};

/// Settings of the HTTP API.
#[derive(Debug, Clone, PartialEq)]
pub struct ApiConfig {
    /// How often an idle SSE stream sends a keep-alive comment.
    pub sse_keepalive: Duration,
    /// How long an idle SSE stream waits before it reads the outbox again without being notified
    /// (this catches writes made by other processes).
    pub sse_poll_interval: Duration,
    /// How long an access token works.
    pub access_token_ttl: Duration,
    /// How long a refresh token works (each refresh issues a new one).
    pub refresh_token_ttl: Duration,
    /// How long a stream ticket can be redeemed.
    pub stream_ticket_ttl: Duration,
    /// Rate limits.
    pub rate_limits: RateLimits,
    /// Largest request body accepted, in bytes.
    pub body_limit_bytes: usize,
    /// Origins allowed to call the API from a browser (CORS); empty: same origin only.
    pub cors_allowed_origins: Vec<axum::http::HeaderValue>,
    /// Take the client address from the last `X-Forwarded-For` entry (behind a trusted proxy).
    pub trust_forwarded_for: bool,
    /// Send `Strict-Transport-Security` (when served over HTTPS).
    pub hsts: bool,
    /// The live channels.
    pub live: crate::live::LiveSettings,
}

impl Default for ApiConfig {
    fn default() -> Self {
        ApiConfig {
            sse_keepalive: Duration::from_secs(15),
            sse_poll_interval: Duration::from_secs(1),
            access_token_ttl: Duration::from_secs(15 * 60),
            refresh_token_ttl: Duration::from_secs(30 * 24 * 3600),
            stream_ticket_ttl: Duration::from_secs(60),
            rate_limits: RateLimits::default(),
            body_limit_bytes: 1024 * 1024,
            cors_allowed_origins: Vec::new(),
            trust_forwarded_for: false,
            hsts: false,
            live: crate::live::LiveSettings::default(),
        }
    }
}

/// The state of the router. Cloning is cheap: every field is a handle.
#[derive(Clone)]
pub struct AppState {
    /// Where everything is stored.
    pub store: DynStore,
    /// Bumped after every committed change, so idle streams read the outbox at once.
    pub events: watch::Sender<u64>,
    /// Settings.
    pub config: Arc<ApiConfig>,
    /// The rate limiters built from `config.rate_limits`.
    pub limits: Arc<Limiters>,
    /// Seals third-party credentials (PBX client secrets) before they are stored; `None` when no
    /// secret key is configured, and then such credentials are refused.
    pub secrets: Option<Arc<SecretBox>>,
    /// Reports the background workers of this process for `/readyz` (`None`: none run here).
    pub workers: Option<Arc<dyn WorkerReports>>,
    /// Renders the Prometheus exposition for `/metrics` (`None`: no recorder installed).
    pub metrics: Option<Arc<dyn Fn() -> String + Send + Sync>>,
    /// The live hub of this process (started by the first live subscription).
    pub live: crate::live::SharedLive,
}

/// The background workers of a process as `/readyz` shows them.
pub trait WorkerReports: Send + Sync {
    /// Every worker's latest status.
    fn reports(&self) -> Vec<crate::routes::health::WorkerHealth>;
}

impl AppState {
    /// State over `store` with default settings and a fresh notifier.
    pub fn new(store: DynStore) -> Self {
        AppState::with_config(store, ApiConfig::default())
    }

    /// State over `store` with `config`.
    pub fn with_config(store: DynStore, config: ApiConfig) -> Self {
        let limits = Arc::new(Limiters::new(&config.rate_limits));
        let live = Arc::new(crate::live::Live::new(&config.live));
        AppState {
            store,
            events: watch::Sender::new(0),
            config: Arc::new(config),
            limits,
            secrets: None,
            workers: None,
            metrics: None,
            live,
        }
    }

    /// The same state reporting `workers` in `/readyz`.
    pub fn with_workers(mut self, workers: Arc<dyn WorkerReports>) -> Self {
        self.workers = Some(workers);
        self
    }

    /// The same state serving `/metrics` with `render`.
    pub fn with_metrics(mut self, render: Arc<dyn Fn() -> String + Send + Sync>) -> Self {
        self.metrics = Some(render);
        self
    }

    /// The same state sealing third-party credentials with `secrets` (`None`: refuse them).
    pub fn with_secrets(mut self, secrets: Option<SecretBox>) -> Self {
        self.secrets = secrets.map(Arc::new);
        self
    }

    /// Seals a third-party secret under `context` with the configured key; without a key, a
    /// `conflict` saying `missing` (nothing is stored).
    pub fn seal(&self, secret: &str, context: &str, missing: &str) -> Result<String, lineup_store::StoreError> {
        let secrets = self.secrets.as_deref().ok_or_else(|| lineup_store::StoreError::Conflict(missing.into()))?;
        Ok(secrets.seal(secret, context))
    }

    /// Wakes every idle stream of this process: call after a change was committed.
    pub fn notify_committed(&self) {
        self.events.send_modify(|n| *n = n.wrapping_add(1));
    }
}
