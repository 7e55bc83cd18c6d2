//! The simulator's clock: simulated time runs `scale` times faster than the wall clock from a
//! chosen start, so a day of traffic can pass in minutes.

use std::time::Instant;

use chrono::{DateTime, Duration, Utc};

/// Maps wall-clock instants to simulated time.
#[derive(Debug, Clone, Copy)]
pub struct SimClock {
    started: Instant,
    sim_start: DateTime<Utc>,
    scale: f64,
}

impl SimClock {
    /// Simulated time `sim_start` at wall instant `started`, running `scale` times as fast
    /// (1.0 = real time). A scale that is not a positive number is taken as 1.0.
    pub fn new(started: Instant, sim_start: DateTime<Utc>, scale: f64) -> SimClock {
        let scale = if scale.is_finite() && scale > 0.0 { scale } else { 1.0 };
        SimClock { started, sim_start, scale }
    }

    /// Simulated time at wall instant `at`.
    pub fn sim_time(&self, at: Instant) -> DateTime<Utc> {
        let wall = at.saturating_duration_since(self.started).as_secs_f64();
        let micros = (wall * self.scale * 1e6).round() as i64;
        self.sim_start + Duration::microseconds(micros)
    }

    /// The speed-up factor.
    pub fn scale(&self) -> f64 {
        self.scale
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn simulated_time_runs_scale_times_faster() {
        let t0 = Instant::now();
        let start = DateTime::parse_from_rfc3339("2026-11-23T08:00:00Z").unwrap().with_timezone(&Utc);
        let clock = SimClock::new(t0, start, 60.0);
        assert_eq!(clock.sim_time(t0), start);
        assert_eq!(clock.sim_time(t0 + std::time::Duration::from_secs(2)), start + Duration::minutes(2));
        assert_eq!(SimClock::new(t0, start, -3.0).scale(), 1.0);
    }
}
