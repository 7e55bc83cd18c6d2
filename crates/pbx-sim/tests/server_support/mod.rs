//! Shared helpers for the server's tests: a manual-clock simulator on loopback, a `lineup-xapi`
//! client for it, raw HTTP helpers, and the parameters every report is called with.
#![allow(dead_code)] // each test binary uses its own subset

use std::time::Duration;

use chrono::{DateTime, TimeDelta, TimeZone, Utc};
use lineup_pbx_sim::server::{start, RunningSim, SimServerConfig};
use lineup_xapi::{BreakerConfig, RetryPolicy, XapiClient, XapiConfig};
use serde_json::Value;

/// Monday 2026-11-23 08:00 UTC (09:00 local in the default scenario): the simulator's start.
pub fn start_instant() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 23, 8, 0, 0).single().expect("valid")
}

/// A manual-clock simulator of the default scenario, as [`SimServerConfig::for_tests`].
pub async fn sim() -> RunningSim {
    sim_with(SimServerConfig::for_tests()).await
}

/// A simulator with `config`.
pub async fn sim_with(config: SimServerConfig) -> RunningSim {
    start(config).await.expect("the simulator starts")
}

/// A client configuration for `sim`: quick retries without jitter, breaker off, 2 s timeout.
pub fn client_config(sim: &RunningSim) -> XapiConfig {
    let mut config =
        XapiConfig::new(sim.base_url(), SimServerConfig::DEFAULT_CLIENT_ID, SimServerConfig::DEFAULT_CLIENT_SECRET);
    config.request_timeout = Duration::from_secs(2);
    config.retry = RetryPolicy {
        max_retries: 3,
        initial_delay: Duration::from_millis(10),
        max_delay: Duration::from_millis(50),
        jitter: false,
        ..RetryPolicy::default()
    };
    config.breaker = BreakerConfig { failure_threshold: 0, cool_down: Duration::from_secs(30) };
    config
}

/// A client with [`client_config`].
pub fn client(sim: &RunningSim) -> XapiClient {
    XapiClient::new(client_config(sim)).expect("a valid client configuration")
}

/// Moves the simulator `minutes` ahead.
pub async fn advance_minutes(sim: &RunningSim, minutes: i64) -> DateTime<Utc> {
    sim.advance(TimeDelta::minutes(minutes)).await
}

/// A fresh access token from the token endpoint (ending any other).
pub async fn token(sim: &RunningSim) -> String {
    let response = reqwest::Client::new()
        .post(format!("{}/connect/token", sim.base_url()))
        .form(&[
            ("client_id", SimServerConfig::DEFAULT_CLIENT_ID),
            ("client_secret", SimServerConfig::DEFAULT_CLIENT_SECRET),
            ("grant_type", "client_credentials"),
        ])
        .send()
        .await
        .expect("the token endpoint answers");
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.expect("a JSON token");
    body["access_token"].as_str().expect("a token").to_string()
}

/// `GET /xapi/v1{path_and_query}` with `token`: the status and the body's bytes.
pub async fn get_raw(sim: &RunningSim, token: &str, path_and_query: &str) -> (u16, Vec<u8>) {
    let response = reqwest::Client::new()
        .get(format!("{}/xapi/v1{path_and_query}", sim.base_url()))
        .bearer_auth(token)
        .send()
        .await
        .expect("the simulator answers");
    let status = response.status().as_u16();
    (status, response.bytes().await.expect("a body").to_vec())
}

/// [`get_raw`] as JSON.
pub async fn get_json(sim: &RunningSim, token: &str, path_and_query: &str) -> (u16, Value) {
    let (status, body) = get_raw(sim, token, path_and_query).await;
    (status, serde_json::from_slice(&body).unwrap_or(Value::Null))
}

/// `POST /sim{path}` with a JSON body; the status and body.
pub async fn admin_post(sim: &RunningSim, path: &str, body: Value) -> (u16, Value) {
    let response = reqwest::Client::new()
        .post(format!("{}/sim{path}", sim.base_url()))
        .json(&body)
        .send()
        .await
        .expect("the admin API answers");
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// `GET /sim{path}` as JSON.
pub async fn admin_get(sim: &RunningSim, path: &str) -> Value {
    let response = reqwest::get(format!("{}/sim{path}", sim.base_url())).await.expect("the admin API answers");
    assert_eq!(response.status(), 200, "GET /sim{path}");
    response.json().await.expect("JSON")
}

/// Arms one fault (`{"kind": ...}`).
pub async fn arm(sim: &RunningSim, fault: Value) {
    let (status, _) = admin_post(sim, "/faults", fault).await;
    assert_eq!(status, 200);
}

/// An OData date-time literal.
pub fn literal(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true)
}

/// The value each report function parameter is called with in the path-template tests: the
/// simulated hour after the start, every queue, a 20-second threshold, hourly charts in UTC.
pub fn sample_parameter(name: &str, from: DateTime<Utc>, to: DateTime<Utc>) -> String {
    match name {
        "periodFrom" | "startDt" | "chartDate" => literal(from),
        "periodTo" | "endDt" => literal(to),
        "sourceType" | "destinationType" | "callsType" | "callTimeFilterType" => "0".into(),
        "hidePcalls" => "false".into(),
        "sourceFilter" | "destinationFilter" | "callTimeFilterFrom" | "callTimeFilterTo" => "null".into(),
        "queueDns" | "queueDnStr" => "''".into(),
        "waitInterval" | "answerInterval" => "'0:00:20'".into(),
        "chartBy" => "'hour'".into(),
        "clientTimeZone" => "'UTC'".into(),
        other => panic!("no sample value for parameter {other}"),
    }
}

/// `template` (an `OPERATIONS` path) with its `{placeholders}` filled: `{Id}` and `{Number}`
/// by `key`, function parameters by [`sample_parameter`].
pub fn fill_template(template: &str, key: (i32, &str), from: DateTime<Utc>, to: DateTime<Utc>) -> String {
    let mut out = String::new();
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let close = open + rest[open..].find('}').expect("a closed placeholder");
        let name = &rest[open + 1..close];
        match name {
            "Id" => out.push_str(&key.0.to_string()),
            "Number" => out.push_str(&format!("'{}'", key.1)),
            other => out.push_str(&sample_parameter(other, from, to)),
        }
        rest = &rest[close + 1..];
    }
    out.push_str(rest);
    out
}

/// A `{Id}`/`{Number}` key of the right kind for `template`: queue 1 (`800`) or the first
/// agent's user (`101`).
pub fn key_for(template: &str, sim: &RunningSim) -> (i32, String) {
    if template.starts_with("/Users") {
        (sim.state().directory().id("101"), "101".to_string())
    } else {
        (sim.state().directory().id("800"), "800".to_string())
    }
}
