//! Every problem type: status, `application/problem+json`, stable `type`, `instance`, extension
//! members; and a refused request stores nothing.

use reqwest::Method;
use serde_json::{json, Value};

use crate::common::{desk, sqlite_server, Desk, TestServer};

const BASE: &str = "https://lineup.dev/problems/";

enum Body {
    None,
    Json(Value),
    Raw(Vec<u8>, Option<&'static str>),
}

struct Case {
    what: &'static str,
    method: Method,
    path: String,
    body: Body,
    header: Option<(&'static str, &'static str)>,
    status: u16,
    slug: &'static str,
}

fn case(what: &'static str, method: Method, path: String, body: Body, status: u16, slug: &'static str) -> Case {
    Case { what, method, path, body, header: None, status, slug }
}

/// Everything a refused request could have changed, read through the API and the outbox.
async fn everything(s: &TestServer, d: &Desk) -> Value {
    let qid = d.queue["id"].as_str().unwrap();
    let sid = d.session_id();
    json!({
        "queues": s.all_pages("/api/v1/queues", "", 500).await.0,
        "templates": s.all_pages("/api/v1/templates", "", 500).await.0,
        "sessions": s.all_pages(&format!("/api/v1/queues/{qid}/sessions"), "", 500).await.0,
        "items": s.all_pages(&format!("/api/v1/sessions/{sid}/items"), "", 500).await.0,
        "statuses": s.get(&format!("/api/v1/sessions/{sid}/statuses")).await.body,
        "lastEventSeq": s.store.last_event_seq().await.unwrap(),
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_refused_request_answers_its_problem_type_and_stores_nothing() {
    let s = sqlite_server().await;
    let d = desk(&s).await;
    let (qid, sid, tid) = (d.queue["id"].as_str().unwrap(), d.session_id(), d.template["id"].as_str().unwrap());
    let item = s.post(&format!("/api/v1/sessions/{sid}/items"), json!({"displayName": "Ada"})).await.expect(201);
    let iid = item["id"].as_str().unwrap();
    let paused = s.post(&format!("/api/v1/queues/{qid}/sessions"), json!({"name": "Paused"})).await.expect(201);
    let pid = paused["id"].as_str().unwrap();
    s.patch(&format!("/api/v1/sessions/{pid}/lifecycle"), json!({"lifecycleStatus": "paused"})).await.expect(200);
    let closed = s.post("/api/v1/queues", json!({"name": "Closed", "templateId": tid})).await.expect(201);
    let closed_id = closed["id"].as_str().unwrap();
    s.call(Method::DELETE, &format!("/api/v1/queues/{closed_id}"), None).await.expect(200);
    let foreign_cursor = s.get("/api/v1/queues?limit=1&sort=name").await.expect(200)["nextCursor"].clone();
    let foreign_cursor = foreign_cursor.as_str().unwrap();
    let unknown = uuid::Uuid::new_v4();
    let too_big = format!("{{\"name\":\"{}\",\"templateId\":\"{tid}\"}}", "x".repeat(1024 * 1024)).into_bytes();

    use Body::{Json, Raw};
    use Method as M;
    let mut cases = vec![
        case("unknown route", M::GET, "/api/v1/nope".into(), Body::None, 404, "not-found"),
        case("unknown id", M::GET, format!("/api/v1/queues/{unknown}"), Body::None, 404, "not-found"),
        case("malformed id", M::GET, "/api/v1/queues/not-a-uuid".into(), Body::None, 404, "not-found"),
        case("malformed id, nested", M::GET, "/api/v1/sessions/123/items".into(), Body::None, 404, "not-found"),
        case(
            "sessions of an unknown queue",
            M::GET,
            format!("/api/v1/queues/{unknown}/sessions"),
            Body::None,
            404,
            "not-found",
        ),
        case(
            "queue over an unknown template",
            M::POST,
            "/api/v1/queues".into(),
            Json(json!({"name": "Q", "templateId": unknown})),
            404,
            "not-found",
        ),
        case(
            "stream of an unknown session",
            M::GET,
            format!("/api/v1/sessions/{unknown}/stream"),
            Body::None,
            404,
            "not-found",
        ),
        case(
            "stream of an unknown item",
            M::GET,
            format!("/api/v1/items/{unknown}/stream"),
            Body::None,
            404,
            "not-found",
        ),
        case("wrong method", M::PUT, "/api/v1/queues".into(), Body::None, 405, "method-not-allowed"),
        case("wrong method on a probe", M::DELETE, "/healthz".into(), Body::None, 405, "method-not-allowed"),
        case(
            "malformed JSON",
            M::POST,
            "/api/v1/queues".into(),
            Raw(b"{\"name\":".to_vec(), Some("application/json")),
            400,
            "invalid-body",
        ),
        case(
            "empty body",
            M::POST,
            "/api/v1/queues".into(),
            Raw(Vec::new(), Some("application/json")),
            400,
            "invalid-body",
        ),
        case(
            "no content type",
            M::POST,
            "/api/v1/queues".into(),
            Raw(br#"{"name":"Q"}"#.to_vec(), None),
            400,
            "invalid-body",
        ),
        case(
            "wrong content type",
            M::POST,
            "/api/v1/templates".into(),
            Raw(b"name=x".to_vec(), Some("text/plain")),
            400,
            "invalid-body",
        ),
        case(
            "unknown field",
            M::POST,
            "/api/v1/queues".into(),
            Json(json!({"name": "Q", "templateId": tid, "color": "red"})),
            400,
            "invalid-body",
        ),
        case(
            "wrong type",
            M::POST,
            "/api/v1/queues".into(),
            Json(json!({"name": 5, "templateId": tid})),
            400,
            "invalid-body",
        ),
        case("missing field", M::POST, "/api/v1/queues".into(), Json(json!({"name": "Q"})), 400, "invalid-body"),
        case(
            "session body of the wrong shape",
            M::POST,
            format!("/api/v1/queues/{qid}/sessions"),
            Json(json!({"title": "x"})),
            400,
            "invalid-body",
        ),
        case(
            "unknown lifecycle",
            M::PATCH,
            format!("/api/v1/sessions/{sid}/lifecycle"),
            Json(json!({"lifecycleStatus": "sleeping"})),
            400,
            "invalid-body",
        ),
        case(
            "extra lifecycle field",
            M::PATCH,
            format!("/api/v1/sessions/{sid}/lifecycle"),
            Json(json!({"lifecycleStatus": "paused", "why": "lunch"})),
            400,
            "invalid-body",
        ),
        case(
            "body over 1 MiB",
            M::POST,
            "/api/v1/queues".into(),
            Raw(too_big, Some("application/json")),
            413,
            "payload-too-large",
        ),
        case("limit 0", M::GET, "/api/v1/queues?limit=0".into(), Body::None, 400, "invalid-query"),
        case("limit 501", M::GET, "/api/v1/queues?limit=501".into(), Body::None, 400, "invalid-query"),
        case("limit not a number", M::GET, "/api/v1/templates?limit=ten".into(), Body::None, 400, "invalid-query"),
        case("unknown sort", M::GET, "/api/v1/queues?sort=color".into(), Body::None, 400, "invalid-query"),
        case(
            "sort of another list",
            M::GET,
            format!("/api/v1/sessions/{sid}/items?sort=name"),
            Body::None,
            400,
            "invalid-query",
        ),
        case(
            "unknown order",
            M::GET,
            format!("/api/v1/queues/{qid}/sessions?order=sideways"),
            Body::None,
            400,
            "invalid-query",
        ),
        case("garbage cursor", M::GET, "/api/v1/queues?cursor=%21%21".into(), Body::None, 400, "invalid-query"),
        case(
            "cursor of another sort",
            M::GET,
            format!("/api/v1/queues?cursor={foreign_cursor}"),
            Body::None,
            400,
            "invalid-query",
        ),
        case("unknown parameter", M::GET, "/api/v1/queues?page=2".into(), Body::None, 400, "invalid-query"),
        case(
            "status filter not a uuid",
            M::GET,
            format!("/api/v1/sessions/{sid}/items?status=Waiting"),
            Body::None,
            400,
            "invalid-query",
        ),
        case(
            "lastEventId not a number",
            M::GET,
            format!("/api/v1/sessions/{sid}/stream?lastEventId=x"),
            Body::None,
            400,
            "invalid-query",
        ),
        case(
            "active to archived",
            M::PATCH,
            format!("/api/v1/sessions/{sid}/lifecycle"),
            Json(json!({"lifecycleStatus": "archived"})),
            409,
            "invalid-lifecycle-transition",
        ),
        case(
            "item in a paused session",
            M::POST,
            format!("/api/v1/sessions/{pid}/items"),
            Json(json!({"displayName": "Ben"})),
            409,
            "session-not-active",
        ),
        case(
            "moving an item to another session",
            M::PATCH,
            format!("/api/v1/items/{iid}"),
            Json(json!({"sessionId": pid})),
            422,
            "item-session-immutable",
        ),
        case(
            "metadata against the schema",
            M::POST,
            format!("/api/v1/sessions/{sid}/items"),
            Json(json!({"displayName": "Ben", "metadata": {"phone": 5}})),
            422,
            "metadata-schema-violation",
        ),
        case(
            "metadata patch against the schema",
            M::PATCH,
            format!("/api/v1/items/{iid}"),
            Json(json!({"metadata": {"phone": false}})),
            422,
            "metadata-schema-violation",
        ),
        case(
            "a move the machine lacks",
            M::PATCH,
            format!("/api/v1/items/{iid}/status"),
            Json(json!({"statusId": d.status("Done")})),
            409,
            "invalid-status-transition",
        ),
        case(
            "a transition from elsewhere",
            M::PATCH,
            format!("/api/v1/items/{iid}/status"),
            Json(json!({"transition": "finish"})),
            409,
            "invalid-status-transition",
        ),
        case(
            "an unknown transition",
            M::PATCH,
            format!("/api/v1/items/{iid}/status"),
            Json(json!({"transition": "teleport"})),
            409,
            "invalid-status-transition",
        ),
        case(
            "blank queue name",
            M::POST,
            "/api/v1/queues".into(),
            Json(json!({"name": "  ", "templateId": tid})),
            422,
            "validation-failed",
        ),
        case(
            "bad prefix",
            M::PATCH,
            format!("/api/v1/queues/{qid}"),
            Json(json!({"prefix": "TOO-LONG"})),
            422,
            "validation-failed",
        ),
        case(
            "blank item name",
            M::POST,
            format!("/api/v1/sessions/{sid}/items"),
            Json(json!({"displayName": ""})),
            422,
            "validation-failed",
        ),
        case(
            "bad status color",
            M::PATCH,
            format!("/api/v1/session-statuses/{}", d.status("Done")),
            Json(json!({"color": "green"})),
            422,
            "validation-failed",
        ),
        case(
            "both statusId and transition",
            M::PATCH,
            format!("/api/v1/items/{iid}/status"),
            Json(json!({"statusId": d.status("Serving"), "transition": "call"})),
            422,
            "validation-failed",
        ),
        case(
            "template without statuses",
            M::POST,
            "/api/v1/templates".into(),
            Json(json!({"name": "Empty", "statuses": []})),
            422,
            "validation-failed",
        ),
        case(
            "duplicate labels in a template",
            M::POST,
            "/api/v1/templates".into(),
            Json(json!({"name": "Dup", "statuses": [{"label": "A"}, {"label": "A"}]})),
            409,
            "duplicate-status-label",
        ),
        case(
            "a template label taken",
            M::POST,
            format!("/api/v1/templates/{tid}/statuses"),
            Json(json!({"label": "Done"})),
            409,
            "duplicate-status-label",
        ),
        case(
            "a session label taken",
            M::PATCH,
            format!("/api/v1/session-statuses/{}", d.status("Done")),
            Json(json!({"label": "Waiting"})),
            409,
            "duplicate-status-label",
        ),
        case(
            "a session in an inactive queue",
            M::POST,
            format!("/api/v1/queues/{closed_id}/sessions"),
            Body::None,
            409,
            "queue-inactive",
        ),
    ];
    let mut bad_header = case(
        "Last-Event-ID not a number",
        M::GET,
        format!("/api/v1/sessions/{sid}/stream"),
        Body::None,
        400,
        "invalid-query",
    );
    bad_header.header = Some(("Last-Event-ID", "abc"));
    cases.push(bad_header);

    let before = everything(&s, &d).await;
    for c in &cases {
        let mut req = s.request(c.method.clone(), &c.path);
        req = match &c.body {
            Body::None => req,
            Body::Json(v) => req.json(v),
            Body::Raw(bytes, ct) => {
                let req = req.body(bytes.clone());
                match ct {
                    Some(ct) => req.header("content-type", *ct),
                    None => req,
                }
            }
        };
        if let Some((name, value)) = c.header {
            req = req.header(name, value);
        }
        let resp = req.send().await.unwrap();
        let status = resp.status().as_u16();
        let content_type = resp.headers().get("content-type").map(|v| v.to_str().unwrap().to_string());
        let body: Value = resp.json().await.unwrap_or(Value::Null);
        assert_eq!(status, c.status, "{}: {body}", c.what);
        assert_eq!(content_type.as_deref(), Some("application/problem+json"), "{}", c.what);
        assert_eq!(body["type"], format!("{BASE}{}", c.slug), "{}: {body}", c.what);
        assert_eq!(body["status"], c.status, "{}", c.what);
        assert!(body["title"].as_str().is_some_and(|t| !t.is_empty()), "{}", c.what);
        assert!(body["detail"].as_str().is_some_and(|t| !t.is_empty()), "{}", c.what);
        assert_eq!(body["instance"], c.path.split('?').next().unwrap(), "{}", c.what);
    }
    assert_eq!(everything(&s, &d).await, before, "a refused request changed something");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn problems_carry_their_extension_members() {
    let s = sqlite_server().await;
    let d = desk(&s).await;
    let (sid, tid) = (d.session_id(), d.template["id"].as_str().unwrap());
    let item = s.post(&format!("/api/v1/sessions/{sid}/items"), json!({"displayName": "Ada"})).await.expect(201);
    let iid = item["id"].as_str().unwrap();

    let lifecycle = s.patch(&format!("/api/v1/sessions/{sid}/lifecycle"), json!({"lifecycleStatus": "archived"})).await;
    let lifecycle = lifecycle.expect(409);
    assert_eq!((lifecycle["from"].as_str(), lifecycle["to"].as_str()), (Some("active"), Some("archived")));

    let schema =
        s.post(&format!("/api/v1/sessions/{sid}/items"), json!({"displayName": "B", "metadata": {"phone": 5}})).await;
    let schema = schema.expect(422);
    assert!(!schema["errors"].as_array().unwrap().is_empty(), "{schema}");

    let invalid = s.post("/api/v1/queues", json!({"name": "", "templateId": tid})).await.expect(422);
    assert_eq!(invalid["field"], "name");

    let moved =
        s.patch(&format!("/api/v1/items/{iid}/status"), json!({"statusId": d.status("Done")})).await.expect(409);
    assert_eq!((moved["from"].as_str(), moved["to"].as_str()), (Some("Waiting"), Some("Done")));

    let named = s.patch(&format!("/api/v1/items/{iid}/status"), json!({"transition": "finish"})).await.expect(409);
    assert_eq!((named["from"].as_str(), named["transition"].as_str()), (Some("Waiting"), Some("finish")));

    let dup = s.post(&format!("/api/v1/templates/{tid}/statuses"), json!({"label": "Done"})).await.expect(409);
    assert_eq!(dup["label"], "Done");

    let body = s.post("/api/v1/queues", json!({"name": "Q", "templateId": tid, "colour": 1})).await.expect(400);
    assert!(body["detail"].as_str().unwrap().contains("colour"), "the detail names the unknown field: {body}");
}
