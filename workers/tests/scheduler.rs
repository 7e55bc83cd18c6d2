//! The session scheduler against a SQLite store: due schedules rotate once per instant, with the
//! session named from the template.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use lineup_domain::{Lifecycle, SessionScheduleSpec};
use lineup_store::conformance::fixture;
use lineup_store::{DynStore, PageRequest, SortKey, SortOrder, Store};
use lineup_workers::scheduler::{SessionScheduler, NAME};
use lineup_workers::Health;
use uuid::Uuid;

async fn sqlite_store() -> DynStore {
    let dir = std::env::temp_dir().join(format!("lineup-scheduler-{}", Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    let store = lineup_store_sqlite::SqliteStore::open(&dir.join("lineup.db")).await.unwrap();
    store.migrate().await.unwrap();
    Arc::new(store)
}

fn at(s: &str) -> DateTime<Utc> {
    s.parse().unwrap()
}

#[tokio::test]
async fn due_schedules_rotate_once_per_instant_with_dated_names() {
    let store = sqlite_store().await;
    let f = fixture(&store).await;
    let spec = SessionScheduleSpec::new("0 0 6 * * *", "Day {date}").unwrap();
    store.put_session_schedule(f.tenant, f.queue.id, spec, at("2030-01-01T00:00:00Z")).await.unwrap();
    let scheduler = SessionScheduler::new(store.clone(), Health::new(), Duration::from_secs(30));

    assert_eq!(scheduler.run_once(at("2030-01-01T05:59:59Z")).await.unwrap(), 0);
    assert_eq!(scheduler.run_once(at("2030-01-03T06:00:10Z")).await.unwrap(), 1, "missed days collapse into one");
    assert_eq!(scheduler.run_once(at("2030-01-03T06:00:40Z")).await.unwrap(), 0);

    let page = PageRequest::new(Some(10), SortKey::SessionNumber, SortOrder::Asc, None).unwrap();
    let sessions = store.list_sessions(f.tenant, f.queue.id, &page).await.unwrap().items;
    let shape: Vec<_> = sessions.iter().map(|s| (s.name.as_str(), s.lifecycle_status)).collect();
    assert_eq!(shape, [("Session 1", Lifecycle::Completed), ("Day 2030-01-03", Lifecycle::Active)]);
}

#[tokio::test]
async fn the_scheduler_reports_health_and_stops_when_told() {
    let store = sqlite_store().await;
    let health = Health::new();
    let (stop_tx, stop) = tokio::sync::watch::channel(false);
    let task = tokio::spawn(SessionScheduler::new(store, health.clone(), Duration::from_millis(20)).run(stop));
    tokio::time::sleep(Duration::from_millis(100)).await;
    let status = health.snapshot().into_iter().find(|w| w.name == NAME).expect("registered");
    assert!(status.is_healthy());
    stop_tx.send(true).unwrap();
    tokio::time::timeout(Duration::from_secs(5), task).await.unwrap().unwrap();
}
