//! `/api-keys`: credentials for integrations, created by an admin, shown once, revocable.

use axum::extract::State;
use axum::response::Response;
use axum::routing::get;
use axum::{Json, Router};
use lineup_domain::{ApiKey, NewApiKey};
use lineup_security::TokenKind;
use lineup_store::Page;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use super::{created, V1};
use crate::auth::{need, Authorized};
use crate::error::{ApiResult, ProblemResponse};
use crate::extract::{ApiJson, ApiPath, ApiQuery, NameListQuery};
use crate::AppState;

/// The API key routes.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api-keys", get(list_api_keys).post(create_api_key))
        .route("/api-keys/{id}", get(get_api_key).delete(revoke_api_key))
}

/// A new API key with its secret. The secret is shown only in this response; Lineup keeps only
/// its hash.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CreatedApiKey {
    pub api_key: ApiKey,
    /// Send as `Authorization: Bearer <secret>`.
    pub secret: String,
}

/// Creates an API key acting in the tenant with a role.
#[utoipa::path(
    post, path = "/api/v1/api-keys", tag = "api-keys",
    request_body = NewApiKey,
    responses(
        (status = 201, description = "The key and, once, its secret", body = CreatedApiKey,
            headers(("Location" = String, description = "URL of the new key"))),
        (status = 400, response = ProblemResponse),
        (status = 401, response = ProblemResponse),
        (status = 403, response = ProblemResponse),
        (status = 422, response = ProblemResponse),
    )
)]
pub async fn create_api_key(
    State(state): State<AppState>,
    auth: Authorized<need::ApiKeyManage>,
    ApiJson(new): ApiJson<NewApiKey>,
) -> ApiResult<Response> {
    let issued = lineup_security::issue(TokenKind::ApiKey);
    let spec =
        new.validate(Uuid::now_v7(), issued.display_prefix.clone(), issued.hash.0, lineup_store::now_micros())?;
    let api_key = state.store.create_api_key(&auth.principal.actor(), auth.tenant(), spec).await?;
    let location = format!("{V1}/api-keys/{}", api_key.id);
    Ok(created(Some(location), CreatedApiKey { api_key, secret: issued.plain }))
}

/// Lists the tenant's API keys, revoked ones included (never their secrets).
#[utoipa::path(
    get, path = "/api/v1/api-keys", tag = "api-keys",
    params(NameListQuery),
    responses(
        (status = 200, description = "A page of API keys", body = super::ApiKeyPage),
        (status = 400, response = ProblemResponse),
        (status = 401, response = ProblemResponse),
        (status = 403, response = ProblemResponse),
    )
)]
pub async fn list_api_keys(
    State(state): State<AppState>,
    auth: Authorized<need::ApiKeyManage>,
    ApiQuery(q): ApiQuery<NameListQuery>,
) -> ApiResult<Json<Page<ApiKey>>> {
    Ok(Json(state.store.list_api_keys(auth.tenant(), &q.page()?).await?))
}

/// Reads one API key (never its secret).
#[utoipa::path(
    get, path = "/api/v1/api-keys/{id}", tag = "api-keys",
    params(("id" = Uuid, Path, description = "API key id")),
    responses(
        (status = 200, description = "The key", body = ApiKey),
        (status = 401, response = ProblemResponse),
        (status = 403, response = ProblemResponse),
        (status = 404, response = ProblemResponse),
    )
)]
pub async fn get_api_key(
    State(state): State<AppState>,
    auth: Authorized<need::ApiKeyManage>,
    ApiPath(id): ApiPath<Uuid>,
) -> ApiResult<Json<ApiKey>> {
    Ok(Json(state.store.get_api_key(auth.tenant(), id).await?))
}

/// Revokes an API key at once (idempotent); it stays listed with `revokedAt`.
#[utoipa::path(
    delete, path = "/api/v1/api-keys/{id}", tag = "api-keys",
    params(("id" = Uuid, Path, description = "API key id")),
    responses(
        (status = 200, description = "The revoked key", body = ApiKey),
        (status = 401, response = ProblemResponse),
        (status = 403, response = ProblemResponse),
        (status = 404, response = ProblemResponse),
    )
)]
pub async fn revoke_api_key(
    State(state): State<AppState>,
    auth: Authorized<need::ApiKeyManage>,
    ApiPath(id): ApiPath<Uuid>,
) -> ApiResult<Json<ApiKey>> {
    let now = lineup_store::now_micros();
    Ok(Json(state.store.revoke_api_key(&auth.principal.actor(), auth.tenant(), id, now).await?))
}
