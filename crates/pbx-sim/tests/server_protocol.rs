//! The simulator's wire protocol as raw HTTP sees it: the token endpoint, bearer checks,
//! OData envelopes and query options, and OData error bodies.

mod server_support;

use std::time::Duration;

use lineup_pbx_sim::server::SimServerConfig;
use serde_json::{json, Value};
use server_support::*;

async fn token_answer(sim: &lineup_pbx_sim::server::RunningSim, secret: &str, grant: &str) -> (u16, Value) {
    let response = reqwest::Client::new()
        .post(format!("{}/connect/token", sim.base_url()))
        .form(&[("client_id", SimServerConfig::DEFAULT_CLIENT_ID), ("client_secret", secret), ("grant_type", grant)])
        .send()
        .await
        .unwrap();
    (response.status().as_u16(), response.json().await.unwrap())
}

#[tokio::test]
async fn the_token_endpoint_issues_bearer_tokens_and_refuses_wrong_secrets() {
    let sim = sim().await;
    let (status, body) = token_answer(&sim, SimServerConfig::DEFAULT_CLIENT_SECRET, "client_credentials").await;
    assert_eq!((status, &body["token_type"], &body["expires_in"]), (200, &json!("Bearer"), &json!(3600)));
    let cases = [
        ("wrong", "client_credentials", "invalid_client"),
        ("lineup-sim-secret", "password", "unsupported_grant_type"),
    ];
    for (secret, grant, error) in cases {
        let (status, body) = token_answer(&sim, secret, grant).await;
        assert_eq!((status, body["error"].as_str()), (400, Some(error)));
    }
}

#[tokio::test]
async fn xapi_requests_need_a_live_unexpired_token() {
    let sim =
        sim_with(SimServerConfig { token_lifetime: Duration::from_millis(600), ..SimServerConfig::for_tests() }).await;
    let (status, body) = get_json(&sim, "not-a-token", "/Queues").await;
    assert_eq!((status, body["error"]["code"].as_str()), (401, Some("Unauthorized")));
    let first = token(&sim).await;
    assert_eq!(get_json(&sim, &first, "/Queues").await.0, 200);
    let second = token(&sim).await;
    assert_eq!(get_json(&sim, &first, "/Queues").await.0, 401, "a new token ends the previous one");
    assert_eq!(get_json(&sim, &second, "/Queues").await.0, 200);
    admin_post(&sim, "/revoke-token", Value::Null).await;
    assert_eq!(get_json(&sim, &second, "/Queues").await.0, 401, "revoked");
    let third = token(&sim).await;
    tokio::time::sleep(Duration::from_millis(700)).await;
    assert_eq!(get_json(&sim, &third, "/Queues").await.0, 401, "expired");
}

#[tokio::test]
async fn collections_come_in_odata_envelopes_with_query_options_applied() {
    let sim = sim().await;
    let token = token(&sim).await;
    let config = sim.state().with_simulation(|s| s.config().clone());
    let manager = config.agents.iter().find(|a| a.queues.iter().any(|q| q == "801")).expect("a member").dn.clone();
    let (status, body) = get_json(&sim, &token, "/Queues?$count=true").await;
    assert_eq!(status, 200);
    assert_eq!(body["@odata.context"], "/xapi/v1/$metadata#Queues");
    assert_eq!((body["@odata.count"].as_u64(), body["value"].as_array().map(Vec::len)), (Some(5), Some(5)));

    let cases: Vec<(&str, Value)> = vec![
        ("/Queues?$filter=Number%20eq%20'801'&$select=Id,Name", json!([{"Id": 2, "Name": "Support"}])),
        ("/Queues?$orderby=Name%20desc&$top=2&$select=Name", json!([{"Name": "VIP"}, {"Name": "Technical"}])),
        ("/Queues?$filter=startswith(Name,'S')&$skip=1&$select=Number", json!([{"Number": "801"}])),
        (
            "/Queues(2)?$select=Number&$expand=Managers($select=Number)",
            json!({
                "@odata.context": "/xapi/v1/$metadata#Queues/$entity",
                "Number": "801",
                "Managers": [{"Number": manager}],
            }),
        ),
    ];
    for (path, expected) in cases {
        let (status, body) = get_json(&sim, &token, path).await;
        assert_eq!(status, 200, "{path}");
        let got = if body.get("value").is_some() { body["value"].clone() } else { body };
        assert_eq!(got, expected, "{path}");
    }
}

#[tokio::test]
async fn errors_are_odata_error_bodies_with_their_status() {
    let sim = sim().await;
    let token = token(&sim).await;
    let cases = [
        ("/Nothing", 404),
        ("/Queues(999)", 404),
        ("/Users(Number='nobody')", 404),
        ("/Queues?$filter=Name%20eq", 400),
        ("/Queues?$top=-1", 400),
        ("/Users?$expand=Groups", 400),
        ("/Queues('x')", 400),
        ("/ReportStatisticSla/Pbx.GetStatisticSlaData(queueDnStr=null)", 400),
    ];
    for (path, status) in cases {
        let (got, body) = get_json(&sim, &token, path).await;
        assert_eq!(got, status, "{path}");
        assert!(body["error"]["code"].is_string() && body["error"]["message"].is_string(), "{path}: {body}");
    }
    let response = reqwest::Client::new()
        .post(format!("{}/xapi/v1/Queues", sim.base_url()))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 405);
}

#[tokio::test]
async fn the_admin_api_reports_status_and_moves_time() {
    let sim = sim().await;
    let status = admin_get(&sim, "/status").await;
    assert_eq!((status["mode"].as_str(), status["simTime"].as_str()), (Some("manual"), Some("2026-11-23T08:00:00Z")));
    let (code, status) = admin_post(&sim, "/advance?seconds=90.5", Value::Null).await;
    assert_eq!((code, status["simTime"].as_str()), (200, Some("2026-11-23T08:01:30.500Z")));
    let truth = admin_get(&sim, "/truth?intervalSecs=60").await;
    assert_eq!(truth["intervals"].as_array().map(Vec::len), Some(5 * 2), "5 queues, two minutes");
    let (code, _) = admin_post(&sim, "/advance?seconds=-1", Value::Null).await;
    assert_eq!(code, 400);
}

#[tokio::test]
async fn a_scaled_clock_moves_the_model_with_the_wall_clock() {
    use lineup_pbx_sim::server::TimeMode;
    let config = SimServerConfig {
        time: TimeMode::Scaled { factor: 3600.0 },
        tick: Some(Duration::from_millis(50)),
        ..SimServerConfig::for_tests()
    };
    let sim = sim_with(config).await;
    tokio::time::sleep(Duration::from_millis(400)).await;
    let status = admin_get(&sim, "/status").await;
    assert_eq!((status["mode"].as_str(), status["timeScale"].as_f64()), (Some("scaled"), Some(3600.0)));
    let now: chrono::DateTime<chrono::Utc> = status["simTime"].as_str().expect("a time").parse().expect("RFC 3339");
    assert!(now >= start_instant() + chrono::TimeDelta::minutes(20), "an hour a second: {now}");
    assert!(status["finishedCalls"].as_u64() > Some(0), "{status}");
}
