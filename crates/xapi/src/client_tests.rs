//! `get_entity` and `post_action` against wiremock (the fixed interface is crate-private).

use serde_json::json;
use wiremock::matchers::{body_json, header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use super::*;

async fn pbx() -> (MockServer, XapiClient) {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/connect/token"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "token_type": "Bearer", "expires_in": 3600, "access_token": "tok"
        })))
        .mount(&server)
        .await;
    let mut config = XapiConfig::new(format!("{}/", server.uri()), "lineup", "secret");
    config.retry = crate::policy::RetryPolicy::never();
    let client = XapiClient::new(config).unwrap();
    (server, client)
}

#[tokio::test]
async fn get_entity_decodes_the_entity() {
    let (server, client) = pbx().await;
    Mock::given(method("GET"))
        .and(path("/xapi/v1/Queues(Number='800')"))
        .and(header("authorization", "Bearer tok"))
        .and(header("accept", "application/json"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"Id": 3, "Number": "800"})))
        .mount(&server)
        .await;

    let queue: serde_json::Value =
        client.get_entity("Queues.GetQueueByNumber", "/Queues(Number='800')".into(), &Query::new()).await.unwrap();

    assert_eq!(queue, json!({"Id": 3, "Number": "800"}));
}

#[tokio::test]
async fn post_action_sends_the_json_body_and_accepts_no_content() {
    let (server, client) = pbx().await;
    Mock::given(method("POST"))
        .and(path("/xapi/v1/Queues(4)/Pbx.ResetQueueStatistics"))
        .and(body_json(json!({"reason": "test"})))
        .respond_with(ResponseTemplate::new(204))
        .expect(1)
        .mount(&server)
        .await;

    client
        .post_action("Queues.Reset", "/Queues(4)/Pbx.ResetQueueStatistics".into(), Some(json!({"reason": "test"})))
        .await
        .unwrap();

    server.verify().await;
}

#[tokio::test]
async fn post_action_to_a_gone_call_is_not_found() {
    let (server, client) = pbx().await;
    Mock::given(method("POST"))
        .and(path("/xapi/v1/ActiveCalls(12)/Pbx.DropCall"))
        .respond_with(ResponseTemplate::new(404))
        .mount(&server)
        .await;

    let error = client.post_action("ActiveCalls.DropCall", "/ActiveCalls(12)/Pbx.DropCall".into(), None).await;

    assert_eq!(error, Err(XapiError::NotFound { message: String::new() }));
}

#[test]
fn base_url_must_be_http() {
    let error = XapiClient::new(XapiConfig::new("ftp://pbx", "id", "secret")).unwrap_err();
    assert!(matches!(error, XapiError::InvalidRequest { .. }), "{error:?}");
}
