//! Every fault the simulator injects, met by the real `lineup-xapi` client: it recovers where the
//! client's contract says it should and fails with the right typed error where it should not.

mod server_support;

use std::time::{Duration, Instant};

use lineup_pbx_sim::server::{RunningSim, SimServerConfig};
use lineup_xapi::generated::{CallHistoryView, GetCallLogDataParams};
use lineup_xapi::{ErrorKind, Query, RetryPolicy, SortOrder, XapiClient, XapiError};
use serde_json::json;
use server_support::*;

async fn tokens_issued(sim: &RunningSim) -> u64 {
    admin_get(sim, "/status").await["tokensIssued"].as_u64().expect("a count")
}

async fn nothing_pending(sim: &RunningSim) -> bool {
    admin_get(sim, "/faults").await.as_array().is_some_and(Vec::is_empty)
}

#[tokio::test]
async fn a_401_makes_the_client_fetch_a_new_token_and_succeed() {
    let sim = sim().await;
    let client = client(&sim);
    client.list_queues(&Query::new()).await.expect("first call");
    assert_eq!(tokens_issued(&sim).await, 1);
    arm(&sim, json!({"kind": "unauthorized", "pathContains": "/Queues"})).await;
    assert_eq!(client.list_queues(&Query::new()).await.expect("after a 401").value.len(), 5);
    assert_eq!(tokens_issued(&sim).await, 2);
    admin_post(&sim, "/revoke-token", json!(null)).await;
    client.list_users(&Query::new()).await.expect("after revocation");
    assert_eq!(tokens_issued(&sim).await, 3);
}

#[tokio::test]
async fn a_429_is_retried_after_the_retry_after_delay() {
    let sim = sim().await;
    let client = client(&sim);
    client.list_queues(&Query::new()).await.expect("warm up");
    arm(&sim, json!({"kind": "rateLimited", "retryAfterSecs": 1, "pathContains": "/Users"})).await;
    let started = Instant::now();
    client.list_users(&Query::new()).await.expect("after waiting");
    assert!(started.elapsed() >= Duration::from_secs(1), "waited {:?}", started.elapsed());
    assert!(nothing_pending(&sim).await);
}

#[tokio::test]
async fn server_errors_and_outages_are_retried_until_they_pass() {
    let sim = sim().await;
    let client = client(&sim);
    arm(&sim, json!([{"kind": "serverError", "times": 2}, {"kind": "unavailable", "retryAfterSecs": null}])).await;
    client.list_users(&Query::new()).await.expect("the fourth attempt succeeds");
    assert!(nothing_pending(&sim).await);

    let never = XapiClient::new(lineup_xapi::XapiConfig { retry: RetryPolicy::never(), ..client_config(&sim) })
        .expect("a client");
    arm(&sim, json!({"kind": "serverError"})).await;
    let error = never.list_users(&Query::new()).await.expect_err("not retried");
    assert!(
        matches!(error, XapiError::Server { status: 500, ref code, .. } if code == "InternalServerError"),
        "{error:?}"
    );
}

#[tokio::test]
async fn a_hang_times_out_and_the_retry_succeeds() {
    let sim = sim().await;
    let config = lineup_xapi::XapiConfig { request_timeout: Duration::from_millis(500), ..client_config(&sim) };
    let client = XapiClient::new(config.clone()).expect("a client");
    client.list_queues(&Query::new()).await.expect("warm up");
    arm(&sim, json!({"kind": "hang", "millis": 1500, "pathContains": "/Queues"})).await;
    let started = Instant::now();
    client.list_queues(&Query::new()).await.expect("the retry succeeds");
    assert!(started.elapsed() >= Duration::from_millis(500));

    let never = XapiClient::new(lineup_xapi::XapiConfig { retry: RetryPolicy::never(), ..config }).expect("a client");
    arm(&sim, json!({"kind": "hang", "millis": 1500, "pathContains": "/Queues"})).await;
    assert_eq!(never.list_queues(&Query::new()).await.expect_err("timed out").kind(), ErrorKind::Timeout);
}

#[tokio::test]
async fn a_slow_answer_within_the_timeout_arrives_once() {
    let sim = sim().await;
    let client = client(&sim);
    client.list_queues(&Query::new()).await.expect("warm up");
    let slow = json!({"kind": "slow", "millis": 400, "pathContains": "/Queues"});
    arm(&sim, json!([slow, {"kind": "serverError", "pathContains": "/Queues"}])).await;
    let started = Instant::now();
    client.list_queues(&Query::new()).await.expect("slow but fine");
    assert!(started.elapsed() >= Duration::from_millis(400));
    let pending = admin_get(&sim, "/faults").await;
    assert_eq!(pending[0]["kind"], "serverError", "the slow answer was not retried");
}

#[tokio::test]
async fn truncated_json_is_a_decode_error() {
    let sim = sim().await;
    let client = client(&sim);
    arm(&sim, json!({"kind": "truncatedJson", "pathContains": "/Queues"})).await;
    assert_eq!(client.list_queues(&Query::new()).await.expect_err("cut short").kind(), ErrorKind::Decode);
}

#[tokio::test]
async fn duplicated_and_reordered_rows_are_served_as_asked() {
    let sim = sim().await;
    let client = client(&sim);
    let now = advance_minutes(&sim, 20).await;
    let query = Query::new().order_by("SegmentId", SortOrder::Asc).top(20);
    let plain: Vec<CallHistoryView> = client.list_call_history(&query).await.expect("history").value;
    assert_eq!(plain.len(), 20);
    arm(&sim, json!({"kind": "duplicateRows", "pathContains": "/CallHistoryView"})).await;
    let doubled = client.list_call_history(&query).await.expect("history").value;
    let expected: Vec<CallHistoryView> = plain.iter().flat_map(|r| [r.clone(), r.clone()]).collect();
    assert_eq!(doubled, expected);

    let params = GetCallLogDataParams { period_from: start_instant(), period_to: now, ..Default::default() };
    let log = client.get_call_log_data(&params, &Query::new()).await.expect("call log").value;
    arm(&sim, json!({"kind": "reorderRows", "pathContains": "Pbx.GetCallLogData"})).await;
    let mut reordered = client.get_call_log_data(&params, &Query::new()).await.expect("call log").value;
    reordered.reverse();
    assert_eq!(reordered, log);
}

#[tokio::test]
async fn a_wrong_client_secret_is_refused() {
    let sim = sim().await;
    let config = lineup_xapi::XapiConfig { client_secret: "wrong".into(), ..client_config(&sim) };
    let error = XapiClient::new(config).expect("a client").list_queues(&Query::new()).await.expect_err("refused");
    assert!(matches!(&error, XapiError::TokenRejected { error, .. } if error == "invalid_client"), "{error:?}");
}

#[tokio::test]
async fn expiring_tokens_are_renewed_by_the_client() {
    let sim =
        sim_with(SimServerConfig { token_lifetime: Duration::from_secs(2), ..SimServerConfig::for_tests() }).await;
    let client = client(&sim);
    for _ in 0..6 {
        client.list_queues(&Query::new()).await.expect("every call succeeds");
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    assert!(tokens_issued(&sim).await >= 2, "the token was renewed before it expired");
}

#[tokio::test]
async fn an_unavailable_token_endpoint_is_retried() {
    let sim = sim().await;
    let client = client(&sim);
    arm(&sim, json!({"kind": "unavailable", "retryAfterSecs": null, "pathContains": "/connect/token"})).await;
    client.list_queues(&Query::new()).await.expect("the token request is retried");
    assert!(nothing_pending(&sim).await);
}
