//! Conformance tests of the queue half of the contract: templates, queues, sessions and their
//! statuses, and tenant isolation of all of them.

use std::collections::HashSet;

use lineup_domain::{
    DomainError, EventKind, ItemPatch, Lifecycle, NewQueue, NewSession, NewTemplateStatus, QueuePatch, SessionPatch,
    SessionStatusPatch,
};
use serde_json::json;
use uuid::Uuid;

use super::{
    assert_domain, assert_not_found, by_transition, fixture, item, service_template, status, tenant, transition,
};
use crate::{DynStore, Entity, EventScope, ItemFilter, PageRequest, SortKey, SortOrder, StoreError};

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
