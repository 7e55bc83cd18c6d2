//! The OAuth2 client-credentials token of one PBX connection (`POST {pbx}/connect/token`).
//!
//! 3CX keeps one active token per client, so a client holds exactly one and fetches a new one
//! single-flight under an async lock: before it expires (less a margin), and once when a data
//! call is answered 401. Callers that queued behind a fetch share its outcome, so a failing token
//! endpoint is asked once per wave of callers, not once per caller.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use oauth2::basic::{BasicClient, BasicErrorResponse};
use oauth2::{
    AuthType, ClientId, ClientSecret, EndpointNotSet, EndpointSet, HttpRequest, HttpResponse, RequestTokenError,
    TokenResponse, TokenUrl,
};

use crate::clock::Clock;
use crate::config::XapiConfig;
use crate::error::{excerpt, parse_retry_after, XapiError};
use crate::metrics;

type OAuthClient = BasicClient<EndpointNotSet, EndpointNotSet, EndpointNotSet, EndpointNotSet, EndpointSet>;

/// An access token handed to a call, with the generation that tells tokens apart.
#[derive(Clone)]
pub(crate) struct BearerToken {
    pub(crate) value: Arc<str>,
    generation: u64,
}

impl fmt::Debug for BearerToken {
    fn fmt(&self, out: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(out, "BearerToken(generation {}, ***)", self.generation)
    }
}

struct CachedToken {
    token: BearerToken,
    refresh_at: Instant,
    expires_at: Instant,
}

#[derive(Default)]
struct Slot {
    cached: Option<CachedToken>,
    generations: u64,
    last_error: Option<XapiError>,
}

/// The token cache of one client.
pub(crate) struct TokenCache {
    oauth: OAuthClient,
    http: reqwest::Client,
    clock: Arc<dyn Clock>,
    refresh_margin: Duration,
    default_lifetime: Duration,
    slot: tokio::sync::Mutex<Slot>,
    /// Fetches finished (either way); read before queueing to learn whether one finished meanwhile.
    fetches: AtomicU64,
}

impl fmt::Debug for TokenCache {
    fn fmt(&self, out: &mut fmt::Formatter<'_>) -> fmt::Result {
        out.debug_struct("TokenCache").field("client_id", self.oauth.client_id()).finish_non_exhaustive()
    }
}

impl TokenCache {
    /// A cache fetching from `{base_url}/connect/token` through `http`.
    pub(crate) fn new(
        config: &XapiConfig,
        base_url: &str,
        http: reqwest::Client,
        clock: Arc<dyn Clock>,
    ) -> Result<TokenCache, XapiError> {
        let token_url = TokenUrl::new(format!("{base_url}/connect/token"))
            .map_err(|error| XapiError::InvalidRequest { message: format!("token URL: {error}") })?;
        let oauth = BasicClient::new(ClientId::new(config.client_id.clone()))
            .set_client_secret(ClientSecret::new(config.client_secret.expose().to_owned()))
            .set_auth_type(AuthType::RequestBody)
            .set_token_uri(token_url);
        Ok(TokenCache {
            oauth,
            http,
            clock,
            refresh_margin: config.token_refresh_margin,
            default_lifetime: config.default_token_lifetime,
            slot: tokio::sync::Mutex::new(Slot::default()),
            fetches: AtomicU64::new(0),
        })
    }

    /// The current token, fetching one first when there is none or it is due for refresh.
    pub(crate) async fn current(&self) -> Result<BearerToken, XapiError> {
        let seen = self.fetches.load(Ordering::Acquire);
        let mut slot = self.slot.lock().await;
        if let Some(cached) = &slot.cached {
            if self.clock.now() < cached.refresh_at {
                return Ok(cached.token.clone());
            }
        }
        self.fetch_into(&mut slot, seen).await
    }

    /// A token other than `rejected` (which the XAPI answered 401 to): the one another caller
    /// already fetched, or a new one. Never falls back to `rejected`.
    pub(crate) async fn replace(&self, rejected: &BearerToken) -> Result<BearerToken, XapiError> {
        let seen = self.fetches.load(Ordering::Acquire);
        let mut slot = self.slot.lock().await;
        if let Some(cached) = &slot.cached {
            if cached.token.generation != rejected.generation && self.clock.now() < cached.refresh_at {
                return Ok(cached.token.clone());
            }
            if cached.token.generation == rejected.generation {
                slot.cached = None;
            }
        }
        self.fetch_into(&mut slot, seen).await
    }

    /// Fetches a token into `slot`, unless a fetch finished since the caller looked (`seen`) and
    /// failed: then its error is shared. A failed refresh keeps serving a token not yet expired.
    async fn fetch_into(&self, slot: &mut Slot, seen: u64) -> Result<BearerToken, XapiError> {
        if self.fetches.load(Ordering::Acquire) != seen {
            if let Some(error) = &slot.last_error {
                return Err(error.clone());
            }
        }
        let requested_at = self.clock.now();
        let result = self.fetch().await;
        self.fetches.fetch_add(1, Ordering::AcqRel);
        metrics::record_token_request(&result);
        match result {
            Ok((value, lifetime)) => {
                slot.generations += 1;
                let token = BearerToken { value: value.into(), generation: slot.generations };
                // Refresh `margin` before expiry, but never sooner than half-way through the lifetime.
                let refresh_after = lifetime.saturating_sub(self.refresh_margin).max(lifetime / 2);
                slot.cached = Some(CachedToken {
                    token: token.clone(),
                    refresh_at: requested_at + refresh_after,
                    expires_at: requested_at + lifetime,
                });
                slot.last_error = None;
                tracing::debug!(generation = token.generation, lifetime_s = lifetime.as_secs(), "XAPI token fetched");
                Ok(token)
            }
            Err(error) => {
                tracing::warn!(%error, "XAPI token request failed");
                slot.last_error = Some(error.clone());
                match &slot.cached {
                    Some(cached) if self.clock.now() < cached.expires_at && error.is_retryable() => {
                        Ok(cached.token.clone())
                    }
                    _ => Err(error),
                }
            }
        }
    }

    /// One token request: the access token and its lifetime.
    async fn fetch(&self) -> Result<(String, Duration), XapiError> {
        let http = self.http.clone();
        let send = move |request: HttpRequest| {
            let http = http.clone();
            async move { send_token_request(&http, request).await }
        };
        let response = self.oauth.exchange_client_credentials().request_async(&send).await.map_err(token_error)?;
        let lifetime = response.expires_in().unwrap_or(self.default_lifetime);
        if lifetime.is_zero() {
            return Err(XapiError::TokenMalformed { message: "expires_in is 0".to_owned() });
        }
        Ok((response.access_token().secret().clone(), lifetime))
    }
}

/// Sends the token request; 429 and 5xx become `TokenUnavailable`, and a 4xx without an OAuth2
/// error body becomes `TokenRejected` (the `oauth2` crate would lose its status otherwise).
async fn send_token_request(http: &reqwest::Client, request: HttpRequest) -> Result<HttpResponse, XapiError> {
    let request = reqwest::Request::try_from(request)
        .map_err(|error| XapiError::InvalidRequest { message: format!("token request: {error}") })?;
    let response = http.execute(request).await.map_err(|error| XapiError::from_reqwest(&error))?;
    let status = response.status();
    let headers = response.headers().clone();
    let body = response.bytes().await.map_err(|error| XapiError::from_reqwest(&error))?;
    if status.as_u16() == 429 || status.is_server_error() {
        let retry_after = headers
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| parse_retry_after(value, chrono::Utc::now()));
        return Err(XapiError::TokenUnavailable { status: status.as_u16(), retry_after });
    }
    if status.is_client_error() && serde_json::from_slice::<BasicErrorResponse>(&body).is_err() {
        return Err(XapiError::TokenRejected {
            error: format!("http_{}", status.as_u16()),
            description: excerpt(&body),
        });
    }
    let mut builder = oauth2::http::Response::builder().status(status);
    for (name, value) in &headers {
        builder = builder.header(name, value);
    }
    builder
        .body(body.to_vec())
        .map_err(|error| XapiError::TokenMalformed { message: format!("token response: {error}") })
}

fn token_error(error: RequestTokenError<XapiError, BasicErrorResponse>) -> XapiError {
    match error {
        RequestTokenError::ServerResponse(response) => XapiError::TokenRejected {
            error: response.error().as_ref().to_owned(),
            description: response.error_description().cloned().unwrap_or_default(),
        },
        RequestTokenError::Request(error) => error,
        RequestTokenError::Parse(error, body) => {
            XapiError::TokenMalformed { message: format!("{error}; body starts {:?}", excerpt(&body)) }
        }
        RequestTokenError::Other(message) => XapiError::TokenMalformed { message },
    }
}
