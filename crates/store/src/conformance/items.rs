//! Conformance tests of items: numbering (also under concurrency and against a model), status
//! moves and history, lists, and the events changes emit.

use lineup_domain::{DomainError, EventKind, ItemPatch, Lifecycle, NewItem, NewSession, StatusChangeRequest};
use serde_json::json;
use uuid::Uuid;

use super::{assert_domain, assert_not_found, by_transition, fixture, fixture_with_schema, item};
use crate::{DynStore, Entity, EventScope, ItemFilter, PageRequest, SortKey, SortOrder};

pub async fn item_numbers_restart_in_every_session(store: DynStore) {
    let f = fixture(&store).await;
    let waiting = store.list_session_statuses(f.tenant, f.session.id).await.unwrap()[0].id;
    let mut numbers = Vec::new();
    for name in ["Ann", "Bob", "Cy"] {
        let it = store.create_item(f.tenant, f.session.id, item(name)).await.unwrap();
        assert_eq!(it.status_id, waiting);
        assert_eq!((it.queue_id, it.session_id), (f.queue.id, f.session.id));
        assert_eq!(it.metadata, json!({}));
        numbers.push(it.queue_number);
    }
    assert_eq!(numbers, ["A-1", "A-2", "A-3"]);
    let second = store.create_session(f.tenant, f.queue.id, NewSession::default()).await.unwrap();
    let first_of_second = store.create_item(f.tenant, second.id, item("Dee")).await.unwrap();
    assert_eq!(first_of_second.queue_number, "A-1");
    let got = store.get_item(f.tenant, first_of_second.id).await.unwrap();
    assert_eq!(got, first_of_second);
    let start_at = store.list_session_statuses(f.tenant, second.id).await.unwrap()[1].id;
    let started = NewItem { display_name: "Eve".into(), metadata: Some(json!({"k": 1})), status_id: Some(start_at) };
    let eve = store.create_item(f.tenant, second.id, started).await.unwrap();
    assert_eq!((eve.status_id, eve.queue_number.as_str()), (start_at, "A-2"));
    let foreign = NewItem { display_name: "Fay".into(), metadata: None, status_id: Some(waiting) };
    let err = store.create_item(f.tenant, second.id, foreign).await.unwrap_err();
    assert_domain(err, |d| matches!(d, DomainError::Invalid { field: "statusId", .. }));
    assert_not_found(store.get_item(f.tenant, Uuid::new_v4()).await.unwrap_err(), Entity::Item);
}

pub async fn items_are_added_only_to_active_sessions(store: DynStore) {
    let f = fixture(&store).await;
    let it = store.create_item(f.tenant, f.session.id, item("Ann")).await.unwrap();
    store.change_lifecycle(f.tenant, f.session.id, Lifecycle::Paused).await.unwrap();
    let err = store.create_item(f.tenant, f.session.id, item("Bob")).await.unwrap_err();
    assert_domain(err, |d| matches!(d, DomainError::SessionNotActive { lifecycle: Lifecycle::Paused }));
    // A paused session still lets its items move.
    store.change_item_status(f.tenant, it.id, by_transition("call")).await.unwrap();
    store.change_lifecycle(f.tenant, f.session.id, Lifecycle::Active).await.unwrap();
    let bob = store.create_item(f.tenant, f.session.id, item("Bob")).await.unwrap();
    assert_eq!(bob.queue_number, "A-2", "a refused item uses up no number");
    store.change_lifecycle(f.tenant, f.session.id, Lifecycle::Completed).await.unwrap();
    let err = store.create_item(f.tenant, f.session.id, item("Cy")).await.unwrap_err();
    assert_domain(err, |d| matches!(d, DomainError::SessionNotActive { lifecycle: Lifecycle::Completed }));
    // A completed session is frozen.
    let err = store.change_item_status(f.tenant, bob.id, by_transition("call")).await.unwrap_err();
    assert_domain(err, |d| matches!(d, DomainError::SessionNotActive { .. }));
    let err = store.update_item(f.tenant, bob.id, ItemPatch { display_name: Some("B".into()), ..Default::default() });
    assert_domain(err.await.unwrap_err(), |d| matches!(d, DomainError::SessionNotActive { .. }));
    assert_eq!(store.get_item(f.tenant, bob.id).await.unwrap(), bob);
}

pub async fn an_items_session_never_changes(store: DynStore) {
    let f = fixture(&store).await;
    let other = store.create_session(f.tenant, f.queue.id, NewSession::default()).await.unwrap();
    let it = store.create_item(f.tenant, f.session.id, item("Ann")).await.unwrap();
    let patch = ItemPatch { session_id: Some(other.id), display_name: Some("Moved".into()), ..Default::default() };
    assert_domain(store.update_item(f.tenant, it.id, patch).await.unwrap_err(), |d| {
        matches!(d, DomainError::ItemSessionImmutable)
    });
    assert_eq!(store.get_item(f.tenant, it.id).await.unwrap(), it, "a refused patch stores nothing");
    let same = ItemPatch { session_id: Some(f.session.id), display_name: Some("Ann B".into()), ..Default::default() };
    let updated = store.update_item(f.tenant, it.id, same).await.unwrap();
    assert_eq!((updated.display_name.as_str(), updated.session_id), ("Ann B", f.session.id));
    assert_eq!(updated.queue_number, it.queue_number);
}

pub async fn metadata_is_checked_against_the_template_schema(store: DynStore) {
    let schema = json!({"type": "object", "properties": {"phone": {"type": "string"}}, "required": ["phone"]});
    let f = fixture_with_schema(&store, Some(schema)).await;
    let bad = NewItem { display_name: "Ann".into(), metadata: Some(json!({"phone": 5})), status_id: None };
    assert_domain(
        store.create_item(f.tenant, f.session.id, bad).await.unwrap_err(),
        |d| matches!(d, DomainError::MetadataSchemaViolation { errors } if !errors.is_empty()),
    );
    let missing = NewItem { display_name: "Ann".into(), metadata: None, status_id: None };
    assert_domain(store.create_item(f.tenant, f.session.id, missing).await.unwrap_err(), |d| {
        matches!(d, DomainError::MetadataSchemaViolation { .. })
    });
    let good = NewItem {
        display_name: "Ann".into(),
        metadata: Some(json!({"phone": "+1555", "note": "vip"})),
        status_id: None,
    };
    let it = store.create_item(f.tenant, f.session.id, good).await.unwrap();
    assert_eq!(it.queue_number, "A-1", "refused items take no number");
    assert_eq!(it.metadata, json!({"phone": "+1555", "note": "vip"}));
    let patch = ItemPatch { metadata: Some(json!({"note": "no phone"})), ..Default::default() };
    assert_domain(store.update_item(f.tenant, it.id, patch).await.unwrap_err(), |d| {
        matches!(d, DomainError::MetadataSchemaViolation { .. })
    });
    assert_eq!(store.get_item(f.tenant, it.id).await.unwrap().metadata, it.metadata);
    let patch = ItemPatch { metadata: Some(json!({"phone": "+1666"})), ..Default::default() };
    assert_eq!(store.update_item(f.tenant, it.id, patch).await.unwrap().metadata, json!({"phone": "+1666"}));
    let not_object = NewItem { display_name: "Bob".into(), metadata: Some(json!([1])), status_id: None };
    assert_domain(store.create_item(f.tenant, f.session.id, not_object).await.unwrap_err(), |d| {
        matches!(d, DomainError::Invalid { field: "metadata", .. })
    });
}

pub async fn status_moves_follow_the_machine_and_record_history(store: DynStore) {
    let f = fixture(&store).await;
    let st = store.list_session_statuses(f.tenant, f.session.id).await.unwrap();
    let (waiting, serving, done) = (st[0].id, st[1].id, st[2].id);
    let it = store.create_item(f.tenant, f.session.id, item("Ann")).await.unwrap();
    let skip = StatusChangeRequest { status_id: Some(done), ..Default::default() };
    assert_domain(store.change_item_status(f.tenant, it.id, skip).await.unwrap_err(), |d| {
        matches!(d, DomainError::InvalidStatusTransition { .. })
    });
    assert_domain(store.change_item_status(f.tenant, it.id, by_transition("finish")).await.unwrap_err(), |d| {
        matches!(d, DomainError::UnknownTransition { .. })
    });
    let by_id =
        StatusChangeRequest { status_id: Some(serving), changed_by: Some("desk-3".into()), ..Default::default() };
    assert_eq!(store.change_item_status(f.tenant, it.id, by_id).await.unwrap().status_id, serving);
    let finished = store.change_item_status(f.tenant, it.id, by_transition("finish")).await.unwrap();
    assert_eq!(finished.status_id, done);
    assert_eq!(store.get_item(f.tenant, it.id).await.unwrap().status_id, done);
    let history = store.item_history(f.tenant, it.id).await.unwrap();
    let moves: Vec<_> = history.iter().map(|h| (h.from_status_id, h.to_status_id, h.changed_by.as_str())).collect();
    assert_eq!(moves, [(None, waiting, "api"), (Some(waiting), serving, "desk-3"), (Some(serving), done, "api")]);
    assert!(history.windows(2).all(|w| w[0].changed_at <= w[1].changed_at));
    assert!(history.iter().all(|h| h.item_id == it.id));
}

pub async fn item_lists_filter_by_status_and_paginate(store: DynStore) {
    let f = fixture(&store).await;
    let serving = store.list_session_statuses(f.tenant, f.session.id).await.unwrap()[1].id;
    let mut ids = Vec::new();
    for i in 0..7 {
        let it = store.create_item(f.tenant, f.session.id, item(&format!("P{i}"))).await.unwrap();
        if i % 2 == 0 {
            store.change_item_status(f.tenant, it.id, by_transition("call")).await.unwrap();
        }
        ids.push(it.id);
    }
    for (sort, order) in
        [(SortKey::Number, SortOrder::Asc), (SortKey::Number, SortOrder::Desc), (SortKey::CreatedAt, SortOrder::Asc)]
    {
        let mut seen = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let req = PageRequest::new(Some(3), sort, order, cursor.as_deref()).unwrap();
            let page = store.list_items(f.tenant, f.session.id, &ItemFilter::default(), &req).await.unwrap();
            seen.extend(page.items.iter().map(|i| i.id));
            match page.next_cursor {
                Some(c) => cursor = Some(c),
                None => break,
            }
        }
        let mut want = ids.clone();
        if order == SortOrder::Desc {
            want.reverse();
        }
        assert_eq!(seen, want, "{sort:?} {order:?}");
    }
    let filter = ItemFilter { status_id: Some(serving) };
    let page = store
        .list_items(f.tenant, f.session.id, &filter, &PageRequest::first(SortKey::Number, SortOrder::Asc))
        .await
        .unwrap();
    let numbers: Vec<_> = page.items.iter().map(|i| i.queue_number.as_str()).collect();
    assert_eq!(numbers, ["A-1", "A-3", "A-5", "A-7"]);
}

pub async fn events_are_scoped_ordered_and_carry_api_shapes(store: DynStore) {
    let f = fixture(&store).await;
    let before = store.last_event_seq().await.unwrap();
    let ann = store.create_item(f.tenant, f.session.id, item("Ann")).await.unwrap();
    let bob = store.create_item(f.tenant, f.session.id, item("Bob")).await.unwrap();
    store
        .update_item(f.tenant, ann.id, ItemPatch { display_name: Some("Ann C".into()), ..Default::default() })
        .await
        .unwrap();
    let moved = store.change_item_status(f.tenant, bob.id, by_transition("call")).await.unwrap();
    store.change_lifecycle(f.tenant, f.session.id, Lifecycle::Paused).await.unwrap();
    // A refused change writes no event.
    assert!(store.create_item(f.tenant, f.session.id, item("Cy")).await.is_err());
    let all = store.read_events(f.tenant, EventScope::Session(f.session.id), 0, 100).await.unwrap();
    let kinds: Vec<_> = all.iter().map(|e| e.kind).collect();
    assert_eq!(
        kinds,
        [
            EventKind::ItemCreated,
            EventKind::ItemCreated,
            EventKind::ItemUpdated,
            EventKind::ItemStatusChanged,
            EventKind::SessionPaused
        ]
    );
    assert!(all.windows(2).all(|w| w[0].seq < w[1].seq));
    assert!(all[0].seq > before);
    assert!(store.last_event_seq().await.unwrap() >= all[4].seq);
    assert_eq!(all[0].payload, serde_json::to_value(&ann).unwrap());
    assert_eq!(all[0].item_id, Some(ann.id));
    assert!(all.iter().all(|e| e.session_id == f.session.id));
    assert_eq!(all[2].payload["displayName"], "Ann C");
    assert_eq!(all[3].payload["item"], serde_json::to_value(&moved).unwrap());
    assert_eq!(all[3].payload["fromStatusId"], json!(bob.status_id));
    assert_eq!(all[3].payload["toStatusId"], json!(moved.status_id));
    assert_eq!(all[3].payload["changedBy"], "api");
    assert!(all[0].payload.get("tenantId").is_none());
    let for_bob = store.read_events(f.tenant, EventScope::Item(bob.id), 0, 100).await.unwrap();
    assert_eq!(
        for_bob.iter().map(|e| e.kind).collect::<Vec<_>>(),
        [EventKind::ItemCreated, EventKind::ItemStatusChanged]
    );
    let resumed = store.read_events(f.tenant, EventScope::Session(f.session.id), all[1].seq, 2).await.unwrap();
    assert_eq!(resumed.iter().map(|e| e.seq).collect::<Vec<_>>(), [all[2].seq, all[3].seq]);
}

pub async fn fifty_concurrent_creators_get_unique_gap_free_numbers(store: DynStore) {
    let f = fixture(&store).await;
    let creators = 50;
    let per_creator = 4;
    let mut tasks = Vec::new();
    for c in 0..creators {
        let store = store.clone();
        let (tenant, session) = (f.tenant, f.session.id);
        tasks.push(tokio::spawn(async move {
            let mut got = Vec::new();
            for i in 0..per_creator {
                let it = store.create_item(tenant, session, item(&format!("c{c}-{i}"))).await.unwrap();
                got.push(it.queue_number);
            }
            got
        }));
    }
    let mut numbers = Vec::new();
    for t in tasks {
        numbers.extend(t.await.unwrap());
    }
    let mut parsed: Vec<i64> = numbers.iter().map(|n| n.strip_prefix("A-").unwrap().parse().unwrap()).collect();
    parsed.sort_unstable();
    let want: Vec<i64> = (1..=(creators * per_creator) as i64).collect();
    assert_eq!(parsed, want, "numbers are unique and gap-free");
    let events = store.read_events(f.tenant, EventScope::Session(f.session.id), 0, 1000).await.unwrap();
    assert_eq!(events.len(), creators * per_creator);
    assert!(events.windows(2).all(|w| w[0].seq < w[1].seq));
}

pub async fn concurrent_sessions_get_unique_gap_free_numbers(store: DynStore) {
    let f = fixture(&store).await;
    let mut tasks = Vec::new();
    for _ in 0..20 {
        let store = store.clone();
        let (tenant, queue) = (f.tenant, f.queue.id);
        tasks.push(tokio::spawn(async move {
            store.create_session(tenant, queue, NewSession::default()).await.unwrap().session_number
        }));
    }
    let mut numbers = Vec::new();
    for t in tasks {
        numbers.push(t.await.unwrap());
    }
    numbers.sort_unstable();
    assert_eq!(numbers, (2..=21).collect::<Vec<i64>>());
}

/// One step of the random numbering walk.
#[derive(Debug, Clone)]
enum NumberingOp {
    CreateItem(usize),
    OpenSession,
    Move(usize, Lifecycle),
}

fn numbering_op() -> impl proptest::strategy::Strategy<Value = NumberingOp> {
    use proptest::prelude::*;
    prop_oneof![
        6 => (0usize..4).prop_map(NumberingOp::CreateItem),
        1 => Just(NumberingOp::OpenSession),
        2 => (0usize..4, proptest::sample::select(Lifecycle::ALL.to_vec())).prop_map(|(s, l)| NumberingOp::Move(s, l)),
    ]
}

/// Property: for any sequence of item creations, session openings and lifecycle moves, every
/// creation in an active session gets exactly the next number of that session, every other one
/// is refused and uses no number, and each session ends with numbers 1..=n.
pub async fn numbering_follows_a_model_under_random_operations(store: DynStore) {
    use proptest::test_runner::{Config, TestRunner};
    let handle = tokio::runtime::Handle::current();
    let mut runner = TestRunner::new(Config { cases: 12, failure_persistence: None, ..Config::default() });
    let strategy = proptest::collection::vec(numbering_op(), 1..40);
    let result = runner.run(&strategy, |ops| {
        tokio::task::block_in_place(|| handle.block_on(run_numbering_walk(&store, ops)));
        Ok(())
    });
    if let Err(e) = result {
        panic!("{e}");
    }
}

async fn run_numbering_walk(store: &DynStore, ops: Vec<NumberingOp>) {
    let f = fixture(store).await;
    // Model: per session, its lifecycle and how many numbers it handed out.
    let mut sessions = vec![(f.session.id, Lifecycle::Active, 0i64)];
    for op in ops {
        match op {
            NumberingOp::CreateItem(i) => {
                let n = sessions.len();
                let (id, lifecycle, issued) = &mut sessions[i % n];
                match store.create_item(f.tenant, *id, item("p")).await {
                    Ok(it) => {
                        assert_eq!(*lifecycle, Lifecycle::Active, "only active sessions take items");
                        *issued += 1;
                        assert_eq!(it.queue_number, format!("A-{issued}"));
                    }
                    Err(e) => {
                        assert_ne!(*lifecycle, Lifecycle::Active, "an active session refused an item: {e}");
                        assert_domain(e, |d| matches!(d, DomainError::SessionNotActive { .. }));
                    }
                }
            }
            NumberingOp::OpenSession => {
                let s = store.create_session(f.tenant, f.queue.id, NewSession::default()).await.unwrap();
                assert_eq!(s.session_number, sessions.len() as i64 + 1);
                sessions.push((s.id, Lifecycle::Active, 0));
            }
            NumberingOp::Move(i, to) => {
                let n = sessions.len();
                let (id, lifecycle, _) = &mut sessions[i % n];
                let result = store.change_lifecycle(f.tenant, *id, to).await;
                assert_eq!(result.is_ok(), lifecycle.can_move_to(to), "{lifecycle} -> {to}");
                if result.is_ok() {
                    *lifecycle = to;
                }
            }
        }
    }
    for (id, _, issued) in sessions {
        let page = PageRequest { limit: 500, ..PageRequest::first(SortKey::Number, SortOrder::Asc) };
        let listed = store.list_items(f.tenant, id, &ItemFilter::default(), &page).await.unwrap();
        let numbers: Vec<String> = listed.items.into_iter().map(|i| i.queue_number).collect();
        let want: Vec<String> = (1..=issued).map(|n| format!("A-{n}")).collect();
        assert_eq!(numbers, want);
    }
}
