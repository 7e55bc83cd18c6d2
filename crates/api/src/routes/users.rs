//! `/users`: the tenant's members — create, list, read, change role, deactivate, reset password.

use axum::extract::State;
use axum::response::Response;
use axum::routing::get;
use axum::{Json, Router};
use lineup_domain::{DomainError, Member, MemberPatch, NewMember};
use lineup_store::Page;
use uuid::Uuid;

use super::{created, V1};
use crate::auth::{need, Authorized};
use crate::error::{ApiResult, ProblemResponse};
use crate::extract::{ApiJson, ApiPath, ApiQuery, NameListQuery};
use crate::AppState;

/// The user routes.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/users", get(list_users).post(create_user))
        .route("/users/{id}", get(get_user).patch(update_user))
}

/// Checks the password policy and hashes the password off the async workers.
pub(crate) async fn hash_new_password(password: String, username: String) -> ApiResult<String> {
    lineup_security::check_password_policy(&password, &username)
        .map_err(|e| DomainError::Invalid { field: "password", reason: e.to_string() })?;
    Ok(tokio::task::spawn_blocking(move || lineup_security::hash_password(&password))
        .await
        .map_err(lineup_store::StoreError::backend)?)
}

/// Creates a user account in the tenant with a role. The password is stored only as an
/// argon2id hash.
#[utoipa::path(
    post, path = "/api/v1/users", tag = "users",
    request_body = NewMember,
    responses(
        (status = 201, description = "The new user", body = Member,
            headers(("Location" = String, description = "URL of the new user"))),
        (status = 400, response = ProblemResponse),
        (status = 401, response = ProblemResponse),
        (status = 403, response = ProblemResponse),
        (status = 409, response = ProblemResponse),
        (status = 422, response = ProblemResponse),
    )
)]
pub async fn create_user(
    State(state): State<AppState>,
    auth: Authorized<need::UserManage>,
    ApiJson(new): ApiJson<NewMember>,
) -> ApiResult<Response> {
    // Check the cheap fields before spending a password hash.
    new.validate(Uuid::nil(), String::new())?;
    let hash = hash_new_password(new.password.clone(), new.username.clone()).await?;
    let spec = new.validate(Uuid::now_v7(), hash)?;
    let member = state.store.create_member(&auth.principal.actor(), auth.tenant(), spec).await?;
    Ok(created(Some(format!("{V1}/users/{}", member.id)), member))
}

/// Lists the tenant's users (`sort=name` sorts by username).
#[utoipa::path(
    get, path = "/api/v1/users", tag = "users",
    params(NameListQuery),
    responses(
        (status = 200, description = "A page of users", body = super::MemberPage),
        (status = 400, response = ProblemResponse),
        (status = 401, response = ProblemResponse),
        (status = 403, response = ProblemResponse),
    )
)]
pub async fn list_users(
    State(state): State<AppState>,
    auth: Authorized<need::UserManage>,
    ApiQuery(q): ApiQuery<NameListQuery>,
) -> ApiResult<Json<Page<Member>>> {
    Ok(Json(state.store.list_members(auth.tenant(), &q.page()?).await?))
}

/// Reads one user of the tenant.
#[utoipa::path(
    get, path = "/api/v1/users/{id}", tag = "users",
    params(("id" = Uuid, Path, description = "User id")),
    responses(
        (status = 200, description = "The user", body = Member),
        (status = 401, response = ProblemResponse),
        (status = 403, response = ProblemResponse),
        (status = 404, response = ProblemResponse),
    )
)]
pub async fn get_user(
    State(state): State<AppState>,
    auth: Authorized<need::UserManage>,
    ApiPath(id): ApiPath<Uuid>,
) -> ApiResult<Json<Member>> {
    Ok(Json(state.store.get_member(auth.tenant(), id).await?))
}

/// Changes a user: email, name, role, active flag or password. A new password, a new role or a
/// deactivation signs the user out everywhere in the tenant.
#[utoipa::path(
    patch, path = "/api/v1/users/{id}", tag = "users",
    params(("id" = Uuid, Path, description = "User id")),
    request_body = MemberPatch,
    responses(
        (status = 200, description = "The user", body = Member),
        (status = 400, response = ProblemResponse),
        (status = 401, response = ProblemResponse),
        (status = 403, response = ProblemResponse),
        (status = 404, response = ProblemResponse),
        (status = 409, response = ProblemResponse),
        (status = 422, response = ProblemResponse),
    )
)]
pub async fn update_user(
    State(state): State<AppState>,
    auth: Authorized<need::UserManage>,
    ApiPath(id): ApiPath<Uuid>,
    ApiJson(patch): ApiJson<MemberPatch>,
) -> ApiResult<Json<Member>> {
    patch.validate(None)?;
    let hash = match patch.password.clone() {
        Some(password) => {
            let username = state.store.get_member(auth.tenant(), id).await?.username;
            Some(hash_new_password(password, username).await?)
        }
        None => None,
    };
    let change = patch.validate(hash)?;
    Ok(Json(state.store.update_member(&auth.principal.actor(), auth.tenant(), id, change).await?))
}
