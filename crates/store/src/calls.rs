//! The calls half of the storage contract: what Lineup knows about each 3CX call, the queue item
//! it became, and the bookkeeping of the ingestion workers (reconciler checkpoints, worker
//! leases).
//!
//! A call's stored state is a [`CallState`](lineup_domain::call::CallState) (a join-semilattice,
//! see `lineup_domain::call`): applying observations merges them in, so applying the same
//! observations again, or in another order, stores the same state. Its [`CallRecord`] is derived from the state and stored beside it
//! in plain columns: analytics reads those.
//!
//! Applying observations also moves the call's queue item, in the same transaction, with the
//! outbox rows of every item change; and it can settle the inbox message the observations came
//! from in that transaction too, so a message is applied exactly once or not at all.

use std::collections::HashMap;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use lineup_domain::call::{CallKey, CallOutcome, CallRecord, Observation};
use lineup_domain::TenantId;
use uuid::Uuid;

use crate::{InboxLease, Page, PageRequest, StoreResult};

/// The history actor of item changes the call lifecycle makes.
pub const CALL_ACTOR: &str = "pbx";

/// What applying observations to a call did.
#[derive(Debug, Clone, PartialEq)]
pub struct AppliedCall {
    /// The call as stored now (unchanged when the lease was lost; a call never stored then comes
    /// back empty, as [`apply::unstored`] makes it).
    pub call: StoredCall,
    /// False when the observations were all known already: nothing was written.
    pub changed: bool,
    /// The queue item was created by this application.
    pub item_created: bool,
    /// Status moves made on the item by this application, in order (transition names, or the
    /// target label when the status was set directly).
    pub item_moves: Vec<String>,
    /// Set when an inbox lease was given and it was no longer the message's: the whole
    /// application was rolled back and nothing changed.
    pub lease_lost: bool,
}

/// One claimed inbox message to apply in a batch ([`CallStore::apply_inbox_batch`]): its lease
/// and the observation it carries.
#[derive(Debug, Clone, PartialEq)]
pub struct InboxApplication {
    pub lease: InboxLease,
    pub observation: Observation,
}

/// What applying one message of a batch did.
#[derive(Debug, Clone, PartialEq)]
pub enum BatchApplied {
    /// Applied and settled (the call may or may not have changed: [`AppliedCall::changed`]).
    Applied(Box<AppliedCall>),
    /// The lease was no longer the message's: nothing of it was kept.
    LeaseLost,
    /// Applying it failed: nothing of it was kept and the message is still leased; the caller
    /// records the error on it ([`crate::InboxStore::fail`]).
    Failed(String),
}

/// One call as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredCall {
    pub tenant_id: TenantId,
    /// The record derived from everything observed (its `key` names connection and call id).
    pub record: CallRecord,
    /// The Lineup queue the call's queue DN maps to, once known and mapped; once the call has an
    /// item, the item's queue (they never disagree).
    pub queue_id: Option<Uuid>,
    /// The queue item the call became, once it entered a mapped queue.
    pub item_id: Option<Uuid>,
    /// Why the call has no item although its queue is mapped (e.g. the queue is inactive), if so.
    pub item_note: Option<String>,
    /// How many observations were merged in that changed the state.
    pub revisions: i64,
    /// When the call was first applied (the `now` of that application).
    pub created_at: DateTime<Utc>,
    /// When the call last changed (the `now` of that application).
    pub updated_at: DateTime<Utc>,
}

/// Filters of a call list. Times filter on `entered_at` (calls that never entered a queue have
/// none and are listed only without a time filter).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CallFilter {
    pub connection_id: Option<Uuid>,
    pub queue_id: Option<Uuid>,
    pub outcome: Option<CallOutcome>,
    /// Only reconciled (or only unreconciled) records.
    pub reconciled: Option<bool>,
    /// `entered_at >= from`.
    pub entered_from: Option<DateTime<Utc>>,
    /// `entered_at < to`.
    pub entered_to: Option<DateTime<Utc>>,
}

/// A named lease that at most one holder owns at a time (e.g. "poll PBX connection X"); it
/// lapses unless renewed, so another node takes over when its holder dies.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkerLease {
    pub name: String,
    pub holder: String,
    pub expires_at: DateTime<Utc>,
    /// Bumped every time the lease changes holder: fences a holder that lost it.
    pub epoch: i64,
}

/// The calls half of the storage contract. Every method but the lease ones is scoped by tenant.
#[async_trait]
pub trait CallStore: Send + Sync {
    /// In one transaction:
    /// 1. merges `observations` (each must be of call `key`; others are refused, before anything
    ///    is written, as `Domain(Invalid { field: "observations" })`, and a lease of another
    ///    tenant as `Domain(Invalid { field: "lease" })`) into the call's stored state (a call not
    ///    seen before starts empty, and is stored even when the observations tell nothing) and
    ///    stores the state and its derived record;
    /// 2. when the record names a queue DN that connection `key.connection` maps to a queue:
    ///    - a call without an item gets one in that queue's current session (its latest active
    ///      session; when it has none, a new session is opened as `create_session` would, named
    ///      `Calls <PBX date of entry>`), display name the caller (or `Unknown caller`), metadata
    ///      `{"call": {"connectionId", "callId", "caller", "queueDn"}}`, in status `Waiting`;
    ///      when no item can be made (inactive queue, refused metadata) the call is stored
    ///      without one and `item_note` says why;
    ///    - when the item was just made or the record's phase changed (so a status a person set by
    ///      hand stays until the call's phase moves on), the item is moved to the record's phase
    ///      through the shortest chain of the session's named transitions
    ///      ([`lineup_domain::call::Phase::transitions_to`] on the session's machine), one history
    ///      entry and one `item_status_changed` event per step, actor [`CALL_ACTOR`]; when no
    ///      chain leads there (history correcting a provisional outcome out of a terminal status)
    ///      the status is set directly with one history entry and event; an item of a completed,
    ///      archived or deleted session is left where it is (one of a paused session moves); a
    ///      session lacking the phase's status label is a `Conflict` (the queue does not use the
    ///      "call" template);
    ///    - then, whenever the call changed and has an item (of a session not deleted), one
    ///      `call_updated` event with the record, its queue and item, after the item's events;
    /// 3. when `lease` is given, completes that inbox message (stamped `now`); when the lease is
    ///    lost, everything is rolled back and [`AppliedCall::lease_lost`] is set.
    ///
    /// Observations already known change nothing (no write, no event): applying is idempotent.
    /// `now` (kept to the microsecond) stamps everything the application writes: the call's
    /// times, item changes and their history, events, and the inbox settlement. A session is
    /// opened only when an item is placed: if placing it is refused, the session is not kept.
    async fn apply_call_observations(
        &self,
        tenant: TenantId,
        key: CallKey,
        observations: &[Observation],
        lease: Option<&InboxLease>,
        now: DateTime<Utc>,
    ) -> StoreResult<AppliedCall>;

    /// Applies claimed inbox messages of one tenant in ONE transaction, each as
    /// [`CallStore::apply_call_observations`] would with its lease, under its own savepoint: a
    /// message whose lease is lost or whose application fails is rolled back alone
    /// ([`BatchApplied::LeaseLost`], [`BatchApplied::Failed`]) while the others are kept, and all
    /// the kept ones commit together, with their outbox rows written last in message order.
    /// Results come back in the order of `messages`. Messages must be of different calls (an
    /// inbox claim hands out at most one per call); a second message of a call in the batch
    /// fails. A lease of another tenant fails its message. An `Err` means nothing was committed
    /// (every lease is still held).
    async fn apply_inbox_batch(
        &self,
        tenant: TenantId,
        messages: &[InboxApplication],
        now: DateTime<Utc>,
    ) -> StoreResult<Vec<BatchApplied>>;

    /// The queue each of `keys` is stored with (calls not stored, or without a queue yet, are
    /// left out): what an inbox processor needs to keep applications that may touch one queue's
    /// sessions in one transaction at a time.
    async fn call_queues(&self, tenant: TenantId, keys: &[CallKey]) -> StoreResult<HashMap<CallKey, Uuid>>;

    /// One call of the tenant; `NotFound(Call)` when never observed.
    async fn get_call(&self, tenant: TenantId, key: CallKey) -> StoreResult<StoredCall>;
    /// The tenant's calls, filtered; sorts by `CreatedAt` (first observed).
    async fn list_calls(
        &self,
        tenant: TenantId,
        filter: &CallFilter,
        page: &PageRequest,
    ) -> StoreResult<Page<StoredCall>>;

    /// A worker's checkpoint for a connection (e.g. the reconciler's "history read up to"), or
    /// `None` when it has never stored one.
    async fn get_checkpoint(
        &self,
        tenant: TenantId,
        connection_id: Uuid,
        name: &str,
    ) -> StoreResult<Option<serde_json::Value>>;
    /// Stores (replaces) a worker's checkpoint for a connection.
    async fn put_checkpoint(
        &self,
        tenant: TenantId,
        connection_id: Uuid,
        name: &str,
        value: &serde_json::Value,
        now: DateTime<Utc>,
    ) -> StoreResult<()>;

    /// Takes lease `name` for `holder` until `now + ttl` when it is free, expired (`expires_at <=
    /// now`), or already `holder`'s (then it is renewed and keeps its epoch); `None` when another
    /// holder has it. One atomic statement, so of concurrent acquirers at most one gets it.
    /// Across tenants; a new name starts at epoch 1.
    async fn acquire_lease(
        &self,
        name: &str,
        holder: &str,
        now: DateTime<Utc>,
        ttl: Duration,
    ) -> StoreResult<Option<WorkerLease>>;
    /// Gives lease `name` up if `holder` has it (another holder's lease is left alone). The lease
    /// stays listed, expired, so its epoch keeps growing with later holders.
    async fn release_lease(&self, name: &str, holder: &str) -> StoreResult<()>;
    /// Every lease, by name (for health reports).
    async fn list_leases(&self) -> StoreResult<Vec<WorkerLease>>;
}

/// What every backend decides the same way when it applies observations: the pure half of
/// [`CallStore::apply_call_observations`], so the backends differ only in SQL.
pub mod apply {
    use chrono::{DateTime, Utc};
    use lineup_domain::call::{transition_path, CallKey, CallOutcome, CallRecord, CallState, Observation, Phase};
    use lineup_domain::{DomainError, NewItem, StatusChangeRequest, StatusMachine, TenantId};

    use super::{StoredCall, CALL_ACTOR};
    use crate::{InboxLease, StoreError, StoreResult};

    /// The display name of a call's item when the caller is unknown.
    pub const UNKNOWN_CALLER: &str = "Unknown caller";

    /// Refuses observations of another call than `key`, and a lease of another tenant, before
    /// anything is written.
    pub fn check(
        tenant: TenantId,
        key: CallKey,
        observations: &[Observation],
        lease: Option<&InboxLease>,
    ) -> StoreResult<()> {
        if let Some(other) = observations.iter().find(|o| o.call != key) {
            let reason = format!(
                "observation {} is of call {}/{}, not of {}/{}",
                other.dedup_key, other.call.connection, other.call.call_id, key.connection, key.call_id
            );
            return Err(DomainError::Invalid { field: "observations", reason }.into());
        }
        if lease.is_some_and(|l| l.tenant_id != tenant) {
            let reason = "the inbox lease is another tenant's".to_string();
            return Err(DomainError::Invalid { field: "lease", reason }.into());
        }
        Ok(())
    }

    /// Checks a batch before any of it is written: per message, `Err(reason)` when it must
    /// fail (a lease of another tenant, or a call already in the batch).
    pub fn check_batch(tenant: TenantId, messages: &[super::InboxApplication]) -> Vec<Result<(), String>> {
        let mut seen = std::collections::HashSet::new();
        messages
            .iter()
            .map(|m| {
                check(tenant, m.observation.call, std::slice::from_ref(&m.observation), Some(&m.lease))
                    .map_err(|e| e.to_string())?;
                if !seen.insert(m.observation.call) {
                    return Err(format!(
                        "call {}/{} has another message in this batch",
                        m.observation.call.connection, m.observation.call.call_id
                    ));
                }
                Ok(())
            })
            .collect()
    }

    /// Merges `observations` into `state` in order; returns how many of them changed it.
    pub fn merge(state: &mut CallState, observations: &[Observation]) -> i64 {
        let mut revisions = 0;
        for observation in observations {
            let before = state.clone();
            state.apply(observation);
            if *state != before {
                revisions += 1;
            }
        }
        revisions
    }

    /// What a call never stored looks like: nothing known, no queue, no item.
    pub fn unstored(tenant: TenantId, key: CallKey, now: DateTime<Utc>) -> StoredCall {
        StoredCall {
            tenant_id: tenant,
            record: CallState::new(key).record(),
            queue_id: None,
            item_id: None,
            item_note: None,
            revisions: 0,
            created_at: now,
            updated_at: now,
        }
    }

    /// The name of a session opened for calls: `Calls <date>` of the call's entry into its queue
    /// (the PBX's date, in UTC), else of `now`.
    pub fn session_name(record: &CallRecord, now: DateTime<Utc>) -> String {
        format!("Calls {}", record.entered_at.unwrap_or(now).format("%Y-%m-%d"))
    }

    /// The item a call becomes: named after the caller, with the call's identity as metadata,
    /// starting in status `waiting` (the session's `Waiting` status).
    pub fn new_item(record: &CallRecord, waiting: uuid::Uuid) -> NewItem {
        let caller = record.caller.as_deref().map(str::trim).filter(|c| !c.is_empty());
        NewItem {
            display_name: caller.unwrap_or(UNKNOWN_CALLER).to_string(),
            metadata: Some(serde_json::json!({
                "call": {
                    "connectionId": record.key.connection,
                    "callId": record.key.call_id,
                    "caller": record.caller,
                    "queueDn": record.queue_dn,
                }
            })),
            status_id: Some(waiting),
        }
    }

    /// The `Conflict` of a session without the status a call phase needs.
    pub fn missing_status(phase: Phase) -> StoreError {
        StoreError::Conflict(format!(
            "the session has no status '{}': its queue does not use the call template",
            phase.status_label()
        ))
    }

    /// How a record's outcome is stored and filtered on: its camelCase serde name.
    pub fn outcome_name(outcome: CallOutcome) -> String {
        serde_name(&outcome)
    }

    /// How a record's phase is stored: its camelCase serde name.
    pub fn phase_name(phase: Phase) -> String {
        serde_name(&phase)
    }

    fn serde_name<T: serde::Serialize>(value: &T) -> String {
        match serde_json::to_value(value) {
            Ok(serde_json::Value::String(name)) => name,
            other => unreachable!("a unit variant serializes as its name, not {other:?}"),
        }
    }

    /// One status move of a call's item.
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub enum ItemMove {
        /// Take this named transition of the session's machine.
        Transition(String),
        /// Set the status with this label directly (no chain of transitions leads there).
        Direct(String),
    }

    impl ItemMove {
        /// How [`super::AppliedCall::item_moves`] names the move.
        pub fn name(&self) -> &str {
            match self {
                ItemMove::Transition(name) | ItemMove::Direct(name) => name,
            }
        }

        /// The status change request of a transition, by [`CALL_ACTOR`].
        pub fn request(name: &str) -> StatusChangeRequest {
            StatusChangeRequest { transition: Some(name.into()), changed_by: Some(CALL_ACTOR.into()), status_id: None }
        }
    }

    /// The moves that take an item from status `from` to `phase`'s status on `machine`: the
    /// shortest chain of named transitions, else one direct move; none when already there.
    pub fn item_moves(machine: &StatusMachine, from: &str, phase: Phase) -> Vec<ItemMove> {
        let to = phase.status_label();
        match transition_path(machine, from, to) {
            Some(names) => names.into_iter().map(ItemMove::Transition).collect(),
            None => vec![ItemMove::Direct(to.to_string())],
        }
    }
}

#[cfg(test)]
mod tests {
    use lineup_domain::call::{call_status_machine, CallOutcome, Phase};

    use super::apply::{item_moves, outcome_name, phase_name, ItemMove};

    #[test]
    fn item_moves_take_the_shortest_chain_or_set_the_status_directly() {
        let machine = call_status_machine();
        let chain = |names: &[&str]| names.iter().map(|n| ItemMove::Transition(n.to_string())).collect::<Vec<_>>();
        let cases = [
            ("Waiting", Phase::Completed, chain(&["ring", "answer", "complete"])),
            ("Waiting", Phase::Abandoned, chain(&["abandon"])),
            ("Ringing", Phase::Waiting, chain(&["requeue"])),
            ("Wrap-up", Phase::Completed, chain(&["complete"])),
            ("Talking", Phase::Talking, chain(&[])),
            ("Completed", Phase::Abandoned, vec![ItemMove::Direct("Abandoned".into())]),
            ("Abandoned", Phase::Completed, vec![ItemMove::Direct("Completed".into())]),
            ("Talking", Phase::Waiting, vec![ItemMove::Direct("Waiting".into())]),
        ];
        for (from, phase, want) in cases {
            assert_eq!(item_moves(&machine, from, phase), want, "{from} -> {phase:?}");
        }
    }

    #[test]
    fn outcomes_and_phases_are_stored_by_their_serde_names() {
        assert_eq!(outcome_name(CallOutcome::InProgress), "inProgress");
        assert_eq!(outcome_name(CallOutcome::Answered), "answered");
        assert_eq!(phase_name(Phase::WrapUp), "wrapUp");
        assert_eq!(phase_name(Phase::Abandoned), "abandoned");
    }
}
