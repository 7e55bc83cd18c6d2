//! Conformance tests of calls: observations becoming a queue item that follows the call's phases
//! (idempotent, order-free, settled with the inbox message), sessions opened for calls, calls
//! without items, tenant isolation, lists, worker checkpoints and leases, and concurrent merges.
//!
//! Every test has its own tenant with a "call" template queue (prefix `C`) fed by DN 800 of its
//! own PBX connection. PBX times are explicit instants on 2024-05-06, so records and session
//! names are exact.

use std::collections::BTreeSet;
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use lineup_domain::call::{
    call_template, fold, CallKey, CallOutcome, CallRecord, Observation, ObservationKind, Phase, ReconciledCall, Source,
};
use lineup_domain::{EventKind, Lifecycle, NewQueue, NewSession, NewTemplate, Queue, QueueMapping, QueuePatch};
use serde_json::json;
use uuid::Uuid;

use super::access::{read_all_pages, system};
use super::pbx::new_pbx_connection;
use super::{assert_domain, assert_not_found, item, service_template, tenant};
use crate::{
    now_micros, AppliedCall, BatchApplied, CallFilter, ClaimScope, DynStore, Entity, EventScope, InboxApplication,
    InboxSource, InboxState, ItemFilter, NewInboxMessage, PageRequest, SortKey, SortOrder, StoreError, StoredCall,
    CALL_ACTOR,
};

/// A tenant whose PBX connection maps DN 800 to queue `C` of the "call" template.
pub(super) struct Line {
    store: DynStore,
    pub(super) tenant: Uuid,
    pub(super) queue: Queue,
    connection: Uuid,
}

impl Line {
    pub(super) async fn new(store: &DynStore) -> Line {
        Line::with_template(store, call_template("Calls")).await
    }

    async fn with_template(store: &DynStore, template: NewTemplate) -> Line {
        let tenant = tenant(store).await;
        let template = store.create_template(tenant, template).await.unwrap();
        let new = NewQueue { name: "Sales".into(), template_id: template.id, prefix: Some("c".into()) };
        let queue = store.create_queue(tenant, new).await.unwrap();
        let connection = new_pbx_connection(store, tenant, "PBX").await.id;
        let line = Line { store: store.clone(), tenant, queue, connection };
        line.map(&[("800", line.queue.id)]).await;
        line
    }

    async fn map(&self, dns: &[(&str, Uuid)]) {
        let mappings =
            dns.iter().map(|(dn, queue_id)| QueueMapping { dn: dn.to_string(), queue_id: *queue_id }).collect();
        self.store.set_pbx_queue_mappings(&system(), self.tenant, self.connection, mappings).await.unwrap();
    }

    pub(super) fn key(&self, call_id: i32) -> CallKey {
        CallKey { connection: self.connection, call_id }
    }

    pub(super) async fn apply(&self, key: CallKey, observations: &[Observation]) -> AppliedCall {
        self.store.apply_call_observations(self.tenant, key, observations, None, now_micros()).await.unwrap()
    }

    pub(super) async fn session(&self) -> lineup_domain::Session {
        self.store.create_session(self.tenant, self.queue.id, NewSession::default()).await.unwrap()
    }

    /// The label of the item's status.
    async fn status_of(&self, item_id: Uuid) -> String {
        let item = self.store.get_item(self.tenant, item_id).await.unwrap();
        let statuses = self.store.list_session_statuses(self.tenant, item.session_id).await.unwrap();
        statuses.into_iter().find(|s| s.id == item.status_id).unwrap().label
    }

    async fn item_events(&self, item_id: Uuid) -> Vec<crate::StoredEvent> {
        self.store.read_events(self.tenant, EventScope::Item(item_id), 0, 1000).await.unwrap()
    }

    async fn items(&self, session_id: Uuid) -> Vec<lineup_domain::Item> {
        let page = PageRequest::first(SortKey::Number, SortOrder::Asc);
        self.store.list_items(self.tenant, session_id, &ItemFilter::default(), &page).await.unwrap().items
    }

    async fn sessions(&self) -> Vec<lineup_domain::Session> {
        let page = PageRequest::first(SortKey::SessionNumber, SortOrder::Asc);
        self.store.list_sessions(self.tenant, self.queue.id, &page).await.unwrap().items
    }
}

/// A PBX instant: 2024-05-06 09:00:00 UTC plus `s` seconds.
fn pbx(s: i64) -> DateTime<Utc> {
    DateTime::from_timestamp(1_714_986_000, 0).unwrap() + TimeDelta::seconds(s)
}

fn seen(key: CallKey, s: i64, kind: ObservationKind) -> Observation {
    Observation::new(key, Source::Poller, pbx(s), kind)
}

fn history(key: CallKey, s: i64, facts: ReconciledCall) -> Observation {
    Observation::new(key, Source::History, pbx(s), ObservationKind::Reconciled(facts))
}

/// What the poller sees of a call answered by 101 and ended a minute later.
pub(super) fn answered_call(key: CallKey) -> Vec<Observation> {
    vec![
        seen(key, 0, ObservationKind::Appeared { caller: "+4930123".into(), callee: "800".into() }),
        seen(key, 1, ObservationKind::EnteredQueue { queue_dn: "800".into() }),
        seen(key, 5, ObservationKind::Ringing { agent_dn: "101".into() }),
        seen(key, 9, ObservationKind::Answered { agent_dn: "101".into() }),
        seen(key, 60, ObservationKind::Ended),
    ]
}

/// What the poller sees of a call that hangs up while waiting in queue `dn`.
fn abandoned_call(key: CallKey, dn: &str) -> Vec<Observation> {
    vec![
        seen(key, 0, ObservationKind::Appeared { caller: "+4930999".into(), callee: dn.into() }),
        seen(key, 1, ObservationKind::EnteredQueue { queue_dn: dn.into() }),
        seen(key, 30, ObservationKind::Ended),
    ]
}

/// The record without its key, to compare the records of two calls.
fn unkeyed(record: &CallRecord) -> CallRecord {
    CallRecord { key: CallKey { connection: Uuid::nil(), call_id: 0 }, ..record.clone() }
}

pub async fn a_call_becomes_one_numbered_item_that_follows_its_phases(store: DynStore) {
    let line = Line::new(&store).await;
    let session = line.session().await;
    store.create_item(line.tenant, session.id, item("Walk-in")).await.unwrap();
    let key = line.key(7);
    let observations = answered_call(key);
    let appeared = line.apply(key, &observations[..1]).await;
    assert!(appeared.changed && !appeared.item_created && !appeared.lease_lost);
    assert_eq!((appeared.call.queue_id, appeared.call.item_id, appeared.call.item_note.clone()), (None, None, None));
    let entered = line.apply(key, &observations[1..2]).await;
    assert!(entered.item_created);
    assert!(entered.item_moves.is_empty(), "a new item starts in Waiting: {:?}", entered.item_moves);
    assert_eq!(entered.call.queue_id, Some(line.queue.id));
    let item_id = entered.call.item_id.unwrap();
    let expected_moves = [("ring", "Ringing"), ("answer", "Talking"), ("complete", "Completed")];
    for (observation, (transition, label)) in observations[2..].iter().zip(expected_moves) {
        let applied = line.apply(key, std::slice::from_ref(observation)).await;
        assert!(applied.changed && !applied.item_created);
        assert_eq!(applied.item_moves, [transition]);
        assert_eq!(applied.call.item_id, Some(item_id));
        assert_eq!(line.status_of(item_id).await, label);
    }

    let stored = store.get_call(line.tenant, key).await.unwrap();
    assert_eq!(stored.record, fold(key, &observations).record());
    assert_eq!((stored.record.outcome, stored.record.phase), (CallOutcome::Answered, Phase::Completed));
    assert_eq!((stored.tenant_id, stored.revisions, stored.item_note.clone()), (line.tenant, 5, None));
    assert!(stored.created_at <= stored.updated_at);
    let it = store.get_item(line.tenant, item_id).await.unwrap();
    assert_eq!((it.session_id, it.queue_id, it.queue_number.as_str()), (session.id, line.queue.id, "C-2"));
    assert_eq!(it.display_name, "+4930123");
    let call = json!({"connectionId": line.connection, "callId": 7, "caller": "+4930123", "queueDn": "800"});
    assert_eq!(it.metadata, json!({ "call": call }));
    let history = store.item_history(line.tenant, item_id).await.unwrap();
    assert_eq!(history.len(), 4);
    assert!(history.iter().all(|h| h.changed_by == CALL_ACTOR), "{history:?}");
    let events = line.item_events(item_id).await;
    let kinds: Vec<EventKind> = events.iter().map(|e| e.kind).collect();
    use EventKind::{CallUpdated, ItemCreated, ItemStatusChanged};
    let each_move = [ItemStatusChanged, CallUpdated];
    assert_eq!(kinds, [[ItemCreated, CallUpdated], each_move, each_move, each_move].concat());
    let moves = events.iter().filter(|e| e.kind == ItemStatusChanged);
    assert!(moves.clone().count() == 3 && moves.into_iter().all(|e| e.payload["changedBy"] == CALL_ACTOR));
    assert!(events.iter().all(|e| e.session_id == session.id && e.item_id == Some(item_id)));
    let last = &events.last().unwrap().payload;
    assert_eq!((last["queueId"].clone(), last["itemId"].clone()), (json!(line.queue.id), json!(item_id)));
    assert_eq!(last["record"], serde_json::to_value(&stored.record).unwrap(), "call_updated carries the record");
    assert_eq!(line.items(session.id).await.len(), 2, "one item per call");
}

pub async fn applying_known_observations_again_changes_nothing(store: DynStore) {
    let line = Line::new(&store).await;
    line.session().await;
    let key = line.key(1);
    let observations = answered_call(key);
    let first = line.apply(key, &observations).await;
    assert!(first.changed && first.item_created);
    assert_eq!(first.item_moves, ["ring", "answer", "complete"]);
    let item_id = first.call.item_id.unwrap();
    let events = line.item_events(item_id).await.len();
    for again in [&observations[..], &observations[2..3], &observations[4..]] {
        let applied = line.apply(key, again).await;
        assert!(!applied.changed && !applied.item_created && applied.item_moves.is_empty());
        assert_eq!(applied.call, first.call, "revisions and times are unchanged");
    }
    assert_eq!(store.get_call(line.tenant, key).await.unwrap(), first.call);
    assert_eq!(line.item_events(item_id).await.len(), events, "no new events");
    assert_eq!(store.item_history(line.tenant, item_id).await.unwrap().len(), 4);
}

pub async fn observations_in_any_order_store_the_same_record(store: DynStore) {
    let line = Line::new(&store).await;
    line.session().await;
    let (forward, backward, batch) = (line.key(1), line.key(2), line.key(3));
    for observation in answered_call(forward) {
        line.apply(forward, &[observation]).await;
    }
    for observation in answered_call(backward).into_iter().rev() {
        line.apply(backward, &[observation]).await;
    }
    let mut shuffled = answered_call(batch);
    shuffled.swap(0, 3);
    shuffled.swap(1, 4);
    line.apply(batch, &shuffled).await;
    let want = unkeyed(&fold(forward, &answered_call(forward)).record());
    for key in [forward, backward, batch] {
        let stored = store.get_call(line.tenant, key).await.unwrap();
        assert_eq!(unkeyed(&stored.record), want, "call {}", key.call_id);
        assert_eq!(line.status_of(stored.item_id.unwrap()).await, "Completed", "call {}", key.call_id);
    }
}

pub async fn a_queue_without_an_active_session_gets_one_opened_for_its_calls(store: DynStore) {
    let line = Line::new(&store).await;
    let first = line.apply(line.key(1), &abandoned_call(line.key(1), "800")).await;
    assert_eq!(first.item_moves, ["abandon"]);
    let sessions = line.sessions().await;
    assert_eq!(sessions.len(), 1);
    let opened = &sessions[0];
    assert_eq!(
        (opened.name.as_str(), opened.session_number, opened.lifecycle_status),
        ("Calls 2024-05-06", 1, Lifecycle::Active)
    );
    let labels: Vec<String> =
        store.list_session_statuses(line.tenant, opened.id).await.unwrap().into_iter().map(|s| s.label).collect();
    assert_eq!(labels, Phase::ALL.map(|p| p.status_label()));
    let it = store.get_item(line.tenant, first.call.item_id.unwrap()).await.unwrap();
    assert_eq!((it.session_id, it.queue_number.as_str()), (opened.id, "C-1"));
    let second = line.apply(line.key(2), &abandoned_call(line.key(2), "800")[1..2]).await;
    let it = store.get_item(line.tenant, second.call.item_id.unwrap()).await.unwrap();
    assert_eq!((it.session_id, it.queue_number.as_str()), (opened.id, "C-2"), "the opened session is reused");

    // A paused session is not active: the next new call opens session 2 (named by its own entry).
    store.change_lifecycle(line.tenant, opened.id, Lifecycle::Paused).await.unwrap();
    let late = line.key(3);
    let entered = seen(late, 86_400 * 2, ObservationKind::EnteredQueue { queue_dn: "800".into() });
    let third = line.apply(late, &[entered]).await;
    let sessions = line.sessions().await;
    assert_eq!(sessions.iter().map(|s| s.name.as_str()).collect::<Vec<_>>(), ["Calls 2024-05-06", "Calls 2024-05-08"]);
    let it = store.get_item(line.tenant, third.call.item_id.unwrap()).await.unwrap();
    assert_eq!((it.session_id, it.queue_number.as_str()), (sessions[1].id, "C-1"));
}

pub async fn items_move_in_paused_sessions_and_stay_in_completed_ones(store: DynStore) {
    let line = Line::new(&store).await;
    let session = line.session().await;
    let (paused, frozen) = (line.key(1), line.key(2));
    let observations = [answered_call(paused), answered_call(frozen)];
    let paused_item = line.apply(paused, &observations[0][..2]).await.call.item_id.unwrap();
    let frozen_item = line.apply(frozen, &observations[1][..2]).await.call.item_id.unwrap();
    store.change_lifecycle(line.tenant, session.id, Lifecycle::Paused).await.unwrap();
    let moved = line.apply(paused, &observations[0][2..3]).await;
    assert_eq!(moved.item_moves, ["ring"]);
    assert_eq!(line.status_of(paused_item).await, "Ringing");
    store.change_lifecycle(line.tenant, session.id, Lifecycle::Completed).await.unwrap();
    let left = line.apply(frozen, &observations[1][2..]).await;
    assert!(left.changed && left.item_moves.is_empty());
    assert_eq!(left.call.record.phase, Phase::Completed, "the record moves on");
    assert_eq!(line.status_of(frozen_item).await, "Waiting", "the frozen item stays");
}

pub async fn an_unmapped_dn_stores_the_call_without_an_item(store: DynStore) {
    let line = Line::new(&store).await;
    let key = line.key(1);
    let applied = line.apply(key, &abandoned_call(key, "900")).await;
    assert!(applied.changed && !applied.item_created);
    let call = &applied.call;
    assert_eq!((call.queue_id, call.item_id, call.item_note.clone()), (None, None, None));
    assert_eq!(call.record.queue_dn.as_deref(), Some("900"));
    assert_eq!(store.get_call(line.tenant, key).await.unwrap(), applied.call);
    assert!(line.sessions().await.is_empty(), "no session is opened for an unmapped queue");
}

pub async fn an_inactive_queue_stores_the_call_with_a_note_until_it_is_reactivated(store: DynStore) {
    let line = Line::new(&store).await;
    let key = line.key(1);
    let observations = answered_call(key);
    let off = QueuePatch { is_active: Some(false), ..Default::default() };
    store.update_queue(line.tenant, line.queue.id, off).await.unwrap();
    let applied = line.apply(key, &observations[..2]).await;
    assert_eq!((applied.call.queue_id, applied.call.item_id), (Some(line.queue.id), None));
    assert!(applied.call.item_note.as_deref().unwrap_or_default().contains("inactive"), "{:?}", applied.call.item_note);
    assert!(line.sessions().await.is_empty());
    let on = QueuePatch { is_active: Some(true), ..Default::default() };
    store.update_queue(line.tenant, line.queue.id, on).await.unwrap();
    let applied = line.apply(key, &observations[2..3]).await;
    assert!(applied.item_created);
    assert_eq!((applied.item_moves.clone(), applied.call.item_note.clone()), (vec!["ring".to_string()], None));
}

pub async fn metadata_the_schema_refuses_leaves_the_call_without_an_item_or_session(store: DynStore) {
    let schema = json!({"type": "object", "required": ["ticket"]});
    let line =
        Line::with_template(&store, NewTemplate { metadata_schema: Some(schema), ..call_template("Strict") }).await;
    let key = line.key(1);
    let applied = line.apply(key, &answered_call(key)).await;
    assert!(applied.changed && !applied.item_created && applied.item_moves.is_empty());
    assert_eq!((applied.call.queue_id, applied.call.item_id), (Some(line.queue.id), None));
    assert!(applied.call.item_note.is_some());
    assert!(line.sessions().await.is_empty(), "the session opened for the refused item is rolled back");
    assert_eq!(store.get_call(line.tenant, key).await.unwrap(), applied.call);
}

pub async fn a_queue_without_the_call_statuses_is_a_conflict(store: DynStore) {
    let line = Line::with_template(&store, service_template(None)).await;
    line.session().await;
    let key = line.key(1);
    let observations = answered_call(key);
    let entered = line.apply(key, &observations[..2]).await;
    assert!(entered.item_created, "the service template has a Waiting status");
    let err = store.apply_call_observations(line.tenant, key, &observations[2..3], None, now_micros()).await;
    assert!(matches!(err, Err(StoreError::Conflict(_))), "{err:?}");
    assert_eq!(store.get_call(line.tenant, key).await.unwrap(), entered.call, "nothing of it is stored");
}

pub async fn history_corrects_a_terminal_status_directly(store: DynStore) {
    let line = Line::new(&store).await;
    line.session().await;
    let (answered, abandoned) = (line.key(1), line.key(2));
    let completed = line.apply(answered, &answered_call(answered)).await;
    let item_id = completed.call.item_id.unwrap();
    let says_abandoned = ReconciledCall {
        history_id: Some("h-1".into()),
        queue_dn: Some("800".into()),
        outcome: Some(CallOutcome::Abandoned),
        left_queue_at: Some(pbx(20)),
        ended_at: Some(pbx(20)),
        ..ReconciledCall::default()
    };
    let corrected = line.apply(answered, &[history(answered, 20, says_abandoned)]).await;
    assert_eq!(corrected.item_moves, ["Abandoned"]);
    assert!(corrected.call.record.reconciled);
    assert_eq!(line.status_of(item_id).await, "Abandoned");
    let history_entries = store.item_history(line.tenant, item_id).await.unwrap();
    assert_eq!(history_entries.last().unwrap().changed_by, CALL_ACTOR);
    let events = line.item_events(item_id).await;
    let moves = events.iter().filter(|e| e.kind == EventKind::ItemStatusChanged).count();
    assert_eq!((moves, events.last().unwrap().kind), (4, EventKind::CallUpdated));

    let provisional = line.apply(abandoned, &abandoned_call(abandoned, "800")).await;
    assert_eq!(provisional.item_moves, ["abandon"]);
    let says_answered = ReconciledCall {
        outcome: Some(CallOutcome::Answered),
        agent_dn: Some("102".into()),
        answered_at: Some(pbx(25)),
        ended_at: Some(pbx(90)),
        ..ReconciledCall::default()
    };
    let corrected = line.apply(abandoned, &[history(abandoned, 90, says_answered)]).await;
    assert_eq!(corrected.item_moves, ["Completed"]);
    assert_eq!(corrected.call.record.agent_dn.as_deref(), Some("102"));
    assert_eq!(line.status_of(provisional.call.item_id.unwrap()).await, "Completed");
}

pub async fn the_inbox_message_is_settled_with_the_call_and_a_lost_lease_rolls_it_back(store: DynStore) {
    let line = Line::new(&store).await;
    line.session().await;
    let key = line.key(1);
    let record = NewInboxMessage {
        connection_id: line.connection,
        source: InboxSource::Poller,
        call_key: "1".into(),
        dedup_key: "poll-1".into(),
        payload: json!({}),
        observed_at: now_micros(),
    };
    store.enqueue(line.tenant, record).await.unwrap();
    let now = now_micros();
    let lease = Duration::from_secs(30);
    let scope = ClaimScope::Connection(line.connection);
    let first = store.claim(scope, now, 1, lease).await.unwrap().remove(0);
    let later = now + TimeDelta::seconds(60);
    let second = store.claim(scope, later, 1, lease).await.unwrap().remove(0);
    let observations = answered_call(key);
    let lost = store.apply_call_observations(line.tenant, key, &observations, Some(&first.lease()), later).await;
    let lost = lost.unwrap();
    assert!(lost.lease_lost && !lost.changed && !lost.item_created && lost.item_moves.is_empty());
    assert_not_found(store.get_call(line.tenant, key).await.unwrap_err(), Entity::Call);
    let session = line.sessions().await.remove(0);
    assert!(line.items(session.id).await.is_empty(), "nothing of the lost application is kept");
    assert_eq!(store.get_inbox_message(line.tenant, first.id).await.unwrap().state, InboxState::InFlight);

    let done = store.apply_call_observations(line.tenant, key, &observations, Some(&second.lease()), later).await;
    let done = done.unwrap();
    assert!(!done.lease_lost && done.changed && done.item_created);
    let message = store.get_inbox_message(line.tenant, second.id).await.unwrap();
    assert_eq!((message.state, message.settled_at), (InboxState::Done, Some(later)));
    let again = store.apply_call_observations(line.tenant, key, &observations, Some(&second.lease()), later).await;
    let again = again.unwrap();
    assert!(again.lease_lost && !again.changed);
    assert_eq!(again.call, done.call, "the call as stored");
}

pub async fn a_batch_keeps_every_message_that_applies_and_rolls_back_only_the_others(store: DynStore) {
    let line = Line::new(&store).await;
    line.session().await;
    // DN 900 feeds a queue whose template lacks the call statuses past Waiting.
    let service = store.create_template(line.tenant, service_template(None)).await.unwrap();
    let new = NewQueue { name: "Service".into(), template_id: service.id, prefix: Some("s".into()) };
    let service_queue = store.create_queue(line.tenant, new).await.unwrap();
    line.map(&[("800", line.queue.id), ("900", service_queue.id)]).await;
    let (good, lost, refused) = (line.key(1), line.key(2), line.key(3));
    let waiting_in_service = line.apply(refused, &abandoned_call(refused, "900")[..2]).await;
    assert!(waiting_in_service.item_created);

    let scope = ClaimScope::Connection(line.connection);
    for call in [1, 2, 3] {
        let record = NewInboxMessage {
            connection_id: line.connection,
            source: InboxSource::Poller,
            call_key: call.to_string(),
            dedup_key: format!("batch-{call}"),
            payload: json!({}),
            observed_at: now_micros(),
        };
        store.enqueue(line.tenant, record).await.unwrap();
    }
    let now = now_micros();
    let first = store.claim(scope, now, 10, Duration::from_secs(30)).await.unwrap();
    let later = now + TimeDelta::seconds(60);
    let second = store.claim(scope, later, 10, Duration::from_secs(30)).await.unwrap();
    assert_eq!((first.len(), second.len()), (3, 3));
    let lease_of =
        |messages: &[crate::InboxMessage], call: &str| messages.iter().find(|m| m.call_key == call).unwrap().lease();
    let entered = seen(good, 1, ObservationKind::EnteredQueue { queue_dn: "800".into() });
    let ringing = seen(refused, 5, ObservationKind::Ringing { agent_dn: "101".into() });
    let foreign = crate::InboxLease { tenant_id: Uuid::new_v4(), ..lease_of(&second, "1") };
    let batch = [
        InboxApplication { lease: lease_of(&second, "1"), observation: entered.clone() },
        InboxApplication { lease: lease_of(&first, "2"), observation: answered_call(lost).remove(1) },
        InboxApplication { lease: lease_of(&second, "3"), observation: ringing },
        InboxApplication { lease: lease_of(&second, "1"), observation: answered_call(good).remove(2) },
        InboxApplication { lease: foreign, observation: answered_call(line.key(4)).remove(0) },
    ];
    let results = store.apply_inbox_batch(line.tenant, &batch, later).await.unwrap();
    assert_eq!(results.len(), 5);
    let BatchApplied::Applied(applied) = &results[0] else { panic!("{:?}", results[0]) };
    assert!(applied.changed && applied.item_created && !applied.lease_lost);
    assert_eq!(results[1], BatchApplied::LeaseLost);
    assert!(matches!(&results[2], BatchApplied::Failed(e) if e.contains("status")), "{:?}", results[2]);
    assert!(matches!(&results[3], BatchApplied::Failed(e) if e.contains("another message")), "{:?}", results[3]);
    assert!(matches!(&results[4], BatchApplied::Failed(e) if e.contains("lease")), "{:?}", results[4]);

    // Kept: the applied message, its call, item and events; settled with the batch's `now`.
    let call = store.get_call(line.tenant, good).await.unwrap();
    assert_eq!(call, applied.call);
    let item_id = call.item_id.unwrap();
    assert_eq!(line.status_of(item_id).await, "Waiting");
    let kinds: Vec<_> = line.item_events(item_id).await.into_iter().map(|e| e.kind).collect();
    assert_eq!(kinds, [EventKind::ItemCreated, EventKind::CallUpdated]);
    let settled = store.get_inbox_message(line.tenant, lease_of(&second, "1").message_id).await.unwrap();
    assert_eq!((settled.state, settled.settled_at), (InboxState::Done, Some(later)));
    // Rolled back alone: the lost and the refused messages stay leased, their calls as they were.
    for call in ["2", "3"] {
        let message = store.get_inbox_message(line.tenant, lease_of(&second, call).message_id).await.unwrap();
        assert_eq!(message.state, InboxState::InFlight, "message of call {call}");
    }
    assert_not_found(store.get_call(line.tenant, lost).await.unwrap_err(), Entity::Call);
    assert_not_found(store.get_call(line.tenant, line.key(4)).await.unwrap_err(), Entity::Call);
    assert_eq!(store.get_call(line.tenant, refused).await.unwrap(), waiting_in_service.call);
    assert_eq!(line.status_of(waiting_in_service.call.item_id.unwrap()).await, "Waiting");
    // An empty batch commits nothing and says nothing.
    assert!(store.apply_inbox_batch(line.tenant, &[], later).await.unwrap().is_empty());
}

pub async fn another_tenants_calls_are_not_found_and_bad_input_is_refused(store: DynStore) {
    let a = Line::new(&store).await;
    let b = Line::new(&store).await;
    let key = a.key(1);
    let stored = a.apply(key, &answered_call(key)).await.call;
    assert_not_found(store.get_call(b.tenant, key).await.unwrap_err(), Entity::Call);
    let all = PageRequest::first(SortKey::CreatedAt, SortOrder::Asc);
    assert!(store.list_calls(b.tenant, &CallFilter::default(), &all).await.unwrap().items.is_empty());
    // B naming A's connection stores a call of its own (B maps nothing on it) and leaves A's alone.
    let theirs = b.apply(key, &answered_call(key)[..2]).await.call;
    assert_eq!((theirs.tenant_id, theirs.queue_id, theirs.item_id), (b.tenant, None, None));
    assert_eq!(store.get_call(a.tenant, key).await.unwrap(), stored);

    let other_call = answered_call(a.key(2));
    let err = store.apply_call_observations(a.tenant, key, &other_call, None, now_micros()).await.unwrap_err();
    assert_domain(err, |d| matches!(d, lineup_domain::DomainError::Invalid { field: "observations", .. }));
    let foreign_lease = crate::InboxLease { tenant_id: b.tenant, message_id: Uuid::new_v4(), claim: 1 };
    let err = store.apply_call_observations(a.tenant, key, &[], Some(&foreign_lease), now_micros()).await.unwrap_err();
    assert_domain(err, |d| matches!(d, lineup_domain::DomainError::Invalid { field: "lease", .. }));
    assert_eq!(store.get_call(a.tenant, key).await.unwrap(), stored);
}

pub async fn call_lists_filter_and_paginate_in_both_orders(store: DynStore) {
    let line = Line::new(&store).await;
    let support = NewQueue { name: "Support".into(), template_id: line.queue.template_id, prefix: None };
    let support = store.create_queue(line.tenant, support).await.unwrap();
    line.map(&[("800", line.queue.id), ("801", support.id)]).await;
    let other_connection = new_pbx_connection(&store, line.tenant, "Branch").await.id;
    let base = now_micros();
    let mut calls = Vec::new();
    for i in 0..9 {
        let key = if i == 8 { CallKey { connection: other_connection, call_id: 1 } } else { line.key(i) };
        let mut observations = match i % 3 {
            0 => answered_call(key),
            1 => abandoned_call(key, "801"),
            _ => abandoned_call(key, "800")[..2].to_vec(),
        };
        for o in &mut observations {
            *o = Observation::new(key, o.source, o.at + TimeDelta::hours(i64::from(i)), o.kind.clone());
        }
        if i == 4 {
            let facts = ReconciledCall { outcome: Some(CallOutcome::Abandoned), ..ReconciledCall::default() };
            observations.push(history(key, 3600 * 4 + 30, facts));
        }
        let now = base + TimeDelta::seconds(i64::from(i));
        calls.push(store.apply_call_observations(line.tenant, key, &observations, None, now).await.unwrap().call);
    }
    let (key, now) = (line.key(99), base + TimeDelta::seconds(9));
    let appeared = &abandoned_call(key, "800")[..1];
    calls.push(store.apply_call_observations(line.tenant, key, appeared, None, now).await.unwrap().call);

    let filters = [
        CallFilter::default(),
        CallFilter { connection_id: Some(other_connection), ..Default::default() },
        CallFilter { queue_id: Some(support.id), ..Default::default() },
        CallFilter { outcome: Some(CallOutcome::Abandoned), ..Default::default() },
        CallFilter { outcome: Some(CallOutcome::InProgress), queue_id: Some(line.queue.id), ..Default::default() },
        CallFilter { reconciled: Some(true), ..Default::default() },
        CallFilter { reconciled: Some(false), connection_id: Some(line.connection), ..Default::default() },
        CallFilter { entered_from: Some(pbx(3600 * 2 + 1)), entered_to: Some(pbx(3600 * 6 + 1)), ..Default::default() },
        CallFilter { entered_from: Some(pbx(3600 * 7)), ..Default::default() },
    ];
    let matches = |f: &CallFilter, c: &StoredCall| {
        let r = &c.record;
        f.connection_id.is_none_or(|x| r.key.connection == x)
            && f.queue_id.is_none_or(|q| c.queue_id == Some(q))
            && f.outcome.is_none_or(|o| r.outcome == o)
            && f.reconciled.is_none_or(|x| r.reconciled == x)
            && f.entered_from.is_none_or(|t| r.entered_at.is_some_and(|e| e >= t))
            && f.entered_to.is_none_or(|t| r.entered_at.is_some_and(|e| e < t))
    };
    let mut sizes = BTreeSet::new();
    for filter in &filters {
        let want: Vec<StoredCall> = calls.iter().filter(|c| matches(filter, c)).cloned().collect();
        sizes.insert(want.len());
        for order in [SortOrder::Asc, SortOrder::Desc] {
            let seen = read_all_pages(SortKey::CreatedAt, order, 2, |req| {
                let (store, filter) = (store.clone(), filter.clone());
                async move { store.list_calls(line.tenant, &filter, &req).await }
            })
            .await;
            let mut want = want.clone();
            if order == SortOrder::Desc {
                want.reverse();
            }
            assert_eq!(seen, want, "{filter:?} {order:?}");
        }
    }
    assert!(sizes.len() >= 5, "the filters select different calls: {sizes:?}");
    let by_name = PageRequest::first(SortKey::Name, SortOrder::Asc);
    let err = store.list_calls(line.tenant, &CallFilter::default(), &by_name).await.unwrap_err();
    assert!(matches!(err, StoreError::InvalidPage(_)), "{err:?}");
}

pub async fn checkpoints_round_trip_per_connection_and_name(store: DynStore) {
    let line = Line::new(&store).await;
    let other = tenant(&store).await;
    let (connection, second) = (line.connection, Uuid::new_v4());
    assert_eq!(store.get_checkpoint(line.tenant, connection, "history").await.unwrap(), None);
    let now = now_micros();
    let first = json!({"readUpTo": "2024-05-06T09:00:00Z", "segment": 41});
    store.put_checkpoint(line.tenant, connection, "history", &first, now).await.unwrap();
    store.put_checkpoint(line.tenant, connection, "call-log", &json!(7), now).await.unwrap();
    store.put_checkpoint(line.tenant, second, "history", &json!("other"), now).await.unwrap();
    assert_eq!(store.get_checkpoint(line.tenant, connection, "history").await.unwrap(), Some(first));
    let replaced = json!({"readUpTo": "2024-05-06T10:00:00Z", "segment": 97});
    store.put_checkpoint(line.tenant, connection, "history", &replaced, now).await.unwrap();
    assert_eq!(store.get_checkpoint(line.tenant, connection, "history").await.unwrap(), Some(replaced));
    assert_eq!(store.get_checkpoint(line.tenant, connection, "call-log").await.unwrap(), Some(json!(7)));
    assert_eq!(store.get_checkpoint(line.tenant, second, "history").await.unwrap(), Some(json!("other")));
    assert_eq!(store.get_checkpoint(other, connection, "history").await.unwrap(), None, "tenant-scoped");
}

pub async fn leases_are_renewed_refused_taken_over_after_expiry_and_released(store: DynStore) {
    let name = format!("poll/{}", Uuid::new_v4());
    let ttl = Duration::from_secs(10);
    let now = now_micros();
    let seconds = |s: i64| now + TimeDelta::seconds(s);
    let a = store.acquire_lease(&name, "node-a", now, ttl).await.unwrap().unwrap();
    assert_eq!((a.name.as_str(), a.holder.as_str(), a.expires_at, a.epoch), (name.as_str(), "node-a", seconds(10), 1));
    let renewed = store.acquire_lease(&name, "node-a", seconds(5), ttl).await.unwrap().unwrap();
    assert_eq!((renewed.expires_at, renewed.epoch), (seconds(15), 1), "renewing keeps the epoch");
    assert_eq!(store.acquire_lease(&name, "node-b", seconds(14), ttl).await.unwrap(), None, "held by a");
    let taken = store.acquire_lease(&name, "node-b", seconds(15), ttl).await.unwrap().unwrap();
    assert_eq!((taken.holder.as_str(), taken.expires_at, taken.epoch), ("node-b", seconds(25), 2));
    assert_eq!(store.acquire_lease(&name, "node-a", seconds(16), ttl).await.unwrap(), None, "a lost it");
    store.release_lease(&name, "node-a").await.unwrap();
    assert_eq!(store.acquire_lease(&name, "node-a", seconds(17), ttl).await.unwrap(), None, "only b releases it");
    let listed: Vec<_> = store.list_leases().await.unwrap().into_iter().filter(|l| l.name == name).collect();
    assert_eq!(listed, std::slice::from_ref(&taken));
    store.release_lease(&name, "node-b").await.unwrap();
    let back = store.acquire_lease(&name, "node-a", seconds(18), ttl).await.unwrap().unwrap();
    assert_eq!((back.holder.as_str(), back.expires_at, back.epoch), ("node-a", seconds(28), 3));
    let other = format!("poll/{}", Uuid::new_v4());
    assert_eq!(store.acquire_lease(&other, "node-b", seconds(18), ttl).await.unwrap().unwrap().epoch, 1);
}

pub async fn concurrent_applications_merge_every_observation_of_every_call(store: DynStore) {
    let line = Line::new(&store).await;
    let keys: Vec<CallKey> = (1..=4).map(|i| line.key(i)).collect();
    let mut tasks = Vec::new();
    for key in &keys {
        let mut observations = answered_call(*key);
        let facts = ReconciledCall { history_id: Some(format!("h-{}", key.call_id)), ..ReconciledCall::default() };
        observations.push(history(*key, 61, facts));
        for observation in observations {
            let (store, tenant, key) = (store.clone(), line.tenant, *key);
            tasks.push(tokio::spawn(async move {
                store.apply_call_observations(tenant, key, &[observation], None, now_micros()).await.unwrap()
            }));
        }
    }
    let mut created = 0;
    for task in tasks {
        created += usize::from(task.await.unwrap().item_created);
    }
    assert_eq!(created, keys.len(), "one item per call");
    let sessions = line.sessions().await;
    assert_eq!(sessions.len(), 1, "concurrent first calls open one session");
    for key in &keys {
        let stored = store.get_call(line.tenant, *key).await.unwrap();
        let mut all = answered_call(*key);
        let facts = ReconciledCall { history_id: Some(format!("h-{}", key.call_id)), ..ReconciledCall::default() };
        all.push(history(*key, 61, facts));
        assert_eq!(stored.record, fold(*key, &all).record(), "call {}", key.call_id);
        let item_id = stored.item_id.unwrap();
        assert_eq!(line.status_of(item_id).await, "Completed");
        let created_events =
            line.item_events(item_id).await.iter().filter(|e| e.kind == EventKind::ItemCreated).count();
        assert_eq!(created_events, 1);
    }
    let items = line.items(sessions[0].id).await;
    let numbers: Vec<&str> = items.iter().map(|i| i.queue_number.as_str()).collect();
    assert_eq!(numbers, ["C-1", "C-2", "C-3", "C-4"]);
}

pub async fn call_queues_name_the_queue_of_stored_calls_only(store: DynStore) {
    let line = Line::new(&store).await;
    let other = Line::new(&store).await;
    line.session().await;
    let (queued, unmapped, unknown) = (line.key(1), line.key(2), line.key(3));
    line.apply(queued, &answered_call(queued)[..2]).await;
    line.apply(unmapped, &abandoned_call(unmapped, "899")[..2]).await;
    let queues = store.call_queues(line.tenant, &[queued, unmapped, unknown]).await.unwrap();
    assert_eq!(queues.into_iter().collect::<Vec<_>>(), [(queued, line.queue.id)]);
    assert!(store.call_queues(other.tenant, &[queued]).await.unwrap().is_empty(), "another tenant's call");
    assert!(store.call_queues(line.tenant, &[]).await.unwrap().is_empty());
}
