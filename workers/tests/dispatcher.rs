//! The outbox dispatcher against a real HTTP receiver on loopback, on both backends (PostgreSQL
//! in a database of its own, since a dispatcher reads every tenant's outbox and claims every
//! tenant's deliveries).
//!
//! The receiver verifies every signature and header, answers `503` to the first attempts of each
//! event on its flaky endpoint and `500` always on its broken one, and processes each event once
//! by deduplicating on the event id. Events are made by creating and moving items through the
//! store, with the dispatcher stopped and started again half-way.

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use axum::Router;
use chrono::Utc;
use lineup_domain::webhook::{verify, webhook_secret_context, SIGNATURE_TOLERANCE_SECS};
use lineup_domain::{
    Actor, DeliveryState, EventKind, NewItem, StatusChangeRequest, TenantId, Webhook, WebhookDelivery, WebhookSpec,
};
use lineup_security::{SecretBox, SecretKey};
use lineup_store::conformance::{fixture, Fixture};
use lineup_store::{DynStore, EventScope, InboxRetryPolicy, PageRequest, SortKey, SortOrder, Store, StoredEvent};
use lineup_workers::dispatcher::{DispatcherConfig, OutboxDispatcher, NAME, WEBHOOK_CURSOR};
use lineup_workers::Health;
use serde_json::Value;
use tokio::sync::watch;
use uuid::Uuid;

/// Attempts the flaky endpoint refuses (with 503) for each event before it accepts.
const FLAKY_FAILURES: u32 = 2;
/// Attempts before a delivery fails.
const MAX_ATTEMPTS: u32 = 4;

/// What the receiver saw.
#[derive(Default)]
struct Seen {
    /// Every request: endpoint, event id, the status answered.
    raw: Vec<(String, i64, u16)>,
    /// Attempts per endpoint and event id.
    attempts: HashMap<(String, i64), u32>,
    /// Events the flaky endpoint processed, in order, each once (deduplicated by event id).
    processed: Vec<i64>,
    /// The bodies it processed, by event id.
    bodies: HashMap<i64, Value>,
    /// Requests whose signature or headers were wrong, and why.
    bad: Vec<String>,
}

/// A webhook receiver on a loopback port: `/flaky` and `/broken`, each with its own secret.
struct Receiver {
    base: String,
    secrets: HashMap<String, String>,
    seen: Mutex<Seen>,
}

impl Receiver {
    fn seen<T>(&self, f: impl FnOnce(&Seen) -> T) -> T {
        f(&self.seen.lock().unwrap())
    }
}

async fn start_receiver() -> Arc<Receiver> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let secrets = HashMap::from([
        ("flaky".to_string(), format!("flaky-secret-{}", Uuid::new_v4().simple())),
        ("broken".to_string(), format!("broken-secret-{}", Uuid::new_v4().simple())),
    ]);
    let receiver = Arc::new(Receiver {
        base: format!("http://{}", listener.local_addr().unwrap()),
        secrets,
        seen: Mutex::new(Seen::default()),
    });
    let app = Router::new().route("/{endpoint}", post(receive)).with_state(receiver.clone());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    receiver
}

/// Checks the request, then answers as the endpoint does.
async fn receive(
    State(receiver): State<Arc<Receiver>>,
    Path(endpoint): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> StatusCode {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or("").to_string();
    let mut seen = receiver.seen.lock().unwrap();
    let Some(secret) = receiver.secrets.get(&endpoint) else {
        seen.bad.push(format!("a request to unknown endpoint {endpoint}"));
        return StatusCode::NOT_FOUND;
    };
    let signature = header("x-lineup-signature");
    if let Err(e) = verify(secret, &signature, &body, Utc::now().timestamp(), SIGNATURE_TOLERANCE_SECS) {
        seen.bad.push(format!("{endpoint}: {e}: {signature}"));
        return StatusCode::UNAUTHORIZED;
    }
    let json: Value = match serde_json::from_slice(&body) {
        Ok(json) => json,
        Err(e) => {
            seen.bad.push(format!("{endpoint}: the body is not JSON: {e}"));
            return StatusCode::BAD_REQUEST;
        }
    };
    let id = json["id"].as_i64().unwrap_or(-1);
    if header("content-type") != "application/json" {
        seen.bad.push(format!("{endpoint}: content type {}", header("content-type")));
    }
    if header("x-lineup-event-id") != id.to_string() || json["type"] != header("x-lineup-event-type").as_str() {
        seen.bad.push(format!("{endpoint}: headers do not match the body {json}"));
    }
    let attempt = {
        let n = seen.attempts.entry((endpoint.clone(), id)).or_default();
        *n += 1;
        *n
    };
    let status = match endpoint.as_str() {
        "flaky" if attempt <= FLAKY_FAILURES => StatusCode::SERVICE_UNAVAILABLE,
        "flaky" => {
            if !seen.bodies.contains_key(&id) {
                seen.processed.push(id);
                seen.bodies.insert(id, json);
            }
            StatusCode::OK
        }
        _ => StatusCode::INTERNAL_SERVER_ERROR,
    };
    seen.raw.push((endpoint, id, status.as_u16()));
    status
}

fn secret_box() -> Arc<SecretBox> {
    Arc::new(SecretBox::new(SecretKey::parse(&SecretKey::generate("dispatch")).unwrap(), Vec::new()))
}

/// A webhook of `tenant` POSTing to the receiver's `endpoint`, its secret sealed as the API does.
async fn webhook(
    store: &DynStore,
    secrets: &SecretBox,
    receiver: &Receiver,
    tenant: TenantId,
    endpoint: &str,
    event_types: Vec<EventKind>,
) -> Webhook {
    let id = Uuid::now_v7();
    let sealed = secrets.seal(&receiver.secrets[endpoint], &webhook_secret_context(id));
    let spec = WebhookSpec {
        id,
        name: endpoint.into(),
        url: format!("{}/{endpoint}", receiver.base),
        secret: lineup_domain::SealedWebhookSecret { sealed },
        event_types,
        is_enabled: true,
    };
    store.create_webhook(&Actor::system("dispatcher test"), tenant, spec).await.unwrap()
}

/// Fast retries: 50 ms doubling up to 200 ms, four attempts; short leases and polls.
fn config() -> DispatcherConfig {
    DispatcherConfig {
        poll_interval: Duration::from_millis(50),
        lease: Duration::from_secs(2),
        request_timeout: Duration::from_secs(5),
        retry: InboxRetryPolicy {
            max_attempts: MAX_ATTEMPTS,
            base_delay: Duration::from_millis(50),
            max_delay: Duration::from_millis(200),
        },
        ..DispatcherConfig::default()
    }
}

/// A running dispatcher.
struct Running {
    stop: watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
}

impl Running {
    fn start(dispatcher: OutboxDispatcher) -> Running {
        let (stop, stopped) = watch::channel(false);
        Running { stop, task: tokio::spawn(dispatcher.run(stopped)) }
    }

    async fn stop(self) {
        self.stop.send(true).unwrap();
        tokio::time::timeout(Duration::from_secs(15), self.task).await.expect("the dispatcher stops").unwrap();
    }
}

/// Waits (up to 30 s) until `check` holds.
async fn eventually<F, Fut>(what: &str, check: F)
where
    F: Fn() -> Fut,
    Fut: Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while !check().await {
        assert!(tokio::time::Instant::now() < deadline, "timed out waiting until {what}");
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

/// Every event of the fixture's session, oldest first.
async fn events_of(store: &DynStore, f: &Fixture) -> Vec<StoredEvent> {
    store.read_events(f.tenant, EventScope::Session(f.session.id), 0, 1000).await.unwrap()
}

async fn deliveries(store: &DynStore, tenant: TenantId, webhook: Uuid) -> Vec<WebhookDelivery> {
    let page = PageRequest::new(Some(500), SortKey::CreatedAt, SortOrder::Asc, None).unwrap();
    store.list_deliveries(tenant, webhook, &page).await.unwrap().items
}

/// Adds `n` items (and moves the first along), committing `n + 1` events.
async fn make_events(store: &DynStore, f: &Fixture, tag: &str, n: usize) {
    let mut first = None;
    for i in 0..n {
        let new = NewItem { display_name: format!("{tag}-{i}"), metadata: None, status_id: None };
        let it = store.create_item(f.tenant, f.session.id, new).await.unwrap();
        first.get_or_insert(it.id);
    }
    let call = StatusChangeRequest { transition: Some("call".into()), ..Default::default() };
    store.change_item_status(f.tenant, first.unwrap(), call).await.unwrap();
}

async fn every_event_reaches_its_webhooks_once_across_a_restart(store: DynStore) {
    let receiver = start_receiver().await;
    let secrets = secret_box();
    let f = fixture(&store).await;
    let flaky = webhook(&store, &secrets, &receiver, f.tenant, "flaky", Vec::new()).await;
    let broken = webhook(&store, &secrets, &receiver, f.tenant, "broken", vec![EventKind::ItemCreated]).await;
    let health = Health::new();

    // First run: the first events.
    let dispatcher = OutboxDispatcher::new(store.clone(), Some(secrets.clone()), health.clone(), config());
    let running = Running::start(dispatcher);
    eventually("the dispatcher has run a cycle", || {
        let health = health.clone();
        async move { health.snapshot().iter().any(|w| w.name == NAME && w.last_success_at.is_some()) }
    })
    .await;
    make_events(&store, &f, "first", 5).await;
    let first = events_of(&store, &f).await;
    assert_eq!(first.len(), 6);
    let (r, n) = (&receiver, first.len());
    eventually("the flaky endpoint processed the first events", || async move { r.seen(|s| s.processed.len()) == n })
        .await;
    running.stop().await;

    // While it is down, more events; then a new dispatcher resumes from the cursor.
    make_events(&store, &f, "second", 4).await;
    let all = events_of(&store, &f).await;
    assert_eq!(all.len(), 11);
    let cursor = store.get_outbox_cursor(WEBHOOK_CURSOR).await.unwrap().unwrap();
    assert!(cursor < all.last().unwrap().seq, "events were committed while the dispatcher was down");
    let running = Running::start(OutboxDispatcher::new(store.clone(), Some(secrets.clone()), health.clone(), config()));
    let created = all.iter().filter(|e| e.kind == EventKind::ItemCreated).count();
    let (r, st, n, tenant, broken_id) = (&receiver, &store, all.len(), f.tenant, broken.id);
    eventually("every event was processed and every broken delivery failed", || async move {
        let processed = r.seen(|s| s.processed.len()) == n;
        let broken_log = deliveries(st, tenant, broken_id).await;
        processed && broken_log.len() == created && broken_log.iter().all(|d| d.state == DeliveryState::Failed)
    })
    .await;
    running.stop().await;

    // At least once raw, exactly once after deduplication, each body the event as committed.
    let want: Vec<i64> = all.iter().map(|e| e.seq).collect();
    receiver.seen(|s| {
        assert!(s.bad.is_empty(), "every request was signed and labelled right: {:?}", s.bad);
        let mut processed = s.processed.clone();
        processed.sort_unstable();
        assert_eq!(processed, want, "every event was processed exactly once");
        let accepted = s.raw.iter().filter(|(e, _, status)| e == "flaky" && *status == 200).count();
        assert!(accepted >= want.len(), "every event was accepted at least once");
        for event in &all {
            let body = &s.bodies[&event.seq];
            assert_eq!((&body["type"], &body["data"]), (&Value::from(event.kind.as_str()), &event.payload));
            assert_eq!(
                (&body["tenantId"], &body["sessionId"]),
                (&Value::from(f.tenant.to_string()), &Value::from(f.session.id.to_string()))
            );
            assert_eq!(s.attempts[&("flaky".to_string(), event.seq)], FLAKY_FAILURES + 1, "event {}", event.seq);
            let to_broken = s.attempts.get(&("broken".to_string(), event.seq)).copied().unwrap_or(0);
            let expected = if event.kind == EventKind::ItemCreated { MAX_ATTEMPTS } else { 0 };
            assert_eq!(to_broken, expected, "the broken endpoint takes only item_created ({})", event.seq);
        }
    });

    // The delivery log says the same.
    let flaky_log = deliveries(&store, f.tenant, flaky.id).await;
    assert_eq!(flaky_log.len(), all.len());
    for d in &flaky_log {
        assert_eq!(
            (d.state, d.attempts, d.last_status_code),
            (DeliveryState::Delivered, FLAKY_FAILURES + 1, Some(200))
        );
        assert!(d.delivered_at.is_some() && d.last_error.is_none() && d.next_attempt_at.is_none());
    }
    for d in deliveries(&store, f.tenant, broken.id).await {
        assert_eq!((d.event_type, d.state, d.attempts), (EventKind::ItemCreated, DeliveryState::Failed, MAX_ATTEMPTS));
        assert_eq!(d.last_status_code, Some(500));
        assert!(d.last_error.as_deref().unwrap().contains("500"), "{:?}", d.last_error);
    }
    assert_eq!(store.get_outbox_cursor(WEBHOOK_CURSOR).await.unwrap(), Some(store.last_event_seq().await.unwrap()));
    let status = health.snapshot().into_iter().find(|w| w.name == NAME).unwrap();
    assert!(status.last_success_at.is_some() && status.consecutive_failures == 0, "{status:?}");
    assert_eq!(status.lag_ms, Some(0), "caught up");

    // Dispatching the same events again (a crash before the cursor moved) delivers nothing twice.
    for event in &all {
        assert_eq!(store.enqueue_deliveries(f.tenant, event).await.unwrap(), 0);
    }
    let requests = receiver.seen(|s| s.raw.len());
    let running = Running::start(OutboxDispatcher::new(store.clone(), Some(secrets.clone()), health.clone(), config()));
    tokio::time::sleep(Duration::from_millis(400)).await;
    running.stop().await;
    assert_eq!(receiver.seen(|s| s.raw.len()), requests, "nothing is sent again");
}

/// Without a secret key the dispatcher cannot sign: every attempt fails, saying why, and nothing
/// is sent.
async fn without_a_secret_key_nothing_is_sent_and_the_log_says_why(store: DynStore) {
    let receiver = start_receiver().await;
    let f = fixture(&store).await;
    let hook = webhook(&store, &secret_box(), &receiver, f.tenant, "flaky", Vec::new()).await;
    let running = Running::start(OutboxDispatcher::new(store.clone(), None, Health::new(), config()));
    make_events(&store, &f, "unsigned", 1).await;
    let (st, tenant, hook_id) = (&store, f.tenant, hook.id);
    eventually("both deliveries failed", || async move {
        let log = deliveries(st, tenant, hook_id).await;
        log.len() == 2 && log.iter().all(|d| d.state == DeliveryState::Failed)
    })
    .await;
    running.stop().await;
    for d in deliveries(&store, f.tenant, hook.id).await {
        assert_eq!((d.attempts, d.last_status_code), (MAX_ATTEMPTS, None));
        assert!(d.last_error.as_deref().unwrap().contains("no secret key"), "{:?}", d.last_error);
    }
    assert_eq!(receiver.seen(|s| s.raw.len()), 0);
}

async fn sqlite_store() -> DynStore {
    let dir = std::env::temp_dir().join(format!("lineup-dispatch-{}", Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    let store = lineup_store_sqlite::SqliteStore::open(&dir.join("lineup.db")).await.unwrap();
    store.migrate().await.unwrap();
    Arc::new(store)
}

/// A database of its own on the test server, dropped by [`OwnDatabase::drop_database`].
struct OwnDatabase {
    admin: lineup_store_postgres::PostgresStore,
    name: String,
    store: lineup_store_postgres::PostgresStore,
}

impl OwnDatabase {
    async fn create() -> OwnDatabase {
        let url = std::env::var("LINEUP_TEST_DATABASE_URL")
            .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/lineup_test".to_string());
        let admin = lineup_store_postgres::PostgresStore::connect(&url, 2).await.unwrap();
        let name = format!("lineup_dispatch_{}", Uuid::new_v4().simple());
        sqlx::query(&format!("CREATE DATABASE {name}")).execute(admin.pool()).await.unwrap();
        let store = lineup_store_postgres::PostgresStore::connect(&with_database(&url, &name), 8).await.unwrap();
        store.migrate().await.unwrap();
        OwnDatabase { admin, name, store }
    }

    fn store(&self) -> DynStore {
        Arc::new(self.store.clone())
    }

    async fn drop_database(self) {
        self.store.pool().close().await;
        sqlx::query(&format!("DROP DATABASE {} WITH (FORCE)", self.name)).execute(self.admin.pool()).await.unwrap();
    }
}

/// `url` naming database `name` instead.
fn with_database(url: &str, name: &str) -> String {
    let (base, query) = url.split_once('?').map_or((url, None), |(b, q)| (b, Some(q)));
    let (server, _) = base.rsplit_once('/').expect("the URL names a database");
    match query {
        Some(q) => format!("{server}/{name}?{q}"),
        None => format!("{server}/{name}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_event_reaches_its_webhooks_once_across_a_restart_on_sqlite() {
    every_event_reaches_its_webhooks_once_across_a_restart(sqlite_store().await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_event_reaches_its_webhooks_once_across_a_restart_on_postgres() {
    let db = OwnDatabase::create().await;
    every_event_reaches_its_webhooks_once_across_a_restart(db.store()).await;
    db.drop_database().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_secret_key_nothing_is_sent_on_sqlite() {
    without_a_secret_key_nothing_is_sent_and_the_log_says_why(sqlite_store().await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_secret_key_nothing_is_sent_on_postgres() {
    let db = OwnDatabase::create().await;
    without_a_secret_key_nothing_is_sent_and_the_log_says_why(db.store()).await;
    db.drop_database().await;
}
