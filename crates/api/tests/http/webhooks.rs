//! `/webhooks` and `/webhook-deliveries` over HTTP, on both backends: the life of a webhook, its
//! sealed and never-answered secret, validation, the delivery log and redelivery, admins only,
//! tenant isolation, and what happens when no secret key is configured.
//!
//! Deliveries are made here as the outbox dispatcher makes them (`enqueue_deliveries` on the
//! session's events); the dispatcher itself is tested in `workers/tests/dispatcher.rs`.

use std::time::Duration;

use chrono::{DateTime, Utc};
use lineup_domain::webhook::webhook_secret_context;
use lineup_domain::{Actor, NewWebhook, Role};
use lineup_store::{AttemptOutcome, DeliveryScope, EventScope, InboxRetryPolicy};
use serde_json::{json, Value};
use uuid::Uuid;

use crate::common::{
    desk, on_both_backends, postgres_server_without_secrets, sqlite_server, sqlite_server_without_secrets, Caller,
    TestServer,
};

const SECRET: &str = "webhook-secret-first-5c1d";
const ROTATED: &str = "webhook-secret-second-8e2b";

fn new_webhook(name: &str) -> Value {
    json!({
        "name": name,
        "url": "HTTPS://Hooks.Example.com:8443/in?source=lineup",
        "secret": SECRET,
        "eventTypes": ["session_completed", "item_created"]
    })
}

/// Creates a webhook as `caller`; returns it.
async fn create(caller: &Caller, name: &str) -> Value {
    caller.post("/api/v1/webhooks", new_webhook(name)).await.expect(201)
}

fn url(webhook: &Value) -> String {
    format!("/api/v1/webhooks/{}", webhook["id"].as_str().unwrap())
}

fn instant(v: &Value) -> DateTime<Utc> {
    v.as_str().unwrap().parse().unwrap()
}

/// Adds an item named `name` to the session, then creates the deliveries of the session's events
/// as the dispatcher does; returns the item.
pub(crate) async fn item_with_deliveries(s: &TestServer, session_id: &str, name: &str) -> Value {
    let item = s.post(&format!("/api/v1/sessions/{session_id}/items"), json!({"displayName": name})).await.expect(201);
    let session: Uuid = session_id.parse().unwrap();
    for event in s.store.read_events(s.tenant, EventScope::Session(session), 0, 1000).await.unwrap() {
        s.store.enqueue_deliveries(s.tenant, &event).await.unwrap();
    }
    item
}

/// The tenant's due deliveries, claimed as a dispatcher would.
async fn claim(s: &TestServer) -> Vec<lineup_store::ClaimedDelivery> {
    let now = Utc::now() + chrono::TimeDelta::milliseconds(1);
    s.store.claim_due_deliveries(DeliveryScope::Tenant(s.tenant), now, 100, Duration::from_secs(30)).await.unwrap()
}

async fn webhooks_are_created_listed_read_changed_and_deleted(s: &TestServer) {
    let answer = s.post("/api/v1/webhooks", new_webhook("CRM")).await;
    let location = answer.header("location").to_string();
    let created = answer.expect(201);
    assert_eq!(location, url(&created));
    assert_eq!(created["name"], "CRM");
    assert_eq!(created["url"], "https://hooks.example.com:8443/in?source=lineup", "scheme and host are normalised");
    assert_eq!(created["eventTypes"], json!(["item_created", "session_completed"]), "in the order of the event list");
    assert_eq!((&created["hasSecret"], &created["isEnabled"]), (&json!(true), &json!(true)));
    assert!(created.get("secret").is_none(), "{created}");

    assert_eq!(s.get(&url(&created)).await.expect(200), created);
    let list = s.get("/api/v1/webhooks").await.expect(200);
    assert_eq!(list, json!({"items": [created.clone()], "nextCursor": null}));

    let changed = s.patch(&url(&created), json!({"isEnabled": false, "eventTypes": []})).await.expect(200);
    assert_eq!((&changed["isEnabled"], &changed["eventTypes"]), (&json!(false), &json!([])));
    assert_eq!(changed["secretChangedAt"], created["secretChangedAt"], "the secret did not change");
    let rotated = s.patch(&url(&created), json!({"secret": ROTATED, "url": "http://10.0.0.7/hook"})).await.expect(200);
    assert!(instant(&rotated["secretChangedAt"]) > instant(&created["secretChangedAt"]), "{rotated}");
    assert_eq!(rotated["url"], "http://10.0.0.7/hook");
    assert_eq!(s.get(&url(&created)).await.expect(200), rotated);

    s.delete(&url(&created)).await.expect(204);
    s.get(&url(&created)).await.problem(404, "not-found");
    s.delete(&url(&created)).await.problem(404, "not-found");
    s.patch(&url(&created), json!({"name": "Back"})).await.problem(404, "not-found");
    s.get(&format!("{}/deliveries", url(&created))).await.problem(404, "not-found");
    assert_eq!(s.get("/api/v1/webhooks").await.expect(200)["items"], json!([]));
}

async fn the_secret_is_sealed_and_never_answered_or_audited(s: &TestServer) {
    let d = desk(s).await;
    let mut answers = Vec::new();
    let created = create(s, "Sealed").await;
    let id: Uuid = created["id"].as_str().unwrap().parse().unwrap();
    answers.push(created.clone());
    answers.push(s.patch(&url(&created), json!({"secret": ROTATED, "name": "Resealed"})).await.expect(200));
    answers.push(s.get(&url(&created)).await.expect(200));
    answers.push(s.get("/api/v1/webhooks").await.expect(200));
    item_with_deliveries(s, d.session_id(), "Ann").await;
    answers.push(s.get(&format!("{}/deliveries", url(&created))).await.expect(200));
    let audit = s.get("/api/v1/audit?limit=500").await.expect(200);
    let actions: Vec<&str> = audit["items"].as_array().unwrap().iter().map(|e| e["action"].as_str().unwrap()).collect();
    assert!(actions.contains(&"webhook.create") && actions.contains(&"webhook.update"), "{actions:?}");
    answers.push(audit);

    let claimed = claim(s).await;
    assert_eq!(claimed.len(), 1, "the item's creation is delivered");
    let sealed = claimed[0].secret.sealed.clone();
    for answer in &answers {
        let text = answer.to_string();
        for leak in [SECRET, ROTATED, sealed.as_str()] {
            assert!(!text.contains(leak), "an answer shows the secret: {text}");
        }
        assert!(!text.contains("\"secret\""), "an answer names a secret member: {text}");
    }
    let secrets = s.secrets.as_ref().unwrap();
    assert_eq!(secrets.open(&sealed, &webhook_secret_context(id)).unwrap().as_str(), ROTATED);
    assert!(secrets.open(&sealed, &webhook_secret_context(Uuid::new_v4())).is_err(), "bound to its webhook");
}

async fn invalid_webhooks_are_refused_naming_the_field(s: &TestServer) {
    let cases: [(&str, Value, &str); 9] = [
        ("url", json!("ftp://hooks.example.com"), "url"),
        ("url", json!("https://user:pw@hooks.example.com"), "url"),
        ("url", json!("https://hooks.example.com/in#frag"), "url"),
        ("url", json!("hooks.example.com/in"), "url"),
        ("secret", json!("too-short"), "secret"),
        ("secret", json!("x".repeat(513)), "secret"),
        ("name", json!(" "), "name"),
        ("eventTypes", json!(["item_deleted"]), "eventTypes"),
        ("eventTypes", json!(["item_created", "ItemCreated"]), "eventTypes"),
    ];
    for (member, value, field) in cases {
        let mut body = new_webhook("Invalid");
        body[member] = value.clone();
        let problem = s.post("/api/v1/webhooks", body).await.problem(422, "validation-failed");
        assert_eq!(problem["field"], field, "{member} = {value}");
        assert!(!problem.to_string().contains(SECRET), "{problem}");
    }
    let mut unknown = new_webhook("Invalid");
    unknown["hasSecret"] = json!(false);
    s.post("/api/v1/webhooks", unknown).await.problem(400, "invalid-body");
    let mut missing = new_webhook("Invalid");
    missing.as_object_mut().unwrap().remove("secret");
    s.post("/api/v1/webhooks", missing).await.problem(400, "invalid-body");
    assert_eq!(s.get("/api/v1/webhooks").await.expect(200)["items"], json!([]), "nothing was stored");

    let created = create(s, "Valid").await;
    let patches = [
        (json!({"url": "gopher://hooks.example.com"}), "url"),
        (json!({"eventTypes": ["nope"], "secret": ROTATED}), "eventTypes"),
        (json!({"secret": "short"}), "secret"),
    ];
    for (patch, field) in patches {
        let problem = s.patch(&url(&created), patch.clone()).await.problem(422, "validation-failed");
        assert_eq!(problem["field"], field, "{patch}");
    }
    assert_eq!(s.get(&url(&created)).await.expect(200), created, "refused changes change nothing");
}

async fn the_delivery_log_pages_newest_first_and_redelivers(s: &TestServer) {
    let d = desk(s).await;
    let hook = create(s, "Log").await;
    for name in ["Ann", "Bob", "Cy"] {
        item_with_deliveries(s, d.session_id(), name).await;
    }
    let log_url = format!("{}/deliveries", url(&hook));
    let newest_first = s.get(&log_url).await.expect(200);
    let ids: Vec<i64> =
        newest_first["items"].as_array().unwrap().iter().map(|d| d["eventId"].as_i64().unwrap()).collect();
    assert_eq!(ids.len(), 3);
    assert!(ids.windows(2).all(|w| w[0] > w[1]), "newest first: {ids:?}");
    let oldest_first = s.get(&format!("{log_url}?order=asc")).await.expect(200);
    let mut reversed = oldest_first["items"].as_array().unwrap().clone();
    reversed.reverse();
    assert_eq!(&reversed, newest_first["items"].as_array().unwrap());
    let (paged, pages) = s.all_pages(&log_url, "", 2).await;
    assert_eq!((paged.as_slice(), pages), (newest_first["items"].as_array().unwrap().as_slice(), 2));
    let first = &newest_first["items"][2];
    assert_eq!(
        (&first["state"], &first["attempts"], &first["eventType"]),
        (&json!("pending"), &json!(0), &json!("item_created"))
    );
    assert_eq!(
        (&first["lastStatusCode"], &first["lastError"], &first["deliveredAt"]),
        (&Value::Null, &Value::Null, &Value::Null)
    );
    assert_eq!(first["event"]["id"], first["eventId"]);
    assert_eq!(first["event"]["type"], "item_created");
    assert_eq!(first["event"]["sessionId"], d.session_id());
    assert_eq!(first["event"]["data"]["displayName"], "Ann");
    s.get(&format!("{log_url}?order=sideways")).await.problem(400, "invalid-query");

    // A failed attempt, as the dispatcher records it, shows in the log; a redelivery puts it back.
    let claimed = claim(s).await;
    assert_eq!(claimed.len(), 3);
    let once = InboxRetryPolicy { max_attempts: 1, ..InboxRetryPolicy::default() };
    let failed = AttemptOutcome::Failed { status: Some(503), error: "the endpoint answered 503".into() };
    let target = claimed[0].delivery.id;
    s.store.record_delivery_attempt(s.tenant, target, &failed, Utc::now(), &once).await.unwrap();
    let log = s.get(&format!("{log_url}?limit=500")).await.expect(200);
    let entry = log["items"].as_array().unwrap().iter().find(|d| d["id"] == target.to_string()).unwrap().clone();
    assert_eq!(
        (&entry["state"], &entry["attempts"], &entry["lastStatusCode"]),
        (&json!("failed"), &json!(1), &json!(503))
    );
    assert_eq!(entry["lastError"], "the endpoint answered 503");
    let again = s.post(&format!("/api/v1/webhook-deliveries/{target}/redeliver"), json!({})).await.expect(200);
    assert_eq!((&again["state"], &again["attempts"], &again["event"]), (&json!("pending"), &json!(0), &entry["event"]));
    assert!(again["nextAttemptAt"].is_string());
    s.post(&format!("/api/v1/webhook-deliveries/{}/redeliver", Uuid::new_v4()), json!({}))
        .await
        .problem(404, "not-found");
    s.get(&format!("/api/v1/webhooks/{}/deliveries", Uuid::new_v4())).await.problem(404, "not-found");
}

async fn another_tenants_webhooks_and_deliveries_are_not_found(s: &TestServer) {
    let d = desk(s).await;
    let created = create(s, "A's hook").await;
    item_with_deliveries(s, d.session_id(), "Ann").await;
    let log = s.get(&format!("{}/deliveries", url(&created))).await.expect(200);
    let delivery = log["items"][0]["id"].as_str().unwrap().to_string();
    let (_, b) = s.other_tenant().await;
    b.get(&url(&created)).await.problem(404, "not-found");
    b.patch(&url(&created), json!({"name": "Hijacked", "secret": "stolen-secret-value"}))
        .await
        .problem(404, "not-found");
    b.delete(&url(&created)).await.problem(404, "not-found");
    b.get(&format!("{}/deliveries", url(&created))).await.problem(404, "not-found");
    b.post(&format!("/api/v1/webhook-deliveries/{delivery}/redeliver"), json!({})).await.problem(404, "not-found");
    assert_eq!(b.get("/api/v1/webhooks").await.expect(200)["items"], json!([]));
    assert_eq!(s.get(&url(&created)).await.expect(200), created, "B changed nothing of A");
    assert_eq!(s.get(&format!("{}/deliveries", url(&created))).await.expect(200), log);
}

on_both_backends!(
    webhooks_are_created_listed_read_changed_and_deleted,
    the_secret_is_sealed_and_never_answered_or_audited,
    invalid_webhooks_are_refused_naming_the_field,
    the_delivery_log_pages_newest_first_and_redelivers,
    another_tenants_webhooks_and_deliveries_are_not_found,
);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_admins_manage_webhooks() {
    let s = sqlite_server().await;
    let d = desk(&s).await;
    let created = create(&s, "Admins only").await;
    item_with_deliveries(&s, d.session_id(), "Ann").await;
    let path = url(&created);
    let log = s.get(&format!("{path}/deliveries")).await.expect(200);
    let redeliver = format!("/api/v1/webhook-deliveries/{}/redeliver", log["items"][0]["id"].as_str().unwrap());
    for role in Role::ALL.into_iter().filter(|r| *r != Role::Admin) {
        let caller = s.as_role(role).await;
        let attempts = [
            caller.post("/api/v1/webhooks", new_webhook("Intruder")).await,
            caller.get("/api/v1/webhooks").await,
            caller.get(&path).await,
            caller.patch(&path, json!({"name": "Hijacked"})).await,
            caller.delete(&path).await,
            caller.get(&format!("{path}/deliveries")).await,
            caller.post(&redeliver, json!({})).await,
        ];
        for answer in attempts {
            let detail = answer.problem(403, "forbidden")["detail"].as_str().unwrap().to_string();
            assert!(detail.contains("webhook.manage"), "{role}: {detail}");
        }
    }
    assert_eq!(s.get(&path).await.expect(200), created);
    assert_eq!(s.get(&format!("{path}/deliveries")).await.expect(200), log);
}

/// Without a secret key a webhook (whose secret is required) cannot be created, a secret cannot
/// be replaced, and nothing is stored or audited; other changes still work.
async fn secrets_are_refused_without_a_secret_key(s: &TestServer) {
    let problem = s.post("/api/v1/webhooks", new_webhook("No key")).await.problem(409, "conflict");
    assert!(problem["detail"].as_str().unwrap().contains("secret_keys"), "{problem}");
    assert!(!problem.to_string().contains(SECRET), "{problem}");
    assert_eq!(s.get("/api/v1/webhooks").await.expect(200)["items"], json!([]));
    let audit = s.get("/api/v1/audit?limit=500").await.expect(200);
    assert!(!audit.to_string().contains("webhook."), "nothing was audited: {audit}");

    // A webhook stored before the key was removed can still be changed, but not given a secret.
    let id = Uuid::now_v7();
    let new: NewWebhook = serde_json::from_value(new_webhook("Keyed earlier")).unwrap();
    let spec = new.validate(id, |_| Ok::<_, lineup_domain::DomainError>("lx1.old.n.c".into())).unwrap();
    s.store.create_webhook(&Actor::system("test"), s.tenant, spec).await.unwrap();
    let path = format!("/api/v1/webhooks/{id}");
    let before = s.patch(&path, json!({"isEnabled": false})).await.expect(200);
    s.patch(&path, json!({"secret": ROTATED, "name": "Renamed"})).await.problem(409, "conflict");
    assert_eq!(s.get(&path).await.expect(200), before, "the refused change changed nothing");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn secrets_are_refused_without_a_secret_key_on_sqlite() {
    secrets_are_refused_without_a_secret_key(&sqlite_server_without_secrets().await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn secrets_are_refused_without_a_secret_key_on_postgres() {
    secrets_are_refused_without_a_secret_key(&postgres_server_without_secrets().await).await;
}
