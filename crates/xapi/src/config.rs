//! The configuration of a client of one PBX.

use std::fmt;
use std::time::Duration;

use crate::breaker::BreakerConfig;
use crate::policy::RetryPolicy;

/// A secret string: its `Debug` and `Display` print `***`, so it cannot leak into logs.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps `value`.
    pub fn new(value: impl Into<String>) -> Secret {
        Secret(value.into())
    }

    /// The secret itself; only to send it where it belongs.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, out: &mut fmt::Formatter<'_>) -> fmt::Result {
        out.write_str("Secret(***)")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, out: &mut fmt::Formatter<'_>) -> fmt::Result {
        out.write_str("***")
    }
}

impl From<String> for Secret {
    fn from(value: String) -> Secret {
        Secret(value)
    }
}

impl From<&str> for Secret {
    fn from(value: &str) -> Secret {
        Secret(value.to_owned())
    }
}

/// How to reach one PBX's XAPI and how to behave when it misbehaves. Build with
/// [`XapiConfig::new`] and adjust fields; the `Debug` output never shows the secret.
#[derive(Debug, Clone, PartialEq)]
pub struct XapiConfig {
    /// The PBX's address, e.g. `https://pbx.example.com:5001` (no `/xapi/v1`; a trailing `/` is
    /// ignored).
    pub base_url: String,
    /// The XAPI client id (the "Client ID" of the API entry in the 3CX admin console).
    pub client_id: String,
    /// The XAPI client secret.
    pub client_secret: Secret,
    /// Time allowed to open a connection.
    pub connect_timeout: Duration,
    /// Time allowed for one attempt, from sending the request to reading the whole body.
    pub request_timeout: Duration,
    /// Retries of failed calls of retryable kinds.
    pub retry: RetryPolicy,
    /// The circuit breaker.
    pub breaker: BreakerConfig,
    /// How long before its expiry a token is replaced.
    pub token_refresh_margin: Duration,
    /// Token lifetime assumed when the token endpoint gives no `expires_in` (before 3CX 20.0.9).
    pub default_token_lifetime: Duration,
    /// `$top` the pagination helper asks for when the query sets none.
    pub max_page_size: u32,
    /// Pages the pagination helper fetches at most before failing with `PageCapExceeded`.
    pub max_pages: usize,
    /// The `User-Agent` header.
    pub user_agent: String,
}

impl XapiConfig {
    /// A configuration with the defaults: connect timeout 5 s, request timeout 30 s, the default
    /// [`RetryPolicy`] and [`BreakerConfig`], token refresh 60 s before expiry (assumed lifetime
    /// 10 min), pages of 500 rows, at most 1,000 pages.
    pub fn new(
        base_url: impl Into<String>,
        client_id: impl Into<String>,
        client_secret: impl Into<Secret>,
    ) -> XapiConfig {
        XapiConfig {
            base_url: base_url.into(),
            client_id: client_id.into(),
            client_secret: client_secret.into(),
            connect_timeout: Duration::from_secs(5),
            request_timeout: Duration::from_secs(30),
            retry: RetryPolicy::default(),
            breaker: BreakerConfig::default(),
            token_refresh_margin: Duration::from_secs(60),
            default_token_lifetime: Duration::from_secs(600),
            max_page_size: 500,
            max_pages: 1000,
            user_agent: concat!("lineup-xapi/", env!("CARGO_PKG_VERSION")).to_owned(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_output_hides_the_secret() {
        let config = XapiConfig::new("https://pbx.example.com", "lineup", "s3cr3t-value");
        let shown = format!("{config:?} {}", config.client_secret);
        assert!(!shown.contains("s3cr3t-value"), "{shown}");
        assert!(shown.contains("lineup"));
    }
}
