//! What a simulator server is started with.

use std::net::SocketAddr;
use std::time::Duration;

use chrono::{DateTime, TimeDelta, TimeZone, Utc};

use crate::model::SimConfig;

/// How simulated time moves.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum TimeMode {
    /// Simulated time runs `factor` times as fast as the wall clock from the start (60: an hour
    /// per minute). `POST /sim/advance` jumps ahead on top of it.
    Scaled {
        /// The speed-up; a value that is not a positive number is taken as 1.
        factor: f64,
    },
    /// Simulated time stands still except when advanced (`POST /sim/advance`,
    /// [`RunningSim::advance`](super::RunningSim::advance)): deterministic, for tests.
    Manual,
}

/// The configuration of one simulator server.
#[derive(Debug, Clone)]
pub struct SimServerConfig {
    /// Where to listen; `127.0.0.1:0` picks a free port.
    pub listen: SocketAddr,
    /// The call centre: queues, agents, traffic.
    pub scenario: SimConfig,
    /// The seed of every random draw of the traffic.
    pub seed: u64,
    /// Simulated time at start.
    pub start: DateTime<Utc>,
    /// How simulated time moves.
    pub time: TimeMode,
    /// The XAPI client id the token endpoint accepts.
    pub client_id: String,
    /// Its secret.
    pub client_secret: String,
    /// Wall-clock lifetime of an access token (`expires_in`).
    pub token_lifetime: Duration,
    /// Simulated time between a call's end and its appearance in `CallHistoryView`, the call
    /// log and the reports.
    pub history_lag: TimeDelta,
    /// With a scaled clock, how often (wall time) a background task moves the model forward so
    /// requests find it current; `None` leaves it to the requests.
    pub tick: Option<Duration>,
    /// Finished calls older than this (simulated time) are forgotten, bounding memory in a
    /// long run; `None` keeps everything.
    pub retention: Option<TimeDelta>,
}

impl SimServerConfig {
    /// The client id used when none is given.
    pub const DEFAULT_CLIENT_ID: &'static str = "lineup-sim";
    /// The secret used when none is given.
    pub const DEFAULT_CLIENT_SECRET: &'static str = "lineup-sim-secret";

    /// A manual-clock server on a free loopback port over the default scenario, starting
    /// Monday 2026-11-23 08:00 UTC (the morning rush) with seed 1, the default credentials,
    /// hour-long tokens and a 30-second history lag.
    pub fn for_tests() -> SimServerConfig {
        SimServerConfig {
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            scenario: SimConfig::default(),
            seed: 1,
            start: Utc.with_ymd_and_hms(2026, 11, 23, 8, 0, 0).single().expect("a valid instant"),
            time: TimeMode::Manual,
            client_id: Self::DEFAULT_CLIENT_ID.to_string(),
            client_secret: Self::DEFAULT_CLIENT_SECRET.to_string(),
            token_lifetime: Duration::from_secs(3600),
            history_lag: TimeDelta::seconds(30),
            tick: None,
            retention: None,
        }
    }
}

impl Default for SimServerConfig {
    /// [`SimServerConfig::for_tests`] with the clock running 60 times as fast (an hour a minute),
    /// ticking every 250 ms and keeping two simulated days.
    fn default() -> Self {
        SimServerConfig {
            time: TimeMode::Scaled { factor: 60.0 },
            tick: Some(Duration::from_millis(250)),
            retention: Some(TimeDelta::days(2)),
            ..SimServerConfig::for_tests()
        }
    }
}
