//! Who may do what: the roles of a tenant's members, the permissions routes require, the one
//! matrix that joins them, and the principal a request acts as.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::TenantId;

/// A member's (or an API key's) role in a tenant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Everything, including users, API keys, tenant settings and the audit log.
    Admin,
    /// Runs the floor: queues, sessions, templates, items.
    Supervisor,
    /// Reads everything operational, changes nothing.
    Analyst,
    /// Works items: reads queues and moves items along.
    Agent,
    /// A walk-in kiosk: issues tickets (creates items) and reads what it needs to do so.
    Kiosk,
    /// A read-only display board.
    Display,
}

impl Role {
    /// Every role, most powerful first (the column order of the matrix).
    pub const ALL: [Role; 6] = [Role::Admin, Role::Supervisor, Role::Analyst, Role::Agent, Role::Kiosk, Role::Display];

    /// The API and storage spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Supervisor => "supervisor",
            Role::Analyst => "analyst",
            Role::Agent => "agent",
            Role::Kiosk => "kiosk",
            Role::Display => "display",
        }
    }

    /// Parses the API and storage spelling.
    pub fn parse(s: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|r| r.as_str() == s)
    }

    /// The role matrix: whether this role holds `permission`. This is the only place a role is
    /// turned into a yes or no.
    pub fn allows(self, permission: Permission) -> bool {
        use Permission::*;
        use Role::*;
        match permission {
            QueueRead | SessionRead | TenantRead => true,
            ItemRead | LiveRead => !matches!(self, Kiosk),
            ItemCreate => matches!(self, Admin | Supervisor | Agent | Kiosk),
            ItemUpdate => matches!(self, Admin | Supervisor | Agent),
            TemplateRead => matches!(self, Admin | Supervisor | Analyst | Agent),
            AnalyticsRead => matches!(self, Admin | Supervisor | Analyst),
            QueueManage | SessionManage | TemplateManage => matches!(self, Admin | Supervisor),
            TenantManage | UserManage | ApiKeyManage | AuditRead | PbxManage | InboxManage | WebhookManage => {
                matches!(self, Admin)
            }
        }
    }
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a route requires. Routes name a permission; roles are never checked directly.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Permission {
    QueueRead,
    QueueManage,
    SessionRead,
    SessionManage,
    ItemRead,
    ItemCreate,
    ItemUpdate,
    TemplateRead,
    TemplateManage,
    TenantRead,
    TenantManage,
    UserManage,
    ApiKeyManage,
    AuditRead,
    PbxManage,
    InboxManage,
    WebhookManage,
    LiveRead,
    AnalyticsRead,
}

impl Permission {
    /// Every permission, in the row order of the matrix.
    pub const ALL: [Permission; 19] = [
        Permission::QueueRead,
        Permission::QueueManage,
        Permission::SessionRead,
        Permission::SessionManage,
        Permission::ItemRead,
        Permission::ItemCreate,
        Permission::ItemUpdate,
        Permission::TemplateRead,
        Permission::TemplateManage,
        Permission::TenantRead,
        Permission::TenantManage,
        Permission::UserManage,
        Permission::ApiKeyManage,
        Permission::AuditRead,
        Permission::PbxManage,
        Permission::InboxManage,
        Permission::WebhookManage,
        Permission::LiveRead,
        Permission::AnalyticsRead,
    ];

    /// The dotted name used in docs and `403` problems.
    pub fn as_str(self) -> &'static str {
        match self {
            Permission::QueueRead => "queue.read",
            Permission::QueueManage => "queue.manage",
            Permission::SessionRead => "session.read",
            Permission::SessionManage => "session.manage",
            Permission::ItemRead => "item.read",
            Permission::ItemCreate => "item.create",
            Permission::ItemUpdate => "item.update",
            Permission::TemplateRead => "template.read",
            Permission::TemplateManage => "template.manage",
            Permission::TenantRead => "tenant.read",
            Permission::TenantManage => "tenant.manage",
            Permission::UserManage => "user.manage",
            Permission::ApiKeyManage => "apikey.manage",
            Permission::AuditRead => "audit.read",
            Permission::PbxManage => "pbx.manage",
            Permission::InboxManage => "inbox.manage",
            Permission::WebhookManage => "webhook.manage",
            Permission::LiveRead => "live.read",
            Permission::AnalyticsRead => "analytics.read",
        }
    }

    /// What the permission lets its holder do, for `docs/SECURITY.md`.
    pub fn describe(self) -> &'static str {
        match self {
            Permission::QueueRead => "read queues",
            Permission::QueueManage => "create, change and deactivate queues",
            Permission::SessionRead => "read sessions and their statuses",
            Permission::SessionManage => {
                "open, rename, pause, resume, complete, archive and delete sessions; edit session statuses"
            }
            Permission::ItemRead => "read items, their history and the session/item event streams",
            Permission::ItemCreate => "add items (calls, walk-in tickets) to a session",
            Permission::ItemUpdate => "change items and move them between statuses",
            Permission::TemplateRead => "read templates and their statuses",
            Permission::TemplateManage => "create templates and add statuses",
            Permission::TenantRead => "read the tenant's name and settings",
            Permission::TenantManage => "change the tenant's name and settings",
            Permission::UserManage => "create users, change their roles, deactivate them, reset passwords",
            Permission::ApiKeyManage => "create, list and revoke API keys",
            Permission::AuditRead => "read the audit log",
            Permission::PbxManage => {
                "connect PBXs (3CX): create, change and delete connections and their queue mappings"
            }
            Permission::InboxManage => {
                "read the inbox of PBX records and its dead letters; replay or discard dead letters"
            }
            Permission::WebhookManage => {
                "create, change and delete outbound webhooks; read their delivery log and redeliver"
            }
            Permission::LiveRead => "watch the live queue, overview and agent channels (SSE and WebSocket)",
            Permission::AnalyticsRead => "read reporting figures and staffing calculations",
        }
    }
}

/// Who is acting: a signed-in user (through one login session) or an API key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Subject {
    User { user_id: Uuid, username: String, session_id: Uuid },
    ApiKey { key_id: Uuid, name: String },
}

/// The authenticated caller of a request: a tenant, a role in it and who it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    pub tenant_id: TenantId,
    pub role: Role,
    pub subject: Subject,
}

impl Principal {
    /// Whether the principal's role holds `permission`.
    pub fn can(&self, permission: Permission) -> bool {
        self.role.allows(permission)
    }

    /// The actor recorded in the audit log for this principal's changes.
    pub fn actor(&self) -> Actor {
        match &self.subject {
            Subject::User { user_id, username, .. } => {
                Actor { kind: ActorKind::User, id: Some(*user_id), name: username.clone() }
            }
            Subject::ApiKey { key_id, name } => {
                Actor { kind: ActorKind::ApiKey, id: Some(*key_id), name: name.clone() }
            }
        }
    }
}

/// What kind of actor made an audited change.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub enum ActorKind {
    User,
    ApiKey,
    /// The `lineup` command line (`lineup admin ...`, `lineup demo`).
    System,
}

impl ActorKind {
    /// The storage spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            ActorKind::User => "user",
            ActorKind::ApiKey => "apiKey",
            ActorKind::System => "system",
        }
    }

    /// Parses the storage spelling.
    pub fn parse(s: &str) -> Option<ActorKind> {
        [ActorKind::User, ActorKind::ApiKey, ActorKind::System].into_iter().find(|k| k.as_str() == s)
    }
}

/// Who made an audited change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct Actor {
    #[serde(rename = "type")]
    pub kind: ActorKind,
    /// The user's or API key's id; absent for the command line.
    pub id: Option<Uuid>,
    /// Username, API key name, or the command that acted.
    pub name: String,
}

impl Actor {
    /// The command line acting as `name` (e.g. `lineup admin create-user`).
    pub fn system(name: &str) -> Actor {
        Actor { kind: ActorKind::System, id: None, name: name.to_string() }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_admins_manage_users_keys_tenant_pbx_inbox_webhooks_and_read_the_audit_log() {
        let admin_only = [
            Permission::UserManage,
            Permission::ApiKeyManage,
            Permission::TenantManage,
            Permission::AuditRead,
            Permission::PbxManage,
            Permission::InboxManage,
            Permission::WebhookManage,
        ];
        for p in admin_only {
            let holders: Vec<Role> = Role::ALL.into_iter().filter(|r| r.allows(p)).collect();
            assert_eq!(holders, vec![Role::Admin], "{}", p.as_str());
        }
    }

    #[test]
    fn the_matrix_reads_as_written() {
        // (permission, admin, supervisor, analyst, agent, kiosk, display)
        let table: [(Permission, [bool; 6]); 17] = [
            (Permission::QueueRead, [true, true, true, true, true, true]),
            (Permission::QueueManage, [true, true, false, false, false, false]),
            (Permission::SessionRead, [true, true, true, true, true, true]),
            (Permission::SessionManage, [true, true, false, false, false, false]),
            (Permission::ItemRead, [true, true, true, true, false, true]),
            (Permission::ItemCreate, [true, true, false, true, true, false]),
            (Permission::ItemUpdate, [true, true, false, true, false, false]),
            (Permission::TemplateRead, [true, true, true, true, false, false]),
            (Permission::TemplateManage, [true, true, false, false, false, false]),
            (Permission::TenantRead, [true, true, true, true, true, true]),
            (Permission::TenantManage, [true, false, false, false, false, false]),
            (Permission::UserManage, [true, false, false, false, false, false]),
            (Permission::ApiKeyManage, [true, false, false, false, false, false]),
            (Permission::AuditRead, [true, false, false, false, false, false]),
            (Permission::PbxManage, [true, false, false, false, false, false]),
            (Permission::InboxManage, [true, false, false, false, false, false]),
            (Permission::WebhookManage, [true, false, false, false, false, false]),
        ];
        for (p, row) in table {
            for (role, expected) in Role::ALL.into_iter().zip(row) {
                assert_eq!(role.allows(p), expected, "{} {}", role, p.as_str());
            }
        }
    }

    #[test]
    fn roles_round_trip_their_spelling() {
        for r in Role::ALL {
            assert_eq!(Role::parse(r.as_str()), Some(r));
        }
        assert_eq!(Role::parse("root"), None);
        assert_eq!(Role::parse("Admin"), None);
    }

    #[test]
    fn analysts_and_displays_change_nothing() {
        let writes = [
            Permission::QueueManage,
            Permission::SessionManage,
            Permission::ItemCreate,
            Permission::ItemUpdate,
            Permission::TemplateManage,
            Permission::TenantManage,
            Permission::UserManage,
            Permission::ApiKeyManage,
            Permission::PbxManage,
            Permission::InboxManage,
            Permission::WebhookManage,
        ];
        for p in writes {
            assert!(!Role::Analyst.allows(p) && !Role::Display.allows(p), "{}", p.as_str());
        }
    }
}
