//! The one error type for broken domain rules.

use crate::session::Lifecycle;

/// A rule of the domain that a requested change would break. Each variant maps to one stable
/// problem type on the API.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DomainError {
    /// A field has a value the domain does not accept.
    #[error("invalid {field}: {reason}")]
    Invalid { field: &'static str, reason: String },
    /// The session lifecycle does not allow moving from `from` to `to`.
    #[error("a session cannot move from {from} to {to}")]
    InvalidLifecycleTransition { from: Lifecycle, to: Lifecycle },
    /// Items can only be added to (or changed in) an active session.
    #[error("the session is {lifecycle}, so it takes no such change (new items need an active session; completed and archived sessions are frozen)")]
    SessionNotActive { lifecycle: Lifecycle },
    /// An item's session binding is immutable.
    #[error("an item's session cannot be changed")]
    ItemSessionImmutable,
    /// The template's machine has no transition from the item's status to the requested one.
    #[error("no transition allows moving an item from '{from}' to '{to}'")]
    InvalidStatusTransition { from: String, to: String },
    /// A named transition does not exist or does not start at the item's status.
    #[error("transition '{name}' cannot be taken from status '{from}'")]
    UnknownTransition { name: String, from: String },
    /// Item metadata does not satisfy the template's JSON Schema.
    #[error("metadata does not match the template's schema")]
    MetadataSchemaViolation { errors: Vec<String> },
    /// A status label is used twice within one template or session.
    #[error("a status labelled '{label}' already exists")]
    DuplicateStatusLabel { label: String },
    /// The queue is deactivated and takes no new sessions.
    #[error("the queue is inactive")]
    QueueInactive,
}
