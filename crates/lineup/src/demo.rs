//! `lineup demo`: a self-contained Lineup on SQLite: a simulated 3CX (`pbx-sim`, real time)
//! connected to the demo tenant, the ingestion workers turning its calls into queue items live,
//! the API, and a walk-in queue where a visitor joins every few seconds and the oldest visitors
//! move along its transitions (until kiosks and desks exist).

use std::net::SocketAddr;
use std::time::Duration;

use anyhow::Context;
use chrono::{Timelike, Utc};
use lineup_domain::Role;
use lineup_domain::{
    Lifecycle, NewItem, NewQueue, NewSession, NewTemplate, NewTemplateStatus, Queue, Session, StatusChangeRequest,
    Transition, TransitionFrom,
};
use lineup_pbx_sim::model::SimConfig;
use lineup_pbx_sim::server::{RunningSim, SimServerConfig, TimeMode};
use lineup_security::{SecretBox, SecretKey};
use lineup_store::{DynStore, ItemFilter, PageRequest, SortKey, SortOrder, StoreError, StoreResult};
use lineup_workers::provision::{connect_pbx, PbxSpec, QueueSpec};
use uuid::Uuid;

use crate::admin;
use crate::config::Config;
use crate::serve;
use crate::workers::{WorkerRole, Workers};

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

/// The demo's walk-in queue.
const FRONT_DESK: &str = "Front desk";

pub async fn run(mut config: Config) -> anyhow::Result<()> {
    give_a_secret_key(&mut config)?;
    let store = serve::open_migrated(&config).await?;
    let tenant = DEMO_TENANT;
    let password = std::env::var("LINEUP_DEMO_PASSWORD").unwrap_or_else(|_| lineup_security::generate_password());
    seed_accounts(&store, &password).await?;
    let walk_in = seed(&store, tenant).await?;
    let secrets = config.secret_box()?.context("the demo always has a secret key")?;
    let (sim, scenario) = start_simulator().await?;
    let sim_url = sim.base_url();
    connect_simulator(&store, &secrets, tenant, &sim, &scenario).await?;
    let mut workers_config = config.workers.clone();
    workers_config.reconciler.history_schedule = "*/5 * * * * *".into();
    workers_config.reconciler.call_log_schedule = "*/30 * * * * *".into();
    let state = serve::app_state(&config, store.clone(), config.secret_box()?);
    lineup_api::live::spawn_announcer(store.clone(), state.events.subscribe());
    let workers = Workers::start(store, config.secret_box()?, workers_config, WorkerRole::All, state.events.clone());
    let state = serve::observed(state, Some(&workers));
    tokio::spawn(traffic(state.clone(), tenant, walk_in));
    let listener = serve::bind(config.listen, true).await?;
    let banner = Box::new(move |addr: SocketAddr| {
        println!();
        println!("  Lineup demo is running: SQLite, a simulated 3CX with live calls, the ingestion workers.");
        println!("  API:       http://{addr}/api/v1/queues");
        println!("  OpenAPI:   http://{addr}/api/v1/openapi.json");
        println!("  Health:    http://{addr}/readyz   Metrics: http://{addr}/metrics");
        println!("  3CX (sim): {sim_url}/xapi/v1   (ground truth: {sim_url}/sim/truth)");
        println!("  Login:     admin / {password}   (tenant demo; POST /api/v1/auth/login)");
        println!("             supervisor, analyst, agent, kiosk and display share that password.");
        println!("  Stop with Ctrl-C.");
        println!();
    });
    let served = serve::serve_state(state, listener, Some(banner)).await;
    workers.shutdown().await;
    let _ = sim.stop().await;
    served
}

/// The demo's 3CX: the simulator's built-in call centre in real time from now, on a free
/// loopback port.
async fn start_simulator() -> anyhow::Result<(RunningSim, SimConfig)> {
    let now = Utc::now();
    let start = now.with_nanosecond(0).unwrap_or(now);
    let config = SimServerConfig {
        listen: SocketAddr::from(([127, 0, 0, 1], 0)),
        start,
        time: TimeMode::Scaled { factor: 1.0 },
        ..SimServerConfig::default()
    };
    let scenario = config.scenario.clone();
    let sim = lineup_pbx_sim::server::start(config).await.context("starting the 3CX simulator")?;
    Ok((sim, scenario))
}

/// Connects the demo tenant to this run's simulator: earlier runs' connections (to simulators
/// gone with their runs) are removed, the call queues are reused by name.
async fn connect_simulator(
    store: &DynStore,
    secrets: &SecretBox,
    tenant: Uuid,
    sim: &RunningSim,
    scenario: &SimConfig,
) -> anyhow::Result<()> {
    let actor = lineup_domain::Actor::system("demo");
    let page = PageRequest { limit: 100, ..PageRequest::first(SortKey::CreatedAt, SortOrder::Asc) };
    for old in store.list_pbx_connections(tenant, &page).await?.items {
        store.delete_pbx_connection(&actor, tenant, old.id).await?;
    }
    let queues: Vec<QueueSpec> = scenario
        .queues
        .iter()
        .enumerate()
        .map(|(i, q)| QueueSpec { dn: q.dn.clone(), name: q.name.clone(), prefix: prefix_of(&q.name, i) })
        .collect();
    let pbx = PbxSpec {
        name: "Simulated 3CX".into(),
        base_url: sim.base_url(),
        client_id: SimServerConfig::DEFAULT_CLIENT_ID.into(),
        client_secret: SimServerConfig::DEFAULT_CLIENT_SECRET.into(),
        poll_interval_ms: 1000,
    };
    connect_pbx(store, secrets, tenant, &pbx, &queues).await?;
    Ok(())
}

/// A queue number prefix from a queue's name: its first letter and position (`S1`, `B2`).
fn prefix_of(name: &str, index: usize) -> String {
    let letter = name.chars().find(|c| c.is_ascii_alphabetic()).unwrap_or('Q').to_ascii_uppercase();
    format!("{letter}{}", index + 1)
}

/// Without configured `secret_keys`, gives the demo a key made for this run, so PBX connections
/// can be created (the demo's data is throwaway: a later run cannot open the secrets this one
/// stored). Everything that reads the config afterwards seals and opens with the same key.
fn give_a_secret_key(config: &mut Config) -> anyhow::Result<()> {
    if config.secret_box()?.is_none() {
        tracing::info!("no secret_keys configured: PBX credentials are sealed with a key made for this demo run");
        config.secret_keys = vec![SecretKey::generate("demo")];
    }
    Ok(())
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

/// Creates the demo's walk-in template and queue once, and makes sure it has an active session
/// (the call queues come from the simulator, see [`connect_simulator`]).
pub async fn seed(store: &DynStore, tenant: Uuid) -> StoreResult<Vec<Queue>> {
    let existing = store.list_queues(tenant, &PageRequest::first(SortKey::CreatedAt, SortOrder::Asc)).await?;
    let front_desk = existing.items.into_iter().find(|q| q.name == FRONT_DESK);
    let queue = match front_desk {
        Some(q) => q,
        None => {
            let walk_in = store.create_template(tenant, walk_in_template()).await?;
            let new = NewQueue { name: FRONT_DESK.into(), template_id: walk_in.id, prefix: Some("A".into()) };
            store.create_queue(tenant, new).await?
        }
    };
    current_session(store, tenant, &queue).await?;
    Ok(vec![queue])
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
