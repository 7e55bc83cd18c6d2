//! The simulator's own API under `/sim/` (no authentication: a loopback test tool): faults on
//! demand, token revocation, the ground truth, the status, and moving simulated time.

use std::num::NonZeroU32;
use std::sync::Arc;

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::TimeDelta;
use serde::Deserialize;

use super::error::ODataFailure;
use super::faults::ArmedFault;
use super::state::SimState;

/// The `/sim/` routes.
pub fn routes() -> Router<Arc<SimState>> {
    Router::new()
        .route("/sim/faults", get(pending_faults).post(arm_faults).delete(clear_faults))
        .route("/sim/revoke-token", post(revoke_token))
        .route("/sim/truth", get(truth))
        .route("/sim/status", get(status))
        .route("/sim/advance", post(advance))
}

/// One fault or a list of them.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum OneOrMany {
    One(ArmedFault),
    Many(Vec<ArmedFault>),
}

/// `POST /sim/faults`: arms an `ArmedFault` (or a list, in order); answers what is armed.
async fn arm_faults(State(state): State<Arc<SimState>>, Json(faults): Json<OneOrMany>) -> Json<Vec<ArmedFault>> {
    let faults = match faults {
        OneOrMany::One(fault) => vec![fault],
        OneOrMany::Many(faults) => faults,
    };
    faults.into_iter().for_each(|fault| state.faults().arm(fault));
    Json(state.faults().pending())
}

/// `GET /sim/faults`: what is armed.
async fn pending_faults(State(state): State<Arc<SimState>>) -> Json<Vec<ArmedFault>> {
    Json(state.faults().pending())
}

/// `DELETE /sim/faults`: disarms everything.
async fn clear_faults(State(state): State<Arc<SimState>>) -> StatusCode {
    state.faults().clear();
    StatusCode::NO_CONTENT
}

/// `POST /sim/revoke-token`: ends the live token.
async fn revoke_token(State(state): State<Arc<SimState>>) -> StatusCode {
    state.tokens().revoke();
    StatusCode::NO_CONTENT
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct TruthQuery {
    interval_secs: Option<u32>,
}

/// `GET /sim/truth?intervalSecs=900`: every finished call and per-queue per-interval totals.
async fn truth(State(state): State<Arc<SimState>>, Query(query): Query<TruthQuery>) -> Response {
    let Some(interval) = NonZeroU32::new(query.interval_secs.unwrap_or(900)) else {
        return ODataFailure::bad_request("intervalSecs must be more than 0").into_response();
    };
    match tokio::task::spawn_blocking(move || state.ground_truth(interval)).await {
        Ok(truth) => Json(truth).into_response(),
        Err(error) => ODataFailure::internal(error.to_string()).into_response(),
    }
}

/// `GET /sim/status`.
async fn status(State(state): State<Arc<SimState>>) -> Response {
    match tokio::task::spawn_blocking(move || state.status()).await {
        Ok(status) => Json(status).into_response(),
        Err(error) => ODataFailure::internal(error.to_string()).into_response(),
    }
}

#[derive(Debug, Deserialize)]
struct AdvanceQuery {
    seconds: f64,
}

/// `POST /sim/advance?seconds=..`: moves simulated time ahead (milliseconds kept) and answers
/// the status.
async fn advance(State(state): State<Arc<SimState>>, Query(query): Query<AdvanceQuery>) -> Response {
    if !query.seconds.is_finite() || query.seconds < 0.0 || query.seconds > 366.0 * 86_400.0 {
        return ODataFailure::bad_request("seconds must be between 0 and a year").into_response();
    }
    let by = TimeDelta::milliseconds((query.seconds * 1000.0).round() as i64);
    match tokio::task::spawn_blocking(move || {
        state.advance_by(by);
        state.status()
    })
    .await
    {
        Ok(status) => Json(status).into_response(),
        Err(error) => ODataFailure::internal(error.to_string()).into_response(),
    }
}
