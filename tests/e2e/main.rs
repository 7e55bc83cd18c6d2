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

fn config_file(dir: &Path) -> PathBuf {
    let path = dir.join("lineup.toml");
    std::fs::write(
        &path,
        "[workers]\nhistory_schedule = \"* * * * * *\"\ncall_log_schedule = \"*/2 * * * * *\"\nlease_ttl_secs = 3\n",
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
