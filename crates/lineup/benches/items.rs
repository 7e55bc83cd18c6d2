//! Load benchmark of the item routes, over real HTTP on loopback, on SQLite and PostgreSQL.
//!
//! Prints item-create throughput (concurrent POSTs through the API) and the latency (p50, p99,
//! max) of `GET /sessions/{id}/items` for sessions of 1,000 and 100,000 items: the first page at
//! the default and the largest page size, a page filtered by status, and a page deep in the list.
//!
//! `cargo bench -p lineup --bench items` (release build). PostgreSQL is used when
//! `LINEUP_BENCH_DATABASE_URL` is set or the local server answers (database `lineup_bench`,
//! created when missing). `LINEUP_BENCH_LARGE` overrides the large session size.

use std::sync::Arc;
use std::time::{Duration, Instant};

use lineup_domain::{Actor, NewApiKey, Role, TenantSpec};
use lineup_security::TokenKind;
use lineup_store::DynStore;
use serde_json::{json, Value};
use uuid::Uuid;

const CREATORS: usize = 16;
const SAMPLES: usize = 400;

#[tokio::main]
async fn main() {
    let large: usize = std::env::var("LINEUP_BENCH_LARGE").ok().and_then(|v| v.parse().ok()).unwrap_or(100_000);
    let dir = std::env::temp_dir().join(format!("lineup-bench-{}", Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    let sqlite = lineup_store_sqlite::SqliteStore::open(&dir.join("bench.db")).await.unwrap();
    run("SQLite", Arc::new(sqlite), large).await;
    match postgres().await {
        Ok(store) => run("PostgreSQL", store, large).await,
        Err(e) => println!("\nPostgreSQL skipped: {e}"),
    }
    let _ = std::fs::remove_dir_all(&dir);
}

async fn postgres() -> Result<DynStore, String> {
    let url = match std::env::var("LINEUP_BENCH_DATABASE_URL") {
        Ok(u) => u,
        Err(_) => {
            let admin = "postgres://postgres@127.0.0.1:5432/postgres";
            // Ignore "already exists"; a missing server shows up on connect below.
            let _ = std::process::Command::new("psql").args([admin, "-qc", "CREATE DATABASE lineup_bench"]).output();
            "postgres://postgres@127.0.0.1:5432/lineup_bench".to_string()
        }
    };
    let store = lineup_store_postgres::PostgresStore::connect(&url, 32).await.map_err(|e| e.to_string())?;
    Ok(Arc::new(store))
}

struct Server {
    base: String,
    http: reqwest::Client,
    /// `Bearer <admin API key>`.
    auth: String,
}

impl Server {
    async fn post(&self, path: &str, body: Value) -> Value {
        let res = self
            .http
            .post(format!("{}{path}", self.base))
            .header("authorization", &self.auth)
            .json(&body)
            .send()
            .await
            .unwrap();
        assert!(res.status().is_success(), "POST {path}: {}", res.status());
        res.json().await.unwrap()
    }

    async fn get(&self, path: &str) -> Value {
        let res =
            self.http.get(format!("{}{path}", self.base)).header("authorization", &self.auth).send().await.unwrap();
        assert!(res.status().is_success(), "GET {path}: {}", res.status());
        res.json().await.unwrap()
    }
}

async fn run(backend: &str, store: DynStore, large: usize) {
    store.migrate().await.unwrap();
    let tenant = Uuid::new_v4();
    let actor = Actor::system("bench");
    let spec = TenantSpec::new("Bench", &format!("bench-{}", tenant.simple()), None).unwrap();
    store.create_tenant(&actor, tenant, spec).await.unwrap();
    let key = lineup_security::issue(TokenKind::ApiKey);
    let new_key = NewApiKey { name: "bench".into(), role: Role::Admin, expires_at: None };
    let spec = new_key.validate(Uuid::now_v7(), key.display_prefix.clone(), key.hash.0, lineup_store::now_micros());
    store.create_api_key(&actor, tenant, spec.unwrap()).await.unwrap();
    // Measures the API, not the limiter: a load test is one client sending as fast as it can.
    let config = lineup_api::ApiConfig { rate_limits: lineup_api::RateLimits::off(), ..Default::default() };
    let app = lineup_api::router(lineup_api::AppState::with_config(store.clone(), config));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}/api/v1", listener.local_addr().unwrap());
    let make = app.into_make_service_with_connect_info::<std::net::SocketAddr>();
    tokio::spawn(async move { axum::serve(listener, make).await.unwrap() });
    let server = Arc::new(Server { base, http: reqwest::Client::new(), auth: format!("Bearer {}", key.plain) });

    println!("\n== {backend} ==");
    let template = server
        .post(
            "/templates",
            json!({"name": "Bench", "statuses": [{"label": "Waiting"}, {"label": "Serving"}, {"label": "Done"}]}),
        )
        .await;
    let queue = server.post("/queues", json!({"name": "Bench", "templateId": template["id"], "prefix": "B"})).await;
    let session = server.post(&format!("/queues/{}/sessions", queue["id"].as_str().unwrap()), json!({})).await;
    let session_id = session["id"].as_str().unwrap().to_string();
    let statuses = server.get(&format!("/sessions/{session_id}/statuses")).await;
    let serving = statuses[1]["id"].as_str().unwrap().to_string();

    let started = Instant::now();
    create_items(&server, &session_id, &serving, 1_000).await;
    let secs = started.elapsed().as_secs_f64();
    println!("item create via API: 1000 items, {CREATORS} concurrent clients: {:.0} items/s", 1_000.0 / secs);
    measure_lists(&server, &session_id, &serving, 1_000).await;

    let remaining = large.saturating_sub(1_000);
    let started = Instant::now();
    create_items(&server, &session_id, &serving, remaining).await;
    let secs = started.elapsed().as_secs_f64();
    println!("item create via API: {remaining} more items: {:.0} items/s", remaining as f64 / secs);
    measure_lists(&server, &session_id, &serving, large).await;
}

async fn create_items(server: &Arc<Server>, session_id: &str, serving: &str, count: usize) {
    let mut tasks = Vec::new();
    for c in 0..CREATORS {
        let server = server.clone();
        let path = format!("/sessions/{session_id}/items");
        let serving = serving.to_string();
        let share = count / CREATORS + usize::from(c < count % CREATORS);
        tasks.push(tokio::spawn(async move {
            for i in 0..share {
                let body = json!({"displayName": format!("Visitor {c}-{i}"), "metadata": {"creator": c, "i": i}});
                let item = server.post(&path, body).await;
                // Every tenth item moves on, so the status filter has something to find.
                if i % 10 == 0 {
                    let id = item["id"].as_str().unwrap();
                    let res = server
                        .http
                        .patch(format!("{}/items/{id}/status", server.base))
                        .json(&json!({"statusId": serving}))
                        .send()
                        .await
                        .unwrap();
                    assert!(res.status().is_success(), "status move: {}", res.status());
                }
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
}

async fn measure_lists(server: &Server, session_id: &str, serving: &str, size: usize) {
    let base = format!("/sessions/{session_id}/items");
    // A cursor deep in the list: walk with the largest pages.
    let mut cursor = None;
    let mut walked = 0;
    let walk_start = Instant::now();
    while walked + 1_000 < size {
        let path = match &cursor {
            Some(c) => format!("{base}?limit=500&cursor={c}"),
            None => format!("{base}?limit=500"),
        };
        let page = server.get(&path).await;
        walked += page["items"].as_array().unwrap().len();
        cursor = page["nextCursor"].as_str().map(str::to_string);
    }
    if walked > 0 {
        println!("  walked {walked} items in pages of 500 in {:.0} ms", walk_start.elapsed().as_secs_f64() * 1e3);
    }
    let mut cases = vec![
        ("first page, limit 50", base.clone()),
        ("first page, limit 500", format!("{base}?limit=500")),
        ("status filter, limit 50", format!("{base}?status={serving}")),
        ("newest first, limit 50", format!("{base}?order=desc")),
    ];
    if let Some(c) = cursor {
        cases.push(("deep page (cursor), limit 50", format!("{base}?cursor={c}&limit=50")));
    }
    for (name, path) in cases {
        let mut samples = Vec::with_capacity(SAMPLES);
        for _ in 0..SAMPLES {
            let t = Instant::now();
            server.get(&path).await;
            samples.push(t.elapsed());
        }
        samples.sort();
        let pct = |p: f64| samples[((samples.len() as f64 * p) as usize).min(samples.len() - 1)];
        println!(
            "GET items, {size} items, {name}: p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms ({SAMPLES} requests)",
            ms(pct(0.50)),
            ms(pct(0.99)),
            ms(*samples.last().unwrap())
        );
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}
