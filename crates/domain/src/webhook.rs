//! Outbound webhooks: a tenant's HTTP endpoints that receive its queue events, the body each
//! delivery POSTs, and how that body is signed.
//!
//! A webhook's secret is the key of its signatures. It arrives in clear in a request
//! ([`WebhookSecret`], which never serialises and never prints), is sealed by the caller under
//! [`webhook_secret_context`] of the webhook's id, and from then on exists only sealed
//! ([`SealedWebhookSecret`]) until the dispatcher opens it to sign. The view ([`Webhook`]) says
//! that a secret is set and when it last changed, never the secret.
//!
//! Every delivery is signed: `X-Lineup-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256>` over
//! `"<t>.<body>"` with the secret as key ([`sign`], checked by [`verify`]).

use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use uuid::Uuid;

use crate::{validate_name, DomainError, EventKind};

/// Longest webhook URL, in bytes.
pub const MAX_URL_LEN: usize = 2048;
/// Shortest webhook secret, in characters: it is an HMAC key, so it must not be guessable.
pub const MIN_SECRET_CHARS: usize = 16;
/// Longest webhook secret, in characters.
pub const MAX_SECRET_CHARS: usize = 512;
/// The header carrying a delivery's signature.
pub const SIGNATURE_HEADER: &str = "X-Lineup-Signature";
/// The header carrying the event's id (its outbox sequence number): receivers deduplicate by it.
pub const EVENT_ID_HEADER: &str = "X-Lineup-Event-Id";
/// The header carrying the event's type, e.g. `item_created`.
pub const EVENT_TYPE_HEADER: &str = "X-Lineup-Event-Type";
/// How far (in seconds) a signature's timestamp may be from the receiver's clock by default.
pub const SIGNATURE_TOLERANCE_SECS: i64 = 300;

/// The context a webhook's secret is sealed under: it binds the sealed text to this webhook, so a
/// sealed secret copied to another row does not open.
pub fn webhook_secret_context(webhook_id: Uuid) -> String {
    format!("webhooks.secret:{webhook_id}")
}

/// A webhook as the API shows it: everything but the secret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct Webhook {
    pub id: Uuid,
    pub name: String,
    /// Where deliveries are POSTed: `http(s)://host[:port][/path][?query]`.
    pub url: String,
    /// The event types it receives, in the order of the event list; empty: every type.
    pub event_types: Vec<EventKind>,
    /// Whether new events are delivered to it.
    pub is_enabled: bool,
    /// Whether a signing secret is stored (always, for a live webhook); the secret itself is
    /// never returned.
    pub has_secret: bool,
    /// When the secret was last set.
    pub secret_changed_at: DateTime<Utc>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// A signing secret in clear, as a request carries it. It cannot be serialised and prints as
/// `[redacted]`, so it cannot leak into an answer, a log line or the audit log by accident.
#[derive(Clone, PartialEq, Eq, Deserialize)]
#[serde(transparent)]
pub struct WebhookSecret(String);

impl WebhookSecret {
    /// Wraps a secret in clear.
    pub fn new(secret: impl Into<String>) -> Self {
        WebhookSecret(secret.into())
    }

    /// The secret in clear, for sealing.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for WebhookSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("WebhookSecret([redacted])")
    }
}

/// A signing secret as stored: sealed (`lx1.<key id>.<nonce>.<ciphertext>`) under
/// [`webhook_secret_context`] of its webhook. Only the dispatcher opens it.
#[derive(Clone, PartialEq, Eq)]
pub struct SealedWebhookSecret {
    pub sealed: String,
}

impl std::fmt::Debug for SealedWebhookSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SealedWebhookSecret(..)")
    }
}

/// The request to create a webhook.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NewWebhook {
    pub name: String,
    /// `http(s)://host[:port][/path][?query]`; no credentials or fragment.
    pub url: String,
    /// The signing key, 16 to 512 characters; stored sealed and never returned.
    #[cfg_attr(feature = "openapi", schema(value_type = String, write_only))]
    pub secret: WebhookSecret,
    /// The event types to receive (`item_created`, `item_updated`, `item_status_changed`,
    /// `session_paused`, `session_resumed`, `session_completed`); absent or empty: every type.
    #[serde(default)]
    pub event_types: Option<Vec<String>>,
    /// Whether events are delivered (default `true`).
    #[serde(default)]
    pub is_enabled: Option<bool>,
}

/// A change to a webhook; absent fields stay as they are. A `secret` replaces the stored one.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct WebhookPatch {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub url: Option<String>,
    /// Replaces the signing key; never returned.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>, write_only))]
    pub secret: Option<WebhookSecret>,
    /// Replaces the event types received (empty: every type).
    #[serde(default)]
    pub event_types: Option<Vec<String>>,
    #[serde(default)]
    pub is_enabled: Option<bool>,
}

/// A validated webhook ready to store, its secret already sealed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookSpec {
    pub id: Uuid,
    pub name: String,
    pub url: String,
    pub secret: SealedWebhookSecret,
    pub event_types: Vec<EventKind>,
    pub is_enabled: bool,
}

/// A validated change to a webhook; `secret` is set (sealed) when the secret changes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WebhookChange {
    pub name: Option<String>,
    pub url: Option<String>,
    pub secret: Option<SealedWebhookSecret>,
    pub event_types: Option<Vec<EventKind>>,
    pub is_enabled: Option<bool>,
}

impl NewWebhook {
    /// Checks every field, then has `seal` seal the secret (the caller seals under
    /// [`webhook_secret_context`]`(id)`; `seal` runs only once everything else is valid, and its
    /// error, such as "no key to seal with", is returned as is).
    pub fn validate<E: From<DomainError>>(
        self,
        id: Uuid,
        seal: impl FnOnce(&str) -> Result<String, E>,
    ) -> Result<WebhookSpec, E> {
        let name = validate_name("name", &self.name)?;
        let url = validate_webhook_url(&self.url)?;
        validate_secret(&self.secret)?;
        let event_types = validate_event_types(self.event_types.as_deref().unwrap_or_default())?;
        let secret = SealedWebhookSecret { sealed: seal(self.secret.expose())? };
        Ok(WebhookSpec { id, name, url, secret, event_types, is_enabled: self.is_enabled.unwrap_or(true) })
    }
}

impl WebhookPatch {
    /// Checks every given field, then has `seal` seal a new secret (only when one is given, and
    /// only once everything else is valid).
    pub fn validate<E: From<DomainError>>(
        self,
        seal: impl FnOnce(&str) -> Result<String, E>,
    ) -> Result<WebhookChange, E> {
        let name = self.name.as_deref().map(|n| validate_name("name", n)).transpose()?;
        let url = self.url.as_deref().map(validate_webhook_url).transpose()?;
        if let Some(secret) = &self.secret {
            validate_secret(secret)?;
        }
        let event_types = self.event_types.as_deref().map(validate_event_types).transpose()?;
        let secret = match &self.secret {
            Some(secret) => Some(SealedWebhookSecret { sealed: seal(secret.expose())? }),
            None => None,
        };
        Ok(WebhookChange { name, url, secret, event_types, is_enabled: self.is_enabled })
    }
}

impl WebhookChange {
    /// Applies the change to the view: a new secret moves `secret_changed_at` to `now`, and
    /// `updated_at` becomes `now`. Returns false, leaving the view untouched, when the change
    /// would change nothing (every given field already has its value and no secret is given):
    /// such a change is not stored or audited.
    pub fn apply(&self, webhook: &mut Webhook, now: DateTime<Utc>) -> bool {
        let before = webhook.clone();
        if let Some(name) = &self.name {
            webhook.name = name.clone();
        }
        if let Some(url) = &self.url {
            webhook.url = url.clone();
        }
        if let Some(event_types) = &self.event_types {
            webhook.event_types = event_types.clone();
        }
        if let Some(enabled) = self.is_enabled {
            webhook.is_enabled = enabled;
        }
        if self.secret.is_some() {
            webhook.has_secret = true;
            webhook.secret_changed_at = now;
        }
        if *webhook == before {
            return false;
        }
        webhook.updated_at = now;
        true
    }
}

impl Webhook {
    /// Whether an event of `kind` is for this webhook: it is enabled and takes every type or
    /// this one. (Which events are new enough for it is the store's to say: those committed
    /// after the webhook was created.)
    pub fn receives(&self, kind: EventKind) -> bool {
        self.is_enabled && (self.event_types.is_empty() || self.event_types.contains(&kind))
    }

    /// The webhook as its deletion leaves it (what the audit log records as "after"): off and
    /// without a secret (the sealed secret is erased).
    pub fn deleted(&self, now: DateTime<Utc>) -> Webhook {
        Webhook { has_secret: false, secret_changed_at: now, is_enabled: false, updated_at: now, ..self.clone() }
    }
}

/// The JSON body of a delivery: one committed event. The same event always has the same body,
/// whichever delivery (or redelivery) carries it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct WebhookEvent {
    /// The event's id, its position in the tenant's event sequence (also the SSE `id:` and the
    /// `X-Lineup-Event-Id` header). A receiver that may see an event twice deduplicates by it.
    pub id: i64,
    /// The event type (also the `X-Lineup-Event-Type` header).
    #[serde(rename = "type")]
    pub event_type: EventKind,
    pub tenant_id: Uuid,
    pub session_id: Uuid,
    /// The item the event is about; `null` for session events.
    #[cfg_attr(feature = "openapi", schema(required = true))]
    pub item_id: Option<Uuid>,
    /// When the change was committed.
    pub created_at: DateTime<Utc>,
    /// The event's payload, exactly as the session and item streams carry it.
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub data: serde_json::Value,
}

impl WebhookEvent {
    /// The body as JSON.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::to_value(self).expect("a webhook event serializes to JSON")
    }
}

/// Where a delivery is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub enum DeliveryState {
    /// Not delivered yet: due at `nextAttemptAt` (its first attempt, a retry, or a redelivery).
    Pending,
    /// The endpoint answered 2xx.
    Delivered,
    /// Every attempt failed; nothing is tried again unless it is redelivered.
    Failed,
}

impl DeliveryState {
    /// The stored spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryState::Pending => "pending",
            DeliveryState::Delivered => "delivered",
            DeliveryState::Failed => "failed",
        }
    }

    /// Parses the stored spelling.
    pub fn parse(s: &str) -> Option<DeliveryState> {
        [DeliveryState::Pending, DeliveryState::Delivered, DeliveryState::Failed].into_iter().find(|k| k.as_str() == s)
    }
}

/// One event's delivery to one webhook: an entry of the delivery log.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct WebhookDelivery {
    pub id: Uuid,
    pub webhook_id: Uuid,
    /// The event's id (`X-Lineup-Event-Id`); one delivery per event and webhook.
    pub event_id: i64,
    pub event_type: EventKind,
    pub state: DeliveryState,
    /// Attempts made since it was created or last redelivered.
    pub attempts: u32,
    /// When a pending delivery is attempted next; `null` once delivered or failed.
    #[cfg_attr(feature = "openapi", schema(required = true))]
    pub next_attempt_at: Option<DateTime<Utc>>,
    /// The HTTP status of the latest attempt (`null` when no answer came).
    #[cfg_attr(feature = "openapi", schema(required = true))]
    pub last_status_code: Option<u16>,
    /// Why the latest attempt failed.
    #[cfg_attr(feature = "openapi", schema(required = true))]
    pub last_error: Option<String>,
    pub created_at: DateTime<Utc>,
    /// When the endpoint accepted it.
    #[cfg_attr(feature = "openapi", schema(required = true))]
    pub delivered_at: Option<DateTime<Utc>>,
    /// The body POSTed.
    #[cfg_attr(feature = "openapi", schema(value_type = WebhookEvent))]
    pub event: serde_json::Value,
}

/// A webhook URL: `http` or `https`, a host (a name, an IPv4 address or a bracketed IPv6
/// address), an optional port, path and query; no credentials, fragment, spaces or control
/// characters. Returned with the scheme and host lower-cased; path and query are kept as given.
pub fn validate_webhook_url(url: &str) -> Result<String, DomainError> {
    let bad = |reason: &str| Err(DomainError::Invalid { field: "url", reason: reason.into() });
    let url = url.trim();
    if url.len() > MAX_URL_LEN {
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
    if rest.contains('#') {
        return bad("must not have a fragment");
    }
    let (authority, tail) = rest.find(['/', '?']).map_or((rest, ""), |i| rest.split_at(i));
    if authority.contains('@') {
        return bad("must not contain credentials (deliveries are signed with the secret instead)");
    }
    let origin = crate::pbx::validate_base_url(&format!("{scheme}://{authority}")).map_err(|e| match e {
        DomainError::Invalid { reason, .. } => DomainError::Invalid { field: "url", reason },
        other => other,
    })?;
    Ok(format!("{origin}{tail}"))
}

/// A secret: 16 to 512 characters, not only spaces, no control characters. Taken as is (never
/// trimmed), and never quoted in an error.
fn validate_secret(secret: &WebhookSecret) -> Result<(), DomainError> {
    let s = secret.expose();
    let bad = |reason: &str| Err(DomainError::Invalid { field: "secret", reason: reason.into() });
    if s.trim().is_empty() {
        return bad("must not be empty");
    }
    let chars = s.chars().count();
    if chars < MIN_SECRET_CHARS {
        return bad("must be at least 16 characters");
    }
    if chars > MAX_SECRET_CHARS {
        return bad("must be at most 512 characters");
    }
    if s.chars().any(char::is_control) {
        return bad("must not contain control characters");
    }
    Ok(())
}

/// Event type names: each must name an event kind; repeats are dropped and the kinds returned in
/// the order of [`EventKind::ALL`].
pub fn validate_event_types(names: &[String]) -> Result<Vec<EventKind>, DomainError> {
    let mut kinds = Vec::new();
    for name in names {
        let Some(kind) = EventKind::parse(name.trim()) else {
            let shown: String = name.chars().take(64).collect();
            let known: Vec<&str> = EventKind::ALL.iter().map(|k| k.as_str()).collect();
            return Err(DomainError::Invalid {
                field: "eventTypes",
                reason: format!("unknown event type '{shown}' (known: {})", known.join(", ")),
            });
        };
        if !kinds.contains(&kind) {
            kinds.push(kind);
        }
    }
    kinds.sort_by_key(|k| EventKind::ALL.iter().position(|x| x == k));
    Ok(kinds)
}

type HmacSha256 = Hmac<Sha256>;

/// The MAC of a delivery: HMAC-SHA256 keyed with the secret over `"<timestamp>.<body>"`.
fn mac(secret: &str, timestamp: i64, body: &[u8]) -> HmacSha256 {
    let mut mac = HmacSha256::new_from_slice(secret.as_bytes()).expect("HMAC takes a key of any length");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    mac
}

/// The `X-Lineup-Signature` value of `body` sent at `timestamp` (Unix seconds):
/// `t=<timestamp>,v1=<lower-case hex HMAC-SHA256 of "<timestamp>.<body>" keyed with secret>`.
pub fn sign(secret: &str, timestamp: i64, body: &[u8]) -> String {
    let digest = mac(secret, timestamp, body).finalize().into_bytes();
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    format!("t={timestamp},v1={hex}")
}

/// Why a signature was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    /// The header is not `t=<seconds>,v1=<64 hex digits>[,v1=...]`.
    #[error("the signature header is malformed")]
    Malformed,
    /// The timestamp is further from now than the tolerance (a replay, or a skewed clock).
    #[error("the signature's timestamp is outside the tolerance")]
    Stale,
    /// No `v1` signature matches the body and the secret.
    #[error("the signature does not match")]
    Mismatch,
}

/// Checks an `X-Lineup-Signature` header against the body received: its timestamp must be
/// within `tolerance_secs` of `now` (Unix seconds) and one of its `v1` values must be the
/// HMAC of `"<t>.<body>"` under `secret` (compared in constant time). Returns the timestamp.
pub fn verify(secret: &str, header: &str, body: &[u8], now: i64, tolerance_secs: i64) -> Result<i64, SignatureError> {
    let mut timestamp = None;
    let mut signatures = Vec::new();
    for part in header.split(',') {
        let (key, value) = part.trim().split_once('=').ok_or(SignatureError::Malformed)?;
        match key {
            "t" if timestamp.is_none() => {
                timestamp = Some(value.parse::<i64>().map_err(|_| SignatureError::Malformed)?)
            }
            "t" => return Err(SignatureError::Malformed),
            "v1" => signatures.push(decode_hex(value).ok_or(SignatureError::Malformed)?),
            _ => {} // other schemes, for later versions
        }
    }
    let timestamp = timestamp.ok_or(SignatureError::Malformed)?;
    if signatures.is_empty() {
        return Err(SignatureError::Malformed);
    }
    if now.abs_diff(timestamp) > tolerance_secs.unsigned_abs() {
        return Err(SignatureError::Stale);
    }
    let expected = mac(secret, timestamp, body);
    if signatures.iter().any(|s| expected.clone().verify_slice(s).is_ok()) {
        Ok(timestamp)
    } else {
        Err(SignatureError::Mismatch)
    }
}

/// 64 hex digits (either case) as 32 bytes.
fn decode_hex(s: &str) -> Option<Vec<u8>> {
    if s.len() != 64 || !s.is_ascii() {
        return None;
    }
    (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).ok()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seal(plain: &str) -> Result<String, DomainError> {
        Ok(format!("sealed({})", plain.len()))
    }

    fn new_webhook() -> NewWebhook {
        NewWebhook {
            name: " CRM ".into(),
            url: "HTTPS://Hooks.Example.com:8443/lineup/in?source=lineup".into(),
            secret: WebhookSecret::new(" a-signing-secret-of-some-length "),
            event_types: None,
            is_enabled: None,
        }
    }

    #[test]
    fn urls_are_checked_and_their_origin_normalised() {
        let cases: [(&str, Option<&str>); 16] = [
            ("https://hooks.example.com", Some("https://hooks.example.com")),
            ("HTTPS://Hooks.Example.COM/In/", Some("https://hooks.example.com/In/")),
            ("http://10.0.0.5:8080/hook?a=1&b=2", Some("http://10.0.0.5:8080/hook?a=1&b=2")),
            ("http://localhost?token=x", Some("http://localhost?token=x")),
            ("http://[::1]:9000/x", Some("http://[::1]:9000/x")),
            ("  https://hooks.example.com/a  ", Some("https://hooks.example.com/a")),
            ("ftp://hooks.example.com", None),
            ("hooks.example.com/in", None),
            ("https://", None),
            ("https:///in", None),
            ("https://user:pw@hooks.example.com/in", None),
            ("https://hooks.example.com/in#top", None),
            ("https://hooks example.com", None),
            ("https://hooks.example.com:0/in", None),
            ("https://hooks.example.com/a b", None),
            ("https://-hooks.example.com", None),
        ];
        for (input, expected) in cases {
            let got = validate_webhook_url(input);
            assert_eq!(got.as_ref().ok().map(String::as_str), expected, "{input}");
            if let Err(e) = got {
                assert!(matches!(e, DomainError::Invalid { field: "url", .. }), "{input}: {e:?}");
            }
        }
        assert!(validate_webhook_url(&format!("https://a.example/{}", "p".repeat(MAX_URL_LEN))).is_err());
    }

    #[test]
    fn a_new_webhook_is_normalised_with_defaults_and_its_secret_sealed_as_given() {
        let id = Uuid::from_u128(9);
        let spec = new_webhook().validate(id, seal).unwrap();
        assert_eq!((spec.id, spec.name.as_str()), (id, "CRM"));
        assert_eq!(spec.url, "https://hooks.example.com:8443/lineup/in?source=lineup");
        assert_eq!(spec.secret.sealed, "sealed(33)", "the secret is sealed untrimmed");
        assert_eq!((spec.event_types, spec.is_enabled), (Vec::new(), true));
    }

    #[test]
    fn event_types_must_be_known_and_come_back_in_list_order_once_each() {
        let names = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let kinds = validate_event_types(&names(&["session_completed", " item_created ", "session_completed"]));
        assert_eq!(kinds.unwrap(), [EventKind::ItemCreated, EventKind::SessionCompleted]);
        assert_eq!(validate_event_types(&[]).unwrap(), []);
        for bad in [&["item_deleted"][..], &["ItemCreated"], &[""], &["item_created", "nope"]] {
            let err = validate_event_types(&names(bad)).unwrap_err();
            assert!(matches!(err, DomainError::Invalid { field: "eventTypes", .. }), "{bad:?}");
        }
    }

    #[test]
    fn each_field_of_a_new_webhook_is_checked_and_named() {
        type Breaker = fn(&mut NewWebhook);
        let cases: [(&str, Breaker); 8] = [
            ("name", |n| n.name = " ".into()),
            ("url", |n| n.url = "mailto:ops@example.com".into()),
            ("url", |n| n.url = "https://u:p@hooks.example.com".into()),
            ("secret", |n| n.secret = WebhookSecret::new("")),
            ("secret", |n| n.secret = WebhookSecret::new("short-secret")),
            ("secret", |n| n.secret = WebhookSecret::new("x".repeat(MAX_SECRET_CHARS + 1))),
            ("secret", |n| n.secret = WebhookSecret::new("sixteen-chars-\n-x")),
            ("eventTypes", |n| n.event_types = Some(vec!["item_teleported".into()])),
        ];
        for (field, breaker) in cases {
            let mut new = new_webhook();
            breaker(&mut new);
            let err = new.validate(Uuid::nil(), |_| -> Result<String, DomainError> { panic!("sealed too early") });
            match err {
                Err(DomainError::Invalid { field: f, .. }) => assert_eq!(f, field),
                other => panic!("{field}: {other:?}"),
            }
        }
        let mut shortest = new_webhook();
        shortest.secret = WebhookSecret::new("x".repeat(MIN_SECRET_CHARS));
        assert!(shortest.validate(Uuid::nil(), seal).is_ok());
    }

    #[test]
    fn secrets_never_print_serialise_or_appear_in_errors() {
        assert_eq!(format!("{:?}", WebhookSecret::new("hunter2hunter2hunter2")), "WebhookSecret([redacted])");
        assert!(!format!("{:?}", SealedWebhookSecret { sealed: "lx1.k.n.c".into() }).contains("lx1"));
        let patch: WebhookPatch = serde_json::from_str(r#"{"secret": "hunter2hunter2hunter2"}"#).unwrap();
        assert!(!format!("{patch:?}").contains("hunter2"));
        let mut new = new_webhook();
        new.secret = WebhookSecret::new(format!("hunter2{}", "x".repeat(MAX_SECRET_CHARS)));
        assert!(!new.validate(Uuid::nil(), seal).unwrap_err().to_string().contains("hunter2"));
    }

    #[test]
    fn a_patch_seals_only_a_given_secret_and_changes_only_what_it_names() {
        let t0 = DateTime::from_timestamp(1_700_000_000, 0).unwrap();
        let t1 = DateTime::from_timestamp(1_700_000_100, 0).unwrap();
        let spec = new_webhook().validate(Uuid::nil(), seal).unwrap();
        let mut view = Webhook {
            id: spec.id,
            name: spec.name,
            url: spec.url,
            event_types: spec.event_types,
            is_enabled: true,
            has_secret: true,
            secret_changed_at: t0,
            created_at: t0,
            updated_at: t0,
        };
        let types = WebhookPatch { event_types: Some(vec!["item_updated".into()]), ..Default::default() }
            .validate(|_| -> Result<String, DomainError> { panic!("nothing to seal") })
            .unwrap();
        assert!(types.apply(&mut view, t1));
        assert_eq!(
            (view.event_types.clone(), view.updated_at, view.secret_changed_at),
            (vec![EventKind::ItemUpdated], t1, t0)
        );
        let unchanged = view.clone();
        assert!(!types.apply(&mut view, t1 + chrono::TimeDelta::seconds(1)), "the same types again change nothing");
        assert_eq!(view, unchanged);
        let rotate =
            WebhookPatch { secret: Some(WebhookSecret::new("a-brand-new-secret-value")), ..Default::default() };
        let t2 = t1 + chrono::TimeDelta::seconds(5);
        assert!(rotate.validate(seal).unwrap().apply(&mut view, t2), "a new secret is always a change");
        assert_eq!((view.secret_changed_at, view.updated_at), (t2, t2));
        let refused = WebhookPatch {
            secret: Some(WebhookSecret::new("a-brand-new-secret-value")),
            url: Some("gopher://x".into()),
            ..Default::default()
        };
        let err = refused.validate(|_| -> Result<String, DomainError> { panic!("sealed a refused patch") });
        assert!(matches!(err, Err(DomainError::Invalid { field: "url", .. })));
        let deleted = view.deleted(t2);
        assert!(!deleted.has_secret && !deleted.is_enabled && !deleted.receives(EventKind::ItemUpdated));
    }

    #[test]
    fn a_webhook_receives_the_types_it_names_or_all_when_it_names_none() {
        let t = DateTime::from_timestamp(1_700_000_000, 0).unwrap();
        let mut hook = Webhook {
            id: Uuid::nil(),
            name: "h".into(),
            url: "https://h.example".into(),
            event_types: Vec::new(),
            is_enabled: true,
            has_secret: true,
            secret_changed_at: t,
            created_at: t,
            updated_at: t,
        };
        assert!(EventKind::ALL.iter().all(|k| hook.receives(*k)));
        hook.event_types = vec![EventKind::SessionPaused];
        let received: Vec<EventKind> = EventKind::ALL.into_iter().filter(|k| hook.receives(*k)).collect();
        assert_eq!(received, [EventKind::SessionPaused]);
        hook.is_enabled = false;
        assert!(!hook.receives(EventKind::SessionPaused), "a disabled webhook receives nothing");
    }

    /// The signature is HMAC-SHA256 over "<t>.<body>", computed here independently of `sign`.
    #[test]
    fn signatures_are_hmac_sha256_of_the_timestamp_and_body() {
        let (secret, t, body) = ("whsec-test-secret-0001", 1_700_000_000_i64, br#"{"id":42,"type":"item_created"}"#);
        let mut reference = HmacSha256::new_from_slice(secret.as_bytes()).unwrap();
        reference.update(format!("{t}.").as_bytes());
        reference.update(body);
        let hex: String = reference.finalize().into_bytes().iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(sign(secret, t, body), format!("t={t},v1={hex}"));
        assert_eq!(hex.len(), 64);
        // RFC 4231 test case 2, to pin the primitive itself.
        let mut rfc = HmacSha256::new_from_slice(b"Jefe").unwrap();
        rfc.update(b"what do ya want for nothing?");
        let rfc_hex: String = rfc.finalize().into_bytes().iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(rfc_hex, "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
    }

    #[test]
    fn a_signature_verifies_and_any_tampering_is_refused() {
        let (secret, t, body) = ("whsec-test-secret-0001", 1_700_000_000_i64, br#"{"id":42}"#.as_slice());
        let header = sign(secret, t, body);
        assert_eq!(verify(secret, &header, body, t + 10, 300), Ok(t));
        assert_eq!(verify(secret, &header, br#"{"id":43}"#, t, 300), Err(SignatureError::Mismatch), "body changed");
        assert_eq!(verify("another-secret-entirely", &header, body, t, 300), Err(SignatureError::Mismatch));
        let moved = header.replacen(&format!("t={t}"), &format!("t={}", t + 1), 1);
        assert_eq!(verify(secret, &moved, body, t, 300), Err(SignatureError::Mismatch), "timestamp changed");
        assert_eq!(verify(secret, &header, body, t + 301, 300), Err(SignatureError::Stale));
        assert_eq!(verify(secret, &header, body, t - 301, 300), Err(SignatureError::Stale));
        let v1 = header.split_once(",v1=").unwrap().1;
        let mut flipped = v1.to_string();
        flipped.replace_range(0..1, if v1.starts_with('0') { "1" } else { "0" });
        assert_eq!(verify(secret, &format!("t={t},v1={flipped}"), body, t, 300), Err(SignatureError::Mismatch));
        let rotated = format!("t={t},v1={flipped},v1={v1}");
        assert_eq!(verify(secret, &rotated, body, t, 300), Ok(t), "any one matching v1 is enough");
        for malformed in [
            "",
            "t=1",
            &format!("v1={v1}"),
            "t=x,v1=00",
            &format!("t={t},v1={}", &v1[..10]),
            &format!("t={t},t={t},v1={v1}"),
        ] {
            assert_eq!(verify(secret, malformed, body, t, 300), Err(SignatureError::Malformed), "{malformed}");
        }
    }

    #[test]
    fn the_event_body_has_the_documented_members() {
        let created_at = DateTime::from_timestamp(1_700_000_000, 5_000).unwrap();
        let event = WebhookEvent {
            id: 7,
            event_type: EventKind::ItemCreated,
            tenant_id: Uuid::from_u128(1),
            session_id: Uuid::from_u128(2),
            item_id: None,
            created_at,
            data: serde_json::json!({"displayName": "Ann"}),
        };
        let json = event.to_json();
        let mut keys: Vec<&str> = json.as_object().unwrap().keys().map(String::as_str).collect();
        keys.sort_unstable();
        assert_eq!(keys, ["createdAt", "data", "id", "itemId", "sessionId", "tenantId", "type"]);
        assert_eq!(
            (&json["id"], &json["type"], &json["itemId"]),
            (&serde_json::json!(7), &serde_json::json!("item_created"), &serde_json::Value::Null)
        );
        assert_eq!(serde_json::from_value::<WebhookEvent>(json).unwrap(), event);
        for s in [DeliveryState::Pending, DeliveryState::Delivered, DeliveryState::Failed] {
            assert_eq!(DeliveryState::parse(s.as_str()), Some(s));
        }
    }
}
