//! Signing in and what follows: login, `/me`, refresh rotation and replay, logout, stream
//! tickets, multi-tenant accounts, and the admin routes for users, API keys, the tenant and the
//! audit log.

use lineup_domain::Role;
use serde_json::{json, Value};

use crate::common::{desk, make_user, sqlite_server, TestServer};

const PASSWORD: &str = "a long password 1";

async fn signed_in(s: &TestServer, username: &str, role: Role) -> Value {
    make_user(&s.store, s.tenant, username, role, PASSWORD).await;
    s.login(username, PASSWORD).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_user_signs_in_and_sees_themselves() {
    let s = sqlite_server().await;
    let tokens = signed_in(&s, "Grace", Role::Supervisor).await;
    assert_eq!((tokens["tokenType"].as_str(), tokens["role"].as_str()), (Some("Bearer"), Some("supervisor")));
    assert_eq!(tokens["tenantId"], s.tenant.to_string());
    assert!(tokens["accessToken"].as_str().unwrap().starts_with("lu_at_"));
    assert!(tokens["refreshToken"].as_str().unwrap().starts_with("lu_rt_"));
    let me = s.as_token(tokens["accessToken"].as_str().unwrap()).get("/api/v1/me").await.expect(200);
    assert_eq!(me["user"]["username"], "grace", "usernames are case-insensitive and stored lower-case");
    assert!(me["user"].get("passwordHash").is_none() && !me.to_string().contains("argon2"), "{me}");
    assert_eq!(me["tenant"]["slug"], s.slug);
    // The username is case-insensitive at login too.
    s.login("GRACE", PASSWORD).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_passwords_and_unknown_users_get_the_same_answer() {
    let s = sqlite_server().await;
    make_user(&s.store, s.tenant, "hopper", Role::Agent, PASSWORD).await;
    let anon = s.anonymous();
    let wrong = anon.post("/api/v1/auth/login", json!({"username": "hopper", "password": "not the password"})).await;
    let wrong = wrong.problem(401, "invalid-credentials");
    let unknown = anon.post("/api/v1/auth/login", json!({"username": "nobody", "password": "not the password"})).await;
    let unknown = unknown.problem(401, "invalid-credentials");
    assert_eq!(wrong["detail"], unknown["detail"]);
    let malformed = anon.post("/api/v1/auth/login", json!({"username": "hopper"})).await;
    assert!(malformed.status == 400 || malformed.status == 422, "{:?}", malformed.body);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refresh_rotates_and_a_replayed_refresh_token_ends_the_session() {
    let s = sqlite_server().await;
    let first = signed_in(&s, "lovelace", Role::Agent).await;
    let anon = s.anonymous();
    let second = anon.post("/api/v1/auth/refresh", json!({"refreshToken": first["refreshToken"]})).await.expect(200);
    assert_ne!(second["accessToken"], first["accessToken"]);
    assert_ne!(second["refreshToken"], first["refreshToken"]);
    s.as_token(first["accessToken"].as_str().unwrap()).get("/api/v1/me").await.problem(401, "unauthenticated");
    let newest = s.as_token(second["accessToken"].as_str().unwrap());
    newest.get("/api/v1/me").await.expect(200);
    // Someone replays the first refresh token: the whole session dies, the newest tokens too.
    let replay = anon.post("/api/v1/auth/refresh", json!({"refreshToken": first["refreshToken"]})).await;
    let replay = replay.problem(401, "unauthenticated");
    assert!(replay["detail"].as_str().unwrap().contains("already used"), "{replay}");
    newest.get("/api/v1/me").await.problem(401, "unauthenticated");
    let next = anon.post("/api/v1/auth/refresh", json!({"refreshToken": second["refreshToken"]})).await;
    next.problem(401, "unauthenticated");
    // Another sign-in is unaffected.
    let other = s.login("lovelace", PASSWORD).await;
    s.as_token(other["accessToken"].as_str().unwrap()).get("/api/v1/me").await.expect(200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_refreshes_of_one_token_have_one_winner() {
    let s = sqlite_server().await;
    let tokens = signed_in(&s, "racer", Role::Agent).await;
    let mut tasks = Vec::new();
    for _ in 0..6 {
        let anon = s.anonymous();
        let body = json!({"refreshToken": tokens["refreshToken"]});
        tasks.push(tokio::spawn(async move { anon.post("/api/v1/auth/refresh", body).await.status.as_u16() }));
    }
    let mut codes = Vec::new();
    for t in tasks {
        codes.push(t.await.unwrap());
    }
    assert_eq!(codes.iter().filter(|c| **c == 200).count(), 1, "{codes:?}");
    assert!(codes.iter().all(|c| *c == 200 || *c == 401), "{codes:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stream_ticket_opens_one_stream_once() {
    let s = sqlite_server().await;
    let d = desk(&s).await;
    let sid = d.session_id().to_string();
    let tokens = signed_in(&s, "board", Role::Display).await;
    let display = s.as_token(tokens["accessToken"].as_str().unwrap());
    let ticket = display.post("/api/v1/auth/stream-ticket", json!({})).await.expect(201);
    let ticket = ticket["ticket"].as_str().unwrap().to_string();
    assert!(ticket.starts_with("lu_st_"));
    // EventSource sends no headers: the ticket goes in the URL.
    let url = format!("/api/v1/sessions/{sid}/stream?ticket={ticket}");
    let mut stream = s.anonymous().stream(&url, None).await;
    let item = s.post(&format!("/api/v1/sessions/{sid}/items"), json!({"displayName": "Zed"})).await.expect(201);
    assert_eq!(stream.take(1).await[0].data, item);
    // Used once: the same URL is refused, and a ticket is no bearer token.
    s.anonymous().get(&url).await.problem(401, "unauthenticated");
    s.as_token(&ticket).get("/api/v1/queues").await.problem(401, "unauthenticated");
    s.anonymous().get(&format!("/api/v1/sessions/{sid}/stream")).await.problem(401, "unauthenticated");
    s.anonymous()
        .get(&format!("/api/v1/sessions/{sid}/stream?ticket=lu_st_forged"))
        .await
        .problem(401, "unauthenticated");
    // A ticket works only on streams: other routes take only the header.
    let fresh = display.post("/api/v1/auth/stream-ticket", json!({})).await.expect(201);
    let url = format!("/api/v1/queues?ticket={}", fresh["ticket"].as_str().unwrap());
    s.anonymous().get(&url).await.problem(401, "unauthenticated");
    // A kiosk may not read items, so its ticket does not open an item stream either.
    let kiosk = s.as_role(Role::Kiosk).await;
    let kiosk_ticket = kiosk.post("/api/v1/auth/stream-ticket", json!({})).await.expect(201);
    let url = format!("/api/v1/sessions/{sid}/stream?ticket={}", kiosk_ticket["ticket"].as_str().unwrap());
    s.anonymous().get(&url).await.problem(403, "forbidden");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_ticket_of_a_signed_out_session_is_dead() {
    let s = sqlite_server().await;
    let d = desk(&s).await;
    let tokens = signed_in(&s, "leaving", Role::Agent).await;
    let user = s.as_token(tokens["accessToken"].as_str().unwrap());
    let ticket = user.post("/api/v1/auth/stream-ticket", json!({})).await.expect(201);
    user.post("/api/v1/auth/logout", json!({})).await.expect(204);
    let url = format!("/api/v1/sessions/{}/stream?ticket={}", d.session_id(), ticket["ticket"].as_str().unwrap());
    s.anonymous().get(&url).await.problem(401, "unauthenticated");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_account_in_two_tenants_names_the_tenant_at_login() {
    let s = sqlite_server().await;
    make_user(&s.store, s.tenant, "roamer", Role::Agent, PASSWORD).await;
    let (other, other_admin) = s.other_tenant().await;
    // Only an operator adds an existing account to another tenant (`lineup admin create-user`):
    // over the API a tenant's admin could otherwise probe other tenants' usernames.
    let actor = lineup_domain::Actor::system("test");
    let added = s.store.add_membership(&actor, other, "roamer", Role::Analyst).await.unwrap();
    let listed = other_admin.get("/api/v1/users").await.expect(200);
    assert_eq!(listed["items"][0]["role"], "analyst");
    let ambiguous = s.anonymous().post("/api/v1/auth/login", json!({"username": "roamer", "password": PASSWORD})).await;
    let ambiguous = ambiguous.expect(422);
    assert!(ambiguous["detail"].as_str().unwrap().contains(&s.slug), "{ambiguous}");
    let tenant = s.store.get_tenant(other).await.unwrap();
    let body = json!({"username": "roamer", "password": PASSWORD, "tenant": tenant.slug});
    let there = s.anonymous().post("/api/v1/auth/login", body).await.expect(200);
    assert_eq!(
        (there["tenantId"].as_str(), there["role"].as_str()),
        (Some(other.to_string().as_str()), Some("analyst"))
    );
    // The other tenant cannot change the account's own details (its home tenant owns them).
    let id = added.id;
    let refused = other_admin.patch(&format!("/api/v1/users/{id}"), json!({"fullName": "Renamed"})).await;
    refused.problem(409, "conflict");
    let body = json!({"username": "roamer", "password": PASSWORD, "tenant": "no-such-tenant"});
    s.anonymous().post("/api/v1/auth/login", body).await.problem(401, "invalid-credentials");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admins_manage_users_and_every_change_is_audited() {
    let s = sqlite_server().await;
    let body = json!({"username": "newbie", "email": "newbie@example.test", "fullName": "New Bie", "password": PASSWORD, "role": "agent"});
    let created = s.post("/api/v1/users", body.clone()).await.expect(201);
    assert_eq!((created["username"].as_str(), created["role"].as_str()), (Some("newbie"), Some("agent")));
    assert!(!created.to_string().contains(PASSWORD) && created.get("passwordHash").is_none());
    s.post("/api/v1/users", body).await.problem(409, "conflict");
    let weak = json!({"username": "weak", "email": "weak@example.test", "fullName": "Weak", "password": "short", "role": "agent"});
    let weak = s.post("/api/v1/users", weak).await.expect(422);
    assert_eq!(weak["field"], "password");
    let id = created["id"].as_str().unwrap();
    let promoted = s.patch(&format!("/api/v1/users/{id}"), json!({"role": "supervisor"})).await.expect(200);
    assert_eq!(promoted["role"], "supervisor");
    let tokens = s.login("newbie", PASSWORD).await;
    assert_eq!(tokens["role"], "supervisor");
    s.patch(&format!("/api/v1/users/{id}"), json!({"password": "another long password"})).await.expect(200);
    s.as_token(tokens["accessToken"].as_str().unwrap()).get("/api/v1/me").await.problem(401, "unauthenticated");
    s.login("newbie", "another long password").await;

    let (users, _) = s.all_pages("/api/v1/users", "", 1).await;
    assert_eq!(users.len(), 1);
    let audit = s.get("/api/v1/audit").await.expect(200);
    let actions: Vec<&str> = audit["items"].as_array().unwrap().iter().map(|e| e["action"].as_str().unwrap()).collect();
    assert_eq!(actions[..3], ["user.update", "user.update", "user.create"], "newest first: {actions:?}");
    let promotion = &audit["items"][1];
    assert_eq!(
        (promotion["before"]["role"].as_str(), promotion["after"]["role"].as_str()),
        (Some("agent"), Some("supervisor"))
    );
    assert_eq!(promotion["actor"]["type"], "apiKey");
    assert_eq!(promotion["targetId"], id);
    assert!(
        !audit.to_string().contains("argon2") && !audit.to_string().contains(PASSWORD),
        "no secrets in the audit log"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_keys_are_shown_once_stored_hashed_and_stamped_when_used() {
    let s = sqlite_server().await;
    let created = s.post("/api/v1/api-keys", json!({"name": "Wallboard", "role": "display"})).await.expect(201);
    let secret = created["secret"].as_str().unwrap();
    let id = created["apiKey"]["id"].as_str().unwrap();
    assert!(secret.starts_with("lu_key_") && secret.starts_with(created["apiKey"]["prefix"].as_str().unwrap()));
    assert!(created["apiKey"]["lastUsedAt"].is_null());
    let listed = s.get("/api/v1/api-keys").await.expect(200);
    assert!(!listed.to_string().contains(secret), "the secret is never shown again");
    let key = s.as_token(secret);
    key.get("/api/v1/queues").await.expect(200);
    key.post("/api/v1/queues", json!({"name": "Nope"})).await.problem(403, "forbidden");
    let used = s.get(&format!("/api/v1/api-keys/{id}")).await.expect(200);
    assert!(used["lastUsedAt"].is_string(), "{used}");
    let revoked = s.delete(&format!("/api/v1/api-keys/{id}")).await.expect(200);
    let again = s.delete(&format!("/api/v1/api-keys/{id}")).await.expect(200);
    assert_eq!(revoked["revokedAt"], again["revokedAt"], "revoking twice keeps the first time");
    key.get("/api/v1/queues").await.problem(401, "unauthenticated");
    let bad_role = s.post("/api/v1/api-keys", json!({"name": "X", "role": "overlord"})).await;
    assert!(bad_role.status == 400 || bad_role.status == 422);
    let audit = s.get("/api/v1/audit?order=asc").await.expect(200);
    let actions: Vec<&str> = audit["items"].as_array().unwrap().iter().map(|e| e["action"].as_str().unwrap()).collect();
    assert!(actions.ends_with(&["apiKey.create", "apiKey.revoke"]), "{actions:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_tenant_reads_its_settings_and_admins_change_them() {
    let s = sqlite_server().await;
    let agent = s.as_role(Role::Agent).await;
    let tenant = agent.get("/api/v1/tenant").await.expect(200);
    assert_eq!(tenant["id"], s.tenant.to_string());
    let changed = s.patch("/api/v1/tenant", json!({"name": "Renamed", "settings": {"timezone": "Europe/Paris"}})).await;
    let changed = changed.expect(200);
    assert_eq!(
        (changed["name"].as_str(), changed["settings"]["timezone"].as_str()),
        (Some("Renamed"), Some("Europe/Paris"))
    );
    s.patch("/api/v1/tenant", json!({"settings": [1, 2]})).await.expect(422);
    agent.patch("/api/v1/tenant", json!({"name": "Mine"})).await.problem(403, "forbidden");
    let audit = s.get("/api/v1/audit?limit=1").await.expect(200);
    assert_eq!(audit["items"][0]["action"], "tenant.update");
    assert_eq!(audit["items"][0]["before"]["name"], "Test tenant");
}
