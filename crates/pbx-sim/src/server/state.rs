//! The state one simulator server shares between its requests: the model behind a lock, the
//! simulated clock, armed faults and the token issuer. The model is brought up to the current
//! simulated time before every read, so the answer reflects "now" however long nobody asked.

use std::num::NonZeroU32;
use std::sync::{Mutex, MutexGuard};
use std::time::Instant;

use chrono::{DateTime, TimeDelta, Utc};
use serde::Serialize;

use super::clock::SimClock;
use super::config::{SimServerConfig, TimeMode};
use super::faults::{ArmedFault, Faults};
use super::tokens::TokenIssuer;
use super::wire::Directory;
use crate::model::{ConfigError, GroundTruth, Simulation};

/// The simulated clock: a scaled wall clock (or a fixed start) plus the jumps asked for.
#[derive(Debug)]
struct SimTime {
    /// `None` in manual mode.
    scaled: Option<SimClock>,
    start: DateTime<Utc>,
    jumped: Mutex<TimeDelta>,
}

impl SimTime {
    fn now(&self) -> DateTime<Utc> {
        let base = self.scaled.map_or(self.start, |clock| clock.sim_time(Instant::now()));
        base + *lock(&self.jumped)
    }
}

/// What `GET /sim/status` shows.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SimStatus {
    /// The simulated instant now.
    pub sim_time: DateTime<Utc>,
    /// The simulated instant the run started at.
    pub start: DateTime<Utc>,
    /// `manual` or `scaled`.
    pub mode: &'static str,
    /// The speed-up of a scaled clock.
    pub time_scale: Option<f64>,
    /// The traffic's seed.
    pub seed: u64,
    /// Calls in progress.
    pub live_calls: usize,
    /// Finished calls still remembered.
    pub finished_calls: usize,
    /// Finished calls the history already shows (ended at least `history_lag` ago).
    pub visible_calls: usize,
    /// The history lag, simulated seconds.
    pub history_lag_secs: f64,
    /// Access tokens issued so far.
    pub tokens_issued: u64,
    /// Faults still armed.
    pub pending_faults: Vec<ArmedFault>,
}

/// Everything a running simulator shares between requests.
#[derive(Debug)]
pub struct SimState {
    sim: Mutex<Simulation>,
    time: SimTime,
    faults: Faults,
    tokens: TokenIssuer,
    directory: Directory,
    history_lag: TimeDelta,
    retention: Option<TimeDelta>,
}

impl SimState {
    /// A fresh simulation for `config`, its clock starting now (wall time).
    pub fn new(config: &SimServerConfig) -> Result<SimState, ConfigError> {
        let sim = Simulation::new(config.scenario.clone(), config.seed, config.start)?;
        let scaled = match config.time {
            TimeMode::Scaled { factor } => Some(SimClock::new(Instant::now(), config.start, factor)),
            TimeMode::Manual => None,
        };
        Ok(SimState {
            directory: Directory::new(sim.config()),
            sim: Mutex::new(sim),
            time: SimTime { scaled, start: config.start, jumped: Mutex::new(TimeDelta::zero()) },
            faults: Faults::default(),
            tokens: TokenIssuer::new(&config.client_id, &config.client_secret, config.token_lifetime),
            history_lag: config.history_lag.max(TimeDelta::zero()),
            retention: config.retention,
        })
    }

    /// The simulated instant now (the model may not have caught up yet).
    pub fn now(&self) -> DateTime<Utc> {
        self.time.now()
    }

    /// Moves simulated time `by` ahead (on top of a scaled clock) and brings the model there,
    /// deterministically: the same jumps give the same traffic. Returns the new instant.
    /// Runs the model in the calling thread; from async code call it via `spawn_blocking`.
    pub fn advance_by(&self, by: TimeDelta) -> DateTime<Utc> {
        *lock(&self.time.jumped) += by.max(TimeDelta::zero());
        self.current().now()
    }

    /// The model, brought up to the current simulated time (and trimmed to the retention).
    /// Holding the guard blocks every other request; keep it short.
    pub fn current(&self) -> MutexGuard<'_, Simulation> {
        let mut sim = lock(&self.sim);
        let now = self.time.now();
        sim.advance_to(now);
        if let Some(keep) = self.retention {
            let horizon = sim.now() - keep;
            sim.forget_before(horizon);
        }
        sim
    }

    /// Reads the model at the current simulated time.
    pub fn with_simulation<R>(&self, read: impl FnOnce(&Simulation) -> R) -> R {
        read(&self.current())
    }

    /// The latest end a finished call may have to show in the history at `now`.
    pub fn history_cutoff(&self, now: DateTime<Utc>) -> DateTime<Utc> {
        now - self.history_lag
    }

    /// The faults armed on this server.
    pub fn faults(&self) -> &Faults {
        &self.faults
    }

    /// The token issuer of the one API client.
    pub fn tokens(&self) -> &TokenIssuer {
        &self.tokens
    }

    /// The ids of the configuration's DNs.
    pub fn directory(&self) -> &Directory {
        &self.directory
    }

    /// The ground truth up to now, per interval of `interval_secs`.
    pub fn ground_truth(&self, interval_secs: NonZeroU32) -> GroundTruth {
        self.current().ground_truth(interval_secs)
    }

    /// The status `GET /sim/status` shows.
    pub fn status(&self) -> SimStatus {
        let sim = self.current();
        let now = sim.now();
        SimStatus {
            sim_time: now,
            start: sim.start(),
            mode: if self.time.scaled.is_some() { "scaled" } else { "manual" },
            time_scale: self.time.scaled.map(|c| c.scale()),
            seed: sim.seed(),
            live_calls: sim.live_calls().len(),
            finished_calls: sim.finished_calls().len(),
            visible_calls: sim.finished_calls_until(self.history_cutoff(now)).len(),
            history_lag_secs: self.history_lag.as_seconds_f64(),
            tokens_issued: self.tokens.issued(),
            pending_faults: self.faults.pending(),
        }
    }

    /// Whether the clock runs on its own (so a ticker is worth having).
    pub fn is_scaled(&self) -> bool {
        self.time.scaled.is_some()
    }
}

/// Locks `mutex`, going on with the data if a panicking holder poisoned it.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}
