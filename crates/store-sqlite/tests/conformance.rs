//! The storage conformance suite against SQLite, one fresh database file per test.

use std::sync::Arc;

use lineup_store::{DynStore, Store};
use lineup_store_sqlite::SqliteStore;

async fn store() -> DynStore {
    let dir = std::env::temp_dir().join("lineup-sqlite-conformance");
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(format!("{}.db", uuid::Uuid::new_v4()));
    let store = SqliteStore::open(&path).await.unwrap();
    store.migrate().await.unwrap();
    Arc::new(store)
}

lineup_store::conformance_suite!(store);
