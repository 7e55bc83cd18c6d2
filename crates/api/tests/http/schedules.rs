//! `/queues/{id}/session-schedule` over HTTP, on both backends: set, read, replace and remove a
//! queue's schedule; a bad cron is 422; another tenant's queue is 404.

use lineup_domain::Role;
use reqwest::Method;
use serde_json::json;

use crate::common::{desk, on_both_backends, TestServer};

on_both_backends!(
    a_schedule_is_set_read_replaced_and_removed,
    bad_schedules_are_refused,
    other_tenants_queues_are_not_found
);

fn url(queue: &serde_json::Value) -> String {
    format!("/api/v1/queues/{}/session-schedule", queue["id"].as_str().unwrap())
}

async fn a_schedule_is_set_read_replaced_and_removed(s: &TestServer) {
    let d = desk(s).await;
    let path = url(&d.queue);
    s.get(&path).await.problem(404, "not-found");
    let body = json!({"cron": "0 0 6 * * *", "sessionName": "Day {date}"});
    let put = s.call(Method::PUT, &path, Some(body)).await.expect(200);
    assert_eq!(put["queueId"], d.queue["id"]);
    assert_eq!(put["cron"], "0 0 6 * * *");
    assert_eq!(put["sessionName"], "Day {date}");
    assert!(put["lastRunAt"].is_null());
    assert!(put["nextRunAt"].as_str().unwrap().contains("T06:00:00"));
    assert_eq!(s.get(&path).await.expect(200), put);

    let body = json!({"cron": "0 30 7 * * 1-5", "sessionName": "Weekday"});
    let replaced = s.call(Method::PUT, &path, Some(body)).await.expect(200);
    assert_eq!(replaced["sessionName"], "Weekday");
    assert_eq!(replaced["createdAt"], put["createdAt"]);

    s.delete(&path).await.expect(204);
    s.get(&path).await.problem(404, "not-found");
    s.delete(&path).await.problem(404, "not-found");
}

async fn bad_schedules_are_refused(s: &TestServer) {
    let d = desk(s).await;
    let path = url(&d.queue);
    for body in [
        json!({"cron": "0 6 * * *", "sessionName": "Day"}),
        json!({"cron": "0 0 61 * * *", "sessionName": "Day"}),
        json!({"cron": "0 0 6 * * *", "sessionName": ""}),
        json!({"cron": "0 0 6 * * *", "sessionName": "x".repeat(101)}),
    ] {
        s.call(Method::PUT, &path, Some(body.clone())).await.problem(422, "validation-failed");
    }
    s.call(Method::PUT, &path, Some(json!({"cron": "0 0 6 * * *"}))).await.problem(400, "invalid-body");
    s.get(&path).await.problem(404, "not-found");
    let agent = s.as_role(Role::Agent).await;
    let body = json!({"cron": "0 0 6 * * *", "sessionName": "Day"});
    assert_eq!(agent.call(Method::PUT, &path, Some(body)).await.status.as_u16(), 403);
}

async fn other_tenants_queues_are_not_found(s: &TestServer) {
    let d = desk(s).await;
    let path = url(&d.queue);
    let body = json!({"cron": "0 0 6 * * *", "sessionName": "Day"});
    s.call(Method::PUT, &path, Some(body.clone())).await.expect(200);
    let (_, other) = s.other_tenant().await;
    other.get(&path).await.problem(404, "not-found");
    other.call(Method::PUT, &path, Some(body)).await.problem(404, "not-found");
    other.delete(&path).await.problem(404, "not-found");
    s.get(&path).await.expect(200);
}
