//! The simulator's HTTP side: a server speaking 3CX's XAPI over the model.
//!
//! - `POST /connect/token` (`xapi`, `tokens`): OAuth2 client credentials, one live token that
//!   expires; wrong credentials refused.
//! - `/xapi/v1/**` (`xapi`, `route`, `answer`, `wire`, `reports`): bearer-checked; one handler
//!   parses the decoded path into a typed route (keys and function parameters in parentheses),
//!   answers from the model brought up to the current simulated time, applies the OData query
//!   options (`crate::odata`) and wraps collections in `@odata.context`/`@odata.count`/`value`.
//!   Errors are OData error bodies (`error`).
//! - `/sim/**` (`admin`): faults, token revocation, ground truth, status, advancing time.
//!
//! Time (`state`, `clock`): simulated time runs scaled from the wall clock, or stands still until
//! advanced (manual mode, for deterministic tests); finished calls reach the history after a
//! configurable lag. Start a server with [`start`].

pub mod admin;
pub mod answer;
pub mod clock;
pub mod config;
pub mod decode;
pub mod error;
pub mod faults;
pub mod literal;
pub mod reports;
pub mod route;
pub mod state;
pub mod tokens;
pub mod wire;
pub mod xapi;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::routing::{any, post};
use axum::Router;
use chrono::{DateTime, TimeDelta, Utc};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

pub use config::{SimServerConfig, TimeMode};
pub use state::{SimState, SimStatus};

/// The simulator's routes over `state`.
pub fn router(state: Arc<SimState>) -> Router {
    Router::new()
        .route("/connect/token", post(xapi::token))
        .route(xapi::API_ROOT, any(xapi::xapi))
        .route(&format!("{}/{{*rest}}", xapi::API_ROOT), any(xapi::xapi))
        .merge(admin::routes())
        .fallback(xapi::not_found)
        .with_state(state)
}

/// Why a simulator could not start.
#[derive(Debug)]
pub enum StartError {
    /// The scenario is invalid.
    Config(crate::model::ConfigError),
    /// The address could not be bound.
    Bind(std::io::Error),
}

impl std::fmt::Display for StartError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StartError::Config(e) => write!(f, "invalid scenario: {e}"),
            StartError::Bind(e) => write!(f, "cannot listen: {e}"),
        }
    }
}

impl std::error::Error for StartError {}

/// A simulator serving in the background. Dropping it (or [`RunningSim::stop`]) shuts it down.
#[derive(Debug)]
pub struct RunningSim {
    /// The bound address.
    pub addr: SocketAddr,
    /// The server task; it ends after `shutdown` fires and open requests drain.
    pub handle: JoinHandle<std::io::Result<()>>,
    /// Send (or drop) to shut the server down.
    pub shutdown: oneshot::Sender<()>,
    state: Arc<SimState>,
}

/// Binds `config.listen` and serves the simulator on the current Tokio runtime; with a scaled
/// clock and `config.tick`, a background task keeps the model current.
pub async fn start(config: SimServerConfig) -> Result<RunningSim, StartError> {
    let state = Arc::new(SimState::new(&config).map_err(StartError::Config)?);
    let listener = tokio::net::TcpListener::bind(config.listen).await.map_err(StartError::Bind)?;
    let addr = listener.local_addr().map_err(StartError::Bind)?;
    let (shutdown, stopped) = oneshot::channel::<()>();
    let ticker = config.tick.filter(|_| state.is_scaled()).map(|every| tokio::spawn(tick(state.clone(), every)));
    let app = router(state.clone());
    let handle = tokio::spawn(async move {
        let served = axum::serve(listener, app)
            .with_graceful_shutdown(async {
                let _ = stopped.await;
            })
            .await;
        if let Some(ticker) = ticker {
            ticker.abort();
        }
        served
    });
    tracing::info!(%addr, seed = config.seed, start = %config.start, "3CX simulator listening");
    Ok(RunningSim { addr, handle, shutdown, state })
}

/// Brings the model up to the clock every `every`.
async fn tick(state: Arc<SimState>, every: Duration) {
    let mut interval = tokio::time::interval(every);
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    loop {
        interval.tick().await;
        let state = state.clone();
        let _ = tokio::task::spawn_blocking(move || drop(state.current())).await;
    }
}

impl RunningSim {
    /// `http://127.0.0.1:port`: the base URL a client is given (the XAPI is below `/xapi/v1`).
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The shared state: the model, clock, faults and tokens.
    pub fn state(&self) -> &Arc<SimState> {
        &self.state
    }

    /// Moves simulated time `by` ahead and brings the model there (deterministic, as
    /// `POST /sim/advance`). Returns the new simulated instant.
    pub async fn advance(&self, by: TimeDelta) -> DateTime<Utc> {
        let state = self.state.clone();
        tokio::task::spawn_blocking(move || state.advance_by(by)).await.expect("the model does not panic")
    }

    /// Shuts the server down and waits for it to finish.
    pub async fn stop(self) -> std::io::Result<()> {
        let _ = self.shutdown.send(());
        self.handle.await.map_err(std::io::Error::other)?
    }
}
