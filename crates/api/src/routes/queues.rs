//! `/queues`: create, list, read, change and deactivate queues.

use axum::extract::State;
use axum::response::Response;
use axum::routing::get;
use axum::{Json, Router};
use lineup_domain::{NewQueue, Queue, QueuePatch};
use lineup_store::Page;
use uuid::Uuid;

use super::{created, V1};
use crate::auth::{need, Authorized};
use crate::error::{ApiResult, ProblemResponse};
use crate::extract::{ApiJson, ApiPath, ApiQuery, NameListQuery};
use crate::AppState;

/// The queue routes.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/queues", get(list_queues).post(create_queue))
        .route("/queues/{id}", get(get_queue).patch(update_queue).delete(deactivate_queue))
}

/// Creates a queue over an existing template.
///
/// 404 when the template does not exist; 422 `validation-failed` for a bad name or prefix.
#[utoipa::path(
    post, path = "/api/v1/queues", tag = "queues",
    request_body = NewQueue,
    responses(
        (status = 201, description = "The new queue", body = Queue,
            headers(("Location" = String, description = "URL of the new queue"))),
        (status = 400, response = ProblemResponse),
        (status = 404, response = ProblemResponse),
        (status = 422, response = ProblemResponse),
    )
)]
pub async fn create_queue(
    State(state): State<AppState>,
    auth: Authorized<need::QueueManage>,
    ApiJson(new): ApiJson<NewQueue>,
) -> ApiResult<Response> {
    let queue = state.store.create_queue(auth.tenant(), new).await?;
    state.notify_committed();
    Ok(created(Some(format!("{V1}/queues/{}", queue.id)), queue))
}

/// Lists the queues (active and inactive).
#[utoipa::path(
    get, path = "/api/v1/queues", tag = "queues",
    params(NameListQuery),
    responses((status = 200, description = "A page of queues", body = super::QueuePage), (status = 400, response = ProblemResponse))
)]
pub async fn list_queues(
    State(state): State<AppState>,
    auth: Authorized<need::QueueRead>,
    ApiQuery(q): ApiQuery<NameListQuery>,
) -> ApiResult<Json<Page<Queue>>> {
    Ok(Json(state.store.list_queues(auth.tenant(), &q.page()?).await?))
}

/// Reads one queue.
#[utoipa::path(
    get, path = "/api/v1/queues/{id}", tag = "queues",
    params(("id" = Uuid, Path, description = "Queue id")),
    responses((status = 200, description = "The queue", body = Queue), (status = 404, response = ProblemResponse))
)]
pub async fn get_queue(
    State(state): State<AppState>,
    auth: Authorized<need::QueueRead>,
    ApiPath(id): ApiPath<Uuid>,
) -> ApiResult<Json<Queue>> {
    Ok(Json(state.store.get_queue(auth.tenant(), id).await?))
}

/// Renames, re-prefixes, deactivates or reactivates a queue.
#[utoipa::path(
    patch, path = "/api/v1/queues/{id}", tag = "queues",
    params(("id" = Uuid, Path, description = "Queue id")),
    request_body = QueuePatch,
    responses(
        (status = 200, description = "The queue", body = Queue),
        (status = 400, response = ProblemResponse),
        (status = 404, response = ProblemResponse),
        (status = 422, response = ProblemResponse),
    )
)]
pub async fn update_queue(
    State(state): State<AppState>,
    auth: Authorized<need::QueueManage>,
    ApiPath(id): ApiPath<Uuid>,
    ApiJson(patch): ApiJson<QueuePatch>,
) -> ApiResult<Json<Queue>> {
    let queue = state.store.update_queue(auth.tenant(), id, patch).await?;
    state.notify_committed();
    Ok(Json(queue))
}

/// Deactivates a queue (soft: `isActive` becomes false; it takes no new sessions). Answers the queue.
#[utoipa::path(
    delete, path = "/api/v1/queues/{id}", tag = "queues",
    params(("id" = Uuid, Path, description = "Queue id")),
    responses((status = 200, description = "The deactivated queue", body = Queue), (status = 404, response = ProblemResponse))
)]
pub async fn deactivate_queue(
    State(state): State<AppState>,
    auth: Authorized<need::QueueManage>,
    ApiPath(id): ApiPath<Uuid>,
) -> ApiResult<Json<Queue>> {
    let patch = QueuePatch { is_active: Some(false), ..QueuePatch::default() };
    let queue = state.store.update_queue(auth.tenant(), id, patch).await?;
    state.notify_committed();
    Ok(Json(queue))
}
