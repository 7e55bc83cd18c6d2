//! PBX connections: how a tenant's 3CX is reached (base URL, OAuth2 client id and secret), how
//! often it is polled, and which of its queues (by DN) feed which Lineup queue.
//!
//! The client secret is a third-party credential. It arrives in clear in a request
//! ([`ClientSecret`], which never serialises and never prints), is sealed by the caller under
//! [`client_secret_context`] of the connection's id, and from then on exists only sealed
//! ([`SealedClientSecret`]). The view ([`PbxConnection`]) says that a secret is set and when it
//! last changed, never the secret.

use std::collections::BTreeSet;
use std::fmt;
use std::ops::RangeInclusive;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::{validate_name, DomainError};

/// Poll interval when a new connection names none, in milliseconds.
pub const DEFAULT_POLL_INTERVAL_MS: u32 = 1000;
/// Poll intervals a connection accepts, in milliseconds.
pub const POLL_INTERVAL_MS: RangeInclusive<u32> = 250..=60_000;
/// Longest client secret, in characters.
pub const MAX_CLIENT_SECRET_CHARS: usize = 512;
/// Longest client id, in characters.
pub const MAX_CLIENT_ID_CHARS: usize = 200;
/// Longest base URL, in bytes.
pub const MAX_BASE_URL_LEN: usize = 2048;
/// Longest queue DN, in digits.
pub const MAX_DN_DIGITS: usize = 10;
/// Most queue mappings one connection holds.
pub const MAX_QUEUE_MAPPINGS: usize = 500;

/// The context a connection's client secret is sealed under: it binds the sealed text to this
/// row, so a sealed secret copied to another connection does not open.
pub fn client_secret_context(connection_id: Uuid) -> String {
    format!("pbx_connections.client_secret:{connection_id}")
}

/// A PBX connection as the API shows it: everything but the client secret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct PbxConnection {
    pub id: Uuid,
    pub name: String,
    /// The 3CX's address, `http(s)://host[:port][/path]`, without a trailing `/`.
    pub base_url: String,
    /// The OAuth2 client id of the 3CX service principal.
    pub client_id: String,
    /// Whether a client secret is stored (always, for a live connection); the secret itself is
    /// never returned.
    pub has_client_secret: bool,
    /// When the client secret was last set.
    pub client_secret_changed_at: DateTime<Utc>,
    /// How often the 3CX is polled, in milliseconds (250 to 60000).
    pub poll_interval_ms: u32,
    /// Whether the workers poll this connection.
    pub is_enabled: bool,
    /// Which 3CX queue (by DN) feeds which Lineup queue, ordered by DN as a number.
    pub queue_mappings: Vec<QueueMapping>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// An agent (a 3CX user with an extension) as the PBX reports them: the live hub's presence.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PbxAgent {
    /// The extension number.
    pub dn: String,
    /// Display name (first and last name; the extension when 3CX has neither).
    pub name: String,
    /// DNs of the 3CX queues the agent is a member of, ascending.
    pub queue_dns: Vec<String>,
    /// Logged in to the queues (3CX `QueueStatus` `LoggedIn`).
    pub logged_in: bool,
    /// On a break: the presence profile is not `Available` (e.g. `Away`, `DND`, `Lunch`).
    pub paused: bool,
}

impl PbxAgent {
    /// Whether `other` reports another presence (logged in or paused), which restarts `since`.
    pub fn presence_differs(&self, other: &PbxAgent) -> bool {
        (self.logged_in, self.paused) != (other.logged_in, other.paused)
    }
}

/// An agent as stored: what the PBX last reported, since when the presence holds, and the
/// Lineup queues the agent's 3CX queues map to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredPbxAgent {
    pub connection_id: Uuid,
    pub agent: PbxAgent,
    /// When `logged_in` or `paused` took their current values (as first seen by Lineup).
    pub since: DateTime<Utc>,
    /// The mapped Lineup queues among the agent's 3CX queues.
    pub queue_ids: Vec<Uuid>,
    pub updated_at: DateTime<Utc>,
}

/// One 3CX queue (its DN, the extension number such as `800`) feeding one Lineup queue.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct QueueMapping {
    /// The 3CX queue's DN: 1 to 10 digits.
    pub dn: String,
    /// A queue of the same tenant.
    pub queue_id: Uuid,
}

/// A client secret in clear, as a request carries it. It cannot be serialised and prints as
/// `[redacted]`, so it cannot leak into an answer, a log line or the audit log by accident.
#[derive(Clone, PartialEq, Eq, Deserialize)]
#[serde(transparent)]
pub struct ClientSecret(String);

impl ClientSecret {
    /// Wraps a secret in clear.
    pub fn new(secret: impl Into<String>) -> Self {
        ClientSecret(secret.into())
    }

    /// The secret in clear, for sealing.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for ClientSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ClientSecret([redacted])")
    }
}

/// A client secret as stored: sealed (`lx1.<key id>.<nonce>.<ciphertext>`) under
/// [`client_secret_context`] of its connection. Only the workers that poll the PBX open it.
#[derive(Clone, PartialEq, Eq)]
pub struct SealedClientSecret {
    pub sealed: String,
}

impl fmt::Debug for SealedClientSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SealedClientSecret(..)")
    }
}

/// The request to connect a 3CX.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NewPbxConnection {
    pub name: String,
    /// `http(s)://host[:port][/path]`; no credentials, query or fragment.
    pub base_url: String,
    pub client_id: String,
    /// 1 to 512 characters; stored sealed and never returned.
    #[cfg_attr(feature = "openapi", schema(value_type = String, write_only))]
    pub client_secret: ClientSecret,
    /// Milliseconds between polls, 250 to 60000 (default 1000).
    #[serde(default)]
    pub poll_interval_ms: Option<u32>,
    /// Whether the workers poll it (default `true`).
    #[serde(default)]
    pub is_enabled: Option<bool>,
}

/// A change to a connection; absent fields stay as they are. A `clientSecret` replaces the
/// stored one.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PbxConnectionPatch {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub base_url: Option<String>,
    #[serde(default)]
    pub client_id: Option<String>,
    /// Replaces the stored secret; never returned.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>, write_only))]
    pub client_secret: Option<ClientSecret>,
    #[serde(default)]
    pub poll_interval_ms: Option<u32>,
    #[serde(default)]
    pub is_enabled: Option<bool>,
}

/// The request replacing all queue mappings of a connection.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PbxQueueMappings {
    /// The whole new set (an empty list removes every mapping); each DN at most once.
    pub queue_mappings: Vec<QueueMapping>,
}

/// A validated connection ready to store, its secret already sealed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PbxConnectionSpec {
    pub id: Uuid,
    pub name: String,
    pub base_url: String,
    pub client_id: String,
    pub client_secret: SealedClientSecret,
    pub poll_interval_ms: u32,
    pub is_enabled: bool,
}

/// A validated change to a connection; `client_secret` is set (sealed) when the secret changes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PbxConnectionChange {
    pub name: Option<String>,
    pub base_url: Option<String>,
    pub client_id: Option<String>,
    pub client_secret: Option<SealedClientSecret>,
    pub poll_interval_ms: Option<u32>,
    pub is_enabled: Option<bool>,
}

impl NewPbxConnection {
    /// Checks every field, then has `seal` seal the client secret (the caller seals under
    /// [`client_secret_context`]`(id)`; `seal` runs only once everything else is valid, and its
    /// error, such as "no key to seal with", is returned as is).
    pub fn validate<E: From<DomainError>>(
        self,
        id: Uuid,
        seal: impl FnOnce(&str) -> Result<String, E>,
    ) -> Result<PbxConnectionSpec, E> {
        let name = validate_name("name", &self.name)?;
        let base_url = validate_base_url(&self.base_url)?;
        let client_id = validate_client_id(&self.client_id)?;
        validate_client_secret(&self.client_secret)?;
        let poll_interval_ms = validate_poll_interval(self.poll_interval_ms.unwrap_or(DEFAULT_POLL_INTERVAL_MS))?;
        let client_secret = SealedClientSecret { sealed: seal(self.client_secret.expose())? };
        Ok(PbxConnectionSpec {
            id,
            name,
            base_url,
            client_id,
            client_secret,
            poll_interval_ms,
            is_enabled: self.is_enabled.unwrap_or(true),
        })
    }
}

impl PbxConnectionPatch {
    /// Checks every given field, then has `seal` seal a new client secret (only when one is
    /// given, and only once everything else is valid).
    pub fn validate<E: From<DomainError>>(
        self,
        seal: impl FnOnce(&str) -> Result<String, E>,
    ) -> Result<PbxConnectionChange, E> {
        let name = self.name.as_deref().map(|n| validate_name("name", n)).transpose()?;
        let base_url = self.base_url.as_deref().map(validate_base_url).transpose()?;
        let client_id = self.client_id.as_deref().map(validate_client_id).transpose()?;
        if let Some(secret) = &self.client_secret {
            validate_client_secret(secret)?;
        }
        let poll_interval_ms = self.poll_interval_ms.map(validate_poll_interval).transpose()?;
        let client_secret = match &self.client_secret {
            Some(secret) => Some(SealedClientSecret { sealed: seal(secret.expose())? }),
            None => None,
        };
        Ok(PbxConnectionChange {
            name,
            base_url,
            client_id,
            client_secret,
            poll_interval_ms,
            is_enabled: self.is_enabled,
        })
    }
}

impl PbxConnectionChange {
    /// Applies the change to the view: a new secret moves `client_secret_changed_at` to `now`,
    /// and `updated_at` becomes `now`. Returns false, leaving the view untouched, when the change
    /// would change nothing (every given field already has its value and no secret is given):
    /// such a change is not stored or audited.
    pub fn apply(&self, connection: &mut PbxConnection, now: DateTime<Utc>) -> bool {
        let before = connection.clone();
        if let Some(name) = &self.name {
            connection.name = name.clone();
        }
        if let Some(base_url) = &self.base_url {
            connection.base_url = base_url.clone();
        }
        if let Some(client_id) = &self.client_id {
            connection.client_id = client_id.clone();
        }
        if self.client_secret.is_some() {
            connection.has_client_secret = true;
            connection.client_secret_changed_at = now;
        }
        if let Some(interval) = self.poll_interval_ms {
            connection.poll_interval_ms = interval;
        }
        if let Some(enabled) = self.is_enabled {
            connection.is_enabled = enabled;
        }
        if *connection == before {
            return false;
        }
        connection.updated_at = now;
        true
    }
}

impl PbxConnection {
    /// The connection as its deletion leaves it (what the audit log records as "after"): off,
    /// without a secret (the sealed secret is erased) and without mappings.
    pub fn deleted(&self, now: DateTime<Utc>) -> PbxConnection {
        PbxConnection {
            has_client_secret: false,
            client_secret_changed_at: now,
            is_enabled: false,
            queue_mappings: Vec::new(),
            updated_at: now,
            ..self.clone()
        }
    }
}

impl PbxQueueMappings {
    /// Checks every DN and that none appears twice; returns the mappings ordered by DN as a
    /// number (shorter first, then digit by digit), the order every read returns.
    pub fn validate(self) -> Result<Vec<QueueMapping>, DomainError> {
        let bad = |reason: String| DomainError::Invalid { field: "queueMappings", reason };
        if self.queue_mappings.len() > MAX_QUEUE_MAPPINGS {
            return Err(bad(format!("at most {MAX_QUEUE_MAPPINGS} mappings per connection")));
        }
        let mut seen = BTreeSet::new();
        let mut mappings = Vec::with_capacity(self.queue_mappings.len());
        for mapping in self.queue_mappings {
            let dn = validate_dn(&mapping.dn).map_err(bad)?;
            if !seen.insert(dn.clone()) {
                return Err(bad(format!("DN {dn} is mapped more than once")));
            }
            mappings.push(QueueMapping { dn, queue_id: mapping.queue_id });
        }
        sort_mappings(&mut mappings);
        Ok(mappings)
    }
}

/// Orders mappings as every read returns them: by DN as a number (shorter first, then digit by
/// digit).
pub fn sort_mappings(mappings: &mut [QueueMapping]) {
    mappings.sort_by(|a, b| (a.dn.len(), &a.dn).cmp(&(b.dn.len(), &b.dn)));
}

/// A queue DN: 1 to 10 ASCII digits (surrounding spaces are dropped).
fn validate_dn(dn: &str) -> Result<String, String> {
    let dn = dn.trim();
    if dn.is_empty() || dn.len() > MAX_DN_DIGITS || !dn.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!("DN '{dn}' must be 1 to {MAX_DN_DIGITS} digits"));
    }
    Ok(dn.to_string())
}

/// A poll interval within [`POLL_INTERVAL_MS`].
fn validate_poll_interval(ms: u32) -> Result<u32, DomainError> {
    if !POLL_INTERVAL_MS.contains(&ms) {
        let (lo, hi) = (POLL_INTERVAL_MS.start(), POLL_INTERVAL_MS.end());
        return Err(DomainError::Invalid {
            field: "pollIntervalMs",
            reason: format!("must be between {lo} and {hi} milliseconds"),
        });
    }
    Ok(ms)
}

/// A client id: trimmed, 1 to 200 characters, no control characters.
fn validate_client_id(client_id: &str) -> Result<String, DomainError> {
    let id = client_id.trim();
    let bad = |reason: &str| Err(DomainError::Invalid { field: "clientId", reason: reason.into() });
    if id.is_empty() {
        return bad("must not be empty");
    }
    if id.chars().count() > MAX_CLIENT_ID_CHARS {
        return bad("must be at most 200 characters");
    }
    if id.chars().any(char::is_control) {
        return bad("must not contain control characters");
    }
    Ok(id.to_string())
}

/// A client secret: 1 to 512 characters, not only spaces, no control characters. Taken as is
/// (never trimmed), and never quoted in an error.
fn validate_client_secret(secret: &ClientSecret) -> Result<(), DomainError> {
    let s = secret.expose();
    let bad = |reason: &str| Err(DomainError::Invalid { field: "clientSecret", reason: reason.into() });
    if s.trim().is_empty() {
        return bad("must not be empty");
    }
    if s.chars().count() > MAX_CLIENT_SECRET_CHARS {
        return bad("must be at most 512 characters");
    }
    if s.chars().any(char::is_control) {
        return bad("must not contain control characters");
    }
    Ok(())
}

/// A base URL: `http` or `https`, a host (a name, an IPv4 address or a bracketed IPv6 address),
/// an optional port and path; no credentials, query or fragment. Returned with the scheme and
/// host lower-cased and without a trailing `/`.
pub fn validate_base_url(url: &str) -> Result<String, DomainError> {
    let bad = |reason: &str| Err(DomainError::Invalid { field: "baseUrl", reason: reason.into() });
    let url = url.trim();
    if url.len() > MAX_BASE_URL_LEN {
        return bad("must be at most 2048 characters");
    }
    if url.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return bad("must not contain spaces or control characters");
    }
    let lower = url.to_ascii_lowercase();
    let (scheme, rest) = if lower.starts_with("https://") {
        ("https", &url["https://".len()..])
    } else if lower.starts_with("http://") {
        ("http", &url["http://".len()..])
    } else {
        return bad("must start with http:// or https://");
    };
    if rest.contains(['?', '#']) {
        return bad("must not have a query or fragment");
    }
    let (authority, path) = rest.find('/').map_or((rest, ""), |i| rest.split_at(i));
    if authority.contains('@') {
        return bad("must not contain credentials (send them as clientId and clientSecret)");
    }
    let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
        let Some((inside, after)) = v6.split_once(']') else {
            return bad("has an unclosed IPv6 address");
        };
        if inside.is_empty() || !inside.chars().all(|c| c.is_ascii_hexdigit() || c == ':' || c == '.') {
            return bad("has a malformed IPv6 address");
        }
        match after {
            "" => (&authority[..inside.len() + 2], None),
            p => match p.strip_prefix(':') {
                Some(port) => (&authority[..inside.len() + 2], Some(port)),
                None => return bad("has something after its IPv6 address"),
            },
        }
    } else {
        match authority.split_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (authority, None),
        }
    };
    if host.is_empty() {
        return bad("must name a host");
    }
    if !host.starts_with('[') {
        let labels_ok = host.split('.').all(|label| {
            !label.is_empty()
                && label.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
                && !label.starts_with('-')
                && !label.ends_with('-')
        });
        if !labels_ok {
            return bad("has a malformed host name");
        }
    }
    if let Some(port) = port {
        let valid = !port.is_empty()
            && port.len() <= 5
            && port.bytes().all(|b| b.is_ascii_digit())
            && port.parse::<u32>().is_ok_and(|p| (1..=65_535).contains(&p));
        if !valid {
            return bad("has a port that is not a number from 1 to 65535");
        }
    }
    let port = port.map(|p| format!(":{p}")).unwrap_or_default();
    Ok(format!("{scheme}://{}{port}{}", host.to_ascii_lowercase(), path.trim_end_matches('/')))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seal(plain: &str) -> Result<String, DomainError> {
        Ok(format!("sealed({})", plain.len()))
    }

    fn new_connection() -> NewPbxConnection {
        NewPbxConnection {
            name: " Head office ".into(),
            base_url: "https://PBX.Example.com:5001/".into(),
            client_id: " lineup ".into(),
            client_secret: ClientSecret::new(" s3cret "),
            poll_interval_ms: None,
            is_enabled: None,
        }
    }

    #[test]
    fn base_urls_are_checked_and_normalised() {
        let cases: [(&str, Option<&str>); 22] = [
            ("https://pbx.example.com", Some("https://pbx.example.com")),
            ("HTTPS://PBX.Example.COM/", Some("https://pbx.example.com")),
            ("http://10.0.0.5:5000", Some("http://10.0.0.5:5000")),
            ("https://pbx.example.com/tenant/a//", Some("https://pbx.example.com/tenant/a")),
            ("http://[fe80::1]:8080/x", Some("http://[fe80::1]:8080/x")),
            ("http://[::1]", Some("http://[::1]")),
            ("  https://localhost  ", Some("https://localhost")),
            ("ftp://pbx.example.com", None),
            ("pbx.example.com", None),
            ("https://", None),
            ("https:///path", None),
            ("https://user:pw@pbx.example.com", None),
            ("https://pbx.example.com?x=1", None),
            ("https://pbx.example.com/#top", None),
            ("https://pbx example.com", None),
            ("https://pbx..example.com", None),
            ("https://-pbx.example.com", None),
            ("https://pbx.example.com:0", None),
            ("https://pbx.example.com:65536", None),
            ("https://pbx.example.com:", None),
            ("https://[fe80::1", None),
            ("https://[zz]", None),
        ];
        for (input, expected) in cases {
            assert_eq!(validate_base_url(input).ok().as_deref(), expected, "{input}");
        }
        assert!(validate_base_url(&format!("https://a.example/{}", "p".repeat(MAX_BASE_URL_LEN))).is_err());
    }

    #[test]
    fn a_new_connection_is_normalised_with_defaults_and_its_secret_sealed_as_given() {
        let id = Uuid::from_u128(7);
        let spec = new_connection().validate(id, seal).unwrap();
        assert_eq!(spec.id, id);
        assert_eq!((spec.name.as_str(), spec.base_url.as_str()), ("Head office", "https://pbx.example.com:5001"));
        assert_eq!(spec.client_id, "lineup");
        assert_eq!(spec.client_secret.sealed, "sealed(8)", "the secret is sealed untrimmed");
        assert_eq!((spec.poll_interval_ms, spec.is_enabled), (DEFAULT_POLL_INTERVAL_MS, true));
    }

    #[test]
    fn each_field_of_a_new_connection_is_checked_and_named() {
        type Breaker = fn(&mut NewPbxConnection);
        let cases: [(&str, Breaker); 9] = [
            ("name", |n| n.name = "  ".into()),
            ("baseUrl", |n| n.base_url = "ftp://x".into()),
            ("clientId", |n| n.client_id = " ".into()),
            ("clientId", |n| n.client_id = "x".repeat(MAX_CLIENT_ID_CHARS + 1)),
            ("clientSecret", |n| n.client_secret = ClientSecret::new("")),
            ("clientSecret", |n| n.client_secret = ClientSecret::new("   ")),
            ("clientSecret", |n| n.client_secret = ClientSecret::new("é".repeat(MAX_CLIENT_SECRET_CHARS + 1))),
            ("pollIntervalMs", |n| n.poll_interval_ms = Some(249)),
            ("pollIntervalMs", |n| n.poll_interval_ms = Some(60_001)),
        ];
        for (field, breaker) in cases {
            let mut new = new_connection();
            breaker(&mut new);
            let err = new.validate(Uuid::nil(), |_| -> Result<String, DomainError> { panic!("sealed too early") });
            match err {
                Err(DomainError::Invalid { field: f, .. }) => assert_eq!(f, field),
                other => panic!("{field}: {other:?}"),
            }
        }
        let mut longest = new_connection();
        longest.client_secret = ClientSecret::new("é".repeat(MAX_CLIENT_SECRET_CHARS));
        longest.poll_interval_ms = Some(*POLL_INTERVAL_MS.end());
        assert!(longest.validate(Uuid::nil(), seal).is_ok());
    }

    #[test]
    fn errors_never_quote_the_secret() {
        let mut new = new_connection();
        new.client_secret = ClientSecret::new(format!("hunter2{}", "x".repeat(MAX_CLIENT_SECRET_CHARS)));
        let err = new.validate(Uuid::nil(), seal).unwrap_err();
        assert!(!err.to_string().contains("hunter2"), "{err}");
        assert!(!format!("{:?}", new_connection()).contains("s3cret"));
    }

    #[test]
    fn a_patch_seals_only_a_given_secret_and_moves_its_change_time() {
        let change = PbxConnectionPatch { is_enabled: Some(false), ..Default::default() }
            .validate(|_| -> Result<String, DomainError> { panic!("nothing to seal") })
            .unwrap();
        assert_eq!(change, PbxConnectionChange { is_enabled: Some(false), ..Default::default() });
        let t0 = DateTime::from_timestamp(1_700_000_000, 0).unwrap();
        let t1 = DateTime::from_timestamp(1_700_000_100, 0).unwrap();
        let spec = new_connection().validate(Uuid::nil(), seal).unwrap();
        let mut view = PbxConnection {
            id: spec.id,
            name: spec.name,
            base_url: spec.base_url,
            client_id: spec.client_id,
            has_client_secret: true,
            client_secret_changed_at: t0,
            poll_interval_ms: spec.poll_interval_ms,
            is_enabled: true,
            queue_mappings: Vec::new(),
            created_at: t0,
            updated_at: t0,
        };
        assert!(change.apply(&mut view, t1));
        assert_eq!((view.is_enabled, view.client_secret_changed_at, view.updated_at), (false, t0, t1));
        let unchanged = view.clone();
        let t2 = DateTime::from_timestamp(1_700_000_200, 0).unwrap();
        assert!(!change.apply(&mut view, t2), "turning off what is off changes nothing");
        assert_eq!(view, unchanged);
        let rotate = PbxConnectionPatch { client_secret: Some(ClientSecret::new("new")), ..Default::default() };
        assert!(rotate.validate(seal).unwrap().apply(&mut view, t2), "a new secret is always a change");
        assert_eq!((view.client_secret_changed_at, view.updated_at), (t2, t2));
        let refused = PbxConnectionPatch {
            client_secret: Some(ClientSecret::new("new")),
            poll_interval_ms: Some(10),
            ..Default::default()
        };
        let err = refused.validate(|_| -> Result<String, DomainError> { panic!("sealed a refused patch") });
        assert!(matches!(err, Err(DomainError::Invalid { field: "pollIntervalMs", .. })));
    }

    #[test]
    fn mappings_are_checked_deduplicated_and_ordered_by_dn_as_a_number() {
        let q = Uuid::from_u128(1);
        let m = |dn: &str| QueueMapping { dn: dn.into(), queue_id: q };
        let ok = PbxQueueMappings { queue_mappings: vec![m("9000"), m(" 801 "), m("10"), m("800")] };
        let dns: Vec<String> = ok.validate().unwrap().into_iter().map(|m| m.dn).collect();
        assert_eq!(dns, ["10", "800", "801", "9000"]);
        for bad in [vec![m("")], vec![m("80a")], vec![m("12345678901")], vec![m("800"), m("800 ")], vec![m("+800")]] {
            let err = PbxQueueMappings { queue_mappings: bad.clone() }.validate();
            assert!(matches!(err, Err(DomainError::Invalid { field: "queueMappings", .. })), "{bad:?}");
        }
        let too_many = (0..=MAX_QUEUE_MAPPINGS).map(|i| m(&i.to_string())).collect();
        assert!(PbxQueueMappings { queue_mappings: too_many }.validate().is_err());
        assert!(PbxQueueMappings::default().validate().unwrap().is_empty());
    }

    #[test]
    fn secrets_never_print_or_serialise() {
        assert_eq!(format!("{:?}", ClientSecret::new("hunter2")), "ClientSecret([redacted])");
        let sealed = SealedClientSecret { sealed: "lx1.k1.n.c".into() };
        assert!(!format!("{sealed:?}").contains("lx1"));
        let patch: PbxConnectionPatch = serde_json::from_str(r#"{"clientSecret": "hunter2"}"#).unwrap();
        assert!(!format!("{patch:?}").contains("hunter2"));
    }
}
