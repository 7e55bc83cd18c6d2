//! Retries and typed errors against a fake PBX: Retry-After honoured, 503 retried, 500s
//! exhausting retries, timeouts, truncated JSON and OData error bodies.

mod common;

use std::time::{Duration, Instant};

use common::{list, ok_page, Pbx};
use lineup_xapi::{ErrorKind, ODataErrorDetail, Query, RetryPolicy, XapiClient, XapiError};
use serde_json::json;
use wiremock::matchers::{method, path};
use wiremock::{Mock, ResponseTemplate};

async fn respond_first(pbx: &Pbx, times: u64, response: ResponseTemplate) {
    Mock::given(method("GET"))
        .and(path("/xapi/v1/Users"))
        .respond_with(response)
        .up_to_n_times(times)
        .with_priority(1)
        .mount(&pbx.server)
        .await;
}

async fn then_succeed(pbx: &Pbx) {
    Mock::given(method("GET"))
        .and(path("/xapi/v1/Users"))
        .respond_with(ok_page(vec![json!({"Id": 7})]))
        .with_priority(2)
        .mount(&pbx.server)
        .await;
}

async fn data_requests(pbx: &Pbx) -> usize {
    pbx.requests_to("/xapi/v1/Users").await.len()
}

#[tokio::test]
async fn rate_limit_waits_the_retry_after_seconds() {
    let pbx = Pbx::start(3600).await;
    respond_first(&pbx, 1, ResponseTemplate::new(429).insert_header("Retry-After", "1")).await;
    then_succeed(&pbx).await;
    let client = pbx.client();

    let started = Instant::now();
    let page = list(&client, "/Users", &Query::new()).await.unwrap();
    let waited = started.elapsed();

    assert_eq!(page.value, vec![json!({"Id": 7})]);
    assert!(waited >= Duration::from_secs(1) && waited < Duration::from_millis(1500), "waited {waited:?}");
    assert_eq!(data_requests(&pbx).await, 2);
}

#[tokio::test]
async fn unavailable_with_http_date_waits_until_that_time() {
    let pbx = Pbx::start(3600).await;
    let at = chrono::Utc::now() + chrono::Duration::seconds(2);
    let http_date = at.format("%a, %d %b %Y %H:%M:%S GMT").to_string();
    respond_first(&pbx, 1, ResponseTemplate::new(503).insert_header("Retry-After", http_date.as_str())).await;
    then_succeed(&pbx).await;
    let client = pbx.client();

    let started = Instant::now();
    list(&client, "/Users", &Query::new()).await.unwrap();
    let waited = started.elapsed();

    // The date has whole seconds, so the wait is between 1 and 2 s.
    assert!(waited >= Duration::from_millis(900) && waited < Duration::from_millis(2500), "waited {waited:?}");
}

#[tokio::test]
async fn retry_after_beyond_the_cap_fails_at_once_with_the_delay() {
    let pbx = Pbx::start(3600).await;
    respond_first(&pbx, 1, ResponseTemplate::new(429).insert_header("Retry-After", "3600")).await;
    then_succeed(&pbx).await;
    let client = pbx.client();

    let error = list(&client, "/Users", &Query::new()).await.unwrap_err();

    assert_eq!(error, XapiError::RateLimited { retry_after: Some(Duration::from_secs(3600)) });
    assert_eq!(data_requests(&pbx).await, 1);
}

#[tokio::test]
async fn service_unavailable_is_retried_then_succeeds() {
    let pbx = Pbx::start(3600).await;
    respond_first(&pbx, 2, ResponseTemplate::new(503).set_body_string("<html>maintenance</html>")).await;
    then_succeed(&pbx).await;
    let client = pbx.client();

    let page = list(&client, "/Users", &Query::new()).await.unwrap();

    assert_eq!(page.value.len(), 1);
    assert_eq!(data_requests(&pbx).await, 3);
}

#[tokio::test]
async fn server_errors_exhaust_the_retries() {
    let pbx = Pbx::start(3600).await;
    respond_first(
        &pbx,
        100,
        ResponseTemplate::new(500).set_body_json(json!({"error": {"code": "E1", "message": "boom"}})),
    )
    .await;
    let client = pbx.client();

    let error = list(&client, "/Users", &Query::new()).await.unwrap_err();

    assert_eq!(error, XapiError::Server { status: 500, code: "E1".into(), message: "boom".into() });
    assert_eq!(data_requests(&pbx).await, 4, "one attempt and three retries");
}

#[tokio::test]
async fn retries_stop_at_the_time_budget() {
    let pbx = Pbx::start(3600).await;
    respond_first(&pbx, 100, ResponseTemplate::new(500)).await;
    let mut config = pbx.config();
    config.retry = RetryPolicy {
        max_retries: 100,
        initial_delay: Duration::from_millis(100),
        max_delay: Duration::from_millis(100),
        jitter: false,
        max_elapsed: Duration::from_millis(350),
        ..RetryPolicy::default()
    };
    let client = XapiClient::new(config).unwrap();

    let started = Instant::now();
    let error = list(&client, "/Users", &Query::new()).await.unwrap_err();

    assert_eq!(error.kind(), ErrorKind::Server);
    assert!(started.elapsed() < Duration::from_millis(600), "{:?}", started.elapsed());
    assert!(data_requests(&pbx).await <= 4);
}

#[tokio::test]
async fn slow_answer_times_out_and_the_retry_succeeds() {
    let pbx = Pbx::start(3600).await;
    respond_first(&pbx, 1, ok_page(vec![]).set_delay(Duration::from_secs(3))).await;
    then_succeed(&pbx).await;
    let mut config = pbx.config();
    config.request_timeout = Duration::from_millis(300);
    let client = XapiClient::new(config).unwrap();

    let started = Instant::now();
    let page = list(&client, "/Users", &Query::new()).await.unwrap();

    assert_eq!(page.value.len(), 1);
    assert!(started.elapsed() < Duration::from_secs(2));
    assert_eq!(data_requests(&pbx).await, 2);
}

#[tokio::test]
async fn slow_answer_without_retries_is_a_timeout_error() {
    let pbx = Pbx::start(3600).await;
    respond_first(&pbx, 1, ok_page(vec![]).set_delay(Duration::from_secs(3))).await;
    let mut config = pbx.config();
    config.request_timeout = Duration::from_millis(300);
    config.retry = RetryPolicy::never();
    let client = XapiClient::new(config).unwrap();

    let error = list(&client, "/Users", &Query::new()).await.unwrap_err();

    assert_eq!(error, XapiError::Timeout);
    assert!(error.is_retryable());
}

#[tokio::test]
async fn truncated_json_is_a_decode_error_sent_once() {
    let pbx = Pbx::start(3600).await;
    respond_first(
        &pbx,
        100,
        ResponseTemplate::new(200).set_body_raw(r#"{"value":[{"Id":1},{"Id""#, "application/json"),
    )
    .await;
    let client = pbx.client();

    let error = list(&client, "/Users", &Query::new()).await.unwrap_err();

    match &error {
        XapiError::Decode { message, excerpt } => {
            assert!(message.contains("EOF"), "{message}");
            assert_eq!(excerpt, r#"{"value":[{"Id":1},{"Id""#);
        }
        other => panic!("expected a decode error, got {other:?}"),
    }
    assert_eq!(data_requests(&pbx).await, 1);
}

#[tokio::test]
async fn odata_error_body_is_parsed_into_a_bad_request() {
    let pbx = Pbx::start(3600).await;
    let body = json!({"error": {
        "code": "",
        "message": "The query specified in the URI is not valid.",
        "details": [{"code": "", "message": "Could not find a property named 'Nme'.", "target": "$filter"}]
    }});
    respond_first(&pbx, 100, ResponseTemplate::new(400).set_body_json(body)).await;
    let client = pbx.client();

    let error = list(&client, "/Users", &Query::new()).await.unwrap_err();

    assert_eq!(
        error,
        XapiError::BadRequest {
            status: 400,
            code: String::new(),
            message: "The query specified in the URI is not valid.".into(),
            details: vec![ODataErrorDetail {
                code: String::new(),
                message: "Could not find a property named 'Nme'.".into(),
                target: Some("$filter".into()),
            }],
        }
    );
    assert_eq!(data_requests(&pbx).await, 1);
}
