//! A fake PBX on wiremock: a token endpoint that issues `tok-1`, `tok-2` ... and helpers to
//! build clients and read what the server received.
#![allow(dead_code)] // each test binary uses its own subset

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use lineup_xapi::{BreakerConfig, ODataPage, Query, RetryPolicy, XapiClient, XapiConfig, XapiError};
use serde_json::{json, Value};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

/// The client secret the fake PBX accepts.
pub const SECRET: &str = "s3cr3t";

/// Issues a new token on every request while the secret is right.
pub struct TokenIssuer {
    pub issued: Arc<AtomicUsize>,
    pub expires_in: u64,
}

impl Respond for TokenIssuer {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let form = String::from_utf8_lossy(&request.body);
        if !form.contains(&format!("client_secret={SECRET}")) {
            return ResponseTemplate::new(400)
                .set_body_json(json!({"error": "invalid_client", "error_description": "Invalid client secret"}));
        }
        let n = self.issued.fetch_add(1, Ordering::SeqCst) + 1;
        ResponseTemplate::new(200).set_body_json(json!({
            "token_type": "Bearer",
            "expires_in": self.expires_in,
            "access_token": format!("tok-{n}"),
        }))
    }
}

/// A fake PBX and how many tokens it issued.
pub struct Pbx {
    pub server: MockServer,
    pub tokens_issued: Arc<AtomicUsize>,
}

impl Pbx {
    /// A PBX whose tokens last `expires_in` seconds.
    pub async fn start(expires_in: u64) -> Pbx {
        let server = MockServer::start().await;
        let tokens_issued = Arc::new(AtomicUsize::new(0));
        Mock::given(method("POST"))
            .and(path("/connect/token"))
            .respond_with(TokenIssuer { issued: tokens_issued.clone(), expires_in })
            .mount(&server)
            .await;
        Pbx { server, tokens_issued }
    }

    /// Tokens issued so far.
    pub fn tokens(&self) -> usize {
        self.tokens_issued.load(Ordering::SeqCst)
    }

    /// Requests received at `path` (the token endpoint included when asked).
    pub async fn requests_to(&self, at: &str) -> Vec<Request> {
        let all = self.server.received_requests().await.unwrap_or_default();
        all.into_iter().filter(|request| request.url.path() == at).collect()
    }

    /// A configuration for this PBX: quick retries without jitter, breaker effectively off.
    pub fn config(&self) -> XapiConfig {
        let mut config = XapiConfig::new(self.server.uri(), "lineup", SECRET);
        config.request_timeout = Duration::from_secs(5);
        config.retry = RetryPolicy {
            max_retries: 3,
            initial_delay: Duration::from_millis(10),
            max_delay: Duration::from_millis(50),
            jitter: false,
            ..RetryPolicy::default()
        };
        config.breaker = BreakerConfig { failure_threshold: 1000, cool_down: Duration::from_secs(30) };
        config
    }

    /// A client with [`Pbx::config`].
    pub fn client(&self) -> XapiClient {
        XapiClient::new(self.config()).unwrap()
    }
}

/// One page of `/xapi/v1{at}` as JSON rows.
pub async fn list(client: &XapiClient, at: &str, query: &Query) -> Result<ODataPage<Value>, XapiError> {
    client.get_collection_raw("Test.List", at, query).await
}

/// An OData page body.
pub fn page(rows: Vec<Value>) -> Value {
    json!({"@odata.context": "x", "value": rows})
}

/// A 200 answer with an OData page.
pub fn ok_page(rows: Vec<Value>) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_json(page(rows))
}
