//! Conformance tests of credentials: finding an account at login, login sessions and their
//! rotating token pairs, API keys and single-use stream tickets. Times are explicit `now` values
//! around a real instant, so expiry is tested without waiting.

use chrono::Duration;
use lineup_domain::{MemberChange, Principal, Role, Subject};
use uuid::Uuid;

use super::access::{
    api_key_spec, is_live, login, member_spec, new_api_key, new_member, new_tenant, read_all_pages, system, token,
    token_pair, user_principal, username,
};
use super::assert_not_found;
use crate::{
    now_micros, to_micros, DynStore, Entity, NewStreamTicket, PageRequest, RefreshOutcome, SortKey, SortOrder,
};

pub async fn find_login_returns_the_account_with_its_memberships_by_slug(store: DynStore) {
    let home = new_tenant(&store, "z").await;
    let first = new_tenant(&store, "a").await;
    let middle = new_tenant(&store, "m").await;
    let spec = member_spec(&username("ann"), Role::Admin);
    let password = spec.password_hash.clone();
    let ann = store.create_member(&system(), home.id, spec).await.unwrap();
    store.add_membership(&system(), middle.id, &ann.username, Role::Kiosk).await.unwrap();
    store.add_membership(&system(), first.id, &ann.username, Role::Agent).await.unwrap();
    let off = MemberChange { is_active: Some(false), ..Default::default() };
    store.update_member(&system(), middle.id, ann.id, off).await.unwrap();
    let found = store.find_login(&ann.username).await.unwrap().unwrap();
    assert_eq!((found.user_id, found.username.as_str()), (ann.id, ann.username.as_str()));
    assert_eq!(found.password_hash, password);
    assert!(found.is_active);
    let memberships: Vec<_> =
        found.memberships.iter().map(|m| (m.tenant_id, m.tenant_slug.as_str(), m.role, m.is_active)).collect();
    assert_eq!(
        memberships,
        [
            (first.id, first.slug.as_str(), Role::Agent, true),
            (middle.id, middle.slug.as_str(), Role::Kiosk, false),
            (home.id, home.slug.as_str(), Role::Admin, true),
        ]
    );
    assert_eq!(store.find_login(&username("nobody")).await.unwrap(), None);
}

pub async fn access_tokens_resolve_to_their_user_until_they_expire(store: DynStore) {
    let t = new_tenant(&store, "login").await;
    let ann = new_member(&store, t.id, Role::Supervisor).await;
    let now = now_micros();
    let (session, tokens) = login(&store, t.id, ann.id, now).await;
    let principal = store.resolve_access_token(&tokens.access_hash, now).await.unwrap();
    assert_eq!(principal, Some(user_principal(t.id, &ann, Role::Supervisor, session)));
    assert_eq!(store.get_member(t.id, ann.id).await.unwrap().last_login_at, Some(now), "login stamps last login");
    let last_moment = tokens.access_expires_at - Duration::microseconds(1);
    assert!(store.resolve_access_token(&tokens.access_hash, last_moment).await.unwrap().is_some());
    assert_eq!(store.resolve_access_token(&tokens.access_hash, tokens.access_expires_at).await.unwrap(), None);
    assert_eq!(
        store.resolve_access_token(&tokens.refresh_hash, now).await.unwrap(),
        None,
        "a refresh token is no access token"
    );
    assert_eq!(store.resolve_access_token(&token(), now).await.unwrap(), None);
}

pub async fn a_deactivated_membership_resolves_to_nothing(store: DynStore) {
    let t = new_tenant(&store, "login").await;
    let ann = new_member(&store, t.id, Role::Agent).await;
    let off = MemberChange { is_active: Some(false), ..Default::default() };
    store.update_member(&system(), t.id, ann.id, off).await.unwrap();
    // A session stored after the deactivation (the deactivation revoked the earlier ones).
    let now = now_micros();
    let (_, tokens) = login(&store, t.id, ann.id, now).await;
    assert!(!is_live(&store, &tokens, now).await);
    let refreshed = store.refresh_login_session(&tokens.refresh_hash, token_pair(now), now).await.unwrap();
    assert_eq!(refreshed, RefreshOutcome::Invalid);
}

pub async fn refreshing_rotates_the_pair_and_kills_the_old_one(store: DynStore) {
    let t = new_tenant(&store, "refresh").await;
    let ann = new_member(&store, t.id, Role::Agent).await;
    let now = now_micros();
    let (session, old) = login(&store, t.id, ann.id, now).await;
    let later = now + Duration::minutes(10);
    let next = token_pair(later);
    let outcome = store.refresh_login_session(&old.refresh_hash, next.clone(), later).await.unwrap();
    assert_eq!(outcome, RefreshOutcome::Rotated(user_principal(t.id, &ann, Role::Agent, session)));
    assert!(!is_live(&store, &old, later).await, "the old access token is dead");
    assert!(is_live(&store, &next, later).await);
    let even_later = later + Duration::minutes(10);
    let third = token_pair(even_later);
    let outcome = store.refresh_login_session(&next.refresh_hash, third.clone(), even_later).await.unwrap();
    assert!(matches!(outcome, RefreshOutcome::Rotated(_)), "{outcome:?}");
    assert!(is_live(&store, &third, even_later).await);
    assert!(!is_live(&store, &next, even_later).await);
}

pub async fn replaying_the_previous_refresh_token_revokes_the_session(store: DynStore) {
    let t = new_tenant(&store, "replay").await;
    let ann = new_member(&store, t.id, Role::Agent).await;
    let now = now_micros();
    let (_, old) = login(&store, t.id, ann.id, now).await;
    let next = token_pair(now);
    let outcome = store.refresh_login_session(&old.refresh_hash, next.clone(), now).await.unwrap();
    assert!(matches!(outcome, RefreshOutcome::Rotated(_)), "{outcome:?}");
    let replay = store.refresh_login_session(&old.refresh_hash, token_pair(now), now).await.unwrap();
    assert_eq!(replay, RefreshOutcome::ReuseDetected);
    assert!(!is_live(&store, &next, now).await, "the thief's and the owner's tokens both die");
    let after = store.refresh_login_session(&next.refresh_hash, token_pair(now), now).await.unwrap();
    assert_eq!(after, RefreshOutcome::Invalid);
}

pub async fn unknown_expired_or_revoked_refresh_tokens_are_invalid(store: DynStore) {
    let t = new_tenant(&store, "refresh").await;
    let ann = new_member(&store, t.id, Role::Agent).await;
    let now = now_micros();
    let unknown = store.refresh_login_session(&token(), token_pair(now), now).await.unwrap();
    assert_eq!(unknown, RefreshOutcome::Invalid);
    let (_, expiring) = login(&store, t.id, ann.id, now).await;
    let expired_at = expiring.refresh_expires_at;
    let expired = store.refresh_login_session(&expiring.refresh_hash, token_pair(expired_at), expired_at).await;
    assert_eq!(expired.unwrap(), RefreshOutcome::Invalid);
    let (session, revoked) = login(&store, t.id, ann.id, now).await;
    store.revoke_login_session(t.id, session, now).await.unwrap();
    let outcome = store.refresh_login_session(&revoked.refresh_hash, token_pair(now), now).await.unwrap();
    assert_eq!(outcome, RefreshOutcome::Invalid);
    // A refused refresh leaves the session as it was.
    let last_moment = expired_at - Duration::microseconds(1);
    let still = store.refresh_login_session(&expiring.refresh_hash, token_pair(last_moment), last_moment).await;
    assert!(matches!(still.unwrap(), RefreshOutcome::Rotated(_)));
}

pub async fn of_concurrent_refreshes_with_one_token_exactly_one_rotates(store: DynStore) {
    let t = new_tenant(&store, "race").await;
    let ann = new_member(&store, t.id, Role::Agent).await;
    let now = now_micros();
    let (_, tokens) = login(&store, t.id, ann.id, now).await;
    let mut tasks = Vec::new();
    for _ in 0..8 {
        let store = store.clone();
        let refresh = tokens.refresh_hash;
        tasks.push(tokio::spawn(async move { store.refresh_login_session(&refresh, token_pair(now), now).await }));
    }
    let mut rotated = 0;
    for task in tasks {
        if let RefreshOutcome::Rotated(_) = task.await.unwrap().unwrap() {
            rotated += 1;
        }
    }
    assert_eq!(rotated, 1);
}

pub async fn revoking_a_login_session_is_idempotent_and_tenant_scoped(store: DynStore) {
    let a = new_tenant(&store, "a").await;
    let b = new_tenant(&store, "b").await;
    let ann = new_member(&store, a.id, Role::Agent).await;
    let now = now_micros();
    let (session, tokens) = login(&store, a.id, ann.id, now).await;
    let (_, other) = login(&store, a.id, ann.id, now).await;
    assert_not_found(store.revoke_login_session(b.id, session, now).await.unwrap_err(), Entity::LoginSession);
    assert!(is_live(&store, &tokens, now).await, "another tenant cannot revoke it");
    store.revoke_login_session(a.id, session, now).await.unwrap();
    assert!(!is_live(&store, &tokens, now).await);
    store.revoke_login_session(a.id, session, now + Duration::seconds(5)).await.unwrap();
    assert!(is_live(&store, &other, now).await, "only that session ends");
    let unknown = store.revoke_login_session(a.id, Uuid::new_v4(), now).await.unwrap_err();
    assert_not_found(unknown, Entity::LoginSession);
}

pub async fn api_keys_are_stored_read_and_listed_with_revoked_ones(store: DynStore) {
    let a = new_tenant(&store, "a").await;
    let b = new_tenant(&store, "b").await;
    let expires = now_micros() + Duration::days(90);
    let spec = api_key_spec("Lobby board", Role::Display, Some(expires));
    let key = store.create_api_key(&system(), a.id, spec.clone()).await.unwrap();
    assert_eq!((key.id, key.name.as_str(), key.role), (spec.id, "Lobby board", Role::Display));
    assert_eq!((key.prefix.as_str(), key.expires_at), (spec.prefix.as_str(), Some(expires)));
    assert_eq!((key.last_used_at, key.revoked_at), (None, None));
    assert_eq!(store.get_api_key(a.id, key.id).await.unwrap(), key);
    let mut keys = vec![key];
    for name in ["kiosk", "Zeta", "alpha", "Kiosk", "beta"] {
        keys.push(store.create_api_key(&system(), a.id, api_key_spec(name, Role::Kiosk, None)).await.unwrap());
    }
    keys[2] = store.revoke_api_key(&system(), a.id, keys[2].id, now_micros()).await.unwrap();
    let mut by_name = keys.clone();
    by_name.sort_by(|x, y| (x.name.as_bytes(), x.id).cmp(&(y.name.as_bytes(), y.id)));
    let mut by_created = keys.clone();
    by_created.sort_by_key(|k| (k.created_at, k.id));
    for (sort, ascending) in [(SortKey::Name, by_name), (SortKey::CreatedAt, by_created)] {
        for order in [SortOrder::Asc, SortOrder::Desc] {
            let seen = read_all_pages(sort, order, 2, |req| {
                let store = store.clone();
                async move { store.list_api_keys(a.id, &req).await }
            })
            .await;
            let mut want = ascending.clone();
            if order == SortOrder::Desc {
                want.reverse();
            }
            assert_eq!(seen, want, "{sort:?} {order:?}");
        }
    }
    assert_not_found(store.get_api_key(b.id, keys[0].id).await.unwrap_err(), Entity::ApiKey);
    assert_not_found(store.get_api_key(a.id, Uuid::new_v4()).await.unwrap_err(), Entity::ApiKey);
    let stolen = store.revoke_api_key(&system(), b.id, keys[0].id, now_micros()).await.unwrap_err();
    assert_not_found(stolen, Entity::ApiKey);
    assert_eq!(store.get_api_key(a.id, keys[0].id).await.unwrap().revoked_at, None);
    let other = store.list_api_keys(b.id, &crate::PageRequest::first(SortKey::Name, SortOrder::Asc)).await.unwrap();
    assert!(other.items.is_empty());
}

pub async fn api_key_instants_are_kept_to_the_microsecond(store: DynStore) {
    let t = new_tenant(&store, "keys").await;
    let fine = chrono::Utc::now() + Duration::nanoseconds(999);
    let spec = api_key_spec("Precise", Role::Agent, Some(fine + Duration::days(90)));
    let key = store.create_api_key(&system(), t.id, spec).await.unwrap();
    assert_eq!(key.expires_at, Some(to_micros(fine + Duration::days(90))));
    assert_eq!(store.get_api_key(t.id, key.id).await.unwrap(), key, "create returns what reads return");
    let revoked = store.revoke_api_key(&system(), t.id, key.id, fine).await.unwrap();
    assert_eq!(revoked.revoked_at, Some(to_micros(fine)));
    assert_eq!(store.get_api_key(t.id, key.id).await.unwrap(), revoked, "revoke returns what reads return");
}

pub async fn api_keys_resolve_to_their_principal_until_revoked_or_expired(store: DynStore) {
    let t = new_tenant(&store, "keys").await;
    let now = now_micros();
    let spec = api_key_spec("Kiosk 7", Role::Kiosk, Some(now + Duration::hours(1)));
    let hash = spec.hash;
    let key = store.create_api_key(&system(), t.id, spec).await.unwrap();
    let principal = store.resolve_api_key(&hash, now).await.unwrap();
    let want =
        Principal { tenant_id: t.id, role: Role::Kiosk, subject: Subject::ApiKey { key_id: key.id, name: key.name } };
    assert_eq!(principal, Some(want));
    let expires_at = key.expires_at.unwrap();
    assert!(store.resolve_api_key(&hash, expires_at - Duration::microseconds(1)).await.unwrap().is_some());
    assert_eq!(store.resolve_api_key(&hash, expires_at).await.unwrap(), None);
    assert_eq!(store.resolve_api_key(&token(), now).await.unwrap(), None);
    let (forever, forever_hash) = new_api_key(&store, t.id, Role::Agent).await;
    assert!(store.resolve_api_key(&forever_hash, now + Duration::days(3650)).await.unwrap().is_some());
    store.revoke_api_key(&system(), t.id, forever.id, now).await.unwrap();
    assert_eq!(store.resolve_api_key(&forever_hash, now).await.unwrap(), None);
}

pub async fn last_use_of_an_api_key_is_stamped_at_most_once_a_minute(store: DynStore) {
    let t = new_tenant(&store, "keys").await;
    let (key, hash) = new_api_key(&store, t.id, Role::Kiosk).await;
    let t0 = now_micros();
    let last_used = || {
        let store = store.clone();
        async move { store.get_api_key(t.id, key.id).await.unwrap().last_used_at }
    };
    assert!(store.resolve_api_key(&hash, t0).await.unwrap().is_some());
    assert_eq!(last_used().await, Some(t0), "the first use is stamped");
    store.resolve_api_key(&hash, t0 + Duration::seconds(30)).await.unwrap();
    assert_eq!(last_used().await, Some(t0), "a use within the minute is not");
    store.resolve_api_key(&hash, t0 + Duration::seconds(59)).await.unwrap();
    assert_eq!(last_used().await, Some(t0));
    let t1 = t0 + Duration::seconds(61);
    store.resolve_api_key(&hash, t1).await.unwrap();
    assert_eq!(last_used().await, Some(t1), "a use a minute later is");
    store.revoke_api_key(&system(), t.id, key.id, t1).await.unwrap();
    store.resolve_api_key(&hash, t1 + Duration::minutes(5)).await.unwrap();
    assert_eq!(last_used().await, Some(t1), "a refused key is not stamped");
}

pub async fn revoking_an_api_key_is_idempotent_and_keeps_the_first_time(store: DynStore) {
    let t = new_tenant(&store, "keys").await;
    let (key, _) = new_api_key(&store, t.id, Role::Agent).await;
    let first = now_micros();
    let revoked = store.revoke_api_key(&system(), t.id, key.id, first).await.unwrap();
    assert_eq!(revoked.revoked_at, Some(first));
    assert_eq!((revoked.id, revoked.name.as_str(), revoked.created_at), (key.id, key.name.as_str(), key.created_at));
    let again = store.revoke_api_key(&system(), t.id, key.id, first + Duration::minutes(1)).await.unwrap();
    assert_eq!(again.revoked_at, Some(first));
    assert_eq!(store.get_api_key(t.id, key.id).await.unwrap(), revoked);
    let audit = store.list_audit(t.id, &PageRequest::first(SortKey::CreatedAt, SortOrder::Asc)).await.unwrap();
    let revocations = audit.items.iter().filter(|e| e.action == "apiKey.revoke").count();
    assert_eq!(revocations, 1, "a no-op revocation is not audited again");
}

/// A new ticket expiring a minute after `now`.
fn ticket(now: chrono::DateTime<chrono::Utc>) -> NewStreamTicket {
    NewStreamTicket { hash: token(), expires_at: now + Duration::minutes(1) }
}

pub async fn stream_tickets_answer_once_with_their_principal(store: DynStore) {
    let t = new_tenant(&store, "tickets").await;
    let ann = new_member(&store, t.id, Role::Agent).await;
    let now = now_micros();
    let (_, tokens) = login(&store, t.id, ann.id, now).await;
    let user = store.resolve_access_token(&tokens.access_hash, now).await.unwrap().unwrap();
    let (_, key_hash) = new_api_key(&store, t.id, Role::Display).await;
    let board = store.resolve_api_key(&key_hash, now).await.unwrap().unwrap();
    for principal in [user, board] {
        let ticket = ticket(now);
        store.create_stream_ticket(&principal, ticket.clone()).await.unwrap();
        assert_eq!(store.redeem_stream_ticket(&ticket.hash, now).await.unwrap(), Some(principal.clone()));
        assert_eq!(store.redeem_stream_ticket(&ticket.hash, now).await.unwrap(), None, "a ticket answers once");
    }
    assert_eq!(store.redeem_stream_ticket(&token(), now).await.unwrap(), None);
}

pub async fn expired_stream_tickets_answer_nothing(store: DynStore) {
    let t = new_tenant(&store, "tickets").await;
    let (_, key_hash) = new_api_key(&store, t.id, Role::Display).await;
    let now = now_micros();
    let board = store.resolve_api_key(&key_hash, now).await.unwrap().unwrap();
    let stale = ticket(now);
    store.create_stream_ticket(&board, stale.clone()).await.unwrap();
    assert_eq!(store.redeem_stream_ticket(&stale.hash, stale.expires_at).await.unwrap(), None);
    let fresh = ticket(now);
    store.create_stream_ticket(&board, fresh.clone()).await.unwrap();
    let last_moment = fresh.expires_at - Duration::microseconds(1);
    assert!(store.redeem_stream_ticket(&fresh.hash, last_moment).await.unwrap().is_some());
}

pub async fn tickets_of_revoked_sessions_keys_or_members_answer_nothing(store: DynStore) {
    let t = new_tenant(&store, "tickets").await;
    let ann = new_member(&store, t.id, Role::Agent).await;
    let now = now_micros();
    let (session, tokens) = login(&store, t.id, ann.id, now).await;
    let user = store.resolve_access_token(&tokens.access_hash, now).await.unwrap().unwrap();
    let by_user = ticket(now);
    store.create_stream_ticket(&user, by_user.clone()).await.unwrap();
    store.revoke_login_session(t.id, session, now).await.unwrap();
    assert_eq!(store.redeem_stream_ticket(&by_user.hash, now).await.unwrap(), None, "revoked login session");

    let (_, tokens) = login(&store, t.id, ann.id, now).await;
    let user = store.resolve_access_token(&tokens.access_hash, now).await.unwrap().unwrap();
    let by_member = ticket(now);
    store.create_stream_ticket(&user, by_member.clone()).await.unwrap();
    let off = MemberChange { is_active: Some(false), ..Default::default() };
    store.update_member(&system(), t.id, ann.id, off).await.unwrap();
    assert_eq!(store.redeem_stream_ticket(&by_member.hash, now).await.unwrap(), None, "deactivated member");

    let (key, key_hash) = new_api_key(&store, t.id, Role::Display).await;
    let board = store.resolve_api_key(&key_hash, now).await.unwrap().unwrap();
    let by_key = ticket(now);
    store.create_stream_ticket(&board, by_key.clone()).await.unwrap();
    store.revoke_api_key(&system(), t.id, key.id, now).await.unwrap();
    assert_eq!(store.redeem_stream_ticket(&by_key.hash, now).await.unwrap(), None, "revoked API key");
}

pub async fn of_concurrent_redeemers_of_one_ticket_exactly_one_gets_it(store: DynStore) {
    let t = new_tenant(&store, "tickets").await;
    let (_, key_hash) = new_api_key(&store, t.id, Role::Display).await;
    let now = now_micros();
    let board = store.resolve_api_key(&key_hash, now).await.unwrap().unwrap();
    let shared = ticket(now);
    store.create_stream_ticket(&board, shared.clone()).await.unwrap();
    let mut tasks = Vec::new();
    for _ in 0..8 {
        let store = store.clone();
        let hash = shared.hash;
        tasks.push(tokio::spawn(async move { store.redeem_stream_ticket(&hash, now).await.unwrap() }));
    }
    let mut answers = Vec::new();
    for task in tasks {
        answers.extend(task.await.unwrap());
    }
    assert_eq!(answers, vec![board]);
}
