//! Tuning of the live hub and the thresholds its figures use.

use std::time::Duration;

/// How the hub publishes and how it computes service level and agent wrap-up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LiveConfig {
    /// The most deltas a channel publishes per second; changes in between coalesce into one.
    /// Values below 1 count as 1.
    pub max_rate_per_second: u32,
    /// How many deltas a channel keeps so a reconnecting subscriber can resume without a
    /// snapshot.
    pub history: usize,
    /// Frames buffered per subscriber before it lags and has to resync with a snapshot. Values
    /// below 1 count as 1.
    pub subscriber_buffer: usize,
    /// A call answered within this wait counts as answered within the service level.
    pub service_level_threshold: Duration,
    /// How long after their last answered call ends an agent is in wrap-up.
    pub wrap_up: Duration,
}

impl Default for LiveConfig {
    /// 4 deltas per second, 64 kept, 32 buffered, a 20 s service level, 30 s wrap-up.
    fn default() -> Self {
        LiveConfig {
            max_rate_per_second: 4,
            history: 64,
            subscriber_buffer: 32,
            service_level_threshold: Duration::from_secs(20),
            wrap_up: Duration::from_secs(30),
        }
    }
}

impl LiveConfig {
    /// The time between two publishing rounds: `1 / max_rate_per_second`.
    pub fn tick(&self) -> Duration {
        Duration::from_secs(1) / self.max_rate_per_second.max(1)
    }
}
