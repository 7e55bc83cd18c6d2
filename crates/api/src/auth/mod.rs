//! Authentication and authorization: the one mechanism every route goes through.
//!
//! A handler names what it needs in its signature, `Authorized<need::QueueManage>`; the
//! extractor finds the caller from the `Authorization: Bearer` header (an access token or an API
//! key) — or, for streams declared `Authorized<N, HeaderOrTicket>`, from a single-use `?ticket=` —
//! charges the caller's rate limit, and checks the role matrix (`Role::allows`). Handlers never
//! look at roles themselves, and act only in the tenant of the principal they are handed.

pub mod limits;

use std::marker::PhantomData;

use axum::extract::{FromRequestParts, Query};
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use lineup_domain::{Permission, Principal, TenantId};
use lineup_security::TokenKind;
use serde::Deserialize;

use crate::error::ApiError;
use crate::AppState;

/// What a route requires of its caller: a permission, or (`None`) only a valid credential.
pub trait Need: Send + Sync + 'static {
    const PERMISSION: Option<Permission>;
}

/// The permission markers routes name, one per [`Permission`], plus [`need::Authenticated`].
pub mod need {
    use super::Need;
    use lineup_domain::Permission;

    macro_rules! needs {
        ($($name:ident),* $(,)?) => {
            $(
                #[doc = concat!("Requires `Permission::", stringify!($name), "`.")]
                pub struct $name;
                impl Need for $name {
                    const PERMISSION: Option<Permission> = Some(Permission::$name);
                }
            )*
        };
    }

    needs!(
        QueueRead,
        QueueManage,
        SessionRead,
        SessionManage,
        ItemRead,
        ItemCreate,
        ItemUpdate,
        TemplateRead,
        TemplateManage,
        TenantRead,
        TenantManage,
        UserManage,
        ApiKeyManage,
        AuditRead,
        PbxManage,
        InboxManage,
        WebhookManage,
        LiveRead,
        AnalyticsRead,
    );

    /// Requires a valid credential of any role (`/me`, logout, stream tickets).
    pub struct Authenticated;
    impl Need for Authenticated {
        const PERMISSION: Option<Permission> = None;
    }
}

/// Where a route accepts credentials from.
pub trait CredentialSource: Send + Sync + 'static {
    /// Whether a `?ticket=` stream ticket is accepted (when no `Authorization` header is sent).
    const TICKETS: bool;
}

/// Only the `Authorization` header (every route but the streams).
pub struct HeaderOnly;
impl CredentialSource for HeaderOnly {
    const TICKETS: bool = false;
}

/// The header, or a single-use stream ticket in the query (`EventSource` sends no headers).
pub struct HeaderOrTicket;
impl CredentialSource for HeaderOrTicket {
    const TICKETS: bool = true;
}

/// An authenticated caller holding what `N` requires.
pub struct Authorized<N: Need, C: CredentialSource = HeaderOnly> {
    pub principal: Principal,
    _need: PhantomData<fn() -> (N, C)>,
}

impl<N: Need, C: CredentialSource> Authorized<N, C> {
    /// The tenant the request acts in.
    pub fn tenant(&self) -> TenantId {
        self.principal.tenant_id
    }
}

#[derive(Deserialize)]
struct TicketQuery {
    ticket: Option<String>,
}

impl<N: Need, C: CredentialSource> FromRequestParts<AppState> for Authorized<N, C> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let principal = authenticate(parts, state, C::TICKETS).await?;
        state.limits.check_principal(&principal)?;
        if let Some(permission) = N::PERMISSION {
            if !principal.can(permission) {
                return Err(ApiError::Forbidden { role: principal.role.as_str(), permission: permission.as_str() });
            }
        }
        Ok(Authorized { principal, _need: PhantomData })
    }
}

/// Finds the principal of a request, or says why there is none.
async fn authenticate(parts: &Parts, state: &AppState, tickets: bool) -> Result<Principal, ApiError> {
    let now = lineup_store::now_micros();
    if let Some(value) = parts.headers.get(AUTHORIZATION) {
        let token = bearer_token(value.as_bytes())?;
        let resolved = match lineup_security::parse(token) {
            Some((TokenKind::Access, hash)) => state.store.resolve_access_token(hash.as_bytes(), now).await?,
            Some((TokenKind::ApiKey, hash)) => state.store.resolve_api_key(hash.as_bytes(), now).await?,
            Some((TokenKind::Refresh, _)) => {
                return Err(ApiError::Unauthenticated(
                    "a refresh token only buys new tokens at POST /api/v1/auth/refresh".into(),
                ))
            }
            Some((TokenKind::StreamTicket, _)) => {
                return Err(ApiError::Unauthenticated("a stream ticket goes in the stream URL as ?ticket=".into()))
            }
            None => return Err(ApiError::Unauthenticated("the bearer token is not a Lineup token".into())),
        };
        return resolved.ok_or_else(|| ApiError::Unauthenticated("the token is unknown, expired or revoked".into()));
    }
    if tickets {
        let ticket = Query::<TicketQuery>::try_from_uri(&parts.uri).ok().and_then(|q| q.0.ticket);
        if let Some(ticket) = ticket {
            let Some((TokenKind::StreamTicket, hash)) = lineup_security::parse(&ticket) else {
                return Err(ApiError::Unauthenticated("the ticket is not a stream ticket".into()));
            };
            return state
                .store
                .redeem_stream_ticket(hash.as_bytes(), now)
                .await?
                .ok_or_else(|| ApiError::Unauthenticated("the stream ticket is unknown, used or expired".into()));
        }
        return Err(ApiError::Unauthenticated(
            "send 'Authorization: Bearer <token>' or a stream ticket as ?ticket=".into(),
        ));
    }
    Err(ApiError::Unauthenticated("send 'Authorization: Bearer <access token or API key>'".into()))
}

/// The token of an `Authorization: Bearer <token>` header value (scheme case-insensitive).
fn bearer_token(value: &[u8]) -> Result<&str, ApiError> {
    let malformed = || ApiError::Unauthenticated("the Authorization header must be 'Bearer <token>'".into());
    let text = std::str::from_utf8(value).map_err(|_| malformed())?;
    let (scheme, token) = text.split_once(' ').ok_or_else(malformed)?;
    if !scheme.eq_ignore_ascii_case("bearer") {
        return Err(malformed());
    }
    let token = token.trim();
    if token.is_empty() {
        return Err(malformed());
    }
    Ok(token)
}

#[cfg(test)]
mod tests {
    use super::bearer_token;

    #[test]
    fn bearer_headers_are_parsed_strictly() {
        let cases: [(&[u8], Option<&str>); 8] = [
            (b"Bearer abc", Some("abc")),
            (b"bearer abc", Some("abc")),
            (b"BEARER  abc ", Some("abc")),
            (b"Basic abc", None),
            (b"Bearer", None),
            (b"Bearer ", None),
            (b"abc", None),
            (b"Bearer \xff", None),
        ];
        for (input, expected) in cases {
            assert_eq!(bearer_token(input).ok(), expected, "{:?}", String::from_utf8_lossy(input));
        }
    }
}
