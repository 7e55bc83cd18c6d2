//! The storage conformance suite against PostgreSQL. The database is named by
//! `LINEUP_TEST_DATABASE_URL` (default: a local `lineup_test` with trust auth); every test makes
//! its own tenant, so tests share the database and may run in parallel.

use std::sync::Arc;

use lineup_store::{DynStore, Store};
use lineup_store_postgres::PostgresStore;

const DEFAULT_URL: &str = "postgres://postgres@127.0.0.1:5432/lineup_test";

/// A migrated store on the test database (one pool per test: each test has its own runtime).
async fn postgres_store() -> DynStore {
    let url = std::env::var("LINEUP_TEST_DATABASE_URL").unwrap_or_else(|_| DEFAULT_URL.to_string());
    let store = PostgresStore::connect(&url, 8).await.expect("connect to the test database");
    store.migrate().await.expect("migrate the test database");
    Arc::new(store)
}

lineup_store::conformance_suite!(postgres_store);
