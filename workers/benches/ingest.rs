//! Ingestion load benchmark: `cargo bench -p lineup-workers --bench ingest`.
//!
//! Drives the real path from an `ActiveCalls` snapshot to the outbox — the differ, the inbox
//! (`enqueue_many`), the inbox processor and the call store (call state, queue item, status
//! history, outbox rows, inbox settlement in one transaction) — with synthetic snapshots of
//! `LINEUP_BENCH_CALLS` concurrent calls (default 10,000) taken once per `LINEUP_BENCH_TICK_MS`
//! (default 1,000 ms, the default poll interval) for `LINEUP_BENCH_TICKS` ticks (default 30).
//!
//! Prints, per backend (SQLite always; PostgreSQL when `LINEUP_BENCH_DATABASE_URL` is set):
//! sustained observations per second, and the lag from a snapshot being taken to the last of its
//! observations being committed with its outbox rows (p50/p99/max) — the change-to-outbox lag
//! beyond the poll interval. `LINEUP_BENCH_CLAIM`, `LINEUP_BENCH_TRANSACTION` and
//! `LINEUP_BENCH_LANES` override the processor's claim size, messages per transaction and lanes;
//! `LINEUP_BENCH_SKIP_SQLITE` runs PostgreSQL only.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, TimeDelta, Utc};
use lineup_domain::call::{diff_active_calls, ActiveCallSnapshot};
use lineup_security::{SecretBox, SecretKey};
use lineup_store::{DynStore, Store};
use lineup_workers::connection::inbox_message;
use lineup_workers::provision::{connect_pbx, PbxSpec, QueueSpec};
use lineup_workers::{Health, InboxProcessor, ProcessorConfig};
use tokio::sync::Notify;
use uuid::Uuid;

const QUEUES: [&str; 10] = ["800", "801", "802", "803", "804", "805", "806", "807", "808", "809"];

fn env_or(name: &str, default: u64) -> u64 {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

/// One synthetic call: waits, rings an agent, talks, in ticks.
#[derive(Clone, Copy)]
struct Call {
    id: i32,
    arrive: u64,
    wait: u64,
    ring: u64,
    talk: u64,
    queue: usize,
    agent: u32,
}

impl Call {
    fn row(&self, tick: u64, start: DateTime<Utc>) -> Option<ActiveCallSnapshot> {
        let t = |tick: u64| start + TimeDelta::seconds(tick as i64);
        let age = tick.checked_sub(self.arrive)?;
        let (status, callee, since) = if age < self.wait {
            ("Routing", QUEUES[self.queue].to_string(), self.arrive)
        } else if age < self.wait + self.ring {
            ("Ringing", format!("{}", 1000 + self.agent), self.arrive + self.wait)
        } else if age < self.wait + self.ring + self.talk {
            ("Talking", format!("{}", 1000 + self.agent), self.arrive + self.wait + self.ring)
        } else {
            return None;
        };
        Some(ActiveCallSnapshot {
            id: self.id,
            caller: format!("+4930{:07}", self.id),
            callee: format!("{callee} Someone"),
            status: status.into(),
            last_change_status: t(since),
            established_at: t(self.arrive),
        })
    }

    fn life(&self) -> u64 {
        self.wait + self.ring + self.talk
    }
}

/// A deterministic generator (xorshift).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.next() % (hi - lo)
    }
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i]
}

async fn run(name: &str, store: DynStore, concurrent: u64, ticks: u64, tick: Duration) {
    let secrets = SecretBox::new(SecretKey::parse(&SecretKey::generate("bench")).unwrap(), Vec::new());
    let tenant = lineup_store::conformance::tenant(&store).await;
    let specs: Vec<QueueSpec> = QUEUES
        .iter()
        .enumerate()
        .map(|(i, dn)| QueueSpec { dn: dn.to_string(), name: format!("Queue {dn}"), prefix: format!("B{i}") })
        .collect();
    let pbx = PbxSpec {
        name: "Bench".into(),
        base_url: "http://127.0.0.1:9".into(),
        client_id: "bench".into(),
        client_secret: "bench".into(),
        poll_interval_ms: 1000,
    };
    let connection = connect_pbx(&store, &secrets, tenant, &pbx, &specs).await.unwrap().connection.id;
    let queue_dns: BTreeSet<String> = QUEUES.iter().map(|s| s.to_string()).collect();
    let agent_dns: BTreeSet<String> = (0..2000).map(|a| format!("{}", 1000 + a)).collect();

    // Calls live 60–240 s; arrivals keep `concurrent` calls alive on average.
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let mut calls = Vec::new();
    let mean_life = 150;
    let per_tick = concurrent / mean_life;
    let mut next_id = 1;
    // Warm start: calls already in progress at tick 0.
    for _ in 0..concurrent {
        let (wait, ring, talk) = (rng.range(5, 60), rng.range(2, 15), rng.range(50, 170));
        let arrive = 0u64.saturating_sub(0);
        let life = wait + ring + talk;
        let offset = rng.range(0, life);
        let call = Call {
            id: next_id,
            arrive: arrive + 1000 - offset,
            wait,
            ring,
            talk,
            queue: (rng.next() % 10) as usize,
            agent: (rng.next() % 2000) as u32,
        };
        next_id += 1;
        calls.push(call);
    }
    for t in 0..ticks {
        for _ in 0..per_tick {
            let call = Call {
                id: next_id,
                arrive: 1000 + t,
                wait: rng.range(5, 60),
                ring: rng.range(2, 15),
                talk: rng.range(50, 170),
                queue: (rng.next() % 10) as usize,
                agent: (rng.next() % 2000) as u32,
            };
            next_id += 1;
            calls.push(call);
        }
    }
    let start = DateTime::from_timestamp(1_800_000_000, 0).unwrap();
    let snapshot = |tick: u64| -> Vec<ActiveCallSnapshot> {
        calls
            .iter()
            .filter(|c| c.arrive <= tick && tick < c.arrive + c.life())
            .filter_map(|c| c.row(tick, start))
            .collect()
    };

    let ready = Arc::new(Notify::new());
    let processor = InboxProcessor::new(
        store.clone(),
        Health::new(),
        ready.clone(),
        ProcessorConfig {
            scope: lineup_store::ClaimScope::Connection(connection),
            batch: env_or("LINEUP_BENCH_CLAIM", 512) as u32,
            transaction: env_or("LINEUP_BENCH_TRANSACTION", ProcessorConfig::default().transaction as u64) as usize,
            concurrency: env_or("LINEUP_BENCH_LANES", ProcessorConfig::default().concurrency as u64) as usize,
            ..ProcessorConfig::default()
        },
    );
    let drain = |p: InboxProcessor| async move { while p.process_batch().await.unwrap() > 0 {} };

    // Tick 999: the platform starts polling with `concurrent` calls already live.
    let first = snapshot(999);
    let initial = diff_active_calls(connection, &[], &first, start + TimeDelta::seconds(999), &queue_dns, &agent_dns);
    let began = Instant::now();
    for chunk in initial.chunks(1000) {
        store.enqueue_many(tenant, chunk.iter().map(inbox_message).collect()).await.unwrap();
    }
    drain(processor.clone()).await;
    let warmup = began.elapsed();
    println!(
        "{name}: initial snapshot of {} live calls: {} observations applied in {:.2?} ({:.0}/s)",
        first.len(),
        initial.len(),
        warmup,
        initial.len() as f64 / warmup.as_secs_f64()
    );

    let mut previous = first;
    let mut lags = Vec::new();
    let mut total = 0usize;
    let run_start = Instant::now();
    for t in 0..ticks {
        let due = run_start + tick * t as u32;
        tokio::time::sleep_until(due.into()).await;
        let taken = Instant::now();
        let current = snapshot(1000 + t);
        let server_now = start + TimeDelta::seconds((1000 + t) as i64);
        let observations = diff_active_calls(connection, &previous, &current, server_now, &queue_dns, &agent_dns);
        total += observations.len();
        store.enqueue_many(tenant, observations.iter().map(inbox_message).collect()).await.unwrap();
        drain(processor.clone()).await;
        lags.push(taken.elapsed());
        previous = current;
    }
    let elapsed = run_start.elapsed();
    lags.sort();
    let depth = store.inbox_depth(Some(tenant)).await.unwrap();
    assert_eq!((depth.pending, depth.in_flight, depth.dead), (0, 0, 0), "everything applied");
    println!(
        "{name}: {concurrent} concurrent calls, {ticks} polls every {tick:?}: {total} observations, \
         {:.0} observations/s sustained; snapshot-to-outbox lag p50 {:.1?} p99 {:.1?} max {:.1?}",
        total as f64 / elapsed.as_secs_f64(),
        percentile(&lags, 0.5),
        percentile(&lags, 0.99),
        lags.last().copied().unwrap_or_default(),
    );

    // Capacity: how fast a backlog drains (e.g. after an outage): the same traffic again under
    // other call ids, recorded all at once and then applied.
    let shifted = |tick: u64| -> Vec<ActiveCallSnapshot> {
        snapshot(tick)
            .into_iter()
            .map(|mut row| {
                row.id += 10_000_000;
                row
            })
            .collect()
    };
    let backlog: Vec<_> = (0..ticks)
        .flat_map(|t| {
            let before = if t == 0 { Vec::new() } else { shifted(999 + t) };
            let after = shifted(1000 + t);
            let at = start + TimeDelta::seconds((1000 + t) as i64);
            diff_active_calls(connection, &before, &after, at, &queue_dns, &agent_dns)
        })
        .collect();
    let queued = Instant::now();
    for chunk in backlog.chunks(1000) {
        store.enqueue_many(tenant, chunk.iter().map(inbox_message).collect()).await.unwrap();
    }
    let enqueued = queued.elapsed();
    let drained_at = Instant::now();
    drain(processor).await;
    let drained = drained_at.elapsed();
    println!(
        "{name}: backlog of {} observations: enqueued at {:.0}/s, applied at {:.0}/s",
        backlog.len(),
        backlog.len() as f64 / enqueued.as_secs_f64(),
        backlog.len() as f64 / drained.as_secs_f64()
    );
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    let concurrent = env_or("LINEUP_BENCH_CALLS", 10_000);
    let ticks = env_or("LINEUP_BENCH_TICKS", 30);
    let tick = Duration::from_millis(env_or("LINEUP_BENCH_TICK_MS", 1000));
    runtime.block_on(async {
        if std::env::var("LINEUP_BENCH_SKIP_SQLITE").is_err() {
            let dir = std::env::temp_dir().join(format!("lineup-bench-{}", Uuid::new_v4()));
            std::fs::create_dir_all(&dir).unwrap();
            let sqlite = lineup_store_sqlite::SqliteStore::open(&dir.join("bench.db")).await.unwrap();
            sqlite.migrate().await.unwrap();
            run("sqlite", Arc::new(sqlite), concurrent, ticks, tick).await;
            let _ = std::fs::remove_dir_all(&dir);
        }
        if let Ok(url) = std::env::var("LINEUP_BENCH_DATABASE_URL") {
            let pg = lineup_store_postgres::PostgresStore::connect(&url, 16).await.unwrap();
            pg.migrate().await.unwrap();
            run("postgres", Arc::new(pg), concurrent, ticks, tick).await;
        }
    });
}
