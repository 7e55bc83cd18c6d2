//! Lineup's pure queue domain: templates and their status machine, queues, sessions and their
//! lifecycle, items and their numbering, item status history, and the events a change emits
//! (and the signed webhook bodies that carry them out); and access: tenants, members and roles,
//! the permission matrix, API keys and the audit log.
//!
//! This crate owns the rules. It must not do IO, read the clock or draw random numbers: callers
//! pass `now` and ids in. Storage and HTTP live in other crates and call in here to decide.

pub mod access;
pub mod api_key;
pub mod audit;
pub mod call;
pub mod error;
pub mod event;
pub mod item;
pub mod machine;
pub mod member;
pub mod metadata;
pub mod pbx;
pub mod queue;
pub mod schedule;
pub mod session;
pub mod template;
pub mod tenant;
pub mod webhook;

pub use access::{Actor, ActorKind, Permission, Principal, Role, Subject};
pub use api_key::{ApiKey, ApiKeySpec, NewApiKey};
pub use audit::{AuditAction, AuditEntry};
pub use error::DomainError;
pub use event::{DomainEvent, EventKind};
pub use item::{format_queue_number, Item, ItemHistoryEntry, ItemPatch, NewItem, StatusChangeRequest};
pub use machine::{StatusMachine, Transition, TransitionFrom};
pub use member::{Member, MemberChange, MemberPatch, MemberSpec, NewMember};
pub use metadata::MetadataSchema;
pub use pbx::{
    ClientSecret, NewPbxConnection, PbxAgent, PbxConnection, PbxConnectionChange, PbxConnectionPatch,
    PbxConnectionSpec, PbxQueueMappings, QueueMapping, SealedClientSecret, StoredPbxAgent,
};
pub use queue::{default_prefix, NewQueue, Queue, QueuePatch};
pub use schedule::{NewSessionSchedule, SessionSchedule, SessionScheduleSpec};
pub use session::{Lifecycle, NewSession, Session, SessionPatch, SessionStatus, SessionStatusPatch};
pub use template::{NewTemplate, NewTemplateStatus, Template, TemplateStatus};
pub use tenant::{Tenant, TenantPatch, TenantSpec};
pub use webhook::{
    DeliveryState, NewWebhook, SealedWebhookSecret, Webhook, WebhookChange, WebhookDelivery, WebhookEvent,
    WebhookPatch, WebhookSecret, WebhookSpec,
};

/// Identifier of a tenant; every stored row carries one.
pub type TenantId = uuid::Uuid;

/// Validates a human-facing name: trimmed, 1..=200 characters.
pub fn validate_name(field: &'static str, value: &str) -> Result<String, DomainError> {
    let trimmed = value.trim();
    if trimmed.is_empty() {
        return Err(DomainError::Invalid { field, reason: "must not be empty".into() });
    }
    if trimmed.chars().count() > 200 {
        return Err(DomainError::Invalid { field, reason: "must be at most 200 characters".into() });
    }
    Ok(trimmed.to_string())
}
