//! [`AccessStore`] for [`SqliteStore`]: changes run in one write transaction on the writer
//! connection (so they serialise), lookups on the reader pool.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use lineup_domain::{
    Actor, ApiKey, ApiKeySpec, AuditEntry, Member, MemberChange, MemberSpec, Principal, Role, Tenant, TenantId,
    TenantPatch, TenantSpec,
};
use lineup_store::{
    AccessStore, LoginCandidate, NewLoginSession, NewStreamTicket, Page, PageRequest, RefreshOutcome, StoreResult,
    TokenHash, TokenPair,
};
use uuid::Uuid;

use crate::{api_keys, audit, logins, members, tenants, tickets, SqliteStore};

#[async_trait]
impl AccessStore for SqliteStore {
    async fn create_tenant(&self, actor: &Actor, id: TenantId, spec: TenantSpec) -> StoreResult<Tenant> {
        tenants::create(self, actor, id, spec).await
    }
    async fn get_tenant(&self, id: TenantId) -> StoreResult<Tenant> {
        tenants::get(&self.reader, id).await
    }
    async fn find_tenant_by_slug(&self, slug: &str) -> StoreResult<Tenant> {
        tenants::find_by_slug(&self.reader, slug).await
    }
    async fn update_tenant(&self, actor: &Actor, id: TenantId, patch: TenantPatch) -> StoreResult<Tenant> {
        tenants::update(self, actor, id, patch).await
    }

    async fn create_member(&self, actor: &Actor, tenant: TenantId, spec: MemberSpec) -> StoreResult<Member> {
        members::create(self, actor, tenant, spec).await
    }
    async fn add_membership(&self, actor: &Actor, tenant: TenantId, username: &str, role: Role) -> StoreResult<Member> {
        members::add(self, actor, tenant, username, role).await
    }
    async fn get_member(&self, tenant: TenantId, user_id: Uuid) -> StoreResult<Member> {
        members::get(&self.reader, tenant, user_id).await
    }
    async fn list_members(&self, tenant: TenantId, page: &PageRequest) -> StoreResult<Page<Member>> {
        members::list(&self.reader, tenant, page).await
    }
    async fn update_member(
        &self,
        actor: &Actor,
        tenant: TenantId,
        user_id: Uuid,
        change: MemberChange,
    ) -> StoreResult<Member> {
        members::update(self, actor, tenant, user_id, change).await
    }

    async fn find_login(&self, username: &str) -> StoreResult<Option<LoginCandidate>> {
        logins::find(&self.reader, username).await
    }
    async fn create_login_session(&self, new: NewLoginSession) -> StoreResult<()> {
        logins::create_session(self, new).await
    }
    async fn resolve_access_token(&self, hash: &TokenHash, now: DateTime<Utc>) -> StoreResult<Option<Principal>> {
        logins::resolve_access(&self.reader, hash, now).await
    }
    async fn refresh_login_session(
        &self,
        refresh_hash: &TokenHash,
        next: TokenPair,
        now: DateTime<Utc>,
    ) -> StoreResult<RefreshOutcome> {
        logins::refresh(self, refresh_hash, next, now).await
    }
    async fn revoke_login_session(&self, tenant: TenantId, session_id: Uuid, now: DateTime<Utc>) -> StoreResult<()> {
        logins::revoke_session(self, tenant, session_id, now).await
    }

    async fn create_api_key(&self, actor: &Actor, tenant: TenantId, spec: ApiKeySpec) -> StoreResult<ApiKey> {
        api_keys::create(self, actor, tenant, spec).await
    }
    async fn get_api_key(&self, tenant: TenantId, id: Uuid) -> StoreResult<ApiKey> {
        api_keys::get(&self.reader, tenant, id).await
    }
    async fn list_api_keys(&self, tenant: TenantId, page: &PageRequest) -> StoreResult<Page<ApiKey>> {
        api_keys::list(&self.reader, tenant, page).await
    }
    async fn revoke_api_key(
        &self,
        actor: &Actor,
        tenant: TenantId,
        id: Uuid,
        now: DateTime<Utc>,
    ) -> StoreResult<ApiKey> {
        api_keys::revoke(self, actor, tenant, id, now).await
    }
    async fn resolve_api_key(&self, hash: &TokenHash, now: DateTime<Utc>) -> StoreResult<Option<Principal>> {
        api_keys::resolve(self, hash, now).await
    }

    async fn create_stream_ticket(&self, principal: &Principal, ticket: NewStreamTicket) -> StoreResult<()> {
        tickets::create(self, principal, ticket).await
    }
    async fn redeem_stream_ticket(&self, hash: &TokenHash, now: DateTime<Utc>) -> StoreResult<Option<Principal>> {
        tickets::redeem(self, hash, now).await
    }

    async fn list_audit(&self, tenant: TenantId, page: &PageRequest) -> StoreResult<Page<AuditEntry>> {
        audit::list(&self.reader, tenant, page).await
    }
}
