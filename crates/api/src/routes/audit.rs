//! `/audit`: the tenant's audit log of administrative changes, for admins.

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use lineup_domain::AuditEntry;
use lineup_store::Page;

use crate::auth::{need, Authorized};
use crate::error::{ApiResult, ProblemResponse};
use crate::extract::{page_request, ApiQuery, AuditListQuery, Order};
use crate::AppState;

/// The audit routes.
pub fn routes() -> Router<AppState> {
    Router::new().route("/audit", get(list_audit))
}

/// Lists audit entries, newest first unless `order=asc`: who changed what, when, with the object
/// before and after.
#[utoipa::path(
    get, path = "/api/v1/audit", tag = "audit",
    params(AuditListQuery),
    responses(
        (status = 200, description = "A page of audit entries", body = super::AuditPage),
        (status = 400, response = ProblemResponse),
        (status = 401, response = ProblemResponse),
        (status = 403, response = ProblemResponse),
    )
)]
pub async fn list_audit(
    State(state): State<AppState>,
    auth: Authorized<need::AuditRead>,
    ApiQuery(q): ApiQuery<AuditListQuery>,
) -> ApiResult<Json<Page<AuditEntry>>> {
    let page = page_request(
        q.limit,
        q.cursor.as_deref(),
        q.sort.unwrap_or_default().into(),
        Some(q.order.unwrap_or(Order::Desc)),
    )?;
    Ok(Json(state.store.list_audit(auth.tenant(), &page).await?))
}
