//! The storage conformance suite: every storage behaviour, tested once, run unchanged against
//! every backend. A backend crate runs it with
//! `lineup_store::conformance_suite!(path::to::factory);` in a test file, where the factory is an
//! `async fn() -> DynStore` returning a migrated store. Every test makes its own tenant, so tests
//! may share one database.

use std::collections::HashSet;

use lineup_domain::{
    DomainError, EventKind, ItemPatch, Lifecycle, NewItem, NewQueue, NewSession, NewTemplate, NewTemplateStatus,
    QueuePatch, SessionPatch, SessionStatusPatch, StatusChangeRequest, Transition, TransitionFrom,
};
use serde_json::json;
use uuid::Uuid;

use crate::{DynStore, Entity, EventScope, ItemFilter, PageRequest, SortKey, SortOrder, StoreError};

/// Generates one `#[tokio::test]` per conformance test, each calling `$factory().await`.
#[macro_export]
macro_rules! conformance_suite {
    ($factory:path) => {
        $crate::conformance_suite!(@each $factory;
            templates_round_trip_with_statuses_and_machine,
            template_statuses_can_be_added_but_not_duplicated,
            invalid_templates_are_refused_and_store_nothing,
            queues_are_created_updated_and_deactivated,
            queue_lists_paginate_in_both_orders,
            sessions_are_numbered_per_queue_and_clone_template_statuses,
            inactive_queues_refuse_new_sessions,
            lifecycle_moves_follow_the_table_and_emit_events,
            deleted_sessions_are_hidden_from_every_read,
            session_status_relabels_carry_into_the_machine,
            item_numbers_restart_in_every_session,
            items_are_added_only_to_active_sessions,
            an_items_session_never_changes,
            metadata_is_checked_against_the_template_schema,
            status_moves_follow_the_machine_and_record_history,
            item_lists_filter_by_status_and_paginate,
            another_tenants_objects_are_not_found,
            events_are_scoped_ordered_and_carry_api_shapes,
            fifty_concurrent_creators_get_unique_gap_free_numbers,
            concurrent_sessions_get_unique_gap_free_numbers,
            foreign_cursors_and_sort_keys_are_refused,
            numbering_follows_a_model_under_random_operations,
        );
    };
    (@each $factory:path; $($name:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn $name() {
                $crate::conformance::$name($factory().await).await;
            }
        )*
    };
}

/// A tenant with a Waiting → Serving → Done template, a queue `A` and an active session.
pub struct Fixture {
    pub tenant: Uuid,
    pub template: lineup_domain::Template,
    pub queue: lineup_domain::Queue,
    pub session: lineup_domain::Session,
}

fn status(label: &str, color: &str) -> NewTemplateStatus {
    NewTemplateStatus { label: label.into(), color: Some(color.into()), order: None }
}

fn transition(name: &str, from: &str, to: &str) -> Transition {
    Transition { name: name.into(), from: TransitionFrom::One(from.into()), to: to.into() }
}

/// The template every fixture uses.
pub fn service_template(schema: Option<serde_json::Value>) -> NewTemplate {
    NewTemplate {
        name: "Service".into(),
        statuses: vec![status("Waiting", "#ffaa00"), status("Serving", "#00aaff"), status("Done", "#00ff00")],
        init: Some("Waiting".into()),
        transitions: vec![
            transition("call", "Waiting", "Serving"),
            transition("finish", "Serving", "Done"),
            Transition {
                name: "requeue".into(),
                from: TransitionFrom::Many(vec!["Serving".into()]),
                to: "Waiting".into(),
            },
        ],
        metadata_schema: schema,
    }
}

/// A fresh tenant.
pub async fn tenant(store: &DynStore) -> Uuid {
    let id = Uuid::new_v4();
    store.ensure_tenant(id, "Conformance", &format!("t-{id}")).await.unwrap();
    id
}

/// Builds a fixture; `schema` becomes the template's metadata schema.
pub async fn fixture_with_schema(store: &DynStore, schema: Option<serde_json::Value>) -> Fixture {
    let tenant = tenant(store).await;
    let template = store.create_template(tenant, service_template(schema)).await.unwrap();
    let queue = store
        .create_queue(
            tenant,
            NewQueue { name: "Front desk".into(), template_id: template.id, prefix: Some("a".into()) },
        )
        .await
        .unwrap();
    let session = store.create_session(tenant, queue.id, NewSession::default()).await.unwrap();
    Fixture { tenant, template, queue, session }
}

/// Builds a fixture without a metadata schema.
pub async fn fixture(store: &DynStore) -> Fixture {
    fixture_with_schema(store, None).await
}

fn item(name: &str) -> NewItem {
    NewItem { display_name: name.into(), metadata: None, status_id: None }
}

fn by_transition(name: &str) -> StatusChangeRequest {
    StatusChangeRequest { transition: Some(name.into()), ..Default::default() }
}

fn assert_domain(err: StoreError, check: impl Fn(&DomainError) -> bool) {
    match &err {
        StoreError::Domain(d) if check(d) => {}
        other => panic!("unexpected error {other:?}"),
    }
}

fn assert_not_found(err: StoreError, entity: Entity) {
    match err {
        StoreError::NotFound(e) => assert_eq!(e, entity),
        other => panic!("expected {entity} not found, got {other:?}"),
    }
}

pub async fn templates_round_trip_with_statuses_and_machine(store: DynStore) {
    let t = tenant(&store).await;
    let schema = json!({"type": "object"});
    let created = store.create_template(t, service_template(Some(schema.clone()))).await.unwrap();
    let labels: Vec<_> = created.statuses.iter().map(|s| (s.label.as_str(), s.order)).collect();
    assert_eq!(labels, [("Waiting", 0), ("Serving", 1), ("Done", 2)]);
    assert_eq!(created.statuses[0].color, "#ffaa00");
    assert!(created.statuses.iter().all(|s| s.template_id == created.id));
    assert_eq!(created.init.as_deref(), Some("Waiting"));
    assert_eq!(created.transitions.len(), 3);
    assert_eq!(created.metadata_schema, Some(schema));
    let fetched = store.get_template(t, created.id).await.unwrap();
    assert_eq!(fetched, created);
    let listed = store.list_templates(t, &PageRequest::first(SortKey::CreatedAt, SortOrder::Asc)).await.unwrap();
    assert_eq!(listed.items, vec![created]);
    assert_eq!(listed.next_cursor, None);
}

pub async fn template_statuses_can_be_added_but_not_duplicated(store: DynStore) {
    let f = fixture(&store).await;
    let added = store
        .add_template_status(
            f.tenant,
            f.template.id,
            NewTemplateStatus { label: "No-show".into(), color: None, order: None },
        )
        .await
        .unwrap();
    assert_eq!(added.order, 3, "a status without order goes after the last one");
    assert_eq!(added.color, "#9e9e9e");
    let t = store.get_template(f.tenant, f.template.id).await.unwrap();
    assert_eq!(t.statuses.last().unwrap(), &added);
    assert!(t.updated_at >= f.template.updated_at);
    let dup = store.add_template_status(f.tenant, f.template.id, status("Waiting", "#000000")).await.unwrap_err();
    assert_domain(dup, |d| matches!(d, DomainError::DuplicateStatusLabel { .. }));
    let bad = store.add_template_status(f.tenant, f.template.id, status("X", "blue")).await.unwrap_err();
    assert_domain(bad, |d| matches!(d, DomainError::Invalid { field: "color", .. }));
    assert_not_found(
        store.add_template_status(f.tenant, Uuid::new_v4(), status("Y", "#000000")).await.unwrap_err(),
        Entity::Template,
    );
    // The session created before the change keeps the statuses it was cloned with.
    let statuses = store.list_session_statuses(f.tenant, f.session.id).await.unwrap();
    assert_eq!(statuses.len(), 3);
    let later = store.create_session(f.tenant, f.queue.id, NewSession::default()).await.unwrap();
    assert_eq!(store.list_session_statuses(f.tenant, later.id).await.unwrap().len(), 4);
}

pub async fn invalid_templates_are_refused_and_store_nothing(store: DynStore) {
    let t = tenant(&store).await;
    let mut unknown_label = service_template(None);
    unknown_label.transitions.push(transition("x", "Nowhere", "Done"));
    let mut bad_schema = service_template(None);
    bad_schema.metadata_schema = Some(json!({"type": 5}));
    let mut empty_name = service_template(None);
    empty_name.name = "  ".into();
    for bad in [unknown_label, bad_schema, empty_name] {
        assert_domain(store.create_template(t, bad).await.unwrap_err(), |d| matches!(d, DomainError::Invalid { .. }));
    }
    let page = store.list_templates(t, &PageRequest::first(SortKey::Name, SortOrder::Asc)).await.unwrap();
    assert!(page.items.is_empty());
}

pub async fn queues_are_created_updated_and_deactivated(store: DynStore) {
    let f = fixture(&store).await;
    assert_eq!((f.queue.name.as_str(), f.queue.prefix.as_str(), f.queue.is_active), ("Front desk", "A", true));
    assert_eq!(store.get_queue(f.tenant, f.queue.id).await.unwrap(), f.queue);
    let default_prefix = store
        .create_queue(f.tenant, NewQueue { name: "billing".into(), template_id: f.template.id, prefix: None })
        .await
        .unwrap();
    assert_eq!(default_prefix.prefix, "B");
    let missing_template = NewQueue { name: "x".into(), template_id: Uuid::new_v4(), prefix: None };
    assert_not_found(store.create_queue(f.tenant, missing_template).await.unwrap_err(), Entity::Template);
    let renamed = store
        .update_queue(f.tenant, f.queue.id, QueuePatch { name: Some("Reception".into()), ..Default::default() })
        .await
        .unwrap();
    assert_eq!(renamed.name, "Reception");
    assert!(renamed.updated_at >= f.queue.updated_at);
    assert_eq!(renamed.created_at, f.queue.created_at);
    let bad =
        store.update_queue(f.tenant, f.queue.id, QueuePatch { prefix: Some("TOO-LONG".into()), ..Default::default() });
    assert_domain(bad.await.unwrap_err(), |d| matches!(d, DomainError::Invalid { field: "prefix", .. }));
    assert_eq!(store.get_queue(f.tenant, f.queue.id).await.unwrap().prefix, "A", "a refused patch changes nothing");
    let off = store
        .update_queue(f.tenant, f.queue.id, QueuePatch { is_active: Some(false), ..Default::default() })
        .await
        .unwrap();
    assert!(!off.is_active);
    assert!(!store.get_queue(f.tenant, f.queue.id).await.unwrap().is_active);
    assert_not_found(store.get_queue(f.tenant, Uuid::new_v4()).await.unwrap_err(), Entity::Queue);
}

pub async fn queue_lists_paginate_in_both_orders(store: DynStore) {
    let f = fixture(&store).await;
    let names = ["delta", "Alpha", "charlie", "Bravo", "echo", "alpha"];
    for n in names {
        store
            .create_queue(f.tenant, NewQueue { name: n.into(), template_id: f.template.id, prefix: None })
            .await
            .unwrap();
    }
    let mut expected: Vec<String> = names.iter().map(|s| s.to_string()).chain(["Front desk".to_string()]).collect();
    expected.sort(); // byte order: upper case first
    for order in [SortOrder::Asc, SortOrder::Desc] {
        let mut seen = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let req = PageRequest::new(Some(2), SortKey::Name, order, cursor.as_deref()).unwrap();
            let page = store.list_queues(f.tenant, &req).await.unwrap();
            assert!(page.items.len() <= 2);
            seen.extend(page.items.into_iter().map(|q| q.name));
            match page.next_cursor {
                Some(c) => cursor = Some(c),
                None => break,
            }
        }
        let mut want = expected.clone();
        if order == SortOrder::Desc {
            want.reverse();
        }
        assert_eq!(seen, want, "{order:?}");
    }
    let by_created =
        store.list_queues(f.tenant, &PageRequest::first(SortKey::CreatedAt, SortOrder::Asc)).await.unwrap();
    assert_eq!(by_created.items.len(), 7);
    assert!(by_created.items.windows(2).all(|w| w[0].created_at <= w[1].created_at));
}

pub async fn sessions_are_numbered_per_queue_and_clone_template_statuses(store: DynStore) {
    let f = fixture(&store).await;
    assert_eq!((f.session.session_number, f.session.name.as_str()), (1, "Session 1"));
    assert_eq!(f.session.lifecycle_status, Lifecycle::Active);
    assert_eq!(f.session.queue_id, f.queue.id);
    assert_eq!(f.session.ended_at, None);
    let second =
        store.create_session(f.tenant, f.queue.id, NewSession { name: Some(" Evening ".into()) }).await.unwrap();
    assert_eq!((second.session_number, second.name.as_str()), (2, "Evening"));
    let other_queue = store
        .create_queue(f.tenant, NewQueue { name: "Other".into(), template_id: f.template.id, prefix: None })
        .await
        .unwrap();
    let first_of_other = store.create_session(f.tenant, other_queue.id, NewSession::default()).await.unwrap();
    assert_eq!(first_of_other.session_number, 1);
    let statuses = store.list_session_statuses(f.tenant, f.session.id).await.unwrap();
    let got: Vec<_> = statuses.iter().map(|s| (s.label.as_str(), s.color.as_str(), s.order)).collect();
    assert_eq!(got, [("Waiting", "#ffaa00", 0), ("Serving", "#00aaff", 1), ("Done", "#00ff00", 2)]);
    assert!(statuses.iter().all(|s| s.session_id == f.session.id));
    let template_ids: HashSet<_> = f.template.statuses.iter().map(|s| s.id).collect();
    assert!(statuses.iter().all(|s| !template_ids.contains(&s.id)), "session statuses are copies with their own ids");
    let renamed = store.update_session(f.tenant, second.id, SessionPatch { name: Some("Late".into()) }).await.unwrap();
    assert_eq!(renamed.name, "Late");
    let page = store
        .list_sessions(f.tenant, f.queue.id, &PageRequest::first(SortKey::SessionNumber, SortOrder::Desc))
        .await
        .unwrap();
    let numbers: Vec<_> = page.items.iter().map(|s| s.session_number).collect();
    assert_eq!(numbers, [2, 1]);
    assert_not_found(
        store.create_session(f.tenant, Uuid::new_v4(), NewSession::default()).await.unwrap_err(),
        Entity::Queue,
    );
    assert_not_found(
        store
            .list_sessions(f.tenant, Uuid::new_v4(), &PageRequest::first(SortKey::SessionNumber, SortOrder::Asc))
            .await
            .unwrap_err(),
        Entity::Queue,
    );
}

pub async fn inactive_queues_refuse_new_sessions(store: DynStore) {
    let f = fixture(&store).await;
    store
        .update_queue(f.tenant, f.queue.id, QueuePatch { is_active: Some(false), ..Default::default() })
        .await
        .unwrap();
    let err = store.create_session(f.tenant, f.queue.id, NewSession::default()).await.unwrap_err();
    assert_domain(err, |d| matches!(d, DomainError::QueueInactive));
    store.update_queue(f.tenant, f.queue.id, QueuePatch { is_active: Some(true), ..Default::default() }).await.unwrap();
    let next = store.create_session(f.tenant, f.queue.id, NewSession::default()).await.unwrap();
    assert_eq!(next.session_number, 2, "a refused creation uses up no number");
}

pub async fn lifecycle_moves_follow_the_table_and_emit_events(store: DynStore) {
    let f = fixture(&store).await;
    let id = f.session.id;
    let paused = store.change_lifecycle(f.tenant, id, Lifecycle::Paused).await.unwrap();
    assert_eq!(paused.lifecycle_status, Lifecycle::Paused);
    let err = store.change_lifecycle(f.tenant, id, Lifecycle::Archived).await.unwrap_err();
    assert_domain(err, |d| {
        matches!(d, DomainError::InvalidLifecycleTransition { from: Lifecycle::Paused, to: Lifecycle::Archived })
    });
    assert_eq!(store.get_session(f.tenant, id).await.unwrap().lifecycle_status, Lifecycle::Paused);
    store.change_lifecycle(f.tenant, id, Lifecycle::Active).await.unwrap();
    let done = store.change_lifecycle(f.tenant, id, Lifecycle::Completed).await.unwrap();
    assert!(done.ended_at.is_some());
    let archived = store.change_lifecycle(f.tenant, id, Lifecycle::Archived).await.unwrap();
    assert_eq!(archived.lifecycle_status, Lifecycle::Archived);
    assert_eq!(store.get_session(f.tenant, id).await.unwrap(), archived);
    let err = store.change_lifecycle(f.tenant, id, Lifecycle::Active).await.unwrap_err();
    assert_domain(err, |d| matches!(d, DomainError::InvalidLifecycleTransition { .. }));
    let events = store.read_events(f.tenant, EventScope::Session(id), 0, 100).await.unwrap();
    let kinds: Vec<_> = events.iter().map(|e| e.kind).collect();
    assert_eq!(kinds, [EventKind::SessionPaused, EventKind::SessionResumed, EventKind::SessionCompleted]);
    assert_eq!(events[2].payload["lifecycleStatus"], "completed");
    assert_eq!(events[2].payload["id"], json!(id));
}

pub async fn deleted_sessions_are_hidden_from_every_read(store: DynStore) {
    let f = fixture(&store).await;
    let it = store.create_item(f.tenant, f.session.id, item("Ann")).await.unwrap();
    let statuses = store.list_session_statuses(f.tenant, f.session.id).await.unwrap();
    store.delete_session(f.tenant, f.session.id).await.unwrap();
    let (t, s) = (f.tenant, f.session.id);
    assert_not_found(store.get_session(t, s).await.unwrap_err(), Entity::Session);
    assert_not_found(store.delete_session(t, s).await.unwrap_err(), Entity::Session);
    assert_not_found(store.list_session_statuses(t, s).await.unwrap_err(), Entity::Session);
    assert_not_found(store.change_lifecycle(t, s, Lifecycle::Paused).await.unwrap_err(), Entity::Session);
    assert_not_found(
        store.update_session(t, s, SessionPatch { name: Some("x".into()) }).await.unwrap_err(),
        Entity::Session,
    );
    assert_not_found(store.create_item(t, s, item("Bob")).await.unwrap_err(), Entity::Session);
    let page = PageRequest::first(SortKey::Number, SortOrder::Asc);
    assert_not_found(store.list_items(t, s, &ItemFilter::default(), &page).await.unwrap_err(), Entity::Session);
    assert_not_found(store.get_item(t, it.id).await.unwrap_err(), Entity::Item);
    assert_not_found(store.update_item(t, it.id, ItemPatch::default()).await.unwrap_err(), Entity::Item);
    assert_not_found(store.change_item_status(t, it.id, by_transition("call")).await.unwrap_err(), Entity::Item);
    assert_not_found(store.item_history(t, it.id).await.unwrap_err(), Entity::Item);
    let patch = SessionStatusPatch { color: Some("#000000".into()), ..Default::default() };
    assert_not_found(store.update_session_status(t, statuses[0].id, patch).await.unwrap_err(), Entity::SessionStatus);
    let listed =
        store.list_sessions(t, f.queue.id, &PageRequest::first(SortKey::SessionNumber, SortOrder::Asc)).await.unwrap();
    assert!(listed.items.is_empty());
    let next = store.create_session(t, f.queue.id, NewSession::default()).await.unwrap();
    assert_eq!(next.session_number, 2, "numbers of deleted sessions are not reused");
}

pub async fn session_status_relabels_carry_into_the_machine(store: DynStore) {
    let f = fixture(&store).await;
    let statuses = store.list_session_statuses(f.tenant, f.session.id).await.unwrap();
    let serving = &statuses[1];
    let patch = SessionStatusPatch { label: Some("At desk".into()), color: Some("#123ABC".into()), order: Some(5) };
    let updated = store.update_session_status(f.tenant, serving.id, patch).await.unwrap();
    assert_eq!((updated.label.as_str(), updated.color.as_str(), updated.order), ("At desk", "#123abc", 5));
    let dup = SessionStatusPatch { label: Some("Waiting".into()), ..Default::default() };
    assert_domain(store.update_session_status(f.tenant, serving.id, dup).await.unwrap_err(), |d| {
        matches!(d, DomainError::DuplicateStatusLabel { .. })
    });
    let listed = store.list_session_statuses(f.tenant, f.session.id).await.unwrap();
    let labels: Vec<_> = listed.iter().map(|s| s.label.as_str()).collect();
    assert_eq!(labels, ["Waiting", "Done", "At desk"], "ordered by order");
    // The machine follows the relabel: `call` now lands in "At desk".
    let it = store.create_item(f.tenant, f.session.id, item("Ann")).await.unwrap();
    let moved = store.change_item_status(f.tenant, it.id, by_transition("call")).await.unwrap();
    assert_eq!(moved.status_id, serving.id);
    // The template is untouched.
    let template = store.get_template(f.tenant, f.template.id).await.unwrap();
    assert_eq!(template.statuses[1].label, "Serving");
    assert_not_found(
        store.update_session_status(f.tenant, Uuid::new_v4(), SessionStatusPatch::default()).await.unwrap_err(),
        Entity::SessionStatus,
    );
}

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

pub async fn another_tenants_objects_are_not_found(store: DynStore) {
    let a = fixture(&store).await;
    let b = tenant(&store).await;
    let it = store.create_item(a.tenant, a.session.id, item("Ann")).await.unwrap();
    let status_id = store.list_session_statuses(a.tenant, a.session.id).await.unwrap()[0].id;
    let first = |k| PageRequest::first(k, SortOrder::Asc);
    assert_not_found(store.get_template(b, a.template.id).await.unwrap_err(), Entity::Template);
    assert_not_found(
        store.add_template_status(b, a.template.id, status("Z", "#000000")).await.unwrap_err(),
        Entity::Template,
    );
    let q = NewQueue { name: "steal".into(), template_id: a.template.id, prefix: None };
    assert_not_found(store.create_queue(b, q).await.unwrap_err(), Entity::Template);
    assert_not_found(store.get_queue(b, a.queue.id).await.unwrap_err(), Entity::Queue);
    assert_not_found(store.update_queue(b, a.queue.id, QueuePatch::default()).await.unwrap_err(), Entity::Queue);
    assert_not_found(store.create_session(b, a.queue.id, NewSession::default()).await.unwrap_err(), Entity::Queue);
    assert_not_found(
        store.list_sessions(b, a.queue.id, &first(SortKey::SessionNumber)).await.unwrap_err(),
        Entity::Queue,
    );
    assert_not_found(store.get_session(b, a.session.id).await.unwrap_err(), Entity::Session);
    assert_not_found(
        store.update_session(b, a.session.id, SessionPatch::default()).await.unwrap_err(),
        Entity::Session,
    );
    assert_not_found(store.change_lifecycle(b, a.session.id, Lifecycle::Paused).await.unwrap_err(), Entity::Session);
    assert_not_found(store.delete_session(b, a.session.id).await.unwrap_err(), Entity::Session);
    assert_not_found(store.list_session_statuses(b, a.session.id).await.unwrap_err(), Entity::Session);
    assert_not_found(
        store.update_session_status(b, status_id, SessionStatusPatch::default()).await.unwrap_err(),
        Entity::SessionStatus,
    );
    assert_not_found(store.create_item(b, a.session.id, item("x")).await.unwrap_err(), Entity::Session);
    let by_number = first(SortKey::Number);
    let items = store.list_items(b, a.session.id, &ItemFilter::default(), &by_number).await;
    assert_not_found(items.unwrap_err(), Entity::Session);
    assert_not_found(store.get_item(b, it.id).await.unwrap_err(), Entity::Item);
    assert_not_found(store.update_item(b, it.id, ItemPatch::default()).await.unwrap_err(), Entity::Item);
    assert_not_found(store.change_item_status(b, it.id, by_transition("call")).await.unwrap_err(), Entity::Item);
    assert_not_found(store.item_history(b, it.id).await.unwrap_err(), Entity::Item);
    assert!(store.list_templates(b, &first(SortKey::Name)).await.unwrap().items.is_empty());
    assert!(store.list_queues(b, &first(SortKey::Name)).await.unwrap().items.is_empty());
    assert!(store.read_events(b, EventScope::Session(a.session.id), 0, 100).await.unwrap().is_empty());
    assert!(store.read_events(b, EventScope::Item(it.id), 0, 100).await.unwrap().is_empty());
    // Tenant A still sees everything, unchanged.
    assert_eq!(store.get_item(a.tenant, it.id).await.unwrap(), it);
    assert_eq!(store.get_session(a.tenant, a.session.id).await.unwrap(), a.session);
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

pub async fn foreign_cursors_and_sort_keys_are_refused(store: DynStore) {
    let f = fixture(&store).await;
    for _ in 0..3 {
        store.create_item(f.tenant, f.session.id, item("x")).await.unwrap();
    }
    let req = PageRequest::new(Some(1), SortKey::Number, SortOrder::Asc, None).unwrap();
    let page = store.list_items(f.tenant, f.session.id, &ItemFilter::default(), &req).await.unwrap();
    let cursor = page.next_cursor.unwrap();
    assert!(PageRequest::new(Some(1), SortKey::CreatedAt, SortOrder::Asc, Some(&cursor)).is_err());
    let wrong_key = PageRequest::first(SortKey::Name, SortOrder::Asc);
    let err = store.list_items(f.tenant, f.session.id, &ItemFilter::default(), &wrong_key).await.unwrap_err();
    assert!(matches!(err, StoreError::InvalidPage(_)), "{err:?}");
    let err = store.list_queues(f.tenant, &PageRequest::first(SortKey::Number, SortOrder::Asc)).await.unwrap_err();
    assert!(matches!(err, StoreError::InvalidPage(_)), "{err:?}");
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
