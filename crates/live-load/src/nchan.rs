//! The nchan side: the same SSE subscribers on `{url}/sub/<channel>`, and a publisher that POSTs
//! delta frames to `{url}/pub/<channel>` at a fixed rate with `changedAt` = send time, so the
//! report compares with a Lineup run line by line.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{SecondsFormat, Utc};
use tokio::time::MissedTickBehavior;

use crate::http::Endpoint;
use crate::report::{Publishing, Report};
use crate::runner::{run_phases, Pacing, Subscriber};
use crate::sse::SseSubscription;
use crate::tally::Tally;

/// A run against nchan.
#[derive(Debug, Clone)]
pub struct NchanRun {
    /// nginx's base URL, e.g. `http://127.0.0.1:8090`.
    pub url: String,
    pub subscribers: u64,
    /// How many channels (`bench-0` ..) the subscribers are spread over round-robin.
    pub channels: u64,
    /// Messages published per second to each channel during the window.
    pub rate_per_channel: f64,
    pub pacing: Pacing,
    pub server_pid: Option<u32>,
}

/// The name of channel `index`.
pub fn channel_name(index: u64) -> String {
    format!("bench-{index}")
}

/// The body published as message `seq` of `channel`: a delta frame stamped now.
pub fn delta_frame(channel: &str, seq: u64) -> String {
    let changed_at = Utc::now().to_rfc3339_opts(SecondsFormat::Micros, true);
    serde_json::json!({
        "type": "delta",
        "channel": channel,
        "seq": seq,
        "patch": { "waiting": seq % 17, "longestWaitSecs": seq % 300 },
        "changedAt": changed_at,
    })
    .to_string()
}

/// Publishes to every channel at the run's rate until `duration` has passed; each channel's
/// messages are sent one after another so their seqs arrive in order.
async fn publish(run: &NchanRun, endpoint: &Endpoint, duration: Duration, published: &AtomicU64, failures: &AtomicU64) {
    let client = reqwest::Client::new();
    let period = Duration::from_secs_f64(1.0 / run.rate_per_channel.max(0.001));
    let end = Instant::now() + duration;
    let channels = (0..run.channels).map(|index| {
        let client = client.clone();
        let channel = channel_name(index);
        let url = endpoint.url("http", &format!("/pub/{channel}"));
        async move {
            let mut ticks = tokio::time::interval(period);
            ticks.set_missed_tick_behavior(MissedTickBehavior::Delay);
            let mut seq = 0;
            loop {
                ticks.tick().await;
                if Instant::now() >= end {
                    break;
                }
                seq += 1;
                let sent = client
                    .post(&url)
                    .header("content-type", "application/json")
                    .body(delta_frame(&channel, seq))
                    .send()
                    .await
                    .and_then(|response| response.error_for_status());
                // Reading the answer to its end lets the connection go back to the pool.
                let sent = match sent {
                    Ok(response) => response.bytes().await,
                    Err(error) => Err(error),
                };
                match sent {
                    Ok(_) => published.fetch_add(1, Ordering::Relaxed),
                    Err(_) => failures.fetch_add(1, Ordering::Relaxed),
                };
            }
        }
    });
    futures::future::join_all(channels).await;
}

/// Runs the measurement against nchan and reports it.
pub async fn run_nchan(run: &NchanRun) -> anyhow::Result<Report> {
    let endpoint = Arc::new(Endpoint::resolve(&run.url).await?);
    let channels = run.channels.max(1);
    let subscribers = (0..run.subscribers)
        .map(|i| {
            let channel = channel_name(i % channels);
            Subscriber::Sse(SseSubscription {
                endpoint: endpoint.clone(),
                path: format!("{}/sub/{channel}", endpoint.prefix),
                token: None,
                channel,
            })
        })
        .collect();
    let tally = Arc::new(Tally::default());
    let (published, failures) = (AtomicU64::new(0), AtomicU64::new(0));
    let run = NchanRun { channels, ..run.clone() };
    let load = publish(&run, &endpoint, run.pacing.duration, &published, &failures);
    let phases = run_phases(subscribers, run.pacing, run.server_pid, tally.clone(), load).await?;
    let published = published.load(Ordering::Relaxed);
    // Every channel has subscribers / channels subscribers, give or take one; publishing is even.
    let opened = tally.opened.load(Ordering::Relaxed);
    let publishing = Publishing {
        rate_per_channel: run.rate_per_channel,
        published,
        failures: failures.load(Ordering::Relaxed),
        expected_deliveries: published * opened / channels,
    };
    let names = (0..channels).map(channel_name).collect();
    let mut report = crate::build_report("nchan", &run.url, names, &tally, phases, Some(publishing));
    report.sse_subscribers = run.subscribers;
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::frame::{parse_message, Message};

    #[test]
    fn published_frames_are_deltas_stamped_now() {
        let before = Utc::now();
        let frame = delta_frame("bench-0", 7);
        match parse_message(&frame).unwrap() {
            Message::Delta { channel, seq, changed_at } => {
                assert_eq!((channel.as_deref(), seq), (Some("bench-0"), 7));
                assert!(changed_at >= before - chrono::Duration::microseconds(1) && changed_at <= Utc::now());
            }
            other => panic!("not a delta: {other:?}"),
        }
    }
}
