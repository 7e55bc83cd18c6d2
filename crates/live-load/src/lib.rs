//! Load generator for Lineup's live hub: opens thousands of SSE and WebSocket subscribers from
//! one process, measures how fast and how completely deltas reach them (latency from each
//! delta's `changedAt`, seq gaps, disconnects) and how much memory the server spends per
//! subscriber; runs the same measurement against nchan so the two compare side by side.
//!
//! `run_lineup` and `run_nchan` are the entry points; `report` renders and compares results.

pub mod frame;
pub mod histogram;
pub mod http;
pub mod lineup;
pub mod nchan;
pub mod process;
pub mod report;
pub mod runner;
pub mod sse;
pub mod tally;
pub mod units;
pub mod ws;

use std::sync::atomic::Ordering;

pub use lineup::{login, run_lineup, LineupRun};
pub use nchan::{run_nchan, NchanRun};
pub use report::{render, render_comparison, Report};
pub use runner::Pacing;

/// Gathers the tally and the phases of a finished run into a report; the caller fills in the
/// subscriber counts of its target.
fn build_report(
    target: &str,
    url: &str,
    channels: Vec<String>,
    tally: &tally::Tally,
    phases: runner::Phases,
    publishing: Option<report::Publishing>,
) -> Report {
    let count = |counter: &std::sync::atomic::AtomicU64| counter.load(Ordering::Relaxed);
    let window_deltas = count(&tally.recorded_deltas);
    Report {
        target: target.to_string(),
        url: url.to_string(),
        started_at: phases.started_at,
        channels,
        sse_subscribers: 0,
        ws_connections: 0,
        ws_channels_per_connection: 1,
        connections_opened: count(&tally.opened),
        connections_failed: count(&tally.failed),
        subscriptions_acknowledged: count(&tally.subscribed),
        subscriptions_refused: count(&tally.refused),
        connect_secs: phases.connect_secs,
        window_secs: phases.window_secs,
        snapshots: count(&tally.snapshots),
        deltas: count(&tally.deltas),
        window_deltas,
        deltas_per_sec: if phases.window_secs > 0.0 { window_deltas as f64 / phases.window_secs } else { 0.0 },
        latency: tally.latency.summary(),
        seq_gaps: count(&tally.seq_gaps),
        missing_frames: count(&tally.missing_frames),
        seq_regressions: count(&tally.seq_regressions),
        bad_frames: count(&tally.bad_frames),
        negative_latencies: count(&tally.negative_latencies),
        disconnects: count(&tally.disconnects),
        publishing,
        memory: phases.memory,
        client_cpu_secs: phases.client_cpu_secs,
        server_cpu_secs: phases.server_cpu_secs,
        errors: tally.error_samples(),
    }
}
