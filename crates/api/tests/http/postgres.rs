//! The walkthrough against PostgreSQL. The database is named by `LINEUP_TEST_DATABASE_URL`
//! (default: a local `lineup_test` with trust auth); each test uses a fresh tenant, so tests
//! share the database.

use std::sync::Arc;

use lineup_store::Store;
use lineup_store_postgres::PostgresStore;
use uuid::Uuid;

use crate::common::{serve, TestServer};
use crate::walkthrough::contract_walkthrough;

const DEFAULT_URL: &str = "postgres://postgres@127.0.0.1:5432/lineup_test";

async fn postgres_server() -> TestServer {
    let url = std::env::var("LINEUP_TEST_DATABASE_URL").unwrap_or_else(|_| DEFAULT_URL.to_string());
    let store = PostgresStore::connect(&url, 10).await.expect("connect to the test database");
    store.migrate().await.expect("migrate the test database");
    let tenant = Uuid::new_v4();
    store.ensure_tenant(tenant, "Demo", &format!("demo-{tenant}")).await.unwrap();
    serve(Arc::new(store), tenant, None).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_contract_walkthrough_works_on_postgres() {
    let s = postgres_server().await;
    contract_walkthrough(&s).await;
}
