//! The walkthrough against PostgreSQL. The database is named by `LINEUP_TEST_DATABASE_URL`
//! (default: a local `lineup_test` with trust auth); each test uses a fresh tenant, so tests
//! share the database.

use crate::common::postgres_server;
use crate::walkthrough::contract_walkthrough;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_contract_walkthrough_works_on_postgres() {
    let s = postgres_server().await;
    contract_walkthrough(&s).await;
}
