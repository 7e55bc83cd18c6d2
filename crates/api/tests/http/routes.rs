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
    assert_eq!(operations, 45, "the API has 45 operations");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn probes_answer_ok() {
    let s = sqlite_server().await;
    assert_eq!(s.get("/healthz").await.expect(200), json!({"status": "ok"}));
    assert_eq!(s.get("/readyz").await.expect(200), json!({"status": "ok"}));
}
