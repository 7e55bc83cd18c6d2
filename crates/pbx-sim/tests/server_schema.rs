//! Every answer the simulator gives to a generated operation validates against the JSON Schema
//! of that operation's 200 answer in 3CX's document (patched by our overlay). Skipped, with a
//! message, when the document is absent.

mod server_support;

use chrono::TimeDelta;
use lineup_pbx_sim::server::RunningSim;
use lineup_xapi::generated::{OperationKind, OPERATIONS};
use lineup_xapi_gen::Document;
use serde_json::Value;
use server_support::*;

fn document() -> Option<Document> {
    let doc = lineup_xapi_gen::repo_document().expect("the document and overlay parse");
    if doc.is_none() {
        println!("skipped: 3CX's XAPI document is absent (see xapi-spec/README.md)");
    }
    doc
}

/// Validates `body` against the answer schema of `method template`; the errors, if any.
fn violations(doc: &Document, template: &str, method: &str, body: &Value) -> Vec<String> {
    let schema = doc.response_json_schema(template, method).expect("the operation has an answer schema");
    let validator = jsonschema::validator_for(&schema).expect("a valid JSON Schema");
    validator.iter_errors(body).map(|e| format!("{} at {}", e, e.instance_path)).collect()
}

/// The query variants each operation is read with.
fn variants(template: &str, kind: OperationKind) -> Vec<&'static str> {
    match (kind, template) {
        (OperationKind::Entity, t) if t.starts_with("/Queues") => vec!["", "?$expand=Agents,Managers"],
        (OperationKind::Entity, _) => vec![""],
        (_, "/Queues") => vec!["", "?$count=true&$expand=Agents,Managers", "?$top=1&$skip=1&$count=true"],
        _ => vec!["", "?$count=true&$top=3"],
    }
}

async fn check_every_get(sim: &RunningSim, doc: &Document) {
    let token = token(sim).await;
    let (from, to) = (start_instant(), start_instant() + TimeDelta::hours(1));
    let mut failures = Vec::new();
    for op in OPERATIONS.iter().filter(|op| op.method == "GET") {
        let (id, number) = key_for(op.path, sim);
        let path = fill_template(op.path, (id, &number), from, to);
        for query in variants(op.path, op.kind) {
            let (status, body) = get_json(sim, &token, &format!("{path}{query}")).await;
            assert_eq!(status, 200, "{} {path}{query}: {body}", op.name);
            let rows = body.get("value").and_then(Value::as_array).map_or(1, Vec::len);
            if rows == 0 && !op.name.contains("FailedCallbacks") && query.is_empty() {
                failures.push(format!("{}: no rows to validate", op.name));
            }
            for error in violations(doc, op.path, "get", &body) {
                failures.push(format!("{} {query}: {error}", op.name));
            }
        }
    }
    assert!(failures.is_empty(), "{} schema violations:\n{}", failures.len(), failures.join("\n"));
}

#[tokio::test]
async fn every_get_answer_validates_against_the_documents_schema() {
    let Some(doc) = document() else { return };
    let wrong = serde_json::json!({"value": [{"Id": "1", "PollingStrategy": "Sideways"}]});
    assert_eq!(violations(&doc, "/Queues", "get", &wrong).len(), 2, "the validator checks types and enums");
    let sim = sim().await;
    advance_minutes(&sim, 70).await;
    check_every_get(&sim, &doc).await;
}

#[tokio::test]
async fn the_drop_call_answer_validates_against_the_documents_schema() {
    let Some(doc) = document() else { return };
    let sim = sim().await;
    advance_minutes(&sim, 5).await;
    let id = sim.state().with_simulation(|s| s.live_calls()[0].id);
    let response = reqwest::Client::new()
        .post(format!("{}/xapi/v1/ActiveCalls({id})/Pbx.DropCall", sim.base_url()))
        .bearer_auth(token(&sim).await)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    let template = OPERATIONS.iter().find(|op| op.method == "POST").expect("DropCall").path;
    assert_eq!(violations(&doc, template, "post", &body), Vec::<String>::new());
}
