//! `lineup demo`: a self-contained Lineup on SQLite with seeded templates, queues and sessions
//! and a small traffic generator, so the API and its streams show live changes.
//!
//! Until the 3CX simulator exists, the traffic is a deterministic walk: a visitor joins every
//! few seconds and the oldest visitors move along their queue's transitions.

use std::net::SocketAddr;
use std::time::Duration;

use lineup_domain::Role;
use lineup_domain::{
    Lifecycle, NewItem, NewQueue, NewSession, NewTemplate, NewTemplateStatus, Queue, Session, StatusChangeRequest,
    Transition, TransitionFrom,
};
use lineup_store::{DynStore, ItemFilter, PageRequest, SortKey, SortOrder, StoreError, StoreResult};
use uuid::Uuid;

use crate::admin;
use crate::config::Config;
use crate::serve;

/// The demo's tenant (slug `demo`).
pub const DEMO_TENANT: Uuid = Uuid::from_u128(0x0000_0000_0000_4000_8000_0000_0000_0001);

/// The demo's accounts: one per role, named after it, all with the printed password.
const DEMO_USERS: [(&str, Role); 6] = [
    ("admin", Role::Admin),
    ("supervisor", Role::Supervisor),
    ("analyst", Role::Analyst),
    ("agent", Role::Agent),
    ("kiosk", Role::Kiosk),
    ("display", Role::Display),
];

/// Sessions are completed and replaced once they hold this many items.
const ROTATE_AFTER: usize = 400;

pub async fn run(config: Config) -> anyhow::Result<()> {
    let store = serve::open_migrated(&config).await?;
    let tenant = DEMO_TENANT;
    let password = std::env::var("LINEUP_DEMO_PASSWORD").unwrap_or_else(|_| lineup_security::generate_password());
    seed_accounts(&store, &password).await?;
    let queues = seed(&store, tenant).await?;
    let state = serve::app_state(&config, store);
    tokio::spawn(traffic(state.clone(), tenant, queues));
    let listener = serve::bind(config.listen, true).await?;
    let banner = Box::new(move |addr: SocketAddr| {
        println!();
        println!("  Lineup demo is running (SQLite, seeded queues, live traffic).");
        println!("  API:      http://{addr}/api/v1/queues");
        println!("  OpenAPI:  http://{addr}/api/v1/openapi.json");
        println!("  Health:   http://{addr}/healthz");
        println!("  Login:    admin / {password}   (tenant demo; POST /api/v1/auth/login)");
        println!("            supervisor, analyst, agent, kiosk and display share that password.");
        println!("  Stop with Ctrl-C.");
        println!();
    });
    serve::serve_state(state, listener, Some(banner)).await
}

/// Creates the demo tenant and its accounts once, and sets every account's password to `password`
/// (so the printed login always works; older logins are signed out).
async fn seed_accounts(store: &DynStore, password: &str) -> anyhow::Result<()> {
    let tenant = match store.get_tenant(DEMO_TENANT).await {
        Ok(t) => t,
        Err(StoreError::NotFound(_)) => admin::create_tenant(store, DEMO_TENANT, "Demo", "demo").await?,
        Err(e) => return Err(e.into()),
    };
    for (username, role) in DEMO_USERS {
        match store.find_login(username).await? {
            Some(found) => admin::set_password(store, tenant.id, found.user_id, password).await?,
            None => {
                let email = Some(format!("{username}@demo.lineup.invalid"));
                let full_name = Some(format!("Demo {username}"));
                let pw = Some(password.to_string());
                admin::create_user(store, &tenant, username, email, full_name, role, pw).await?;
            }
        }
    }
    Ok(())
}

fn status(label: &str, color: &str) -> NewTemplateStatus {
    NewTemplateStatus { label: label.into(), color: Some(color.into()), order: None }
}

fn step(name: &str, from: &[&str], to: &str) -> Transition {
    let from = match from {
        [one] => TransitionFrom::One((*one).into()),
        many => TransitionFrom::Many(many.iter().map(|s| s.to_string()).collect()),
    };
    Transition { name: name.into(), from, to: to.into() }
}

/// The "call" template of 3CX queues.
pub fn call_template() -> NewTemplate {
    NewTemplate {
        name: "Call".into(),
        statuses: vec![
            status("Waiting", "#f59e0b"),
            status("Ringing", "#3b82f6"),
            status("Talking", "#10b981"),
            status("Wrap-up", "#8b5cf6"),
            status("Completed", "#6b7280"),
            status("Abandoned", "#ef4444"),
        ],
        init: Some("Waiting".into()),
        transitions: vec![
            step("ring", &["Waiting"], "Ringing"),
            step("answer", &["Ringing"], "Talking"),
            step("wrap", &["Talking"], "Wrap-up"),
            step("complete", &["Wrap-up", "Talking"], "Completed"),
            step("abandon", &["Waiting", "Ringing"], "Abandoned"),
            step("requeue", &["Ringing"], "Waiting"),
        ],
        metadata_schema: Some(serde_json::json!({
            "type": "object",
            "properties": {"caller": {"type": "string"}, "callId": {"type": "string"}}
        })),
    }
}

/// The walk-in template of kiosk tickets.
pub fn walk_in_template() -> NewTemplate {
    NewTemplate {
        name: "Walk-in".into(),
        statuses: vec![
            status("Waiting", "#f59e0b"),
            status("Called", "#3b82f6"),
            status("Serving", "#10b981"),
            status("Done", "#6b7280"),
            status("No-show", "#ef4444"),
        ],
        init: Some("Waiting".into()),
        transitions: vec![
            step("call", &["Waiting"], "Called"),
            step("serve", &["Called"], "Serving"),
            step("finish", &["Serving"], "Done"),
            step("no_show", &["Called"], "No-show"),
            step("recall", &["Called"], "Called"),
        ],
        metadata_schema: None,
    }
}

/// Creates the demo's templates and queues once, and makes sure each queue has an active session.
pub async fn seed(store: &DynStore, tenant: Uuid) -> StoreResult<Vec<Queue>> {
    let existing = store.list_queues(tenant, &PageRequest::first(SortKey::CreatedAt, SortOrder::Asc)).await?;
    let queues = if existing.items.is_empty() {
        let call = store.create_template(tenant, call_template()).await?;
        let walk_in = store.create_template(tenant, walk_in_template()).await?;
        let mut queues = Vec::new();
        for (name, template, prefix) in
            [("Support line", call.id, "S"), ("Sales line", call.id, "L"), ("Front desk", walk_in.id, "A")]
        {
            let new = NewQueue { name: name.into(), template_id: template, prefix: Some(prefix.into()) };
            queues.push(store.create_queue(tenant, new).await?);
        }
        queues
    } else {
        existing.items
    };
    for q in &queues {
        current_session(store, tenant, q).await?;
    }
    Ok(queues)
}

/// The queue's newest active session, opening one if there is none.
async fn current_session(store: &DynStore, tenant: Uuid, queue: &Queue) -> StoreResult<Session> {
    let newest =
        store.list_sessions(tenant, queue.id, &PageRequest::first(SortKey::SessionNumber, SortOrder::Desc)).await?;
    match newest.items.into_iter().find(|s| s.lifecycle_status == Lifecycle::Active) {
        Some(s) => Ok(s),
        None => store.create_session(tenant, queue.id, NewSession::default()).await,
    }
}

const NAMES: [&str; 8] = ["Ada", "Ben", "Chloe", "Dev", "Elif", "Femi", "Gus", "Hana"];

async fn traffic(state: lineup_api::AppState, tenant: Uuid, queues: Vec<Queue>) {
    let mut tick: u64 = 0;
    loop {
        tokio::time::sleep(Duration::from_secs(2)).await;
        tick += 1;
        let queue = &queues[(tick as usize) % queues.len()];
        if let Err(e) = step_queue(&state.store, tenant, queue, tick).await {
            tracing::warn!(error = %e, queue = %queue.name, "demo traffic step failed");
        }
        state.notify_committed();
    }
}

async fn step_queue(store: &DynStore, tenant: Uuid, queue: &Queue, tick: u64) -> StoreResult<()> {
    let mut session = current_session(store, tenant, queue).await?;
    let newest_first = PageRequest { limit: 1, ..PageRequest::first(SortKey::Number, SortOrder::Desc) };
    let newest = store.list_items(tenant, session.id, &ItemFilter::default(), &newest_first).await?;
    let issued = newest
        .items
        .first()
        .and_then(|i| i.queue_number.rsplit_once('-'))
        .and_then(|(_, n)| n.parse::<usize>().ok())
        .unwrap_or(0);
    if issued >= ROTATE_AFTER {
        store.change_lifecycle(tenant, session.id, Lifecycle::Completed).await?;
        session = store.create_session(tenant, queue.id, NewSession::default()).await?;
    }
    let statuses = store.list_session_statuses(tenant, session.id).await?;
    let name = NAMES[(tick as usize) % NAMES.len()];
    let metadata = serde_json::json!({"caller": format!("+1555{:04}", tick % 10_000)});
    store
        .create_item(
            tenant,
            session.id,
            NewItem { display_name: name.into(), metadata: Some(metadata), status_id: None },
        )
        .await?;
    // Move the oldest item of each non-final status one step along the first transition out of it.
    for s in statuses.iter().rev() {
        let filter = ItemFilter { status_id: Some(s.id) };
        let page = PageRequest { limit: 1, ..PageRequest::first(SortKey::Number, SortOrder::Asc) };
        let oldest = store.list_items(tenant, session.id, &filter, &page).await?;
        if let Some(item) = oldest.items.first() {
            let transition = match (s.label.as_str(), tick % 7) {
                ("Waiting", 0) if queue.prefix != "A" => "abandon",
                ("Waiting", _) if queue.prefix != "A" => "ring",
                ("Ringing", _) => "answer",
                ("Talking", _) => "wrap",
                ("Wrap-up", _) => "complete",
                ("Waiting", _) => "call",
                ("Called", 3) => "no_show",
                ("Called", _) => "serve",
                ("Serving", _) => "finish",
                _ => continue,
            };
            let change = StatusChangeRequest {
                transition: Some(transition.into()),
                changed_by: Some("demo-agent".into()),
                ..Default::default()
            };
            store.change_item_status(tenant, item.id, change).await?;
        }
    }
    Ok(())
}
