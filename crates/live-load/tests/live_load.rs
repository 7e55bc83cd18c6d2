//! The tool's library entry points against small fake servers on 127.0.0.1.

mod fake_hub;

use std::time::Duration;

use lineup_live_load::{run_lineup, run_nchan, LineupRun, NchanRun, Pacing, Report};

const QUEUE: &str = "queue:0192f0c4-aaaa-7bbb-8ccc-000000000001";

fn pacing(duration_ms: u64) -> Pacing {
    Pacing {
        ramp_per_sec: 2000.0,
        connect_timeout: Duration::from_secs(5),
        settle: Duration::from_millis(100),
        duration: Duration::from_millis(duration_ms),
        drain: Duration::from_millis(100),
    }
}

fn hub_run(base: String, token: &str, sse: u64, ws: u64, channels: &[&str]) -> LineupRun {
    LineupRun {
        base,
        tokens: vec![token.to_string()],
        sse,
        ws,
        channels: channels.iter().map(|c| c.to_string()).collect(),
        ws_channels_per_connection: 1,
        pacing: pacing(600),
        server_pid: Some(std::process::id()),
    }
}

/// Latency quantiles are ordered, non-negative and well under a second on one machine.
fn assert_plausible_latency(report: &Report) {
    let l = &report.latency;
    assert_eq!(l.count, report.window_deltas);
    assert!(l.count > 0, "no latency was recorded");
    assert!(0.0 <= l.p50_ms && l.p50_ms <= l.p90_ms && l.p90_ms <= l.p99_ms && l.p99_ms <= l.max_ms, "{l:?}");
    assert!(l.max_ms < 1000.0, "{l:?}");
    assert_eq!(report.negative_latencies, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_subscriber_gets_its_snapshot_and_deltas_and_the_gap_is_seen_once_each() {
    let base = fake_hub::start_hub().await;
    let run = hub_run(base, fake_hub::TOKEN, 50, 50, &["overview", QUEUE, "agent:1001"]);

    let report = run_lineup(&run).await.unwrap();

    assert_eq!((report.connections_opened, report.connections_failed), (100, 0), "{:?}", report.errors);
    assert_eq!(report.snapshots, 100);
    assert_eq!((report.subscriptions_acknowledged, report.subscriptions_refused), (50, 0));
    assert_eq!((report.seq_gaps, report.missing_frames), (100, 100), "seq 13 is skipped once per subscriber");
    assert_eq!((report.seq_regressions, report.bad_frames, report.disconnects), (0, 0, 0));
    // Each subscriber gets a delta every 20 ms for at least the 0.7 s of settle and window.
    assert!(report.deltas >= 100 * 10, "only {} deltas", report.deltas);
    assert!(report.window_deltas <= report.deltas);
    assert!(report.deltas_per_sec > 100.0, "{} deltas/s", report.deltas_per_sec);
    assert_plausible_latency(&report);
    let memory = report.memory.expect("the server pid was given");
    assert!(memory.rss_before_kib > 0 && memory.rss_idle_kib > 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_token_fails_every_connection_with_the_status_in_the_samples() {
    let base = fake_hub::start_hub().await;
    let mut run = hub_run(base, "wrong", 5, 5, &["overview"]);
    run.pacing.duration = Duration::from_millis(50);

    let report = run_lineup(&run).await.unwrap();

    assert_eq!((report.connections_opened, report.connections_failed), (0, 10));
    assert_eq!((report.snapshots, report.deltas), (0, 0));
    assert!(report.errors.iter().any(|e| e.starts_with("SSE") && e.contains("HTTP 401")), "{:?}", report.errors);
    assert!(report.errors.iter().any(|e| e.starts_with("WS") && e.contains("HTTP 401")), "{:?}", report.errors);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_websocket_subscription_is_counted_apart_from_the_accepted_ones() {
    let base = fake_hub::start_hub().await;
    let mut run = hub_run(base, fake_hub::TOKEN, 0, 4, &["overview", "agent:refused"]);
    run.ws_channels_per_connection = 2;
    run.pacing.duration = Duration::from_millis(100);

    let report = run_lineup(&run).await.unwrap();

    assert_eq!(report.connections_opened, 4);
    assert_eq!((report.subscriptions_acknowledged, report.subscriptions_refused), (4, 4));
    assert_eq!((report.snapshots, report.seq_gaps), (4, 4));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn published_messages_reach_every_pubsub_subscriber_in_order() {
    let url = fake_hub::start_pubsub().await;
    let run = NchanRun {
        url,
        subscribers: 40,
        channels: 2,
        rate_per_channel: 20.0,
        // A generous drain, so every delivery arrives before the count even on a busy machine.
        pacing: Pacing { drain: Duration::from_millis(500), ..pacing(500) },
        server_pid: Some(std::process::id()),
    };

    let report = run_nchan(&run).await.unwrap();

    assert_eq!((report.connections_opened, report.connections_failed), (40, 0), "{:?}", report.errors);
    let publishing = report.publishing.clone().expect("an nchan run publishes");
    assert!(publishing.published >= 10 && publishing.failures == 0, "{publishing:?}");
    assert_eq!(report.deltas, publishing.expected_deliveries, "every subscriber gets every message");
    assert_eq!((report.seq_gaps, report.seq_regressions, report.disconnects), (0, 0, 0));
    assert_eq!(report.snapshots, 0);
    assert_plausible_latency(&report);
}
