//! Conformance tests of webhooks and their deliveries: the round trip without the secret,
//! changes and secret rotation, soft deletion, tenant isolation, the audit trail; the outbox read
//! across tenants and the cursors; one delivery per event and webhook that takes it; claims under
//! a lease, back-off, failure, redelivery, the delivery log, and concurrent claimers.
//!
//! Every test claims only its own tenant's deliveries ([`DeliveryScope::Tenant`]), so tests
//! sharing a database never take each other's; times are explicit `now` values around a real
//! instant, so leases and back-off are tested without waiting. The store only ever sees sealed
//! secrets; these tests use stand-ins shaped like them.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use lineup_domain::{
    DeliveryState, EventKind, SealedWebhookSecret, TenantId, Webhook, WebhookChange, WebhookDelivery, WebhookEvent,
    WebhookSpec,
};
use uuid::Uuid;

use super::access::{admin_actor, new_tenant, read_all_pages, system};
use super::{assert_not_found, by_transition, fixture, item, Fixture};
use crate::webhooks::WEBHOOK_DELETED;
use crate::{
    now_micros, AttemptOutcome, AttemptRecorded, ClaimedDelivery, DeliveryScope, DynStore, Entity, EventScope,
    InboxRetryPolicy, PageRequest, SortKey, SortOrder, StoredEvent,
};

/// The lease every test claims with.
const LEASE: Duration = Duration::from_secs(30);

/// Three attempts, 10 s then 20 s apart.
fn policy() -> InboxRetryPolicy {
    InboxRetryPolicy { max_attempts: 3, base_delay: Duration::from_secs(10), max_delay: Duration::from_secs(60) }
}

/// A stand-in for a sealed secret, unique so a leak of it is easy to spot.
pub fn sealed_secret() -> SealedWebhookSecret {
    SealedWebhookSecret { sealed: format!("lx1.k1.{}.{}", Uuid::new_v4().simple(), Uuid::new_v4().simple()) }
}

/// A valid enabled webhook for every event type named `name`, with a fresh sealed secret.
pub fn webhook_spec(name: &str) -> WebhookSpec {
    WebhookSpec {
        id: Uuid::now_v7(),
        name: name.into(),
        url: "https://hooks.example.com/lineup?source=test".into(),
        secret: sealed_secret(),
        event_types: Vec::new(),
        is_enabled: true,
    }
}

/// A webhook of `tenant` named `name`, for every event type.
pub async fn new_webhook(store: &DynStore, tenant: Uuid, name: &str) -> Webhook {
    store.create_webhook(&system(), tenant, webhook_spec(name)).await.unwrap()
}

/// Adds an item to the fixture's session and returns the `item_created` event it committed.
pub async fn new_event(store: &DynStore, f: &Fixture, name: &str) -> StoredEvent {
    let it = store.create_item(f.tenant, f.session.id, item(name)).await.unwrap();
    let events = store.read_events(f.tenant, EventScope::Item(it.id), 0, 10).await.unwrap();
    events.into_iter().next().expect("the item's creation event")
}

/// Claims the tenant's due deliveries at `now`.
async fn claim(store: &DynStore, tenant: TenantId, now: DateTime<Utc>, limit: u32) -> Vec<ClaimedDelivery> {
    store.claim_due_deliveries(DeliveryScope::Tenant(tenant), now, limit, LEASE).await.unwrap()
}

/// Every delivery of a webhook, oldest first.
async fn deliveries(store: &DynStore, tenant: TenantId, webhook: Uuid) -> Vec<WebhookDelivery> {
    let page = PageRequest::new(Some(500), SortKey::CreatedAt, SortOrder::Asc, None).unwrap();
    store.list_deliveries(tenant, webhook, &page).await.unwrap().items
}

fn failed(status: Option<u16>, error: &str) -> AttemptOutcome {
    AttemptOutcome::Failed { status, error: error.into() }
}

pub async fn webhooks_round_trip_without_their_secret(store: DynStore) {
    let t = new_tenant(&store, "hooks").await;
    let spec =
        WebhookSpec { event_types: vec![EventKind::ItemCreated, EventKind::SessionCompleted], ..webhook_spec("CRM") };
    let secret = spec.secret.clone();
    let created = store.create_webhook(&system(), t.id, spec.clone()).await.unwrap();
    assert_eq!((created.id, created.name.as_str(), created.url.as_str()), (spec.id, "CRM", spec.url.as_str()));
    assert_eq!(created.event_types, [EventKind::ItemCreated, EventKind::SessionCompleted]);
    assert_eq!((created.is_enabled, created.has_secret), (true, true));
    assert_eq!((created.created_at, created.secret_changed_at), (created.updated_at, created.updated_at));
    assert_eq!(store.get_webhook(t.id, created.id).await.unwrap(), created);
    let listed = store.list_webhooks(t.id, &PageRequest::first(SortKey::Name, SortOrder::Asc)).await.unwrap();
    assert_eq!(listed.items, vec![created.clone()]);
    let text = serde_json::to_string(&created).unwrap();
    assert!(!text.contains(&secret.sealed), "the view holds no secret: {text}");
    let off = WebhookSpec { is_enabled: false, ..webhook_spec("Off") };
    let off = store.create_webhook(&system(), t.id, off).await.unwrap();
    assert!(!off.is_enabled && off.event_types.is_empty());
    assert_eq!(store.get_webhook(t.id, off.id).await.unwrap(), off);
    assert_not_found(store.get_webhook(t.id, Uuid::new_v4()).await.unwrap_err(), Entity::Webhook);
}

pub async fn webhook_changes_apply_and_a_new_secret_replaces_the_old(store: DynStore) {
    let f = fixture(&store).await;
    let created = new_webhook(&store, f.tenant, "CRM").await;
    let change = WebhookChange {
        name: Some("CRM v2".into()),
        url: Some("http://10.0.0.9:8080/in".into()),
        event_types: Some(vec![EventKind::ItemCreated]),
        ..Default::default()
    };
    let changed = store.update_webhook(&system(), f.tenant, created.id, change.clone()).await.unwrap();
    assert_eq!((changed.name.as_str(), changed.url.as_str()), ("CRM v2", "http://10.0.0.9:8080/in"));
    assert_eq!((changed.event_types.as_slice(), changed.is_enabled), (&[EventKind::ItemCreated][..], true));
    assert_eq!(changed.secret_changed_at, created.secret_changed_at, "the secret did not change");
    assert!(changed.updated_at >= created.updated_at);
    assert_eq!(store.get_webhook(f.tenant, created.id).await.unwrap(), changed);
    let again = store.update_webhook(&system(), f.tenant, created.id, change).await.unwrap();
    assert_eq!(again, changed, "a change that changes nothing leaves the webhook as it is");

    let rotated_secret = sealed_secret();
    let rotate = WebhookChange { secret: Some(rotated_secret.clone()), ..Default::default() };
    let rotated = store.update_webhook(&system(), f.tenant, created.id, rotate).await.unwrap();
    assert!(rotated.secret_changed_at >= changed.updated_at);
    assert_eq!(rotated.updated_at, rotated.secret_changed_at);
    assert_eq!(store.get_webhook(f.tenant, created.id).await.unwrap(), rotated);
    let event = new_event(&store, &f, "Ann").await;
    assert_eq!(store.enqueue_deliveries(f.tenant, &event).await.unwrap(), 1);
    let claimed = claim(&store, f.tenant, Utc::now(), 10).await;
    assert_eq!(claimed.len(), 1);
    assert_eq!(claimed[0].secret, rotated_secret, "the dispatcher gets the new sealed secret");
    assert_eq!(claimed[0].url, "http://10.0.0.9:8080/in", "and the current URL");
}

pub async fn events_become_one_delivery_per_webhook_that_takes_them(store: DynStore) {
    let f = fixture(&store).await;
    let history = new_event(&store, &f, "Before any webhook").await;
    let all = new_webhook(&store, f.tenant, "All").await;
    let moves = WebhookSpec { event_types: vec![EventKind::ItemStatusChanged], ..webhook_spec("Moves") };
    let moves = store.create_webhook(&system(), f.tenant, moves).await.unwrap();
    let off = WebhookSpec { is_enabled: false, ..webhook_spec("Off") };
    let off = store.create_webhook(&system(), f.tenant, off).await.unwrap();
    let other = fixture(&store).await;
    let foreign = new_webhook(&store, other.tenant, "Other tenant's").await;

    assert_eq!(store.enqueue_deliveries(f.tenant, &history).await.unwrap(), 0, "no webhook gets its tenant's history");
    let created = new_event(&store, &f, "Ann").await;
    let it = created.item_id.unwrap();
    store.change_item_status(f.tenant, it, by_transition("call")).await.unwrap();
    let moved = store.read_events(f.tenant, EventScope::Item(it), created.seq, 10).await.unwrap().remove(0);
    assert_eq!(moved.kind, EventKind::ItemStatusChanged);
    assert_eq!(store.enqueue_deliveries(f.tenant, &created).await.unwrap(), 1, "only the webhook of every type");
    assert_eq!(store.enqueue_deliveries(f.tenant, &moved).await.unwrap(), 2, "both enabled webhooks");
    assert_eq!(store.enqueue_deliveries(f.tenant, &created).await.unwrap(), 0, "an event is delivered once");
    assert_eq!(store.enqueue_deliveries(f.tenant, &moved).await.unwrap(), 0);

    let to_all = deliveries(&store, f.tenant, all.id).await;
    let events: Vec<(i64, EventKind)> = to_all.iter().map(|d| (d.event_id, d.event_type)).collect();
    assert_eq!(events, [(created.seq, EventKind::ItemCreated), (moved.seq, EventKind::ItemStatusChanged)]);
    let first = &to_all[0];
    assert_eq!((first.webhook_id, first.state, first.attempts), (all.id, DeliveryState::Pending, 0));
    assert!(first.next_attempt_at.is_some() && first.delivered_at.is_none() && first.last_error.is_none());
    assert_eq!(first.last_status_code, None);
    let body: WebhookEvent = serde_json::from_value(first.event.clone()).unwrap();
    let expected = WebhookEvent {
        id: created.seq,
        event_type: EventKind::ItemCreated,
        tenant_id: f.tenant,
        session_id: f.session.id,
        item_id: Some(it),
        created_at: created.created_at,
        data: created.payload.clone(),
    };
    assert_eq!(body, expected, "the body is the event as committed");
    assert_eq!(store.get_delivery(f.tenant, first.id).await.unwrap(), *first);
    let to_moves: Vec<i64> = deliveries(&store, f.tenant, moves.id).await.iter().map(|d| d.event_id).collect();
    assert_eq!(to_moves, [moved.seq]);
    assert!(deliveries(&store, f.tenant, off.id).await.is_empty(), "a disabled webhook gets nothing");
    assert!(deliveries(&store, other.tenant, foreign.id).await.is_empty(), "another tenant's webhook gets nothing");

    let tenants = store.webhook_tenants().await.unwrap();
    assert!(tenants.contains(&f.tenant) && tenants.contains(&other.tenant));
    let quiet = fixture(&store).await;
    let off_only = WebhookSpec { is_enabled: false, ..webhook_spec("Off only") };
    store.create_webhook(&system(), quiet.tenant, off_only).await.unwrap();
    assert!(!store.webhook_tenants().await.unwrap().contains(&quiet.tenant), "only enabled webhooks count");
}

pub async fn the_outbox_reads_across_tenants_in_order_and_cursors_never_go_back(store: DynStore) {
    let start = store.last_event_seq().await.unwrap();
    let a = fixture(&store).await;
    let b = fixture(&store).await;
    let mut written = Vec::new();
    for (f, name) in [(&a, "A1"), (&b, "B1"), (&a, "A2"), (&b, "B2"), (&b, "B3")] {
        written.push((f.tenant, new_event(&store, f, name).await));
    }
    let ours = |events: Vec<(TenantId, StoredEvent)>| -> Vec<(TenantId, StoredEvent)> {
        events.into_iter().filter(|(t, _)| *t == a.tenant || *t == b.tenant).collect()
    };
    let all = store.read_outbox(start, 10_000).await.unwrap();
    assert!(all.windows(2).all(|w| w[0].1.seq < w[1].1.seq), "oldest first, each once");
    assert!(all.iter().all(|(_, e)| e.seq > start));
    assert_eq!(ours(all.clone()), written, "every event with its tenant, in commit order");
    let (mut paged, mut after) = (Vec::new(), start);
    loop {
        let page = store.read_outbox(after, 2).await.unwrap();
        assert!(page.len() <= 2);
        let Some(last) = page.last() else { break };
        after = last.1.seq;
        paged.extend(page);
        if after >= written.last().unwrap().1.seq {
            break;
        }
    }
    assert_eq!(ours(paged), written, "reading on from the last seq seen misses nothing");

    let name = format!("conformance-{}", Uuid::new_v4().simple());
    assert_eq!(store.get_outbox_cursor(&name).await.unwrap(), None);
    assert_eq!(store.advance_outbox_cursor(&name, 10).await.unwrap(), 10);
    assert_eq!(store.advance_outbox_cursor(&name, 5).await.unwrap(), 10, "a cursor never moves backwards");
    assert_eq!(store.get_outbox_cursor(&name).await.unwrap(), Some(10));
    assert_eq!(store.advance_outbox_cursor(&name, 12).await.unwrap(), 12);
    let other = format!("conformance-{}", Uuid::new_v4().simple());
    assert_eq!(store.get_outbox_cursor(&other).await.unwrap(), None, "cursors are per subscriber");
}

pub async fn claims_hand_out_due_deliveries_once_per_lease(store: DynStore) {
    let f = fixture(&store).await;
    let spec = webhook_spec("CRM");
    let secret = spec.secret.clone();
    let hook = store.create_webhook(&system(), f.tenant, spec).await.unwrap();
    for name in ["Ann", "Bob", "Cy"] {
        let event = new_event(&store, &f, name).await;
        store.enqueue_deliveries(f.tenant, &event).await.unwrap();
    }
    let now = now_micros() + TimeDelta::milliseconds(1);
    let until = now + TimeDelta::from_std(LEASE).unwrap();
    let first = claim(&store, f.tenant, now, 2).await;
    assert_eq!(first.len(), 2);
    for c in &first {
        assert_eq!((c.tenant_id, c.delivery.webhook_id, c.url.as_str()), (f.tenant, hook.id, hook.url.as_str()));
        assert_eq!(c.secret, secret);
        assert_eq!(c.delivery.next_attempt_at, Some(until), "due again when the lease ends");
        assert_eq!(store.get_delivery(f.tenant, c.delivery.id).await.unwrap(), c.delivery);
    }
    let second = claim(&store, f.tenant, now, 10).await;
    assert_eq!(second.len(), 1, "claimed deliveries are not handed out again within their lease");
    assert!(claim(&store, f.tenant, now, 10).await.is_empty());
    let other = fixture(&store).await;
    assert!(claim(&store, other.tenant, until, 10).await.is_empty(), "a claim of another tenant sees none");

    let off = WebhookChange { is_enabled: Some(false), ..Default::default() };
    store.update_webhook(&system(), f.tenant, hook.id, off).await.unwrap();
    assert!(claim(&store, f.tenant, until, 10).await.is_empty(), "a disabled webhook's deliveries wait");
    let on = WebhookChange { is_enabled: Some(true), ..Default::default() };
    store.update_webhook(&system(), f.tenant, hook.id, on).await.unwrap();
    let again = claim(&store, f.tenant, until, 10).await;
    let mut ids: Vec<Uuid> = again.iter().map(|c| c.delivery.id).collect();
    let mut all: Vec<Uuid> = first.iter().chain(&second).map(|c| c.delivery.id).collect();
    ids.sort();
    all.sort();
    assert_eq!(ids, all, "once the leases end every unsettled delivery is due again");
}

pub async fn failed_attempts_back_off_then_fail_with_the_last_status(store: DynStore) {
    let f = fixture(&store).await;
    let hook = new_webhook(&store, f.tenant, "Flaky").await;
    for name in ["Ann", "Bob"] {
        let event = new_event(&store, &f, name).await;
        store.enqueue_deliveries(f.tenant, &event).await.unwrap();
    }
    let t0 = now_micros() + TimeDelta::milliseconds(1);
    let claimed = claim(&store, f.tenant, t0, 10).await;
    let (flaky, fine) = (claimed[0].delivery.id, claimed[1].delivery.id);
    let tenant = f.tenant;
    let record = |id: Uuid, outcome: AttemptOutcome, now: DateTime<Utc>| {
        let store = store.clone();
        async move { store.record_delivery_attempt(tenant, id, &outcome, now, &policy()).await.unwrap() }
    };
    assert_eq!(record(fine, AttemptOutcome::Delivered { status: 204 }, t0).await, AttemptRecorded::Delivered);
    let d = store.get_delivery(f.tenant, fine).await.unwrap();
    assert_eq!((d.state, d.attempts, d.next_attempt_at), (DeliveryState::Delivered, 1, None));
    assert_eq!((d.last_status_code, d.last_error, d.delivered_at), (Some(204), None, Some(t0)));
    let first = record(flaky, failed(Some(500), "the endpoint answered 500"), t0).await;
    let t1 = t0 + TimeDelta::seconds(10);
    assert_eq!(first, AttemptRecorded::RetryScheduled { attempts: 1, next_attempt_at: t1 });
    let d = store.get_delivery(f.tenant, flaky).await.unwrap();
    assert_eq!((d.state, d.attempts, d.next_attempt_at), (DeliveryState::Pending, 1, Some(t1)));
    assert_eq!((d.last_status_code, d.last_error.as_deref()), (Some(500), Some("the endpoint answered 500")));
    assert!(claim(&store, f.tenant, t1 - TimeDelta::seconds(1), 10).await.is_empty(), "it waits its back-off");
    assert_eq!(claim(&store, f.tenant, t1, 10).await.len(), 1);
    let second = record(flaky, failed(None, "connection refused\0"), t1).await;
    let t2 = t1 + TimeDelta::seconds(20);
    assert_eq!(second, AttemptRecorded::RetryScheduled { attempts: 2, next_attempt_at: t2 });
    let third = record(flaky, failed(Some(502), "the endpoint answered 502"), t2).await;
    assert_eq!(third, AttemptRecorded::Failed { attempts: 3 });
    let d = store.get_delivery(f.tenant, flaky).await.unwrap();
    assert_eq!((d.state, d.attempts, d.next_attempt_at, d.delivered_at), (DeliveryState::Failed, 3, None, None));
    assert_eq!((d.last_status_code, d.last_error.as_deref()), (Some(502), Some("the endpoint answered 502")));
    assert!(claim(&store, f.tenant, t2 + TimeDelta::days(1), 10).await.is_empty(), "a failed delivery is done");
    assert_eq!(record(flaky, failed(None, "late"), t2).await, AttemptRecorded::NotPending);

    assert_eq!(record(fine, AttemptOutcome::Delivered { status: 200 }, t1).await, AttemptRecorded::NotPending);
    let unknown = store.record_delivery_attempt(f.tenant, Uuid::new_v4(), &failed(None, "x"), t0, &policy()).await;
    assert_not_found(unknown.unwrap_err(), Entity::WebhookDelivery);
    let mut log: Vec<(Uuid, DeliveryState)> =
        deliveries(&store, f.tenant, hook.id).await.iter().map(|d| (d.id, d.state)).collect();
    log.sort_by_key(|(id, _)| *id);
    let mut want = vec![(flaky, DeliveryState::Failed), (fine, DeliveryState::Delivered)];
    want.sort_by_key(|(id, _)| *id);
    assert_eq!(log, want, "the log shows each delivery's outcome");
}

pub async fn redelivery_puts_any_delivery_back_in_line(store: DynStore) {
    let f = fixture(&store).await;
    let hook = new_webhook(&store, f.tenant, "Hook").await;
    for name in ["Ann", "Bob"] {
        let event = new_event(&store, &f, name).await;
        store.enqueue_deliveries(f.tenant, &event).await.unwrap();
    }
    let t0 = now_micros() + TimeDelta::milliseconds(1);
    let claimed = claim(&store, f.tenant, t0, 10).await;
    let (dead, done) = (claimed[0].delivery.id, claimed[1].delivery.id);
    let one_try = InboxRetryPolicy { max_attempts: 1, ..policy() };
    let outcome = failed(Some(410), "the endpoint answered 410");
    store.record_delivery_attempt(f.tenant, dead, &outcome, t0, &one_try).await.unwrap();
    store
        .record_delivery_attempt(f.tenant, done, &AttemptOutcome::Delivered { status: 200 }, t0, &one_try)
        .await
        .unwrap();

    let t1 = t0 + TimeDelta::minutes(5);
    let again = store.redeliver(f.tenant, dead, t1).await.unwrap();
    assert_eq!((again.state, again.attempts, again.next_attempt_at), (DeliveryState::Pending, 0, Some(t1)));
    assert_eq!(
        again.last_error.as_deref(),
        Some("the endpoint answered 410"),
        "the last error stays until the next attempt"
    );
    let resent = store.redeliver(f.tenant, done, t1).await.unwrap();
    assert_eq!((resent.state, resent.delivered_at, resent.next_attempt_at), (DeliveryState::Pending, None, Some(t1)));
    assert_eq!(resent.event, claimed[1].delivery.event, "a redelivery sends the same body");
    assert!(claim(&store, f.tenant, t1 - TimeDelta::seconds(1), 10).await.is_empty());
    let mut ids: Vec<Uuid> = claim(&store, f.tenant, t1, 10).await.iter().map(|c| c.delivery.id).collect();
    ids.sort();
    let mut want = vec![dead, done];
    want.sort();
    assert_eq!(ids, want);
    assert_eq!(deliveries(&store, f.tenant, hook.id).await.len(), 2, "a redelivery is the same delivery");
    let other = fixture(&store).await;
    assert_not_found(store.redeliver(other.tenant, dead, t1).await.unwrap_err(), Entity::WebhookDelivery);
    assert_not_found(store.redeliver(f.tenant, Uuid::new_v4(), t1).await.unwrap_err(), Entity::WebhookDelivery);
}

pub async fn deleted_webhooks_are_hidden_and_fail_their_pending_deliveries(store: DynStore) {
    let f = fixture(&store).await;
    let kept = new_webhook(&store, f.tenant, "Kept").await;
    let gone = new_webhook(&store, f.tenant, "Gone").await;
    for name in ["Ann", "Bob"] {
        let event = new_event(&store, &f, name).await;
        assert_eq!(store.enqueue_deliveries(f.tenant, &event).await.unwrap(), 2);
    }
    let to_gone = deliveries(&store, f.tenant, gone.id).await;
    let t0 = now_micros();
    let delivered = AttemptOutcome::Delivered { status: 200 };
    store.record_delivery_attempt(f.tenant, to_gone[0].id, &delivered, t0, &policy()).await.unwrap();
    store.delete_webhook(&system(), f.tenant, gone.id).await.unwrap();

    assert_not_found(store.get_webhook(f.tenant, gone.id).await.unwrap_err(), Entity::Webhook);
    let by_age = PageRequest::first(SortKey::CreatedAt, SortOrder::Asc);
    assert_eq!(store.list_webhooks(f.tenant, &by_age).await.unwrap().items, vec![kept.clone()]);
    let page = PageRequest::first(SortKey::CreatedAt, SortOrder::Desc);
    assert_not_found(store.list_deliveries(f.tenant, gone.id, &page).await.unwrap_err(), Entity::Webhook);
    for d in &to_gone {
        assert_not_found(store.get_delivery(f.tenant, d.id).await.unwrap_err(), Entity::WebhookDelivery);
        assert_not_found(store.redeliver(f.tenant, d.id, t0).await.unwrap_err(), Entity::WebhookDelivery);
    }
    let late = store.record_delivery_attempt(f.tenant, to_gone[1].id, &delivered, t0, &policy()).await.unwrap();
    assert_eq!(late, AttemptRecorded::NotPending, "its pending delivery failed with the deletion");
    let claimed: Vec<Uuid> =
        claim(&store, f.tenant, t0 + TimeDelta::hours(1), 10).await.iter().map(|c| c.delivery.webhook_id).collect();
    assert_eq!(claimed, [kept.id, kept.id], "only the live webhook's deliveries are handed out");
    let event = new_event(&store, &f, "Cy").await;
    assert_eq!(store.enqueue_deliveries(f.tenant, &event).await.unwrap(), 1, "a deleted webhook gets no new event");
    let change = WebhookChange { name: Some("Back".into()), ..Default::default() };
    assert_not_found(store.update_webhook(&system(), f.tenant, gone.id, change).await.unwrap_err(), Entity::Webhook);
    assert_not_found(store.delete_webhook(&system(), f.tenant, gone.id).await.unwrap_err(), Entity::Webhook);
    assert_eq!(store.get_webhook(f.tenant, kept.id).await.unwrap(), kept, "the other webhook is untouched");
    assert!(WEBHOOK_DELETED.contains("deleted"));
}

pub async fn another_tenants_webhooks_and_deliveries_are_not_found(store: DynStore) {
    let a = fixture(&store).await;
    let b = fixture(&store).await;
    let hook = new_webhook(&store, a.tenant, "A's hook").await;
    let event = new_event(&store, &a, "Ann").await;
    store.enqueue_deliveries(a.tenant, &event).await.unwrap();
    let delivery = deliveries(&store, a.tenant, hook.id).await.remove(0);
    assert_not_found(store.get_webhook(b.tenant, hook.id).await.unwrap_err(), Entity::Webhook);
    let by_name = PageRequest::first(SortKey::Name, SortOrder::Asc);
    assert!(store.list_webhooks(b.tenant, &by_name).await.unwrap().items.is_empty());
    let change = WebhookChange { is_enabled: Some(false), secret: Some(sealed_secret()), ..Default::default() };
    let page = PageRequest::first(SortKey::CreatedAt, SortOrder::Desc);
    let refused = [
        store.update_webhook(&system(), b.tenant, hook.id, change).await.unwrap_err(),
        store.delete_webhook(&system(), b.tenant, hook.id).await.unwrap_err(),
        store.list_deliveries(b.tenant, hook.id, &page).await.unwrap_err(),
    ];
    for err in refused {
        assert_not_found(err, Entity::Webhook);
    }
    let now = now_micros();
    let refused = [
        store.get_delivery(b.tenant, delivery.id).await.unwrap_err(),
        store.redeliver(b.tenant, delivery.id, now).await.unwrap_err(),
        store
            .record_delivery_attempt(b.tenant, delivery.id, &AttemptOutcome::Delivered { status: 200 }, now, &policy())
            .await
            .unwrap_err(),
    ];
    for err in refused {
        assert_not_found(err, Entity::WebhookDelivery);
    }
    assert_eq!(store.enqueue_deliveries(b.tenant, &new_event(&store, &b, "Bob").await).await.unwrap(), 0);
    assert_eq!(store.get_webhook(a.tenant, hook.id).await.unwrap(), hook, "A's webhook is unchanged");
    assert_eq!(store.get_delivery(a.tenant, delivery.id).await.unwrap(), delivery, "and so is its delivery");
}

pub async fn webhook_changes_are_audited_without_the_secret(store: DynStore) {
    let t = new_tenant(&store, "hooks").await;
    let admin = admin_actor();
    let spec = webhook_spec("CRM");
    let first_secret = spec.secret.clone();
    let created = store.create_webhook(&admin, t.id, spec).await.unwrap();
    let second_secret = sealed_secret();
    let change =
        WebhookChange { name: Some("CRM v2".into()), secret: Some(second_secret.clone()), ..Default::default() };
    let updated = store.update_webhook(&admin, t.id, created.id, change).await.unwrap();
    let unchanged = WebhookChange { name: Some("CRM v2".into()), ..Default::default() };
    store.update_webhook(&admin, t.id, created.id, unchanged).await.unwrap();
    store.delete_webhook(&admin, t.id, created.id).await.unwrap();

    let log = store.list_audit(t.id, &PageRequest::first(SortKey::CreatedAt, SortOrder::Asc)).await.unwrap();
    let hooks: Vec<_> = log.items.iter().filter(|e| e.target_type == "webhook").collect();
    let actions: Vec<&str> = hooks.iter().map(|e| e.action.as_str()).collect();
    assert_eq!(
        actions,
        ["webhook.create", "webhook.update", "webhook.delete"],
        "changes that change nothing are not recorded"
    );
    assert!(hooks.iter().all(|e| e.target_id == created.id && e.actor == admin));
    let value = |w: &Webhook| Some(serde_json::to_value(w).unwrap());
    assert_eq!((hooks[0].before.clone(), hooks[0].after.clone()), (None, value(&created)));
    assert_eq!((hooks[1].before.clone(), hooks[1].after.clone()), (value(&created), value(&updated)));
    assert_eq!(hooks[2].before, value(&updated));
    let after_delete: Webhook = serde_json::from_value(hooks[2].after.clone().unwrap()).unwrap();
    assert!(!after_delete.has_secret && !after_delete.is_enabled);
    for entry in &hooks {
        for doc in [&entry.before, &entry.after].into_iter().flatten() {
            let text = doc.to_string();
            for secret in [&first_secret.sealed, &second_secret.sealed] {
                assert!(!text.contains(secret.as_str()), "{} records the sealed secret: {text}", entry.action);
            }
            assert!(!text.contains("lx1."), "{} records something sealed: {text}", entry.action);
        }
    }
}

pub async fn webhook_lists_paginate_in_both_orders(store: DynStore) {
    let t = new_tenant(&store, "hooks").await;
    let mut hooks = Vec::new();
    for name in ["delta", "alpha", "echo", "charlie", "bravo", "Alpha", "foxtrot"] {
        hooks.push(new_webhook(&store, t.id, name).await);
    }
    let deleted = new_webhook(&store, t.id, "deleted").await;
    store.delete_webhook(&system(), t.id, deleted.id).await.unwrap();
    let mut by_name = hooks.clone();
    by_name.sort_by(|x, y| (x.name.as_bytes(), x.id).cmp(&(y.name.as_bytes(), y.id)));
    let mut by_created = hooks.clone();
    by_created.sort_by_key(|w| (w.created_at, w.id));
    for (sort, ascending) in [(SortKey::Name, by_name), (SortKey::CreatedAt, by_created)] {
        for order in [SortOrder::Asc, SortOrder::Desc] {
            let seen = read_all_pages(sort, order, 3, |req| {
                let store = store.clone();
                async move { store.list_webhooks(t.id, &req).await }
            })
            .await;
            let mut want = ascending.clone();
            if order == SortOrder::Desc {
                want.reverse();
            }
            assert_eq!(seen, want, "{sort:?} {order:?}");
        }
    }
}

pub async fn delivery_logs_paginate_in_both_orders(store: DynStore) {
    let f = fixture(&store).await;
    let hook = new_webhook(&store, f.tenant, "Log").await;
    let other = new_webhook(&store, f.tenant, "Other").await;
    for i in 0..7 {
        let event = new_event(&store, &f, &format!("P{i}")).await;
        store.enqueue_deliveries(f.tenant, &event).await.unwrap();
    }
    let mut oldest_first = deliveries(&store, f.tenant, hook.id).await;
    assert_eq!(oldest_first.len(), 7);
    assert!(oldest_first.iter().all(|d| d.webhook_id == hook.id), "one webhook's log only");
    oldest_first.sort_by_key(|d| (d.created_at, d.id));
    for order in [SortOrder::Asc, SortOrder::Desc] {
        let seen = read_all_pages(SortKey::CreatedAt, order, 3, |req| {
            let store = store.clone();
            async move { store.list_deliveries(f.tenant, hook.id, &req).await }
        })
        .await;
        let mut want = oldest_first.clone();
        if order == SortOrder::Desc {
            want.reverse();
        }
        assert_eq!(seen, want, "{order:?}");
    }
    assert_eq!(deliveries(&store, f.tenant, other.id).await.len(), 7);
    let by_name = PageRequest::first(SortKey::Name, SortOrder::Asc);
    assert!(store.list_deliveries(f.tenant, hook.id, &by_name).await.is_err(), "the log sorts by time only");
}

pub async fn concurrent_claimers_never_share_a_delivery(store: DynStore) {
    let f = fixture(&store).await;
    new_webhook(&store, f.tenant, "Busy").await;
    let mut events = Vec::new();
    for i in 0..40 {
        events.push(new_event(&store, &f, &format!("C{i}")).await);
    }
    for event in &events {
        store.enqueue_deliveries(f.tenant, event).await.unwrap();
    }
    let now = now_micros() + TimeDelta::milliseconds(1);
    let seen = Arc::new(Mutex::new(Vec::new()));
    let mut claimers = Vec::new();
    let tenant = f.tenant;
    for _ in 0..4 {
        let (store, seen) = (store.clone(), seen.clone());
        claimers.push(tokio::spawn(async move {
            loop {
                let got = claim(&store, tenant, now, 3).await;
                if got.is_empty() {
                    break;
                }
                seen.lock().unwrap().extend(got.into_iter().map(|c| c.delivery.event_id));
                tokio::task::yield_now().await;
            }
        }));
    }
    for c in claimers {
        c.await.unwrap();
    }
    let seen = seen.lock().unwrap().clone();
    let unique: HashSet<i64> = seen.iter().copied().collect();
    assert_eq!(seen.len(), unique.len(), "no delivery was handed to two claimers");
    assert_eq!(unique, events.iter().map(|e| e.seq).collect::<HashSet<_>>(), "every delivery was handed out");
}
