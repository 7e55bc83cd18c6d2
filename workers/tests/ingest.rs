//! The workers against the 3CX simulator on both backends (PostgreSQL: a database of the run's
//! own): a simulated hour of traffic with faults armed along the way and the workers restarted
//! half-way, after which every call of the simulator's ground truth is stored exactly once,
//! reconciled, with the right outcome and times, as one queue item in the right final status,
//! nothing is dead-lettered, and the analytics tallies count every finished call once.

#[path = "../../tests/support/mod.rs"]
mod support;

use std::sync::Arc;
use std::time::Duration;

use chrono::TimeDelta;
use lineup_domain::call::CallKey;
use lineup_security::{SecretBox, SecretKey};
use lineup_store::{AgentScope, DynStore, Store, StoredCall, TallyFilter};
use lineup_workers::aggregate::{fact_of, recompute_bucket};
use lineup_workers::aggregator::{Aggregator, AggregatorConfig};
use lineup_workers::reconciler::ReconcilerConfig;
use lineup_workers::{Health, ProcessorConfig, Supervisor, SupervisorConfig};
use support::{assert_matches_truth, connect_simulator, every_fault, wait_until_reconciled};
use tokio::sync::watch;
use uuid::Uuid;

fn secrets() -> SecretBox {
    SecretBox::new(SecretKey::parse(&SecretKey::generate("e2e")).unwrap(), Vec::new())
}

async fn sqlite_store() -> DynStore {
    let dir = std::env::temp_dir().join(format!("lineup-ingest-{}", Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    let store = lineup_store_sqlite::SqliteStore::open(&dir.join("lineup.db")).await.unwrap();
    store.migrate().await.unwrap();
    Arc::new(store)
}

/// A PostgreSQL database of the run's own: the analytics aggregator serves every tenant of a
/// database under one lease and cursor, so other tests' workers and calls stay out of it.
async fn postgres_store() -> (DynStore, String) {
    let base = base_url();
    let admin = lineup_store_postgres::PostgresStore::connect(&base, 1).await.unwrap();
    let name = format!("lineup_ingest_{}", Uuid::new_v4().simple());
    sqlx::query(&format!("CREATE DATABASE {name}")).execute(admin.pool()).await.unwrap();
    let (prefix, _) = base.rsplit_once('/').unwrap();
    let store = lineup_store_postgres::PostgresStore::connect(&format!("{prefix}/{name}"), 8).await.unwrap();
    store.migrate().await.unwrap();
    (Arc::new(store), name)
}

fn base_url() -> String {
    std::env::var("LINEUP_TEST_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/lineup_test".to_string())
}

/// Drops a database [`postgres_store`] made.
async fn drop_database(name: &str) {
    let admin = lineup_store_postgres::PostgresStore::connect(&base_url(), 1).await.unwrap();
    sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")).execute(admin.pool()).await.unwrap();
}

/// Fast schedules: the poller at its minimum interval, history every second, the call log
/// every two; the processor claiming only this test's connection (the database may be shared).
fn supervisor_config(connection: Uuid) -> SupervisorConfig {
    SupervisorConfig {
        refresh_every: Duration::from_millis(200),
        lease_ttl: Duration::from_secs(3),
        xapi_request_timeout: Duration::from_secs(2),
        reconciler: ReconcilerConfig {
            history_schedule: "* * * * * *".into(),
            call_log_schedule: "*/2 * * * * *".into(),
            ..ReconcilerConfig::default()
        },
        processor: ProcessorConfig {
            scope: lineup_store::ClaimScope::Connection(connection),
            idle_wait: Duration::from_millis(50),
            ..ProcessorConfig::default()
        },
        ..SupervisorConfig::default()
    }
}

struct Platform {
    stop: watch::Sender<bool>,
    task: tokio::task::JoinHandle<anyhow::Result<()>>,
}

fn start_platform(store: &DynStore, secrets: &Arc<SecretBox>, connection: Uuid) -> Platform {
    let (stop, stopped) = watch::channel(false);
    let supervisor =
        Supervisor::new(store.clone(), Some(secrets.clone()), Health::new(), supervisor_config(connection));
    Platform { stop, task: tokio::spawn(supervisor.run(stopped)) }
}

impl Platform {
    async fn stop(self) {
        let _ = self.stop.send(true);
        self.task.await.unwrap().unwrap();
    }
}

async fn run_a_simulated_hour(store: DynStore) {
    let secrets = Arc::new(secrets());
    let connected = connect_simulator(&store, &secrets).await;
    let (sim, tenant, connection) = (&connected.sim, connected.tenant, connected.connection());
    let provisioned = &connected.provisioned;

    let mut platform = Some(start_platform(&store, &secrets, connection));
    let steps = 120; // 120 × 30 s: one simulated hour
    for step in 0..steps {
        if step == 20 {
            every_fault().into_iter().for_each(|f| sim.state().faults().arm(f));
        }
        if step == steps / 2 {
            platform.take().unwrap().stop().await;
            // Traffic goes on while the platform is down.
            for _ in 0..4 {
                sim.advance(TimeDelta::seconds(30)).await;
            }
            platform = Some(start_platform(&store, &secrets, connection));
        }
        sim.advance(TimeDelta::seconds(30)).await;
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    // Let the last calls' history become visible, then wait for the platform to catch up.
    let truth = connected.finished_truth().await;
    assert!(truth.len() > 100, "an hour of traffic has many calls: {}", truth.len());
    let stored = wait_until_reconciled(&store, tenant, connection, &truth, Duration::from_secs(90)).await;
    platform.take().unwrap().stop().await;
    let items = assert_matches_truth(&store, tenant, &provisioned.queues, &stored, &truth).await;
    let buckets = assert_tallies_match_the_calls(&store, tenant, &stored).await;
    let key = CallKey { connection, call_id: truth[0].call_id };
    assert_eq!(store.get_call(tenant, key).await.unwrap().record.key, key);
    println!("{} calls of a simulated hour stored and reconciled; {items} items; {buckets} tally buckets", truth.len());
    connected.sim.stop().await.unwrap();
}

/// Lets an aggregator (this one, or another process's holding the lease on a shared database)
/// bring the tallies up to date, then checks each of the tenant's buckets equals the tally
/// recomputed from the stored calls and every finished call is counted once; returns the number
/// of buckets.
async fn assert_tallies_match_the_calls(store: &DynStore, tenant: Uuid, stored: &[StoredCall]) -> usize {
    let config = AggregatorConfig::default();
    let rules = config.rules;
    let aggregator = Aggregator::new(store.clone(), Health::new(), config);
    let facts: Vec<_> = stored.iter().filter_map(fact_of).collect();
    assert!(!facts.is_empty(), "the hour has finished, reconciled calls");
    let from = facts.iter().map(|f| f.entered_at).min().unwrap() - TimeDelta::hours(1);
    let to = facts.iter().map(|f| f.entered_at).max().unwrap() + TimeDelta::hours(1);
    let filter = TallyFilter { queue_ids: vec![], agents: AgentScope::Queue, from, to };
    let check = || async {
        let tallies = store.list_tallies(tenant, &filter).await.unwrap();
        let mut counted = 0;
        for row in &tallies {
            let expected = recompute_bucket(row.queue_id, row.bucket_start, stored, rules).unwrap();
            if row.tally != expected.rows[0].tally {
                return Err(format!("bucket {} of queue {} differs", row.bucket_start, row.queue_id));
            }
            counted += row.offered as usize;
        }
        match counted == facts.len() {
            true => Ok(tallies.len()),
            false => Err(format!("{counted} of {} finished calls counted", facts.len())),
        }
    };
    let deadline = tokio::time::Instant::now() + Duration::from_secs(90);
    loop {
        aggregator.tick(lineup_store::now_micros()).await.unwrap();
        match check().await {
            Ok(buckets) => return buckets,
            Err(e) if tokio::time::Instant::now() > deadline => panic!("the tallies do not match the calls: {e}"),
            Err(_) => tokio::time::sleep(Duration::from_millis(500)).await,
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_simulated_hour_with_faults_and_a_restart_matches_the_ground_truth_on_sqlite() {
    run_a_simulated_hour(sqlite_store().await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_simulated_hour_with_faults_and_a_restart_matches_the_ground_truth_on_postgres() {
    let (store, name) = postgres_store().await;
    run_a_simulated_hour(store).await;
    drop_database(&name).await;
}
