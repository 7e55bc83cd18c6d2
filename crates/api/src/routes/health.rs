//! Liveness and readiness probes, and the Prometheus metrics.

use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use crate::error::{ApiError, ApiResult};
use crate::AppState;

/// The body of a healthy probe.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Health {
    /// `ok`; `/readyz` says `degraded` when a background worker keeps failing (the API itself
    /// still serves, so the probe still answers 200).
    pub status: String,
    /// The background workers of this process (`/readyz` only; absent when none run here).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub workers: Option<Vec<WorkerHealth>>,
}

/// What one background worker last did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct WorkerHealth {
    /// E.g. `poller:<connection id>`, `reconciler-history:<connection id>`, `inbox-processor`.
    pub name: String,
    /// False after several failed cycles in a row.
    pub healthy: bool,
    /// When it last finished a cycle without error.
    pub last_success_at: Option<DateTime<Utc>>,
    /// The error of its latest failed cycle, until the next success.
    pub last_error: Option<String>,
    pub last_error_at: Option<DateTime<Utc>>,
    /// How far behind it is, in milliseconds (per worker: poll duration, inbox age, checkpoint
    /// age).
    pub lag_ms: Option<i64>,
    /// Failed cycles in a row.
    pub consecutive_failures: u32,
}

fn ok() -> Json<Health> {
    Json(Health { status: "ok".into(), workers: None })
}

/// The probe routes and `/metrics` (outside `/api/v1`).
pub fn routes() -> Router<AppState> {
    Router::new().route("/healthz", get(healthz)).route("/readyz", get(readyz)).route("/metrics", get(metrics))
}

/// The process is up.
#[utoipa::path(get, path = "/healthz", tag = "health", security(()), responses((status = 200, description = "Healthy", body = Health)))]
pub async fn healthz() -> Json<Health> {
    ok()
}

/// The process can serve requests: the database answers. Lists the background workers of the
/// process with their last success, lag and error.
#[utoipa::path(
    get, path = "/readyz", tag = "health", security(()),
    responses((status = 200, description = "Ready", body = Health), (status = 503, response = crate::error::ProblemResponse))
)]
pub async fn readyz(State(state): State<AppState>) -> ApiResult<Json<Health>> {
    state.store.ping().await.map_err(|e| {
        tracing::warn!(error = %e, "readiness check failed");
        ApiError::NotReady("the database does not answer".into())
    })?;
    let Some(workers) = &state.workers else { return Ok(ok()) };
    let reports = workers.reports();
    let status = if reports.iter().all(|w| w.healthy) { "ok" } else { "degraded" };
    Ok(Json(Health { status: status.into(), workers: Some(reports) }))
}

/// Prometheus metrics of this process (text exposition format): polls, observations, inbox
/// depth and lag, dead letters, outbox lag, XAPI calls. Unauthenticated like the probes: expose
/// it on an internal network only.
#[utoipa::path(
    get, path = "/metrics", tag = "health", security(()),
    responses((status = 200, description = "Prometheus text exposition", content_type = "text/plain", body = String),
        (status = 404, response = crate::error::ProblemResponse))
)]
pub async fn metrics(State(state): State<AppState>) -> Response {
    match &state.metrics {
        Some(render) => {
            ([(header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")], render()).into_response()
        }
        None => ApiError::NotFound("no metrics recorder is installed in this process".into()).into_response(),
    }
}
