//! `/auth` and `/me`: signing in, refreshing, signing out, stream tickets, and who am I.
//!
//! Login sessions are rows in the store (the choice is explained in docs/SECURITY.md): an access
//! token works for `access_token_ttl`, a refresh token buys a new pair (and dies doing so), and
//! logout revokes the row, so both tokens stop working at once on every node.

use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::{DateTime, Utc};
use lineup_domain::member::validate_username;
use lineup_domain::{DomainError, Member, Permission, Principal, Role, Subject, Tenant};
use lineup_security::TokenKind;
use lineup_store::{LoginCandidate, NewLoginSession, NewStreamTicket, RefreshOutcome, TokenPair};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::auth::{need, Authorized};
use crate::error::{ApiError, ApiResult, ProblemResponse};
use crate::extract::ApiJson;
use crate::protect::ClientIp;
use crate::AppState;

/// The auth routes.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/auth/login", post(login))
        .route("/auth/refresh", post(refresh))
        .route("/auth/logout", post(logout))
        .route("/auth/stream-ticket", post(stream_ticket))
        .route("/me", get(me))
}

/// Username and password, and the tenant when the account belongs to several.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct LoginRequest {
    pub username: String,
    pub password: String,
    /// The tenant's slug; needed only when the account belongs to several tenants.
    #[serde(default)]
    pub tenant: Option<String>,
}

/// A refresh token to exchange.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RefreshRequest {
    pub refresh_token: String,
}

/// A fresh token pair. Send the access token as `Authorization: Bearer <accessToken>`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TokenResponse {
    pub access_token: String,
    pub access_token_expires_at: DateTime<Utc>,
    pub refresh_token: String,
    pub refresh_token_expires_at: DateTime<Utc>,
    /// Always `Bearer`.
    pub token_type: String,
    pub tenant_id: Uuid,
    pub role: Role,
}

/// A single-use ticket for one stream URL (`?ticket=`).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct StreamTicket {
    pub ticket: String,
    pub expires_at: DateTime<Utc>,
}

/// The caller: the tenant, the role and what it permits, and the user or API key.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Me {
    pub tenant: Tenant,
    pub role: Role,
    /// Every permission the role holds (`queue.read`, ...), as in docs/SECURITY.md.
    pub permissions: Vec<String>,
    /// Set when a user is signed in.
    pub user: Option<Member>,
    /// Set when an API key is used.
    pub api_key: Option<MeApiKey>,
}

/// The API key a request is made with.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct MeApiKey {
    pub id: Uuid,
    pub name: String,
}

/// Signs in. Attempts are throttled per username and per address (429 with `Retry-After`).
#[utoipa::path(
    post, path = "/api/v1/auth/login", tag = "auth", security(()),
    request_body = LoginRequest,
    responses(
        (status = 200, description = "Signed in", body = TokenResponse),
        (status = 400, response = ProblemResponse),
        (status = 401, response = ProblemResponse),
        (status = 422, response = ProblemResponse),
        (status = 429, response = ProblemResponse),
    )
)]
pub async fn login(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    ApiJson(req): ApiJson<LoginRequest>,
) -> ApiResult<Json<TokenResponse>> {
    // A name that cannot be a username cannot sign in; throttle it like any other.
    let username = validate_username(&req.username).unwrap_or_else(|_| req.username.trim().to_lowercase());
    state.limits.check_login(&username, ip)?;
    let candidate = state.store.find_login(&username).await?;
    let password = req.password;
    let verified = tokio::task::spawn_blocking(move || match candidate {
        Some(c) if lineup_security::verify_password(&password, &c.password_hash) => Some(c),
        Some(_) => None,
        None => {
            lineup_security::burn_password_check(&password);
            None
        }
    })
    .await
    .map_err(lineup_store::StoreError::backend)?;
    let candidate = verified.filter(|c| c.is_active).ok_or(ApiError::InvalidCredentials)?;
    let membership = pick_membership(&candidate, req.tenant.as_deref())?;
    let now = lineup_store::now_micros();
    let (pair, tokens) = issue_pair(&state, now);
    let user_agent =
        headers.get(header::USER_AGENT).and_then(|v| v.to_str().ok()).map(|s| s.chars().take(200).collect());
    state
        .store
        .create_login_session(NewLoginSession {
            id: Uuid::now_v7(),
            tenant_id: membership.tenant_id,
            user_id: candidate.user_id,
            tokens: pair,
            user_agent,
            created_at: now,
        })
        .await?;
    tracing::info!(user = %candidate.username, tenant = %membership.tenant_slug, "signed in");
    Ok(Json(tokens.into_response(membership.tenant_id, membership.role)))
}

/// The membership a login acts in: the named tenant, or the only active one.
fn pick_membership<'a>(
    candidate: &'a LoginCandidate,
    tenant: Option<&str>,
) -> ApiResult<&'a lineup_store::LoginMembership> {
    let active: Vec<_> = candidate.memberships.iter().filter(|m| m.is_active).collect();
    match tenant {
        Some(slug) => active.into_iter().find(|m| m.tenant_slug == slug).ok_or(ApiError::InvalidCredentials),
        None => match active.as_slice() {
            [only] => Ok(only),
            [] => Err(ApiError::InvalidCredentials),
            many => Err(DomainError::Invalid {
                field: "tenant",
                reason: format!(
                    "this account belongs to several tenants: name one of {}",
                    many.iter().map(|m| m.tenant_slug.as_str()).collect::<Vec<_>>().join(", ")
                ),
            }
            .into()),
        },
    }
}

/// Plain tokens of a new pair, returned to the client once.
struct IssuedPair {
    access: String,
    access_expires_at: DateTime<Utc>,
    refresh: String,
    refresh_expires_at: DateTime<Utc>,
}

impl IssuedPair {
    fn into_response(self, tenant_id: Uuid, role: Role) -> TokenResponse {
        TokenResponse {
            access_token: self.access,
            access_token_expires_at: self.access_expires_at,
            refresh_token: self.refresh,
            refresh_token_expires_at: self.refresh_expires_at,
            token_type: "Bearer".into(),
            tenant_id,
            role,
        }
    }
}

fn issue_pair(state: &AppState, now: DateTime<Utc>) -> (TokenPair, IssuedPair) {
    let access = lineup_security::issue(TokenKind::Access);
    let refresh = lineup_security::issue(TokenKind::Refresh);
    let access_expires_at = now + state.config.access_token_ttl;
    let refresh_expires_at = now + state.config.refresh_token_ttl;
    let pair =
        TokenPair { access_hash: access.hash.0, access_expires_at, refresh_hash: refresh.hash.0, refresh_expires_at };
    (pair, IssuedPair { access: access.plain, access_expires_at, refresh: refresh.plain, refresh_expires_at })
}

/// Exchanges a refresh token for a new pair. Each refresh token works once; presenting one a
/// second time revokes its login session (it was stolen or replayed).
#[utoipa::path(
    post, path = "/api/v1/auth/refresh", tag = "auth", security(()),
    request_body = RefreshRequest,
    responses(
        (status = 200, description = "A new token pair", body = TokenResponse),
        (status = 400, response = ProblemResponse),
        (status = 401, response = ProblemResponse),
        (status = 429, response = ProblemResponse),
    )
)]
pub async fn refresh(
    State(state): State<AppState>,
    ApiJson(req): ApiJson<RefreshRequest>,
) -> ApiResult<Json<TokenResponse>> {
    let Some((TokenKind::Refresh, hash)) = lineup_security::parse(&req.refresh_token) else {
        return Err(ApiError::Unauthenticated("refreshToken is not a refresh token".into()));
    };
    let now = lineup_store::now_micros();
    let (pair, tokens) = issue_pair(&state, now);
    match state.store.refresh_login_session(hash.as_bytes(), pair, now).await? {
        RefreshOutcome::Rotated(p) => Ok(Json(tokens.into_response(p.tenant_id, p.role))),
        RefreshOutcome::ReuseDetected => Err(ApiError::Unauthenticated(
            "this refresh token was already used, so its login session has been revoked: sign in again".into(),
        )),
        RefreshOutcome::Invalid => {
            Err(ApiError::Unauthenticated("the refresh token is unknown, expired or revoked".into()))
        }
    }
}

/// Signs out: revokes the login session of the access token, so it and its refresh token stop
/// working at once. An API key is revoked through `DELETE /api-keys/{id}` instead.
#[utoipa::path(
    post, path = "/api/v1/auth/logout", tag = "auth",
    responses(
        (status = 204, description = "Signed out"),
        (status = 401, response = ProblemResponse),
        (status = 422, response = ProblemResponse),
    )
)]
pub async fn logout(State(state): State<AppState>, auth: Authorized<need::Authenticated>) -> ApiResult<StatusCode> {
    let Subject::User { session_id, .. } = auth.principal.subject else {
        return Err(DomainError::Invalid {
            field: "Authorization",
            reason: "an API key does not sign out; an admin revokes it with DELETE /api/v1/api-keys/{id}".into(),
        }
        .into());
    };
    state.store.revoke_login_session(auth.tenant(), session_id, lineup_store::now_micros()).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Issues a single-use ticket for one stream connection (`GET ...stream?ticket=`), valid for a
/// minute. The stream checks the caller's permissions when it is opened.
#[utoipa::path(
    post, path = "/api/v1/auth/stream-ticket", tag = "auth",
    responses(
        (status = 201, description = "A stream ticket", body = StreamTicket),
        (status = 401, response = ProblemResponse),
    )
)]
pub async fn stream_ticket(
    State(state): State<AppState>,
    auth: Authorized<need::Authenticated>,
) -> ApiResult<(StatusCode, Json<StreamTicket>)> {
    let ticket = lineup_security::issue(TokenKind::StreamTicket);
    let expires_at = lineup_store::now_micros() + state.config.stream_ticket_ttl;
    state.store.create_stream_ticket(&auth.principal, NewStreamTicket { hash: ticket.hash.0, expires_at }).await?;
    Ok((StatusCode::CREATED, Json(StreamTicket { ticket: ticket.plain, expires_at })))
}

/// Who the caller is: tenant, role, permissions, and the user or API key.
#[utoipa::path(
    get, path = "/api/v1/me", tag = "auth",
    responses((status = 200, description = "The caller", body = Me), (status = 401, response = ProblemResponse))
)]
pub async fn me(State(state): State<AppState>, auth: Authorized<need::Authenticated>) -> ApiResult<Json<Me>> {
    let Principal { tenant_id, role, subject } = auth.principal;
    let tenant = state.store.get_tenant(tenant_id).await?;
    let (user, api_key) = match subject {
        Subject::User { user_id, .. } => (Some(state.store.get_member(tenant_id, user_id).await?), None),
        Subject::ApiKey { key_id, name } => (None, Some(MeApiKey { id: key_id, name })),
    };
    let permissions = Permission::ALL.into_iter().filter(|p| role.allows(*p)).map(|p| p.as_str().to_string()).collect();
    Ok(Json(Me { tenant, role, permissions, user, api_key }))
}
