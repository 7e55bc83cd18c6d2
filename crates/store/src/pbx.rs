//! The PBX half of the storage contract: each tenant's connections to its 3CX, their queue
//! mappings, and the cross-tenant list the polling workers start from.
//!
//! The store keeps a connection's client secret only in its sealed form
//! ([`SealedClientSecret`], sealed by the caller under
//! [`lineup_domain::pbx::client_secret_context`]); it never sees the secret in clear, never puts
//! it (sealed or not) into a view or an audit entry, and hands it out only through
//! [`PbxStore::list_enabled_pbx_connections`].
//!
//! Deleting a connection is soft: the row stays (so records that name the connection, such as
//! inbox messages, keep a valid id) but it is hidden from every read, its sealed secret is
//! erased and its queue mappings are removed. A deleted connection is `NotFound`.

use async_trait::async_trait;
use lineup_domain::{
    Actor, PbxConnection, PbxConnectionChange, PbxConnectionSpec, QueueMapping, SealedClientSecret, TenantId,
};
use uuid::Uuid;

use crate::{Page, PageRequest, StoreResult};

/// An enabled connection as the polling workers receive it: its tenant, its view (with the queue
/// mappings) and its sealed client secret, which the worker opens with the configured
/// `SecretBox` under `client_secret_context(connection.id)`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnabledPbxConnection {
    pub tenant_id: TenantId,
    pub connection: PbxConnection,
    pub client_secret: SealedClientSecret,
}

/// The PBX half of the storage contract. Every method but
/// [`list_enabled_pbx_connections`](PbxStore::list_enabled_pbx_connections) is scoped by tenant:
/// another tenant's connection (or a deleted one) is `NotFound(PbxConnection)`. Every change
/// records an audit entry (`pbxConnection.create|update|delete`) in its transaction, whose
/// before and after are views: they never hold the secret, sealed or not.
#[async_trait]
pub trait PbxStore: Send + Sync {
    /// Stores a validated connection (its secret already sealed), without queue mappings.
    async fn create_pbx_connection(
        &self,
        actor: &Actor,
        tenant: TenantId,
        spec: PbxConnectionSpec,
    ) -> StoreResult<PbxConnection>;
    async fn get_pbx_connection(&self, tenant: TenantId, id: Uuid) -> StoreResult<PbxConnection>;
    /// Sorts by `Name` or `CreatedAt`; deleted connections are left out.
    async fn list_pbx_connections(&self, tenant: TenantId, page: &PageRequest) -> StoreResult<Page<PbxConnection>>;
    /// Applies a validated change (a new sealed secret replaces the stored one).
    async fn update_pbx_connection(
        &self,
        actor: &Actor,
        tenant: TenantId,
        id: Uuid,
        change: PbxConnectionChange,
    ) -> StoreResult<PbxConnection>;
    /// Replaces every queue mapping of the connection with `mappings` (validated by
    /// `PbxQueueMappings::validate`: DNs unique and ordered). Every queue must be the tenant's:
    /// otherwise `NotFound(Queue)` and nothing changes.
    async fn set_pbx_queue_mappings(
        &self,
        actor: &Actor,
        tenant: TenantId,
        id: Uuid,
        mappings: Vec<QueueMapping>,
    ) -> StoreResult<PbxConnection>;
    /// Soft-deletes the connection: hidden from every read afterwards, its sealed secret erased,
    /// its mappings removed. Deleting it again is `NotFound`.
    async fn delete_pbx_connection(&self, actor: &Actor, tenant: TenantId, id: Uuid) -> StoreResult<()>;

    /// Every enabled connection of every tenant, with its sealed secret, ordered by tenant and
    /// creation. The one call that reads across tenants: the workers that poll the PBXs start
    /// from it, and act in each connection's tenant afterwards.
    async fn list_enabled_pbx_connections(&self) -> StoreResult<Vec<EnabledPbxConnection>>;
}
