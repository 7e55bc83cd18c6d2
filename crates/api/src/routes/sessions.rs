//! `/queues/{queueId}/sessions`, `/sessions` and `/session-statuses`: sessions of a queue, their
//! lifecycle, and the statuses cloned into them.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, patch, post};
use axum::{Json, Router};
use lineup_domain::{Lifecycle, NewSession, Session, SessionPatch, SessionStatus, SessionStatusPatch};
use lineup_store::Page;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use super::{created, V1};
use crate::auth::{need, Authorized};
use crate::error::{ApiResult, ProblemResponse};
use crate::extract::{ApiJson, ApiJsonOrDefault, ApiPath, ApiQuery, SessionListQuery};
use crate::AppState;

/// The session and session-status routes. (The router names every path parameter `id`, as it
/// needs one name per segment; the OpenAPI document names them after what they identify.)
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/queues/{id}/sessions", post(create_session).get(list_sessions))
        .route("/sessions/{id}", get(get_session).patch(update_session).delete(delete_session))
        .route("/sessions/{id}/lifecycle", patch(change_lifecycle))
        .route("/sessions/{id}/statuses", get(list_session_statuses))
        .route("/session-statuses/{id}", patch(update_session_status))
}

/// The body of a lifecycle move.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct LifecycleChange {
    /// Where the session should go: active⇄paused, active|paused→completed, completed→archived.
    pub lifecycle_status: Lifecycle,
}

/// Opens the next session of an active queue (the body and its `name` are optional).
///
/// The template's statuses are cloned into the session. 409 `queue-inactive` when the queue is
/// deactivated.
#[utoipa::path(
    post, path = "/api/v1/queues/{queueId}/sessions", tag = "sessions",
    params(("queueId" = Uuid, Path, description = "Queue id")),
    request_body(content = Option<NewSession>, description = "Optional; an empty body opens \"Session N\""),
    responses(
        (status = 201, description = "The new session", body = Session,
            headers(("Location" = String, description = "URL of the new session"))),
        (status = 400, response = ProblemResponse),
        (status = 404, response = ProblemResponse),
        (status = 409, response = ProblemResponse),
        (status = 422, response = ProblemResponse),
    )
)]
pub async fn create_session(
    State(state): State<AppState>,
    auth: Authorized<need::SessionManage>,
    ApiPath(queue_id): ApiPath<Uuid>,
    ApiJsonOrDefault(new): ApiJsonOrDefault<NewSession>,
) -> ApiResult<Response> {
    let session = state.store.create_session(auth.tenant(), queue_id, new).await?;
    state.notify_committed();
    Ok(created(Some(format!("{V1}/sessions/{}", session.id)), session))
}

/// Lists the sessions of a queue (deleted sessions are left out).
#[utoipa::path(
    get, path = "/api/v1/queues/{queueId}/sessions", tag = "sessions",
    params(("queueId" = Uuid, Path, description = "Queue id"), SessionListQuery),
    responses(
        (status = 200, description = "A page of sessions", body = super::SessionPage),
        (status = 400, response = ProblemResponse),
        (status = 404, response = ProblemResponse),
    )
)]
pub async fn list_sessions(
    State(state): State<AppState>,
    auth: Authorized<need::SessionRead>,
    ApiPath(queue_id): ApiPath<Uuid>,
    ApiQuery(q): ApiQuery<SessionListQuery>,
) -> ApiResult<Json<Page<Session>>> {
    let page = q.page()?;
    state.store.get_queue(auth.tenant(), queue_id).await?;
    Ok(Json(state.store.list_sessions(auth.tenant(), queue_id, &page).await?))
}

/// Reads one session.
#[utoipa::path(
    get, path = "/api/v1/sessions/{id}", tag = "sessions",
    params(("id" = Uuid, Path, description = "Session id")),
    responses((status = 200, description = "The session", body = Session), (status = 404, response = ProblemResponse))
)]
pub async fn get_session(
    State(state): State<AppState>,
    auth: Authorized<need::SessionRead>,
    ApiPath(id): ApiPath<Uuid>,
) -> ApiResult<Json<Session>> {
    Ok(Json(state.store.get_session(auth.tenant(), id).await?))
}

/// Renames a session.
#[utoipa::path(
    patch, path = "/api/v1/sessions/{id}", tag = "sessions",
    params(("id" = Uuid, Path, description = "Session id")),
    request_body = SessionPatch,
    responses(
        (status = 200, description = "The session", body = Session),
        (status = 400, response = ProblemResponse),
        (status = 404, response = ProblemResponse),
        (status = 422, response = ProblemResponse),
    )
)]
pub async fn update_session(
    State(state): State<AppState>,
    auth: Authorized<need::SessionManage>,
    ApiPath(id): ApiPath<Uuid>,
    ApiJson(patch): ApiJson<SessionPatch>,
) -> ApiResult<Json<Session>> {
    let session = state.store.update_session(auth.tenant(), id, patch).await?;
    state.notify_committed();
    Ok(Json(session))
}

/// Moves a session's lifecycle; emits `session_paused`, `session_resumed` or `session_completed`.
///
/// Allowed: active⇄paused, active|paused→completed, completed→archived; anything else is 409
/// `invalid-lifecycle-transition` (with `from` and `to`). An unknown value is 400 `invalid-body`.
#[utoipa::path(
    patch, path = "/api/v1/sessions/{id}/lifecycle", tag = "sessions",
    params(("id" = Uuid, Path, description = "Session id")),
    request_body = LifecycleChange,
    responses(
        (status = 200, description = "The session", body = Session),
        (status = 400, response = ProblemResponse),
        (status = 404, response = ProblemResponse),
        (status = 409, response = ProblemResponse),
    )
)]
pub async fn change_lifecycle(
    State(state): State<AppState>,
    auth: Authorized<need::SessionManage>,
    ApiPath(id): ApiPath<Uuid>,
    ApiJson(change): ApiJson<LifecycleChange>,
) -> ApiResult<Json<Session>> {
    let session = state.store.change_lifecycle(auth.tenant(), id, change.lifecycle_status).await?;
    state.notify_committed();
    Ok(Json(session))
}

/// Soft-deletes a session: it and its items are hidden from every read afterwards.
#[utoipa::path(
    delete, path = "/api/v1/sessions/{id}", tag = "sessions",
    params(("id" = Uuid, Path, description = "Session id")),
    responses((status = 204, description = "Deleted"), (status = 404, response = ProblemResponse))
)]
pub async fn delete_session(
    State(state): State<AppState>,
    auth: Authorized<need::SessionManage>,
    ApiPath(id): ApiPath<Uuid>,
) -> ApiResult<StatusCode> {
    state.store.delete_session(auth.tenant(), id).await?;
    state.notify_committed();
    Ok(StatusCode::NO_CONTENT)
}

/// The statuses of a session, by `order`.
#[utoipa::path(
    get, path = "/api/v1/sessions/{sessionId}/statuses", tag = "sessions",
    params(("sessionId" = Uuid, Path, description = "Session id")),
    responses((status = 200, description = "The session's statuses by order", body = Vec<SessionStatus>), (status = 404, response = ProblemResponse))
)]
pub async fn list_session_statuses(
    State(state): State<AppState>,
    auth: Authorized<need::SessionRead>,
    ApiPath(session_id): ApiPath<Uuid>,
) -> ApiResult<Json<Vec<SessionStatus>>> {
    Ok(Json(state.store.list_session_statuses(auth.tenant(), session_id).await?))
}

/// Relabels, recolors or reorders a session status (the template is not touched).
///
/// 409 `duplicate-status-label` when another status of the session has the label.
#[utoipa::path(
    patch, path = "/api/v1/session-statuses/{id}", tag = "sessions",
    params(("id" = Uuid, Path, description = "Session status id")),
    request_body = SessionStatusPatch,
    responses(
        (status = 200, description = "The session status", body = SessionStatus),
        (status = 400, response = ProblemResponse),
        (status = 404, response = ProblemResponse),
        (status = 409, response = ProblemResponse),
        (status = 422, response = ProblemResponse),
    )
)]
pub async fn update_session_status(
    State(state): State<AppState>,
    auth: Authorized<need::SessionManage>,
    ApiPath(id): ApiPath<Uuid>,
    ApiJson(patch): ApiJson<SessionStatusPatch>,
) -> ApiResult<Json<SessionStatus>> {
    let status = state.store.update_session_status(auth.tenant(), id, patch).await?;
    state.notify_committed();
    Ok(Json(status))
}
