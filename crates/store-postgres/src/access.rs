//! [`AccessStore`] for [`PostgresStore`]: which calls run in a tenant transaction and which, the
//! credential and tenant lookups through which a request learns its tenant, run as the
//! connecting role.

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

use crate::rows::db;
use crate::{api_keys, audit, logins, members, tenants, tickets, PostgresStore};

#[async_trait]
impl AccessStore for PostgresStore {
    async fn create_tenant(&self, actor: &Actor, id: TenantId, spec: TenantSpec) -> StoreResult<Tenant> {
        in_tenant!(&self.pool, id, tenants::create, actor, spec)
    }
    async fn get_tenant(&self, id: TenantId) -> StoreResult<Tenant> {
        let mut conn = self.pool.acquire().await.map_err(db)?;
        tenants::get(&mut conn, id).await
    }
    async fn find_tenant_by_slug(&self, slug: &str) -> StoreResult<Tenant> {
        let mut conn = self.pool.acquire().await.map_err(db)?;
        tenants::find_by_slug(&mut conn, slug).await
    }
    async fn update_tenant(&self, actor: &Actor, id: TenantId, patch: TenantPatch) -> StoreResult<Tenant> {
        in_tenant!(&self.pool, id, tenants::update, actor, patch)
    }

    async fn create_member(&self, actor: &Actor, tenant: TenantId, spec: MemberSpec) -> StoreResult<Member> {
        in_tenant!(&self.pool, tenant, members::create, actor, spec)
    }
    async fn add_membership(&self, actor: &Actor, tenant: TenantId, username: &str, role: Role) -> StoreResult<Member> {
        in_tenant!(&self.pool, tenant, members::add, actor, username, role)
    }
    async fn get_member(&self, tenant: TenantId, user_id: Uuid) -> StoreResult<Member> {
        in_tenant!(&self.pool, tenant, members::get, user_id)
    }
    async fn list_members(&self, tenant: TenantId, page: &PageRequest) -> StoreResult<Page<Member>> {
        in_tenant!(&self.pool, tenant, members::list, page)
    }
    async fn update_member(
        &self,
        actor: &Actor,
        tenant: TenantId,
        user_id: Uuid,
        change: MemberChange,
    ) -> StoreResult<Member> {
        in_tenant!(&self.pool, tenant, members::update, actor, user_id, change)
    }

    async fn find_login(&self, username: &str) -> StoreResult<Option<LoginCandidate>> {
        let mut conn = self.pool.acquire().await.map_err(db)?;
        logins::find(&mut conn, username).await
    }
    async fn create_login_session(&self, new: NewLoginSession) -> StoreResult<()> {
        in_tenant!(&self.pool, new.tenant_id, logins::create_session, new)
    }
    async fn resolve_access_token(&self, hash: &TokenHash, now: DateTime<Utc>) -> StoreResult<Option<Principal>> {
        let mut conn = self.pool.acquire().await.map_err(db)?;
        logins::resolve_access(&mut conn, hash, now).await
    }
    async fn refresh_login_session(
        &self,
        refresh_hash: &TokenHash,
        next: TokenPair,
        now: DateTime<Utc>,
    ) -> StoreResult<RefreshOutcome> {
        let mut tx = self.pool.begin().await.map_err(db)?;
        let outcome = logins::refresh(&mut tx, refresh_hash, next, now).await?;
        tx.commit().await.map_err(db)?;
        Ok(outcome)
    }
    async fn revoke_login_session(&self, tenant: TenantId, session_id: Uuid, now: DateTime<Utc>) -> StoreResult<()> {
        in_tenant!(&self.pool, tenant, logins::revoke_session, session_id, now)
    }

    async fn create_api_key(&self, actor: &Actor, tenant: TenantId, spec: ApiKeySpec) -> StoreResult<ApiKey> {
        in_tenant!(&self.pool, tenant, api_keys::create, actor, spec)
    }
    async fn get_api_key(&self, tenant: TenantId, id: Uuid) -> StoreResult<ApiKey> {
        in_tenant!(&self.pool, tenant, api_keys::get, id)
    }
    async fn list_api_keys(&self, tenant: TenantId, page: &PageRequest) -> StoreResult<Page<ApiKey>> {
        in_tenant!(&self.pool, tenant, api_keys::list, page)
    }
    async fn revoke_api_key(
        &self,
        actor: &Actor,
        tenant: TenantId,
        id: Uuid,
        now: DateTime<Utc>,
    ) -> StoreResult<ApiKey> {
        in_tenant!(&self.pool, tenant, api_keys::revoke, actor, id, now)
    }
    async fn resolve_api_key(&self, hash: &TokenHash, now: DateTime<Utc>) -> StoreResult<Option<Principal>> {
        let mut conn = self.pool.acquire().await.map_err(db)?;
        api_keys::resolve(&mut conn, hash, now).await
    }

    async fn create_stream_ticket(&self, principal: &Principal, ticket: NewStreamTicket) -> StoreResult<()> {
        in_tenant!(&self.pool, principal.tenant_id, tickets::create, principal, ticket)
    }
    async fn redeem_stream_ticket(&self, hash: &TokenHash, now: DateTime<Utc>) -> StoreResult<Option<Principal>> {
        let mut conn = self.pool.acquire().await.map_err(db)?;
        tickets::redeem(&mut conn, hash, now).await
    }

    async fn list_audit(&self, tenant: TenantId, page: &PageRequest) -> StoreResult<Page<AuditEntry>> {
        in_tenant!(&self.pool, tenant, audit::list, page)
    }
}
