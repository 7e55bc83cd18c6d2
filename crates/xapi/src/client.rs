//! The XAPI HTTP client the generated operations call: builds the URL, attaches the bearer token
//! (refreshing once on 401), goes through the circuit breaker, retries per the [`RetryPolicy`],
//! records metrics, and decodes the JSON answer.
//!
//! [`RetryPolicy`]: crate::policy::RetryPolicy

use std::fmt;
use std::sync::Arc;
use std::time::Instant;

use backon::Retryable;
use reqwest::header::{ACCEPT, RETRY_AFTER};
use reqwest::{Method, Url};
use serde::de::DeserializeOwned;

use crate::auth::{BearerToken, TokenCache};
use crate::breaker::{BreakerState, CircuitBreaker};
use crate::clock::{Clock, SystemClock};
use crate::config::XapiConfig;
use crate::encode::encode_path;
pub use crate::error::XapiError;
use crate::metrics;
use crate::odata::{ODataPage, Query};

/// The root of the XAPI below the PBX's address.
const API_ROOT: &str = "/xapi/v1";

/// A client of one PBX's XAPI. Cloning is cheap (an `Arc`); clones share the token, the HTTP
/// connection pool and the circuit breaker.
#[derive(Clone)]
pub struct XapiClient {
    inner: Arc<Inner>,
}

struct Inner {
    config: XapiConfig,
    /// `{base_url}/xapi/v1`, without a trailing `/`.
    api_root: String,
    api_root_url: Url,
    http: reqwest::Client,
    tokens: TokenCache,
    breaker: CircuitBreaker,
}

impl fmt::Debug for XapiClient {
    fn fmt(&self, out: &mut fmt::Formatter<'_>) -> fmt::Result {
        out.debug_struct("XapiClient")
            .field("api_root", &self.inner.api_root)
            .field("client_id", &self.inner.config.client_id)
            .field("breaker", &self.inner.breaker.state())
            .finish_non_exhaustive()
    }
}

impl XapiClient {
    /// A client for `config` on the system clock. Fails with `InvalidRequest` when the base URL
    /// is not an http(s) URL or the HTTP stack cannot be set up; sends nothing yet (the token is
    /// fetched by the first call).
    pub fn new(config: XapiConfig) -> Result<XapiClient, XapiError> {
        XapiClient::with_clock(config, Arc::new(SystemClock))
    }

    /// A client whose token expiry and circuit breaker read `clock` (tests move a
    /// [`ManualClock`](crate::clock::ManualClock) instead of sleeping).
    pub fn with_clock(config: XapiConfig, clock: Arc<dyn Clock>) -> Result<XapiClient, XapiError> {
        let invalid = |message: String| XapiError::InvalidRequest { message };
        let base_url = config.base_url.trim_end_matches('/').to_owned();
        let api_root = format!("{base_url}{API_ROOT}");
        let api_root_url =
            Url::parse(&format!("{api_root}/")).map_err(|error| invalid(format!("base URL: {error}")))?;
        if !matches!(api_root_url.scheme(), "http" | "https") {
            return Err(invalid(format!("base URL must be http or https: {base_url}")));
        }
        let http = reqwest::Client::builder()
            .connect_timeout(config.connect_timeout)
            .timeout(config.request_timeout)
            .user_agent(config.user_agent.clone())
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|error| invalid(format!("HTTP client: {error}")))?;
        let tokens = TokenCache::new(&config, &base_url, http.clone(), clock.clone())?;
        let breaker = CircuitBreaker::new(config.breaker.clone(), clock);
        Ok(XapiClient { inner: Arc::new(Inner { config, api_root, api_root_url, http, tokens, breaker }) })
    }

    /// The configuration this client was made with.
    pub fn config(&self) -> &XapiConfig {
        &self.inner.config
    }

    /// The circuit breaker's state.
    pub fn breaker_state(&self) -> BreakerState {
        self.inner.breaker.state()
    }

    /// GETs one page of a collection at `path` (relative to `/xapi/v1`, e.g. `/ActiveCalls` or a
    /// report function path with its parameters formatted in). `operation` names the call in
    /// metrics and logs (e.g. `ActiveCalls.ListActiveCall`). A query made by
    /// [`Query::next_link`] fetches that link instead of `path`.
    pub(crate) async fn get_collection<T: DeserializeOwned>(
        &self,
        operation: &'static str,
        path: String,
        query: &Query,
    ) -> Result<ODataPage<T>, XapiError> {
        let url = self.request_url(&path, query)?;
        let body = self.execute(operation, Method::GET, &url, None).await?;
        decode_body(&body)
    }

    /// GETs one page of the collection at `path` for an operation the generator does not cover;
    /// the same path as the generated operations (they call it through `get_collection`).
    pub async fn get_collection_raw<T: DeserializeOwned>(
        &self,
        operation: &'static str,
        path: &str,
        query: &Query,
    ) -> Result<ODataPage<T>, XapiError> {
        self.get_collection(operation, path.to_owned(), query).await
    }

    /// GETs one entity at `path`.
    pub(crate) async fn get_entity<T: DeserializeOwned>(
        &self,
        operation: &'static str,
        path: String,
        query: &Query,
    ) -> Result<T, XapiError> {
        let url = self.request_url(&path, query)?;
        let body = self.execute(operation, Method::GET, &url, None).await?;
        decode_body(&body)
    }

    /// POSTs an action at `path` (e.g. `/ActiveCalls(12)/Pbx.DropCall`) with an optional JSON body.
    /// Any 2xx is success; the answer's body is not read as data. Retried like reads, so only
    /// actions that are safe to repeat (drop a call, reset statistics) belong here.
    pub(crate) async fn post_action(
        &self,
        operation: &'static str,
        path: String,
        body: Option<serde_json::Value>,
    ) -> Result<(), XapiError> {
        let url = self.request_url(&path, &Query::new())?;
        self.execute(operation, Method::POST, &url, body.as_ref()).await.map(drop)
    }

    /// The URL of a request: the followed `@odata.nextLink`, or `/xapi/v1` + the encoded path +
    /// the query string.
    fn request_url(&self, path: &str, query: &Query) -> Result<Url, XapiError> {
        if let Some(link) = query.followed_link() {
            return self.next_link_url(link);
        }
        let slash = if path.starts_with('/') { "" } else { "/" };
        let mut url = format!("{}{slash}{}", self.inner.api_root, encode_path(path));
        let query_string = query.to_query_string();
        if !query_string.is_empty() {
            url.push('?');
            url.push_str(&query_string);
        }
        Url::parse(&url).map_err(|error| XapiError::InvalidRequest { message: format!("{url}: {error}") })
    }

    /// An `@odata.nextLink` resolved against the XAPI root; refused when it leaves the PBX's
    /// origin, so the bearer token never goes elsewhere.
    fn next_link_url(&self, link: &str) -> Result<Url, XapiError> {
        let root = &self.inner.api_root_url;
        let url = root
            .join(link)
            .map_err(|error| XapiError::InvalidRequest { message: format!("nextLink {link:?}: {error}") })?;
        if url.origin() != root.origin() {
            return Err(XapiError::InvalidRequest { message: format!("nextLink {link:?} leaves the PBX") });
        }
        Ok(url)
    }

    /// Sends the request with retries: attempts go through the breaker; retryable errors wait
    /// per the policy (or the server's `Retry-After`) and try again.
    async fn execute(
        &self,
        operation: &'static str,
        method: Method,
        url: &Url,
        body: Option<&serde_json::Value>,
    ) -> Result<bytes::Bytes, XapiError> {
        let policy = &self.inner.config.retry;
        let started = Instant::now();
        let attempt = || self.attempt(operation, method.clone(), url, body);
        attempt
            .retry(policy.backoff())
            .sleep(tokio::time::sleep)
            .when(XapiError::is_retryable)
            .adjust(|error, proposed| policy.next_delay(error, proposed, started.elapsed()))
            .notify(|error, delay| {
                metrics::record_retry(operation);
                tracing::info!(operation, %error, delay_ms = delay.as_millis() as u64, "retrying XAPI call");
            })
            .await
    }

    /// One attempt through the breaker, with metrics.
    async fn attempt(
        &self,
        operation: &'static str,
        method: Method,
        url: &Url,
        body: Option<&serde_json::Value>,
    ) -> Result<bytes::Bytes, XapiError> {
        let permit = self.inner.breaker.acquire().inspect_err(|error| metrics::record_error(operation, error))?;
        let started = Instant::now();
        let result = self.send_authorized(&method, url, body).await;
        metrics::record_attempt(operation, started.elapsed(), &result);
        permit.record(&result);
        if let Err(error) = &result {
            tracing::debug!(operation, %method, path = url.path(), %error, "XAPI attempt failed");
        }
        result
    }

    /// Sends with the current token; on 401 replaces the token once and sends once more.
    async fn send_authorized(
        &self,
        method: &Method,
        url: &Url,
        body: Option<&serde_json::Value>,
    ) -> Result<bytes::Bytes, XapiError> {
        let token = self.inner.tokens.current().await?;
        match self.send(method, url, body, &token).await {
            Err(XapiError::Unauthorized { .. }) => {
                tracing::info!("XAPI answered 401; replacing the token once");
                let fresh = self.inner.tokens.replace(&token).await?;
                self.send(method, url, body, &fresh).await
            }
            other => other,
        }
    }

    /// One HTTP exchange: the body of a 2xx answer, or the typed error.
    async fn send(
        &self,
        method: &Method,
        url: &Url,
        body: Option<&serde_json::Value>,
        token: &BearerToken,
    ) -> Result<bytes::Bytes, XapiError> {
        let mut request = self
            .inner
            .http
            .request(method.clone(), url.clone())
            .bearer_auth(&*token.value)
            .header(ACCEPT, "application/json");
        if let Some(body) = body {
            request = request.json(body);
        }
        let response = request.send().await.map_err(|error| XapiError::from_reqwest(&error))?;
        let status = response.status();
        let retry_after = response.headers().get(RETRY_AFTER).and_then(|value| value.to_str().ok()).map(str::to_owned);
        let bytes = response.bytes().await.map_err(|error| XapiError::from_reqwest(&error))?;
        if status.is_success() {
            Ok(bytes)
        } else {
            Err(XapiError::from_response(status.as_u16(), retry_after.as_deref(), &bytes, chrono::Utc::now()))
        }
    }
}

/// Decodes a JSON answer the way the client does: `serde_json` straight from the bytes, a
/// failure becoming [`XapiError::Decode`] with the first bytes of the body.
pub fn decode_body<T: DeserializeOwned>(body: &[u8]) -> Result<T, XapiError> {
    serde_json::from_slice(body).map_err(|error| XapiError::decode(&error, body))
}

#[cfg(test)]
#[path = "client_tests.rs"]
mod tests;
