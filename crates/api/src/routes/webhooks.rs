//! `/webhooks` and `/webhook-deliveries`: a tenant's outbound webhooks, their delivery log, and
//! redelivery (admins).
//!
//! The signing secret arrives in clear, is sealed here with the configured `SecretBox` under the
//! webhook's context before the store sees it, and is never answered: views say `hasSecret` and
//! `secretChangedAt`. Without a configured secret key, a request that carries a secret is a
//! `conflict` problem and nothing is stored. The deliveries themselves are made by the outbox
//! dispatcher (`lineup-workers`); what a receiver gets and how it checks the signature is in
//! `docs/API.md`.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post};
use axum::{Json, Router};
use lineup_domain::webhook::webhook_secret_context;
use lineup_domain::{NewWebhook, Webhook, WebhookDelivery, WebhookPatch};
use lineup_store::{Page, SortKey};
use serde::Deserialize;
use utoipa::IntoParams;
use uuid::Uuid;

use super::{created, V1};
use crate::auth::{need, Authorized};
use crate::error::{ApiResult, ProblemResponse};
use crate::extract::{page_request, ApiJson, ApiPath, ApiQuery, NameListQuery, Order};
use crate::AppState;

/// The `conflict` detail when a secret arrives and no key is configured to seal it.
pub const NO_SECRET_KEY: &str = "no secret key is configured, so webhook secrets cannot be stored: set secret_keys \
     (or LINEUP_SECRET_KEYS; `lineup admin generate-secret-key` makes one) and restart";

/// The webhook routes.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/webhooks", get(list_webhooks).post(create_webhook))
        .route("/webhooks/{id}", get(get_webhook).patch(update_webhook).delete(delete_webhook))
        .route("/webhooks/{id}/deliveries", get(list_webhook_deliveries))
        .route("/webhook-deliveries/{id}/redeliver", post(redeliver_webhook_delivery))
}

/// Parameters of a webhook's delivery log (sorted by creation; newest first unless `order=asc`).
#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct DeliveryListQuery {
    /// Page size, 1 to 500 (default 50).
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<u32>,
    /// The `nextCursor` of the previous page (valid only with the same `order`).
    pub cursor: Option<String>,
    /// Sort direction by creation time (default `desc`: newest first).
    pub order: Option<Order>,
}

/// Creates a webhook: the tenant's events committed from now on (of the `eventTypes` it names,
/// or all) are POSTed to its URL, signed with its secret. The secret is stored sealed and never
/// returned.
///
/// 422 `validation-failed` names the field at fault; 409 `conflict` when no secret key is
/// configured.
#[utoipa::path(
    post, path = "/api/v1/webhooks", tag = "webhooks",
    request_body = NewWebhook,
    responses(
        (status = 201, description = "The new webhook (without its secret)", body = Webhook,
            headers(("Location" = String, description = "URL of the new webhook"))),
        (status = 400, response = ProblemResponse),
        (status = 401, response = ProblemResponse),
        (status = 403, response = ProblemResponse),
        (status = 409, response = ProblemResponse),
        (status = 422, response = ProblemResponse),
    )
)]
pub async fn create_webhook(
    State(state): State<AppState>,
    auth: Authorized<need::WebhookManage>,
    ApiJson(new): ApiJson<NewWebhook>,
) -> ApiResult<Response> {
    let id = Uuid::now_v7();
    let spec = new.validate(id, |secret| state.seal(secret, &webhook_secret_context(id), NO_SECRET_KEY))?;
    let webhook = state.store.create_webhook(&auth.principal.actor(), auth.tenant(), spec).await?;
    Ok(created(Some(format!("{V1}/webhooks/{}", webhook.id)), webhook))
}

/// Lists the tenant's webhooks (never their secrets).
#[utoipa::path(
    get, path = "/api/v1/webhooks", tag = "webhooks",
    params(NameListQuery),
    responses(
        (status = 200, description = "A page of webhooks", body = super::WebhookPage),
        (status = 400, response = ProblemResponse),
        (status = 401, response = ProblemResponse),
        (status = 403, response = ProblemResponse),
    )
)]
pub async fn list_webhooks(
    State(state): State<AppState>,
    auth: Authorized<need::WebhookManage>,
    ApiQuery(q): ApiQuery<NameListQuery>,
) -> ApiResult<Json<Page<Webhook>>> {
    Ok(Json(state.store.list_webhooks(auth.tenant(), &q.page()?).await?))
}

/// Reads one webhook (never its secret).
#[utoipa::path(
    get, path = "/api/v1/webhooks/{id}", tag = "webhooks",
    params(("id" = Uuid, Path, description = "Webhook id")),
    responses(
        (status = 200, description = "The webhook", body = Webhook),
        (status = 401, response = ProblemResponse),
        (status = 403, response = ProblemResponse),
        (status = 404, response = ProblemResponse),
    )
)]
pub async fn get_webhook(
    State(state): State<AppState>,
    auth: Authorized<need::WebhookManage>,
    ApiPath(id): ApiPath<Uuid>,
) -> ApiResult<Json<Webhook>> {
    Ok(Json(state.store.get_webhook(auth.tenant(), id).await?))
}

/// Changes a webhook; a `secret` replaces the stored one (409 `conflict` when no secret key is
/// configured). Turning it off (`isEnabled: false`) stops new deliveries; pending ones wait
/// until it is on again.
#[utoipa::path(
    patch, path = "/api/v1/webhooks/{id}", tag = "webhooks",
    params(("id" = Uuid, Path, description = "Webhook id")),
    request_body = WebhookPatch,
    responses(
        (status = 200, description = "The webhook", body = Webhook),
        (status = 400, response = ProblemResponse),
        (status = 401, response = ProblemResponse),
        (status = 403, response = ProblemResponse),
        (status = 404, response = ProblemResponse),
        (status = 409, response = ProblemResponse),
        (status = 422, response = ProblemResponse),
    )
)]
pub async fn update_webhook(
    State(state): State<AppState>,
    auth: Authorized<need::WebhookManage>,
    ApiPath(id): ApiPath<Uuid>,
    ApiJson(patch): ApiJson<WebhookPatch>,
) -> ApiResult<Json<Webhook>> {
    let change = patch.validate(|secret| state.seal(secret, &webhook_secret_context(id), NO_SECRET_KEY))?;
    Ok(Json(state.store.update_webhook(&auth.principal.actor(), auth.tenant(), id, change).await?))
}

/// Deletes a webhook: nothing more is delivered to it, its pending deliveries fail, its sealed
/// secret is erased, and it and its delivery log are no longer shown.
#[utoipa::path(
    delete, path = "/api/v1/webhooks/{id}", tag = "webhooks",
    params(("id" = Uuid, Path, description = "Webhook id")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 401, response = ProblemResponse),
        (status = 403, response = ProblemResponse),
        (status = 404, response = ProblemResponse),
    )
)]
pub async fn delete_webhook(
    State(state): State<AppState>,
    auth: Authorized<need::WebhookManage>,
    ApiPath(id): ApiPath<Uuid>,
) -> ApiResult<StatusCode> {
    state.store.delete_webhook(&auth.principal.actor(), auth.tenant(), id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The delivery log of a webhook, newest first unless `order=asc`: one entry per event, with its
/// state (`pending`, `delivered`, `failed`), attempts, the latest status and error, and the body.
#[utoipa::path(
    get, path = "/api/v1/webhooks/{id}/deliveries", tag = "webhooks",
    params(("id" = Uuid, Path, description = "Webhook id"), DeliveryListQuery),
    responses(
        (status = 200, description = "A page of deliveries", body = super::WebhookDeliveryPage),
        (status = 400, response = ProblemResponse),
        (status = 401, response = ProblemResponse),
        (status = 403, response = ProblemResponse),
        (status = 404, response = ProblemResponse),
    )
)]
pub async fn list_webhook_deliveries(
    State(state): State<AppState>,
    auth: Authorized<need::WebhookManage>,
    ApiPath(id): ApiPath<Uuid>,
    ApiQuery(q): ApiQuery<DeliveryListQuery>,
) -> ApiResult<Json<Page<WebhookDelivery>>> {
    let page = page_request(q.limit, q.cursor.as_deref(), SortKey::CreatedAt, Some(q.order.unwrap_or(Order::Desc)))?;
    Ok(Json(state.store.list_deliveries(auth.tenant(), id, &page).await?))
}

/// Sends a delivery again, whatever its state: it is pending, due at once, with its attempts
/// reset (its body is the same, so a receiver that deduplicates by event id ignores it if it
/// already processed it).
#[utoipa::path(
    post, path = "/api/v1/webhook-deliveries/{id}/redeliver", tag = "webhooks",
    params(("id" = Uuid, Path, description = "Delivery id")),
    responses(
        (status = 200, description = "The delivery, pending again", body = WebhookDelivery),
        (status = 401, response = ProblemResponse),
        (status = 403, response = ProblemResponse),
        (status = 404, response = ProblemResponse),
    )
)]
pub async fn redeliver_webhook_delivery(
    State(state): State<AppState>,
    auth: Authorized<need::WebhookManage>,
    ApiPath(id): ApiPath<Uuid>,
) -> ApiResult<Json<WebhookDelivery>> {
    Ok(Json(state.store.redeliver(auth.tenant(), id, lineup_store::now_micros()).await?))
}
