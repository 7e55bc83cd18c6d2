//! Lineup's HTTP API: the v1 REST routes, the server-sent event streams, problem+json errors,
//! health probes and the OpenAPI document (and the TypeScript types generated from it).
//!
//! This crate owns the wire: routes, status codes, problem types, SSE framing, the OpenAPI
//! document. It must not decide domain rules (that is `lineup-domain`), name a storage backend
//! or write SQL (it speaks only the `lineup_store::Store` trait), nor publish an event that is not
//! in the outbox: streams read committed events only.

pub mod error;
pub mod extract;
pub mod openapi;
pub mod routes;
pub mod sse;
pub mod state;
pub mod ts;

use axum::extract::DefaultBodyLimit;
use axum::routing::get;
use axum::{middleware, Router};
use tower_http::trace::TraceLayer;

pub use error::{ApiError, ApiResult, Problem, ProblemKind};
pub use openapi::openapi;
pub use state::{ApiConfig, AppState};

/// Largest request body accepted, in bytes (1 MiB).
pub const BODY_LIMIT: usize = 1024 * 1024;

/// The whole HTTP surface: `/api/v1/...`, `/healthz` and `/readyz`. Unknown paths answer a
/// `not-found` problem, known paths with another method a `method-not-allowed` problem.
pub fn router(state: AppState) -> Router {
    let v1 = Router::new()
        .merge(routes::queues::routes())
        .merge(routes::sessions::routes())
        .merge(routes::items::routes())
        .merge(routes::templates::routes())
        .merge(sse::routes())
        .route("/openapi.json", get(openapi::serve_openapi))
        .method_not_allowed_fallback(error::method_not_allowed);
    Router::new()
        .nest(routes::V1, v1)
        .merge(routes::health::routes())
        .method_not_allowed_fallback(error::method_not_allowed)
        .fallback(error::route_not_found)
        .layer(middleware::from_fn(error::add_problem_instance))
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .layer(TraceLayer::new_for_http())
        .with_state(state)
}
