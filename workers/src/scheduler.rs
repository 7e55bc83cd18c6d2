//! The session scheduler: rotates each queue's shifts on its cron. Every tick it lists the due
//! schedules of every tenant and rotates each once for its latest due instant
//! (`lineup_domain::schedule::due`); the store makes a repeated rotation for one instant a no-op,
//! so several nodes may run the scheduler at once.

use std::time::Duration;

use chrono::{DateTime, Utc};
use lineup_domain::schedule::session_name_for;
use lineup_store::{DynStore, RotateOutcome};
use tokio::sync::watch;

use crate::metrics as m;
use crate::ticker::run_ticks;
use crate::Health;

/// The health name of the scheduler.
pub const NAME: &str = "session-scheduler";

/// How often the scheduler looks for due schedules unless told otherwise.
pub const DEFAULT_EVERY: Duration = Duration::from_secs(30);

/// Opens and closes sessions on each queue's schedule.
pub struct SessionScheduler {
    store: DynStore,
    health: Health,
    every: Duration,
}

impl SessionScheduler {
    /// A scheduler that looks for due schedules every `every` (see [`DEFAULT_EVERY`]).
    pub fn new(store: DynStore, health: Health, every: Duration) -> SessionScheduler {
        SessionScheduler { store, health, every }
    }

    /// Ticks until `stop` turns true (or its sender is dropped), reporting each tick's result to
    /// health. A failing tick is retried at the next one.
    pub async fn run(self, stop: watch::Receiver<bool>) {
        let this = &self;
        let tick = |now| async move { this.run_once(now).await.map(drop) };
        run_ticks(NAME, &self.health, self.every, stop, "session scheduler tick failed", tick).await;
    }

    /// Rotates every schedule due at `now` once; returns how many sessions it opened. A rotation
    /// that fails is logged and the others still run; the call fails only when listing does, or
    /// when every due rotation failed.
    pub async fn run_once(&self, now: DateTime<Utc>) -> anyhow::Result<usize> {
        let due = self.store.list_due_schedules(now).await?;
        let (mut opened, mut failed, mut last_error) = (0, 0, None);
        for d in &due {
            let Some(due_at) = d.schedule.due(now) else { continue };
            let name = session_name_for(&d.schedule.session_name, due_at);
            match self.store.rotate_session(d.tenant_id, d.schedule.queue_id, due_at, name, now).await {
                Ok(RotateOutcome::Rotated { opened: session, completed, draining }) => {
                    opened += 1;
                    metrics::counter!(m::SESSIONS_ROTATED).increment(1);
                    tracing::info!(
                        tenant = %d.tenant_id, queue = %d.schedule.queue_id, session = %session.id,
                        completed = completed.len(), draining = draining.len(), %due_at, "rotated session"
                    );
                }
                Ok(RotateOutcome::AlreadyRan) => {}
                Err(e) => {
                    failed += 1;
                    tracing::warn!(tenant = %d.tenant_id, queue = %d.schedule.queue_id, error = %e, "rotation failed");
                    last_error = Some(e);
                }
            }
        }
        match last_error {
            Some(e) if failed == due.len() => Err(anyhow::Error::new(e).context("every due rotation failed")),
            _ => Ok(opened),
        }
    }
}
