//! The token cache against a fake PBX: fetched once, refreshed before expiry, replaced once on
//! 401, single-flight, and typed errors for refused credentials.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::{list, ok_page, Pbx};
use lineup_xapi::{ManualClock, Query, XapiClient, XapiError};
use serde_json::json;
use wiremock::matchers::{body_string_contains, header, method, path};
use wiremock::{Mock, ResponseTemplate};

#[tokio::test]
async fn token_is_fetched_once_with_client_credentials_and_reused() {
    let pbx = Pbx::start(3600).await;
    Mock::given(method("GET"))
        .and(path("/xapi/v1/Users"))
        .and(header("authorization", "Bearer tok-1"))
        .respond_with(ok_page(vec![json!({"Id": 1})]))
        .expect(3)
        .mount(&pbx.server)
        .await;
    let client = pbx.client();

    for _ in 0..3 {
        list(&client, "/Users", &Query::new()).await.unwrap();
    }

    assert_eq!(pbx.tokens(), 1);
    let token_requests = pbx.requests_to("/connect/token").await;
    let form = String::from_utf8_lossy(&token_requests[0].body).into_owned();
    for field in ["grant_type=client_credentials", "client_id=lineup", "client_secret=s3cr3t"] {
        assert!(form.contains(field), "{form}");
    }
    pbx.server.verify().await;
}

#[tokio::test]
async fn token_is_refreshed_before_it_expires() {
    let pbx = Pbx::start(120).await;
    Mock::given(method("GET")).and(path("/xapi/v1/Users")).respond_with(ok_page(vec![])).mount(&pbx.server).await;
    let clock = Arc::new(ManualClock::new());
    let mut config = pbx.config();
    config.token_refresh_margin = Duration::from_secs(30);
    let client = XapiClient::with_clock(config, clock.clone()).unwrap();

    list(&client, "/Users", &Query::new()).await.unwrap();
    clock.advance(Duration::from_secs(89));
    list(&client, "/Users", &Query::new()).await.unwrap();
    assert_eq!(pbx.tokens(), 1, "still outside the margin");

    clock.advance(Duration::from_secs(1));
    list(&client, "/Users", &Query::new()).await.unwrap();
    assert_eq!(pbx.tokens(), 2, "90 s into a 120 s token with a 30 s margin");
    let last = pbx.requests_to("/xapi/v1/Users").await.pop().unwrap();
    assert_eq!(last.headers["authorization"], "Bearer tok-2");
}

#[tokio::test]
async fn unauthorized_data_call_replaces_the_token_once_and_retries_once() {
    let pbx = Pbx::start(3600).await;
    Mock::given(method("GET"))
        .and(path("/xapi/v1/Users"))
        .and(header("authorization", "Bearer tok-1"))
        .respond_with(ResponseTemplate::new(401))
        .expect(1)
        .mount(&pbx.server)
        .await;
    Mock::given(method("GET"))
        .and(path("/xapi/v1/Users"))
        .and(header("authorization", "Bearer tok-2"))
        .respond_with(ok_page(vec![json!({"Id": 1})]))
        .expect(1)
        .mount(&pbx.server)
        .await;
    let client = pbx.client();

    let page = list(&client, "/Users", &Query::new()).await.unwrap();

    assert_eq!(page.value.len(), 1);
    assert_eq!(pbx.tokens(), 2);
    pbx.server.verify().await;
}

#[tokio::test]
async fn second_unauthorized_answer_is_an_error_without_a_loop() {
    let pbx = Pbx::start(3600).await;
    Mock::given(method("GET"))
        .and(path("/xapi/v1/Users"))
        .respond_with(
            ResponseTemplate::new(401).set_body_json(json!({"error": {"code": "", "message": "token revoked"}})),
        )
        .expect(2)
        .mount(&pbx.server)
        .await;
    let client = pbx.client();

    let error = list(&client, "/Users", &Query::new()).await.unwrap_err();

    assert_eq!(error, XapiError::Unauthorized { message: "token revoked".into() });
    assert_eq!(pbx.tokens(), 2);
    pbx.server.verify().await;
}

#[tokio::test]
async fn wrong_secret_is_a_typed_token_error_and_not_retried() {
    let pbx = Pbx::start(3600).await;
    let mut config = pbx.config();
    config.client_secret = "wrong".into();
    let client = XapiClient::new(config).unwrap();

    let error = list(&client, "/Users", &Query::new()).await.unwrap_err();

    assert_eq!(
        error,
        XapiError::TokenRejected { error: "invalid_client".into(), description: "Invalid client secret".into() }
    );
    assert!(!error.is_retryable());
    assert_eq!(pbx.requests_to("/connect/token").await.len(), 1);
    assert!(pbx.requests_to("/xapi/v1/Users").await.is_empty());
}

#[tokio::test]
async fn token_endpoint_refusal_without_oauth_body_keeps_the_status() {
    let pbx = Pbx::start(3600).await;
    let mut config = pbx.config();
    config.base_url = format!("{}/elsewhere", pbx.server.uri());
    Mock::given(method("POST"))
        .and(path("/elsewhere/connect/token"))
        .and(body_string_contains("grant_type=client_credentials"))
        .respond_with(ResponseTemplate::new(401).set_body_string("<html>Unauthorized</html>"))
        .mount(&pbx.server)
        .await;
    let client = XapiClient::new(config).unwrap();

    let error = list(&client, "/Users", &Query::new()).await.unwrap_err();

    assert_eq!(
        error,
        XapiError::TokenRejected { error: "http_401".into(), description: "<html>Unauthorized</html>".into() }
    );
}

#[tokio::test]
async fn concurrent_first_calls_share_one_token_request() {
    let pbx = Pbx::start(3600).await;
    Mock::given(method("GET")).and(path("/xapi/v1/Users")).respond_with(ok_page(vec![])).mount(&pbx.server).await;
    let client = pbx.client();

    let calls: Vec<_> = (0..16)
        .map(|_| {
            let client = client.clone();
            tokio::spawn(async move { list(&client, "/Users", &Query::new()).await })
        })
        .collect();
    for call in calls {
        call.await.unwrap().unwrap();
    }

    assert_eq!(pbx.tokens(), 1);
}

#[tokio::test]
async fn client_debug_output_hides_the_secret() {
    let pbx = Pbx::start(3600).await;
    let client = pbx.client();
    let shown = format!("{client:?} {:?}", client.config());
    assert!(!shown.contains(common::SECRET), "{shown}");
}
