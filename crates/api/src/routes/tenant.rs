//! `/tenant`: the caller's own tenant, its name and settings.

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use lineup_domain::{Tenant, TenantPatch};

use crate::auth::{need, Authorized};
use crate::error::{ApiResult, ProblemResponse};
use crate::extract::ApiJson;
use crate::AppState;

/// The tenant routes.
pub fn routes() -> Router<AppState> {
    Router::new().route("/tenant", get(get_tenant).patch(update_tenant))
}

/// Reads the caller's tenant.
#[utoipa::path(
    get, path = "/api/v1/tenant", tag = "tenant",
    responses((status = 200, description = "The tenant", body = Tenant), (status = 401, response = ProblemResponse))
)]
pub async fn get_tenant(State(state): State<AppState>, auth: Authorized<need::TenantRead>) -> ApiResult<Json<Tenant>> {
    Ok(Json(state.store.get_tenant(auth.tenant()).await?))
}

/// Renames the tenant or replaces its settings (a JSON object of at most 64 KiB).
#[utoipa::path(
    patch, path = "/api/v1/tenant", tag = "tenant",
    request_body = TenantPatch,
    responses(
        (status = 200, description = "The tenant", body = Tenant),
        (status = 400, response = ProblemResponse),
        (status = 401, response = ProblemResponse),
        (status = 403, response = ProblemResponse),
        (status = 422, response = ProblemResponse),
    )
)]
pub async fn update_tenant(
    State(state): State<AppState>,
    auth: Authorized<need::TenantManage>,
    ApiJson(patch): ApiJson<TenantPatch>,
) -> ApiResult<Json<Tenant>> {
    Ok(Json(state.store.update_tenant(&auth.principal.actor(), auth.tenant(), patch).await?))
}
