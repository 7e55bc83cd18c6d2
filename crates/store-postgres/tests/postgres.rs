//! Guarantees of the PostgreSQL backend beyond the conformance suite: the schema's own walls and
//! the commit order of outbox sequence numbers.

use std::sync::Arc;
use std::time::Duration;

use lineup_domain::{NewItem, NewSession};
use lineup_store::conformance::fixture;
use lineup_store::{DynStore, Store};
use lineup_store_postgres::PostgresStore;
use uuid::Uuid;

const DEFAULT_URL: &str = "postgres://postgres@127.0.0.1:5432/lineup_test";

async fn postgres_store() -> PostgresStore {
    let url = std::env::var("LINEUP_TEST_DATABASE_URL").unwrap_or_else(|_| DEFAULT_URL.to_string());
    let store = PostgresStore::connect(&url, 12).await.expect("connect to the test database");
    store.migrate().await.expect("migrate the test database");
    store
}

fn item(name: &str) -> NewItem {
    NewItem { display_name: name.into(), metadata: None, status_id: None }
}

#[tokio::test]
async fn the_schema_refuses_moving_an_item_to_another_session() {
    let pg = postgres_store().await;
    let store: DynStore = Arc::new(pg.clone());
    let f = fixture(&store).await;
    let other = store.create_session(f.tenant, f.queue.id, NewSession::default()).await.unwrap();
    let it = store.create_item(f.tenant, f.session.id, item("Ann")).await.unwrap();
    let moved = sqlx::query("UPDATE items SET session_id = $2 WHERE id = $1")
        .bind(it.id)
        .bind(other.id)
        .execute(pg.pool())
        .await
        .unwrap_err();
    assert!(moved.to_string().contains("session cannot be changed"), "{moved}");
    let requeued = sqlx::query("UPDATE items SET queue_id = $2 WHERE id = $1")
        .bind(it.id)
        .bind(Uuid::new_v4())
        .execute(pg.pool())
        .await
        .unwrap_err();
    assert!(requeued.to_string().contains("session cannot be changed"), "{requeued}");
    assert_eq!(store.get_item(f.tenant, it.id).await.unwrap(), it);
}

/// Writers in different sessions commit concurrently while a reader polls `seq > last seen`:
/// if a row ever became visible with a seq below one already seen, the reader would miss it.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_reader_resuming_after_the_last_seen_seq_misses_no_event() {
    let pg = postgres_store().await;
    let store: DynStore = Arc::new(pg.clone());
    let f = fixture(&store).await;
    let mut writers = Vec::new();
    for w in 0..8 {
        let store = store.clone();
        let session = store.create_session(f.tenant, f.queue.id, NewSession::default()).await.unwrap().id;
        writers.push(tokio::spawn(async move {
            for i in 0..25 {
                store.create_item(f.tenant, session, item(&format!("w{w}-{i}"))).await.unwrap();
            }
        }));
    }
    let poll = |after: i64| {
        sqlx::query_scalar::<_, i64>("SELECT seq FROM outbox WHERE tenant_id = $1 AND seq > $2 ORDER BY seq")
            .bind(f.tenant)
            .bind(after)
            .fetch_all(pg.pool())
    };
    let mut seen = 0usize;
    let mut last = 0i64;
    while writers.iter().any(|w| !w.is_finished()) {
        let new = poll(last).await.unwrap();
        seen += new.len();
        last = new.last().copied().unwrap_or(last);
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    for w in writers {
        w.await.unwrap();
    }
    let rest = poll(last).await.unwrap();
    seen += rest.len();
    let total = poll(0).await.unwrap().len();
    assert_eq!(total, 8 * 25);
    assert_eq!(seen, total, "every event is seen exactly once by a resuming reader");
}
