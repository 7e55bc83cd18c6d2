//! Conformance tests of the inbox: dedup, per-call order, leases, retries with back-off, dead
//! letters and their administration, and concurrent claimers. Every test claims only its own PBX
//! connection's messages ([`ClaimScope::Connection`]), so tests sharing a database never take each
//! other's; times are explicit `now` values around a real instant, so leases and back-off are
//! tested without waiting.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use lineup_domain::TenantId;
use serde_json::json;
use uuid::Uuid;

use super::access::{assert_conflict, read_all_pages};
use super::{assert_not_found, tenant};
use crate::inbox::conflict::NOT_A_DEAD_LETTER;
use crate::{
    now_micros, ClaimScope, DynStore, Enqueued, Entity, InboxDepth, InboxMessage, InboxRetryPolicy, InboxSource,
    InboxState, NewInboxMessage, Settlement, SortKey, SortOrder, StoreError,
};

/// The lease every test claims with unless it says otherwise.
const LEASE: Duration = Duration::from_secs(30);

/// A tenant and one PBX connection of it: the messages a test enqueues and claims.
struct Line {
    store: DynStore,
    tenant: TenantId,
    connection: Uuid,
}

impl Line {
    async fn new(store: &DynStore) -> Line {
        Line { store: store.clone(), tenant: tenant(store).await, connection: Uuid::new_v4() }
    }

    /// A record of `call` whose dedup key is `key` and whose payload names it.
    fn record(&self, call: &str, key: &str) -> NewInboxMessage {
        NewInboxMessage {
            connection_id: self.connection,
            source: InboxSource::Poller,
            call_key: call.into(),
            dedup_key: key.into(),
            payload: json!({ "record": key }),
            observed_at: now_micros(),
        }
    }

    /// Enqueues `(call, key)` records in order; each must be new.
    async fn enqueue(&self, records: &[(&str, &str)]) {
        for (call, key) in records {
            let out = self.store.enqueue(self.tenant, self.record(call, key)).await.unwrap();
            assert!(matches!(out, Enqueued::New(_)), "{key}: {out:?}");
        }
    }

    /// Claims this connection's due messages at `now`.
    async fn claim(&self, now: DateTime<Utc>, limit: u32) -> Vec<InboxMessage> {
        self.store.claim(ClaimScope::Connection(self.connection), now, limit, LEASE).await.unwrap()
    }

    /// The dedup keys of what a claim at `now` hands out, in order.
    async fn claim_keys(&self, now: DateTime<Utc>) -> Vec<String> {
        self.claim(now, 100).await.into_iter().map(|m| m.dedup_key).collect()
    }

    /// Claims exactly the message `key` at `now`.
    async fn claim_one(&self, now: DateTime<Utc>, key: &str) -> InboxMessage {
        let mut claimed = self.claim(now, 100).await;
        assert_eq!(claimed.iter().map(|m| m.dedup_key.as_str()).collect::<Vec<_>>(), [key]);
        claimed.remove(0)
    }

    async fn complete(&self, m: &InboxMessage, now: DateTime<Utc>) {
        assert_eq!(self.store.complete(&m.lease(), now).await.unwrap(), Settlement::Completed, "{}", m.dedup_key);
    }

    async fn fail(&self, m: &InboxMessage, error: &str, now: DateTime<Utc>, policy: &InboxRetryPolicy) -> Settlement {
        self.store.fail(&m.lease(), error, now, policy).await.unwrap()
    }

    /// Turns `key`, the next due message, into a dead letter at `now`.
    async fn dead_letter(&self, key: &str, now: DateTime<Utc>) -> InboxMessage {
        let m = self.claim_one(now, key).await;
        assert_eq!(self.fail(&m, "poison", now, &once()).await, Settlement::DeadLettered { attempts: 1 });
        self.store.get_inbox_message(self.tenant, m.id).await.unwrap()
    }

    async fn depth(&self) -> InboxDepth {
        self.store.inbox_depth(Some(self.tenant)).await.unwrap()
    }
}

/// A policy that dead-letters on the first failure.
fn once() -> InboxRetryPolicy {
    InboxRetryPolicy { max_attempts: 1, ..InboxRetryPolicy::default() }
}

fn secs(s: i64) -> TimeDelta {
    TimeDelta::seconds(s)
}

fn id_of(out: Enqueued) -> Uuid {
    match out {
        Enqueued::New(id) => id,
        Enqueued::Duplicate => panic!("expected a new message"),
    }
}

pub async fn a_repeated_dedup_key_is_stored_once_per_tenant_and_connection(store: DynStore) {
    let line = Line::new(&store).await;
    let record = line.record("call-1", "rec-1");
    let id = id_of(store.enqueue(line.tenant, record.clone()).await.unwrap());
    let stored = store.get_inbox_message(line.tenant, id).await.unwrap();
    assert_eq!(
        (stored.tenant_id, stored.connection_id, stored.source, stored.call_key.as_str(), stored.dedup_key.as_str()),
        (line.tenant, line.connection, InboxSource::Poller, "call-1", "rec-1")
    );
    assert_eq!((stored.payload, stored.observed_at), (record.payload.clone(), record.observed_at));
    assert_eq!((stored.state, stored.attempts, stored.claims), (InboxState::Pending, 0, 0));
    assert_eq!(
        (stored.not_before, stored.leased_until, stored.last_error, stored.settled_at),
        (None, None, None, None)
    );

    let again = NewInboxMessage { payload: json!({ "record": "changed" }), ..record.clone() };
    assert_eq!(store.enqueue(line.tenant, again).await.unwrap(), Enqueued::Duplicate);
    assert_eq!(store.get_inbox_message(line.tenant, id).await.unwrap().payload, record.payload, "the first copy stays");
    let other_connection = NewInboxMessage { connection_id: Uuid::new_v4(), ..record.clone() };
    assert!(matches!(store.enqueue(line.tenant, other_connection).await.unwrap(), Enqueued::New(_)));
    let other_tenant = tenant(&store).await;
    // Connections belong to one tenant; the key is still the other tenant's own.
    let elsewhere = NewInboxMessage { connection_id: Uuid::new_v4(), ..record.clone() };
    assert!(matches!(store.enqueue(other_tenant, elsewhere).await.unwrap(), Enqueued::New(_)));
    assert_eq!(line.depth().await.pending, 2);

    let now = now_micros();
    let m = line.claim_one(now, "rec-1").await;
    line.complete(&m, now).await;
    assert_eq!(
        store.enqueue(line.tenant, record).await.unwrap(),
        Enqueued::Duplicate,
        "a processed record is still refused"
    );
}

pub async fn enqueue_many_reports_each_record_in_order(store: DynStore) {
    let line = Line::new(&store).await;
    line.enqueue(&[("c", "k3")]).await;
    let batch = vec![line.record("c", "k1"), line.record("c", "k2"), line.record("c", "k1"), line.record("c", "k3")];
    let out = store.enqueue_many(line.tenant, batch).await.unwrap();
    assert!(
        matches!(out[..], [Enqueued::New(_), Enqueued::New(_), Enqueued::Duplicate, Enqueued::Duplicate]),
        "{out:?}"
    );
    assert_eq!(store.enqueue_many(line.tenant, Vec::new()).await.unwrap(), []);
    let now = now_micros();
    for key in ["k3", "k1", "k2"] {
        let m = line.claim_one(now, key).await;
        line.complete(&m, now).await;
    }
}

pub async fn enqueue_many_stores_all_or_nothing(store: DynStore) {
    let line = Line::new(&store).await;
    let batch = vec![line.record("c", "k1"), line.record("c", "")];
    assert!(store.enqueue_many(line.tenant, batch).await.is_err(), "an empty dedup key is refused");
    assert_eq!(line.depth().await, InboxDepth::default(), "the batch's first record was rolled back");
    assert!(line.claim_keys(now_micros()).await.is_empty());
    assert!(matches!(store.enqueue(line.tenant, line.record("c", "k1")).await.unwrap(), Enqueued::New(_)));
}

pub async fn claims_hand_out_one_message_per_call_oldest_first(store: DynStore) {
    let line = Line::new(&store).await;
    line.enqueue(&[("A", "a1"), ("B", "b1"), ("A", "a2"), ("C", "c1"), ("B", "b2"), ("A", "a3")]).await;
    let now = now_micros();
    let first = line.claim(now, 2).await;
    assert_eq!(first.iter().map(|m| m.dedup_key.as_str()).collect::<Vec<_>>(), ["a1", "b1"], "limit and order");
    assert!(first.iter().all(|m| m.state == InboxState::InFlight && m.claims == 1));
    assert!(first.iter().all(|m| m.leased_until == Some(now + secs(30))));
    let c1 = line.claim_one(now, "c1").await;
    assert!(line.claim_keys(now).await.is_empty(), "every call has a message in flight");
    line.complete(&first[1], now).await;
    let b2 = line.claim_one(now, "b2").await;
    line.complete(&first[0], now).await;
    let a2 = line.claim_one(now, "a2").await;
    for m in [&c1, &b2, &a2] {
        line.complete(m, now).await;
    }
    let a3 = line.claim_one(now, "a3").await;
    assert!(first[0].seq < a2.seq && a2.seq < a3.seq);
    line.complete(&a3, now).await;
    assert!(line.claim_keys(now).await.is_empty());
    assert_eq!(line.depth().await, InboxDepth::default());
    let done = store.get_inbox_message(line.tenant, a3.id).await.unwrap();
    assert_eq!((done.state, done.leased_until, done.settled_at), (InboxState::Done, None, Some(now)));
}

pub async fn a_claim_for_one_connection_leaves_the_others_alone(store: DynStore) {
    let line = Line::new(&store).await;
    let other = Line { store: store.clone(), tenant: line.tenant, connection: Uuid::new_v4() };
    line.enqueue(&[("A", "mine")]).await;
    other.enqueue(&[("A", "theirs")]).await;
    let now = now_micros();
    assert_eq!(line.claim_keys(now).await, ["mine"], "the same call key on another connection is another call");
    assert_eq!(other.claim_keys(now).await, ["theirs"]);
}

pub async fn a_failing_message_holds_up_its_call_but_not_the_others(store: DynStore) {
    let line = Line::new(&store).await;
    line.enqueue(&[("A", "a1"), ("A", "a2"), ("B", "b1")]).await;
    let t0 = now_micros();
    let policy =
        InboxRetryPolicy { max_attempts: 3, base_delay: Duration::from_secs(10), max_delay: Duration::from_secs(60) };
    let claimed = line.claim(t0, 10).await;
    assert_eq!(claimed.iter().map(|m| m.dedup_key.as_str()).collect::<Vec<_>>(), ["a1", "b1"]);
    let retry = line.fail(&claimed[0], "3CX said no", t0, &policy).await;
    assert_eq!(retry, Settlement::RetryScheduled { attempts: 1, not_before: t0 + secs(10) });
    line.complete(&claimed[1], t0).await;
    assert!(line.claim_keys(t0).await.is_empty(), "a2 waits behind a1, which is not due");
    line.enqueue(&[("B", "b2")]).await;
    assert_eq!(line.claim_keys(t0 + secs(5)).await, ["b2"], "other calls keep flowing");
    let again = line.claim_one(t0 + secs(10), "a1").await;
    assert_eq!((again.attempts, again.claims, again.last_error.as_deref()), (1, 2, Some("3CX said no")));
    line.complete(&again, t0 + secs(10)).await;
    line.claim_one(t0 + secs(10), "a2").await;
}

pub async fn an_expired_lease_makes_a_message_claimable_again(store: DynStore) {
    let line = Line::new(&store).await;
    line.enqueue(&[("A", "a1"), ("A", "a2")]).await;
    let t0 = now_micros();
    let first = line.claim_one(t0, "a1").await;
    assert!(line.claim_keys(t0 + secs(29)).await.is_empty(), "the lease still holds");
    let second = line.claim_one(t0 + secs(30), "a1").await;
    assert_eq!((second.claims, second.leased_until), (2, Some(t0 + secs(60))));
    let policy = InboxRetryPolicy::default();
    assert_eq!(store.complete(&first.lease(), t0 + secs(31)).await.unwrap(), Settlement::LeaseLost);
    assert_eq!(store.fail(&first.lease(), "late", t0 + secs(31), &policy).await.unwrap(), Settlement::LeaseLost);
    let held = store.get_inbox_message(line.tenant, first.id).await.unwrap();
    assert_eq!(
        (held.state, held.claims, held.attempts),
        (InboxState::InFlight, 2, 0),
        "the stale lease changed nothing"
    );
    line.complete(&second, t0 + secs(31)).await;
    assert_eq!(store.complete(&second.lease(), t0 + secs(31)).await.unwrap(), Settlement::LeaseLost, "settled once");
    line.claim_one(t0 + secs(31), "a2").await;
}

pub async fn failures_back_off_exponentially_then_dead_letter_with_the_error(store: DynStore) {
    let line = Line::new(&store).await;
    line.enqueue(&[("A", "a1"), ("A", "a2")]).await;
    let policy =
        InboxRetryPolicy { max_attempts: 4, base_delay: Duration::from_secs(10), max_delay: Duration::from_secs(25) };
    let mut now = now_micros();
    for (attempt, wait) in [(1, 10), (2, 20), (3, 25)] {
        let m = line.claim_one(now, "a1").await;
        let settled = line.fail(&m, &format!("boom {attempt}"), now, &policy).await;
        assert_eq!(settled, Settlement::RetryScheduled { attempts: attempt, not_before: now + secs(wait) });
        let due = now + secs(wait);
        assert!(line.claim_keys(due - TimeDelta::microseconds(1)).await.is_empty(), "not before {wait}s");
        now = due;
    }
    let m = line.claim_one(now, "a1").await;
    assert_eq!(line.fail(&m, "boom 4", now, &policy).await, Settlement::DeadLettered { attempts: 4 });
    let dead = store.get_inbox_message(line.tenant, m.id).await.unwrap();
    assert_eq!(dead.state, InboxState::Dead);
    assert_eq!((dead.attempts, dead.last_error.as_deref(), dead.settled_at), (4, Some("boom 4"), Some(now)));
    assert_eq!(dead.leased_until, None);
    let depth = line.depth().await;
    assert_eq!((depth.pending, depth.in_flight, depth.dead), (1, 0, 1));
    assert_eq!(line.claim_keys(now + secs(3600)).await, ["a2"], "a dead letter no longer holds up its call");
}

pub async fn replayed_dead_letters_run_again_at_the_end_of_their_line(store: DynStore) {
    let line = Line::new(&store).await;
    line.enqueue(&[("A", "a1"), ("A", "a2")]).await;
    let now = now_micros();
    let dead = line.dead_letter("a1", now).await;
    let a2 = line.claim_one(now, "a2").await;
    let later = now + secs(5);
    let replayed = store.replay_dead_letter(line.tenant, dead.id, later).await.unwrap();
    assert_eq!((replayed.state, replayed.attempts, replayed.not_before), (InboxState::Pending, 0, Some(later)));
    assert_eq!((replayed.settled_at, replayed.last_error.as_deref()), (None, Some("poison")));
    assert!(replayed.seq > a2.seq, "a replayed message goes to the end of its call's line");
    assert_eq!(store.get_inbox_message(line.tenant, dead.id).await.unwrap(), replayed);
    assert!(line.claim_keys(later).await.is_empty(), "a2 is still in flight");
    line.complete(&a2, later).await;
    assert!(line.claim_keys(now).await.is_empty(), "due from the replay on");
    let again = line.claim_one(later, "a1").await;
    line.complete(&again, later).await;
    let err = store.replay_dead_letter(line.tenant, dead.id, later).await.unwrap_err();
    assert_conflict(err, NOT_A_DEAD_LETTER);
}

pub async fn discarded_dead_letters_are_never_handed_out_again(store: DynStore) {
    let line = Line::new(&store).await;
    line.enqueue(&[("A", "a1")]).await;
    let now = now_micros();
    let dead = line.dead_letter("a1", now).await;
    store.discard_dead_letter(line.tenant, dead.id).await.unwrap();
    store.discard_dead_letter(line.tenant, dead.id).await.unwrap();
    assert_eq!(store.get_inbox_message(line.tenant, dead.id).await.unwrap().state, InboxState::Discarded);
    let page = crate::PageRequest::first(SortKey::CreatedAt, SortOrder::Asc);
    assert!(store.list_dead_letters(line.tenant, &page).await.unwrap().items.is_empty());
    assert_eq!(line.depth().await, InboxDepth::default());
    assert_conflict(store.replay_dead_letter(line.tenant, dead.id, now).await.unwrap_err(), NOT_A_DEAD_LETTER);
    assert_eq!(store.enqueue(line.tenant, line.record("A", "a1")).await.unwrap(), Enqueued::Duplicate);
    assert!(line.claim_keys(now + secs(3600)).await.is_empty(), "a discarded message is never handed out");

    line.enqueue(&[("B", "b1")]).await;
    let b1 = line.claim_one(now, "b1").await;
    assert_conflict(store.discard_dead_letter(line.tenant, b1.id).await.unwrap_err(), NOT_A_DEAD_LETTER);
    line.complete(&b1, now).await;
    assert_conflict(store.discard_dead_letter(line.tenant, b1.id).await.unwrap_err(), NOT_A_DEAD_LETTER);
}

pub async fn dead_letter_administration_is_tenant_scoped(store: DynStore) {
    let line = Line::new(&store).await;
    line.enqueue(&[("A", "a1")]).await;
    let now = now_micros();
    let dead = line.dead_letter("a1", now).await;
    let other = tenant(&store).await;
    assert_not_found(store.get_inbox_message(other, dead.id).await.unwrap_err(), Entity::InboxMessage);
    assert_not_found(store.replay_dead_letter(other, dead.id, now).await.unwrap_err(), Entity::InboxMessage);
    assert_not_found(store.discard_dead_letter(other, dead.id).await.unwrap_err(), Entity::InboxMessage);
    assert_not_found(store.get_inbox_message(line.tenant, Uuid::new_v4()).await.unwrap_err(), Entity::InboxMessage);
    let page = crate::PageRequest::first(SortKey::CreatedAt, SortOrder::Desc);
    assert!(store.list_dead_letters(other, &page).await.unwrap().items.is_empty());
    assert_eq!(store.inbox_depth(Some(other)).await.unwrap(), InboxDepth::default());
    assert_eq!(store.get_inbox_message(line.tenant, dead.id).await.unwrap(), dead, "nothing changed");
    assert_eq!(store.list_dead_letters(line.tenant, &page).await.unwrap().items, [dead]);
}

pub async fn dead_letter_lists_paginate_in_both_orders(store: DynStore) {
    let line = Line::new(&store).await;
    let calls = ["c0", "c1", "c2", "c3", "c4"];
    for call in calls {
        line.enqueue(&[(call, call), (call, &format!("{call}-ok"))]).await;
    }
    let now = now_micros();
    let claimed = line.claim(now, 100).await;
    assert_eq!(claimed.len(), calls.len(), "one message per call");
    for m in &claimed {
        assert_eq!(line.fail(m, "poison", now, &once()).await, Settlement::DeadLettered { attempts: 1 });
    }
    let mut expected = Vec::new();
    for m in &claimed {
        expected.push(store.get_inbox_message(line.tenant, m.id).await.unwrap());
    }
    expected.sort_by_key(|m| (m.enqueued_at, m.id));
    let tenant = line.tenant;
    let fetch = |order| {
        let store = store.clone();
        read_all_pages(SortKey::CreatedAt, order, 2, move |req| {
            let store = store.clone();
            async move { store.list_dead_letters(tenant, &req).await }
        })
    };
    assert_eq!(fetch(SortOrder::Asc).await, expected);
    expected.reverse();
    assert_eq!(fetch(SortOrder::Desc).await, expected);
    let by_name = crate::PageRequest::first(SortKey::Name, SortOrder::Asc);
    assert!(matches!(store.list_dead_letters(line.tenant, &by_name).await, Err(StoreError::InvalidPage(_))));
}

pub async fn inbox_depth_counts_pending_in_flight_and_dead(store: DynStore) {
    let line = Line::new(&store).await;
    line.enqueue(&[("A", "a1")]).await;
    let now = now_micros();
    line.dead_letter("a1", now).await;
    line.enqueue(&[("B", "b1"), ("C", "c1"), ("A", "a2"), ("D", "d1")]).await;
    let claimed = line.claim(now, 2).await;
    assert_eq!(claimed.iter().map(|m| m.dedup_key.as_str()).collect::<Vec<_>>(), ["b1", "c1"]);
    line.complete(&claimed[1], now).await;
    let none = store.claim(ClaimScope::Connection(line.connection), now, 0, LEASE).await.unwrap();
    assert!(none.is_empty(), "a claim of no messages claims none");
    let depth = line.depth().await;
    assert_eq!((depth.pending, depth.in_flight, depth.dead), (2, 1, 1));
    let a2 = line.claim(now + secs(1), 100).await;
    assert_eq!(a2.iter().map(|m| m.dedup_key.as_str()).collect::<Vec<_>>(), ["a2", "d1"]);
    let depth = line.depth().await;
    assert_eq!((depth.pending, depth.in_flight, depth.dead, depth.oldest_pending_at), (0, 3, 1, None));
    for m in &a2 {
        let settled = line.fail(m, "later", now, &InboxRetryPolicy::default()).await;
        assert!(matches!(settled, Settlement::RetryScheduled { .. }), "{settled:?}");
    }
    let depth = line.depth().await;
    assert_eq!((depth.pending, depth.in_flight, depth.dead), (2, 1, 1));
    let oldest = store.get_inbox_message(line.tenant, a2[0].id).await.unwrap().enqueued_at;
    assert_eq!(depth.oldest_pending_at, Some(oldest));
    let all = store.inbox_depth(None).await.unwrap();
    assert!(all.pending >= 2 && all.in_flight >= 1 && all.dead >= 1, "the store-wide depth includes this tenant's");
}

/// Four workers claim, fail some messages once and complete everything. Every message is in one
/// worker's hands at a time, no call ever has two in hand, and each call's messages complete
/// exactly once, in the order they were enqueued.
pub async fn concurrent_claimers_process_every_message_exactly_once_in_call_order(store: DynStore) {
    const CALLS: usize = 12;
    const PER_CALL: usize = 8;
    let line = Arc::new(Line::new(&store).await);
    let mut batch = Vec::new();
    for i in 0..PER_CALL {
        for c in 0..CALLS {
            batch.push(line.record(&format!("call-{c}"), &format!("{c}/{i}")));
        }
    }
    store.enqueue_many(line.tenant, batch).await.unwrap();
    let retry_at_once = InboxRetryPolicy { max_attempts: 3, base_delay: Duration::ZERO, max_delay: Duration::ZERO };

    #[derive(Default)]
    struct Log {
        in_hand: HashSet<Uuid>,
        calls_in_hand: HashSet<String>,
        completed: HashMap<String, Vec<usize>>,
        failed_once: HashSet<Uuid>,
    }
    let log = Arc::new(Mutex::new(Log::default()));
    let mut workers = Vec::new();
    for _ in 0..4 {
        let (line, log) = (line.clone(), log.clone());
        workers.push(tokio::spawn(async move {
            loop {
                let claimed = line.claim(Utc::now(), 5).await;
                if claimed.is_empty() {
                    let depth = line.depth().await;
                    if depth.pending + depth.in_flight == 0 {
                        return;
                    }
                    tokio::time::sleep(Duration::from_millis(2)).await;
                    continue;
                }
                {
                    let mut log = log.lock().unwrap();
                    for m in &claimed {
                        assert!(log.in_hand.insert(m.id), "{} handed out twice", m.dedup_key);
                        assert!(log.calls_in_hand.insert(m.call_key.clone()), "two of {} in hand", m.call_key);
                    }
                }
                for m in claimed {
                    let (call, index) = m.dedup_key.split_once('/').unwrap();
                    let index: usize = index.parse().unwrap();
                    let fails = {
                        let mut log = log.lock().unwrap();
                        let fails = index % 3 == 0 && log.failed_once.insert(m.id);
                        if !fails {
                            log.completed.entry(call.to_string()).or_default().push(index);
                        }
                        // Out of our hands before the store hears of it: from then on another
                        // worker may rightly claim the call's next message (or this one again).
                        log.in_hand.remove(&m.id);
                        log.calls_in_hand.remove(&m.call_key);
                        fails
                    };
                    let settled = if fails {
                        line.store.fail(&m.lease(), "first try fails", Utc::now(), &retry_at_once).await.unwrap()
                    } else {
                        line.store.complete(&m.lease(), Utc::now()).await.unwrap()
                    };
                    assert!(
                        matches!(settled, Settlement::Completed | Settlement::RetryScheduled { .. }),
                        "{settled:?}"
                    );
                }
            }
        }));
    }
    let all_done = async {
        for w in workers {
            w.await.unwrap();
        }
    };
    tokio::time::timeout(Duration::from_secs(120), all_done).await.expect("the workers finish");
    {
        let log = log.lock().unwrap();
        assert_eq!(log.completed.len(), CALLS);
        for (call, order) in &log.completed {
            assert_eq!(*order, (0..PER_CALL).collect::<Vec<_>>(), "{call} completed out of order or twice");
        }
        assert_eq!(log.failed_once.len(), CALLS * PER_CALL.div_ceil(3));
    }
    assert_eq!(line.depth().await, InboxDepth::default());
}
