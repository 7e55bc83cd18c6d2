//! The access half of the storage contract: tenants, members, login sessions, API keys, stream
//! tickets and the audit log.
//!
//! Credentials are stored only as SHA-256 hashes (`[u8; 32]`) of the token strings and passwords
//! only as argon2id hashes; this crate never sees a secret in clear. Methods that resolve a
//! credential (`find_login`, `resolve_*`, `redeem_stream_ticket`, `refresh_login_session`) are the
//! only ones that look across tenants: they are how a request finds its tenant. Every other
//! method is scoped by tenant, and an object of another tenant is `NotFound`.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use lineup_domain::{
    Actor, ApiKey, ApiKeySpec, AuditEntry, Member, MemberChange, MemberSpec, Principal, Role, Tenant, TenantId,
    TenantPatch, TenantSpec,
};
use uuid::Uuid;

use crate::{Page, PageRequest, StoreResult};

/// The texts of the access `Conflict`s. Every backend uses exactly these, so people read the
/// same words whatever the database.
pub mod conflict {
    /// `create_tenant` with a slug another tenant has.
    pub const SLUG_TAKEN: &str = "slug is already taken";
    /// `create_member` with a username another account has.
    pub const USERNAME_TAKEN: &str = "username is already taken";
    /// `create_member` or `update_member` with an email another account has.
    pub const EMAIL_TAKEN: &str = "email is already taken";
    /// `add_membership` of an account that already belongs to the tenant.
    pub const ALREADY_MEMBER: &str = "the user is already a member of this tenant";
    /// `update_member` of an account's own fields from a tenant that is not its home.
    pub const MANAGED_ELSEWHERE: &str =
        "this account is managed by another tenant: only that tenant can change its email, name or password";
}

/// A SHA-256 hash of a token string, as stored and looked up.
pub type TokenHash = [u8; 32];

/// A user found by username at login, with every tenant they belong to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoginCandidate {
    pub user_id: Uuid,
    pub username: String,
    /// argon2id PHC string.
    pub password_hash: String,
    /// The account's own flag (memberships have theirs).
    pub is_active: bool,
    /// Ordered by tenant slug.
    pub memberships: Vec<LoginMembership>,
}

/// One tenant a login candidate belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoginMembership {
    pub tenant_id: TenantId,
    pub tenant_slug: String,
    pub role: Role,
    pub is_active: bool,
}

/// A login session to store: the hashes of its first access and refresh tokens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewLoginSession {
    pub id: Uuid,
    pub tenant_id: TenantId,
    pub user_id: Uuid,
    pub tokens: TokenPair,
    /// Stored for the user's own list of sessions (trimmed to 200 characters by the caller).
    pub user_agent: Option<String>,
    pub created_at: DateTime<Utc>,
}

/// The hashes and expiries of an access and a refresh token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenPair {
    pub access_hash: TokenHash,
    pub access_expires_at: DateTime<Utc>,
    pub refresh_hash: TokenHash,
    pub refresh_expires_at: DateTime<Utc>,
}

/// What presenting a refresh token did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RefreshOutcome {
    /// The session now answers to the new pair; the old pair is dead.
    Rotated(Principal),
    /// The token was the session's previous refresh token: someone replayed it, so the whole
    /// session was revoked.
    ReuseDetected,
    /// Unknown, expired or revoked token, or the user or membership was deactivated.
    Invalid,
}

/// A stream ticket to store: a single-use credential a browser puts in a stream URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewStreamTicket {
    pub hash: TokenHash,
    pub expires_at: DateTime<Utc>,
}

/// The access half of the storage contract. Every change made by a person or key records an
/// audit entry (actor, action, before, after) in the same transaction. An instant the caller
/// gives and a read later shows (an expiry, a revocation or use time, a login time) is kept to
/// the microsecond ([`crate::to_micros`]), so a call returns exactly what later reads return.
#[async_trait]
pub trait AccessStore: Send + Sync {
    /// Creates a tenant; a taken slug is `Conflict`.
    async fn create_tenant(&self, actor: &Actor, id: TenantId, spec: TenantSpec) -> StoreResult<Tenant>;
    async fn get_tenant(&self, id: TenantId) -> StoreResult<Tenant>;
    /// The tenant with this slug (`NotFound` otherwise).
    async fn find_tenant_by_slug(&self, slug: &str) -> StoreResult<Tenant>;
    /// Renames the tenant or replaces its settings (validated by `TenantPatch::apply`).
    async fn update_tenant(&self, actor: &Actor, id: TenantId, patch: TenantPatch) -> StoreResult<Tenant>;

    /// Creates a user account homed in `tenant` and its membership of it; a taken username or
    /// email is `Conflict` (accounts are global so one person can belong to several tenants).
    async fn create_member(&self, actor: &Actor, tenant: TenantId, spec: MemberSpec) -> StoreResult<Member>;
    /// Adds an existing account (by username) to `tenant` with `role`; `Conflict` when it is
    /// already a member, `NotFound(User)` when there is no such account.
    async fn add_membership(&self, actor: &Actor, tenant: TenantId, username: &str, role: Role) -> StoreResult<Member>;
    async fn get_member(&self, tenant: TenantId, user_id: Uuid) -> StoreResult<Member>;
    /// Sorts by `Name` (the username) or `CreatedAt`.
    async fn list_members(&self, tenant: TenantId, page: &PageRequest) -> StoreResult<Page<Member>>;
    /// Changes a member. Email, full name and password belong to the account and only its home
    /// tenant may change them (`Conflict` otherwise); role and active flag belong to the membership. When `MemberChange::ends_sessions` holds, every login session
    /// of the user in this tenant is revoked in the same transaction.
    async fn update_member(
        &self,
        actor: &Actor,
        tenant: TenantId,
        user_id: Uuid,
        change: MemberChange,
    ) -> StoreResult<Member>;

    /// The account with this (normalised) username, or `None`.
    async fn find_login(&self, username: &str) -> StoreResult<Option<LoginCandidate>>;
    /// Stores a login session and stamps the user's last login.
    async fn create_login_session(&self, new: NewLoginSession) -> StoreResult<()>;
    /// The principal of a live access token: the session is not revoked, the token not
    /// expired at `now`, and the account and membership are active. Otherwise `None`.
    async fn resolve_access_token(&self, hash: &TokenHash, now: DateTime<Utc>) -> StoreResult<Option<Principal>>;
    /// Swaps a session's token pair when `refresh_hash` is its current refresh token and the
    /// session is still valid at `now`; replaying the previous refresh token revokes the session.
    async fn refresh_login_session(
        &self,
        refresh_hash: &TokenHash,
        next: TokenPair,
        now: DateTime<Utc>,
    ) -> StoreResult<RefreshOutcome>;
    /// Revokes one login session of the tenant (idempotent; `NotFound` if it is not the tenant's).
    async fn revoke_login_session(&self, tenant: TenantId, session_id: Uuid, now: DateTime<Utc>) -> StoreResult<()>;

    /// Stores an API key (its hash) for `tenant`.
    async fn create_api_key(&self, actor: &Actor, tenant: TenantId, spec: ApiKeySpec) -> StoreResult<ApiKey>;
    async fn get_api_key(&self, tenant: TenantId, id: Uuid) -> StoreResult<ApiKey>;
    /// Sorts by `Name` or `CreatedAt`; revoked keys are listed too.
    async fn list_api_keys(&self, tenant: TenantId, page: &PageRequest) -> StoreResult<Page<ApiKey>>;
    /// Revokes a key (idempotent: a revoked key keeps its first revocation time).
    async fn revoke_api_key(
        &self,
        actor: &Actor,
        tenant: TenantId,
        id: Uuid,
        now: DateTime<Utc>,
    ) -> StoreResult<ApiKey>;
    /// The principal of a live API key (not revoked, not expired at `now`); stamps
    /// `last_used_at` when it is older than a minute.
    async fn resolve_api_key(&self, hash: &TokenHash, now: DateTime<Utc>) -> StoreResult<Option<Principal>>;

    /// Stores a single-use stream ticket acting as `principal`.
    async fn create_stream_ticket(&self, principal: &Principal, ticket: NewStreamTicket) -> StoreResult<()>;
    /// Consumes a ticket: the principal it was issued to, when it has not expired at `now`, was
    /// not used before, and the login session or API key behind it is still valid. A ticket
    /// answers at most once, even to concurrent callers.
    async fn redeem_stream_ticket(&self, hash: &TokenHash, now: DateTime<Utc>) -> StoreResult<Option<Principal>>;

    /// The tenant's audit log; sorts by `CreatedAt` (the entry's `at`) in the requested order.
    async fn list_audit(&self, tenant: TenantId, page: &PageRequest) -> StoreResult<Page<AuditEntry>>;
}
