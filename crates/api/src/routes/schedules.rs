//! `/queues/{id}/session-schedule`: read, set and remove a queue's session schedule (the cron on
//! which the session scheduler worker rotates its shifts).

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use lineup_domain::{NewSessionSchedule, SessionSchedule, SessionScheduleSpec};
use uuid::Uuid;

use crate::auth::{need, Authorized};
use crate::error::{ApiResult, ProblemResponse};
use crate::extract::{ApiJson, ApiPath};
use crate::AppState;

/// The session schedule routes.
pub fn routes() -> Router<AppState> {
    Router::new().route(
        "/queues/{id}/session-schedule",
        get(get_session_schedule).put(put_session_schedule).delete(delete_session_schedule),
    )
}

/// Reads the queue's session schedule.
///
/// 404 when the queue does not exist or has no schedule.
#[utoipa::path(
    get, path = "/api/v1/queues/{id}/session-schedule", tag = "queues",
    params(("id" = Uuid, Path, description = "Queue id")),
    responses(
        (status = 200, description = "The schedule", body = SessionSchedule),
        (status = 404, response = ProblemResponse),
    )
)]
pub async fn get_session_schedule(
    State(state): State<AppState>,
    auth: Authorized<need::QueueManage>,
    ApiPath(id): ApiPath<Uuid>,
) -> ApiResult<Json<SessionSchedule>> {
    Ok(Json(state.store.get_session_schedule(auth.tenant(), id).await?))
}

/// Creates or replaces the queue's session schedule: a 6-field cron with seconds (UTC) and a
/// session name template in which `{date}` becomes the due date. A replaced schedule keeps its
/// last run.
///
/// 404 when the queue does not exist; 422 `validation-failed` for a bad cron or name.
#[utoipa::path(
    put, path = "/api/v1/queues/{id}/session-schedule", tag = "queues",
    params(("id" = Uuid, Path, description = "Queue id")),
    request_body = NewSessionSchedule,
    responses(
        (status = 200, description = "The schedule", body = SessionSchedule),
        (status = 400, response = ProblemResponse),
        (status = 404, response = ProblemResponse),
        (status = 422, response = ProblemResponse),
    )
)]
pub async fn put_session_schedule(
    State(state): State<AppState>,
    auth: Authorized<need::QueueManage>,
    ApiPath(id): ApiPath<Uuid>,
    ApiJson(new): ApiJson<NewSessionSchedule>,
) -> ApiResult<Json<SessionSchedule>> {
    let spec = SessionScheduleSpec::try_from(new)?;
    let schedule = state.store.put_session_schedule(auth.tenant(), id, spec, lineup_store::now_micros()).await?;
    Ok(Json(schedule))
}

/// Removes the queue's session schedule; the sessions it opened stay.
///
/// 404 when the queue does not exist or has no schedule.
#[utoipa::path(
    delete, path = "/api/v1/queues/{id}/session-schedule", tag = "queues",
    params(("id" = Uuid, Path, description = "Queue id")),
    responses((status = 204, description = "Removed"), (status = 404, response = ProblemResponse))
)]
pub async fn delete_session_schedule(
    State(state): State<AppState>,
    auth: Authorized<need::QueueManage>,
    ApiPath(id): ApiPath<Uuid>,
) -> ApiResult<StatusCode> {
    state.store.delete_session_schedule(auth.tenant(), id).await?;
    Ok(StatusCode::NO_CONTENT)
}
