//! The audit log: who changed what in a tenant's administration, when, and how it looked before
//! and after.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::access::Actor;

/// An audited change: its action name and the kind of object it changes. This is the whole list
/// of what the audit log records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuditAction {
    TenantCreate,
    TenantUpdate,
    UserCreate,
    UserUpdate,
    MembershipCreate,
    ApiKeyCreate,
    ApiKeyRevoke,
    PbxConnectionCreate,
    PbxConnectionUpdate,
    PbxConnectionDelete,
    WebhookCreate,
    WebhookUpdate,
    WebhookDelete,
}

impl AuditAction {
    /// The stored and API name, e.g. `user.create`.
    pub fn as_str(self) -> &'static str {
        match self {
            AuditAction::TenantCreate => "tenant.create",
            AuditAction::TenantUpdate => "tenant.update",
            AuditAction::UserCreate => "user.create",
            AuditAction::UserUpdate => "user.update",
            AuditAction::MembershipCreate => "membership.create",
            AuditAction::ApiKeyCreate => "apiKey.create",
            AuditAction::ApiKeyRevoke => "apiKey.revoke",
            AuditAction::PbxConnectionCreate => "pbxConnection.create",
            AuditAction::PbxConnectionUpdate => "pbxConnection.update",
            AuditAction::PbxConnectionDelete => "pbxConnection.delete",
            AuditAction::WebhookCreate => "webhook.create",
            AuditAction::WebhookUpdate => "webhook.update",
            AuditAction::WebhookDelete => "webhook.delete",
        }
    }

    /// The kind of object the action changes: `tenant`, `user`, `apiKey`, `pbxConnection` or
    /// `webhook`.
    pub fn target_type(self) -> &'static str {
        match self {
            AuditAction::TenantCreate | AuditAction::TenantUpdate => "tenant",
            AuditAction::UserCreate | AuditAction::UserUpdate | AuditAction::MembershipCreate => "user",
            AuditAction::ApiKeyCreate | AuditAction::ApiKeyRevoke => "apiKey",
            AuditAction::PbxConnectionCreate | AuditAction::PbxConnectionUpdate | AuditAction::PbxConnectionDelete => {
                "pbxConnection"
            }
            AuditAction::WebhookCreate | AuditAction::WebhookUpdate | AuditAction::WebhookDelete => "webhook",
        }
    }
}

/// One audited change.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct AuditEntry {
    pub id: Uuid,
    pub at: DateTime<Utc>,
    pub actor: Actor,
    /// What was done, e.g. `user.create`, `user.update`, `apiKey.create`, `apiKey.revoke`, `tenant.update`.
    pub action: String,
    /// The kind of object changed: `user`, `apiKey`, `tenant`.
    pub target_type: String,
    pub target_id: Uuid,
    /// The object before the change (absent for a creation). Secrets are never recorded.
    #[cfg_attr(feature = "openapi", schema(value_type = Option<Object>))]
    pub before: Option<serde_json::Value>,
    /// The object after the change.
    #[cfg_attr(feature = "openapi", schema(value_type = Option<Object>))]
    pub after: Option<serde_json::Value>,
}
