//! The router serves exactly what the OpenAPI document describes, and the probes answer.

use reqwest::Method;
use serde_json::{json, Value};

use crate::common::sqlite_server;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_documented_operation_is_routed() {
    let s = sqlite_server().await;
    let doc = s.get("/api/v1/openapi.json").await.expect(200);
    assert_eq!(doc, serde_json::from_str::<Value>(lineup_api::openapi::openapi_json()).unwrap());
    let id = uuid::Uuid::new_v4().to_string();
    let mut operations = 0;
    for (path, item) in doc["paths"].as_object().unwrap() {
        let concrete: String = path
            .split('/')
            .map(|seg| if seg.starts_with('{') { id.as_str() } else { seg })
            .collect::<Vec<_>>()
            .join("/");
        for method in item.as_object().unwrap().keys() {
            let method: Method = method.to_uppercase().parse().unwrap();
            let answer = s.call(method.clone(), &concrete, None).await;
            operations += 1;
            assert_ne!(answer.status, 405, "{method} {path} is documented but not routed");
            let unrouted = answer.status == 404 && answer.body["detail"] == "no resource at this path";
            assert!(!unrouted, "{method} {path} is documented but not routed");
        }
    }
    assert_eq!(operations, 73, "the API has 73 operations");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn probes_answer_ok() {
    let s = sqlite_server().await;
    assert_eq!(s.get("/healthz").await.expect(200), json!({"status": "ok"}));
    assert_eq!(s.get("/readyz").await.expect(200), json!({"status": "ok"}));
}

struct TwoWorkers;

impl lineup_api::WorkerReports for TwoWorkers {
    fn reports(&self) -> Vec<lineup_api::routes::health::WorkerHealth> {
        let worker = |name: &str, failures: u32| lineup_api::routes::health::WorkerHealth {
            name: name.into(),
            healthy: failures < 3,
            last_success_at: None,
            last_error: (failures > 0).then(|| "connection refused".to_string()),
            last_error_at: None,
            lag_ms: Some(40),
            consecutive_failures: failures,
        };
        vec![worker("inbox-processor", 0), worker("poller:x", 4)]
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readyz_reports_the_workers_and_metrics_render_the_recorder() {
    let (store, _dir) = crate::common::sqlite_store().await;
    let state = lineup_api::AppState::new(store)
        .with_workers(std::sync::Arc::new(TwoWorkers))
        .with_metrics(std::sync::Arc::new(|| "lineup_polls_total 3\n".to_string()));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        let app = lineup_api::router(state).into_make_service_with_connect_info::<std::net::SocketAddr>();
        axum::serve(listener, app).await.unwrap();
    });
    let ready: Value = reqwest::get(format!("{base}/readyz")).await.unwrap().json().await.unwrap();
    assert_eq!(ready["status"], "degraded", "a worker failing again and again degrades readiness: {ready}");
    assert_eq!(ready["workers"][1]["name"], "poller:x");
    assert_eq!(ready["workers"][1]["lastError"], "connection refused");
    assert_eq!(ready["workers"][0]["lagMs"], 40);
    let metrics = reqwest::get(format!("{base}/metrics")).await.unwrap();
    assert!(metrics.headers()["content-type"].to_str().unwrap().starts_with("text/plain"));
    assert_eq!(metrics.text().await.unwrap(), "lineup_polls_total 3\n");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_without_a_recorder_is_a_not_found_problem() {
    let s = sqlite_server().await;
    let answer = s.get("/metrics").await;
    assert_eq!(answer.status, 404);
    assert_eq!(answer.body["type"].as_str().unwrap().rsplit('/').next(), Some("not-found"));
}
