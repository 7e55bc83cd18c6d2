//! The circuit breaker against a fake PBX, on a manual clock.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::{list, ok_page, Pbx};
use lineup_xapi::{BreakerConfig, BreakerState, ManualClock, Query, RetryPolicy, XapiClient, XapiError};
use wiremock::matchers::{method, path};
use wiremock::{Mock, ResponseTemplate};

async fn failing_then_healthy(pbx: &Pbx, failures: u64) {
    Mock::given(method("GET"))
        .and(path("/xapi/v1/Users"))
        .respond_with(ResponseTemplate::new(500))
        .up_to_n_times(failures)
        .with_priority(1)
        .mount(&pbx.server)
        .await;
    Mock::given(method("GET"))
        .and(path("/xapi/v1/Users"))
        .respond_with(ok_page(vec![]))
        .with_priority(2)
        .mount(&pbx.server)
        .await;
}

fn client(pbx: &Pbx, clock: &Arc<ManualClock>) -> XapiClient {
    let mut config = pbx.config();
    config.retry = RetryPolicy::never();
    config.breaker = BreakerConfig { failure_threshold: 3, cool_down: Duration::from_secs(30) };
    XapiClient::with_clock(config, clock.clone()).unwrap()
}

#[tokio::test]
async fn circuit_opens_after_consecutive_failures_and_fails_fast() {
    let pbx = Pbx::start(3600).await;
    failing_then_healthy(&pbx, 3).await;
    let clock = Arc::new(ManualClock::new());
    let client = client(&pbx, &clock);

    for _ in 0..3 {
        let error = list(&client, "/Users", &Query::new()).await.unwrap_err();
        assert_eq!(error.kind(), lineup_xapi::ErrorKind::Server);
    }
    assert_eq!(client.breaker_state(), BreakerState::Open);

    let error = list(&client, "/Users", &Query::new()).await.unwrap_err();
    assert_eq!(error, XapiError::CircuitOpen { retry_in: Duration::from_secs(30) });
    assert_eq!(pbx.requests_to("/xapi/v1/Users").await.len(), 3, "the fourth call never left");
}

#[tokio::test]
async fn circuit_half_opens_after_the_cool_down_and_closes_on_a_successful_probe() {
    let pbx = Pbx::start(3600).await;
    failing_then_healthy(&pbx, 3).await;
    let clock = Arc::new(ManualClock::new());
    let client = client(&pbx, &clock);
    for _ in 0..3 {
        list(&client, "/Users", &Query::new()).await.unwrap_err();
    }

    clock.advance(Duration::from_secs(29));
    assert_eq!(client.breaker_state(), BreakerState::Open);
    clock.advance(Duration::from_secs(1));
    assert_eq!(client.breaker_state(), BreakerState::HalfOpen);

    list(&client, "/Users", &Query::new()).await.unwrap();
    assert_eq!(client.breaker_state(), BreakerState::Closed);
    list(&client, "/Users", &Query::new()).await.unwrap();
}

#[tokio::test]
async fn failed_probe_opens_the_circuit_again() {
    let pbx = Pbx::start(3600).await;
    failing_then_healthy(&pbx, 4).await;
    let clock = Arc::new(ManualClock::new());
    let client = client(&pbx, &clock);
    for _ in 0..3 {
        list(&client, "/Users", &Query::new()).await.unwrap_err();
    }
    clock.advance(Duration::from_secs(30));

    list(&client, "/Users", &Query::new()).await.unwrap_err();

    assert_eq!(client.breaker_state(), BreakerState::Open);
}

#[tokio::test]
async fn client_errors_do_not_open_the_circuit() {
    let pbx = Pbx::start(3600).await;
    Mock::given(method("GET"))
        .and(path("/xapi/v1/Users"))
        .respond_with(ResponseTemplate::new(404))
        .mount(&pbx.server)
        .await;
    let clock = Arc::new(ManualClock::new());
    let client = client(&pbx, &clock);

    for _ in 0..5 {
        list(&client, "/Users", &Query::new()).await.unwrap_err();
    }

    assert_eq!(client.breaker_state(), BreakerState::Closed);
}
