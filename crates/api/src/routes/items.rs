//! `/sessions/{sessionId}/items` and `/items`: items of a session, their status moves and history.

use axum::extract::State;
use axum::response::Response;
use axum::routing::{get, patch, post};
use axum::{Json, Router};
use lineup_domain::{Item, ItemHistoryEntry, ItemPatch, NewItem, StatusChangeRequest};
use lineup_store::{ItemFilter, Page};
use uuid::Uuid;

use super::{created, V1};
use crate::auth::{need, Authorized};
use crate::error::{ApiResult, ProblemResponse};
use crate::extract::{ApiJson, ApiPath, ApiQuery, ItemListQuery};
use crate::AppState;

/// The item routes (path parameters are all named `id` in the router; see `sessions::routes`).
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/sessions/{id}/items", post(create_item).get(list_items))
        .route("/items/{id}", get(get_item).patch(update_item))
        .route("/items/{id}/status", patch(change_item_status))
        .route("/items/{id}/history", get(item_history))
}

/// Adds an item to an active session with the session's next number; emits `item_created`.
///
/// 409 `session-not-active` unless the session is active; 422 `metadata-schema-violation` when
/// the metadata does not satisfy the template's schema.
#[utoipa::path(
    post, path = "/api/v1/sessions/{sessionId}/items", tag = "items",
    params(("sessionId" = Uuid, Path, description = "Session id")),
    request_body = NewItem,
    responses(
        (status = 201, description = "The new item", body = Item,
            headers(("Location" = String, description = "URL of the new item"))),
        (status = 400, response = ProblemResponse),
        (status = 404, response = ProblemResponse),
        (status = 409, response = ProblemResponse),
        (status = 422, response = ProblemResponse),
    )
)]
pub async fn create_item(
    State(state): State<AppState>,
    auth: Authorized<need::ItemCreate>,
    ApiPath(session_id): ApiPath<Uuid>,
    ApiJson(new): ApiJson<NewItem>,
) -> ApiResult<Response> {
    let item = state.store.create_item(auth.tenant(), session_id, new).await?;
    state.notify_committed();
    Ok(created(Some(format!("{V1}/items/{}", item.id)), item))
}

/// Lists the items of a session, optionally only those in one status.
#[utoipa::path(
    get, path = "/api/v1/sessions/{sessionId}/items", tag = "items",
    params(("sessionId" = Uuid, Path, description = "Session id"), ItemListQuery),
    responses(
        (status = 200, description = "A page of items", body = super::ItemPage),
        (status = 400, response = ProblemResponse),
        (status = 404, response = ProblemResponse),
    )
)]
pub async fn list_items(
    State(state): State<AppState>,
    auth: Authorized<need::ItemRead>,
    ApiPath(session_id): ApiPath<Uuid>,
    ApiQuery(q): ApiQuery<ItemListQuery>,
) -> ApiResult<Json<Page<Item>>> {
    let page = q.page()?;
    state.store.get_session(auth.tenant(), session_id).await?;
    let filter = ItemFilter { status_id: q.status };
    Ok(Json(state.store.list_items(auth.tenant(), session_id, &filter, &page).await?))
}

/// Reads one item.
#[utoipa::path(
    get, path = "/api/v1/items/{id}", tag = "items",
    params(("id" = Uuid, Path, description = "Item id")),
    responses((status = 200, description = "The item", body = Item), (status = 404, response = ProblemResponse))
)]
pub async fn get_item(
    State(state): State<AppState>,
    auth: Authorized<need::ItemRead>,
    ApiPath(id): ApiPath<Uuid>,
) -> ApiResult<Json<Item>> {
    Ok(Json(state.store.get_item(auth.tenant(), id).await?))
}

/// Changes an item's display name or metadata; emits `item_updated`. Its session never changes.
///
/// 422 `item-session-immutable` when `sessionId`/`queueId` differ from the item's; 409
/// `session-not-active` when its session is completed or archived.
#[utoipa::path(
    patch, path = "/api/v1/items/{id}", tag = "items",
    params(("id" = Uuid, Path, description = "Item id")),
    request_body = ItemPatch,
    responses(
        (status = 200, description = "The item", body = Item),
        (status = 400, response = ProblemResponse),
        (status = 404, response = ProblemResponse),
        (status = 409, response = ProblemResponse),
        (status = 422, response = ProblemResponse),
    )
)]
pub async fn update_item(
    State(state): State<AppState>,
    auth: Authorized<need::ItemUpdate>,
    ApiPath(id): ApiPath<Uuid>,
    ApiJson(patch): ApiJson<ItemPatch>,
) -> ApiResult<Json<Item>> {
    let item = state.store.update_item(auth.tenant(), id, patch).await?;
    state.notify_committed();
    Ok(Json(item))
}

/// Moves an item to a status (by id or by a named transition); emits `item_status_changed`.
///
/// 409 `invalid-status-transition` when the session's machine has no such move (or the named
/// transition does not start at the item's status).
#[utoipa::path(
    patch, path = "/api/v1/items/{id}/status", tag = "items",
    params(("id" = Uuid, Path, description = "Item id")),
    request_body = StatusChangeRequest,
    responses(
        (status = 200, description = "The item", body = Item),
        (status = 400, response = ProblemResponse),
        (status = 404, response = ProblemResponse),
        (status = 409, response = ProblemResponse),
        (status = 422, response = ProblemResponse),
    )
)]
pub async fn change_item_status(
    State(state): State<AppState>,
    auth: Authorized<need::ItemUpdate>,
    ApiPath(id): ApiPath<Uuid>,
    ApiJson(change): ApiJson<StatusChangeRequest>,
) -> ApiResult<Json<Item>> {
    let item = state.store.change_item_status(auth.tenant(), id, change).await?;
    state.notify_committed();
    Ok(Json(item))
}

/// The status history of an item, oldest first (the first entry records its creation).
#[utoipa::path(
    get, path = "/api/v1/items/{id}/history", tag = "items",
    params(("id" = Uuid, Path, description = "Item id")),
    responses((status = 200, description = "The history, oldest first", body = Vec<ItemHistoryEntry>), (status = 404, response = ProblemResponse))
)]
pub async fn item_history(
    State(state): State<AppState>,
    auth: Authorized<need::ItemRead>,
    ApiPath(id): ApiPath<Uuid>,
) -> ApiResult<Json<Vec<ItemHistoryEntry>>> {
    Ok(Json(state.store.item_history(auth.tenant(), id).await?))
}
