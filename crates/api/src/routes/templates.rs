//! `/templates`: the statuses and status machine sessions are built from.

use axum::extract::State;
use axum::response::Response;
use axum::routing::get;
use axum::{Json, Router};
use lineup_domain::{NewTemplate, NewTemplateStatus, Template, TemplateStatus};
use lineup_store::Page;
use uuid::Uuid;

use super::{created, V1};
use crate::auth::{need, Authorized};
use crate::error::{ApiResult, ProblemResponse};
use crate::extract::{ApiJson, ApiPath, ApiQuery, NameListQuery};
use crate::AppState;

/// The template routes.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/templates", get(list_templates).post(create_template))
        .route("/templates/{id}", get(get_template))
        .route("/templates/{id}/statuses", get(list_template_statuses).post(add_template_status))
}

/// Lists the templates.
#[utoipa::path(
    get, path = "/api/v1/templates", tag = "templates",
    params(NameListQuery),
    responses((status = 200, description = "A page of templates", body = super::TemplatePage), (status = 400, response = ProblemResponse))
)]
pub async fn list_templates(
    State(state): State<AppState>,
    auth: Authorized<need::TemplateRead>,
    ApiQuery(q): ApiQuery<NameListQuery>,
) -> ApiResult<Json<Page<Template>>> {
    Ok(Json(state.store.list_templates(auth.tenant(), &q.page()?).await?))
}

/// Creates a template with its statuses, machine and optional metadata schema.
///
/// 409 `duplicate-status-label` when two statuses share a label.
#[utoipa::path(
    post, path = "/api/v1/templates", tag = "templates",
    request_body = NewTemplate,
    responses(
        (status = 201, description = "The new template", body = Template,
            headers(("Location" = String, description = "URL of the new template"))),
        (status = 400, response = ProblemResponse),
        (status = 409, response = ProblemResponse),
        (status = 422, response = ProblemResponse),
    )
)]
pub async fn create_template(
    State(state): State<AppState>,
    auth: Authorized<need::TemplateManage>,
    ApiJson(new): ApiJson<NewTemplate>,
) -> ApiResult<Response> {
    let template = state.store.create_template(auth.tenant(), new).await?;
    state.notify_committed();
    Ok(created(Some(format!("{V1}/templates/{}", template.id)), template))
}

/// Reads one template with its statuses and machine.
#[utoipa::path(
    get, path = "/api/v1/templates/{id}", tag = "templates",
    params(("id" = Uuid, Path, description = "Template id")),
    responses((status = 200, description = "The template", body = Template), (status = 404, response = ProblemResponse))
)]
pub async fn get_template(
    State(state): State<AppState>,
    auth: Authorized<need::TemplateRead>,
    ApiPath(id): ApiPath<Uuid>,
) -> ApiResult<Json<Template>> {
    Ok(Json(state.store.get_template(auth.tenant(), id).await?))
}

/// The statuses of a template, by `order`.
#[utoipa::path(
    get, path = "/api/v1/templates/{id}/statuses", tag = "templates",
    params(("id" = Uuid, Path, description = "Template id")),
    responses((status = 200, description = "The template's statuses by order", body = Vec<TemplateStatus>), (status = 404, response = ProblemResponse))
)]
pub async fn list_template_statuses(
    State(state): State<AppState>,
    auth: Authorized<need::TemplateRead>,
    ApiPath(id): ApiPath<Uuid>,
) -> ApiResult<Json<Vec<TemplateStatus>>> {
    Ok(Json(state.store.get_template(auth.tenant(), id).await?.statuses))
}

/// Adds a status to a template; sessions created earlier keep their own statuses.
///
/// 409 `duplicate-status-label` when the template has the label already.
#[utoipa::path(
    post, path = "/api/v1/templates/{id}/statuses", tag = "templates",
    params(("id" = Uuid, Path, description = "Template id")),
    request_body = NewTemplateStatus,
    responses(
        (status = 201, description = "The new status", body = TemplateStatus),
        (status = 400, response = ProblemResponse),
        (status = 404, response = ProblemResponse),
        (status = 409, response = ProblemResponse),
        (status = 422, response = ProblemResponse),
    )
)]
pub async fn add_template_status(
    State(state): State<AppState>,
    auth: Authorized<need::TemplateManage>,
    ApiPath(id): ApiPath<Uuid>,
    ApiJson(new): ApiJson<NewTemplateStatus>,
) -> ApiResult<Response> {
    let status = state.store.add_template_status(auth.tenant(), id, new).await?;
    state.notify_committed();
    Ok(created(None, status))
}
