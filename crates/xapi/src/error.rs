//! Typed errors of XAPI calls: what went wrong, whether trying again can help, and how long the
//! server asked us to wait. Error responses are parsed here, from the status, the `Retry-After`
//! header and the OData error body (`{"error":{"code":..,"message":..,"details":[..]}}`), which
//! may also be HTML or empty when a proxy answers instead of 3CX.

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::Deserialize;

/// How many bytes of a body an error keeps, so that errors stay small and logs stay readable.
const EXCERPT_BYTES: usize = 256;

/// What a call to the XAPI can fail with.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum XapiError {
    /// 401 on a data call, after the token was refreshed once and the call retried once.
    #[error("XAPI rejected the access token (401): {message}")]
    Unauthorized {
        /// The server's message, or a body excerpt.
        message: String,
    },
    /// 403: the client is authenticated but its role may not do this.
    #[error("XAPI forbade the call (403): {message}")]
    Forbidden {
        /// The server's message, or a body excerpt.
        message: String,
    },
    /// 404: no such entity or route.
    #[error("XAPI found nothing there (404): {message}")]
    NotFound {
        /// The server's message, or a body excerpt.
        message: String,
    },
    /// Another 4xx: the request itself is wrong (bad `$filter`, invalid parameters, conflict ...).
    #[error("XAPI rejected the request ({status}, {code}): {message}")]
    BadRequest {
        /// The HTTP status (400, 405, 409, 422 ...).
        status: u16,
        /// The OData error code (empty when the body had none).
        code: String,
        /// The OData error message, or a body excerpt.
        message: String,
        /// The OData error details.
        details: Vec<ODataErrorDetail>,
    },
    /// 429: too many requests; wait `retry_after` when the server said how long.
    #[error("XAPI rate limited the call (429), retry after {retry_after:?}")]
    RateLimited {
        /// The server's `Retry-After`, as a delay from when the answer arrived.
        retry_after: Option<Duration>,
    },
    /// 502, 503 or 504: the PBX (or the proxy in front of it) is unavailable for now.
    #[error("XAPI unavailable ({status}), retry after {retry_after:?}")]
    Unavailable {
        /// The HTTP status.
        status: u16,
        /// The server's `Retry-After`, as a delay from when the answer arrived.
        retry_after: Option<Duration>,
    },
    /// Any other 5xx.
    #[error("XAPI server error ({status}, {code}): {message}")]
    Server {
        /// The HTTP status.
        status: u16,
        /// The OData error code (empty when the body had none).
        code: String,
        /// The OData error message, or a body excerpt.
        message: String,
    },
    /// The request (connect, or the whole exchange) took longer than configured.
    #[error("XAPI call timed out")]
    Timeout,
    /// The connection failed or broke (DNS, TLS, reset, body cut short).
    #[error("XAPI transport error: {message}")]
    Transport {
        /// What the HTTP stack said.
        message: String,
    },
    /// The answer was not the JSON we expected (truncated, wrong shape).
    #[error("XAPI answer could not be decoded: {message}; body starts {excerpt:?}")]
    Decode {
        /// What the decoder said (with line and column).
        message: String,
        /// The first bytes of the body.
        excerpt: String,
    },
    /// The circuit breaker is open: the call was not sent.
    #[error("XAPI circuit open; next probe allowed in {retry_in:?}")]
    CircuitOpen {
        /// How long until the breaker lets a probe through.
        retry_in: Duration,
    },
    /// The token endpoint refused the client (wrong client id or secret, client disabled).
    #[error("3CX refused the client credentials ({error}): {description}")]
    TokenRejected {
        /// The OAuth2 error code (`invalid_client` ...) or `http_<status>` when the body had none.
        error: String,
        /// The OAuth2 error description, or a body excerpt.
        description: String,
    },
    /// The token endpoint answered 429 or 5xx.
    #[error("3CX token endpoint unavailable ({status}), retry after {retry_after:?}")]
    TokenUnavailable {
        /// The HTTP status.
        status: u16,
        /// The server's `Retry-After`, as a delay.
        retry_after: Option<Duration>,
    },
    /// The token endpoint answered 200 with something that is not a token.
    #[error("3CX token answer could not be used: {message}")]
    TokenMalformed {
        /// What was wrong with it.
        message: String,
    },
    /// The request could not be built: bad configuration, a path that does not form a URL, or a
    /// `@odata.nextLink` pointing at another server.
    #[error("invalid XAPI request: {message}")]
    InvalidRequest {
        /// What was wrong.
        message: String,
    },
    /// Paging stopped after the configured number of pages.
    #[error("XAPI paging stopped after {cap} pages")]
    PageCapExceeded {
        /// The page cap that was reached.
        cap: usize,
    },
}

/// One entry of `error.details` in an OData error body.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct ODataErrorDetail {
    /// The detail's code.
    #[serde(default)]
    pub code: String,
    /// The detail's message.
    #[serde(default)]
    pub message: String,
    /// What the detail is about (a property name, say), when given.
    #[serde(default)]
    pub target: Option<String>,
}

/// The kind of an [`XapiError`], without its data: a label for metrics and the basis of retry and
/// circuit-breaker decisions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    /// [`XapiError::Unauthorized`].
    Unauthorized,
    /// [`XapiError::Forbidden`].
    Forbidden,
    /// [`XapiError::NotFound`].
    NotFound,
    /// [`XapiError::BadRequest`].
    BadRequest,
    /// [`XapiError::RateLimited`].
    RateLimited,
    /// [`XapiError::Unavailable`].
    Unavailable,
    /// [`XapiError::Server`].
    Server,
    /// [`XapiError::Timeout`].
    Timeout,
    /// [`XapiError::Transport`].
    Transport,
    /// [`XapiError::Decode`].
    Decode,
    /// [`XapiError::CircuitOpen`].
    CircuitOpen,
    /// [`XapiError::TokenRejected`].
    TokenRejected,
    /// [`XapiError::TokenUnavailable`].
    TokenUnavailable,
    /// [`XapiError::TokenMalformed`].
    TokenMalformed,
    /// [`XapiError::InvalidRequest`].
    InvalidRequest,
    /// [`XapiError::PageCapExceeded`].
    PageCapExceeded,
}

impl ErrorKind {
    /// A stable snake_case label, used as the `kind` label of `xapi_errors_total`.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorKind::Unauthorized => "unauthorized",
            ErrorKind::Forbidden => "forbidden",
            ErrorKind::NotFound => "not_found",
            ErrorKind::BadRequest => "bad_request",
            ErrorKind::RateLimited => "rate_limited",
            ErrorKind::Unavailable => "unavailable",
            ErrorKind::Server => "server",
            ErrorKind::Timeout => "timeout",
            ErrorKind::Transport => "transport",
            ErrorKind::Decode => "decode",
            ErrorKind::CircuitOpen => "circuit_open",
            ErrorKind::TokenRejected => "token_rejected",
            ErrorKind::TokenUnavailable => "token_unavailable",
            ErrorKind::TokenMalformed => "token_malformed",
            ErrorKind::InvalidRequest => "invalid_request",
            ErrorKind::PageCapExceeded => "page_cap_exceeded",
        }
    }
}

impl XapiError {
    /// The kind of this error.
    pub fn kind(&self) -> ErrorKind {
        match self {
            XapiError::Unauthorized { .. } => ErrorKind::Unauthorized,
            XapiError::Forbidden { .. } => ErrorKind::Forbidden,
            XapiError::NotFound { .. } => ErrorKind::NotFound,
            XapiError::BadRequest { .. } => ErrorKind::BadRequest,
            XapiError::RateLimited { .. } => ErrorKind::RateLimited,
            XapiError::Unavailable { .. } => ErrorKind::Unavailable,
            XapiError::Server { .. } => ErrorKind::Server,
            XapiError::Timeout => ErrorKind::Timeout,
            XapiError::Transport { .. } => ErrorKind::Transport,
            XapiError::Decode { .. } => ErrorKind::Decode,
            XapiError::CircuitOpen { .. } => ErrorKind::CircuitOpen,
            XapiError::TokenRejected { .. } => ErrorKind::TokenRejected,
            XapiError::TokenUnavailable { .. } => ErrorKind::TokenUnavailable,
            XapiError::TokenMalformed { .. } => ErrorKind::TokenMalformed,
            XapiError::InvalidRequest { .. } => ErrorKind::InvalidRequest,
            XapiError::PageCapExceeded { .. } => ErrorKind::PageCapExceeded,
        }
    }

    /// Whether sending the same request again later may succeed: rate limiting, unavailability,
    /// server errors other than 501, timeouts and broken connections. Client errors, decode
    /// errors, refused credentials and an open circuit are not retried.
    pub fn is_retryable(&self) -> bool {
        match self {
            XapiError::RateLimited { .. }
            | XapiError::Unavailable { .. }
            | XapiError::TokenUnavailable { .. }
            | XapiError::Timeout
            | XapiError::Transport { .. } => true,
            XapiError::Server { status, .. } => *status != 501,
            _ => false,
        }
    }

    /// How long the server asked us to wait before trying again (`Retry-After` on 429 or 503).
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            XapiError::RateLimited { retry_after }
            | XapiError::Unavailable { retry_after, .. }
            | XapiError::TokenUnavailable { retry_after, .. } => *retry_after,
            _ => None,
        }
    }

    /// The typed error for a non-success answer: `status`, its `Retry-After` header value (if
    /// any) and its body, read at `now` (to turn an HTTP-date into a delay).
    pub fn from_response(status: u16, retry_after: Option<&str>, body: &[u8], now: DateTime<Utc>) -> XapiError {
        let retry_after = retry_after.and_then(|value| parse_retry_after(value, now));
        match status {
            429 => return XapiError::RateLimited { retry_after },
            502..=504 => return XapiError::Unavailable { status, retry_after },
            408 => return XapiError::Timeout,
            _ => {}
        }
        let ODataErrorBody { code, message, details } = ODataErrorBody::parse(body);
        match status {
            401 => XapiError::Unauthorized { message },
            403 => XapiError::Forbidden { message },
            404 => XapiError::NotFound { message },
            400..=499 => XapiError::BadRequest { status, code, message, details },
            _ => XapiError::Server { status, code, message },
        }
    }

    /// A decode error for `body`, keeping the decoder's message and the first bytes of the body.
    pub fn decode(error: &serde_json::Error, body: &[u8]) -> XapiError {
        XapiError::Decode { message: error.to_string(), excerpt: excerpt(body) }
    }

    /// The error for a failure of the HTTP stack: a timeout, or a transport error.
    pub(crate) fn from_reqwest(error: &reqwest::Error) -> XapiError {
        if error.is_timeout() {
            XapiError::Timeout
        } else {
            // The source chain says what actually failed (DNS, refused, reset ...).
            let mut message = error.to_string();
            let mut source = std::error::Error::source(error);
            while let Some(inner) = source {
                message.push_str(": ");
                message.push_str(&inner.to_string());
                source = inner.source();
            }
            XapiError::Transport { message }
        }
    }
}

/// The parts of an OData error body we keep; a non-JSON body becomes the message.
#[derive(Debug, Default, PartialEq)]
struct ODataErrorBody {
    code: String,
    message: String,
    details: Vec<ODataErrorDetail>,
}

impl ODataErrorBody {
    fn parse(body: &[u8]) -> ODataErrorBody {
        #[derive(Deserialize)]
        struct Envelope {
            error: Inner,
        }
        #[derive(Deserialize)]
        struct Inner {
            #[serde(default)]
            code: String,
            #[serde(default)]
            message: String,
            #[serde(default)]
            details: Vec<ODataErrorDetail>,
        }
        match serde_json::from_slice::<Envelope>(body) {
            Ok(Envelope { error }) => {
                ODataErrorBody { code: error.code, message: error.message, details: error.details }
            }
            Err(_) => ODataErrorBody { message: excerpt(body), ..ODataErrorBody::default() },
        }
    }
}

/// A `Retry-After` value as a delay: delta-seconds, or an HTTP-date (which is turned into the time
/// left from `now`, zero when it has passed). `None` when the value is neither.
pub fn parse_retry_after(value: &str, now: DateTime<Utc>) -> Option<Duration> {
    let value = value.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let at = DateTime::parse_from_rfc2822(value).ok()?.with_timezone(&Utc);
    Some((at - now).to_std().unwrap_or(Duration::ZERO))
}

/// The first bytes of `body` as text (lossy), trimmed, at most [`EXCERPT_BYTES`] bytes.
pub(crate) fn excerpt(body: &[u8]) -> String {
    let cut = body.len().min(EXCERPT_BYTES);
    let text = String::from_utf8_lossy(&body[..cut]);
    let mut text = text.trim().to_owned();
    if body.len() > cut {
        text.push('…');
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2026-11-23T10:00:00Z").unwrap().with_timezone(&Utc)
    }

    #[test]
    fn retry_after_is_read_as_seconds_or_http_date() {
        let cases: &[(&str, Option<Duration>)] = &[
            ("1", Some(Duration::from_secs(1))),
            (" 120 ", Some(Duration::from_secs(120))),
            ("Mon, 23 Nov 2026 10:00:30 GMT", Some(Duration::from_secs(30))),
            ("Mon, 23 Nov 2026 09:59:00 GMT", Some(Duration::ZERO)),
            ("soon", None),
            ("-5", None),
        ];
        for (value, expected) in cases {
            assert_eq!(parse_retry_after(value, now()), *expected, "{value}");
        }
    }

    #[test]
    fn odata_error_body_is_parsed_into_code_message_and_details() {
        let body = br#"{"error":{"code":"InvalidFilter","message":"Bad $filter","details":[{"code":"x","message":"near 'eq'","target":"$filter"}]}}"#;
        let error = XapiError::from_response(400, None, body, now());
        assert_eq!(
            error,
            XapiError::BadRequest {
                status: 400,
                code: "InvalidFilter".into(),
                message: "Bad $filter".into(),
                details: vec![ODataErrorDetail {
                    code: "x".into(),
                    message: "near 'eq'".into(),
                    target: Some("$filter".into())
                }],
            }
        );
    }

    #[test]
    fn statuses_map_to_kinds_and_retryability() {
        let html = b"<html><body>Bad Gateway</body></html>";
        let cases: &[(u16, ErrorKind, bool)] = &[
            (400, ErrorKind::BadRequest, false),
            (401, ErrorKind::Unauthorized, false),
            (403, ErrorKind::Forbidden, false),
            (404, ErrorKind::NotFound, false),
            (408, ErrorKind::Timeout, true),
            (409, ErrorKind::BadRequest, false),
            (429, ErrorKind::RateLimited, true),
            (500, ErrorKind::Server, true),
            (501, ErrorKind::Server, false),
            (502, ErrorKind::Unavailable, true),
            (503, ErrorKind::Unavailable, true),
            (504, ErrorKind::Unavailable, true),
        ];
        for (status, kind, retryable) in cases {
            let error = XapiError::from_response(*status, None, html, now());
            assert_eq!((error.kind(), error.is_retryable()), (*kind, *retryable), "{status}");
        }
    }

    #[test]
    fn non_json_error_body_becomes_the_message() {
        let error = XapiError::from_response(500, None, b"  Internal failure\n", now());
        assert_eq!(error, XapiError::Server { status: 500, code: String::new(), message: "Internal failure".into() });
    }

    #[test]
    fn rate_limit_keeps_the_retry_after() {
        let error = XapiError::from_response(429, Some("2"), b"", now());
        assert_eq!(error.retry_after(), Some(Duration::from_secs(2)));
    }

    #[test]
    fn excerpt_is_bounded() {
        let body = vec![b'a'; 1000];
        assert_eq!(excerpt(&body).len(), EXCERPT_BYTES + '…'.len_utf8());
    }
}
