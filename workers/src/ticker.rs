//! The loop of the periodic workers (session scheduler, analytics aggregator): a tick every
//! interval until stopped, each tick's result reported to health.

use std::future::Future;
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::sync::watch;

use crate::Health;

/// Runs `tick` every `every` until `stop` turns true (or its sender is dropped), registering
/// `name` with `health` for the duration and reporting each tick's success or failure (logged
/// as `failed`). A failing tick is retried at the next one; a late tick delays the next.
pub async fn run_ticks<F, Fut>(
    name: &'static str,
    health: &Health,
    every: Duration,
    mut stop: watch::Receiver<bool>,
    failed: &'static str,
    mut tick: F,
) where
    F: FnMut(DateTime<Utc>) -> Fut,
    Fut: Future<Output = anyhow::Result<()>>,
{
    health.register(name);
    let mut ticks = tokio::time::interval(every);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = ticks.tick() => {}
            changed = stop.changed() => if changed.is_err() || *stop.borrow() { break } else { continue },
        }
        if *stop.borrow() {
            break;
        }
        let now = lineup_store::now_micros();
        match tick(now).await {
            Ok(()) => health.success(name, now, None),
            Err(e) => {
                tracing::warn!(error = %format!("{e:#}"), "{failed}");
                health.failure(name, now, &format!("{e:#}"));
            }
        }
    }
    health.remove(name);
}
