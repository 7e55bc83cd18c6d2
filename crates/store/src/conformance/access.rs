//! Conformance tests of the access half of the contract that people administer: tenants,
//! members (accounts and their memberships) and the audit log of their changes; plus the
//! fixtures the credential tests in [`super::credentials`] share.

use std::future::Future;

use chrono::{DateTime, Duration, Utc};
use lineup_domain::{
    Actor, ActorKind, ApiKey, ApiKeySpec, DomainError, Member, MemberChange, MemberSpec, Principal, Role, Subject,
    Tenant, TenantPatch, TenantSpec,
};
use serde_json::json;
use uuid::Uuid;

use super::{assert_domain, assert_not_found};
use crate::access::conflict::{ALREADY_MEMBER, EMAIL_TAKEN, MANAGED_ELSEWHERE, SLUG_TAKEN, USERNAME_TAKEN};
use crate::{
    now_micros, DynStore, Entity, NewLoginSession, Page, PageRequest, SortKey, SortOrder, StoreError, StoreResult,
    TokenHash, TokenPair,
};

/// The command-line actor the fixtures act as.
pub fn system() -> Actor {
    Actor::system("conformance")
}

/// A person acting through the API, for audit checks.
pub fn admin_actor() -> Actor {
    Actor { kind: ActorKind::User, id: Some(Uuid::new_v4()), name: "conformance-admin".into() }
}

/// A fresh tenant whose slug starts with `prefix` and is unique.
pub async fn new_tenant(store: &DynStore, prefix: &str) -> Tenant {
    let id = Uuid::new_v4();
    let spec = TenantSpec::new("Access", &format!("{prefix}-{}", id.simple()), None).unwrap();
    store.create_tenant(&system(), id, spec).await.unwrap()
}

/// A username no other test uses, starting with `tag`.
pub fn username(tag: &str) -> String {
    format!("{tag}-{}", &Uuid::new_v4().simple().to_string()[..20])
}

/// A stand-in argon2id PHC string, unique so a leak of it is easy to spot.
pub fn password_hash() -> String {
    format!("$argon2id$v=19$m=19456,t=2,p=1$c2FsdA${}", Uuid::new_v4().simple())
}

/// A valid new member named `username`.
pub fn member_spec(username: &str, role: Role) -> MemberSpec {
    MemberSpec {
        id: Uuid::new_v4(),
        username: username.into(),
        email: format!("{username}@example.com"),
        full_name: format!("User {username}"),
        password_hash: password_hash(),
        role,
    }
}

/// A fresh member of `tenant` with a unique username.
pub async fn new_member(store: &DynStore, tenant: Uuid, role: Role) -> Member {
    store.create_member(&system(), tenant, member_spec(&username("m"), role)).await.unwrap()
}

/// A random token hash.
pub fn token() -> TokenHash {
    let mut hash = [0u8; 32];
    hash[..16].copy_from_slice(Uuid::new_v4().as_bytes());
    hash[16..].copy_from_slice(Uuid::new_v4().as_bytes());
    hash
}

/// A fresh token pair issued at `now`: access for 15 minutes, refresh for 30 days.
pub fn token_pair(now: DateTime<Utc>) -> TokenPair {
    TokenPair {
        access_hash: token(),
        access_expires_at: now + Duration::minutes(15),
        refresh_hash: token(),
        refresh_expires_at: now + Duration::days(30),
    }
}

/// A login session of `user_id` in `tenant` created at `now`: its id and token pair.
pub async fn login(store: &DynStore, tenant: Uuid, user_id: Uuid, now: DateTime<Utc>) -> (Uuid, TokenPair) {
    let id = Uuid::new_v4();
    let tokens = token_pair(now);
    let new = NewLoginSession {
        id,
        tenant_id: tenant,
        user_id,
        tokens: tokens.clone(),
        user_agent: Some("conformance".into()),
        created_at: now,
    };
    store.create_login_session(new).await.unwrap();
    (id, tokens)
}

/// Whether the access token of `tokens` resolves at `now`.
pub async fn is_live(store: &DynStore, tokens: &TokenPair, now: DateTime<Utc>) -> bool {
    store.resolve_access_token(&tokens.access_hash, now).await.unwrap().is_some()
}

/// The principal a member's login session resolves to.
pub fn user_principal(tenant: Uuid, member: &Member, role: Role, session_id: Uuid) -> Principal {
    Principal {
        tenant_id: tenant,
        role,
        subject: Subject::User { user_id: member.id, username: member.username.clone(), session_id },
    }
}

/// A valid API key spec named `name`, with the hash its secret has.
pub fn api_key_spec(name: &str, role: Role, expires_at: Option<DateTime<Utc>>) -> ApiKeySpec {
    ApiKeySpec {
        id: Uuid::new_v4(),
        name: name.into(),
        role,
        prefix: format!("lu_key_{}", &Uuid::new_v4().simple().to_string()[..8]),
        hash: token(),
        expires_at,
    }
}

/// A fresh API key of `tenant` and its hash.
pub async fn new_api_key(store: &DynStore, tenant: Uuid, role: Role) -> (ApiKey, TokenHash) {
    let spec = api_key_spec("Kiosk 1", role, None);
    let hash = spec.hash;
    (store.create_api_key(&system(), tenant, spec).await.unwrap(), hash)
}

/// Every row of a list, read `limit` at a time in the given sort, following the cursors.
pub async fn read_all_pages<T, F, Fut>(sort: SortKey, order: SortOrder, limit: u32, fetch: F) -> Vec<T>
where
    F: Fn(PageRequest) -> Fut,
    Fut: Future<Output = StoreResult<Page<T>>>,
{
    let mut rows = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let req = PageRequest::new(Some(limit), sort, order, cursor.as_deref()).unwrap();
        let page = fetch(req).await.unwrap();
        assert!(page.items.len() <= limit as usize);
        rows.extend(page.items);
        match page.next_cursor {
            Some(c) => cursor = Some(c),
            None => return rows,
        }
    }
}

/// Asserts `err` is a `Conflict` with exactly this text.
pub fn assert_conflict(err: StoreError, text: &str) {
    match err {
        StoreError::Conflict(got) => assert_eq!(got, text),
        other => panic!("expected conflict '{text}', got {other:?}"),
    }
}

pub async fn tenants_round_trip_by_id_and_slug_and_take_patches(store: DynStore) {
    let id = Uuid::new_v4();
    let slug = format!("acme-{}", id.simple());
    let spec = TenantSpec::new(" Acme ", &slug, Some(json!({"tz": "Europe/Berlin"}))).unwrap();
    let created = store.create_tenant(&system(), id, spec).await.unwrap();
    assert_eq!((created.id, created.name.as_str(), created.slug.as_str()), (id, "Acme", slug.as_str()));
    assert_eq!(created.settings, json!({"tz": "Europe/Berlin"}));
    assert_eq!(created.created_at, created.updated_at);
    assert_eq!(store.get_tenant(id).await.unwrap(), created);
    assert_eq!(store.find_tenant_by_slug(&slug).await.unwrap(), created);
    let patch = TenantPatch { name: Some("Acme Ltd".into()), settings: Some(json!({"tz": "UTC", "open": 8})) };
    let updated = store.update_tenant(&system(), id, patch).await.unwrap();
    assert_eq!((updated.name.as_str(), updated.slug.as_str()), ("Acme Ltd", slug.as_str()));
    assert_eq!(updated.settings, json!({"tz": "UTC", "open": 8}));
    assert_eq!(updated.created_at, created.created_at);
    assert!(updated.updated_at >= created.updated_at);
    assert_eq!(store.get_tenant(id).await.unwrap(), updated);
    let renamed_only = TenantPatch { name: Some("Acme".into()), settings: None };
    let renamed = store.update_tenant(&system(), id, renamed_only).await.unwrap();
    assert_eq!(renamed.settings, updated.settings, "absent fields stay as they are");
    let bad = TenantPatch { name: Some("Other".into()), settings: Some(json!([1])) };
    let err = store.update_tenant(&system(), id, bad).await.unwrap_err();
    assert_domain(err, |d| matches!(d, DomainError::Invalid { field: "settings", .. }));
    assert_eq!(store.get_tenant(id).await.unwrap(), renamed, "a refused patch changes nothing");
}

pub async fn unknown_tenants_are_not_found(store: DynStore) {
    let missing = Uuid::new_v4();
    assert_not_found(store.get_tenant(missing).await.unwrap_err(), Entity::Tenant);
    assert_not_found(
        store.find_tenant_by_slug(&format!("none-{}", missing.simple())).await.unwrap_err(),
        Entity::Tenant,
    );
    let patch = TenantPatch { name: Some("Ghost".into()), settings: None };
    assert_not_found(store.update_tenant(&system(), missing, patch).await.unwrap_err(), Entity::Tenant);
}

pub async fn a_taken_tenant_slug_is_a_conflict(store: DynStore) {
    let first = new_tenant(&store, "dup").await;
    let id = Uuid::new_v4();
    let spec = TenantSpec::new("Copycat", &first.slug, None).unwrap();
    assert_conflict(store.create_tenant(&system(), id, spec).await.unwrap_err(), SLUG_TAKEN);
    assert_not_found(store.get_tenant(id).await.unwrap_err(), Entity::Tenant);
    assert_eq!(store.find_tenant_by_slug(&first.slug).await.unwrap(), first);
}

pub async fn members_are_created_and_read_only_in_their_tenants(store: DynStore) {
    let a = new_tenant(&store, "a").await;
    let b = new_tenant(&store, "b").await;
    let spec = member_spec(&username("ann"), Role::Supervisor);
    let created = store.create_member(&system(), a.id, spec.clone()).await.unwrap();
    assert_eq!(created.id, spec.id);
    assert_eq!((created.username.as_str(), created.email.as_str()), (spec.username.as_str(), spec.email.as_str()));
    assert_eq!((created.full_name.as_str(), created.role), (spec.full_name.as_str(), Role::Supervisor));
    assert!(created.is_active);
    assert_eq!(created.last_login_at, None);
    assert_eq!(created.created_at, created.updated_at);
    assert_eq!(store.get_member(a.id, created.id).await.unwrap(), created);
    let listed = store.list_members(a.id, &PageRequest::first(SortKey::Name, SortOrder::Asc)).await.unwrap();
    assert_eq!(listed.items, vec![created.clone()]);
    assert_not_found(store.get_member(a.id, Uuid::new_v4()).await.unwrap_err(), Entity::User);
    // Tenant B sees nothing of A's member.
    assert_not_found(store.get_member(b.id, created.id).await.unwrap_err(), Entity::User);
    let other = store.list_members(b.id, &PageRequest::first(SortKey::CreatedAt, SortOrder::Asc)).await.unwrap();
    assert!(other.items.is_empty());
    let change = MemberChange { role: Some(Role::Admin), ..Default::default() };
    assert_not_found(store.update_member(&system(), b.id, created.id, change).await.unwrap_err(), Entity::User);
    assert_eq!(store.get_member(a.id, created.id).await.unwrap(), created);
}

pub async fn taken_usernames_and_emails_are_conflicts(store: DynStore) {
    let a = new_tenant(&store, "a").await;
    let b = new_tenant(&store, "b").await;
    let ann = new_member(&store, a.id, Role::Agent).await;
    let bob = new_member(&store, a.id, Role::Agent).await;
    let mut same_username = member_spec(&ann.username, Role::Agent);
    same_username.email = format!("other-{}", ann.email);
    assert_conflict(store.create_member(&system(), b.id, same_username).await.unwrap_err(), USERNAME_TAKEN);
    let mut same_email = member_spec(&username("cy"), Role::Agent);
    same_email.email = ann.email.clone();
    let cy = same_email.id;
    assert_conflict(store.create_member(&system(), a.id, same_email).await.unwrap_err(), EMAIL_TAKEN);
    assert_not_found(store.get_member(a.id, cy).await.unwrap_err(), Entity::User);
    assert!(store.find_login(&ann.username).await.unwrap().is_some_and(|c| c.user_id == ann.id));
    let steal = MemberChange { email: Some(ann.email.clone()), ..Default::default() };
    assert_conflict(store.update_member(&system(), a.id, bob.id, steal).await.unwrap_err(), EMAIL_TAKEN);
    assert_eq!(store.get_member(a.id, bob.id).await.unwrap(), bob);
    let listed = store.list_members(a.id, &PageRequest::first(SortKey::CreatedAt, SortOrder::Asc)).await.unwrap();
    assert_eq!(listed.items, vec![ann, bob]);
    assert!(store
        .list_members(b.id, &PageRequest::first(SortKey::Name, SortOrder::Asc))
        .await
        .unwrap()
        .items
        .is_empty());
}

pub async fn existing_accounts_join_other_tenants_once(store: DynStore) {
    let home = new_tenant(&store, "home").await;
    let other = new_tenant(&store, "other").await;
    let ann = new_member(&store, home.id, Role::Admin).await;
    let joined = store.add_membership(&system(), other.id, &ann.username, Role::Agent).await.unwrap();
    assert_eq!(
        (joined.id, joined.username.as_str(), joined.email.as_str()),
        (ann.id, ann.username.as_str(), ann.email.as_str())
    );
    assert_eq!((joined.full_name.as_str(), joined.role, joined.is_active), (ann.full_name.as_str(), Role::Agent, true));
    assert_eq!(store.get_member(other.id, ann.id).await.unwrap(), joined);
    let listed = store.list_members(other.id, &PageRequest::first(SortKey::Name, SortOrder::Asc)).await.unwrap();
    assert_eq!(listed.items, vec![joined]);
    assert_eq!(store.get_member(home.id, ann.id).await.unwrap().role, Role::Admin, "the home membership is untouched");
    let again = store.add_membership(&system(), other.id, &ann.username, Role::Analyst).await.unwrap_err();
    assert_conflict(again, ALREADY_MEMBER);
    let at_home = store.add_membership(&system(), home.id, &ann.username, Role::Analyst).await.unwrap_err();
    assert_conflict(at_home, ALREADY_MEMBER);
    assert_eq!(store.get_member(other.id, ann.id).await.unwrap().role, Role::Agent);
    let nobody = store.add_membership(&system(), other.id, &username("nobody"), Role::Agent).await.unwrap_err();
    assert_not_found(nobody, Entity::User);
}

pub async fn member_lists_paginate_in_both_orders_by_name_and_join_time(store: DynStore) {
    let t = new_tenant(&store, "list").await;
    let tag = Uuid::new_v4().simple().to_string();
    let mut members = Vec::new();
    for first in ["delta", "alpha", "echo", "charlie", "bravo", "alpha2", "foxtrot"] {
        let spec = member_spec(&format!("{first}-{}", &tag[..12]), Role::Agent);
        members.push(store.create_member(&system(), t.id, spec).await.unwrap());
    }
    // One more who joined from another tenant.
    let elsewhere = new_tenant(&store, "else").await;
    let guest = new_member(&store, elsewhere.id, Role::Admin).await;
    members.push(store.add_membership(&system(), t.id, &guest.username, Role::Display).await.unwrap());
    let mut by_name = members.clone();
    by_name.sort_by(|x, y| x.username.as_bytes().cmp(y.username.as_bytes()));
    let mut by_joined = members.clone();
    by_joined.sort_by_key(|m| (m.created_at, m.id));
    for (sort, ascending) in [(SortKey::Name, by_name), (SortKey::CreatedAt, by_joined)] {
        for order in [SortOrder::Asc, SortOrder::Desc] {
            let seen = read_all_pages(sort, order, 3, |req| {
                let store = store.clone();
                async move { store.list_members(t.id, &req).await }
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

pub async fn role_and_active_flag_belong_to_the_membership(store: DynStore) {
    let home = new_tenant(&store, "home").await;
    let other = new_tenant(&store, "other").await;
    let ann = new_member(&store, home.id, Role::Agent).await;
    store.add_membership(&system(), other.id, &ann.username, Role::Agent).await.unwrap();
    let promote = MemberChange { role: Some(Role::Supervisor), ..Default::default() };
    let promoted = store.update_member(&system(), other.id, ann.id, promote).await.unwrap();
    assert_eq!(promoted.role, Role::Supervisor);
    assert_eq!(store.get_member(other.id, ann.id).await.unwrap(), promoted);
    let off = MemberChange { is_active: Some(false), ..Default::default() };
    let deactivated = store.update_member(&system(), other.id, ann.id, off).await.unwrap();
    assert!(!deactivated.is_active);
    assert!(!store.get_member(other.id, ann.id).await.unwrap().is_active);
    let at_home = store.get_member(home.id, ann.id).await.unwrap();
    assert_eq!((at_home.role, at_home.is_active), (Role::Agent, true), "the home membership is untouched");
    let candidate = store.find_login(&ann.username).await.unwrap().unwrap();
    assert!(candidate.is_active, "deactivating a membership leaves the account active");
    let flags: Vec<_> = candidate.memberships.iter().map(|m| (m.tenant_id, m.role, m.is_active)).collect();
    assert_eq!(flags, [(home.id, Role::Agent, true), (other.id, Role::Supervisor, false)]);
    let on = MemberChange { is_active: Some(true), ..Default::default() };
    assert!(store.update_member(&system(), other.id, ann.id, on).await.unwrap().is_active);
}

pub async fn only_the_home_tenant_changes_email_name_and_password(store: DynStore) {
    let home = new_tenant(&store, "home").await;
    let other = new_tenant(&store, "other").await;
    let ann = new_member(&store, home.id, Role::Agent).await;
    let joined = store.add_membership(&system(), other.id, &ann.username, Role::Agent).await.unwrap();
    let refused = [
        MemberChange { email: Some(format!("new-{}", ann.email)), ..Default::default() },
        MemberChange { full_name: Some("Someone Else".into()), ..Default::default() },
        MemberChange { password_hash: Some(password_hash()), ..Default::default() },
        MemberChange { role: Some(Role::Admin), full_name: Some("Both".into()), ..Default::default() },
    ];
    for change in refused {
        let err = store.update_member(&system(), other.id, ann.id, change.clone()).await.unwrap_err();
        assert_conflict(err, MANAGED_ELSEWHERE);
        assert_eq!(store.get_member(other.id, joined.id).await.unwrap(), joined, "{change:?} changed nothing");
    }
    let password = store.find_login(&ann.username).await.unwrap().unwrap().password_hash;
    let new_password = password_hash();
    let change = MemberChange {
        email: Some(format!("new-{}", ann.email)),
        full_name: Some("Ann New".into()),
        password_hash: Some(new_password.clone()),
        ..Default::default()
    };
    let changed = store.update_member(&system(), home.id, ann.id, change).await.unwrap();
    assert_eq!(
        (changed.email.as_str(), changed.full_name.as_str()),
        (format!("new-{}", ann.email).as_str(), "Ann New")
    );
    assert_ne!(password, new_password);
    assert_eq!(store.find_login(&ann.username).await.unwrap().unwrap().password_hash, new_password);
    let seen_elsewhere = store.get_member(other.id, ann.id).await.unwrap();
    assert_eq!((seen_elsewhere.email, seen_elsewhere.full_name), (changed.email, changed.full_name), "one account");
}

pub async fn changes_that_end_sessions_revoke_logins_in_that_tenant_only(store: DynStore) {
    let home = new_tenant(&store, "home").await;
    let other = new_tenant(&store, "other").await;
    let ann = new_member(&store, home.id, Role::Agent).await;
    store.add_membership(&system(), other.id, &ann.username, Role::Agent).await.unwrap();
    let now = now_micros();
    let (_, elsewhere) = login(&store, other.id, ann.id, now).await;
    let harmless = [
        MemberChange { full_name: Some("Ann Renamed".into()), ..Default::default() },
        MemberChange { email: Some(format!("renamed-{}", ann.email)), ..Default::default() },
        MemberChange { role: Some(Role::Agent), ..Default::default() },
        MemberChange { is_active: Some(true), ..Default::default() },
    ];
    for change in harmless {
        let (_, tokens) = login(&store, home.id, ann.id, now).await;
        store.update_member(&system(), home.id, ann.id, change.clone()).await.unwrap();
        assert!(is_live(&store, &tokens, now).await, "{change:?} must not end sessions");
    }
    let ending = [
        MemberChange { role: Some(Role::Supervisor), ..Default::default() },
        MemberChange { password_hash: Some(password_hash()), ..Default::default() },
        MemberChange { is_active: Some(false), ..Default::default() },
    ];
    for change in ending {
        let (_, first) = login(&store, home.id, ann.id, now).await;
        let (_, second) = login(&store, home.id, ann.id, now).await;
        store.update_member(&system(), home.id, ann.id, change.clone()).await.unwrap();
        assert!(!is_live(&store, &first, now).await, "{change:?} ends every session in the tenant");
        assert!(!is_live(&store, &second, now).await, "{change:?} ends every session in the tenant");
        let refreshed = store.refresh_login_session(&first.refresh_hash, token_pair(now), now).await.unwrap();
        assert_eq!(refreshed, crate::RefreshOutcome::Invalid, "{change:?}");
        assert!(is_live(&store, &elsewhere, now).await, "{change:?} leaves sessions of other tenants alone");
    }
}

/// Every audited change of this test, in order: (action, target type, target id, before, after).
type AuditRow = (String, String, Uuid, Option<serde_json::Value>, Option<serde_json::Value>);

/// The comparable part of audit entries.
fn audit_rows(entries: &[lineup_domain::AuditEntry]) -> Vec<AuditRow> {
    entries
        .iter()
        .map(|e| (e.action.clone(), e.target_type.clone(), e.target_id, e.before.clone(), e.after.clone()))
        .collect()
}

/// The audit row expected for `action` on `id`, with the views serialised as the API shows them.
fn row<T: serde::Serialize>(action: &str, target: &str, id: Uuid, before: Option<&T>, after: &T) -> AuditRow {
    let value = |v: &T| serde_json::to_value(v).unwrap();
    (action.into(), target.into(), id, before.map(value), Some(value(after)))
}

pub async fn administrative_changes_are_audited_with_actor_and_before_after(store: DynStore) {
    let cli = system();
    let admin = admin_actor();
    let id = Uuid::new_v4();
    let spec = TenantSpec::new("Audited", &format!("audit-{}", id.simple()), None).unwrap();
    let tenant = store.create_tenant(&cli, id, spec).await.unwrap();
    let patch = TenantPatch { name: Some("Audited Ltd".into()), settings: Some(json!({"k": 1})) };
    let tenant_after = store.update_tenant(&admin, id, patch).await.unwrap();
    let ann = store.create_member(&admin, id, member_spec(&username("ann"), Role::Agent)).await.unwrap();
    let change = MemberChange { role: Some(Role::Supervisor), full_name: Some("Ann A".into()), ..Default::default() };
    let ann_after = store.update_member(&admin, id, ann.id, change).await.unwrap();
    let elsewhere = new_tenant(&store, "else").await;
    let bob = new_member(&store, elsewhere.id, Role::Admin).await;
    let bob_here = store.add_membership(&admin, id, &bob.username, Role::Analyst).await.unwrap();
    let key = store.create_api_key(&admin, id, api_key_spec("Board", Role::Display, None)).await.unwrap();
    let revoked = store.revoke_api_key(&admin, id, key.id, now_micros()).await.unwrap();

    let log = store.list_audit(id, &PageRequest::first(SortKey::CreatedAt, SortOrder::Asc)).await.unwrap();
    assert_eq!(log.next_cursor, None);
    let want = vec![
        row("tenant.create", "tenant", id, None, &tenant),
        row("tenant.update", "tenant", id, Some(&tenant), &tenant_after),
        row("user.create", "user", ann.id, None, &ann),
        row("user.update", "user", ann.id, Some(&ann), &ann_after),
        row("membership.create", "user", bob.id, None, &bob_here),
        row("apiKey.create", "apiKey", key.id, None, &key),
        row("apiKey.revoke", "apiKey", key.id, Some(&key), &revoked),
    ];
    assert_eq!(audit_rows(&log.items), want);
    assert_eq!(log.items[0].actor, cli);
    assert!(log.items[1..].iter().all(|e| e.actor == admin), "every later change was the admin's");
    assert!(log.items.windows(2).all(|w| w[0].at <= w[1].at));
    assert!(log.items.iter().all(|e| e.at >= tenant.created_at));
    assert_eq!(log.items[6].after.as_ref().unwrap()["revokedAt"], json!(revoked.revoked_at));
    assert_eq!(log.items[6].before.as_ref().unwrap()["revokedAt"], json!(null));
}

pub async fn audit_entries_never_hold_secrets(store: DynStore) {
    let t = new_tenant(&store, "secret").await;
    let spec = member_spec(&username("ann"), Role::Agent);
    let first_password = spec.password_hash.clone();
    let ann = store.create_member(&system(), t.id, spec).await.unwrap();
    let second_password = password_hash();
    let change = MemberChange { password_hash: Some(second_password.clone()), ..Default::default() };
    store.update_member(&system(), t.id, ann.id, change).await.unwrap();
    let key_spec = api_key_spec("Integration", Role::Agent, None);
    let key_hash = key_spec.hash;
    let key = store.create_api_key(&system(), t.id, key_spec).await.unwrap();
    store.revoke_api_key(&system(), t.id, key.id, now_micros()).await.unwrap();
    let log = store.list_audit(t.id, &PageRequest::first(SortKey::CreatedAt, SortOrder::Asc)).await.unwrap();
    assert_eq!(log.items.len(), 5);
    let hex: String = key_hash.iter().map(|b| format!("{b:02x}")).collect();
    let bytes = serde_json::to_string(&key_hash.to_vec()).unwrap();
    for entry in &log.items {
        for doc in [&entry.before, &entry.after].into_iter().flatten() {
            let text = doc.to_string();
            for secret in [&first_password, &second_password, &hex, &bytes] {
                assert!(!text.contains(secret.as_str()), "{} records a secret: {text}", entry.action);
            }
            let keys: Vec<&String> = doc.as_object().unwrap().keys().collect();
            assert!(
                keys.iter().all(|k| !k.to_lowercase().contains("password") && !k.to_lowercase().contains("hash")),
                "{} records {keys:?}",
                entry.action
            );
        }
    }
}

pub async fn audit_logs_are_tenant_scoped_and_paginate_in_both_orders(store: DynStore) {
    let a = new_tenant(&store, "a").await;
    let b = new_tenant(&store, "b").await;
    for _ in 0..3 {
        let m = new_member(&store, a.id, Role::Agent).await;
        let change = MemberChange { role: Some(Role::Analyst), ..Default::default() };
        store.update_member(&system(), a.id, m.id, change).await.unwrap();
    }
    new_api_key(&store, a.id, Role::Kiosk).await;
    let everything = PageRequest { limit: 500, ..PageRequest::first(SortKey::CreatedAt, SortOrder::Asc) };
    let all = store.list_audit(a.id, &everything).await.unwrap().items;
    assert_eq!(all.len(), 8, "tenant.create, 3 × (user.create, user.update), apiKey.create");
    assert!(all.windows(2).all(|w| w[0].at <= w[1].at));
    let others = store.list_audit(b.id, &everything).await.unwrap().items;
    let other_actions: Vec<_> = others.iter().map(|e| (e.action.as_str(), e.target_id)).collect();
    assert_eq!(other_actions, [("tenant.create", b.id)], "B sees only its own entries");
    for order in [SortOrder::Asc, SortOrder::Desc] {
        let seen = read_all_pages(SortKey::CreatedAt, order, 3, |req| {
            let store = store.clone();
            async move { store.list_audit(a.id, &req).await }
        })
        .await;
        let mut want = all.clone();
        if order == SortOrder::Desc {
            want.reverse();
        }
        assert_eq!(seen, want, "{order:?}");
    }
    let by_name = store.list_audit(a.id, &PageRequest::first(SortKey::Name, SortOrder::Asc)).await.unwrap_err();
    assert!(matches!(by_name, StoreError::InvalidPage(_)), "{by_name:?}");
}
