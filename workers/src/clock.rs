//! The PBX clock as the workers know it: the latest `ServerNow` the poller read, moved on by the
//! wall time since. PBX times (never Lineup's clock) stamp observations and bound history reads.

use std::sync::{Arc, Mutex};
use std::time::Instant;

use chrono::{DateTime, TimeDelta, Utc};

/// A `ServerNow` reading and when it was taken.
type Reading = (DateTime<Utc>, Instant);

/// A shared estimate of one PBX's clock. Cheap to clone.
#[derive(Debug, Clone, Default)]
pub struct PbxClock {
    seen: Arc<Mutex<Option<Reading>>>,
}

impl PbxClock {
    pub fn new() -> PbxClock {
        PbxClock::default()
    }

    /// Records a `ServerNow` just read.
    pub fn observe(&self, server_now: DateTime<Utc>) {
        let mut seen = self.seen.lock().unwrap_or_else(|e| e.into_inner());
        if seen.is_none_or(|(t, _)| server_now >= t) {
            *seen = Some((server_now, Instant::now()));
        }
    }

    /// The PBX's time now: the latest `ServerNow` plus the wall time since it was read; `None`
    /// before the first reading.
    pub fn now(&self) -> Option<DateTime<Utc>> {
        let seen = *self.seen.lock().unwrap_or_else(|e| e.into_inner());
        seen.map(|(t, at)| t + TimeDelta::from_std(at.elapsed()).unwrap_or(TimeDelta::zero()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_the_latest_reading_and_moves_on_from_it() {
        let clock = PbxClock::new();
        assert_eq!(clock.now(), None);
        let t = DateTime::from_timestamp(1_800_000_000, 0).unwrap();
        clock.observe(t);
        clock.observe(t - TimeDelta::seconds(30));
        let now = clock.now().unwrap();
        assert!(now >= t && now < t + TimeDelta::seconds(5), "{now}");
    }
}
