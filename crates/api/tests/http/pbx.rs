//! `/pbx-connections` over HTTP, on both backends: the life of a connection, its sealed and
//! never-answered client secret, validation, queue mappings within the tenant, admins only,
//! tenant isolation, and what happens when no secret key is configured.

use chrono::{DateTime, Utc};
use lineup_domain::pbx::client_secret_context;
use lineup_domain::{Actor, NewPbxConnection, Role};
use reqwest::Method;
use serde_json::{json, Value};
use uuid::Uuid;

use crate::common::{
    desk, on_both_backends, postgres_server_without_secrets, sqlite_server, sqlite_server_without_secrets, Caller,
    TestServer,
};

const SECRET: &str = "pbx-client-secret-first-7f3a";
const ROTATED: &str = "pbx-client-secret-second-91c4";

fn new_connection(name: &str) -> Value {
    json!({
        "name": name,
        "baseUrl": "HTTPS://PBX.Example.com:5001/",
        "clientId": "lineup",
        "clientSecret": SECRET,
        "pollIntervalMs": 500
    })
}

/// Creates a connection as `caller`; returns it.
async fn create(caller: &Caller, name: &str) -> Value {
    caller.post("/api/v1/pbx-connections", new_connection(name)).await.expect(201)
}

fn instant(v: &Value) -> DateTime<Utc> {
    v.as_str().unwrap().parse().unwrap()
}

fn url(connection: &Value) -> String {
    format!("/api/v1/pbx-connections/{}", connection["id"].as_str().unwrap())
}

async fn put(caller: &Caller, path: &str, body: Value) -> crate::common::Answer {
    caller.call(Method::PUT, path, Some(body)).await
}

async fn connections_are_created_listed_read_changed_and_deleted(s: &TestServer) {
    let d = desk(s).await;
    let queue = d.queue["id"].as_str().unwrap();
    let answer = s.post("/api/v1/pbx-connections", new_connection("Head office")).await;
    let location = answer.header("location").to_string();
    let created = answer.expect(201);
    assert_eq!(location, url(&created));
    assert_eq!(created["name"], "Head office");
    assert_eq!(created["baseUrl"], "https://pbx.example.com:5001", "the base URL is normalised");
    assert_eq!((&created["clientId"], &created["pollIntervalMs"]), (&json!("lineup"), &json!(500)));
    assert_eq!((&created["hasClientSecret"], &created["isEnabled"]), (&json!(true), &json!(true)));
    assert_eq!(created["queueMappings"], json!([]));
    assert!(created.get("clientSecret").is_none(), "{created}");

    assert_eq!(s.get(&url(&created)).await.expect(200), created);
    let list = s.get("/api/v1/pbx-connections").await.expect(200);
    assert_eq!(list, json!({"items": [created.clone()], "nextCursor": null}));

    let changed = s.patch(&url(&created), json!({"isEnabled": false, "pollIntervalMs": 2000})).await.expect(200);
    assert_eq!((&changed["isEnabled"], &changed["pollIntervalMs"]), (&json!(false), &json!(2000)));
    assert_eq!(changed["clientSecretChangedAt"], created["clientSecretChangedAt"], "the secret did not change");
    let rotated = s.patch(&url(&created), json!({"clientSecret": ROTATED})).await.expect(200);
    assert!(instant(&rotated["clientSecretChangedAt"]) > instant(&created["clientSecretChangedAt"]), "{rotated}");

    let mappings = json!({"queueMappings": [{"dn": "801", "queueId": queue}, {"dn": " 800 ", "queueId": queue}]});
    let mapped = put(s, &format!("{}/queue-mappings", url(&created)), mappings).await.expect(200);
    let expected = json!([{"dn": "800", "queueId": queue}, {"dn": "801", "queueId": queue}]);
    assert_eq!(mapped["queueMappings"], expected, "mappings are trimmed and ordered by DN");
    assert_eq!(s.get(&url(&created)).await.expect(200), mapped);
    let cleared = put(s, &format!("{}/queue-mappings", url(&created)), json!({"queueMappings": []})).await;
    assert_eq!(cleared.expect(200)["queueMappings"], json!([]));

    s.delete(&url(&created)).await.expect(204);
    s.get(&url(&created)).await.problem(404, "not-found");
    s.delete(&url(&created)).await.problem(404, "not-found");
    s.patch(&url(&created), json!({"name": "Back"})).await.problem(404, "not-found");
    assert_eq!(s.get("/api/v1/pbx-connections").await.expect(200)["items"], json!([]));
}

async fn the_client_secret_is_sealed_and_never_answered_or_audited(s: &TestServer) {
    let mut answers = Vec::new();
    let created = create(s, "Sealed").await;
    let id: Uuid = created["id"].as_str().unwrap().parse().unwrap();
    answers.push(created.clone());
    answers.push(s.patch(&url(&created), json!({"clientSecret": ROTATED, "name": "Resealed"})).await.expect(200));
    answers.push(s.get(&url(&created)).await.expect(200));
    answers.push(s.get("/api/v1/pbx-connections").await.expect(200));
    let audit = s.get("/api/v1/audit?limit=500").await.expect(200);
    let actions: Vec<&str> = audit["items"].as_array().unwrap().iter().map(|e| e["action"].as_str().unwrap()).collect();
    assert!(actions.contains(&"pbxConnection.create") && actions.contains(&"pbxConnection.update"), "{actions:?}");
    answers.push(audit);

    let enabled = s.store.list_enabled_pbx_connections().await.unwrap();
    let stored = enabled.into_iter().find(|c| c.connection.id == id).expect("the connection is enabled");
    let sealed = stored.client_secret.sealed;
    for answer in &answers {
        let text = answer.to_string();
        for leak in [SECRET, ROTATED, sealed.as_str()] {
            assert!(!text.contains(leak), "an answer shows the secret: {text}");
        }
        assert!(!text.contains("clientSecret\""), "an answer names a clientSecret member: {text}");
    }
    let secrets = s.secrets.as_ref().unwrap();
    assert_eq!(secrets.open(&sealed, &client_secret_context(id)).unwrap().as_str(), ROTATED);
    assert!(secrets.open(&sealed, &client_secret_context(Uuid::new_v4())).is_err(), "bound to its connection");
}

async fn invalid_connections_are_refused_naming_the_field(s: &TestServer) {
    let cases: [(&str, Value, &str); 9] = [
        ("baseUrl", json!("ftp://pbx.example.com"), "baseUrl"),
        ("baseUrl", json!("https://user:pw@pbx.example.com"), "baseUrl"),
        ("baseUrl", json!("https://pbx.example.com:70000"), "baseUrl"),
        ("pollIntervalMs", json!(249), "pollIntervalMs"),
        ("pollIntervalMs", json!(60_001), "pollIntervalMs"),
        ("clientSecret", json!("   "), "clientSecret"),
        ("clientId", json!(""), "clientId"),
        ("name", json!(" "), "name"),
        ("clientSecret", json!("x".repeat(513)), "clientSecret"),
    ];
    for (member, value, field) in cases {
        let mut body = new_connection("Invalid");
        body[member] = value.clone();
        let problem = s.post("/api/v1/pbx-connections", body).await.problem(422, "validation-failed");
        assert_eq!(problem["field"], field, "{member} = {value}");
        assert!(!problem.to_string().contains(SECRET), "{problem}");
    }
    let mut unknown = new_connection("Invalid");
    unknown["sealedSecret"] = json!("lx1.a.b.c");
    s.post("/api/v1/pbx-connections", unknown).await.problem(400, "invalid-body");
    assert_eq!(s.get("/api/v1/pbx-connections").await.expect(200)["items"], json!([]), "nothing was stored");

    let created = create(s, "Valid").await;
    let patches = [
        (json!({"baseUrl": "pbx.example.com"}), "baseUrl"),
        (json!({"pollIntervalMs": 60_001, "clientSecret": ROTATED}), "pollIntervalMs"),
    ];
    for (patch, field) in patches {
        let problem = s.patch(&url(&created), patch.clone()).await.problem(422, "validation-failed");
        assert_eq!(problem["field"], field, "{patch}");
    }
    let queue = Uuid::new_v4();
    for dns in [json!(["80a"]), json!(["12345678901"]), json!([""]), json!(["800", "800"])] {
        let mappings: Vec<Value> =
            dns.as_array().unwrap().iter().map(|dn| json!({"dn": dn, "queueId": queue})).collect();
        let answer = put(s, &format!("{}/queue-mappings", url(&created)), json!({"queueMappings": mappings})).await;
        assert_eq!(answer.problem(422, "validation-failed")["field"], "queueMappings", "{dns}");
    }
    assert_eq!(s.get(&url(&created)).await.expect(200), created, "refused changes change nothing");
}

async fn mappings_name_only_the_tenants_own_queues(s: &TestServer) {
    let created = create(s, "Mapped").await;
    let (_, b) = s.other_tenant().await;
    let template = b.post("/api/v1/templates", crate::common::desk_template("B desk")).await.expect(201);
    let b_queue = b.post("/api/v1/queues", json!({"name": "B queue", "templateId": template["id"]})).await.expect(201);
    let own = desk(s).await;
    for foreign in [b_queue["id"].as_str().unwrap().to_string(), Uuid::new_v4().to_string()] {
        let mappings = json!({"queueMappings": [
            {"dn": "800", "queueId": own.queue["id"]},
            {"dn": "801", "queueId": foreign}
        ]});
        let answer = put(s, &format!("{}/queue-mappings", url(&created)), mappings).await;
        answer.problem(404, "not-found");
    }
    assert_eq!(s.get(&url(&created)).await.expect(200)["queueMappings"], json!([]), "nothing was mapped");
}

async fn another_tenants_connection_is_not_found(s: &TestServer) {
    let created = create(s, "A's PBX").await;
    let (_, b) = s.other_tenant().await;
    b.get(&url(&created)).await.problem(404, "not-found");
    b.patch(&url(&created), json!({"name": "Hijacked", "clientSecret": "stolen"})).await.problem(404, "not-found");
    put(&b, &format!("{}/queue-mappings", url(&created)), json!({"queueMappings": []})).await.problem(404, "not-found");
    b.delete(&url(&created)).await.problem(404, "not-found");
    assert_eq!(b.get("/api/v1/pbx-connections").await.expect(200)["items"], json!([]));
    assert_eq!(s.get(&url(&created)).await.expect(200), created, "B changed nothing of A");
}

on_both_backends!(
    connections_are_created_listed_read_changed_and_deleted,
    the_client_secret_is_sealed_and_never_answered_or_audited,
    invalid_connections_are_refused_naming_the_field,
    mappings_name_only_the_tenants_own_queues,
    another_tenants_connection_is_not_found,
);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_admins_manage_pbx_connections() {
    let s = sqlite_server().await;
    let created = create(&s, "Admins only").await;
    let path = url(&created);
    let mappings = format!("{path}/queue-mappings");
    for role in Role::ALL.into_iter().filter(|r| *r != Role::Admin) {
        let caller = s.as_role(role).await;
        let attempts = [
            caller.post("/api/v1/pbx-connections", new_connection("Intruder")).await,
            caller.get("/api/v1/pbx-connections").await,
            caller.get(&path).await,
            caller.patch(&path, json!({"name": "Hijacked"})).await,
            put(&caller, &mappings, json!({"queueMappings": []})).await,
            caller.delete(&path).await,
        ];
        for answer in attempts {
            let detail = answer.problem(403, "forbidden")["detail"].as_str().unwrap().to_string();
            assert!(detail.contains("pbx.manage"), "{role}: {detail}");
        }
    }
    assert_eq!(s.get(&path).await.expect(200), created);
}

/// Without a secret key a connection (whose secret is required) cannot be created, a secret
/// cannot be replaced, and nothing is stored or audited; other changes still work.
async fn credentials_are_refused_without_a_secret_key(s: &TestServer) {
    let problem = s.post("/api/v1/pbx-connections", new_connection("No key")).await.problem(409, "conflict");
    assert!(problem["detail"].as_str().unwrap().contains("secret_keys"), "{problem}");
    assert!(!problem.to_string().contains(SECRET), "{problem}");
    assert_eq!(s.get("/api/v1/pbx-connections").await.expect(200)["items"], json!([]));
    let audit = s.get("/api/v1/audit?limit=500").await.expect(200);
    assert!(!audit.to_string().contains("pbxConnection"), "nothing was audited: {audit}");

    // A connection stored before the key was removed can still be changed, but not given a secret.
    let id = Uuid::now_v7();
    let new: NewPbxConnection = serde_json::from_value(new_connection("Keyed earlier")).unwrap();
    let spec = new.validate(id, |_| Ok::<_, lineup_domain::DomainError>("lx1.old.n.c".into())).unwrap();
    s.store.create_pbx_connection(&Actor::system("test"), s.tenant, spec).await.unwrap();
    let path = format!("/api/v1/pbx-connections/{id}");
    let before = s.patch(&path, json!({"isEnabled": false})).await.expect(200);
    s.patch(&path, json!({"clientSecret": ROTATED, "name": "Renamed"})).await.problem(409, "conflict");
    assert_eq!(s.get(&path).await.expect(200), before, "the refused change changed nothing");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn credentials_are_refused_without_a_secret_key_on_sqlite() {
    credentials_are_refused_without_a_secret_key(&sqlite_server_without_secrets().await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn credentials_are_refused_without_a_secret_key_on_postgres() {
    credentials_are_refused_without_a_secret_key(&postgres_server_without_secrets().await).await;
}
