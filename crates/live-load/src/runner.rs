//! The phases of a run, the same for Lineup and for nchan: ramp the connections up, wait until
//! each opened or failed, let the server settle (memory is read then), record for the window
//! while an optional load task runs, drain, and close everything.

use std::future::Future;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use tokio::task::JoinSet;

use crate::process::{ensure_descriptors, own_cpu_secs, tree_cpu_secs, tree_rss_kib};
use crate::report::ServerMemory;
use crate::sse::{run_sse_subscriber, SseSubscription};
use crate::tally::Tally;
use crate::ws::{run_ws_subscriber, WsSubscription};

/// One connection to open.
#[derive(Debug, Clone)]
pub enum Subscriber {
    Sse(SseSubscription),
    Ws(WsSubscription),
}

/// How a run is paced.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Pacing {
    /// New connections per second.
    pub ramp_per_sec: f64,
    /// How long one connection may take to open before it counts as failed.
    pub connect_timeout: Duration,
    /// Quiet time after the last connection, before memory is read and recording starts.
    pub settle: Duration,
    /// The measurement window.
    pub duration: Duration,
    /// Extra recording time after the window, for deliveries still in flight.
    pub drain: Duration,
}

/// What the runner measured besides the tally.
#[derive(Debug, Clone)]
pub struct Phases {
    pub started_at: DateTime<Utc>,
    pub connect_secs: f64,
    pub window_secs: f64,
    pub memory: Option<ServerMemory>,
    /// CPU seconds this process used during the window.
    pub client_cpu_secs: f64,
    /// CPU seconds the server (with its children) used during the window.
    pub server_cpu_secs: Option<f64>,
}

/// Runs the phases; `load` is started when the window opens and is expected to end with it.
/// When no connection opened there is nothing to measure: the window is skipped (0 s).
pub async fn run_phases<L>(
    subscribers: Vec<Subscriber>,
    pacing: Pacing,
    server_pid: Option<u32>,
    tally: Arc<Tally>,
    load: L,
) -> anyhow::Result<Phases>
where
    L: Future<Output = ()>,
{
    ensure_descriptors(subscribers.len() as u64)?;
    let rss_before = server_pid.map(tree_rss_kib).transpose()?;
    let started_at = Utc::now();
    let start = Instant::now();
    let total = subscribers.len() as u64;
    let mut tasks = JoinSet::new();
    for (index, subscriber) in subscribers.into_iter().enumerate() {
        if pacing.ramp_per_sec > 0.0 {
            let due = start + Duration::from_secs_f64(index as f64 / pacing.ramp_per_sec);
            tokio::time::sleep_until(due.into()).await;
        }
        let tally = tally.clone();
        match subscriber {
            Subscriber::Sse(s) => tasks.spawn(run_sse_subscriber(s, tally, pacing.connect_timeout)),
            Subscriber::Ws(s) => tasks.spawn(run_ws_subscriber(s, tally, pacing.connect_timeout)),
        };
    }
    // Every connection settles within its timeout; the margin covers a busy scheduler.
    let deadline = Instant::now() + pacing.connect_timeout + Duration::from_secs(2);
    while tally.settled() < total && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let connect_secs = start.elapsed().as_secs_f64();
    if tally.opened.load(Ordering::Relaxed) == 0 {
        // Nothing to measure: skip the settle time and the window.
        tasks.shutdown().await;
        return Ok(Phases {
            started_at,
            connect_secs,
            window_secs: 0.0,
            memory: None,
            client_cpu_secs: 0.0,
            server_cpu_secs: None,
        });
    }
    tokio::time::sleep(pacing.settle).await;
    let rss_idle = server_pid.map(tree_rss_kib).transpose()?;

    let client_cpu_before = own_cpu_secs()?;
    let server_cpu_before = server_pid.map(tree_cpu_secs).transpose()?;
    tally.start_recording();
    let window = Instant::now();
    tokio::join!(load, tokio::time::sleep(pacing.duration));
    let window_secs = window.elapsed().as_secs_f64();
    let client_cpu_secs = own_cpu_secs()? - client_cpu_before;
    let server_cpu_secs = match (server_pid, server_cpu_before) {
        (Some(pid), Some(before)) => Some(tree_cpu_secs(pid)? - before),
        _ => None,
    };
    tokio::time::sleep(pacing.drain).await;
    tally.stop_recording();
    let rss_end = server_pid.map(tree_rss_kib).transpose()?;
    tasks.shutdown().await;

    let opened = tally.opened.load(Ordering::Relaxed);
    let memory = match (server_pid, rss_before, rss_idle, rss_end) {
        (Some(pid), Some(before), Some(idle), Some(end)) => Some(ServerMemory::new(pid, before, idle, end, opened)),
        _ => None,
    };
    Ok(Phases { started_at, connect_secs, window_secs, memory, client_cpu_secs, server_cpu_secs })
}
