//! The whole contract end to end: template → queue → session → items → status moves →
//! pause/resume/complete, while a session stream watches; then resumption with `Last-Event-ID`.

use std::time::Duration;

use reqwest::Method;
use serde_json::{json, Value};

use crate::common::{desk_template, sqlite_server, SseEvent, TestServer};

fn names(events: &[SseEvent]) -> Vec<&str> {
    events.iter().map(|e| e.event.as_str()).collect()
}

/// Runs the walkthrough against `s` (any backend).
pub async fn contract_walkthrough(s: &TestServer) {
    // A template, fetched back from its Location.
    let created = s.post("/api/v1/templates", desk_template("Call desk")).await;
    assert_eq!(created.status, 201);
    let template = created.body.clone();
    let location = created.header("location").to_string();
    assert_eq!(location, format!("/api/v1/templates/{}", template["id"].as_str().unwrap()));
    assert_eq!(s.get(&location).await.expect(200), template);
    let labels: Vec<&str> =
        template["statuses"].as_array().unwrap().iter().map(|t| t["label"].as_str().unwrap()).collect();
    assert_eq!(labels, ["Waiting", "Serving", "Done", "Cancelled"]);

    // A queue over it.
    let created = s.post("/api/v1/queues", json!({"name": "Front desk", "templateId": template["id"]})).await;
    assert_eq!(created.status, 201);
    let queue = created.body.clone();
    assert_eq!(created.header("location"), format!("/api/v1/queues/{}", queue["id"].as_str().unwrap()));
    assert_eq!((queue["prefix"].as_str(), queue["isActive"].as_bool()), (Some("F"), Some(true)));
    let qid = queue["id"].as_str().unwrap().to_string();

    // Its first session, opened with an empty body.
    let created = s.call_raw(Method::POST, &format!("/api/v1/queues/{qid}/sessions"), Vec::new(), None).await;
    let session = created.expect(201);
    assert_eq!(session["sessionNumber"], 1);
    assert_eq!(session["name"], "Session 1");
    assert_eq!(session["lifecycleStatus"], "active");
    assert_eq!(session["endedAt"], Value::Null);
    let sid = session["id"].as_str().unwrap().to_string();
    let statuses = s.get(&format!("/api/v1/sessions/{sid}/statuses")).await.expect(200);
    let status = |label: &str| -> String {
        statuses.as_array().unwrap().iter().find(|x| x["label"] == label).unwrap()["id"].as_str().unwrap().to_string()
    };
    let mut stream = s.stream(&format!("/api/v1/sessions/{sid}/stream"), None).await;

    // Three items, numbered 1, 2, 3 in the session, starting in Waiting.
    let mut items = Vec::new();
    for (name, phone) in [("Ada", "555-0101"), ("Ben", "555-0102"), ("Chloe", "555-0103")] {
        let created = s
            .post(&format!("/api/v1/sessions/{sid}/items"), json!({"displayName": name, "metadata": {"phone": phone}}))
            .await;
        assert_eq!(created.status, 201, "{}", created.body);
        let item = created.body.clone();
        assert_eq!(created.header("location"), format!("/api/v1/items/{}", item["id"].as_str().unwrap()));
        items.push(item);
    }
    let numbers: Vec<&str> = items.iter().map(|i| i["queueNumber"].as_str().unwrap()).collect();
    assert_eq!(numbers, ["F-1", "F-2", "F-3"]);
    assert!(items.iter().all(|i| i["statusId"] == status("Waiting") && i["sessionId"] == sid.as_str()));
    let id = |i: usize| items[i]["id"].as_str().unwrap().to_string();

    // Status moves by transition name and by status id; an update.
    let moved =
        s.patch(&format!("/api/v1/items/{}/status", id(0)), json!({"transition": "call", "changedBy": "desk 1"})).await;
    assert_eq!(moved.expect(200)["statusId"], status("Serving"));
    let done = s.patch(&format!("/api/v1/items/{}/status", id(0)), json!({"statusId": status("Done")})).await;
    assert_eq!(done.expect(200)["statusId"], status("Done"));
    let renamed = s.patch(&format!("/api/v1/items/{}", id(1)), json!({"displayName": "Benedict"})).await.expect(200);
    assert_eq!((renamed["displayName"].as_str(), renamed["queueNumber"].as_str()), (Some("Benedict"), Some("F-2")));
    assert_eq!(s.get(&format!("/api/v1/items/{}", id(1))).await.expect(200), renamed);

    // Pause (no new items), resume, complete.
    let paused = s.patch(&format!("/api/v1/sessions/{sid}/lifecycle"), json!({"lifecycleStatus": "paused"})).await;
    assert_eq!(paused.expect(200)["lifecycleStatus"], "paused");
    let refused = s.post(&format!("/api/v1/sessions/{sid}/items"), json!({"displayName": "Late"})).await;
    assert_eq!(refused.status, 409);
    let resumed = s.patch(&format!("/api/v1/sessions/{sid}/lifecycle"), json!({"lifecycleStatus": "active"})).await;
    assert_eq!(resumed.expect(200)["lifecycleStatus"], "active");
    let completed =
        s.patch(&format!("/api/v1/sessions/{sid}/lifecycle"), json!({"lifecycleStatus": "completed"})).await;
    let completed = completed.expect(200);
    assert_eq!(completed["lifecycleStatus"], "completed");
    assert!(completed["endedAt"].is_string());

    // The stream saw every change, in order, with increasing ids and the objects as data.
    let events = stream.take(9).await;
    assert_eq!(
        names(&events),
        [
            "item_created",
            "item_created",
            "item_created",
            "item_status_changed",
            "item_status_changed",
            "item_updated",
            "session_paused",
            "session_resumed",
            "session_completed"
        ]
    );
    assert!(events.windows(2).all(|w| w[0].id < w[1].id), "ids must increase: {events:?}");
    assert_eq!(events[0].data, items[0]);
    assert_eq!(events[3].data["item"]["id"], id(0).as_str());
    assert_eq!(events[3].data["fromStatusId"], status("Waiting"));
    assert_eq!(events[3].data["toStatusId"], status("Serving"));
    assert_eq!(events[3].data["changedBy"], "desk 1");
    assert_eq!(events[5].data, renamed);
    assert_eq!(events[8].data, completed);
    stream.assert_quiet(Duration::from_millis(500)).await;

    // History of the first item: creation, Serving, Done.
    let history = s.get(&format!("/api/v1/items/{}/history", id(0))).await.expect(200);
    let moves: Vec<(Value, Value)> =
        history.as_array().unwrap().iter().map(|h| (h["fromStatusId"].clone(), h["toStatusId"].clone())).collect();
    assert_eq!(
        moves,
        [
            (Value::Null, json!(status("Waiting"))),
            (json!(status("Waiting")), json!(status("Serving"))),
            (json!(status("Serving")), json!(status("Done")))
        ]
    );

    // Resuming after the third event gives exactly the six missed ones, by header or by query.
    let mut resumed = s.stream(&format!("/api/v1/sessions/{sid}/stream"), Some(events[2].id)).await;
    assert_eq!(resumed.take(6).await, events[3..]);
    resumed.assert_quiet(Duration::from_millis(500)).await;
    let mut by_query = s.stream(&format!("/api/v1/sessions/{sid}/stream?lastEventId={}", events[6].id), None).await;
    assert_eq!(by_query.take(2).await, events[7..]);

    // The item stream has only that item's events.
    let mut item_stream = s.stream(&format!("/api/v1/items/{}/stream", id(0)), Some(events[0].id - 1)).await;
    let mine = item_stream.take(3).await;
    assert_eq!(mine, [events[0].clone(), events[3].clone(), events[4].clone()]);
    item_stream.assert_quiet(Duration::from_millis(500)).await;

    // Archive; then delete: the session disappears from every read and its stream ends.
    let archived = s.patch(&format!("/api/v1/sessions/{sid}/lifecycle"), json!({"lifecycleStatus": "archived"})).await;
    assert_eq!(archived.expect(200)["lifecycleStatus"], "archived");
    let mut doomed = s.stream(&format!("/api/v1/sessions/{sid}/stream"), None).await;
    assert_eq!(s.call(Method::DELETE, &format!("/api/v1/sessions/{sid}"), None).await.status, 204);
    assert_eq!(s.get(&format!("/api/v1/sessions/{sid}")).await.status, 404);
    assert_eq!(s.get(&format!("/api/v1/items/{}", id(0))).await.status, 404);
    let listed = s.get(&format!("/api/v1/queues/{qid}/sessions")).await.expect(200);
    assert_eq!(listed["items"], json!([]));
    assert!(doomed.ends_within(Duration::from_secs(5)).await, "the stream of a deleted session should end");

    // The next session is number 2; deactivating the queue answers it with isActive=false.
    let second = s.post(&format!("/api/v1/queues/{qid}/sessions"), json!({"name": "Afternoon"})).await.expect(201);
    assert_eq!((second["sessionNumber"].as_i64(), second["name"].as_str()), (Some(2), Some("Afternoon")));
    let deactivated = s.call(Method::DELETE, &format!("/api/v1/queues/{qid}"), None).await.expect(200);
    assert_eq!(deactivated["isActive"], false);
    assert_eq!(s.get(&format!("/api/v1/queues/{qid}")).await.expect(200)["isActive"], false);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_contract_walkthrough_works_on_sqlite() {
    let s = sqlite_server().await;
    contract_walkthrough(&s).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stream_without_last_event_id_starts_with_new_events_only() {
    let s = sqlite_server().await;
    let d = crate::common::desk(&s).await;
    let sid = d.session_id();
    s.post(&format!("/api/v1/sessions/{sid}/items"), json!({"displayName": "Before"})).await.expect(201);
    let mut stream = s.stream(&format!("/api/v1/sessions/{sid}/stream"), None).await;
    let after = s.post(&format!("/api/v1/sessions/{sid}/items"), json!({"displayName": "After"})).await.expect(201);
    let events = stream.take(1).await;
    assert_eq!(events[0].data, after);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_stream_sends_keep_alive_comments() {
    let s = sqlite_server().await;
    let d = crate::common::desk(&s).await;
    let mut stream = s.stream(&format!("/api/v1/sessions/{}/stream", d.session_id()), None).await;
    stream.assert_quiet(Duration::from_millis(1000)).await;
    assert!(stream.comments >= 2, "keep-alives every 300 ms, saw {}", stream.comments);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stream_sees_changes_written_behind_the_api_by_polling() {
    let s = sqlite_server().await;
    let d = crate::common::desk(&s).await;
    let sid: uuid::Uuid = d.session_id().parse().unwrap();
    let mut stream = s.stream(&format!("/api/v1/sessions/{sid}/stream"), None).await;
    // Written straight to the store, as another process would: nobody notifies the stream.
    let new = lineup_domain::NewItem { display_name: "Walk-in".into(), metadata: None, status_id: None };
    let item = s.store.create_item(s.tenant, sid, new).await.unwrap();
    let events = stream.take(1).await;
    assert_eq!((events[0].event.as_str(), &events[0].data), ("item_created", &serde_json::to_value(&item).unwrap()));
}
