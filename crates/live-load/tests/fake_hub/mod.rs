//! Small stand-ins for the servers the tool drives, on 127.0.0.1:0: a live hub that speaks the
//! SSE and WebSocket protocol (a snapshot with seq 10, then a delta every 20 ms with seqs 11, 12,
//! 14, 15, ... — one gap on purpose), and an nchan-like pub/sub.

use std::collections::HashMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::sse::{Event, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use chrono::{SecondsFormat, Utc};
use futures::Stream;
use serde_json::{json, Value};
use tokio::sync::broadcast;

/// The token the fake hub accepts.
pub const TOKEN: &str = "test-token";
/// Time between two deltas of a channel.
const TICK: Duration = Duration::from_millis(20);
/// The seq of every snapshot.
const SNAPSHOT_SEQ: u64 = 10;

/// The seq of a channel's `n`-th delta (from 0): 11, 12, then 14, 15, ... (13 is never sent).
fn delta_seq(n: u64) -> u64 {
    SNAPSHOT_SEQ + 1 + n + u64::from(n >= 2)
}

fn snapshot(channel: &str) -> Value {
    json!({ "type": "snapshot", "channel": channel, "seq": SNAPSHOT_SEQ, "data": { "waiting": 0, "agents": [] } })
}

fn delta(channel: &str, n: u64) -> Value {
    let changed_at = Utc::now().to_rfc3339_opts(SecondsFormat::Micros, true);
    json!({ "type": "delta", "channel": channel, "seq": delta_seq(n), "patch": { "waiting": n }, "changedAt": changed_at })
}

fn authorized(headers: &HeaderMap) -> bool {
    headers.get("authorization").and_then(|v| v.to_str().ok()) == Some(&format!("Bearer {TOKEN}"))
}

/// Serves `router` on an ephemeral port of 127.0.0.1 and returns its base URL.
async fn serve(router: Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr: SocketAddr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    format!("http://{addr}")
}

/// Starts the fake live hub and returns its base URL.
pub async fn start_hub() -> String {
    let router = Router::new()
        .route("/api/v1/live/overview", get(|headers: HeaderMap| sse_channel(headers, "overview".into())))
        .route(
            "/api/v1/live/queues/{id}",
            get(|headers: HeaderMap, Path(id): Path<String>| sse_channel(headers, format!("queue:{id}"))),
        )
        .route(
            "/api/v1/live/agents/{dn}",
            get(|headers: HeaderMap, Path(dn): Path<String>| sse_channel(headers, format!("agent:{dn}"))),
        )
        .route("/api/v1/live/ws", get(ws_upgrade));
    serve(router).await
}

/// The frames of one channel as an endless stream: the snapshot, then a delta every tick.
fn frames(channel: String) -> impl Stream<Item = Result<Event, Infallible>> {
    futures::stream::unfold(0u64, move |n| {
        let channel = channel.clone();
        async move {
            let event = if n == 0 {
                Event::default().event("snapshot").id(SNAPSHOT_SEQ.to_string()).data(snapshot(&channel).to_string())
            } else {
                tokio::time::sleep(TICK).await;
                let frame = delta(&channel, n - 1);
                Event::default().event("delta").id(delta_seq(n - 1).to_string()).data(frame.to_string())
            };
            Some((Ok(event), n + 1))
        }
    })
}

async fn sse_channel(headers: HeaderMap, channel: String) -> Response {
    if !authorized(&headers) {
        return (StatusCode::UNAUTHORIZED, "missing or wrong bearer token").into_response();
    }
    Sse::new(frames(channel)).into_response()
}

async fn ws_upgrade(headers: HeaderMap, upgrade: WebSocketUpgrade) -> Response {
    if !authorized(&headers) {
        return (StatusCode::UNAUTHORIZED, "missing or wrong bearer token").into_response();
    }
    upgrade.on_upgrade(ws_session)
}

/// Answers subscribe requests (an `agent:refused` channel gets an error) and sends every
/// subscribed channel's deltas each tick.
async fn ws_session(mut socket: WebSocket) {
    let mut channels: Vec<(String, u64)> = Vec::new();
    let mut ticks = tokio::time::interval(TICK);
    loop {
        let outgoing: Vec<Value> = tokio::select! {
            incoming = socket.recv() => {
                let Some(Ok(Message::Text(text))) = incoming else { return };
                let request: Value = serde_json::from_str(text.as_str()).unwrap_or_default();
                let channel = request["channel"].as_str().unwrap_or_default().to_string();
                if request["type"] != "subscribe" || channel == "agent:refused" {
                    vec![json!({ "type": "error", "channel": channel, "problem": { "status": 404 } })]
                } else {
                    channels.push((channel.clone(), 0));
                    vec![json!({ "type": "subscribed", "channel": channel }), snapshot(&channel)]
                }
            }
            _ = ticks.tick() => channels.iter_mut().map(|(channel, n)| { *n += 1; delta(channel, *n - 1) }).collect(),
        };
        for frame in outgoing {
            if socket.send(Message::text(frame.to_string())).await.is_err() {
                return;
            }
        }
    }
}

type Topics = Arc<Mutex<HashMap<String, broadcast::Sender<String>>>>;

fn topic(topics: &Topics, channel: &str) -> broadcast::Sender<String> {
    topics.lock().unwrap().entry(channel.to_string()).or_insert_with(|| broadcast::channel(1024).0).clone()
}

/// Starts an nchan-like server (`POST /pub/{channel}` fans the body out to every
/// `GET /sub/{channel}` event stream) and returns its base URL.
pub async fn start_pubsub() -> String {
    let topics: Topics = Arc::default();
    let router = Router::new()
        .route(
            "/pub/{channel}",
            post(|State(topics): State<Topics>, Path(channel): Path<String>, body: String| async move {
                let _ = topic(&topics, &channel).send(body);
                StatusCode::CREATED
            }),
        )
        .route(
            "/sub/{channel}",
            get(|State(topics): State<Topics>, Path(channel): Path<String>| async move {
                let receiver = topic(&topics, &channel).subscribe();
                let stream = futures::stream::unfold(receiver, |mut receiver| async move {
                    let body = receiver.recv().await.ok()?;
                    Some((Ok::<_, Infallible>(Event::default().data(body)), receiver))
                });
                Sse::new(stream)
            }),
        )
        .with_state(topics);
    serve(router).await
}
