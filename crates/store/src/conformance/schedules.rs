//! Conformance: session schedules and the rotation they drive.

use chrono::{DateTime, Utc};
use lineup_domain::{DomainError, EventKind, Lifecycle, NewQueue, NewSession, SessionScheduleSpec};
use uuid::Uuid;

use super::{assert_domain, assert_not_found, by_transition, fixture, item, tenant};
use crate::{DynStore, Entity, EventScope, PageRequest, RotateOutcome, SortKey, SortOrder};

fn at(s: &str) -> DateTime<Utc> {
    s.parse().unwrap()
}

fn daily(name: &str) -> SessionScheduleSpec {
    SessionScheduleSpec::new("0 0 6 * * *", name).unwrap()
}

pub async fn schedules_are_put_read_replaced_and_deleted(store: DynStore) {
    let f = fixture(&store).await;
    assert_not_found(store.get_session_schedule(f.tenant, f.queue.id).await.unwrap_err(), Entity::SessionSchedule);
    let created = at("2030-01-01T09:00:00Z");
    let put = store.put_session_schedule(f.tenant, f.queue.id, daily("Day {date}"), created).await.unwrap();
    assert_eq!(put.queue_id, f.queue.id);
    assert_eq!(put.cron, "0 0 6 * * *");
    assert_eq!(put.session_name, "Day {date}");
    assert_eq!(put.last_run_at, None);
    assert_eq!(put.next_run_at, Some(at("2030-01-02T06:00:00Z")));
    assert_eq!(put.created_at, created);
    assert_eq!(store.get_session_schedule(f.tenant, f.queue.id).await.unwrap(), put);

    let later = at("2030-01-01T10:00:00Z");
    let spec = SessionScheduleSpec::new("0 30 7 * * 1-5", "Weekday").unwrap();
    let replaced = store.put_session_schedule(f.tenant, f.queue.id, spec, later).await.unwrap();
    assert_eq!((replaced.cron.as_str(), replaced.session_name.as_str()), ("0 30 7 * * 1-5", "Weekday"));
    assert_eq!((replaced.created_at, replaced.updated_at), (created, later));
    assert_eq!(store.get_session_schedule(f.tenant, f.queue.id).await.unwrap(), replaced);

    store.delete_session_schedule(f.tenant, f.queue.id).await.unwrap();
    assert_not_found(store.get_session_schedule(f.tenant, f.queue.id).await.unwrap_err(), Entity::SessionSchedule);
    assert_not_found(store.delete_session_schedule(f.tenant, f.queue.id).await.unwrap_err(), Entity::SessionSchedule);
}

pub async fn invalid_schedules_are_refused(store: DynStore) {
    for (cron, name, field) in [("0 6 * * *", "Day", "cron"), ("0 0 6 * * *", "", "sessionName"), ("x", "D", "cron")] {
        match SessionScheduleSpec::new(cron, name) {
            Err(DomainError::Invalid { field: f, .. }) => assert_eq!(f, field, "{cron}"),
            other => panic!("{cron} / {name}: {other:?}"),
        }
    }
    let f = fixture(&store).await;
    let due = at("2030-01-01T06:00:00Z");
    let unscheduled = store.rotate_session(f.tenant, f.queue.id, due, "Day".into(), due).await.unwrap_err();
    assert_not_found(unscheduled, Entity::SessionSchedule);
    store.put_session_schedule(f.tenant, f.queue.id, daily("Day"), at("2030-01-01T00:00:00Z")).await.unwrap();
    let err = store
        .rotate_session(f.tenant, f.queue.id, at("2030-01-01T06:00:00Z"), " ".into(), at("2030-01-01T06:00:00Z"))
        .await
        .unwrap_err();
    assert_domain(err, |d| matches!(d, DomainError::Invalid { .. }));
    assert_eq!(store.get_session_schedule(f.tenant, f.queue.id).await.unwrap().last_run_at, None);
}

pub async fn another_tenants_queue_schedules_are_not_found(store: DynStore) {
    let f = fixture(&store).await;
    let other = tenant(&store).await;
    let now = at("2030-01-01T00:00:00Z");
    store.put_session_schedule(f.tenant, f.queue.id, daily("Day"), now).await.unwrap();
    let put = store.put_session_schedule(other, f.queue.id, daily("Theirs"), now).await.unwrap_err();
    assert_not_found(put, Entity::Queue);
    assert_not_found(store.get_session_schedule(other, f.queue.id).await.unwrap_err(), Entity::Queue);
    assert_not_found(store.delete_session_schedule(other, f.queue.id).await.unwrap_err(), Entity::Queue);
    let rotate = store.rotate_session(other, f.queue.id, at("2030-01-01T06:00:00Z"), "X".into(), now).await;
    assert_not_found(rotate.unwrap_err(), Entity::Queue);
    assert_not_found(
        store.put_session_schedule(f.tenant, Uuid::now_v7(), daily("D"), now).await.unwrap_err(),
        Entity::Queue,
    );
    assert_eq!(store.get_session_schedule(f.tenant, f.queue.id).await.unwrap().session_name, "Day");
}

pub async fn due_schedules_of_every_tenant_are_listed(store: DynStore) {
    let a = fixture(&store).await;
    let b = fixture(&store).await;
    let created = at("2031-05-01T00:00:00Z");
    store.put_session_schedule(a.tenant, a.queue.id, daily("A"), created).await.unwrap();
    let hourly = SessionScheduleSpec::new("0 0 * * * *", "B").unwrap();
    store.put_session_schedule(b.tenant, b.queue.id, hourly, created).await.unwrap();
    let ours = |now: DateTime<Utc>| {
        let store = store.clone();
        let tenants = [a.tenant, b.tenant];
        async move {
            let mut due: Vec<Uuid> = store
                .list_due_schedules(now)
                .await
                .unwrap()
                .into_iter()
                .filter(|d| tenants.contains(&d.tenant_id))
                .map(|d| d.schedule.queue_id)
                .collect();
            due.sort();
            due
        }
    };
    assert!(ours(at("2031-05-01T00:59:59Z")).await.is_empty());
    assert_eq!(ours(at("2031-05-01T01:00:00Z")).await, [b.queue.id]);
    let mut both = vec![a.queue.id, b.queue.id];
    both.sort();
    assert_eq!(ours(at("2031-05-01T06:00:00Z")).await, both);
    store
        .rotate_session(a.tenant, a.queue.id, at("2031-05-01T06:00:00Z"), "A".into(), at("2031-05-01T06:00:01Z"))
        .await
        .unwrap();
    assert_eq!(ours(at("2031-05-01T06:00:02Z")).await, [b.queue.id]);
    // An inactive queue's schedule waits until it is active again.
    let patch = lineup_domain::QueuePatch { is_active: Some(false), ..Default::default() };
    store.update_queue(b.tenant, b.queue.id, patch).await.unwrap();
    assert!(ours(at("2031-05-01T06:00:02Z")).await.is_empty());
}

pub async fn rotation_opens_the_next_session_and_completes_drained_ones(store: DynStore) {
    let f = fixture(&store).await;
    let t = f.tenant;
    // Session 1 (the fixture's) has a live item; session 2 only finished ones; session 3 is
    // paused and empty.
    store.create_item(t, f.session.id, item("Live")).await.unwrap();
    let s2 = store.create_session(t, f.queue.id, NewSession::default()).await.unwrap();
    let done = store.create_item(t, s2.id, item("Done")).await.unwrap();
    store.change_item_status(t, done.id, by_transition("call")).await.unwrap();
    store.change_item_status(t, done.id, by_transition("finish")).await.unwrap();
    let s3 = store.create_session(t, f.queue.id, NewSession::default()).await.unwrap();
    store.change_lifecycle(t, s3.id, Lifecycle::Paused).await.unwrap();
    store.put_session_schedule(t, f.queue.id, daily("Day {date}"), at("2030-01-01T00:00:00Z")).await.unwrap();

    let due = at("2030-01-01T06:00:00Z");
    let now = at("2030-01-01T06:00:05Z");
    let RotateOutcome::Rotated { opened, completed, draining } =
        store.rotate_session(t, f.queue.id, due, "Day 2030-01-01".into(), now).await.unwrap()
    else {
        panic!("the first rotation must rotate");
    };
    assert_eq!((opened.session_number, opened.name.as_str()), (4, "Day 2030-01-01"));
    assert_eq!(opened.lifecycle_status, Lifecycle::Active);
    assert_eq!(completed, [s2.id, s3.id]);
    assert_eq!(draining, [f.session.id]);
    let lifecycle = |id: Uuid| {
        let store = store.clone();
        async move { store.get_session(t, id).await.unwrap().lifecycle_status }
    };
    assert_eq!(lifecycle(f.session.id).await, Lifecycle::Active);
    assert_eq!(lifecycle(s2.id).await, Lifecycle::Completed);
    assert_eq!(lifecycle(s3.id).await, Lifecycle::Completed);
    assert_eq!(store.get_session(t, s2.id).await.unwrap().ended_at, Some(now));
    let events = store.read_events(t, EventScope::Session(s2.id), 0, 100).await.unwrap();
    assert_eq!(events.last().unwrap().kind, EventKind::SessionCompleted);
    let schedule = store.get_session_schedule(t, f.queue.id).await.unwrap();
    assert_eq!(schedule.last_run_at, Some(due));
    assert_eq!(schedule.next_run_at, Some(at("2030-01-02T06:00:00Z")));

    // The live item finishes; the next rotation completes its session and the one it opened
    // before stays the queue's only other open session until then.
    let live = store
        .list_items(
            t,
            f.session.id,
            &Default::default(),
            &PageRequest::new(Some(10), SortKey::Number, SortOrder::Asc, None).unwrap(),
        )
        .await
        .unwrap();
    let live = &live.items[0];
    store.change_item_status(t, live.id, by_transition("call")).await.unwrap();
    store.change_item_status(t, live.id, by_transition("finish")).await.unwrap();
    let next = at("2030-01-02T06:00:00Z");
    let RotateOutcome::Rotated { opened: fifth, completed, draining } =
        store.rotate_session(t, f.queue.id, next, "Day 2030-01-02".into(), next).await.unwrap()
    else {
        panic!("a later instant must rotate");
    };
    assert_eq!(fifth.session_number, 5);
    assert_eq!(completed, [f.session.id, opened.id]);
    assert!(draining.is_empty());
    assert_eq!(lifecycle(f.session.id).await, Lifecycle::Completed);
}

pub async fn rotating_twice_for_one_instant_changes_nothing(store: DynStore) {
    let f = fixture(&store).await;
    let t = f.tenant;
    store.put_session_schedule(t, f.queue.id, daily("Day"), at("2030-01-01T00:00:00Z")).await.unwrap();
    let due = at("2030-01-01T06:00:00Z");
    let first = store.rotate_session(t, f.queue.id, due, "Day".into(), due).await.unwrap();
    assert!(matches!(first, RotateOutcome::Rotated { .. }));
    let seq = store.last_event_seq().await.unwrap();
    for instant in [due, at("2030-01-01T05:00:00Z")] {
        let again =
            store.rotate_session(t, f.queue.id, instant, "Day".into(), at("2030-01-01T06:01:00Z")).await.unwrap();
        assert_eq!(again, RotateOutcome::AlreadyRan);
    }
    let page = PageRequest::new(Some(10), SortKey::SessionNumber, SortOrder::Asc, None).unwrap();
    assert_eq!(store.list_sessions(t, f.queue.id, &page).await.unwrap().items.len(), 2);
    assert_eq!(store.get_session_schedule(t, f.queue.id).await.unwrap().last_run_at, Some(due));
    let events = store.read_events(t, EventScope::Session(f.session.id), 0, 100).await.unwrap();
    assert!(events.iter().all(|e| e.seq <= seq));
}

pub async fn rotation_opens_the_first_session_of_an_empty_queue(store: DynStore) {
    let f = fixture(&store).await;
    let queue = store
        .create_queue(f.tenant, NewQueue { name: "Night".into(), template_id: f.template.id, prefix: None })
        .await
        .unwrap();
    store.put_session_schedule(f.tenant, queue.id, daily("Night {date}"), at("2030-01-01T00:00:00Z")).await.unwrap();
    let due = at("2030-01-01T06:00:00Z");
    let outcome = store.rotate_session(f.tenant, queue.id, due, "Night 2030-01-01".into(), due).await.unwrap();
    let RotateOutcome::Rotated { opened, completed, draining } = outcome else { panic!("must rotate") };
    assert_eq!((opened.session_number, completed.len(), draining.len()), (1, 0, 0));
}
