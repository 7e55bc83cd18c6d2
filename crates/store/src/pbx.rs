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
use chrono::{DateTime, Utc};
use lineup_domain::{
    Actor, PbxAgent, PbxConnection, PbxConnectionChange, PbxConnectionSpec, QueueMapping, SealedClientSecret,
    StoredPbxAgent, TenantId,
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

    /// Replaces the agents of connection `connection_id` with what its PBX reports now, in one
    /// transaction: a new agent is stored with `since = now`; a listed one is updated when
    /// anything about it changed (`since` moves to `now` only when its presence changed,
    /// [`PbxAgent::presence_differs`]); one no longer reported is removed. Returns how many
    /// agents were added, changed or removed. Not audited (the PBX, not a person, changes it).
    /// `NotFound(PbxConnection)` for another tenant's or a deleted connection.
    async fn sync_pbx_agents(
        &self,
        tenant: TenantId,
        connection_id: Uuid,
        agents: &[PbxAgent],
        now: DateTime<Utc>,
    ) -> StoreResult<usize>;
    /// Every agent of the tenant's connections, by connection and extension, with the Lineup
    /// queues their 3CX queues map to.
    async fn list_pbx_agents(&self, tenant: TenantId) -> StoreResult<Vec<StoredPbxAgent>>;
}

/// What every backend decides the same way when it syncs a connection's agents.
pub mod agents {
    use std::collections::BTreeMap;

    use chrono::{DateTime, Utc};
    use lineup_domain::PbxAgent;

    /// One write of a sync.
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub enum AgentWrite {
        /// Store (insert or overwrite) the agent with this `since`.
        Put { agent: PbxAgent, since: DateTime<Utc> },
        /// Remove the agent with this extension.
        Remove { dn: String },
    }

    /// The writes that make the `stored` agents (with their `since`) what the PBX `reported`:
    /// nothing for an unchanged agent; `since` kept unless the presence changed. A DN reported
    /// twice counts once (the last report). In DN order.
    pub fn plan(stored: &[(PbxAgent, DateTime<Utc>)], reported: &[PbxAgent], now: DateTime<Utc>) -> Vec<AgentWrite> {
        let before: BTreeMap<&str, &(PbxAgent, DateTime<Utc>)> = stored.iter().map(|s| (s.0.dn.as_str(), s)).collect();
        let after: BTreeMap<&str, &PbxAgent> = reported.iter().map(|a| (a.dn.as_str(), a)).collect();
        let mut writes = Vec::new();
        for (dn, agent) in &after {
            match before.get(dn) {
                Some((old, _)) if old == *agent => {}
                Some((old, since)) => {
                    let since = if old.presence_differs(agent) { now } else { *since };
                    writes.push(AgentWrite::Put { agent: (*agent).clone(), since });
                }
                None => writes.push(AgentWrite::Put { agent: (*agent).clone(), since: now }),
            }
        }
        writes.extend(
            before.keys().filter(|dn| !after.contains_key(*dn)).map(|dn| AgentWrite::Remove { dn: dn.to_string() }),
        );
        writes
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        fn agent(dn: &str, logged_in: bool, paused: bool) -> PbxAgent {
            PbxAgent { dn: dn.into(), name: format!("Agent {dn}"), queue_dns: vec!["800".into()], logged_in, paused }
        }

        #[test]
        fn unchanged_agents_are_left_presence_changes_restart_since_and_the_missing_are_removed() {
            let t0 = DateTime::from_timestamp(1_800_000_000, 0).unwrap();
            let now = t0 + chrono::TimeDelta::minutes(5);
            let stored =
                [(agent("101", true, false), t0), (agent("102", true, false), t0), (agent("103", false, false), t0)];
            let renamed = PbxAgent { name: "Ana".into(), ..agent("102", true, false) };
            let reported =
                [agent("101", true, false), renamed.clone(), agent("103", true, true), agent("104", true, false)];
            assert_eq!(
                plan(&stored, &reported, now),
                [
                    AgentWrite::Put { agent: renamed, since: t0 },
                    AgentWrite::Put { agent: agent("103", true, true), since: now },
                    AgentWrite::Put { agent: agent("104", true, false), since: now },
                ]
            );
            assert_eq!(plan(&stored, &[], now).len(), 3, "every stored agent is removed");
            assert!(matches!(&plan(&stored, &[], now)[0], AgentWrite::Remove { dn } if dn == "101"));
        }
    }
}
