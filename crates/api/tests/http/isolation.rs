//! Tenant isolation, on both backends: an admin of tenant B calls every operation of the OpenAPI
//! document against tenant A's objects. Every operation that names an object answers 404 (never
//! 403, never data); no answer to B carries anything of A; and A's objects are unchanged.

use std::collections::BTreeMap;

use lineup_domain::Role;
use reqwest::Method;
use serde_json::{json, Value};

use crate::common::{desk, make_dead_letter, make_user, postgres_server, sqlite_server, Caller, TestServer};

/// Tenant A's objects, by the path segment that names them.
struct Victim {
    ids: BTreeMap<&'static str, String>,
    /// Strings that must never appear in an answer to another tenant.
    secrets: Vec<String>,
}

async fn victim(s: &TestServer) -> Victim {
    let d = desk(s).await;
    let sid = d.session_id();
    let item = s.post(&format!("/api/v1/sessions/{sid}/items"), json!({"displayName": "Ada A"})).await.expect(201);
    let user = make_user(&s.store, s.tenant, &format!("alice-{}", &s.slug[2..14]), Role::Agent, "correct horse 1")
        .await
        .to_string();
    let key = s.post("/api/v1/api-keys", json!({"name": "A's CRM", "role": "analyst"})).await.expect(201);
    let pbx = json!({
        "name": "A's PBX",
        "baseUrl": "https://pbx-a.example.com",
        "clientId": "a-client",
        "clientSecret": "A's PBX secret"
    });
    let pbx = s.post("/api/v1/pbx-connections", pbx).await.expect(201);
    let pbx_id = pbx["id"].as_str().unwrap();
    let mappings = json!({"queueMappings": [{"dn": "800", "queueId": d.queue["id"]}]});
    s.call(Method::PUT, &format!("/api/v1/pbx-connections/{pbx_id}/queue-mappings"), Some(mappings)).await.expect(200);
    let connection = pbx_id.parse().unwrap();
    let dead = make_dead_letter(&s.store, s.tenant, connection, "A's record", "A's failure").await.to_string();
    let hook = json!({
        "name": "A's webhook",
        "url": "https://hooks-a.example.com/in?token=a-token",
        "secret": "A's webhook signing secret"
    });
    let hook = s.post("/api/v1/webhooks", hook).await.expect(201);
    let hook_id = hook["id"].as_str().unwrap().to_string();
    crate::webhooks::item_with_deliveries(s, sid, "Ada W").await;
    let deliveries = s.get(&format!("/api/v1/webhooks/{hook_id}/deliveries")).await.expect(200);
    let delivery = deliveries["items"][0]["id"].as_str().unwrap().to_string();
    let ids = BTreeMap::from([
        ("templates", d.template["id"].as_str().unwrap().to_string()),
        ("queues", d.queue["id"].as_str().unwrap().to_string()),
        ("sessions", sid.to_string()),
        ("session-statuses", d.status("Waiting").to_string()),
        ("items", item["id"].as_str().unwrap().to_string()),
        ("users", user),
        ("api-keys", key["apiKey"]["id"].as_str().unwrap().to_string()),
        ("pbx-connections", pbx_id.to_string()),
        ("dead-letters", dead.clone()),
        ("messages", dead),
        ("webhooks", hook_id),
        ("webhook-deliveries", delivery),
    ]);
    let mut secrets: Vec<String> = ids.values().cloned().collect();
    secrets.extend([s.tenant.to_string(), s.slug.clone(), "Ada A".into(), "A's CRM".into(), "alice-".into()]);
    secrets.extend([
        "A's PBX".into(),
        "pbx-a.example.com".into(),
        "a-client".into(),
        "A's record".into(),
        "A's failure".into(),
        "A's webhook".into(),
        "hooks-a.example.com".into(),
        "a-token".into(),
        "Ada W".into(),
    ]);
    secrets.push(key["secret"].as_str().unwrap().to_string());
    Victim { ids, secrets }
}

/// A valid body for each operation that takes one, so a refusal cannot come from the body.
fn body(method: &str, path: &str, a: &Victim) -> Option<Value> {
    let body = match (method, path) {
        ("post", "/api/v1/auth/login") => json!({"username": "nobody", "password": "wrong password"}),
        ("post", "/api/v1/auth/refresh") => json!({"refreshToken": "lu_rt_invalid"}),
        ("post", "/api/v1/users") => {
            json!({"username": "bob-b", "email": "bob@b.test", "fullName": "Bob", "password": "long enough 1", "role": "agent"})
        }
        ("patch", "/api/v1/users/{id}") => json!({"role": "admin", "isActive": false}),
        ("post", "/api/v1/api-keys") => json!({"name": "B key", "role": "display"}),
        ("patch", "/api/v1/tenant") => json!({"name": "B renamed"}),
        ("post", "/api/v1/queues") => json!({"name": "B queue", "templateId": a.ids["templates"]}),
        ("patch", "/api/v1/queues/{id}") => json!({"name": "Hijacked", "isActive": false}),
        ("post", "/api/v1/queues/{queueId}/sessions") => json!({"name": "Hijacked"}),
        ("patch", "/api/v1/sessions/{id}") => json!({"name": "Hijacked"}),
        ("patch", "/api/v1/sessions/{id}/lifecycle") => json!({"lifecycleStatus": "paused"}),
        ("patch", "/api/v1/session-statuses/{id}") => json!({"label": "Hijacked"}),
        ("post", "/api/v1/sessions/{sessionId}/items") => json!({"displayName": "Intruder"}),
        ("patch", "/api/v1/items/{id}") => json!({"displayName": "Hijacked"}),
        ("patch", "/api/v1/items/{id}/status") => json!({"transition": "call"}),
        ("post", "/api/v1/templates") => json!({"name": "B template", "statuses": [{"label": "Open"}]}),
        ("post", "/api/v1/templates/{id}/statuses") => json!({"label": "Hijacked"}),
        ("post", "/api/v1/pbx-connections") => {
            json!({"name": "B PBX", "baseUrl": "https://pbx-b.example.com", "clientId": "b", "clientSecret": "B secret"})
        }
        ("patch", "/api/v1/pbx-connections/{id}") => json!({"name": "Hijacked", "clientSecret": "stolen"}),
        ("put", "/api/v1/pbx-connections/{id}/queue-mappings") => {
            json!({"queueMappings": [{"dn": "900", "queueId": a.ids["queues"]}]})
        }
        ("post", "/api/v1/webhooks") => {
            json!({"name": "B hook", "url": "https://hooks-b.example.com", "secret": "B's webhook signing secret"})
        }
        ("patch", "/api/v1/webhooks/{id}") => json!({"name": "Hijacked", "secret": "a stolen signing secret"}),
        ("put", "/api/v1/queues/{id}/session-schedule") => {
            json!({"cron": "0 0 6 * * *", "sessionName": "Hijacked {date}"})
        }
        ("post", "/api/v1/auth/logout")
        | ("post", "/api/v1/auth/stream-ticket")
        | ("post", "/api/v1/inbox/dead-letters/{id}/replay")
        | ("post", "/api/v1/webhook-deliveries/{id}/redeliver") => return None,
        ("post" | "patch" | "put", _) => panic!("{method} {path}: add a valid body to the isolation matrix"),
        _ => return None,
    };
    Some(body)
}

/// Fills a documented path with A's ids (the segment before a parameter names the object).
fn concrete(path: &str, a: &Victim) -> (String, bool) {
    let segments: Vec<&str> = path.split('/').collect();
    let mut names_an_object = false;
    let filled: Vec<String> = segments
        .iter()
        .enumerate()
        .map(|(i, seg)| {
            if seg.starts_with('{') && segments[i - 1] == "agents" {
                // An extension number names no object of A: B's agent 101 is B's own.
                "101".to_string()
            } else if seg.starts_with('{') {
                names_an_object = true;
                let kind = segments[i - 1];
                a.ids.get(kind).unwrap_or_else(|| panic!("{path}: no object of tenant A for '{kind}'")).clone()
            } else {
                seg.to_string()
            }
        })
        .collect();
    (filled.join("/"), names_an_object)
}

/// Everything A's admin can read of A, to compare before and after B's attempts.
async fn snapshot(a: &Caller, v: &Victim) -> Vec<Value> {
    let mut out = Vec::new();
    for path in [
        format!("/api/v1/templates/{}", v.ids["templates"]),
        format!("/api/v1/queues/{}", v.ids["queues"]),
        format!("/api/v1/sessions/{}", v.ids["sessions"]),
        format!("/api/v1/sessions/{}/statuses", v.ids["sessions"]),
        format!("/api/v1/sessions/{}/items", v.ids["sessions"]),
        format!("/api/v1/items/{}/history", v.ids["items"]),
        format!("/api/v1/users/{}", v.ids["users"]),
        format!("/api/v1/api-keys/{}", v.ids["api-keys"]),
        "/api/v1/tenant".to_string(),
        "/api/v1/users".to_string(),
        "/api/v1/api-keys".to_string(),
        "/api/v1/audit".to_string(),
        format!("/api/v1/pbx-connections/{}", v.ids["pbx-connections"]),
        "/api/v1/pbx-connections".to_string(),
        format!("/api/v1/inbox/messages/{}", v.ids["messages"]),
        "/api/v1/inbox/dead-letters".to_string(),
        "/api/v1/inbox/depth".to_string(),
        format!("/api/v1/webhooks/{}", v.ids["webhooks"]),
        "/api/v1/webhooks".to_string(),
        format!("/api/v1/webhooks/{}/deliveries", v.ids["webhooks"]),
    ] {
        let mut body = a.get(&path).await.expect(200);
        if let Some(key) = body.get_mut("lastUsedAt") {
            *key = Value::Null; // A's own key use is not B's doing.
        }
        if let Some(items) = body.get_mut("items").and_then(Value::as_array_mut) {
            for row in items {
                if let Some(key) = row.get_mut("lastUsedAt") {
                    *key = Value::Null;
                }
            }
        }
        out.push(body);
    }
    out
}

async fn cross_tenant_matrix(s: &TestServer) {
    let a = victim(s).await;
    let (_, b) = s.other_tenant().await;
    let before = snapshot(&s.admin, &a).await;
    let doc = s.get("/api/v1/openapi.json").await.expect(200);
    let mut checked = 0;
    for (path, item) in doc["paths"].as_object().unwrap() {
        for method in item.as_object().unwrap().keys() {
            let (url, names_an_object) = concrete(path, &a);
            let m: Method = method.to_uppercase().parse().unwrap();
            let answer = b.call(m.clone(), &url, body(method, path, &a)).await;
            // `instance` echoes B's own request path; everything else must be free of A.
            let mut shown = answer.body.clone();
            if let Some(o) = shown.as_object_mut() {
                o.remove("instance");
            }
            let text = shown.to_string();
            for secret in &a.secrets {
                assert!(!text.contains(secret.as_str()), "{method} {path} showed B something of A: {text}");
            }
            let refers_to_a = names_an_object || (method == "post" && path == "/api/v1/queues");
            if refers_to_a {
                assert_eq!(answer.status, 404, "{method} {path} as another tenant: {text}");
                assert_eq!(answer.header("content-type"), "application/problem+json", "{method} {path}");
                assert_eq!(answer.body["type"], "https://lineup.dev/problems/not-found", "{method} {path}");
            } else {
                assert!(answer.status.as_u16() < 500, "{method} {path}: {text}");
            }
            checked += 1;
        }
    }
    assert!(checked >= 64, "only {checked} operations were tried");
    assert_eq!(snapshot(&s.admin, &a).await, before, "tenant B changed something of tenant A");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_tenant_finds_nothing_on_sqlite() {
    cross_tenant_matrix(&sqlite_server().await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_tenant_finds_nothing_on_postgres() {
    cross_tenant_matrix(&postgres_server().await).await;
}

/// A's user signing in gets A; B's admin with A's user id gets 404; and a stream ticket of B
/// does not open A's stream.
async fn credentials_stay_in_their_tenant(s: &TestServer) {
    let a = victim(s).await;
    let (_, b) = s.other_tenant().await;
    let ticket = b.post("/api/v1/auth/stream-ticket", json!({})).await.expect(201);
    let url = format!("/api/v1/sessions/{}/stream?ticket={}", a.ids["sessions"], ticket["ticket"].as_str().unwrap());
    s.anonymous().get(&url).await.problem(404, "not-found");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stream_ticket_opens_only_its_own_tenants_streams_on_both_backends() {
    credentials_stay_in_their_tenant(&sqlite_server().await).await;
    credentials_stay_in_their_tenant(&postgres_server().await).await;
}
