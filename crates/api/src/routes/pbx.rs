//! `/pbx-connections`: a tenant's connections to its 3CX and their queue mappings (admins).
//!
//! The client secret arrives in clear, is sealed here with the configured `SecretBox` under the
//! connection's context before the store sees it, and is never answered: views say
//! `hasClientSecret` and `clientSecretChangedAt`. Without a configured secret key, a request that
//! carries a secret is a `conflict` problem and nothing is stored.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, put};
use axum::{Json, Router};
use lineup_domain::pbx::client_secret_context;
use lineup_domain::{NewPbxConnection, PbxConnection, PbxConnectionPatch, PbxQueueMappings};
use lineup_store::Page;
use uuid::Uuid;

use super::{created, V1};
use crate::auth::{need, Authorized};
use crate::error::{ApiResult, ProblemResponse};
use crate::extract::{ApiJson, ApiPath, ApiQuery, NameListQuery};
use crate::AppState;

/// The `conflict` detail when a secret arrives and no key is configured to seal it.
pub const NO_SECRET_KEY: &str = "no secret key is configured, so PBX credentials cannot be stored: set secret_keys \
     (or LINEUP_SECRET_KEYS; `lineup admin generate-secret-key` makes one) and restart";

/// The PBX connection routes.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/pbx-connections", get(list_pbx_connections).post(create_pbx_connection))
        .route(
            "/pbx-connections/{id}",
            get(get_pbx_connection).patch(update_pbx_connection).delete(delete_pbx_connection),
        )
        .route("/pbx-connections/{id}/queue-mappings", put(set_queue_mappings))
}

/// Connects a 3CX: its base URL, OAuth2 client id and secret, poll interval and whether it is
/// polled. The secret is stored sealed and never returned. Queue mappings are set with
/// `PUT /pbx-connections/{id}/queue-mappings`.
///
/// 422 `validation-failed` names the field at fault; 409 `conflict` when no secret key is
/// configured.
#[utoipa::path(
    post, path = "/api/v1/pbx-connections", tag = "pbx",
    request_body = NewPbxConnection,
    responses(
        (status = 201, description = "The new connection (without its secret)", body = PbxConnection,
            headers(("Location" = String, description = "URL of the new connection"))),
        (status = 400, response = ProblemResponse),
        (status = 401, response = ProblemResponse),
        (status = 403, response = ProblemResponse),
        (status = 409, response = ProblemResponse),
        (status = 422, response = ProblemResponse),
    )
)]
pub async fn create_pbx_connection(
    State(state): State<AppState>,
    auth: Authorized<need::PbxManage>,
    ApiJson(new): ApiJson<NewPbxConnection>,
) -> ApiResult<Response> {
    let id = Uuid::now_v7();
    let spec = new.validate(id, |secret| state.seal(secret, &client_secret_context(id), NO_SECRET_KEY))?;
    let connection = state.store.create_pbx_connection(&auth.principal.actor(), auth.tenant(), spec).await?;
    Ok(created(Some(format!("{V1}/pbx-connections/{}", connection.id)), connection))
}

/// Lists the tenant's PBX connections (never their secrets).
#[utoipa::path(
    get, path = "/api/v1/pbx-connections", tag = "pbx",
    params(NameListQuery),
    responses(
        (status = 200, description = "A page of PBX connections", body = super::PbxConnectionPage),
        (status = 400, response = ProblemResponse),
        (status = 401, response = ProblemResponse),
        (status = 403, response = ProblemResponse),
    )
)]
pub async fn list_pbx_connections(
    State(state): State<AppState>,
    auth: Authorized<need::PbxManage>,
    ApiQuery(q): ApiQuery<NameListQuery>,
) -> ApiResult<Json<Page<PbxConnection>>> {
    Ok(Json(state.store.list_pbx_connections(auth.tenant(), &q.page()?).await?))
}

/// Reads one PBX connection with its queue mappings (never its secret).
#[utoipa::path(
    get, path = "/api/v1/pbx-connections/{id}", tag = "pbx",
    params(("id" = Uuid, Path, description = "PBX connection id")),
    responses(
        (status = 200, description = "The connection", body = PbxConnection),
        (status = 401, response = ProblemResponse),
        (status = 403, response = ProblemResponse),
        (status = 404, response = ProblemResponse),
    )
)]
pub async fn get_pbx_connection(
    State(state): State<AppState>,
    auth: Authorized<need::PbxManage>,
    ApiPath(id): ApiPath<Uuid>,
) -> ApiResult<Json<PbxConnection>> {
    Ok(Json(state.store.get_pbx_connection(auth.tenant(), id).await?))
}

/// Changes a PBX connection; a `clientSecret` replaces the stored one (409 `conflict` when no
/// secret key is configured).
#[utoipa::path(
    patch, path = "/api/v1/pbx-connections/{id}", tag = "pbx",
    params(("id" = Uuid, Path, description = "PBX connection id")),
    request_body = PbxConnectionPatch,
    responses(
        (status = 200, description = "The connection", body = PbxConnection),
        (status = 400, response = ProblemResponse),
        (status = 401, response = ProblemResponse),
        (status = 403, response = ProblemResponse),
        (status = 404, response = ProblemResponse),
        (status = 409, response = ProblemResponse),
        (status = 422, response = ProblemResponse),
    )
)]
pub async fn update_pbx_connection(
    State(state): State<AppState>,
    auth: Authorized<need::PbxManage>,
    ApiPath(id): ApiPath<Uuid>,
    ApiJson(patch): ApiJson<PbxConnectionPatch>,
) -> ApiResult<Json<PbxConnection>> {
    let change = patch.validate(|secret| state.seal(secret, &client_secret_context(id), NO_SECRET_KEY))?;
    Ok(Json(state.store.update_pbx_connection(&auth.principal.actor(), auth.tenant(), id, change).await?))
}

/// Replaces every queue mapping of a connection: each 3CX queue DN (1 to 10 digits, at most once)
/// feeds one queue of the tenant. An empty list removes them all.
///
/// 404 when the connection or a named queue is not the tenant's; 422 `validation-failed` for a
/// malformed or repeated DN.
#[utoipa::path(
    put, path = "/api/v1/pbx-connections/{id}/queue-mappings", tag = "pbx",
    params(("id" = Uuid, Path, description = "PBX connection id")),
    request_body = PbxQueueMappings,
    responses(
        (status = 200, description = "The connection with its new mappings", body = PbxConnection),
        (status = 400, response = ProblemResponse),
        (status = 401, response = ProblemResponse),
        (status = 403, response = ProblemResponse),
        (status = 404, response = ProblemResponse),
        (status = 422, response = ProblemResponse),
    )
)]
pub async fn set_queue_mappings(
    State(state): State<AppState>,
    auth: Authorized<need::PbxManage>,
    ApiPath(id): ApiPath<Uuid>,
    ApiJson(body): ApiJson<PbxQueueMappings>,
) -> ApiResult<Json<PbxConnection>> {
    let mappings = body.validate()?;
    Ok(Json(state.store.set_pbx_queue_mappings(&auth.principal.actor(), auth.tenant(), id, mappings).await?))
}

/// Deletes a PBX connection: it is no longer polled or shown, its sealed secret is erased and its
/// mappings removed.
#[utoipa::path(
    delete, path = "/api/v1/pbx-connections/{id}", tag = "pbx",
    params(("id" = Uuid, Path, description = "PBX connection id")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 401, response = ProblemResponse),
        (status = 403, response = ProblemResponse),
        (status = 404, response = ProblemResponse),
    )
)]
pub async fn delete_pbx_connection(
    State(state): State<AppState>,
    auth: Authorized<need::PbxManage>,
    ApiPath(id): ApiPath<Uuid>,
) -> ApiResult<StatusCode> {
    state.store.delete_pbx_connection(&auth.principal.actor(), auth.tenant(), id).await?;
    Ok(StatusCode::NO_CONTENT)
}
