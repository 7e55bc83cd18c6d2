//! End to end: the `lineup` binary (`lineup serve`: API and workers) against the 3CX simulator,
//! on SQLite and on PostgreSQL. A simulated hour of traffic runs with every simulator fault
//! armed along the way; half-way the platform is killed with SIGKILL and started again. Then
//! every call of the simulator's ground truth is stored exactly once with the right outcome and
//! times, as one queue item in its final status, and nothing is dead-lettered.

#[path = "../support/mod.rs"]
mod support;

use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use chrono::TimeDelta;
use lineup_security::{SecretBox, SecretKey};
use lineup_store::{DynStore, Store};
use support::{assert_matches_truth, connect_simulator, every_fault, wait_until_reconciled};
use uuid::Uuid;

/// A database for one run.
struct Database {
    url: String,
    store: DynStore,
    /// PostgreSQL: the server's admin URL and the run's database, dropped by [`Database::drop_it`].
    owned: Option<(String, String)>,
}

impl Database {
    /// Drops a PostgreSQL run's database (the platform must be stopped).
    async fn drop_it(self) {
        if let Some((admin, name)) = self.owned {
            let admin = lineup_store_postgres::PostgresStore::connect(&admin, 1).await.unwrap();
            let drop = format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)");
            sqlx::query(&drop).execute(admin.pool()).await.unwrap();
        }
    }
}

async fn sqlite_database(dir: &Path) -> Database {
    let url = format!("sqlite://{}", dir.join("lineup.db").display());
    let store = lineup_store_sqlite::SqliteStore::connect(&url).await.unwrap();
    store.migrate().await.unwrap();
    Database { url, store: Arc::new(store), owned: None }
}

/// A fresh PostgreSQL database (the platform's workers claim every tenant's inbox messages, so
/// the run gets a database of its own).
async fn postgres_database() -> Database {
    let base = std::env::var("LINEUP_TEST_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/lineup_test".to_string());
    let admin = lineup_store_postgres::PostgresStore::connect(&base, 1).await.unwrap();
    let name = format!("lineup_e2e_{}", Uuid::new_v4().simple());
    sqlx::query(&format!("CREATE DATABASE {name}")).execute(admin.pool()).await.unwrap();
    let (prefix, _) = base.rsplit_once('/').unwrap();
    let url = format!("{prefix}/{name}");
    let store = lineup_store_postgres::PostgresStore::connect(&url, 4).await.unwrap();
    store.migrate().await.unwrap();
    Database { url, store: Arc::new(store), owned: Some((base, name)) }
}

fn free_port() -> SocketAddr {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap()
}

/// The platform process.
struct Platform {
    child: Child,
    addr: SocketAddr,
}

/// The workers' schedules sped up; the live hubs' outbox poll slowed to 30 s, so a change made
/// on another node reaches a hub in time only through PostgreSQL's notifications.
fn config_file(dir: &Path) -> PathBuf {
    let path = dir.join("lineup.toml");
    std::fs::write(
        &path,
        "[workers]\nhistory_schedule = \"* * * * * *\"\ncall_log_schedule = \"*/2 * * * * *\"\nlease_ttl_secs = 3\n\n\
         [live]\npoll_millis = 30000\n",
    )
    .unwrap();
    path
}

async fn start_platform(db: &Database, dir: &Path, key: &str, log: &str) -> Platform {
    let addr = free_port();
    let log = std::fs::File::create(dir.join(log)).unwrap();
    let child = Command::new(env!("CARGO_BIN_EXE_lineup"))
        .arg("serve")
        .arg("--config")
        .arg(config_file(dir))
        .args(["--database-url", &db.url, "--listen", &addr.to_string(), "--secret-keys", key])
        .env("LINEUP_NO_RATE_LIMITS", "true")
        .env("RUST_LOG", "info,sqlx=warn")
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .unwrap();
    let platform = Platform { child, addr };
    let client = reqwest::Client::new();
    for _ in 0..200 {
        let ready = client.get(format!("http://{addr}/readyz")).send().await;
        if ready.is_ok_and(|r| r.status().is_success()) {
            return platform;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("lineup serve did not become ready on {addr}");
}

/// A platform left running by a failing test is killed with it.
impl Drop for Platform {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

impl Platform {
    /// SIGKILL: no shutdown, no lease release, transactions cut wherever they are.
    fn kill(mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }

    async fn readyz(&self) -> serde_json::Value {
        reqwest::get(format!("http://{}/readyz", self.addr)).await.unwrap().json().await.unwrap()
    }

    fn stop(mut self) {
        // SIGTERM, then wait for the graceful shutdown.
        let _ = Command::new("kill").arg("-TERM").arg(self.child.id().to_string()).status();
        let _ = self.child.wait();
    }
}

async fn a_simulated_hour_survives_sigkill(db: Database) {
    let dir = std::env::temp_dir().join(format!("lineup-e2e-{}", Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    let key = SecretKey::generate("e2e");
    let secrets = SecretBox::new(SecretKey::parse(&key).unwrap(), Vec::new());

    let store = db.store.clone();
    let connected = connect_simulator(&store, &secrets).await;
    let (sim, tenant, connection) = (&connected.sim, connected.tenant, connected.connection());
    let provisioned = &connected.provisioned;

    let mut platform = Some(start_platform(&db, &dir, &key, "first.log").await);
    let steps = 120; // 120 × 30 s: one simulated hour
    for step in 0..steps {
        if step == 20 {
            every_fault().into_iter().for_each(|f| sim.state().faults().arm(f));
        }
        if step == 50 {
            let health = platform.as_ref().unwrap().readyz().await;
            let text = health.to_string();
            assert!(text.contains(&format!("poller:{connection}")), "readyz names the poller: {text}");
        }
        if step == steps / 2 {
            platform.take().unwrap().kill();
            for _ in 0..4 {
                sim.advance(TimeDelta::seconds(30)).await;
            }
            platform = Some(start_platform(&db, &dir, &key, "second.log").await);
        }
        sim.advance(TimeDelta::seconds(30)).await;
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    let truth = connected.finished_truth().await;
    assert!(truth.len() > 100, "an hour of traffic has many calls: {}", truth.len());
    let stored = wait_until_reconciled(&store, tenant, connection, &truth, Duration::from_secs(120)).await;
    platform.take().unwrap().stop();
    let items = assert_matches_truth(&store, tenant, &provisioned.queues, &stored, &truth).await;
    println!(
        "{} calls of a simulated hour, SIGKILL half-way: all stored once and reconciled; {items} items",
        truth.len()
    );
    connected.sim.stop().await.unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    drop(store);
    db.drop_it().await;
}

/// Whether the node at `platform` runs the poller of `connection` now.
async fn polls(platform: &Platform, connection: Uuid) -> bool {
    let health = platform.readyz().await;
    let name = format!("poller:{connection}");
    health["workers"].as_array().is_some_and(|ws| ws.iter().any(|w| w["name"] == name.as_str()))
}

/// Two `lineup serve` nodes on one PostgreSQL database: exactly one polls the PBX; when it is
/// killed with SIGKILL the other takes the connection over within seconds, and no call is lost
/// or stored twice.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_nodes_poll_a_pbx_once_and_fail_over_on_postgres() {
    let db = postgres_database().await;
    let dir = std::env::temp_dir().join(format!("lineup-e2e-{}", Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    let key = SecretKey::generate("e2e");
    let secrets = SecretBox::new(SecretKey::parse(&key).unwrap(), Vec::new());
    let store = db.store.clone();
    let connected = connect_simulator(&store, &secrets).await;
    let (sim, tenant, connection) = (&connected.sim, connected.tenant, connected.connection());
    let provisioned = &connected.provisioned;
    let a = start_platform(&db, &dir, &key, "a.log").await;
    let b = start_platform(&db, &dir, &key, "b.log").await;

    // Within a few seconds one node polls, and from then on never both.
    let mut holder = None;
    for _ in 0..100 {
        let (pa, pb) = (polls(&a, connection).await, polls(&b, connection).await);
        assert!(!(pa && pb), "both nodes poll the same PBX");
        if pa || pb {
            holder = Some(pa);
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let a_holds = holder.expect("a node takes the PBX connection lease");
    for step in 0..10 {
        sim.advance(TimeDelta::seconds(30)).await;
        tokio::time::sleep(Duration::from_millis(300)).await;
        let (pa, pb) = (polls(&a, connection).await, polls(&b, connection).await);
        assert!(pa != pb, "exactly one node polls (step {step}): a {pa}, b {pb}");
    }
    let (dead, survivor) = if a_holds { (a, b) } else { (b, a) };
    dead.kill();
    let killed = std::time::Instant::now();
    while !polls(&survivor, connection).await {
        assert!(killed.elapsed() < Duration::from_secs(15), "no take-over within 15 s");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let takeover = killed.elapsed();
    connected.run(10, Duration::from_millis(300)).await;
    let truth = connected.finished_truth().await;
    let stored = wait_until_reconciled(&store, tenant, connection, &truth, Duration::from_secs(90)).await;
    survivor.stop();
    let items = assert_matches_truth(&store, tenant, &provisioned.queues, &stored, &truth).await;
    println!(
        "two nodes: one poller at a time; take-over {:.1?} after SIGKILL (lease 3 s); {} calls, {items} items",
        takeover,
        truth.len()
    );
    connected.sim.stop().await.unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    drop(store);
    db.drop_it().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_simulated_hour_with_faults_survives_sigkill_on_sqlite() {
    let dir = std::env::temp_dir().join(format!("lineup-e2e-db-{}", Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    a_simulated_hour_survives_sigkill(sqlite_database(&dir).await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_simulated_hour_with_faults_survives_sigkill_on_postgres() {
    a_simulated_hour_survives_sigkill(postgres_database().await).await;
}

/// A new admin API key of `tenant`, made by `lineup admin create-api-key` (its secret is the last
/// line it prints).
async fn admin_key(db: &Database, tenant: lineup_domain::TenantId) -> String {
    let slug = db.store.get_tenant(tenant).await.unwrap().slug;
    let out = Command::new(env!("CARGO_BIN_EXE_lineup"))
        .args(["admin", "--database-url", &db.url, "create-api-key", "--tenant", &slug])
        .args(["--name", "e2e", "--role", "admin"])
        .output()
        .unwrap();
    assert!(out.status.success(), "create-api-key: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap().lines().last().unwrap().trim().to_string()
}

/// A subscriber of one live SSE channel that keeps the channel's document current by applying
/// each delta to the snapshot.
struct Follower {
    response: reqwest::Response,
    buffer: Vec<u8>,
    document: serde_json::Value,
    seq: i64,
    deltas: usize,
}

impl Follower {
    async fn open(platform: &Platform, path: &str, token: &str) -> Follower {
        let response = reqwest::Client::new()
            .get(format!("http://{}{path}", platform.addr))
            .bearer_auth(token)
            .header("accept", "text/event-stream")
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200, "subscribing to {path}");
        let mut follower =
            Follower { response, buffer: Vec::new(), document: serde_json::Value::Null, seq: 0, deltas: 0 };
        let (kind, id, data) = follower.next_frame(Duration::from_secs(10)).await.expect("a snapshot");
        assert_eq!(kind, "snapshot");
        follower.document = data["data"].clone();
        follower.seq = id;
        follower
    }

    /// The next SSE event (kind, id, data) within `wait`; keep-alive comments are skipped.
    async fn next_frame(&mut self, wait: Duration) -> Option<(String, i64, serde_json::Value)> {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            if let Some(end) = self.buffer.windows(2).position(|w| w == b"\n\n") {
                let frame = String::from_utf8(self.buffer.drain(..end + 2).collect()).unwrap();
                let (mut kind, mut id, mut data) = (String::new(), 0, String::new());
                for line in frame.lines() {
                    if let Some(v) = line.strip_prefix("event: ") {
                        kind = v.to_string();
                    } else if let Some(v) = line.strip_prefix("id: ") {
                        id = v.parse().unwrap();
                    } else if let Some(v) = line.strip_prefix("data: ") {
                        data.push_str(v);
                    }
                }
                if kind.is_empty() {
                    continue;
                }
                return Some((kind, id, serde_json::from_str(&data).unwrap()));
            }
            let chunk = tokio::time::timeout_at(deadline, self.response.chunk()).await.ok()?;
            self.buffer.extend_from_slice(&chunk.unwrap()?);
        }
    }

    /// Applies deltas until `done` holds of the document; false if it does not within `wait`.
    async fn until(&mut self, wait: Duration, done: impl Fn(&serde_json::Value) -> bool) -> bool {
        let deadline = tokio::time::Instant::now() + wait;
        while !done(&self.document) {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            let Some((kind, id, data)) = self.next_frame(left).await else { return false };
            match kind.as_str() {
                "delta" => {
                    assert_eq!(id, self.seq + 1, "deltas are consecutive");
                    lineup_live::patch::apply(&mut self.document, &data["patch"]);
                    self.deltas += 1;
                }
                "snapshot" => self.document = data["data"].clone(),
                other => panic!("unexpected live event {other}"),
            }
            self.seq = id;
        }
        true
    }
}

/// What must agree between nodes: every queue's name, waiting and in-progress calls and today's
/// counters (agents' states are left out: wrap-up ends on each node's own clock tick).
fn figures(overview: &serde_json::Value) -> serde_json::Value {
    let queues = overview["queues"].as_object().cloned().unwrap_or_default();
    queues
        .into_iter()
        .map(|(id, q)| {
            let keep = serde_json::json!({
                "name": q["name"], "callsWaiting": q["callsWaiting"],
                "callsInProgress": q["callsInProgress"], "today": q["today"],
            });
            (id, keep)
        })
        .collect::<serde_json::Map<_, _>>()
        .into()
}

/// Two `lineup serve` processes on one PostgreSQL database, their hubs' outbox poll set to 30 s:
/// a queue renamed through either node reaches both nodes' live subscribers within seconds (the
/// hubs re-read queues and agents every 2 s); while one node ingests the simulator's calls, the
/// other node's subscribers follow them as they happen (outbox events announced by PostgreSQL
/// LISTEN/NOTIFY, not the 30 s poll) and end with the same figures as the ingesting node's and as
/// a fresh snapshot.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn live_subscribers_of_one_serve_process_see_changes_made_by_another_on_postgres() {
    let db = postgres_database().await;
    let dir = std::env::temp_dir().join(format!("lineup-e2e-{}", Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    let key = SecretKey::generate("e2e");
    let secrets = SecretBox::new(SecretKey::parse(&key).unwrap(), Vec::new());
    let connected = connect_simulator(&db.store, &secrets).await;
    let (tenant, connection) = (connected.tenant, connected.connection());
    let a = start_platform(&db, &dir, &key, "a.log").await;
    let b = start_platform(&db, &dir, &key, "b.log").await;
    let token = admin_key(&db, tenant).await;
    let mut on_a = Follower::open(&a, "/api/v1/live/overview", &token).await;
    let mut on_b = Follower::open(&b, "/api/v1/live/overview", &token).await;
    let queue = connected.provisioned.queues[0].id;

    // Admin writes: a rename through either node reaches both nodes' subscribers.
    let client = reqwest::Client::new();
    let mut notified = Vec::new();
    for (writer, name) in [(&a, "Renamed on A"), (&b, "Renamed on B")] {
        let started = std::time::Instant::now();
        let response = client
            .patch(format!("http://{}/api/v1/queues/{queue}", writer.addr))
            .bearer_auth(&token)
            .json(&serde_json::json!({"name": name}))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        let renamed = |d: &serde_json::Value| d["queues"][queue.to_string()]["name"] == name;
        assert!(on_a.until(Duration::from_secs(5), renamed).await, "node A's subscriber sees '{name}'");
        assert!(on_b.until(Duration::from_secs(5), renamed).await, "node B's subscriber sees '{name}'");
        notified.push(started.elapsed());
    }

    // Calls: one node polls the PBX; both nodes' subscribers follow them as they happen.
    let ingesting = if polls(&a, connection).await { "A" } else { "B" };
    let active = |d: &serde_json::Value| {
        let queues = d["queues"].as_object().cloned().unwrap_or_default();
        queues
            .values()
            .map(|q| q["callsWaiting"].as_u64().unwrap() + q["callsInProgress"].as_u64().unwrap())
            .sum::<u64>()
    };
    let (mut seen_on_a, mut seen_on_b) = (0, 0);
    for _ in 0..12 {
        connected.sim.advance(TimeDelta::seconds(30)).await;
        if on_a.until(Duration::from_millis(400), |d| active(d) > 0).await {
            seen_on_a = seen_on_a.max(active(&on_a.document));
        }
        if on_b.until(Duration::from_millis(400), |d| active(d) > 0).await {
            seen_on_b = seen_on_b.max(active(&on_b.document));
        }
    }
    assert!(seen_on_a > 0 && seen_on_b > 0, "both nodes' subscribers saw calls: A {seen_on_a}, B {seen_on_b}");

    // Both followers reach the figures a fresh subscriber gets (retaken while late
    // reconciliations still change them).
    let mut agreed = false;
    for _ in 0..6 {
        let fresh = Follower::open(&b, "/api/v1/live/overview", &token).await;
        let want = figures(&fresh.document);
        let wait = Duration::from_secs(5);
        if on_a.until(wait, |d| figures(d) == want).await && on_b.until(wait, |d| figures(d) == want).await {
            agreed = true;
            break;
        }
    }
    assert!(agreed, "the nodes' subscribers disagree:\nA {}\nB {}", figures(&on_a.document), figures(&on_b.document));
    println!(
        "two serve processes: renames reached both nodes' subscribers in {notified:?}; node \
         {ingesting} ingested; up to {seen_on_a}/{seen_on_b} active calls seen on A/B; deltas followed: A {}, B {}",
        on_a.deltas, on_b.deltas
    );
    drop((on_a, on_b));
    a.stop();
    b.stop();
    connected.sim.stop().await.unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    db.drop_it().await;
}
