//! The database goes away under a running server: a real PostgreSQL database is dropped (with
//! its connections) while the API is connected to it. The API answers `internal` problems that
//! leak nothing of the cause, `/readyz` answers `not-ready` and `/healthz` stays up.

use std::sync::Arc;

use lineup_store::Store;
use lineup_store_postgres::PostgresStore;
use serde_json::json;
use sqlx::Connection;
use uuid::Uuid;

use crate::common::{serve, test_config, TestServer};

const DEFAULT_URL: &str = "postgres://postgres@127.0.0.1:5432/lineup_test";

/// A server over a database of its own, and a function that drops that database.
async fn server_over_a_doomed_database() -> (TestServer, impl std::future::Future<Output = ()>) {
    let url = std::env::var("LINEUP_TEST_DATABASE_URL").unwrap_or_else(|_| DEFAULT_URL.to_string());
    let name = format!("lineup_doomed_{}", Uuid::new_v4().simple());
    let base = &url[..url.rfind('/').expect("a database URL ends with /name")];
    let mut admin = sqlx::PgConnection::connect(&url).await.expect("connect to the test database");
    sqlx::query(&format!("CREATE DATABASE {name}")).execute(&mut admin).await.unwrap();
    let store = PostgresStore::connect(&format!("{base}/{name}"), 2).await.unwrap();
    store.migrate().await.unwrap();
    let server = serve(Arc::new(store), test_config(), None).await;
    let drop_it = async move {
        sqlx::query(&format!("DROP DATABASE {name} WITH (FORCE)")).execute(&mut admin).await.unwrap();
    };
    (server, drop_it)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lost_database_is_an_internal_problem_that_leaks_nothing() {
    let (s, drop_database) = server_over_a_doomed_database().await;
    assert_eq!(s.get("/api/v1/queues").await.status, 200);
    assert_eq!(s.get("/readyz").await.status, 200);
    drop_database.await;
    let id = Uuid::new_v4();
    for (path, body) in [
        ("/api/v1/queues".to_string(), None),
        (format!("/api/v1/items/{id}"), None),
        (format!("/api/v1/sessions/{id}/stream"), None),
        ("/api/v1/templates".to_string(), Some(json!({"name": "T", "statuses": [{"label": "A"}]}))),
    ] {
        let method = if body.is_some() { reqwest::Method::POST } else { reqwest::Method::GET };
        let answer = s.call(method, &path, body).await;
        assert_eq!(answer.status, 500, "{path}: {:?}", answer.body);
        assert_eq!(answer.header("content-type"), "application/problem+json");
        assert_eq!(answer.body["type"], "https://lineup.dev/problems/internal");
        let text = answer.body.to_string();
        assert!(!text.contains("lineup_doomed") && !text.contains("does not exist"), "leaked: {text}");
    }
    let ready = s.get("/readyz").await;
    assert_eq!(ready.status, 503);
    assert_eq!(ready.header("content-type"), "application/problem+json");
    assert_eq!(ready.body["type"], "https://lineup.dev/problems/not-ready");
    assert_eq!(s.get("/healthz").await.expect(200), json!({"status": "ok"}));
}
