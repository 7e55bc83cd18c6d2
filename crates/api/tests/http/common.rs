//! The harness: the real router on a loopback port over a real store, a tenant with an admin API
//! key, a small HTTP client with JSON helpers that sends a credential, and an SSE reader.

use std::net::SocketAddr;
use std::ops::Deref;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use lineup_api::{router, ApiConfig, AppState, RateLimits};
use lineup_domain::{Actor, NewApiKey, NewMember, Role, TenantSpec};
use lineup_security::{SecretBox, SecretKey, TokenKind};
use lineup_store::{
    ClaimScope, DynStore, Enqueued, InboxMessage, InboxRetryPolicy, InboxSource, NewInboxMessage, Settlement, Store,
};
use lineup_store_sqlite::SqliteStore;
use reqwest::header::{HeaderMap, AUTHORIZATION, CONTENT_TYPE};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use tokio::task::JoinHandle;
use uuid::Uuid;

/// Stream settings short enough for tests to see keep-alives and polls; no rate limits (the
/// tests of limits set their own).
pub fn test_config() -> ApiConfig {
    ApiConfig {
        sse_keepalive: Duration::from_millis(300),
        sse_poll_interval: Duration::from_millis(200),
        rate_limits: RateLimits::off(),
        live: lineup_api::live::LiveSettings {
            poll_every: Duration::from_millis(200),
            directory_every: Duration::from_millis(200),
            ..lineup_api::live::LiveSettings::default()
        },
        ..ApiConfig::default()
    }
}

/// A running server, the tenant the tests act in, and an admin of it to talk as (`Deref`).
pub struct TestServer {
    pub base: String,
    pub store: DynStore,
    /// The box the server seals PBX credentials with (`None`: no secret key configured).
    pub secrets: Option<Arc<SecretBox>>,
    pub tenant: Uuid,
    pub slug: String,
    /// Requests as the tenant's admin API key.
    pub admin: Caller,
    server: JoinHandle<()>,
    _dir: Option<TempDir>,
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.server.abort();
    }
}

impl Deref for TestServer {
    type Target = Caller;
    fn deref(&self) -> &Caller {
        &self.admin
    }
}

/// A directory removed when dropped.
pub struct TempDir(PathBuf);

impl TempDir {
    fn new() -> Self {
        let path = std::env::temp_dir().join(format!("lineup-api-test-{}", Uuid::new_v4()));
        std::fs::create_dir_all(&path).unwrap();
        TempDir(path)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A migrated store over a fresh SQLite file (kept until the returned directory is dropped).
pub async fn sqlite_store() -> (DynStore, TempDir) {
    let dir = TempDir::new();
    let store = SqliteStore::open(&dir.0.join("lineup.db")).await.expect("open SQLite");
    store.migrate().await.expect("migrate SQLite");
    (Arc::new(store), dir)
}

/// A migrated store over the PostgreSQL test database (`LINEUP_TEST_DATABASE_URL`).
pub async fn postgres_store() -> DynStore {
    const DEFAULT_URL: &str = "postgres://postgres@127.0.0.1:5432/lineup_test";
    let url = std::env::var("LINEUP_TEST_DATABASE_URL").unwrap_or_else(|_| DEFAULT_URL.to_string());
    let store = lineup_store_postgres::PostgresStore::connect(&url, 10).await.expect("connect to the test database");
    store.migrate().await.expect("migrate the test database");
    Arc::new(store)
}

/// A server over a fresh SQLite file with one tenant.
pub async fn sqlite_server() -> TestServer {
    sqlite_server_with(test_config()).await
}

/// A server over a fresh SQLite file with one tenant and `config`.
pub async fn sqlite_server_with(config: ApiConfig) -> TestServer {
    let (store, dir) = sqlite_store().await;
    serve(store, config, Some(dir)).await
}

/// A server over the PostgreSQL test database with a fresh tenant.
pub async fn postgres_server() -> TestServer {
    serve(postgres_store().await, test_config(), None).await
}

/// A server over a fresh SQLite file with one tenant and no secret key configured.
pub async fn sqlite_server_without_secrets() -> TestServer {
    let (store, dir) = sqlite_store().await;
    serve_with_secrets(store, test_config(), Some(dir), None).await
}

/// A server over the PostgreSQL test database with a fresh tenant and no secret key configured.
pub async fn postgres_server_without_secrets() -> TestServer {
    serve_with_secrets(postgres_store().await, test_config(), None, None).await
}

/// A secret box with a fresh random key, as a server configured with one `secret_keys` entry has.
pub fn test_secret_box() -> SecretBox {
    SecretBox::new(SecretKey::parse(&SecretKey::generate("test")).unwrap(), Vec::new())
}

/// Creates a tenant with a unique slug; returns its id and slug.
pub async fn make_tenant(store: &DynStore, name: &str) -> (Uuid, String) {
    let id = Uuid::new_v4();
    let slug = format!("t-{}", id.simple());
    let spec = TenantSpec::new(name, &slug, None).unwrap();
    store.create_tenant(&Actor::system("test"), id, spec).await.unwrap();
    (id, slug)
}

/// Creates an API key of `tenant` with `role`; returns its secret.
pub async fn make_api_key(store: &DynStore, tenant: Uuid, role: Role) -> String {
    let issued = lineup_security::issue(TokenKind::ApiKey);
    let new = NewApiKey { name: format!("{role} key"), role, expires_at: None };
    let spec = new.validate(Uuid::now_v7(), issued.display_prefix.clone(), issued.hash.0, lineup_store::now_micros());
    store.create_api_key(&Actor::system("test"), tenant, spec.unwrap()).await.unwrap();
    issued.plain
}

/// Creates a user account homed in `tenant` with `role` and `password`; returns its id.
pub async fn make_user(store: &DynStore, tenant: Uuid, username: &str, role: Role, password: &str) -> Uuid {
    let new = NewMember {
        username: username.into(),
        email: format!("{username}@example.test"),
        full_name: format!("User {username}"),
        password: password.into(),
        role,
    };
    let spec = new.validate(Uuid::now_v7(), lineup_security::hash_password(password)).unwrap();
    store.create_member(&Actor::system("test"), tenant, spec).await.unwrap().id
}

/// A server over `store` sealing PBX credentials with a fresh key, acting in a fresh tenant as
/// its admin API key.
pub async fn serve(store: DynStore, config: ApiConfig, dir: Option<TempDir>) -> TestServer {
    serve_with_secrets(store, config, dir, Some(Arc::new(test_secret_box()))).await
}

/// A server over `store` sealing PBX credentials with `secrets` (`None`: refusing them).
pub async fn serve_with_secrets(
    store: DynStore,
    config: ApiConfig,
    dir: Option<TempDir>,
    secrets: Option<Arc<SecretBox>>,
) -> TestServer {
    let (tenant, slug) = make_tenant(&store, "Test tenant").await;
    let key = make_api_key(&store, tenant, Role::Admin).await;
    let state = AppState { secrets: secrets.clone(), ..AppState::with_config(store.clone(), config) };
    lineup_api::live::spawn_announcer(store.clone(), state.events.subscribe());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = tokio::spawn(async move {
        let app = router(state).into_make_service_with_connect_info::<SocketAddr>();
        axum::serve(listener, app).await.unwrap();
    });
    let base = format!("http://{addr}");
    let admin = Caller::new(&base).with_token(&key);
    TestServer { base, store, secrets, tenant, slug, admin, server, _dir: dir }
}

impl TestServer {
    /// A caller without credentials.
    pub fn anonymous(&self) -> Caller {
        Caller::new(&self.base)
    }

    /// A caller sending `token` as its bearer credential.
    pub fn as_token(&self, token: &str) -> Caller {
        Caller::new(&self.base).with_token(token)
    }

    /// A fresh API key of this server's tenant with `role`, as a caller.
    pub async fn as_role(&self, role: Role) -> Caller {
        let key = make_api_key(&self.store, self.tenant, role).await;
        self.as_token(&key)
    }

    /// A second tenant on the same server, with its admin as a caller.
    pub async fn other_tenant(&self) -> (Uuid, Caller) {
        let (tenant, _) = make_tenant(&self.store, "Other tenant").await;
        let key = make_api_key(&self.store, tenant, Role::Admin).await;
        (tenant, self.as_token(&key))
    }

    /// Signs in through the API; returns the token response.
    pub async fn login(&self, username: &str, password: &str) -> Value {
        let body = json!({"username": username, "password": password});
        self.anonymous().post("/api/v1/auth/login", body).await.expect(200)
    }
}

/// An answer: status, headers and the body parsed as JSON (`Null` when empty or not JSON).
#[derive(Debug)]
pub struct Answer {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Value,
}

impl Answer {
    pub fn header(&self, name: &str) -> &str {
        self.headers.get(name).map(|v| v.to_str().unwrap()).unwrap_or("")
    }

    /// Asserts the status and returns the body.
    #[track_caller]
    pub fn expect(self, status: u16) -> Value {
        assert_eq!(self.status.as_u16(), status, "unexpected answer: {}", self.body);
        self.body
    }

    /// Asserts a problem+json answer with `status` and problem `kind`; returns the body.
    #[track_caller]
    pub fn problem(self, status: u16, kind: &str) -> Value {
        assert_eq!(self.header("content-type"), "application/problem+json", "{}", self.body);
        let body = self.expect(status);
        assert_eq!(body["type"], format!("https://lineup.dev/problems/{kind}"), "{body}");
        body
    }
}

/// Talks to the server, sending a bearer credential when it has one.
#[derive(Clone)]
pub struct Caller {
    pub base: String,
    pub client: reqwest::Client,
    pub token: Option<String>,
}

impl Caller {
    pub fn new(base: &str) -> Caller {
        let client = reqwest::Client::builder().no_proxy().build().unwrap();
        Caller { base: base.to_string(), client, token: None }
    }

    pub fn with_token(mut self, token: &str) -> Caller {
        self.token = Some(token.to_string());
        self
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// A request builder carrying the credential.
    pub fn request(&self, method: Method, path: &str) -> reqwest::RequestBuilder {
        let req = self.client.request(method, self.url(path));
        match &self.token {
            Some(t) => req.header(AUTHORIZATION, format!("Bearer {t}")),
            None => req,
        }
    }

    /// Sends a request with an optional JSON body.
    pub async fn call(&self, method: Method, path: &str, body: Option<Value>) -> Answer {
        let mut req = self.request(method, path);
        if let Some(b) = body {
            req = req.json(&b);
        }
        answer(req.send().await.unwrap()).await
    }

    /// Sends a raw body with an optional content type.
    pub async fn call_raw(&self, method: Method, path: &str, body: Vec<u8>, content_type: Option<&str>) -> Answer {
        let mut req = self.request(method, path).body(body);
        if let Some(ct) = content_type {
            req = req.header(CONTENT_TYPE, ct);
        }
        answer(req.send().await.unwrap()).await
    }

    pub async fn get(&self, path: &str) -> Answer {
        self.call(Method::GET, path, None).await
    }

    pub async fn post(&self, path: &str, body: Value) -> Answer {
        self.call(Method::POST, path, Some(body)).await
    }

    pub async fn patch(&self, path: &str, body: Value) -> Answer {
        self.call(Method::PATCH, path, Some(body)).await
    }

    pub async fn delete(&self, path: &str) -> Answer {
        self.call(Method::DELETE, path, None).await
    }

    /// Opens an SSE stream; `last_event_id` is sent as the `Last-Event-ID` header.
    pub async fn stream(&self, path: &str, last_event_id: Option<i64>) -> SseStream {
        let mut req = self.request(Method::GET, path);
        if let Some(id) = last_event_id {
            req = req.header("Last-Event-ID", id.to_string());
        }
        let resp = req.send().await.unwrap();
        assert_eq!(resp.status(), StatusCode::OK, "stream {path} did not open");
        assert!(resp.headers()[CONTENT_TYPE].to_str().unwrap().starts_with("text/event-stream"));
        SseStream { resp, buf: Vec::new(), comments: 0 }
    }

    /// Items, queues… of a list, all pages, with `query` (without `limit`/`cursor`) and `limit`.
    pub async fn all_pages(&self, path: &str, query: &str, limit: u32) -> (Vec<Value>, usize) {
        let (mut rows, mut pages, mut cursor) = (Vec::new(), 0, None::<String>);
        loop {
            let mut url = format!("{path}?limit={limit}{}{query}", if query.is_empty() { "" } else { "&" });
            if let Some(c) = &cursor {
                url.push_str(&format!("&cursor={c}"));
            }
            let page = self.get(&url).await.expect(200);
            pages += 1;
            let items = page["items"].as_array().unwrap();
            assert!(items.len() <= limit as usize);
            rows.extend(items.iter().cloned());
            match page["nextCursor"].as_str() {
                Some(c) => cursor = Some(c.to_string()),
                None => break,
            }
            assert!(pages < 100, "pagination does not end");
        }
        (rows, pages)
    }
}

async fn answer(resp: reqwest::Response) -> Answer {
    let status = resp.status();
    let headers = resp.headers().clone();
    // An endless stream (a live channel) answers its status and headers only.
    let streaming = headers.get(CONTENT_TYPE).is_some_and(|t| t.as_bytes().starts_with(b"text/event-stream"));
    if streaming {
        return Answer { status, headers, body: Value::Null };
    }
    let bytes = resp.bytes().await.unwrap();
    let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    Answer { status, headers, body }
}

/// One SSE event as received.
#[derive(Debug, Clone, PartialEq)]
pub struct SseEvent {
    pub event: String,
    pub id: i64,
    pub data: Value,
}

/// Reads frames off an open `text/event-stream` response.
pub struct SseStream {
    resp: reqwest::Response,
    buf: Vec<u8>,
    /// Comment-only frames (keep-alives) seen so far.
    pub comments: usize,
}

impl SseStream {
    /// The next event within `wait`, or `None` (time out or end of stream).
    pub async fn next_event(&mut self, wait: Duration) -> Option<SseEvent> {
        tokio::time::timeout(wait, self.read_event()).await.ok().flatten()
    }

    /// Exactly `n` events, each within a few seconds.
    pub async fn take(&mut self, n: usize) -> Vec<SseEvent> {
        let mut out = Vec::with_capacity(n);
        for i in 0..n {
            match self.next_event(Duration::from_secs(10)).await {
                Some(e) => out.push(e),
                None => panic!("expected {n} events, got {i}: {out:?}"),
            }
        }
        out
    }

    /// Asserts nothing arrives within `wait`.
    pub async fn assert_quiet(&mut self, wait: Duration) {
        if let Some(e) = self.next_event(wait).await {
            panic!("expected no more events, got {e:?}");
        }
    }

    /// Reads until the stream ends; true if it ended within `wait`.
    pub async fn ends_within(&mut self, wait: Duration) -> bool {
        tokio::time::timeout(wait, async { while self.read_event().await.is_some() {} }).await.is_ok()
    }

    async fn read_event(&mut self) -> Option<SseEvent> {
        loop {
            if let Some(pos) = self.buf.windows(2).position(|w| w == b"\n\n") {
                let frame = String::from_utf8(self.buf.drain(..pos + 2).collect()).unwrap();
                match parse_frame(&frame) {
                    Some(e) => return Some(e),
                    None => {
                        self.comments += 1;
                        continue;
                    }
                }
            }
            match self.resp.chunk().await {
                Ok(Some(chunk)) => self.buf.extend_from_slice(&chunk),
                _ => return None,
            }
        }
    }
}

fn parse_frame(frame: &str) -> Option<SseEvent> {
    let (mut event, mut id, mut data) = (None, None, String::new());
    for line in frame.lines() {
        let (field, value) = line.split_once(':').unwrap_or((line, ""));
        let value = value.strip_prefix(' ').unwrap_or(value);
        match field {
            "event" => event = Some(value.to_string()),
            "id" => id = Some(value.parse().expect("numeric event id")),
            "data" => data.push_str(value),
            _ => {}
        }
    }
    Some(SseEvent { event: event?, id: id?, data: serde_json::from_str(&data).expect("JSON data") })
}

/// The call-desk template every scenario uses: four statuses, three named transitions and a
/// metadata schema (`phone` must be a string).
pub fn desk_template(name: &str) -> Value {
    json!({
        "name": name,
        "statuses": [
            {"label": "Waiting", "color": "#2196f3"},
            {"label": "Serving", "color": "#ff9800"},
            {"label": "Done", "color": "#4caf50"},
            {"label": "Cancelled"}
        ],
        "init": "Waiting",
        "transitions": [
            {"name": "call", "from": "Waiting", "to": "Serving"},
            {"name": "finish", "from": "Serving", "to": "Done"},
            {"name": "cancel", "from": ["Waiting", "Serving"], "to": "Cancelled"}
        ],
        "metadataSchema": {"type": "object", "properties": {"phone": {"type": "string"}}}
    })
}

/// Ids of a ready scenario: template, queue, an active session and its statuses by label.
pub struct Desk {
    pub template: Value,
    pub queue: Value,
    pub session: Value,
    pub statuses: Vec<Value>,
}

impl Desk {
    pub fn session_id(&self) -> &str {
        self.session["id"].as_str().unwrap()
    }

    pub fn status(&self, label: &str) -> &str {
        self.statuses.iter().find(|s| s["label"] == label).unwrap()["id"].as_str().unwrap()
    }
}

/// Creates the desk template, a queue over it and its first session.
pub async fn desk(s: &TestServer) -> Desk {
    let template = s.post("/api/v1/templates", desk_template("Desk")).await.expect(201);
    let queue = s.post("/api/v1/queues", json!({"name": "Front desk", "templateId": template["id"]})).await.expect(201);
    let session = s.post(&format!("/api/v1/queues/{}/sessions", queue["id"].as_str().unwrap()), json!({})).await;
    let session = session.expect(201);
    let statuses = s.get(&format!("/api/v1/sessions/{}/statuses", session["id"].as_str().unwrap())).await.expect(200);
    Desk { template, queue, session, statuses: statuses.as_array().unwrap().clone() }
}

/// An inbox record of `call` on `connection`, keyed `key`, whose payload names both.
pub fn inbox_record(connection: Uuid, call: &str, key: &str) -> NewInboxMessage {
    NewInboxMessage {
        connection_id: connection,
        source: InboxSource::Poller,
        call_key: call.into(),
        dedup_key: key.into(),
        payload: json!({"call": call, "record": key}),
        observed_at: lineup_store::now_micros(),
    }
}

/// Enqueues a record on `connection` of `tenant`; returns the new message's id.
pub async fn enqueue(store: &DynStore, tenant: Uuid, connection: Uuid, call: &str, key: &str) -> Uuid {
    match store.enqueue(tenant, inbox_record(connection, call, key)).await.unwrap() {
        Enqueued::New(id) => id,
        Enqueued::Duplicate => panic!("{key} is already in the inbox"),
    }
}

/// Takes message `id`, the next due one of its connection, as a worker would.
async fn claim_next(store: &DynStore, connection: Uuid, id: Uuid) -> InboxMessage {
    let now = lineup_store::now_micros();
    let mut claimed = store.claim(ClaimScope::Connection(connection), now, 1, Duration::from_secs(30)).await.unwrap();
    assert_eq!(claimed.iter().map(|m| m.id).collect::<Vec<_>>(), [id], "the message is its connection's next");
    claimed.remove(0)
}

/// Enqueues a record and fails its one and only attempt with `error`: a dead letter. The
/// connection must have no earlier message still due.
pub async fn make_dead_letter(store: &DynStore, tenant: Uuid, connection: Uuid, key: &str, error: &str) -> Uuid {
    let id = enqueue(store, tenant, connection, &format!("call-{key}"), key).await;
    let message = claim_next(store, connection, id).await;
    let once = InboxRetryPolicy { max_attempts: 1, ..InboxRetryPolicy::default() };
    let settled = store.fail(&message.lease(), error, lineup_store::now_micros(), &once).await.unwrap();
    assert_eq!(settled, Settlement::DeadLettered { attempts: 1 });
    id
}

/// Enqueues a record and processes it: a done message. The connection must have no earlier
/// message still due.
pub async fn make_done_message(store: &DynStore, tenant: Uuid, connection: Uuid, key: &str) -> Uuid {
    let id = enqueue(store, tenant, connection, &format!("call-{key}"), key).await;
    let message = claim_next(store, connection, id).await;
    assert_eq!(store.complete(&message.lease(), lineup_store::now_micros()).await.unwrap(), Settlement::Completed);
    id
}

/// Runs each named scenario `async fn(&TestServer)` as two tests, `<scenario>::on_sqlite` and
/// `<scenario>::on_postgres`, each over a fresh server of its backend.
macro_rules! on_both_backends {
    ($($scenario:ident),* $(,)?) => {
        $(
            mod $scenario {
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn on_sqlite() {
                    super::$scenario(&crate::common::sqlite_server().await).await;
                }

                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn on_postgres() {
                    super::$scenario(&crate::common::postgres_server().await).await;
                }
            }
        )*
    };
}
pub(crate) use on_both_backends;
