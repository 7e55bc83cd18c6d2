//! The protective layers over HTTP: rate limits per caller and per address (429 with
//! `Retry-After`), login throttling, the body size limit, security headers and CORS.

use lineup_api::{ApiConfig, Rate, RateLimits};
use lineup_domain::Role;
use reqwest::header::HeaderValue;
use reqwest::Method;
use serde_json::json;

use crate::common::{make_user, sqlite_server, sqlite_server_with, test_config};

fn limited(limits: RateLimits) -> ApiConfig {
    ApiConfig { rate_limits: limits, ..test_config() }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_caller_over_its_rate_gets_429_with_retry_after_and_others_do_not() {
    let limits = RateLimits { per_principal: Some(Rate::per_minute(6, 5)), ..RateLimits::off() };
    let s = sqlite_server_with(limited(limits)).await;
    let agent = s.as_role(Role::Agent).await;
    for _ in 0..5 {
        agent.get("/api/v1/queues").await.expect(200);
    }
    let refused = agent.get("/api/v1/queues").await;
    let retry: u64 = refused.header("retry-after").parse().expect("Retry-After in seconds");
    assert!((1..=10).contains(&retry), "{retry}");
    let body = refused.problem(429, "rate-limited");
    assert!(body["detail"].as_str().unwrap().contains("retry in"), "{body}");
    // Another caller has its own bucket.
    s.as_role(Role::Agent).await.get("/api/v1/queues").await.expect(200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_address_over_its_rate_gets_429_even_without_credentials() {
    let limits = RateLimits { per_ip: Some(Rate::per_minute(6, 3)), ..RateLimits::off() };
    let s = sqlite_server_with(limited(limits)).await;
    let anon = s.anonymous();
    for _ in 0..3 {
        assert_eq!(anon.get("/api/v1/queues").await.status, 401);
    }
    let refused = anon.get("/api/v1/queues").await;
    assert!(!refused.header("retry-after").is_empty());
    refused.problem(429, "rate-limited");
    // The probes are limited too: the limit is on the address, whatever it asks.
    assert_eq!(anon.get("/healthz").await.status, 429);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn password_guessing_is_throttled_per_username_and_per_address() {
    let limits = RateLimits { login_per_username: Some(Rate::per_minute(3, 3)), ..RateLimits::off() };
    let s = sqlite_server_with(limited(limits)).await;
    make_user(&s.store, s.tenant, "target", Role::Admin, "the real password").await;
    let anon = s.anonymous();
    for guess in ["guess number 1", "guess number 2", "guess number 3"] {
        let body = json!({"username": "target", "password": guess});
        anon.post("/api/v1/auth/login", body).await.problem(401, "invalid-credentials");
    }
    // Even the right password waits now: the throttle runs before the password is checked.
    let body = json!({"username": "TARGET", "password": "the real password"});
    let throttled = anon.post("/api/v1/auth/login", body).await;
    assert!(throttled.header("retry-after").parse::<u64>().unwrap() >= 1);
    throttled.problem(429, "rate-limited");

    let limits = RateLimits { login_per_ip: Some(Rate::per_minute(2, 2)), ..RateLimits::off() };
    let s = sqlite_server_with(limited(limits)).await;
    let anon = s.anonymous();
    for user in ["spray-1", "spray-2"] {
        let body = json!({"username": user, "password": "Winter2026!!"});
        anon.post("/api/v1/auth/login", body).await.problem(401, "invalid-credentials");
    }
    let body = json!({"username": "spray-3", "password": "Winter2026!!"});
    anon.post("/api/v1/auth/login", body).await.problem(429, "rate-limited");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bodies_over_the_limit_are_refused_with_413_and_store_nothing() {
    let s = sqlite_server_with(ApiConfig { body_limit_bytes: 4096, ..test_config() }).await;
    let big = json!({"name": "x".repeat(5000), "statuses": [{"label": "A"}]});
    let answer = s.post("/api/v1/templates", big).await;
    answer.problem(413, "payload-too-large");
    assert_eq!(s.get("/api/v1/templates").await.expect(200)["items"], json!([]));
    let small = json!({"name": "Fits", "statuses": [{"label": "A"}]});
    s.post("/api/v1/templates", small).await.expect(201);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_answer_carries_the_security_headers() {
    let s = sqlite_server_with(ApiConfig { hsts: true, ..test_config() }).await;
    for (caller, path) in
        [(s.admin.clone(), "/api/v1/queues"), (s.anonymous(), "/api/v1/queues"), (s.anonymous(), "/healthz")]
    {
        let a = caller.get(path).await;
        assert_eq!(a.header("x-content-type-options"), "nosniff", "{path}");
        assert_eq!(a.header("x-frame-options"), "DENY");
        assert_eq!(a.header("referrer-policy"), "no-referrer");
        assert!(a.header("content-security-policy").contains("frame-ancestors 'none'"));
        assert!(a.header("strict-transport-security").starts_with("max-age="));
        if path.starts_with("/api/v1") {
            assert_eq!(a.header("cache-control"), "no-store", "API answers hold tenant data");
        }
    }
    let plain = sqlite_server().await;
    assert_eq!(plain.get("/healthz").await.header("strict-transport-security"), "", "HSTS only when configured");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cors_answers_only_configured_origins() {
    let origin = "https://wall.example.test";
    let config = ApiConfig { cors_allowed_origins: vec![HeaderValue::from_static(origin)], ..test_config() };
    let s = sqlite_server_with(config).await;
    let preflight = |from: &'static str| {
        s.anonymous()
            .request(Method::OPTIONS, "/api/v1/queues")
            .header("origin", from)
            .header("access-control-request-method", "POST")
            .header("access-control-request-headers", "authorization, content-type")
            .send()
    };
    let allowed = preflight(origin).await.unwrap();
    assert_eq!(allowed.headers()["access-control-allow-origin"], origin);
    let methods = allowed.headers()["access-control-allow-methods"].to_str().unwrap().to_string();
    assert!(methods.contains("POST"), "{methods}");
    let other = preflight("https://evil.example.test").await.unwrap();
    assert!(other.headers().get("access-control-allow-origin").is_none());
    let get = s.request(Method::GET, "/api/v1/queues").header("origin", origin).send().await.unwrap();
    assert_eq!(get.headers()["access-control-allow-origin"], origin);
    // Without configured origins there is no CORS at all.
    let closed = sqlite_server().await;
    let get = closed.request(Method::GET, "/api/v1/queues").header("origin", origin).send().await.unwrap();
    assert!(get.headers().get("access-control-allow-origin").is_none());
}
