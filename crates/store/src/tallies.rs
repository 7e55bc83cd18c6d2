//! The analytics half of the storage contract: pre-aggregated tallies of finished calls per
//! queue, agent and 15-minute bucket, and the marks that say in which bucket each call was last
//! counted.
//!
//! A tally is an opaque JSON document to the store (the aggregator builds it with
//! `lineup-analytics`); the store keeps it with the calls it counts (`offered`) so a report can
//! skip empty rows. A bucket is always replaced whole, in one transaction with the marks of the
//! calls it now counts: re-aggregating a bucket is idempotent, and a call corrected into another
//! bucket is found through its mark and taken out of the old one when that is re-aggregated.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use lineup_domain::call::CallKey;
use lineup_domain::TenantId;
use std::collections::HashMap;
use uuid::Uuid;

use crate::{StoreResult, StoredCall};

/// Where the aggregator stopped reading changed calls: the last call's change time and key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct ChangedCallCursor {
    pub updated_at: DateTime<Utc>,
    pub tenant_id: TenantId,
    pub call: CallKey,
}

/// One tally row of a bucket: the whole queue (`agent_dn: None`) or one agent's answered calls.
#[derive(Debug, Clone, PartialEq)]
pub struct TallyRow {
    pub agent_dn: Option<String>,
    /// Calls the tally counts.
    pub offered: i64,
    pub tally: serde_json::Value,
}

/// Everything a queue's 15-minute bucket holds after re-aggregation.
#[derive(Debug, Clone, PartialEq)]
pub struct TallyBucket {
    pub queue_id: Uuid,
    /// The bucket's start (a multiple of 15 minutes, UTC).
    pub bucket_start: DateTime<Utc>,
    /// The rows; none when the bucket counts no call.
    pub rows: Vec<TallyRow>,
    /// The calls the bucket now counts (their marks are set to it).
    pub calls: Vec<CallKey>,
}

/// In which bucket a call was last counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TallyMark {
    pub queue_id: Uuid,
    pub bucket_start: DateTime<Utc>,
}

/// Which tallies a report reads.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum AgentScope {
    /// The queue-wide rows.
    #[default]
    Queue,
    /// One agent's rows.
    Agent(String),
    /// Every agent's rows.
    AllAgents,
}

/// A report's filter: queues (none: all), agent scope, buckets starting in `[from, to)`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TallyFilter {
    pub queue_ids: Vec<Uuid>,
    pub agents: AgentScope,
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
}

/// A stored tally row.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredTally {
    pub queue_id: Uuid,
    pub agent_dn: Option<String>,
    pub bucket_start: DateTime<Utc>,
    pub offered: i64,
    pub tally: serde_json::Value,
    pub updated_at: DateTime<Utc>,
}

/// The analytics half of the storage contract; see the [module docs](self).
#[async_trait]
pub trait TallyStore: Send + Sync {
    /// Calls of every tenant changed after `after` (all when `None`), oldest change first (ties
    /// by tenant and key), at most `limit`.
    async fn changed_calls(
        &self,
        after: Option<ChangedCallCursor>,
        limit: u32,
    ) -> StoreResult<Vec<(ChangedCallCursor, StoredCall)>>;
    /// The marks of those of `calls` that were counted in a bucket.
    async fn tally_marks(&self, tenant: TenantId, calls: &[CallKey]) -> StoreResult<HashMap<CallKey, TallyMark>>;
    /// Replaces the bucket's rows and marks its calls as counted in it, in one transaction. The
    /// queue must be the tenant's (`NotFound(Queue)`).
    async fn replace_tally_bucket(&self, tenant: TenantId, bucket: &TallyBucket, now: DateTime<Utc>)
        -> StoreResult<()>;
    /// The tenant's rows matching `filter`, by bucket, queue and agent (queue-wide first).
    async fn list_tallies(&self, tenant: TenantId, filter: &TallyFilter) -> StoreResult<Vec<StoredTally>>;
    /// Where the aggregator `name` stopped reading changed calls (`None` before it first saved
    /// one). Cursors are global: the aggregator serves every tenant.
    async fn aggregation_cursor(&self, name: &str) -> StoreResult<Option<ChangedCallCursor>>;
    /// Saves the aggregator's position; a cursor before the saved one is ignored (a position
    /// never goes back).
    async fn save_aggregation_cursor(
        &self,
        name: &str,
        cursor: ChangedCallCursor,
        now: DateTime<Utc>,
    ) -> StoreResult<()>;
}
