//! The circuit breaker in front of one PBX: closed → open after N consecutive failures of
//! retryable kinds (the PBX looks down) → half-open after a cool-down, when one probe call goes
//! through → closed when the probe succeeds, open again when it fails. While open, calls fail
//! fast with [`XapiError::CircuitOpen`] without touching the network.

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use crate::clock::Clock;
use crate::error::XapiError;
use crate::metrics;

/// When the breaker opens and for how long.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BreakerConfig {
    /// Consecutive failures of retryable kinds that open the breaker; 0 disables the breaker.
    pub failure_threshold: u32,
    /// How long the breaker stays open before it lets one probe through.
    pub cool_down: Duration,
}

impl Default for BreakerConfig {
    /// Opens after 5 consecutive failures, probes after 30 s.
    fn default() -> Self {
        BreakerConfig { failure_threshold: 5, cool_down: Duration::from_secs(30) }
    }
}

/// The state of the breaker as callers see it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BreakerState {
    /// Calls go through.
    Closed,
    /// Calls fail fast until the cool-down ends.
    Open,
    /// The cool-down has ended: the next call is a probe (or a probe is in flight).
    HalfOpen,
}

impl BreakerState {
    fn as_str(self) -> &'static str {
        match self {
            BreakerState::Closed => "closed",
            BreakerState::Open => "open",
            BreakerState::HalfOpen => "half_open",
        }
    }
}

#[derive(Debug, Clone, Copy)]
enum Inner {
    Closed { failures: u32 },
    Open { until: Instant },
    HalfOpen { probing: bool },
}

/// The breaker of one client; shared by all its calls.
#[derive(Debug)]
pub(crate) struct CircuitBreaker {
    config: BreakerConfig,
    clock: Arc<dyn Clock>,
    inner: Mutex<Inner>,
}

/// Leave to make one call; report its outcome with [`Permit::record`]. A permit dropped without
/// a record (the call was cancelled) frees the probe slot without changing the state.
#[derive(Debug)]
pub(crate) struct Permit<'a> {
    breaker: &'a CircuitBreaker,
    probe: bool,
    recorded: bool,
}

impl CircuitBreaker {
    pub(crate) fn new(config: BreakerConfig, clock: Arc<dyn Clock>) -> CircuitBreaker {
        CircuitBreaker { config, clock, inner: Mutex::new(Inner::Closed { failures: 0 }) }
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The current state; an open breaker whose cool-down has ended reports `HalfOpen`.
    pub(crate) fn state(&self) -> BreakerState {
        match *self.lock() {
            Inner::Closed { .. } => BreakerState::Closed,
            Inner::Open { until } if self.clock.now() < until => BreakerState::Open,
            Inner::Open { .. } | Inner::HalfOpen { .. } => BreakerState::HalfOpen,
        }
    }

    /// A permit to call, or `CircuitOpen` while open or while the half-open probe is in flight.
    pub(crate) fn acquire(&self) -> Result<Permit<'_>, XapiError> {
        if self.config.failure_threshold == 0 {
            return Ok(Permit { breaker: self, probe: false, recorded: false });
        }
        let mut inner = self.lock();
        match *inner {
            Inner::Closed { .. } => Ok(Permit { breaker: self, probe: false, recorded: false }),
            Inner::Open { until } => {
                let now = self.clock.now();
                if now < until {
                    return Err(XapiError::CircuitOpen { retry_in: until - now });
                }
                *inner = Inner::HalfOpen { probing: true };
                transition(BreakerState::HalfOpen);
                Ok(Permit { breaker: self, probe: true, recorded: false })
            }
            Inner::HalfOpen { probing: true } => Err(XapiError::CircuitOpen { retry_in: Duration::ZERO }),
            Inner::HalfOpen { probing: false } => {
                *inner = Inner::HalfOpen { probing: true };
                Ok(Permit { breaker: self, probe: true, recorded: false })
            }
        }
    }

    fn on_success(&self, probe: bool) {
        let mut inner = self.lock();
        match *inner {
            Inner::Closed { .. } => *inner = Inner::Closed { failures: 0 },
            Inner::HalfOpen { .. } if probe => {
                *inner = Inner::Closed { failures: 0 };
                transition(BreakerState::Closed);
            }
            // A call that started before the breaker opened says little about now.
            Inner::Open { .. } | Inner::HalfOpen { .. } => {}
        }
    }

    fn on_failure(&self, probe: bool) {
        let mut inner = self.lock();
        let open = Inner::Open { until: self.clock.now() + self.config.cool_down };
        match *inner {
            Inner::Closed { failures } if failures + 1 >= self.config.failure_threshold => {
                *inner = open;
                transition(BreakerState::Open);
            }
            Inner::Closed { failures } => *inner = Inner::Closed { failures: failures + 1 },
            Inner::HalfOpen { .. } if probe => {
                *inner = open;
                transition(BreakerState::Open);
            }
            Inner::Open { .. } | Inner::HalfOpen { .. } => {}
        }
    }

    fn on_cancelled_probe(&self) {
        let mut inner = self.lock();
        if let Inner::HalfOpen { .. } = *inner {
            *inner = Inner::HalfOpen { probing: false };
        }
    }
}

impl Permit<'_> {
    /// Reports the call's outcome: errors of retryable kinds count as failures (the PBX looks
    /// unwell); success and other errors (the PBX answered) count as success.
    pub(crate) fn record<T>(mut self, result: &Result<T, XapiError>) {
        self.recorded = true;
        if self.breaker.config.failure_threshold == 0 {
            return;
        }
        match result {
            Err(error) if error.is_retryable() => self.breaker.on_failure(self.probe),
            _ => self.breaker.on_success(self.probe),
        }
    }
}

impl Drop for Permit<'_> {
    fn drop(&mut self) {
        if !self.recorded && self.probe {
            self.breaker.on_cancelled_probe();
        }
    }
}

fn transition(to: BreakerState) {
    tracing::warn!(state = to.as_str(), "XAPI circuit breaker changed state");
    metrics::record_breaker_transition(to.as_str());
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::ManualClock;

    fn breaker(clock: &Arc<ManualClock>) -> CircuitBreaker {
        let config = BreakerConfig { failure_threshold: 2, cool_down: Duration::from_secs(10) };
        CircuitBreaker::new(config, clock.clone())
    }

    fn fail(breaker: &CircuitBreaker) {
        breaker.acquire().unwrap().record::<()>(&Err(XapiError::Timeout));
    }

    #[test]
    fn opens_after_consecutive_retryable_failures_only() {
        let clock = Arc::new(ManualClock::new());
        let breaker = breaker(&clock);
        fail(&breaker);
        breaker.acquire().unwrap().record::<()>(&Err(XapiError::NotFound { message: String::new() }));
        fail(&breaker);
        assert_eq!(breaker.state(), BreakerState::Closed);
        fail(&breaker);
        assert_eq!(breaker.state(), BreakerState::Open);
        assert!(
            matches!(breaker.acquire(), Err(XapiError::CircuitOpen { retry_in }) if retry_in == Duration::from_secs(10))
        );
    }

    #[test]
    fn half_open_lets_one_probe_through_and_closes_on_success() {
        let clock = Arc::new(ManualClock::new());
        let breaker = breaker(&clock);
        fail(&breaker);
        fail(&breaker);
        clock.advance(Duration::from_secs(10));
        assert_eq!(breaker.state(), BreakerState::HalfOpen);
        let probe = breaker.acquire().unwrap();
        assert!(matches!(breaker.acquire(), Err(XapiError::CircuitOpen { .. })));
        probe.record(&Ok(()));
        assert_eq!(breaker.state(), BreakerState::Closed);
    }

    #[test]
    fn failed_probe_reopens_and_cancelled_probe_frees_the_slot() {
        let clock = Arc::new(ManualClock::new());
        let breaker = breaker(&clock);
        fail(&breaker);
        fail(&breaker);
        clock.advance(Duration::from_secs(10));
        drop(breaker.acquire().unwrap());
        assert_eq!(breaker.state(), BreakerState::HalfOpen);
        fail(&breaker);
        assert_eq!(breaker.state(), BreakerState::Open);
    }

    #[test]
    fn zero_threshold_disables_the_breaker() {
        let clock = Arc::new(ManualClock::new());
        let breaker = CircuitBreaker::new(BreakerConfig { failure_threshold: 0, cool_down: Duration::ZERO }, clock);
        for _ in 0..10 {
            fail(&breaker);
        }
        assert_eq!(breaker.state(), BreakerState::Closed);
    }
}
