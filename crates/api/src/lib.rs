//! Lineup's HTTP API: the v1 REST routes, the server-sent event streams, problem+json errors,
//! health probes and the OpenAPI document (and the TypeScript types generated from it).
//!
//! This crate owns the wire: routes, status codes, problem types, SSE framing, the OpenAPI
//! document. It must not decide domain rules (that is `lineup-domain`), name a storage backend
//! or write SQL (it speaks only the `lineup_store::Store` trait), nor publish an event that is not
//! in the outbox: streams read committed events only.

pub mod auth;
pub mod error;
pub mod extract;
pub mod live;
pub mod openapi;
pub mod protect;
pub mod routes;
pub mod security_doc;
pub mod sse;
pub mod state;
pub mod ts;

use axum::extract::DefaultBodyLimit;
use axum::routing::get;
use axum::{middleware, Router};
use tower::ServiceBuilder;
use tower_http::trace::TraceLayer;

pub use auth::limits::{Rate, RateLimits};
pub use error::{ApiError, ApiResult, Problem, ProblemKind};
pub use openapi::openapi;
pub use state::{ApiConfig, AppState, WorkerReports};

/// The whole HTTP surface: `/api/v1/...`, `/healthz` and `/readyz`. Unknown paths answer a
/// `not-found` problem, known paths with another method a `method-not-allowed` problem.
/// Every route but login, refresh, the probes and the OpenAPI document requires a credential
/// (see `auth`); every request passes the per-address rate limit, the body size limit, the
/// security headers and (when configured) CORS.
///
/// Serve it with `into_make_service_with_connect_info::<SocketAddr>()` so per-address limits
/// see the peer address.
pub fn router(state: AppState) -> Router {
    let v1 = Router::new()
        .merge(routes::auth::routes())
        .merge(routes::users::routes())
        .merge(routes::api_keys::routes())
        .merge(routes::tenant::routes())
        .merge(routes::audit::routes())
        .merge(routes::analytics::routes())
        .merge(routes::queues::routes())
        .merge(routes::schedules::routes())
        .merge(routes::sessions::routes())
        .merge(routes::items::routes())
        .merge(routes::templates::routes())
        .merge(routes::pbx::routes())
        .merge(routes::inbox::routes())
        .merge(routes::webhooks::routes())
        .merge(sse::routes())
        .merge(live::routes())
        .route("/openapi.json", get(openapi::serve_openapi))
        .method_not_allowed_fallback(error::method_not_allowed);
    let app = Router::new()
        .nest(routes::V1, v1)
        .merge(routes::health::routes())
        .method_not_allowed_fallback(error::method_not_allowed)
        .fallback(error::route_not_found)
        .layer(
            ServiceBuilder::new()
                .layer(TraceLayer::new_for_http())
                .layer(middleware::from_fn_with_state(state.clone(), protect::security_headers))
                .layer(middleware::from_fn(error::add_problem_instance))
                .layer(middleware::from_fn_with_state(state.clone(), protect::limit_per_ip))
                .layer(DefaultBodyLimit::max(state.config.body_limit_bytes)),
        );
    let app = match protect::cors(&state.config) {
        Some(cors) => app.layer(cors),
        None => app,
    };
    app.with_state(state)
}
