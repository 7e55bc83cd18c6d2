//! The outcome of one run, as a readable table and as JSON, and two runs side by side.

use std::fmt::Write as _;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::histogram::LatencySummary;

/// Everything one run measured. Counts cover the whole run; `window_deltas`, `deltas_per_sec`
/// and `latency` cover the measurement window only.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Report {
    /// `lineup` or `nchan`.
    pub target: String,
    /// The server's base URL.
    pub url: String,
    /// When the first connection was attempted.
    pub started_at: DateTime<Utc>,
    /// The channels the subscribers were spread over.
    pub channels: Vec<String>,
    /// SSE connections asked for.
    pub sse_subscribers: u64,
    /// WebSocket connections asked for, and channels each subscribed to.
    pub ws_connections: u64,
    pub ws_channels_per_connection: u64,
    /// Connections that got a stream or socket, and those that did not.
    pub connections_opened: u64,
    pub connections_failed: u64,
    /// WebSocket `subscribed` replies.
    pub subscriptions_acknowledged: u64,
    /// WebSocket `error` replies.
    pub subscriptions_refused: u64,
    /// From the first connection attempt until every connection had opened or failed.
    pub connect_secs: f64,
    /// Length of the measurement window (0 when no connection opened).
    pub window_secs: f64,
    /// Snapshots and deltas received during the whole run.
    pub snapshots: u64,
    pub deltas: u64,
    /// Deltas received in the window (and the drain after it).
    pub window_deltas: u64,
    /// Deltas delivered to all subscribers together per second of the window.
    pub deltas_per_sec: f64,
    /// Receive time − `changedAt` of the window's deltas.
    pub latency: LatencySummary,
    /// Deltas whose seq jumped forward, and how many seqs they skipped in all.
    pub seq_gaps: u64,
    pub missing_frames: u64,
    /// Deltas whose seq went back or repeated.
    pub seq_regressions: u64,
    /// Messages that are not frames of the protocol.
    pub bad_frames: u64,
    /// Deltas received before their `changedAt` (counted as 0 ms).
    pub negative_latencies: u64,
    /// Opened connections that the server ended or that broke.
    pub disconnects: u64,
    /// What the tool published (nchan runs only).
    pub publishing: Option<Publishing>,
    /// The server's memory, when its pid was given.
    pub memory: Option<ServerMemory>,
    /// CPU seconds the tool itself used during the window (it shares the machine with the server).
    pub client_cpu_secs: f64,
    /// CPU seconds the server (with its children) used during the window, when its pid is known.
    pub server_cpu_secs: Option<f64>,
    /// The first distinct errors, as samples.
    pub errors: Vec<String>,
}

impl Report {
    /// Subscriptions of the run: one per SSE subscriber, and each WebSocket connection's channels.
    pub fn subscriptions(&self) -> u64 {
        self.sse_subscribers + self.ws_connections * self.ws_channels_per_connection.max(1)
    }

    /// Deltas each subscription received per second of the window, on average: the rate to
    /// publish to every channel of another server for the same deliveries per second to the same
    /// number of subscribers.
    pub fn rate_per_subscription(&self) -> f64 {
        match self.subscriptions() {
            0 => 0.0,
            n => self.deltas_per_sec / n as f64,
        }
    }
}

/// What the tool itself published (nchan runs).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Publishing {
    /// The rate asked for, in messages per second per channel.
    pub rate_per_channel: f64,
    /// Messages the server accepted, and those it refused or that failed.
    pub published: u64,
    pub failures: u64,
    /// Published messages times the subscribers of their channel.
    pub expected_deliveries: u64,
}

/// The server's resident memory (its process and descendants) around the connections.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ServerMemory {
    /// The process measured (with its descendants).
    pub pid: u32,
    /// Before the first connection.
    pub rss_before_kib: u64,
    /// After every subscriber connected and the settle time passed.
    pub rss_idle_kib: u64,
    /// At the end of the window.
    pub rss_end_kib: u64,
    /// (idle − before) / connections opened.
    pub per_subscriber_kib: f64,
}

impl ServerMemory {
    /// The memory figures, with the per-subscriber share of `connections` (0 when none opened).
    pub fn new(pid: u32, rss_before_kib: u64, rss_idle_kib: u64, rss_end_kib: u64, connections: u64) -> Self {
        let grown = rss_idle_kib.saturating_sub(rss_before_kib) as f64;
        let per_subscriber_kib = if connections == 0 { 0.0 } else { grown / connections as f64 };
        Self { pid, rss_before_kib, rss_idle_kib, rss_end_kib, per_subscriber_kib }
    }
}

fn row(out: &mut String, label: &str, value: impl std::fmt::Display) {
    let _ = writeln!(out, "  {label:<28} {value}");
}

/// The report as a table of labelled rows.
pub fn render(report: &Report) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "{} live load — {} ({})", report.target, report.url, report.started_at.format("%F %T UTC"));
    row(&mut out, "channels", report.channels.join(", "));
    row(
        &mut out,
        "subscribers",
        format!(
            "{} SSE + {} WS connections × {} channel(s)",
            report.sse_subscribers, report.ws_connections, report.ws_channels_per_connection
        ),
    );
    row(
        &mut out,
        "connections opened / failed",
        format!("{} / {}", report.connections_opened, report.connections_failed),
    );
    if report.ws_connections > 0 {
        row(
            &mut out,
            "WS subscribed / refused",
            format!("{} / {}", report.subscriptions_acknowledged, report.subscriptions_refused),
        );
    }
    row(&mut out, "connect time", format!("{:.1} s", report.connect_secs));
    row(&mut out, "snapshots received", report.snapshots);
    row(&mut out, "deltas received (run)", report.deltas);
    row(&mut out, "deltas in window", format!("{} in {:.1} s", report.window_deltas, report.window_secs));
    row(&mut out, "deltas/s delivered", format!("{:.0}", report.deltas_per_sec));
    let l = &report.latency;
    row(
        &mut out,
        "latency ms p50/p90/p99/max",
        format!("{:.2} / {:.2} / {:.2} / {:.2} (mean {:.2})", l.p50_ms, l.p90_ms, l.p99_ms, l.max_ms, l.mean_ms),
    );
    row(&mut out, "seq gaps (frames missed)", format!("{} ({})", report.seq_gaps, report.missing_frames));
    row(&mut out, "seq regressions", report.seq_regressions);
    row(&mut out, "bad frames", report.bad_frames);
    row(&mut out, "negative latencies", report.negative_latencies);
    row(&mut out, "disconnects", report.disconnects);
    if let Some(p) = &report.publishing {
        row(
            &mut out,
            "published",
            format!(
                "{} at {}/s per channel ({} failed), {} deliveries expected",
                p.published, p.rate_per_channel, p.failures, p.expected_deliveries
            ),
        );
    }
    if let Some(m) = &report.memory {
        row(
            &mut out,
            "server RSS before/idle/end",
            format!("{} / {} / {} KiB (pid {})", m.rss_before_kib, m.rss_idle_kib, m.rss_end_kib, m.pid),
        );
        row(&mut out, "memory per subscriber", format!("{:.1} KiB", m.per_subscriber_kib));
    }
    let share = |secs: f64| if report.window_secs > 0.0 { 100.0 * secs / report.window_secs } else { 0.0 };
    if let Some(secs) = report.server_cpu_secs {
        row(&mut out, "server CPU in window", format!("{secs:.1} s ({:.0} % of a core)", share(secs)));
    }
    row(
        &mut out,
        "load tool CPU in window",
        format!("{:.1} s ({:.0} % of a core)", report.client_cpu_secs, share(report.client_cpu_secs)),
    );
    for error in &report.errors {
        row(&mut out, "error sample", error);
    }
    out
}

/// `a / b`, or `-` when `b` is 0.
fn ratio(a: f64, b: f64) -> String {
    if b == 0.0 {
        "-".to_string()
    } else {
        format!("{:.2}", a / b)
    }
}

/// Two reports side by side, with the ratio first / second of p50, p99, deltas/s and memory
/// per subscriber.
pub fn render_comparison(a: &Report, b: &Report) -> String {
    let mut out = String::new();
    let header = format!("{} / {}", a.target, b.target);
    let _ = writeln!(out, "  {:<28} {:>16} {:>16} {:>12}", "", a.target, b.target, header);
    let mut line = |label: &str, x: String, y: String, r: String| {
        let _ = writeln!(out, "  {label:<28} {x:>16} {y:>16} {r:>12}");
    };
    let subscribers = |r: &Report| r.sse_subscribers + r.ws_connections;
    line("subscribers", subscribers(a).to_string(), subscribers(b).to_string(), String::new());
    line(
        "opened / failed",
        format!("{} / {}", a.connections_opened, a.connections_failed),
        format!("{} / {}", b.connections_opened, b.connections_failed),
        String::new(),
    );
    line("deltas in window", a.window_deltas.to_string(), b.window_deltas.to_string(), String::new());
    line(
        "deltas/s delivered",
        format!("{:.0}", a.deltas_per_sec),
        format!("{:.0}", b.deltas_per_sec),
        ratio(a.deltas_per_sec, b.deltas_per_sec),
    );
    let ms = |v: f64| format!("{v:.2} ms");
    line("latency p50", ms(a.latency.p50_ms), ms(b.latency.p50_ms), ratio(a.latency.p50_ms, b.latency.p50_ms));
    line("latency p90", ms(a.latency.p90_ms), ms(b.latency.p90_ms), String::new());
    line("latency p99", ms(a.latency.p99_ms), ms(b.latency.p99_ms), ratio(a.latency.p99_ms, b.latency.p99_ms));
    line("latency max", ms(a.latency.max_ms), ms(b.latency.max_ms), String::new());
    line("seq gaps", a.seq_gaps.to_string(), b.seq_gaps.to_string(), String::new());
    line("disconnects", a.disconnects.to_string(), b.disconnects.to_string(), String::new());
    let memory = |r: &Report| r.memory.as_ref().map(|m| m.per_subscriber_kib);
    let show = |v: Option<f64>| v.map_or("-".to_string(), |v| format!("{v:.1} KiB"));
    let memory_ratio = match (memory(a), memory(b)) {
        (Some(x), Some(y)) => ratio(x, y),
        _ => "-".to_string(),
    };
    line("memory per subscriber", show(memory(a)), show(memory(b)), memory_ratio);
    // Server CPU per thousand deltas delivered in the window.
    let cpu = |r: &Report| match r.server_cpu_secs {
        Some(secs) if r.window_deltas > 0 => Some(1000.0 * 1000.0 * secs / r.window_deltas as f64),
        _ => None,
    };
    let cpu_ratio = match (cpu(a), cpu(b)) {
        (Some(x), Some(y)) => ratio(x, y),
        _ => "-".to_string(),
    };
    let show_cpu = |v: Option<f64>| v.map_or("-".to_string(), |v| format!("{v:.1} ms"));
    line("server CPU per 1000 deltas", show_cpu(cpu(a)), show_cpu(cpu(b)), cpu_ratio);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report(target: &str, p50_ms: f64, deltas_per_sec: f64, per_subscriber_kib: Option<f64>) -> Report {
        Report {
            target: target.into(),
            url: "http://127.0.0.1:1".into(),
            started_at: DateTime::UNIX_EPOCH,
            channels: vec!["overview".into()],
            sse_subscribers: 10,
            ws_connections: 0,
            ws_channels_per_connection: 1,
            connections_opened: 10,
            connections_failed: 0,
            subscriptions_acknowledged: 0,
            subscriptions_refused: 0,
            connect_secs: 0.1,
            window_secs: 1.0,
            snapshots: 10,
            deltas: 100,
            window_deltas: 100,
            deltas_per_sec,
            latency: LatencySummary {
                count: 100,
                mean_ms: p50_ms,
                p50_ms,
                p90_ms: p50_ms,
                p99_ms: p50_ms * 2.0,
                max_ms: 9.0,
            },
            seq_gaps: 0,
            missing_frames: 0,
            seq_regressions: 0,
            bad_frames: 0,
            negative_latencies: 0,
            disconnects: 0,
            publishing: None,
            memory: per_subscriber_kib.map(|kib| ServerMemory {
                pid: 1,
                rss_before_kib: 0,
                rss_idle_kib: 0,
                rss_end_kib: 0,
                per_subscriber_kib: kib,
            }),
            client_cpu_secs: 0.5,
            server_cpu_secs: Some(deltas_per_sec / 400.0),
            errors: vec![],
        }
    }

    #[test]
    fn comparison_shows_ratios_of_first_to_second() {
        let text = render_comparison(&report("lineup", 3.0, 400.0, Some(6.0)), &report("nchan", 1.5, 200.0, Some(2.0)));
        let ratio_of = |label: &str| text.lines().find(|l| l.trim_start().starts_with(label)).unwrap().to_string();
        assert!(ratio_of("latency p50").ends_with("2.00"), "{text}");
        assert!(ratio_of("latency p99").ends_with("2.00"), "{text}");
        assert!(ratio_of("deltas/s delivered").ends_with("2.00"), "{text}");
        assert!(ratio_of("memory per subscriber").ends_with("3.00"), "{text}");
        assert!(ratio_of("server CPU per 1000 deltas").ends_with("2.00"), "{text}");
    }

    #[test]
    fn missing_memory_gives_no_ratio() {
        let text = render_comparison(&report("lineup", 3.0, 400.0, None), &report("nchan", 1.5, 0.0, Some(2.0)));
        let line = text.lines().find(|l| l.contains("memory per subscriber")).unwrap();
        assert!(line.ends_with('-'), "{line}");
        let line = text.lines().find(|l| l.contains("deltas/s")).unwrap();
        assert!(line.ends_with('-'), "{line}");
    }

    #[test]
    fn the_rate_to_match_spreads_deliveries_over_every_subscription() {
        let mut lineup = report("lineup", 3.0, 700.0, None);
        (lineup.sse_subscribers, lineup.ws_connections, lineup.ws_channels_per_connection) = (5_000, 2_500, 2);
        assert_eq!(lineup.subscriptions(), 10_000);
        assert!((lineup.rate_per_subscription() - 0.07).abs() < 1e-12);
        lineup.sse_subscribers = 0;
        lineup.ws_connections = 0;
        assert_eq!(lineup.rate_per_subscription(), 0.0, "no subscription, no rate");
    }

    #[test]
    fn reports_round_trip_through_json() {
        let original = report("nchan", 1.0, 2.0, Some(3.0));
        let json = serde_json::to_string(&original).unwrap();
        assert_eq!(serde_json::from_str::<Report>(&json).unwrap(), original);
    }

    #[test]
    fn per_subscriber_memory_is_growth_over_connections() {
        assert_eq!(ServerMemory::new(1, 1000, 11_000, 12_000, 1000).per_subscriber_kib, 10.0);
        assert_eq!(ServerMemory::new(1, 1000, 900, 900, 10).per_subscriber_kib, 0.0);
        assert_eq!(ServerMemory::new(1, 1000, 2000, 2000, 0).per_subscriber_kib, 0.0);
    }
}
