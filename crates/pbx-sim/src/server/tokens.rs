//! The simulator's `POST /connect/token`: OAuth2 client credentials as 3CX answers them. One
//! client, one active token at a time (issuing a new token ends the previous one, as on a real
//! PBX), tokens that expire after a configurable lifetime, wrong credentials refused.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

/// The form a client posts.
#[derive(Debug, Clone, Deserialize)]
pub struct TokenRequest {
    /// `client_id`.
    #[serde(default)]
    pub client_id: String,
    /// `client_secret`.
    #[serde(default)]
    pub client_secret: String,
    /// `grant_type`: only `client_credentials` is accepted.
    #[serde(default)]
    pub grant_type: String,
}

/// A successful answer (`token_type`, `expires_in` in seconds, `access_token`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenAnswer {
    /// Always `Bearer`.
    pub token_type: String,
    /// Lifetime in seconds.
    pub expires_in: u64,
    /// The bearer token.
    pub access_token: String,
}

/// Why a token request was refused: the OAuth2 error code (`invalid_client`,
/// `unsupported_grant_type`), answered with 400 as RFC 6749 says.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenRefusal {
    /// The OAuth2 error code.
    pub error: String,
    /// What was wrong.
    pub error_description: String,
}

/// Issues and checks the bearer tokens of one API client.
#[derive(Debug)]
pub struct TokenIssuer {
    client_id: String,
    client_secret: String,
    lifetime: Duration,
    current: Mutex<Option<(String, Instant)>>,
    issued: AtomicU64,
}

impl TokenIssuer {
    /// An issuer for the client `client_id` with `client_secret`, whose tokens live `lifetime`.
    pub fn new(client_id: &str, client_secret: &str, lifetime: Duration) -> TokenIssuer {
        TokenIssuer {
            client_id: client_id.to_string(),
            client_secret: client_secret.to_string(),
            lifetime,
            current: Mutex::new(None),
            issued: AtomicU64::new(0),
        }
    }

    /// Answers a token request at `now`.
    pub fn issue(&self, req: &TokenRequest, now: Instant) -> Result<TokenAnswer, TokenRefusal> {
        if req.grant_type != "client_credentials" {
            return Err(refusal("unsupported_grant_type", "only client_credentials is supported"));
        }
        if req.client_id != self.client_id || req.client_secret != self.client_secret {
            return Err(refusal("invalid_client", "unknown client or wrong secret"));
        }
        let n = self.issued.fetch_add(1, Ordering::Relaxed) + 1;
        let token = format!("sim-{n}-{:032x}", rand::random::<u128>());
        *self.lock() = Some((token.clone(), now + self.lifetime));
        Ok(TokenAnswer { token_type: "Bearer".into(), expires_in: self.lifetime.as_secs(), access_token: token })
    }

    /// Whether `token` is the live token at `now`.
    pub fn accepts(&self, token: &str, now: Instant) -> bool {
        matches!(&*self.lock(), Some((live, until)) if live == token && now < *until)
    }

    /// Ends the live token (the next request answers 401 until the client fetches a new one).
    pub fn revoke(&self) {
        *self.lock() = None;
    }

    /// How many tokens were issued so far.
    pub fn issued(&self) -> u64 {
        self.issued.load(Ordering::Relaxed)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Option<(String, Instant)>> {
        self.current.lock().unwrap_or_else(|p| p.into_inner())
    }
}

fn refusal(error: &str, description: &str) -> TokenRefusal {
    TokenRefusal { error: error.into(), error_description: description.into() }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(id: &str, secret: &str, grant: &str) -> TokenRequest {
        TokenRequest { client_id: id.into(), client_secret: secret.into(), grant_type: grant.into() }
    }

    #[test]
    fn tokens_are_issued_to_the_right_client_and_expire() {
        let issuer = TokenIssuer::new("lineup", "s3cret", Duration::from_secs(60));
        let t0 = Instant::now();
        let answer = issuer.issue(&req("lineup", "s3cret", "client_credentials"), t0).unwrap();
        assert_eq!((answer.token_type.as_str(), answer.expires_in), ("Bearer", 60));
        assert!(issuer.accepts(&answer.access_token, t0 + Duration::from_secs(59)));
        assert!(!issuer.accepts(&answer.access_token, t0 + Duration::from_secs(60)));
        assert!(!issuer.accepts("forged", t0));
    }

    #[test]
    fn a_new_token_ends_the_previous_one() {
        let issuer = TokenIssuer::new("lineup", "s3cret", Duration::from_secs(60));
        let t0 = Instant::now();
        let first = issuer.issue(&req("lineup", "s3cret", "client_credentials"), t0).unwrap();
        let second = issuer.issue(&req("lineup", "s3cret", "client_credentials"), t0).unwrap();
        assert!(!issuer.accepts(&first.access_token, t0) && issuer.accepts(&second.access_token, t0));
        issuer.revoke();
        assert!(!issuer.accepts(&second.access_token, t0));
        assert_eq!(issuer.issued(), 2);
    }

    #[test]
    fn wrong_credentials_and_grants_are_refused() {
        let issuer = TokenIssuer::new("lineup", "s3cret", Duration::from_secs(60));
        let now = Instant::now();
        assert_eq!(
            issuer.issue(&req("lineup", "wrong", "client_credentials"), now).unwrap_err().error,
            "invalid_client"
        );
        assert_eq!(
            issuer.issue(&req("other", "s3cret", "client_credentials"), now).unwrap_err().error,
            "invalid_client"
        );
        assert_eq!(
            issuer.issue(&req("lineup", "s3cret", "password"), now).unwrap_err().error,
            "unsupported_grant_type"
        );
        assert_eq!(issuer.issued(), 0);
    }
}
