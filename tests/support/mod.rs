//! Shared by the end-to-end tests: the simulator's faults to arm, and the check that what
//! Lineup stored equals the simulator's ground truth.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::TimeDelta;
use lineup_domain::call::CallOutcome;
use lineup_domain::{Queue, TenantId};
use lineup_pbx_sim::model::CallOutcome as SimOutcome;
use lineup_pbx_sim::model::CallTruth;
use lineup_pbx_sim::server::faults::{ArmedFault, Fault};
use lineup_pbx_sim::server::{self, RunningSim, SimServerConfig};
use lineup_security::SecretBox;
use lineup_store::{CallFilter, DynStore, ItemFilter, PageRequest, SortKey, SortOrder, StoredCall};
use lineup_workers::provision::{connect_pbx, PbxSpec, Provisioned, QueueSpec};
use uuid::Uuid;

/// Every kind of fault the simulator has, on the requests the workers make.
pub fn every_fault() -> Vec<ArmedFault> {
    let on = |fault: Fault, path: &str, times: u32| ArmedFault { fault, path_contains: path.into(), times };
    vec![
        on(Fault::ServerError, "ActiveCalls", 3),
        on(Fault::Unauthorized, "", 1),
        on(Fault::RateLimited { retry_after_secs: 1 }, "CallHistoryView", 2),
        on(Fault::TruncatedJson, "ActiveCalls", 2),
        on(Fault::DuplicateRows, "CallHistoryView", 3),
        on(Fault::ReorderRows, "ActiveCalls", 5),
        on(Fault::Unavailable { retry_after_secs: None }, "GetCallLogData", 2),
        on(Fault::Slow { millis: 800 }, "Users", 1),
        on(Fault::Hang { millis: 3_000 }, "ActiveCalls", 1),
        on(Fault::DuplicateRows, "GetCallLogData", 1),
        on(Fault::TruncatedJson, "CallHistoryView", 1),
    ]
}

fn outcome_of(o: SimOutcome) -> CallOutcome {
    match o {
        SimOutcome::Answered => CallOutcome::Answered,
        SimOutcome::Abandoned => CallOutcome::Abandoned,
        SimOutcome::Overflowed => CallOutcome::Overflowed,
        SimOutcome::Dropped => CallOutcome::Dropped,
    }
}

fn next_page(sort: SortKey, cursor: &str) -> PageRequest {
    PageRequest::new(Some(200), sort, SortOrder::Asc, Some(cursor)).expect("a cursor the store issued")
}

/// Every stored call of a connection.
pub async fn all_calls(store: &DynStore, tenant: TenantId, connection: Uuid) -> Vec<StoredCall> {
    let filter = CallFilter { connection_id: Some(connection), ..CallFilter::default() };
    let mut page = PageRequest { limit: 200, ..PageRequest::first(SortKey::CreatedAt, SortOrder::Asc) };
    let mut out = Vec::new();
    loop {
        let got = store.list_calls(tenant, &filter, &page).await.expect("list calls");
        out.extend(got.items);
        match got.next_cursor {
            Some(cursor) => page = next_page(SortKey::CreatedAt, &cursor),
            None => return out,
        }
    }
}

/// Waits (up to `limit`) until every call of `truth` is stored and reconciled by both readers
/// (the call log brings the history id); the calls then.
pub async fn wait_until_reconciled(
    store: &DynStore,
    tenant: TenantId,
    connection: Uuid,
    truth: &[CallTruth],
    limit: Duration,
) -> Vec<StoredCall> {
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        let calls = all_calls(store, tenant, connection).await;
        let by_id: BTreeMap<i32, &StoredCall> = calls.iter().map(|c| (c.record.key.call_id, c)).collect();
        let settled = truth
            .iter()
            .all(|t| by_id.get(&t.call_id).is_some_and(|c| c.record.reconciled && c.record.history_id.is_some()));
        if settled || tokio::time::Instant::now() > deadline {
            return calls;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// Asserts that `stored` holds every call of `truth` once with the true record, that every
/// queue item of `queues` belongs to exactly one call and is in its call's status, and that the
/// tenant has no dead letter. Returns the number of items.
pub async fn assert_matches_truth(
    store: &DynStore,
    tenant: TenantId,
    queues: &[Queue],
    stored: &[StoredCall],
    truth: &[CallTruth],
) -> usize {
    let by_id: BTreeMap<i32, &StoredCall> = stored.iter().map(|c| (c.record.key.call_id, c)).collect();
    assert_eq!(by_id.len(), stored.len(), "one stored call per call id");
    let mut mismatches = Vec::new();
    for t in truth {
        let Some(c) = by_id.get(&t.call_id) else {
            mismatches.push(format!("call {} is missing", t.call_id));
            continue;
        };
        let r = &c.record;
        let expected = (
            (Some(t.queue_dn.clone()), Some(t.caller_number.clone()), outcome_of(t.outcome), t.agent_dn.clone()),
            (Some(t.arrived_at), Some(t.left_queue_at), t.answered_at, Some(t.ended_at)),
            (Some(t.wait_ms), Some(t.talk_ms), Some(t.history_id.clone()), true),
        );
        let got = (
            (r.queue_dn.clone(), r.caller.clone(), r.outcome, r.agent_dn.clone()),
            (r.entered_at, r.left_queue_at, r.answered_at, r.ended_at),
            (r.wait_ms, r.talk_ms, r.history_id.clone(), r.reconciled),
        );
        if got != expected {
            mismatches.push(format!("call {}:\n  stored {got:?}\n  truth  {expected:?}", t.call_id));
        }
        if c.item_id.is_none() {
            mismatches.push(format!("call {} has no item ({:?})", t.call_id, c.item_note));
        }
    }
    assert!(mismatches.is_empty(), "{} of {} calls differ:\n{}", mismatches.len(), truth.len(), mismatches.join("\n"));

    let mut items = 0;
    let mut seen_items = std::collections::BTreeSet::new();
    for queue in queues {
        let first = PageRequest::first(SortKey::SessionNumber, SortOrder::Asc);
        let sessions = store.list_sessions(tenant, queue.id, &first).await.expect("sessions");
        for session in sessions.items {
            let statuses = store.list_session_statuses(tenant, session.id).await.expect("statuses");
            let label = |id: Uuid| statuses.iter().find(|s| s.id == id).map(|s| s.label.clone());
            let mut page = PageRequest { limit: 200, ..PageRequest::first(SortKey::Number, SortOrder::Asc) };
            loop {
                let got = store.list_items(tenant, session.id, &ItemFilter::default(), &page).await.expect("items");
                for item in &got.items {
                    items += 1;
                    assert!(seen_items.insert(item.id));
                    let owners: Vec<&StoredCall> = stored.iter().filter(|c| c.item_id == Some(item.id)).collect();
                    assert_eq!(owners.len(), 1, "item {} belongs to exactly one call", item.queue_number);
                    let call = owners[0];
                    if call.record.reconciled {
                        let want = call.record.phase.status_label();
                        assert_eq!(label(item.status_id).as_deref(), Some(want), "item {}", item.queue_number);
                    }
                }
                match got.next_cursor {
                    Some(cursor) => page = next_page(SortKey::Number, &cursor),
                    None => break,
                }
            }
        }
    }
    assert_eq!(items, stored.iter().filter(|c| c.item_id.is_some()).count(), "one item per call, no more");
    let first = PageRequest::first(SortKey::CreatedAt, SortOrder::Asc);
    let dead = store.list_dead_letters(tenant, &first).await.expect("dead letters");
    let errors: Vec<_> = dead.items.iter().map(|m| m.last_error.clone()).collect();
    assert!(dead.items.is_empty(), "dead letters: {errors:?}");
    items
}

/// A manual-clock simulator connected to a fresh tenant of `store`.
pub struct Connected {
    pub sim: RunningSim,
    pub tenant: TenantId,
    pub provisioned: Provisioned,
}

impl Connected {
    /// The PBX connection's id.
    pub fn connection(&self) -> Uuid {
        self.provisioned.connection.id
    }

    /// Advances the simulator `steps` × 30 s, pausing `pause` after each so the workers poll.
    pub async fn run(&self, steps: u32, pause: Duration) {
        for _ in 0..steps {
            self.sim.advance(TimeDelta::seconds(30)).await;
            tokio::time::sleep(pause).await;
        }
    }

    /// Lets the last calls' history become visible, then returns every call 3CX's history shows.
    pub async fn finished_truth(&self) -> Vec<CallTruth> {
        self.sim.advance(TimeDelta::seconds(45)).await;
        let state = self.sim.state();
        let cutoff = state.history_cutoff(state.status().sim_time);
        let interval = std::num::NonZeroU32::new(900).expect("non-zero");
        state.ground_truth(interval).calls.into_iter().filter(|c| c.ended_at <= cutoff).collect()
    }
}

/// Starts a manual-clock simulator (30 s history lag) and connects it to a new tenant of `store`
/// with one queue per simulated queue, polled every 250 ms.
pub async fn connect_simulator(store: &DynStore, secrets: &SecretBox) -> Connected {
    let mut config = SimServerConfig::for_tests();
    config.history_lag = TimeDelta::seconds(30);
    let sim = server::start(config.clone()).await.expect("the simulator starts");
    let queues: Vec<QueueSpec> = config
        .scenario
        .queues
        .iter()
        .enumerate()
        .map(|(i, q)| QueueSpec { dn: q.dn.clone(), name: format!("Queue {}", q.dn), prefix: format!("Q{i}") })
        .collect();
    let tenant = lineup_store::conformance::tenant(store).await;
    let pbx = PbxSpec {
        name: "Simulator".into(),
        base_url: sim.base_url(),
        client_id: config.client_id.clone(),
        client_secret: config.client_secret.clone(),
        poll_interval_ms: 250,
    };
    let provisioned = connect_pbx(store, secrets, tenant, &pbx, &queues).await.expect("provisioning");
    Connected { sim, tenant, provisioned }
}
