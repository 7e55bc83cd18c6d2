//! Worker health: each worker's last success, last error and lag, kept in memory for `/readyz`.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};
use serde::Serialize;

/// What one worker last did.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct WorkerStatus {
    /// Stable name, e.g. `poller:<connection id>` or `inbox-processor`.
    pub name: String,
    /// When it last finished a cycle without error.
    pub last_success_at: Option<DateTime<Utc>>,
    /// The error of its latest failed cycle, cleared by the next success.
    pub last_error: Option<String>,
    pub last_error_at: Option<DateTime<Utc>>,
    /// How far behind it is, in ms: for a poller the age of its snapshot when recorded, for the
    /// processor the age of the oldest pending inbox message, for a reconciler the PBX time since
    /// its last successful read.
    pub lag_ms: Option<i64>,
    /// Consecutive failed cycles.
    pub consecutive_failures: u32,
}

impl WorkerStatus {
    fn new(name: &str) -> WorkerStatus {
        WorkerStatus {
            name: name.to_string(),
            last_success_at: None,
            last_error: None,
            last_error_at: None,
            lag_ms: None,
            consecutive_failures: 0,
        }
    }

    /// Healthy unless its last few cycles all failed.
    pub fn is_healthy(&self) -> bool {
        self.consecutive_failures < 3
    }
}

/// The health of every worker of this process. Cheap to clone (shared).
#[derive(Debug, Clone, Default)]
pub struct Health {
    workers: Arc<Mutex<BTreeMap<String, WorkerStatus>>>,
}

impl Health {
    pub fn new() -> Health {
        Health::default()
    }

    fn update(&self, name: &str, f: impl FnOnce(&mut WorkerStatus)) {
        let mut workers = self.workers.lock().unwrap_or_else(|e| e.into_inner());
        f(workers.entry(name.to_string()).or_insert_with(|| WorkerStatus::new(name)));
    }

    /// Records a successful cycle of `name` at `at` with its lag (`None` keeps the last one).
    pub fn success(&self, name: &str, at: DateTime<Utc>, lag_ms: Option<i64>) {
        self.update(name, |w| {
            w.last_success_at = Some(at);
            w.last_error = None;
            w.lag_ms = lag_ms.or(w.lag_ms);
            w.consecutive_failures = 0;
        });
    }

    /// Records a failed cycle of `name` at `at`.
    pub fn failure(&self, name: &str, at: DateTime<Utc>, error: &str) {
        self.update(name, |w| {
            w.last_error = Some(error.to_string());
            w.last_error_at = Some(at);
            w.consecutive_failures = w.consecutive_failures.saturating_add(1);
        });
    }

    /// Registers `name` (so it shows before its first cycle).
    pub fn register(&self, name: &str) {
        self.update(name, |_| {});
    }

    /// Forgets a worker that stopped (a connection removed, a lease lost).
    pub fn remove(&self, name: &str) {
        self.workers.lock().unwrap_or_else(|e| e.into_inner()).remove(name);
    }

    /// Every worker's status, by name.
    pub fn snapshot(&self) -> Vec<WorkerStatus> {
        self.workers.lock().unwrap_or_else(|e| e.into_inner()).values().cloned().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failures_count_until_a_success_clears_them() {
        let health = Health::new();
        let t = Utc::now();
        health.register("poller:a");
        assert_eq!(health.snapshot()[0].last_success_at, None);
        for _ in 0..3 {
            health.failure("poller:a", t, "connection refused");
        }
        let status = &health.snapshot()[0];
        assert_eq!((status.consecutive_failures, status.is_healthy()), (3, false));
        assert_eq!(status.last_error.as_deref(), Some("connection refused"));
        health.success("poller:a", t, Some(12));
        let status = &health.snapshot()[0];
        assert_eq!((status.consecutive_failures, status.is_healthy(), status.lag_ms), (0, true, Some(12)));
        assert_eq!(status.last_error, None);
        health.remove("poller:a");
        assert!(health.snapshot().is_empty());
    }
}
