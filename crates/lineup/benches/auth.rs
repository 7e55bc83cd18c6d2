//! Load benchmark of authentication, over real HTTP on loopback, on SQLite and PostgreSQL.
//!
//! Prints the latency (p50, p99, max) of `POST /api/v1/auth/login` (argon2id verification plus a
//! login session row), sequential and with 8 concurrent clients, and the overhead a credential
//! adds to a request: the same cheap authenticated route (`GET /api/v1/tenant`) with an access
//! token and with an API key against the unauthenticated `GET /healthz`, and the store's token
//! lookup on its own.
//!
//! `cargo bench -p lineup --bench auth` (release build). PostgreSQL is used when
//! `LINEUP_BENCH_DATABASE_URL` is set or the local server answers (database `lineup_bench`).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use lineup_domain::{Actor, NewApiKey, NewMember, Role, TenantSpec};
use lineup_security::TokenKind;
use lineup_store::DynStore;
use serde_json::{json, Value};
use uuid::Uuid;

const LOGINS: usize = 200;
const REQUESTS: usize = 2_000;
const PASSWORD: &str = "benchmark password";

#[tokio::main]
async fn main() {
    let dir = std::env::temp_dir().join(format!("lineup-bench-auth-{}", Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    let sqlite = lineup_store_sqlite::SqliteStore::open(&dir.join("bench.db")).await.unwrap();
    run("SQLite", Arc::new(sqlite)).await;
    match postgres().await {
        Ok(store) => run("PostgreSQL", store).await,
        Err(e) => println!("\nPostgreSQL skipped: {e}"),
    }
    let _ = std::fs::remove_dir_all(&dir);
}

async fn postgres() -> Result<DynStore, String> {
    let url = match std::env::var("LINEUP_BENCH_DATABASE_URL") {
        Ok(u) => u,
        Err(_) => {
            let admin = "postgres://postgres@127.0.0.1:5432/postgres";
            let _ = std::process::Command::new("psql").args([admin, "-qc", "CREATE DATABASE lineup_bench"]).output();
            "postgres://postgres@127.0.0.1:5432/lineup_bench".to_string()
        }
    };
    let store = lineup_store_postgres::PostgresStore::connect(&url, 32).await.map_err(|e| e.to_string())?;
    Ok(Arc::new(store))
}

/// Latencies, sorted, with a summary line.
struct Samples(Vec<Duration>);

impl Samples {
    fn new(mut v: Vec<Duration>) -> Samples {
        v.sort();
        Samples(v)
    }
    fn pct(&self, p: f64) -> Duration {
        self.0[((self.0.len() as f64 * p) as usize).min(self.0.len() - 1)]
    }
    fn line(&self) -> String {
        format!(
            "p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms ({} samples)",
            ms(self.pct(0.5)),
            ms(self.pct(0.99)),
            ms(*self.0.last().unwrap()),
            self.0.len()
        )
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

async fn run(backend: &str, store: DynStore) {
    store.migrate().await.unwrap();
    let actor = Actor::system("bench");
    let tenant = Uuid::new_v4();
    let slug = format!("bench-{}", tenant.simple());
    store.create_tenant(&actor, tenant, TenantSpec::new("Bench", &slug, None).unwrap()).await.unwrap();
    let username = format!("bench-{}", &tenant.simple().to_string()[..12]);
    let new = NewMember {
        username: username.clone(),
        email: format!("{username}@bench.test"),
        full_name: "Bench".into(),
        password: PASSWORD.into(),
        role: Role::Agent,
    };
    let spec = new.validate(Uuid::now_v7(), lineup_security::hash_password(PASSWORD)).unwrap();
    store.create_member(&actor, tenant, spec).await.unwrap();
    let key = lineup_security::issue(TokenKind::ApiKey);
    let new_key = NewApiKey { name: "bench".into(), role: Role::Agent, expires_at: None };
    let spec = new_key.validate(Uuid::now_v7(), key.display_prefix.clone(), key.hash.0, lineup_store::now_micros());
    store.create_api_key(&actor, tenant, spec.unwrap()).await.unwrap();

    // Limits off: this measures the work, not the throttle.
    let config = lineup_api::ApiConfig { rate_limits: lineup_api::RateLimits::off(), ..Default::default() };
    let app = lineup_api::router(lineup_api::AppState::with_config(store.clone(), config));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let make = app.into_make_service_with_connect_info::<SocketAddr>();
    tokio::spawn(async move { axum::serve(listener, make).await.unwrap() });
    let http = reqwest::Client::new();
    println!("\n== {backend} ==");

    let login = |http: reqwest::Client, base: String, username: String| async move {
        let body = json!({"username": username, "password": PASSWORD});
        let t = Instant::now();
        let res = http.post(format!("{base}/api/v1/auth/login")).json(&body).send().await.unwrap();
        assert_eq!(res.status(), 200);
        let tokens: Value = res.json().await.unwrap();
        (t.elapsed(), tokens["accessToken"].as_str().unwrap().to_string())
    };
    let mut sequential = Vec::new();
    let mut access = String::new();
    for _ in 0..LOGINS {
        let (d, token) = login(http.clone(), base.clone(), username.clone()).await;
        sequential.push(d);
        access = token;
    }
    println!("login, sequential: {}", Samples::new(sequential).line());
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..8 {
        let (http, base, username) = (http.clone(), base.clone(), username.clone());
        tasks.push(tokio::spawn(async move {
            let mut out = Vec::new();
            for _ in 0..LOGINS / 8 {
                out.push(login(http.clone(), base.clone(), username.clone()).await.0);
            }
            out
        }));
    }
    let mut concurrent = Vec::new();
    for t in tasks {
        concurrent.extend(t.await.unwrap());
    }
    let rate = concurrent.len() as f64 / started.elapsed().as_secs_f64();
    println!("login, 8 concurrent clients: {} — {rate:.0} logins/s", Samples::new(concurrent).line());

    let timed = |path: &'static str, token: Option<String>| {
        let (http, base) = (http.clone(), base.clone());
        async move {
            let mut out = Vec::with_capacity(REQUESTS);
            for _ in 0..REQUESTS {
                let mut req = http.get(format!("{base}{path}"));
                if let Some(t) = &token {
                    req = req.bearer_auth(t);
                }
                let t = Instant::now();
                let res = req.send().await.unwrap();
                assert_eq!(res.status(), 200, "{path}");
                res.bytes().await.unwrap();
                out.push(t.elapsed());
            }
            Samples::new(out)
        }
    };
    let health = timed("/healthz", None).await;
    let with_token = timed("/api/v1/tenant", Some(access.clone())).await;
    let with_key = timed("/api/v1/tenant", Some(key.plain.clone())).await;
    println!("GET /healthz, no credential (baseline): {}", health.line());
    println!("GET /api/v1/tenant, access token: {}", with_token.line());
    println!("GET /api/v1/tenant, API key: {}", with_key.line());

    let (_, hash) = lineup_security::parse(&access).unwrap();
    let mut lookups = Vec::with_capacity(REQUESTS);
    for _ in 0..REQUESTS {
        let t = Instant::now();
        let p = store.resolve_access_token(hash.as_bytes(), lineup_store::now_micros()).await.unwrap();
        lookups.push(t.elapsed());
        assert!(p.is_some());
    }
    println!("store: resolve an access token (the per-request credential cost): {}", Samples::new(lookups).line());
}
