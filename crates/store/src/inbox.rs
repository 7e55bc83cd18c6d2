//! The inbox half of the storage contract: every record the ingestion workers read from 3CX
//! (poller, history reconciler, call log) is enqueued here before it touches the queue core.
//!
//! One message per external record, unique on its dedup key within a tenant and PBX connection,
//! so a record seen twice is stored once (messages are kept after processing so that stays true).
//! Workers [`claim`](InboxStore::claim) due messages under a lease and settle each with
//! [`complete`](InboxStore::complete) or [`fail`](InboxStore::fail). Per-call order: the
//! messages of one call (one `call_key` of one connection) are handed out one at a time, oldest
//! first; a later one waits while an earlier one is pending, in flight or awaiting its retry. A
//! failure is retried with exponential back-off ([`InboxRetryPolicy`]) and, after the last
//! attempt, dead-lettered with its error; a dead letter no longer holds up its call, and an
//! operator replays or discards it.
//!
//! Claims look across tenants: the workers that claim serve every tenant. Settling is scoped by
//! the tenant the lease names, and dead-letter administration by the caller's tenant (a message
//! of another tenant is `NotFound`).
//!
//! Settling is one guarded statement on the message row (its id, its claim number, still in
//! flight), so a backend can later offer it inside a larger transaction: the processor will apply
//! a message to the queue core and complete it in one commit (`complete_in(tx)`), rolling both
//! back when the lease was lost. For now `complete` is its own call.

use std::fmt;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, TimeDelta, Utc};
use lineup_domain::TenantId;
use uuid::Uuid;

use crate::{Page, PageRequest, StoreResult};

/// The texts of the inbox `Conflict`s. Every backend uses exactly these.
pub mod conflict {
    /// `replay_dead_letter` or `discard_dead_letter` of a message that is not a dead letter.
    pub const NOT_A_DEAD_LETTER: &str = "the inbox message is not a dead letter";
}

/// Which reader of 3CX a record came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum InboxSource {
    /// The live poller (active calls, queue state).
    Poller,
    /// The call history reconciler.
    History,
    /// The call log reader.
    CallLog,
}

impl InboxSource {
    /// The stored spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            InboxSource::Poller => "poller",
            InboxSource::History => "history",
            InboxSource::CallLog => "calllog",
        }
    }

    /// Parses the stored spelling.
    pub fn parse(s: &str) -> Option<InboxSource> {
        [InboxSource::Poller, InboxSource::History, InboxSource::CallLog].into_iter().find(|k| k.as_str() == s)
    }
}

impl fmt::Display for InboxSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where a message is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum InboxState {
    /// Waiting to be claimed: due at once, or at `not_before` after a failure.
    Pending,
    /// Claimed by a worker until `leased_until`; claimable again once that has passed.
    InFlight,
    /// Processed. Kept so its dedup key still refuses the record.
    Done,
    /// Failed its last attempt; waits for an operator to replay or discard it.
    Dead,
    /// A dead letter an operator gave up on. Kept so its dedup key still refuses the record.
    Discarded,
}

impl InboxState {
    /// The stored spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            InboxState::Pending => "pending",
            InboxState::InFlight => "in_flight",
            InboxState::Done => "done",
            InboxState::Dead => "dead",
            InboxState::Discarded => "discarded",
        }
    }

    /// Parses the stored spelling.
    pub fn parse(s: &str) -> Option<InboxState> {
        [InboxState::Pending, InboxState::InFlight, InboxState::Done, InboxState::Dead, InboxState::Discarded]
            .into_iter()
            .find(|k| k.as_str() == s)
    }
}

/// A record to enqueue.
#[derive(Debug, Clone, PartialEq)]
pub struct NewInboxMessage {
    /// The PBX connection the record was read from.
    pub connection_id: Uuid,
    pub source: InboxSource,
    /// The call the record belongs to: messages with the same key (and connection) are processed
    /// one at a time, in the order they were enqueued. Must not be empty.
    pub call_key: String,
    /// Identifies the external record: a second message with the same key (same tenant and
    /// connection) is a [`Enqueued::Duplicate`]. Must not be empty.
    pub dedup_key: String,
    pub payload: serde_json::Value,
    /// When the reader saw the record (kept to the microsecond).
    pub observed_at: DateTime<Utc>,
}

/// What enqueueing one record did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Enqueued {
    /// Stored as a new pending message with this id.
    New(Uuid),
    /// A message with this dedup key exists (in any state); nothing was stored.
    Duplicate,
}

/// A stored message, as claims and reads return it.
#[derive(Debug, Clone, PartialEq)]
pub struct InboxMessage {
    pub id: Uuid,
    pub tenant_id: TenantId,
    /// Inbox order: claims hand messages out by ascending `seq`. A replay moves a dead letter to
    /// the end of the line (a new, higher `seq`).
    pub seq: i64,
    pub connection_id: Uuid,
    pub source: InboxSource,
    pub call_key: String,
    pub dedup_key: String,
    pub payload: serde_json::Value,
    pub observed_at: DateTime<Utc>,
    pub enqueued_at: DateTime<Utc>,
    pub state: InboxState,
    /// Failed attempts since it was enqueued or last replayed.
    pub attempts: u32,
    /// How many times it was handed out, ever; the claim number of the current lease.
    pub claims: u32,
    /// A pending message is not handed out before this instant (`None`: due at once).
    pub not_before: Option<DateTime<Utc>>,
    /// The end of the current lease, while in flight.
    pub leased_until: Option<DateTime<Utc>>,
    /// The error of the latest failed attempt.
    pub last_error: Option<String>,
    /// When it became done or dead.
    pub settled_at: Option<DateTime<Utc>>,
}

impl InboxMessage {
    /// The lease of this hand-out, to settle the message with.
    pub fn lease(&self) -> InboxLease {
        InboxLease { tenant_id: self.tenant_id, message_id: self.id, claim: self.claims }
    }
}

/// Proof that a worker holds a message: valid while the message is in flight under this claim
/// number. Once another worker has claimed it after the lease expired, settling with the old
/// lease changes nothing ([`Settlement::LeaseLost`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InboxLease {
    pub tenant_id: TenantId,
    pub message_id: Uuid,
    pub claim: u32,
}

/// Which messages a claim may hand out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClaimScope {
    /// Every tenant's and every connection's messages.
    All,
    /// Only the messages of this PBX connection (a worker beside that connection's poller).
    Connection(Uuid),
}

/// What settling a claimed message did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Settlement {
    /// `complete`: the message is done.
    Completed,
    /// `fail`: the message is pending again and due at `not_before`.
    RetryScheduled { attempts: u32, not_before: DateTime<Utc> },
    /// `fail`: that was the last attempt; the message is a dead letter.
    DeadLettered { attempts: u32 },
    /// The lease is no longer the message's (another worker claimed it after it expired, or it
    /// was settled already): nothing changed.
    LeaseLost,
}

/// How failed messages are retried: after failure `n` (counting from 1) the message waits
/// `base_delay * 2^(n-1)`, at most `max_delay`; failure `max_attempts` dead-letters it. Delays
/// have no jitter, so a schedule is exactly reproducible; claims spread the load anyway.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InboxRetryPolicy {
    /// Attempts in all, the first included (0 is taken as 1: never retry).
    pub max_attempts: u32,
    pub base_delay: Duration,
    pub max_delay: Duration,
}

impl Default for InboxRetryPolicy {
    /// 8 attempts from 1 s doubling up to 5 min (about 7 minutes from first failure to dead letter).
    fn default() -> Self {
        InboxRetryPolicy { max_attempts: 8, base_delay: Duration::from_secs(1), max_delay: Duration::from_secs(300) }
    }
}

impl InboxRetryPolicy {
    /// When a message that has now failed `attempts` times is due again, or `None` when that was
    /// its last attempt and it is dead-lettered.
    pub fn retry_at(&self, attempts: u32, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        if attempts >= self.max_attempts.max(1) {
            return None;
        }
        let doublings = attempts.saturating_sub(1).min(63);
        let delay = self.base_delay.saturating_mul(1u32.checked_shl(doublings).unwrap_or(u32::MAX)).min(self.max_delay);
        Some(later(now, delay))
    }
}

/// The end of a lease of length `lease` taken at `now`, as every backend stores it.
pub fn lease_until(now: DateTime<Utc>, lease: Duration) -> DateTime<Utc> {
    later(now, lease)
}

/// `now + d` to the microsecond, saturating at the last instant chrono knows.
fn later(now: DateTime<Utc>, d: Duration) -> DateTime<Utc> {
    let d = TimeDelta::from_std(d).unwrap_or(TimeDelta::MAX);
    crate::to_micros(now.checked_add_signed(d).unwrap_or(DateTime::<Utc>::MAX_UTC))
}

/// An attempt's error as every backend stores it: NUL characters (which PostgreSQL text cannot
/// hold) become U+FFFD, so recording a failure never fails on its own message.
pub fn storable_error(error: &str) -> String {
    error.replace('\0', "\u{FFFD}")
}

/// How many messages are where: the inbox's gauges.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct InboxDepth {
    /// Waiting to be claimed, due or awaiting a retry.
    pub pending: u64,
    /// Claimed, lease live or expired.
    pub in_flight: u64,
    /// Dead letters waiting for an operator.
    pub dead: u64,
    /// When the oldest pending message was enqueued: how far behind the inbox is.
    pub oldest_pending_at: Option<DateTime<Utc>>,
}

/// The inbox half of the storage contract. Instants a caller passes (`now`, `observed_at`) are
/// kept to the microsecond ([`crate::to_micros`]).
#[async_trait]
pub trait InboxStore: Send + Sync {
    /// Stores a record as a pending message, or does nothing when its dedup key is taken in the
    /// tenant and connection. An empty call or dedup key is refused by the schema (a backend
    /// error: a bug of the caller).
    async fn enqueue(&self, tenant: TenantId, new: NewInboxMessage) -> StoreResult<Enqueued>;
    /// Enqueues records in order in one transaction: all are stored (or found duplicate) or, on
    /// any error, none. A key repeated within the batch is a duplicate of its first occurrence.
    async fn enqueue_many(&self, tenant: TenantId, new: Vec<NewInboxMessage>) -> StoreResult<Vec<Enqueued>>;

    /// Hands out up to `limit` due messages of `scope`, in inbox order, each leased until
    /// `now + lease`. A message is due when it is pending and `not_before` is unset or not after
    /// `now`, or in flight under a lease that ended by `now`. At most one message of a call is
    /// in flight, and it is always the call's oldest unsettled one. Concurrent claimers never
    /// receive the same message under live leases. Runs across tenants.
    async fn claim(
        &self,
        scope: ClaimScope,
        now: DateTime<Utc>,
        limit: u32,
        lease: Duration,
    ) -> StoreResult<Vec<InboxMessage>>;
    /// Marks a claimed message done, stamped `now`. Succeeds under an expired lease as long as no
    /// one claimed the message since; otherwise [`Settlement::LeaseLost`].
    async fn complete(&self, lease: &InboxLease, now: DateTime<Utc>) -> StoreResult<Settlement>;
    /// Records a failed attempt with its error: the message is pending again, due at the time the
    /// policy gives, or dead-lettered when that was its last attempt.
    async fn fail(
        &self,
        lease: &InboxLease,
        error: &str,
        now: DateTime<Utc>,
        policy: &InboxRetryPolicy,
    ) -> StoreResult<Settlement>;

    /// The tenant's dead letters; sorts by `CreatedAt` (when they were enqueued).
    async fn list_dead_letters(&self, tenant: TenantId, page: &PageRequest) -> StoreResult<Page<InboxMessage>>;
    /// One message of the tenant, in any state.
    async fn get_inbox_message(&self, tenant: TenantId, id: Uuid) -> StoreResult<InboxMessage>;
    /// Puts a dead letter back in line, at its end and due from `now`, with no failed attempts
    /// (its last error is kept until the next attempt). `Conflict` when it is not a dead letter.
    async fn replay_dead_letter(&self, tenant: TenantId, id: Uuid, now: DateTime<Utc>) -> StoreResult<InboxMessage>;
    /// Gives up on a dead letter: it is never handed out again, and its dedup key still refuses
    /// the record. Idempotent; `Conflict` when it is neither dead nor discarded.
    async fn discard_dead_letter(&self, tenant: TenantId, id: Uuid) -> StoreResult<()>;

    /// How many messages are pending, in flight and dead, in one tenant or (`None`) in all.
    async fn inbox_depth(&self, tenant: Option<TenantId>) -> StoreResult<InboxDepth>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retries_double_from_the_base_up_to_the_cap_then_dead_letter() {
        let now = DateTime::from_timestamp(1_700_000_000, 0).unwrap();
        let policy = InboxRetryPolicy {
            max_attempts: 5,
            base_delay: Duration::from_secs(10),
            max_delay: Duration::from_secs(50),
        };
        let cases = [(1, Some(10)), (2, Some(20)), (3, Some(40)), (4, Some(50)), (5, None), (6, None)];
        for (attempts, wait) in cases {
            let expected = wait.map(|s| now + TimeDelta::seconds(s));
            assert_eq!(policy.retry_at(attempts, now), expected, "after failure {attempts}");
        }
    }

    #[test]
    fn huge_attempt_counts_and_delays_saturate_at_the_cap() {
        let now = DateTime::from_timestamp(1_700_000_000, 0).unwrap();
        let policy = InboxRetryPolicy {
            max_attempts: u32::MAX,
            base_delay: Duration::from_secs(u64::MAX / 4),
            max_delay: Duration::from_secs(3600),
        };
        assert_eq!(policy.retry_at(200, now), Some(now + TimeDelta::hours(1)));
        let never = InboxRetryPolicy { max_attempts: 0, ..policy };
        assert_eq!(never.retry_at(1, now), None, "0 attempts means one attempt");
    }

    #[test]
    fn sources_and_states_round_trip_their_stored_spelling() {
        for s in [InboxSource::Poller, InboxSource::History, InboxSource::CallLog] {
            assert_eq!(InboxSource::parse(s.as_str()), Some(s));
        }
        for s in [InboxState::Pending, InboxState::InFlight, InboxState::Done, InboxState::Dead, InboxState::Discarded]
        {
            assert_eq!(InboxState::parse(s.as_str()), Some(s));
        }
        assert_eq!(InboxSource::parse("fax"), None);
    }
}
