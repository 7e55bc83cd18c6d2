//! A store whose database is down: every call fails with a backend error. The API answers
//! `internal` (without leaking the cause) and `/readyz` answers `not-ready`.

use std::sync::Arc;

use async_trait::async_trait;
use lineup_domain::*;
use lineup_store::{EventScope, ItemFilter, Page, PageRequest, Store, StoreError, StoreResult, StoredEvent};
use serde_json::json;
use uuid::Uuid;

use crate::common::serve;

const SECRET: &str = "password=hunter2 host=db.internal";

struct DownStore;

fn down<T>() -> StoreResult<T> {
    Err(StoreError::Backend(format!("connection refused ({SECRET})")))
}

#[async_trait]
impl Store for DownStore {
    async fn migrate(&self) -> StoreResult<()> {
        down()
    }
    async fn ping(&self) -> StoreResult<()> {
        down()
    }
    async fn ensure_tenant(&self, _: TenantId, _: &str, _: &str) -> StoreResult<()> {
        down()
    }
    async fn create_template(&self, _: TenantId, _: NewTemplate) -> StoreResult<Template> {
        down()
    }
    async fn get_template(&self, _: TenantId, _: Uuid) -> StoreResult<Template> {
        down()
    }
    async fn list_templates(&self, _: TenantId, _: &PageRequest) -> StoreResult<Page<Template>> {
        down()
    }
    async fn add_template_status(&self, _: TenantId, _: Uuid, _: NewTemplateStatus) -> StoreResult<TemplateStatus> {
        down()
    }
    async fn create_queue(&self, _: TenantId, _: NewQueue) -> StoreResult<Queue> {
        down()
    }
    async fn get_queue(&self, _: TenantId, _: Uuid) -> StoreResult<Queue> {
        down()
    }
    async fn list_queues(&self, _: TenantId, _: &PageRequest) -> StoreResult<Page<Queue>> {
        down()
    }
    async fn update_queue(&self, _: TenantId, _: Uuid, _: QueuePatch) -> StoreResult<Queue> {
        down()
    }
    async fn create_session(&self, _: TenantId, _: Uuid, _: NewSession) -> StoreResult<Session> {
        down()
    }
    async fn get_session(&self, _: TenantId, _: Uuid) -> StoreResult<Session> {
        down()
    }
    async fn list_sessions(&self, _: TenantId, _: Uuid, _: &PageRequest) -> StoreResult<Page<Session>> {
        down()
    }
    async fn update_session(&self, _: TenantId, _: Uuid, _: SessionPatch) -> StoreResult<Session> {
        down()
    }
    async fn change_lifecycle(&self, _: TenantId, _: Uuid, _: Lifecycle) -> StoreResult<Session> {
        down()
    }
    async fn delete_session(&self, _: TenantId, _: Uuid) -> StoreResult<()> {
        down()
    }
    async fn list_session_statuses(&self, _: TenantId, _: Uuid) -> StoreResult<Vec<SessionStatus>> {
        down()
    }
    async fn update_session_status(&self, _: TenantId, _: Uuid, _: SessionStatusPatch) -> StoreResult<SessionStatus> {
        down()
    }
    async fn create_item(&self, _: TenantId, _: Uuid, _: NewItem) -> StoreResult<Item> {
        down()
    }
    async fn get_item(&self, _: TenantId, _: Uuid) -> StoreResult<Item> {
        down()
    }
    async fn list_items(&self, _: TenantId, _: Uuid, _: &ItemFilter, _: &PageRequest) -> StoreResult<Page<Item>> {
        down()
    }
    async fn update_item(&self, _: TenantId, _: Uuid, _: ItemPatch) -> StoreResult<Item> {
        down()
    }
    async fn change_item_status(&self, _: TenantId, _: Uuid, _: StatusChangeRequest) -> StoreResult<Item> {
        down()
    }
    async fn item_history(&self, _: TenantId, _: Uuid) -> StoreResult<Vec<ItemHistoryEntry>> {
        down()
    }
    async fn read_events(&self, _: TenantId, _: EventScope, _: i64, _: u32) -> StoreResult<Vec<StoredEvent>> {
        down()
    }
    async fn last_event_seq(&self) -> StoreResult<i64> {
        down()
    }
}

#[tokio::test]
async fn a_failing_database_is_an_internal_problem_that_leaks_nothing() {
    let s = serve(Arc::new(DownStore), Uuid::new_v4(), None).await;
    let id = Uuid::new_v4();
    for (path, body) in [
        ("/api/v1/queues".to_string(), None),
        (format!("/api/v1/items/{id}"), None),
        (format!("/api/v1/sessions/{id}/stream"), None),
        ("/api/v1/templates".to_string(), Some(json!({"name": "T", "statuses": [{"label": "A"}]}))),
    ] {
        let method = if body.is_some() { reqwest::Method::POST } else { reqwest::Method::GET };
        let answer = s.call(method, &path, body).await;
        assert_eq!(answer.status, 500, "{path}");
        assert_eq!(answer.header("content-type"), "application/problem+json");
        assert_eq!(answer.body["type"], "https://lineup.dev/problems/internal");
        assert!(!answer.body.to_string().contains("hunter2"), "leaked: {}", answer.body);
    }
}

#[tokio::test]
async fn readiness_fails_while_the_database_is_down_and_liveness_does_not() {
    let s = serve(Arc::new(DownStore), Uuid::new_v4(), None).await;
    let ready = s.get("/readyz").await;
    assert_eq!(ready.status, 503);
    assert_eq!(ready.header("content-type"), "application/problem+json");
    assert_eq!(ready.body["type"], "https://lineup.dev/problems/not-ready");
    assert_eq!(s.get("/healthz").await.expect(200), json!({"status": "ok"}));
}
