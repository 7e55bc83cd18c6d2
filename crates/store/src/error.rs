//! The one error type of the store.

use std::fmt;

use lineup_domain::DomainError;

/// The kind of object a `NotFound` refers to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Entity {
    Tenant,
    Template,
    Queue,
    Session,
    SessionStatus,
    Item,
    User,
    ApiKey,
    LoginSession,
    PbxConnection,
    InboxMessage,
    Call,
    Webhook,
    WebhookDelivery,
    SessionSchedule,
}

impl fmt::Display for Entity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Entity::Tenant => "tenant",
            Entity::Template => "template",
            Entity::Queue => "queue",
            Entity::Session => "session",
            Entity::SessionStatus => "session status",
            Entity::Item => "item",
            Entity::User => "user",
            Entity::ApiKey => "API key",
            Entity::LoginSession => "login session",
            Entity::PbxConnection => "PBX connection",
            Entity::InboxMessage => "inbox message",
            Entity::Call => "call",
            Entity::Webhook => "webhook",
            Entity::WebhookDelivery => "webhook delivery",
            Entity::SessionSchedule => "session schedule",
        })
    }
}

/// Why a store call failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// No such object for this tenant (or soft-deleted).
    #[error("{0} not found")]
    NotFound(Entity),
    /// The change breaks a domain rule; nothing was stored.
    #[error(transparent)]
    Domain(#[from] DomainError),
    /// A page request this list cannot serve: a foreign cursor or a limit out of range.
    #[error("invalid page request: {0}")]
    InvalidPage(String),
    /// The change conflicts with what is stored (a taken username or slug, an account managed by
    /// another tenant); nothing was stored. The text says what, for people.
    #[error("{0}")]
    Conflict(String),
    /// The database failed; nothing was stored.
    #[error("storage backend error: {0}")]
    Backend(String),
}

impl StoreError {
    /// Wraps a backend error, keeping its message.
    pub fn backend(e: impl fmt::Display) -> Self {
        StoreError::Backend(e.to_string())
    }
}
