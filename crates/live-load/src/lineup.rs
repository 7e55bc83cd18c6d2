//! The Lineup side: SSE and WebSocket subscribers of the live hub, spread over its channels.

use std::sync::Arc;

use anyhow::{bail, Context};
use serde::Deserialize;

use crate::http::{encode_segment, Endpoint};
use crate::report::Report;
use crate::runner::{run_phases, Pacing, Subscriber};
use crate::sse::SseSubscription;
use crate::tally::Tally;
use crate::ws::WsSubscription;

/// The hub's WebSocket path.
const WS_PATH: &str = "/api/v1/live/ws";

/// A run against Lineup's live hub.
#[derive(Debug, Clone)]
pub struct LineupRun {
    /// The server's base URL, e.g. `http://127.0.0.1:8080`.
    pub base: String,
    /// Bearer tokens, used by the connections in turn (the hub limits subscriptions per user,
    /// so a large run may need several users' tokens); at least one.
    pub tokens: Vec<String>,
    pub sse: u64,
    pub ws: u64,
    /// Channels (`queue:<uuid>`, `overview`, `agent:<dn>`) the subscribers are spread over
    /// round-robin.
    pub channels: Vec<String>,
    /// Channels each WebSocket connection subscribes to (consecutive ones, round-robin).
    pub ws_channels_per_connection: u64,
    pub pacing: Pacing,
    pub server_pid: Option<u32>,
}

/// The SSE path of a channel, or why it is not one.
pub fn sse_path(channel: &str) -> anyhow::Result<String> {
    if channel == "overview" {
        return Ok("/api/v1/live/overview".to_string());
    }
    match channel.split_once(':') {
        Some(("queue", id)) if !id.is_empty() => Ok(format!("/api/v1/live/queues/{}", encode_segment(id))),
        Some(("agent", dn)) if !dn.is_empty() => Ok(format!("/api/v1/live/agents/{}", encode_segment(dn))),
        _ => bail!("{channel:?} is not a live channel (queue:<uuid>, overview or agent:<dn>)"),
    }
}

/// The connections of a run: SSE and WebSocket interleaved so both ramp up together, SSE
/// subscriber `i` on channel `i mod C`, WebSocket connection `j` on channels `j*K .. j*K+K mod C`;
/// SSE subscriber `i` uses token `i mod T`, WebSocket connection `j` token `(SSE + j) mod T`.
pub fn plan_subscribers(run: &LineupRun, endpoint: Arc<Endpoint>) -> anyhow::Result<Vec<Subscriber>> {
    if run.channels.is_empty() {
        bail!("no channels given");
    }
    let paths = run.channels.iter().map(|channel| sse_path(channel)).collect::<anyhow::Result<Vec<_>>>()?;
    if run.tokens.is_empty() {
        bail!("no token given");
    }
    let tokens: Vec<Arc<str>> = run.tokens.iter().map(|token| Arc::from(token.as_str())).collect();
    let token_of = |connection: u64| Some(tokens[(connection % tokens.len() as u64) as usize].clone());
    let count = run.channels.len() as u64;
    let per_connection = run.ws_channels_per_connection.max(1);
    let sse = (0..run.sse).map(|i| {
        let at = (i % count) as usize;
        Subscriber::Sse(SseSubscription {
            endpoint: endpoint.clone(),
            path: format!("{}{}", endpoint.prefix, paths[at]),
            token: token_of(i),
            channel: run.channels[at].clone(),
        })
    });
    let ws = (0..run.ws).map(|j| {
        let channels = (0..per_connection.min(count))
            .map(|k| run.channels[((j * per_connection + k) % count) as usize].clone())
            .collect();
        Subscriber::Ws(WsSubscription {
            endpoint: endpoint.clone(),
            path: format!("{}{WS_PATH}", endpoint.prefix),
            token: token_of(run.sse + j),
            channels,
        })
    });
    Ok(interleave(sse, ws))
}

/// Alternates two sequences, then appends what is left of the longer one.
fn interleave<T>(a: impl Iterator<Item = T>, b: impl Iterator<Item = T>) -> Vec<T> {
    let (mut a, mut b) = (a.peekable(), b.peekable());
    let mut out = Vec::new();
    while a.peek().is_some() || b.peek().is_some() {
        out.extend(a.next());
        out.extend(b.next());
    }
    out
}

/// The answer of the login endpoint, as far as the tool needs it.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct TokenResponse {
    access_token: String,
}

/// Signs in with `POST /api/v1/auth/login` and returns the access token. The body is the one
/// the server's `LoginRequest` takes: `username`, `password` and, when given, `tenant`.
pub async fn login(base: &str, username: &str, password: &str, tenant: Option<&str>) -> anyhow::Result<String> {
    let mut body = serde_json::json!({ "username": username, "password": password });
    if let Some(tenant) = tenant {
        body["tenant"] = tenant.into();
    }
    let url = format!("{}/api/v1/auth/login", base.trim_end_matches('/'));
    let response = reqwest::Client::new().post(&url).json(&body).send().await.with_context(|| format!("POST {url}"))?;
    let status = response.status();
    if !status.is_success() {
        let text = response.text().await.unwrap_or_default();
        bail!("login refused: HTTP {status}: {text}");
    }
    Ok(response.json::<TokenResponse>().await.context("reading the login answer")?.access_token)
}

/// One page of `GET /api/v1/queues`, as far as the tool needs it.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct QueuePage {
    items: Vec<QueueRow>,
    next_cursor: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct QueueRow {
    id: String,
    is_active: bool,
}

/// The tenant's channels a wallboard follows: `overview` and every active queue's channel.
pub async fn discover_channels(base: &str, token: &str) -> anyhow::Result<Vec<String>> {
    let client = reqwest::Client::new();
    let url = format!("{}/api/v1/queues", base.trim_end_matches('/'));
    let mut channels = vec!["overview".to_string()];
    let mut cursor: Option<String> = None;
    loop {
        let mut request = client.get(&url).bearer_auth(token).query(&[("limit", "100")]);
        if let Some(cursor) = &cursor {
            request = request.query(&[("cursor", cursor)]);
        }
        let response = request.send().await.with_context(|| format!("GET {url}"))?;
        let status = response.status();
        if !status.is_success() {
            bail!("listing queues: HTTP {status}: {}", response.text().await.unwrap_or_default());
        }
        let page: QueuePage = response.json().await.context("reading the queue list")?;
        channels.extend(page.items.iter().filter(|q| q.is_active).map(|q| format!("queue:{}", q.id)));
        match page.next_cursor {
            Some(next) => cursor = Some(next),
            None => return Ok(channels),
        }
    }
}

/// Runs the measurement against Lineup and reports it. Lineup's own traffic makes the deltas;
/// the tool only subscribes.
pub async fn run_lineup(run: &LineupRun) -> anyhow::Result<Report> {
    let endpoint = Arc::new(Endpoint::resolve(&run.base).await?);
    let subscribers = plan_subscribers(run, endpoint)?;
    let tally = Arc::new(Tally::default());
    let phases = run_phases(subscribers, run.pacing, run.server_pid, tally.clone(), async {}).await?;
    let mut report = crate::build_report("lineup", &run.base, run.channels.clone(), &tally, phases, None);
    report.sse_subscribers = run.sse;
    report.ws_connections = run.ws;
    report.ws_channels_per_connection = run.ws_channels_per_connection.max(1).min(run.channels.len() as u64);
    Ok(report)
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn channels_map_to_sse_paths() {
        let cases = [
            ("overview", Some("/api/v1/live/overview")),
            (
                "queue:0192f0c4-aaaa-7bbb-8ccc-000000000001",
                Some("/api/v1/live/queues/0192f0c4-aaaa-7bbb-8ccc-000000000001"),
            ),
            ("agent:1001", Some("/api/v1/live/agents/1001")),
            ("queue:", None),
            ("session:1", None),
        ];
        for (channel, expected) in cases {
            assert_eq!(sse_path(channel).ok().as_deref(), expected, "{channel}");
        }
    }

    #[test]
    fn subscribers_are_spread_round_robin_and_interleaved() {
        let run = LineupRun {
            base: "http://127.0.0.1:1".into(),
            tokens: vec!["t1".into(), "t2".into()],
            sse: 3,
            ws: 2,
            channels: vec!["overview".into(), "agent:7".into(), "queue:q".into()],
            ws_channels_per_connection: 2,
            pacing: Pacing {
                ramp_per_sec: 0.0,
                connect_timeout: Duration::from_secs(1),
                settle: Duration::ZERO,
                duration: Duration::ZERO,
                drain: Duration::ZERO,
            },
            server_pid: None,
        };
        let endpoint = Arc::new(Endpoint {
            addr: "127.0.0.1:1".parse().unwrap(),
            authority: "127.0.0.1:1".into(),
            prefix: String::new(),
        });
        let described: Vec<String> = plan_subscribers(&run, endpoint)
            .unwrap()
            .into_iter()
            .map(|subscriber| match subscriber {
                Subscriber::Sse(s) => format!("sse {} {}", s.channel, s.token.unwrap()),
                Subscriber::Ws(w) => format!("ws {} {}", w.channels.join("+"), w.token.unwrap()),
            })
            .collect();
        let expected =
            ["sse overview t1", "ws overview+agent:7 t2", "sse agent:7 t2", "ws queue:q+overview t1", "sse queue:q t1"];
        assert_eq!(described, expected);
    }
}
