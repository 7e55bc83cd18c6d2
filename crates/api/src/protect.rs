//! The protective layers around every route: the client address and its rate limit, security
//! headers, CORS and the body size limit.

use std::net::{IpAddr, SocketAddr};

use axum::extract::{ConnectInfo, FromRequestParts, Request, State};
use axum::http::header::{self, HeaderName};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, Method};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use tower_http::cors::{AllowOrigin, CorsLayer};

use crate::{ApiConfig, AppState};

/// The address a request came from: the TCP peer, or (behind a trusted proxy) the last
/// `X-Forwarded-For` entry. `None` when the server was started without connection info.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientIp(pub Option<IpAddr>);

impl ClientIp {
    fn of(headers: &HeaderMap, peer: Option<IpAddr>, config: &ApiConfig) -> ClientIp {
        if config.trust_forwarded_for {
            let forwarded = headers
                .get_all("x-forwarded-for")
                .iter()
                .filter_map(|v| v.to_str().ok())
                .flat_map(|v| v.split(','))
                .next_back()
                .and_then(|a| a.trim().parse::<IpAddr>().ok());
            if forwarded.is_some() {
                return ClientIp(forwarded);
            }
        }
        ClientIp(peer)
    }
}

impl FromRequestParts<AppState> for ClientIp {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let peer = parts.extensions.get::<ConnectInfo<SocketAddr>>().map(|c| c.0.ip());
        Ok(ClientIp::of(&parts.headers, peer, &state.config))
    }
}

/// Middleware: charges the client address's rate limit before anything else runs.
pub async fn limit_per_ip(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let peer = req.extensions().get::<ConnectInfo<SocketAddr>>().map(|c| c.0.ip());
    if let ClientIp(Some(ip)) = ClientIp::of(req.headers(), peer, &state.config) {
        if let Err(e) = state.limits.check_ip(ip) {
            return e.into_response();
        }
    }
    next.run(req).await
}

/// Middleware: security headers on every response (kept when a handler set its own).
pub async fn security_headers(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let is_api = req.uri().path().starts_with(crate::routes::V1);
    let mut res = next.run(req).await;
    let headers = res.headers_mut();
    let mut set = |name: HeaderName, value: &'static str| {
        headers.entry(name).or_insert(HeaderValue::from_static(value));
    };
    set(header::X_CONTENT_TYPE_OPTIONS, "nosniff");
    set(header::X_FRAME_OPTIONS, "DENY");
    set(header::REFERRER_POLICY, "no-referrer");
    set(header::CONTENT_SECURITY_POLICY, "default-src 'self'; frame-ancestors 'none'; base-uri 'none'");
    set(HeaderName::from_static("cross-origin-opener-policy"), "same-origin");
    set(HeaderName::from_static("cross-origin-resource-policy"), "same-origin");
    set(HeaderName::from_static("permissions-policy"), "camera=(), microphone=(), geolocation=()");
    if is_api {
        set(header::CACHE_CONTROL, "no-store");
    }
    if state.config.hsts {
        set(header::STRICT_TRANSPORT_SECURITY, "max-age=31536000; includeSubDomains");
    }
    res
}

/// The CORS layer for the configured origins, or `None` (same origin only) when there are none.
pub fn cors(config: &ApiConfig) -> Option<CorsLayer> {
    if config.cors_allowed_origins.is_empty() {
        return None;
    }
    Some(
        CorsLayer::new()
            .allow_origin(AllowOrigin::list(config.cors_allowed_origins.iter().cloned()))
            .allow_methods([Method::GET, Method::POST, Method::PATCH, Method::DELETE])
            .allow_headers([header::AUTHORIZATION, header::CONTENT_TYPE, HeaderName::from_static("last-event-id")])
            .expose_headers([header::LOCATION, header::RETRY_AFTER])
            .max_age(std::time::Duration::from_secs(600)),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forwarded_for_is_used_only_behind_a_trusted_proxy() {
        let mut headers = HeaderMap::new();
        headers.insert("x-forwarded-for", HeaderValue::from_static("203.0.113.9, 198.51.100.7"));
        let peer: IpAddr = "10.0.0.1".parse().unwrap();
        let trusting = ApiConfig { trust_forwarded_for: true, ..ApiConfig::default() };
        assert_eq!(ClientIp::of(&headers, Some(peer), &ApiConfig::default()), ClientIp(Some(peer)));
        assert_eq!(ClientIp::of(&headers, Some(peer), &trusting), ClientIp(Some("198.51.100.7".parse().unwrap())));
        let mut junk = HeaderMap::new();
        junk.insert("x-forwarded-for", HeaderValue::from_static("not-an-ip"));
        assert_eq!(ClientIp::of(&junk, Some(peer), &trusting), ClientIp(Some(peer)));
    }
}
