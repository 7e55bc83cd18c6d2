//! Conformance tests of PBX connections: their round trip without the secret, changes and
//! secret rotation, queue mappings, soft deletion, tenant isolation, the audit trail and the
//! cross-tenant list of enabled connections the workers read.
//!
//! The store only ever sees sealed secrets; these tests use stand-ins shaped like them.

use lineup_domain::{
    NewQueue, PbxAgent, PbxConnection, PbxConnectionChange, PbxConnectionSpec, QueueMapping, SealedClientSecret,
};
use uuid::Uuid;

use super::access::{admin_actor, new_tenant, read_all_pages, system};
use super::{assert_not_found, fixture};
use crate::{DynStore, EnabledPbxConnection, Entity, PageRequest, SortKey, SortOrder};

/// A stand-in for a sealed secret, unique so a leak of it is easy to spot.
pub fn sealed() -> SealedClientSecret {
    SealedClientSecret { sealed: format!("lx1.k1.{}.{}", Uuid::new_v4().simple(), Uuid::new_v4().simple()) }
}

/// A valid connection named `name` with a fresh sealed secret.
pub fn pbx_spec(name: &str) -> PbxConnectionSpec {
    PbxConnectionSpec {
        id: Uuid::now_v7(),
        name: name.into(),
        base_url: "https://pbx.example.com:5001".into(),
        client_id: "lineup".into(),
        client_secret: sealed(),
        poll_interval_ms: 1000,
        is_enabled: true,
    }
}

/// A connection of `tenant` named `name`.
pub async fn new_pbx_connection(store: &DynStore, tenant: Uuid, name: &str) -> PbxConnection {
    store.create_pbx_connection(&system(), tenant, pbx_spec(name)).await.unwrap()
}

/// The enabled connections the workers see, of these tenants only (the database may be shared).
async fn enabled_of(store: &DynStore, tenants: &[Uuid]) -> Vec<EnabledPbxConnection> {
    let all = store.list_enabled_pbx_connections().await.unwrap();
    all.into_iter().filter(|e| tenants.contains(&e.tenant_id)).collect()
}

fn mapping(dn: &str, queue_id: Uuid) -> QueueMapping {
    QueueMapping { dn: dn.into(), queue_id }
}

pub async fn pbx_connections_round_trip_without_their_secret(store: DynStore) {
    let t = new_tenant(&store, "pbx").await;
    let spec = pbx_spec("Head office");
    let secret = spec.client_secret.clone();
    let created = store.create_pbx_connection(&system(), t.id, spec.clone()).await.unwrap();
    assert_eq!((created.id, created.name.as_str()), (spec.id, "Head office"));
    assert_eq!((created.base_url.as_str(), created.client_id.as_str()), ("https://pbx.example.com:5001", "lineup"));
    assert_eq!((created.poll_interval_ms, created.is_enabled, created.has_client_secret), (1000, true, true));
    assert!(created.queue_mappings.is_empty());
    assert_eq!(created.created_at, created.updated_at);
    assert_eq!(created.client_secret_changed_at, created.created_at);
    assert_eq!(store.get_pbx_connection(t.id, created.id).await.unwrap(), created);
    let listed = store.list_pbx_connections(t.id, &PageRequest::first(SortKey::Name, SortOrder::Asc)).await.unwrap();
    assert_eq!(listed.items, vec![created.clone()]);
    let text = serde_json::to_string(&created).unwrap();
    assert!(!text.contains(&secret.sealed), "the view holds no secret: {text}");
    let enabled = enabled_of(&store, &[t.id]).await;
    assert_eq!(enabled, vec![EnabledPbxConnection { tenant_id: t.id, connection: created, client_secret: secret }]);
    let off = PbxConnectionSpec { is_enabled: false, poll_interval_ms: 60_000, ..pbx_spec("Branch") };
    let branch = store.create_pbx_connection(&system(), t.id, off).await.unwrap();
    assert_eq!((branch.is_enabled, branch.poll_interval_ms), (false, 60_000));
    assert_eq!(enabled_of(&store, &[t.id]).await.len(), 1, "a disabled connection is not polled");
    assert_not_found(store.get_pbx_connection(t.id, Uuid::new_v4()).await.unwrap_err(), Entity::PbxConnection);
}

pub async fn pbx_connection_changes_apply_and_a_new_secret_replaces_the_old(store: DynStore) {
    let t = new_tenant(&store, "pbx").await;
    let created = new_pbx_connection(&store, t.id, "Head office").await;
    let change = PbxConnectionChange {
        name: Some("HQ".into()),
        base_url: Some("http://10.0.0.5:5000".into()),
        poll_interval_ms: Some(250),
        ..Default::default()
    };
    let renamed = store.update_pbx_connection(&system(), t.id, created.id, change).await.unwrap();
    assert_eq!((renamed.name.as_str(), renamed.base_url.as_str()), ("HQ", "http://10.0.0.5:5000"));
    assert_eq!((renamed.poll_interval_ms, renamed.client_id.as_str()), (250, "lineup"), "absent fields stay");
    assert_eq!(renamed.client_secret_changed_at, created.client_secret_changed_at, "the secret did not change");
    assert!(renamed.updated_at >= created.updated_at);
    assert_eq!(store.get_pbx_connection(t.id, created.id).await.unwrap(), renamed);

    let rotated_secret = sealed();
    let rotate = PbxConnectionChange { client_secret: Some(rotated_secret.clone()), ..Default::default() };
    let rotated = store.update_pbx_connection(&system(), t.id, created.id, rotate).await.unwrap();
    assert!(rotated.client_secret_changed_at >= renamed.updated_at);
    assert_eq!(rotated.updated_at, rotated.client_secret_changed_at);
    assert_eq!(store.get_pbx_connection(t.id, created.id).await.unwrap(), rotated);
    let enabled = enabled_of(&store, &[t.id]).await;
    assert_eq!(enabled.len(), 1);
    assert_eq!(enabled[0].client_secret, rotated_secret, "the workers get the new sealed secret");
    assert_eq!(enabled[0].connection, rotated);

    let off = PbxConnectionChange { is_enabled: Some(false), ..Default::default() };
    let disabled = store.update_pbx_connection(&system(), t.id, created.id, off.clone()).await.unwrap();
    assert!(!disabled.is_enabled);
    assert!(enabled_of(&store, &[t.id]).await.is_empty(), "a disabled connection is not polled");
    let again = store.update_pbx_connection(&system(), t.id, created.id, off).await.unwrap();
    assert_eq!(again, disabled, "a change that changes nothing leaves the connection as it is");
}

pub async fn queue_mappings_replace_the_whole_set_and_name_only_the_tenants_queues(store: DynStore) {
    let f = fixture(&store).await;
    let second = NewQueue { name: "Billing".into(), template_id: f.template.id, prefix: None };
    let billing = store.create_queue(f.tenant, second).await.unwrap();
    let conn = new_pbx_connection(&store, f.tenant, "Head office").await;
    let set = vec![mapping("800", f.queue.id), mapping("801", billing.id), mapping("9000", f.queue.id)];
    let mapped = store.set_pbx_queue_mappings(&system(), f.tenant, conn.id, set.clone()).await.unwrap();
    assert_eq!(mapped.queue_mappings, set);
    assert!(mapped.updated_at >= conn.updated_at);
    assert_eq!(store.get_pbx_connection(f.tenant, conn.id).await.unwrap(), mapped);
    let by_name = PageRequest::first(SortKey::Name, SortOrder::Asc);
    assert_eq!(store.list_pbx_connections(f.tenant, &by_name).await.unwrap().items, vec![mapped.clone()]);
    assert_eq!(enabled_of(&store, &[f.tenant]).await[0].connection, mapped, "the workers see the mappings");

    // Another tenant's queue, or no queue at all, is not found and changes nothing.
    let other = fixture(&store).await;
    for foreign in [other.queue.id, Uuid::new_v4()] {
        let bad = vec![mapping("800", f.queue.id), mapping("802", foreign)];
        let err = store.set_pbx_queue_mappings(&system(), f.tenant, conn.id, bad).await.unwrap_err();
        assert_not_found(err, Entity::Queue);
        assert_eq!(store.get_pbx_connection(f.tenant, conn.id).await.unwrap(), mapped);
    }

    let replaced = vec![mapping("10", billing.id)];
    let remapped = store.set_pbx_queue_mappings(&system(), f.tenant, conn.id, replaced.clone()).await.unwrap();
    assert_eq!(remapped.queue_mappings, replaced, "the new set replaces the old one");
    let cleared = store.set_pbx_queue_mappings(&system(), f.tenant, conn.id, Vec::new()).await.unwrap();
    assert!(cleared.queue_mappings.is_empty());
    assert_eq!(store.get_pbx_connection(f.tenant, conn.id).await.unwrap(), cleared);
    // One DN may feed different queues on different connections of the tenant.
    let branch = new_pbx_connection(&store, f.tenant, "Branch").await;
    store.set_pbx_queue_mappings(&system(), f.tenant, conn.id, vec![mapping("800", f.queue.id)]).await.unwrap();
    let on_branch = vec![mapping("800", billing.id)];
    let other_pbx = store.set_pbx_queue_mappings(&system(), f.tenant, branch.id, on_branch.clone()).await.unwrap();
    assert_eq!(other_pbx.queue_mappings, on_branch);
}

pub async fn deleted_pbx_connections_are_hidden_and_lose_their_secret_and_mappings(store: DynStore) {
    let f = fixture(&store).await;
    let kept = new_pbx_connection(&store, f.tenant, "Kept").await;
    let gone = new_pbx_connection(&store, f.tenant, "Gone").await;
    store.set_pbx_queue_mappings(&system(), f.tenant, gone.id, vec![mapping("800", f.queue.id)]).await.unwrap();
    store.delete_pbx_connection(&system(), f.tenant, gone.id).await.unwrap();
    assert_not_found(store.get_pbx_connection(f.tenant, gone.id).await.unwrap_err(), Entity::PbxConnection);
    let by_age = PageRequest::first(SortKey::CreatedAt, SortOrder::Asc);
    assert_eq!(store.list_pbx_connections(f.tenant, &by_age).await.unwrap().items, vec![kept.clone()]);
    let enabled: Vec<Uuid> = enabled_of(&store, &[f.tenant]).await.iter().map(|e| e.connection.id).collect();
    assert_eq!(enabled, [kept.id]);
    let change = PbxConnectionChange { name: Some("Back".into()), ..Default::default() };
    let refused = [
        store.update_pbx_connection(&system(), f.tenant, gone.id, change).await.unwrap_err(),
        store.set_pbx_queue_mappings(&system(), f.tenant, gone.id, Vec::new()).await.unwrap_err(),
        store.delete_pbx_connection(&system(), f.tenant, gone.id).await.unwrap_err(),
    ];
    for err in refused {
        assert_not_found(err, Entity::PbxConnection);
    }
    assert_eq!(store.get_pbx_connection(f.tenant, kept.id).await.unwrap(), kept, "the other connection is untouched");
}

pub async fn another_tenants_pbx_connections_are_not_found(store: DynStore) {
    let a = fixture(&store).await;
    let b = fixture(&store).await;
    let conn = new_pbx_connection(&store, a.tenant, "A's PBX").await;
    let conn = store.set_pbx_queue_mappings(&system(), a.tenant, conn.id, vec![mapping("800", a.queue.id)]).await;
    let conn = conn.unwrap();
    assert_not_found(store.get_pbx_connection(b.tenant, conn.id).await.unwrap_err(), Entity::PbxConnection);
    let by_name = PageRequest::first(SortKey::Name, SortOrder::Asc);
    assert!(store.list_pbx_connections(b.tenant, &by_name).await.unwrap().items.is_empty());
    let change = PbxConnectionChange { is_enabled: Some(false), client_secret: Some(sealed()), ..Default::default() };
    let refused = [
        store.update_pbx_connection(&system(), b.tenant, conn.id, change).await.unwrap_err(),
        store.set_pbx_queue_mappings(&system(), b.tenant, conn.id, vec![mapping("1", b.queue.id)]).await.unwrap_err(),
        store.delete_pbx_connection(&system(), b.tenant, conn.id).await.unwrap_err(),
    ];
    for err in refused {
        assert_not_found(err, Entity::PbxConnection);
    }
    assert_eq!(store.get_pbx_connection(a.tenant, conn.id).await.unwrap(), conn, "A's connection is unchanged");
    let enabled = enabled_of(&store, &[a.tenant, b.tenant]).await;
    let owners: Vec<(Uuid, Uuid)> = enabled.iter().map(|e| (e.tenant_id, e.connection.id)).collect();
    assert_eq!(owners, [(a.tenant, conn.id)], "the workers' list names each connection's tenant");
}

pub async fn pbx_changes_are_audited_without_the_secret(store: DynStore) {
    let f = fixture(&store).await;
    let admin = admin_actor();
    let spec = pbx_spec("Head office");
    let first_secret = spec.client_secret.clone();
    let created = store.create_pbx_connection(&admin, f.tenant, spec).await.unwrap();
    let second_secret = sealed();
    let change = PbxConnectionChange {
        name: Some("HQ".into()),
        client_secret: Some(second_secret.clone()),
        ..Default::default()
    };
    let updated = store.update_pbx_connection(&admin, f.tenant, created.id, change).await.unwrap();
    let unchanged = PbxConnectionChange { name: Some("HQ".into()), ..Default::default() };
    store.update_pbx_connection(&admin, f.tenant, created.id, unchanged).await.unwrap();
    let mapped =
        store.set_pbx_queue_mappings(&admin, f.tenant, created.id, vec![mapping("800", f.queue.id)]).await.unwrap();
    store.set_pbx_queue_mappings(&admin, f.tenant, created.id, vec![mapping("800", f.queue.id)]).await.unwrap();
    store.delete_pbx_connection(&admin, f.tenant, created.id).await.unwrap();

    let log = store.list_audit(f.tenant, &PageRequest::first(SortKey::CreatedAt, SortOrder::Asc)).await.unwrap();
    let pbx: Vec<_> = log.items.iter().filter(|e| e.target_type == "pbxConnection").collect();
    let actions: Vec<&str> = pbx.iter().map(|e| e.action.as_str()).collect();
    assert_eq!(
        actions,
        ["pbxConnection.create", "pbxConnection.update", "pbxConnection.update", "pbxConnection.delete"],
        "changes that change nothing are not recorded"
    );
    assert!(pbx.iter().all(|e| e.target_id == created.id && e.actor == admin));
    let value = |c: &PbxConnection| Some(serde_json::to_value(c).unwrap());
    assert_eq!((pbx[0].before.clone(), pbx[0].after.clone()), (None, value(&created)));
    assert_eq!((pbx[1].before.clone(), pbx[1].after.clone()), (value(&created), value(&updated)));
    assert_eq!((pbx[2].before.clone(), pbx[2].after.clone()), (value(&updated), value(&mapped)));
    assert_eq!(pbx[3].before, value(&mapped));
    let after_delete: PbxConnection = serde_json::from_value(pbx[3].after.clone().unwrap()).unwrap();
    assert!(!after_delete.has_client_secret && !after_delete.is_enabled && after_delete.queue_mappings.is_empty());
    for entry in &pbx {
        for doc in [&entry.before, &entry.after].into_iter().flatten() {
            let text = doc.to_string();
            for secret in [&first_secret.sealed, &second_secret.sealed] {
                assert!(!text.contains(secret.as_str()), "{} records the sealed secret: {text}", entry.action);
            }
            assert!(!text.contains("lx1."), "{} records something sealed: {text}", entry.action);
        }
    }
}

pub async fn pbx_connection_lists_paginate_in_both_orders(store: DynStore) {
    let t = new_tenant(&store, "pbx").await;
    let mut connections = Vec::new();
    for name in ["delta", "alpha", "echo", "charlie", "bravo", "Alpha", "foxtrot"] {
        connections.push(new_pbx_connection(&store, t.id, name).await);
    }
    let deleted = new_pbx_connection(&store, t.id, "deleted").await;
    store.delete_pbx_connection(&system(), t.id, deleted.id).await.unwrap();
    let mut by_name = connections.clone();
    by_name.sort_by(|x, y| (x.name.as_bytes(), x.id).cmp(&(y.name.as_bytes(), y.id)));
    let mut by_created = connections.clone();
    by_created.sort_by_key(|c| (c.created_at, c.id));
    for (sort, ascending) in [(SortKey::Name, by_name), (SortKey::CreatedAt, by_created)] {
        for order in [SortOrder::Asc, SortOrder::Desc] {
            let seen = read_all_pages(sort, order, 3, |req| {
                let store = store.clone();
                async move { store.list_pbx_connections(t.id, &req).await }
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

pub async fn enabled_connections_of_every_tenant_are_listed_with_their_sealed_secrets(store: DynStore) {
    let a = new_tenant(&store, "pbx-a").await;
    let b = new_tenant(&store, "pbx-b").await;
    let mut want = Vec::new();
    for (tenant, name) in [(b.id, "B one"), (a.id, "A one"), (b.id, "B two"), (a.id, "A two")] {
        let spec = pbx_spec(name);
        let secret = spec.client_secret.clone();
        let connection = store.create_pbx_connection(&system(), tenant, spec).await.unwrap();
        want.push(EnabledPbxConnection { tenant_id: tenant, connection, client_secret: secret });
    }
    let off = PbxConnectionSpec { is_enabled: false, ..pbx_spec("A off") };
    store.create_pbx_connection(&system(), a.id, off).await.unwrap();
    want.sort_by_key(|e| (e.tenant_id, e.connection.created_at, e.connection.id));
    assert_eq!(enabled_of(&store, &[a.id, b.id]).await, want, "ordered by tenant, then creation");
}

fn agent(dn: &str, queues: &[&str], logged_in: bool, paused: bool) -> PbxAgent {
    let queue_dns = queues.iter().map(|q| q.to_string()).collect();
    PbxAgent { dn: dn.into(), name: format!("Agent {dn}"), queue_dns, logged_in, paused }
}

pub async fn agents_sync_keep_since_until_presence_changes_and_map_their_queues(store: DynStore) {
    let f = fixture(&store).await;
    let conn = new_pbx_connection(&store, f.tenant, "Head office").await;
    store.set_pbx_queue_mappings(&system(), f.tenant, conn.id, vec![mapping("800", f.queue.id)]).await.unwrap();
    let t0 = crate::now_micros();
    let first = [agent("101", &["800", "801"], true, false), agent("102", &["801"], false, false)];
    assert_eq!(store.sync_pbx_agents(f.tenant, conn.id, &first, t0).await.unwrap(), 2);
    let listed = store.list_pbx_agents(f.tenant).await.unwrap();
    assert_eq!(listed.iter().map(|a| a.agent.clone()).collect::<Vec<_>>(), first);
    assert_eq!(listed[0].queue_ids, [f.queue.id], "801 is not mapped");
    assert!(listed[1].queue_ids.is_empty());
    assert!(listed.iter().all(|a| a.since == t0 && a.updated_at == t0 && a.connection_id == conn.id));

    let t1 = t0 + chrono::TimeDelta::seconds(30);
    assert_eq!(store.sync_pbx_agents(f.tenant, conn.id, &first, t1).await.unwrap(), 0, "nothing changed");
    let renamed = PbxAgent { name: "Ana".into(), ..first[0].clone() };
    let paused = agent("102", &["801"], true, true);
    let second = [renamed.clone(), paused.clone(), agent("99", &[], true, false)];
    assert_eq!(store.sync_pbx_agents(f.tenant, conn.id, &second, t1).await.unwrap(), 3);
    let listed = store.list_pbx_agents(f.tenant).await.unwrap();
    let by_dn = |dn: &str| listed.iter().find(|a| a.agent.dn == dn).unwrap().clone();
    assert_eq!(listed.iter().map(|a| a.agent.dn.as_str()).collect::<Vec<_>>(), ["99", "101", "102"], "by number");
    assert_eq!((by_dn("101").agent, by_dn("101").since, by_dn("101").updated_at), (renamed, t0, t1));
    assert_eq!((by_dn("102").agent, by_dn("102").since), (paused, t1), "a presence change restarts since");

    let t2 = t1 + chrono::TimeDelta::seconds(30);
    assert_eq!(store.sync_pbx_agents(f.tenant, conn.id, &second[..1], t2).await.unwrap(), 2, "two removed");
    assert_eq!(store.list_pbx_agents(f.tenant).await.unwrap().len(), 1);
}

pub async fn agents_of_another_tenant_or_a_deleted_connection_are_refused_and_gone(store: DynStore) {
    let f = fixture(&store).await;
    let other = fixture(&store).await;
    let conn = new_pbx_connection(&store, f.tenant, "Head office").await;
    let agents = [agent("101", &["800"], true, false)];
    let now = crate::now_micros();
    let err = store.sync_pbx_agents(other.tenant, conn.id, &agents, now).await.unwrap_err();
    assert_not_found(err, Entity::PbxConnection);
    store.sync_pbx_agents(f.tenant, conn.id, &agents, now).await.unwrap();
    assert!(store.list_pbx_agents(other.tenant).await.unwrap().is_empty());
    store.delete_pbx_connection(&system(), f.tenant, conn.id).await.unwrap();
    assert!(store.list_pbx_agents(f.tenant).await.unwrap().is_empty(), "deleted with their connection");
    let err = store.sync_pbx_agents(f.tenant, conn.id, &agents, now).await.unwrap_err();
    assert_not_found(err, Entity::PbxConnection);
}
