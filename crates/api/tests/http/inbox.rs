//! `/inbox` over HTTP, on both backends: dead letters (made through the store, as the workers
//! make them) are listed, read, replayed and discarded; only dead letters are; the depth counts
//! the tenant's messages; only admins, and only in their own tenant.

use chrono::{DateTime, Utc};
use lineup_domain::Role;
use reqwest::Method;
use serde_json::{json, Value};
use uuid::Uuid;

use crate::common::{enqueue, make_dead_letter, make_done_message, on_both_backends, sqlite_server, TestServer};

fn message(id: Uuid) -> String {
    format!("/api/v1/inbox/messages/{id}")
}

fn dead_letter(id: Uuid) -> String {
    format!("/api/v1/inbox/dead-letters/{id}")
}

fn replay(id: Uuid) -> String {
    format!("/api/v1/inbox/dead-letters/{id}/replay")
}

fn keys(rows: &[Value]) -> Vec<&str> {
    rows.iter().map(|m| m["dedupKey"].as_str().unwrap()).collect()
}

async fn dead_letters_are_listed_read_replayed_and_discarded(s: &TestServer) {
    let connection = Uuid::new_v4();
    let first = make_dead_letter(&s.store, s.tenant, connection, "k1", "3CX answered 500").await;
    let second = make_dead_letter(&s.store, s.tenant, connection, "k2", "unknown queue DN 990").await;
    let third = make_dead_letter(&s.store, s.tenant, connection, "k3", "payload is not a call").await;
    let done = make_done_message(&s.store, s.tenant, connection, "k4").await;
    let pending = enqueue(&s.store, s.tenant, connection, "call-k5", "k5").await;

    let depth = s.get("/api/v1/inbox/depth").await.expect(200);
    assert_eq!((&depth["pending"], &depth["inFlight"], &depth["dead"]), (&json!(1), &json!(0), &json!(3)));
    assert!(depth["oldestPendingAt"].is_string(), "{depth}");

    let (rows, pages) = s.all_pages("/api/v1/inbox/dead-letters", "", 2).await;
    assert_eq!((keys(&rows), pages), (vec!["k1", "k2", "k3"], 2), "oldest first, two pages");
    let (newest_first, _) = s.all_pages("/api/v1/inbox/dead-letters", "order=desc", 2).await;
    assert_eq!(keys(&newest_first), ["k3", "k2", "k1"]);
    let row = &rows[0];
    assert_eq!(row["id"], first.to_string());
    assert_eq!((&row["connectionId"], &row["source"]), (&json!(connection.to_string()), &json!("poller")));
    assert_eq!((&row["callKey"], &row["payload"]), (&json!("call-k1"), &json!({"call": "call-k1", "record": "k1"})));
    assert_eq!((&row["state"], &row["attempts"], &row["claims"]), (&json!("dead"), &json!(1), &json!(1)));
    assert_eq!(row["lastError"], "3CX answered 500");
    assert!(row["settledAt"].is_string() && row["enqueuedAt"].is_string() && row["observedAt"].is_string(), "{row}");
    assert!(row["notBefore"].is_null() && row["leasedUntil"].is_null(), "{row}");
    assert_eq!(s.get(&message(first)).await.expect(200), *row, "a message reads as it lists");
    assert_eq!(s.get(&message(done)).await.expect(200)["state"], "done");
    let waiting = s.get(&message(pending)).await.expect(200);
    assert_eq!(
        (&waiting["state"], &waiting["lastError"], &waiting["settledAt"]),
        (&json!("pending"), &Value::Null, &Value::Null)
    );

    let replayed = s.post(&replay(first), json!({})).await.expect(200);
    assert_eq!(
        (&replayed["id"], &replayed["state"], &replayed["attempts"]),
        (&row["id"], &json!("pending"), &json!(0))
    );
    assert!(replayed["seq"].as_i64() > waiting["seq"].as_i64(), "a replay goes to the end of the line: {replayed}");
    assert_eq!(replayed["lastError"], "3CX answered 500", "the error stays until the next attempt");
    let due: DateTime<Utc> = replayed["notBefore"].as_str().map_or(Utc::now(), |t| t.parse().unwrap());
    assert!(due <= Utc::now(), "due at once: {replayed}");
    assert_eq!(s.get(&message(first)).await.expect(200), replayed);

    s.delete(&dead_letter(second)).await.expect(204);
    s.delete(&dead_letter(second)).await.expect(204);
    assert_eq!(s.get(&message(second)).await.expect(200)["state"], "discarded");

    let (rest, _) = s.all_pages("/api/v1/inbox/dead-letters", "", 50).await;
    assert_eq!(keys(&rest), ["k3"]);
    assert_eq!(rest[0]["id"], third.to_string());
    let depth = s.get("/api/v1/inbox/depth").await.expect(200);
    assert_eq!((&depth["pending"], &depth["inFlight"], &depth["dead"]), (&json!(2), &json!(0), &json!(1)));

    s.get("/api/v1/inbox/dead-letters?sort=name").await.problem(400, "invalid-query");
    s.get("/api/v1/inbox/dead-letters?cursor=garbage").await.problem(400, "invalid-query");
    s.get("/api/v1/inbox/dead-letters?limit=0").await.problem(400, "invalid-query");
}

async fn only_dead_letters_are_replayed_or_discarded(s: &TestServer) {
    let connection = Uuid::new_v4();
    let discarded = make_dead_letter(&s.store, s.tenant, connection, "gone", "bad record").await;
    let replayed = make_dead_letter(&s.store, s.tenant, connection, "again", "timeout").await;
    let done = make_done_message(&s.store, s.tenant, connection, "done").await;
    let pending = enqueue(&s.store, s.tenant, connection, "call-pending", "pending").await;
    s.delete(&dead_letter(discarded)).await.expect(204);
    s.post(&replay(replayed), json!({})).await.expect(200);
    for id in [discarded, replayed, done, pending] {
        let before = s.get(&message(id)).await.expect(200);
        let problem = s.post(&replay(id), json!({})).await.problem(409, "conflict");
        assert_eq!(problem["detail"], "the inbox message is not a dead letter", "{problem}");
        if id != discarded {
            s.delete(&dead_letter(id)).await.problem(409, "conflict");
        }
        assert_eq!(s.get(&message(id)).await.expect(200), before, "a refused request changed nothing");
    }
    let unknown = Uuid::new_v4();
    s.get(&message(unknown)).await.problem(404, "not-found");
    s.post(&replay(unknown), json!({})).await.problem(404, "not-found");
    s.delete(&dead_letter(unknown)).await.problem(404, "not-found");
}

async fn another_tenants_messages_are_not_found(s: &TestServer) {
    let connection = Uuid::new_v4();
    let dead = make_dead_letter(&s.store, s.tenant, connection, "a-dead", "A's failure").await;
    let pending = enqueue(&s.store, s.tenant, connection, "call-a", "a-pending").await;
    let before = [s.get(&message(dead)).await.expect(200), s.get(&message(pending)).await.expect(200)];
    let (_, b) = s.other_tenant().await;
    for id in [dead, pending] {
        b.get(&message(id)).await.problem(404, "not-found");
        b.post(&replay(id), json!({})).await.problem(404, "not-found");
        b.delete(&dead_letter(id)).await.problem(404, "not-found");
    }
    assert_eq!(b.get("/api/v1/inbox/dead-letters").await.expect(200), json!({"items": [], "nextCursor": null}));
    let depth = b.get("/api/v1/inbox/depth").await.expect(200);
    assert_eq!(depth, json!({"pending": 0, "inFlight": 0, "dead": 0, "oldestPendingAt": null}));
    let after = [s.get(&message(dead)).await.expect(200), s.get(&message(pending)).await.expect(200)];
    assert_eq!(after, before, "B changed nothing of A");
}

on_both_backends!(
    dead_letters_are_listed_read_replayed_and_discarded,
    only_dead_letters_are_replayed_or_discarded,
    another_tenants_messages_are_not_found,
);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_admins_administer_the_inbox() {
    let s = sqlite_server().await;
    let dead = make_dead_letter(&s.store, s.tenant, Uuid::new_v4(), "admins-only", "boom").await;
    let before = s.get(&message(dead)).await.expect(200);
    for role in Role::ALL.into_iter().filter(|r| *r != Role::Admin) {
        let caller = s.as_role(role).await;
        let attempts = [
            caller.get("/api/v1/inbox/depth").await,
            caller.get("/api/v1/inbox/dead-letters").await,
            caller.get(&message(dead)).await,
            caller.call(Method::POST, &replay(dead), None).await,
            caller.delete(&dead_letter(dead)).await,
        ];
        for answer in attempts {
            let detail = answer.problem(403, "forbidden")["detail"].as_str().unwrap().to_string();
            assert!(detail.contains("inbox.manage"), "{role}: {detail}");
        }
    }
    assert_eq!(s.get(&message(dead)).await.expect(200), before);
}
