//! Property tests of the two doors: the credential extractor and the login endpoint. Whatever
//! arrives, the answer is a problem document with a 4xx status, never a 5xx and never access.

use lineup_domain::Role;
use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use reqwest::header::HeaderValue;
use reqwest::Method;
use serde_json::json;

use crate::common::{make_user, sqlite_server, TestServer};

/// Authorization header values: schemes, token prefixes and bodies mixed with arbitrary text.
fn authorization() -> impl Strategy<Value = Vec<u8>> {
    let scheme = prop_oneof![
        Just("Bearer ".to_string()),
        Just("bearer ".to_string()),
        Just("BEARER\t".to_string()),
        Just("Basic ".to_string()),
        Just(String::new()),
        "[ -~]{0,12}",
    ];
    let prefix = prop_oneof![Just("lu_at_"), Just("lu_key_"), Just("lu_rt_"), Just("lu_st_"), Just("lu_"), Just(""),];
    let body = prop_oneof!["[A-Za-z0-9_-]{43}", "[A-Za-z0-9_-]{0,80}", "[ -~]{0,80}", "\\PC{0,20}"];
    let raw = proptest::collection::vec(any::<u8>(), 0..64);
    prop_oneof![
        4 => (scheme, prefix, body).prop_map(|(s, p, b)| format!("{s}{p}{b}").into_bytes()),
        1 => raw,
    ]
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap()
}

fn check_refusal(answer: &crate::common::Answer, what: &str) -> Result<(), TestCaseError> {
    let status = answer.status.as_u16();
    prop_assert!((400..500).contains(&status), "{what}: {status} {}", answer.body);
    prop_assert_eq!(answer.header("content-type"), "application/problem+json", "{}", what);
    Ok(())
}

#[test]
fn no_authorization_header_gets_in_or_breaks_the_server() {
    let rt = runtime();
    let s: TestServer = rt.block_on(sqlite_server());
    let mut runner = TestRunner::new(Config { cases: 400, ..Config::default() });
    runner
        .run(&authorization(), |value| {
            let Ok(header) = HeaderValue::from_bytes(&value) else {
                return Ok(()); // Not sendable over HTTP at all.
            };
            let req = s.anonymous().request(Method::GET, "/api/v1/queues").header("authorization", header);
            let resp = rt.block_on(req.send()).unwrap();
            let status = resp.status().as_u16();
            let content_type = resp.headers().get("content-type").cloned();
            prop_assert_eq!(status, 401, "{:?}", String::from_utf8_lossy(&value));
            prop_assert_eq!(content_type.unwrap(), "application/problem+json");
            Ok(())
        })
        .unwrap();
}

#[test]
fn a_real_key_with_any_one_character_changed_is_refused() {
    let rt = runtime();
    let s: TestServer = rt.block_on(sqlite_server());
    let key = rt.block_on(crate::common::make_api_key(&s.store, s.tenant, Role::Admin));
    rt.block_on(s.as_token(&key).get("/api/v1/queues")).expect(200);
    let mut runner = TestRunner::new(Config { cases: 200, ..Config::default() });
    let strategy = (0..key.len(), prop::sample::select(b"ABCXYZabcxyz0189-_".to_vec()));
    runner
        .run(&strategy, |(at, byte)| {
            let mut forged = key.clone().into_bytes();
            prop_assume!(forged[at] != byte);
            forged[at] = byte;
            let forged = String::from_utf8(forged).unwrap();
            let answer = rt.block_on(s.as_token(&forged).get("/api/v1/queues"));
            prop_assert_eq!(answer.status.as_u16(), 401, "{}", forged);
            Ok(())
        })
        .unwrap();
}

#[test]
fn no_login_attempt_gets_in_without_the_password_or_breaks_the_server() {
    let rt = runtime();
    let s: TestServer = rt.block_on(sqlite_server());
    rt.block_on(make_user(&s.store, s.tenant, "victim", Role::Admin, "the real password"));
    let username = prop_oneof![Just("victim".to_string()), Just("VICTIM ".to_string()), "\\PC{0,80}"];
    let password =
        prop_oneof![Just("the real password ".to_string()), Just("The real password".to_string()), "\\PC{0,300}"];
    let tenant = proptest::option::of(prop_oneof![Just(s.slug.clone()), "[a-z-]{0,20}"]);
    let json_body = (username, password, tenant).prop_map(|(u, p, t)| match t {
        Some(t) => json!({"username": u, "password": p, "tenant": t}).to_string().into_bytes(),
        None => json!({"username": u, "password": p}).to_string().into_bytes(),
    });
    let shapes = prop_oneof![
        Just(b"{}".to_vec()),
        Just(b"{\"username\": 1, \"password\": []}".to_vec()),
        Just(b"{\"username\": \"victim\", \"password\": \"x\", \"admin\": true}".to_vec()),
        Just(b"[]".to_vec()),
    ];
    let bodies = prop_oneof![6 => json_body, 1 => shapes, 1 => proptest::collection::vec(any::<u8>(), 0..200)];
    let mut runner = TestRunner::new(Config { cases: 150, ..Config::default() });
    runner
        .run(&bodies, |body| {
            let answer = rt.block_on(s.anonymous().call_raw(
                Method::POST,
                "/api/v1/auth/login",
                body.clone(),
                Some("application/json"),
            ));
            check_refusal(&answer, &String::from_utf8_lossy(&body))
        })
        .unwrap();
    // And the right password still works after all that.
    rt.block_on(s.login("victim", "the real password"));
}
