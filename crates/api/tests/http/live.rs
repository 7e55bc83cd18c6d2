//! The live channels over HTTP, on both backends: a snapshot then deltas that patch it, into
//! the same document a fresh subscriber gets; resuming with a missed sequence gets the missed
//! deltas or a snapshot, never a gap; the WebSocket subscribes, unsubscribes and reports errors;
//! calls and agent presence reach the queue and agent channels; permissions and the
//! per-user subscription limit. Two API servers on one PostgreSQL database see each other's
//! changes (LISTEN/NOTIFY).

use std::time::Duration;

use futures::{SinkExt, StreamExt};
use lineup_domain::call::{CallKey, Observation, ObservationKind, Source};
use lineup_domain::{Actor, PbxAgent, QueueMapping, Role};
use lineup_store::now_micros;
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message;

use crate::common::{
    desk, make_api_key, on_both_backends, postgres_store, serve, sqlite_server_with, test_config, Desk, SseEvent,
    SseStream, TestServer,
};

on_both_backends!(
    a_queue_channel_sends_a_snapshot_then_deltas_that_patch_it,
    calls_and_presence_reach_the_queue_overview_and_agent_channels,
    the_websocket_subscribes_unsubscribes_and_reports_errors,
    queues_created_renamed_and_deactivated_reach_the_overview,
    live_channels_need_the_permission_and_another_tenants_queue_is_not_found
);

const WAIT: Duration = Duration::from_secs(10);

fn queue_path(desk: &Desk) -> String {
    format!("/api/v1/live/queues/{}", desk.queue["id"].as_str().unwrap())
}

async fn add_item(s: &TestServer, desk: &Desk, name: &str) -> Value {
    let path = format!("/api/v1/sessions/{}/items", desk.session["id"].as_str().unwrap());
    s.post(&path, json!({"displayName": name})).await.expect(201)
}

/// The next event, which must come within [`WAIT`].
async fn next(stream: &mut SseStream) -> SseEvent {
    stream.next_event(WAIT).await.expect("a live event")
}

/// Applies deltas to `document` until it satisfies `done`; returns the last sequence seen.
async fn follow(stream: &mut SseStream, document: &mut Value, mut seq: i64, done: impl Fn(&Value) -> bool) -> i64 {
    while !done(document) {
        let event = next(stream).await;
        assert_eq!(event.event, "delta", "{event:?}");
        assert_eq!(event.id, seq + 1, "deltas are consecutive");
        assert_eq!(event.data["seq"], json!(event.id));
        lineup_live::patch::apply(document, &event.data["patch"]);
        seq = event.id;
    }
    seq
}

async fn a_queue_channel_sends_a_snapshot_then_deltas_that_patch_it(s: &TestServer) {
    let desk = desk(s).await;
    let mut stream = s.stream(&queue_path(&desk), None).await;
    let first = next(&mut stream).await;
    assert_eq!((first.event.as_str(), first.data["type"].as_str()), ("snapshot", Some("snapshot")));
    let mut document = first.data["data"].clone();
    assert_eq!(document["queueId"], desk.queue["id"]);
    assert_eq!(document["name"], "Front desk");
    assert_eq!(document["itemsByStatus"], json!({}));

    let ada = add_item(s, &desk, "Ada").await;
    add_item(s, &desk, "Bo").await;
    let seq = follow(&mut stream, &mut document, first.id, |d| d["itemsByStatus"]["Waiting"] == 2).await;
    let status_path = format!("/api/v1/items/{}/status", ada["id"].as_str().unwrap());
    s.patch(&status_path, json!({"transition": "call"})).await.expect(200);
    let seq = follow(&mut stream, &mut document, seq, |d| d["itemsByStatus"]["Serving"] == 1).await;
    assert_eq!(document["itemsByStatus"], json!({"Waiting": 1, "Serving": 1}));

    // A new subscriber's snapshot is the document the deltas built.
    let mut fresh = s.stream(&queue_path(&desk), None).await;
    let snapshot = next(&mut fresh).await;
    assert_eq!((snapshot.event.as_str(), snapshot.id), ("snapshot", seq));
    assert_eq!(snapshot.data["data"], document);
    // Deltas carry when the change was committed.
    add_item(s, &desk, "Cy").await;
    let delta = next(&mut stream).await;
    let changed_at = chrono::DateTime::parse_from_rfc3339(delta.data["changedAt"].as_str().unwrap()).unwrap();
    assert!(changed_at <= chrono::Utc::now(), "{delta:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resuming_with_a_missed_sequence_gets_the_deltas_or_a_snapshot_never_a_gap() {
    let mut config = test_config();
    config.live.hub.history = 2;
    let s = sqlite_server_with(config).await;
    let desk = desk(&s).await;
    let mut stream = s.stream(&queue_path(&desk), None).await;
    let mut document = next(&mut stream).await.data["data"].clone();
    let mut seq = 0;
    for n in 1..=4 {
        add_item(&s, &desk, &format!("Visitor {n}")).await;
        seq = follow(&mut stream, &mut document, seq, |d| d["itemsByStatus"]["Waiting"] == n).await;
    }
    drop(stream);

    // Up to date: nothing to send until the next change.
    let mut current = s.stream(&queue_path(&desk), Some(seq)).await;
    current.assert_quiet(Duration::from_millis(600)).await;
    // One behind, within the kept history: exactly the missed delta.
    let mut behind = s.stream(&queue_path(&desk), Some(seq - 1)).await;
    let missed = next(&mut behind).await;
    assert_eq!((missed.event.as_str(), missed.id), ("delta", seq));
    // Further behind than the history, or ahead of the hub (a restarted server): a snapshot.
    for since in [1, seq + 100] {
        let mut resumed = s.stream(&queue_path(&desk), Some(since)).await;
        let event = next(&mut resumed).await;
        assert_eq!((event.event.as_str(), event.id), ("snapshot", seq), "resuming after {since}");
        assert_eq!(event.data["data"], document);
    }
    // `?since=` works like Last-Event-ID; a malformed Last-Event-ID is refused.
    let mut by_query = s.stream(&format!("{}?since={}", queue_path(&desk), seq - 1), None).await;
    assert_eq!(next(&mut by_query).await.id, seq);
    let bad = s.request(reqwest::Method::GET, &queue_path(&desk)).header("Last-Event-ID", "x").send().await.unwrap();
    assert_eq!(bad.status(), 400);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn subscriptions_are_limited_per_user() {
    let mut config = test_config();
    config.live.max_subscriptions_per_user = 2;
    let s = sqlite_server_with(config).await;
    let desk = desk(&s).await;
    let first = s.stream(&queue_path(&desk), None).await;
    let _second = s.stream("/api/v1/live/overview", None).await;
    s.get(&queue_path(&desk)).await.problem(429, "subscription-limit");
    let other = s.as_role(Role::Supervisor).await;
    let _theirs = other.stream("/api/v1/live/overview", None).await;
    drop(first);
    // The dropped stream's place is freed once the server notices the closed connection.
    let mut freed = false;
    for _ in 0..50 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        let answer = s.request(reqwest::Method::GET, &queue_path(&desk)).send().await.unwrap();
        if answer.status() == 200 {
            freed = true;
            break;
        }
    }
    assert!(freed, "a closed stream frees its subscription");
}

async fn queues_created_renamed_and_deactivated_reach_the_overview(s: &TestServer) {
    let desk = desk(s).await;
    let id = desk.queue["id"].as_str().unwrap().to_string();
    let mut stream = s.stream("/api/v1/live/overview", None).await;
    let first = next(&mut stream).await;
    let mut document = first.data["data"].clone();
    let mut seq = follow(&mut stream, &mut document, first.id, |d| d["queues"][&id]["name"] == "Front desk").await;

    s.patch(&format!("/api/v1/queues/{id}"), json!({"name": "Reception"})).await.expect(200);
    seq = follow(&mut stream, &mut document, seq, |d| d["queues"][&id]["name"] == "Reception").await;
    s.delete(&format!("/api/v1/queues/{id}")).await.expect(200);
    seq = follow(&mut stream, &mut document, seq, |d| d["queues"][&id]["active"] == false).await;
    let body = json!({"name": "Returns", "templateId": desk.template["id"]});
    let created = s.post("/api/v1/queues", body).await.expect(201);
    let new_id = created["id"].as_str().unwrap().to_string();
    follow(&mut stream, &mut document, seq, |d| d["queues"][&new_id]["name"] == "Returns").await;
    let fresh = next(&mut s.stream("/api/v1/live/overview", None).await).await;
    assert_eq!(document, fresh.data["data"], "the followed overview equals a fresh snapshot");
}

async fn live_channels_need_the_permission_and_another_tenants_queue_is_not_found(s: &TestServer) {
    let desk = desk(s).await;
    let kiosk = s.as_role(Role::Kiosk).await;
    kiosk.get(&queue_path(&desk)).await.problem(403, "forbidden");
    s.anonymous().get("/api/v1/live/overview").await.problem(401, "unauthenticated");
    let (_, other) = s.other_tenant().await;
    other.get(&queue_path(&desk)).await.problem(404, "not-found");
    let display = s.as_role(Role::Display).await;
    let mut board = display.stream("/api/v1/live/overview", None).await;
    let overview = next(&mut board).await;
    assert_eq!(overview.data["data"]["queues"][desk.queue["id"].as_str().unwrap()]["name"], "Front desk");
    s.get("/api/v1/live/agents/not%20a%20dn").await.problem(404, "not-found");
}

/// A PBX connection of the server's tenant mapping DN 800 to a new "call" template queue.
async fn call_line(s: &TestServer) -> (uuid::Uuid, uuid::Uuid) {
    let template = s.store.create_template(s.tenant, lineup_domain::call::call_template("Calls")).await.unwrap();
    let new = lineup_domain::NewQueue { name: "Sales".into(), template_id: template.id, prefix: None };
    let queue = s.store.create_queue(s.tenant, new).await.unwrap();
    let connection = lineup_store::conformance::pbx::new_pbx_connection(&s.store, s.tenant, "PBX").await;
    let mapping = vec![QueueMapping { dn: "800".into(), queue_id: queue.id }];
    s.store.set_pbx_queue_mappings(&Actor::system("test"), s.tenant, connection.id, mapping).await.unwrap();
    (connection.id, queue.id)
}

async fn calls_and_presence_reach_the_queue_overview_and_agent_channels(s: &TestServer) {
    let (connection, queue) = call_line(s).await;
    let agent = PbxAgent {
        dn: "101".into(),
        name: "Ana Lima".into(),
        queue_dns: vec!["800".into()],
        logged_in: true,
        paused: false,
    };
    s.store.sync_pbx_agents(s.tenant, connection, &[agent], now_micros()).await.unwrap();
    let mut queue_stream = s.stream(&format!("/api/v1/live/queues/{queue}"), None).await;
    let mut agent_stream = s.stream("/api/v1/live/agents/101", None).await;
    let first = next(&mut queue_stream).await;
    let mut document = first.data["data"].clone();
    assert_eq!(document["agents"]["101"]["state"], "available", "{document}");
    assert_eq!(document["agentsByState"]["available"], 1);
    let first_agent = next(&mut agent_stream).await;
    let mut agent_document = first_agent.data["data"].clone();
    assert_eq!(
        (agent_document["name"].as_str(), agent_document["state"].as_str()),
        (Some("Ana Lima"), Some("available"))
    );

    let key = CallKey { connection, call_id: 42 };
    let at = now_micros();
    let observe = |kind| Observation::new(key, Source::Poller, at, kind);
    let appeared = observe(ObservationKind::Appeared { caller: "+4930123".into(), callee: "800".into() });
    let entered = observe(ObservationKind::EnteredQueue { queue_dn: "800".into() });
    s.store.apply_call_observations(s.tenant, key, &[appeared, entered], None, at).await.unwrap();
    let seq = follow(&mut queue_stream, &mut document, first.id, |d| d["callsWaiting"] == 1).await;
    let call = &document["calls"][format!("{connection}:42")];
    assert_eq!((call["caller"].as_str(), call["phase"].as_str()), (Some("+4930123"), Some("waiting")), "{document}");
    assert!(document["oldestWaitingSince"].is_string());

    let ringing = observe(ObservationKind::Ringing { agent_dn: "101".into() });
    s.store.apply_call_observations(s.tenant, key, &[ringing], None, at).await.unwrap();
    let seq = follow(&mut queue_stream, &mut document, seq, |d| d["agents"]["101"]["state"] == "ringing").await;
    follow(&mut agent_stream, &mut agent_document, first_agent.id, |d| d["state"] == "ringing").await;
    let answered = observe(ObservationKind::Answered { agent_dn: "101".into() });
    s.store.apply_call_observations(s.tenant, key, &[answered], None, at).await.unwrap();
    follow(&mut queue_stream, &mut document, seq, |d| d["agentsByState"]["talking"] == 1).await;
    assert_eq!((document["callsInProgress"].as_u64(), document["callsWaiting"].as_u64()), (Some(1), Some(0)));
    assert_eq!(document["calls"][format!("{connection}:42")]["phase"], "talking", "{document}");
    assert_eq!(document["today"]["offered"], 1);

    // Presence: the agent goes on a break after the call (shown after the call's wrap-up).
    s.store.apply_call_observations(s.tenant, key, &[observe(ObservationKind::Ended)], None, at).await.unwrap();
    let paused = PbxAgent {
        dn: "101".into(),
        name: "Ana Lima".into(),
        queue_dns: vec!["800".into()],
        logged_in: true,
        paused: true,
    };
    s.store.sync_pbx_agents(s.tenant, connection, &[paused], now_micros()).await.unwrap();
    let mut overview = s.stream("/api/v1/live/overview", None).await;
    let mut overview_document = next(&mut overview).await.data["data"].clone();
    let queue_key = queue.to_string();
    let ended = |d: &Value| d["totals"]["callsInProgress"] == 0 && d["totals"]["agentsByState"]["wrapUp"] == 1;
    follow(&mut overview, &mut overview_document, 0, ended).await;
    assert_eq!(overview_document["queues"][&queue_key]["today"]["answered"], 1, "{overview_document}");
}

/// A WebSocket to the server with the admin's credential.
async fn socket(
    s: &TestServer,
) -> tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>> {
    let url = format!("{}/api/v1/live/ws", s.base.replace("http://", "ws://"));
    let mut request = url.into_client_request().unwrap();
    let bearer = format!("Bearer {}", s.admin.token.as_deref().unwrap());
    request.headers_mut().insert("authorization", bearer.parse().unwrap());
    tokio_tungstenite::connect_async(request).await.unwrap().0
}

async fn receive(
    ws: &mut tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>,
) -> Value {
    loop {
        match tokio::time::timeout(WAIT, ws.next()).await.expect("a message in time") {
            Some(Ok(Message::Text(text))) => return serde_json::from_str(&text).unwrap(),
            Some(Ok(_)) => continue,
            other => panic!("the socket ended: {other:?}"),
        }
    }
}

async fn the_websocket_subscribes_unsubscribes_and_reports_errors(s: &TestServer) {
    let desk = desk(s).await;
    let channel = format!("queue:{}", desk.queue["id"].as_str().unwrap());
    let mut ws = socket(s).await;
    let send = |v: Value| Message::Text(v.to_string().into());
    ws.send(send(json!({"type": "subscribe", "channel": channel}))).await.unwrap();
    assert_eq!(receive(&mut ws).await, json!({"type": "subscribed", "channel": channel}));
    let snapshot = receive(&mut ws).await;
    assert_eq!((snapshot["type"].as_str(), snapshot["channel"].as_str()), (Some("snapshot"), Some(channel.as_str())));
    let mut document = snapshot["data"].clone();
    add_item(s, &desk, "Ada").await;
    let delta = receive(&mut ws).await;
    assert_eq!(
        (delta["type"].as_str(), delta["seq"].as_u64()),
        (Some("delta"), Some(snapshot["seq"].as_u64().unwrap() + 1))
    );
    lineup_live::patch::apply(&mut document, &delta["patch"]);
    assert_eq!(document["itemsByStatus"]["Waiting"], 1);

    ws.send(send(json!({"type": "ping"}))).await.unwrap();
    assert_eq!(receive(&mut ws).await, json!({"type": "pong"}));
    ws.send(send(json!({"type": "subscribe", "channel": "queue:nope"}))).await.unwrap();
    let error = receive(&mut ws).await;
    assert_eq!((error["type"].as_str(), error["channel"].as_str()), (Some("error"), Some("queue:nope")));
    assert_eq!(error["problem"]["status"], 400);
    let (_, other) = s.other_tenant().await;
    let theirs = other.post("/api/v1/templates", crate::common::desk_template("Theirs")).await.expect(201);
    let theirs = other.post("/api/v1/queues", json!({"name": "Theirs", "templateId": theirs["id"]})).await.expect(201);
    let foreign = format!("queue:{}", theirs["id"].as_str().unwrap());
    ws.send(send(json!({"type": "subscribe", "channel": foreign}))).await.unwrap();
    assert_eq!(receive(&mut ws).await["problem"]["status"], 404);
    ws.send(send(json!({"type": "shout"}))).await.unwrap();
    assert_eq!(receive(&mut ws).await["problem"]["status"], 400);

    ws.send(send(json!({"type": "unsubscribe", "channel": channel}))).await.unwrap();
    assert_eq!(receive(&mut ws).await, json!({"type": "unsubscribed", "channel": channel}));
    add_item(s, &desk, "Bo").await;
    ws.send(send(json!({"type": "ping"}))).await.unwrap();
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert_eq!(receive(&mut ws).await, json!({"type": "pong"}), "no frame of the unsubscribed channel");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_servers_on_one_postgres_database_see_each_others_changes() {
    let writer = crate::common::postgres_server().await;
    // A second API server on the same database: its own hub, fed through LISTEN/NOTIFY. Its
    // outbox poll is slow, so only a notification delivers the change in time.
    let mut config = test_config();
    config.live.poll_every = Duration::from_secs(30);
    let reader = serve(postgres_store().await, config, None).await;
    let desk = desk(&writer).await;
    let key = make_api_key(&reader.store, writer.tenant, Role::Display).await;
    let display = reader.as_token(&key);
    let mut stream = display.stream(&queue_path(&desk), None).await;
    let first = next(&mut stream).await;
    let mut document = first.data["data"].clone();
    let started = std::time::Instant::now();
    add_item(&writer, &desk, "Ada").await;
    follow(&mut stream, &mut document, first.id, |d| d["itemsByStatus"]["Waiting"] == 1).await;
    assert!(started.elapsed() < Duration::from_secs(5), "delivered by notification, not the 30 s poll");
}
