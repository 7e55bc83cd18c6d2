//! The role matrix over HTTP: every role calls every operation. A role without the operation's
//! permission (as `lineup_api::openapi::OPERATION_PERMISSIONS` and the document's
//! `x-lineup-permission` say) gets a `forbidden` problem; a role with it never does. Callers with
//! no, a malformed, an unknown, an expired or a revoked credential get `unauthenticated`.

use std::time::Duration;

use lineup_api::openapi::{OPERATION_PERMISSIONS, PERMISSION_EXTENSION};
use lineup_api::ApiConfig;
use lineup_domain::Role;
use reqwest::Method;
use serde_json::{json, Value};
use uuid::Uuid;

use crate::common::{make_user, sqlite_server, sqlite_server_with, test_config, Caller, TestServer};

/// Every documented operation with random ids, and whether it needs a credential.
fn operations(doc: &Value) -> Vec<(String, String, String, Option<String>)> {
    let id = Uuid::new_v4().to_string();
    let mut out = Vec::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            let url: String = path
                .split('/')
                .map(|seg| if seg.starts_with('{') { id.as_str() } else { seg })
                .collect::<Vec<_>>()
                .join("/");
            let permission = op.get(PERMISSION_EXTENSION).map(|p| p.as_str().unwrap().to_string());
            out.push((method.clone(), path.clone(), url, permission));
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_role_gets_exactly_what_the_matrix_grants() {
    let s = sqlite_server().await;
    let doc = s.get("/api/v1/openapi.json").await.expect(200);
    let ops = operations(&doc);
    assert_eq!(
        ops.iter().filter(|o| o.3.is_some()).count(),
        OPERATION_PERMISSIONS.len(),
        "every listed operation carries {PERMISSION_EXTENSION}"
    );
    for role in Role::ALL {
        let caller = s.as_role(role).await;
        for (method, path, url, permission) in &ops {
            let Some(permission) = permission else { continue };
            let m: Method = method.to_uppercase().parse().unwrap();
            let answer = caller.call(m, url, Some(json!({}))).await;
            let allowed = permission == "authenticated"
                || lineup_domain::Permission::ALL.iter().any(|p| p.as_str() == permission && role.allows(*p));
            if allowed {
                assert!(
                    answer.status != 403 && answer.status != 401,
                    "{role} should pass {method} {path} ({permission}): {}",
                    answer.body
                );
            } else {
                let body = answer.problem(403, "forbidden");
                let detail = body["detail"].as_str().unwrap();
                assert!(detail.contains(role.as_str()) && detail.contains(permission), "{detail}");
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn me_reports_the_role_and_its_permissions() {
    let s = sqlite_server().await;
    for role in Role::ALL {
        let me = s.as_role(role).await.get("/api/v1/me").await.expect(200);
        assert_eq!(me["role"], role.as_str());
        assert_eq!(me["tenant"]["id"], s.tenant.to_string());
        assert!(me["user"].is_null() && me["apiKey"]["name"].is_string());
        let granted: Vec<&str> = me["permissions"].as_array().unwrap().iter().map(|p| p.as_str().unwrap()).collect();
        let expected: Vec<&str> =
            lineup_domain::Permission::ALL.iter().filter(|p| role.allows(**p)).map(|p| p.as_str()).collect();
        assert_eq!(granted, expected, "{role}");
    }
}

/// Every operation that needs a credential refuses `caller` with an `unauthenticated` problem
/// carrying `WWW-Authenticate`, and changes nothing.
async fn refused_everywhere(s: &TestServer, caller: &Caller, what: &str) {
    let doc = s.get("/api/v1/openapi.json").await.expect(200);
    for (method, path, url, permission) in operations(&doc) {
        if permission.is_none() {
            continue;
        }
        let m: Method = method.to_uppercase().parse().unwrap();
        let answer = caller.call(m, &url, Some(json!({"name": "x"}))).await;
        assert!(answer.header("www-authenticate").starts_with("Bearer"), "{what}: {method} {path}");
        answer.problem(401, "unauthenticated");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missing_malformed_and_unknown_credentials_are_refused_everywhere() {
    let s = sqlite_server().await;
    let queues_before = s.get("/api/v1/queues").await.expect(200);
    refused_everywhere(&s, &s.anonymous(), "no credential").await;
    let unknown_key = lineup_security::issue(lineup_security::TokenKind::ApiKey).plain;
    refused_everywhere(&s, &s.as_token(&unknown_key), "unknown key").await;
    refused_everywhere(&s, &s.as_token("not-a-token"), "garbage").await;
    let refresh = lineup_security::issue(lineup_security::TokenKind::Refresh).plain;
    refused_everywhere(&s, &s.as_token(&refresh), "a refresh token as bearer").await;
    let basic = s.anonymous().request(Method::GET, "/api/v1/queues").header("authorization", "Basic YTpi");
    let answer = basic.send().await.unwrap();
    assert_eq!(answer.status(), 401);
    assert_eq!(s.get("/api/v1/queues").await.expect(200), queues_before);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn revoked_keys_and_signed_out_sessions_are_refused_everywhere() {
    let s = sqlite_server().await;
    let key = s.post("/api/v1/api-keys", json!({"name": "Soon gone", "role": "supervisor"})).await.expect(201);
    let secret = key["secret"].as_str().unwrap().to_string();
    s.as_token(&secret).get("/api/v1/queues").await.expect(200);
    let revoked = s.delete(&format!("/api/v1/api-keys/{}", key["apiKey"]["id"].as_str().unwrap())).await.expect(200);
    assert!(revoked["revokedAt"].is_string(), "{revoked}");
    refused_everywhere(&s, &s.as_token(&secret), "revoked key").await;

    make_user(&s.store, s.tenant, "leaver", Role::Supervisor, "a long password 1").await;
    let tokens = s.login("leaver", "a long password 1").await;
    let access = tokens["accessToken"].as_str().unwrap();
    let user = s.as_token(access);
    user.get("/api/v1/queues").await.expect(200);
    user.post("/api/v1/auth/logout", json!({})).await.expect(204);
    refused_everywhere(&s, &user, "signed out").await;
    let refresh = json!({"refreshToken": tokens["refreshToken"]});
    s.anonymous().post("/api/v1/auth/refresh", refresh).await.problem(401, "unauthenticated");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expired_access_tokens_are_refused_and_refresh_buys_new_ones() {
    let config = ApiConfig { access_token_ttl: Duration::from_millis(300), ..test_config() };
    let s = sqlite_server_with(config).await;
    make_user(&s.store, s.tenant, "shortlived", Role::Agent, "a long password 1").await;
    let tokens = s.login("shortlived", "a long password 1").await;
    let user = s.as_token(tokens["accessToken"].as_str().unwrap());
    user.get("/api/v1/me").await.expect(200);
    tokio::time::sleep(Duration::from_millis(500)).await;
    refused_everywhere(&s, &user, "expired access token").await;
    let fresh = s.anonymous().post("/api/v1/auth/refresh", json!({"refreshToken": tokens["refreshToken"]})).await;
    let fresh = fresh.expect(200);
    let me = s.as_token(fresh["accessToken"].as_str().unwrap()).get("/api/v1/me").await.expect(200);
    assert_eq!(me["user"]["username"], "shortlived");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deactivating_a_user_ends_their_sessions_at_once() {
    let s = sqlite_server().await;
    let id = make_user(&s.store, s.tenant, "dismissed", Role::Agent, "a long password 1").await;
    let tokens = s.login("dismissed", "a long password 1").await;
    let user = s.as_token(tokens["accessToken"].as_str().unwrap());
    user.get("/api/v1/me").await.expect(200);
    s.patch(&format!("/api/v1/users/{id}"), json!({"isActive": false})).await.expect(200);
    user.get("/api/v1/me").await.problem(401, "unauthenticated");
    let anon = s.anonymous();
    let again =
        anon.post("/api/v1/auth/login", json!({"username": "dismissed", "password": "a long password 1"})).await;
    again.problem(401, "invalid-credentials");
    let refresh = s.anonymous().post("/api/v1/auth/refresh", json!({"refreshToken": tokens["refreshToken"]})).await;
    refresh.problem(401, "unauthenticated");
}
