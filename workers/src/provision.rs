//! Connecting a 3CX in one step: the "call" template, one Lineup queue per 3CX queue, the PBX
//! connection (its secret sealed) and the queue mappings. `lineup demo` uses it against the
//! simulator, and so do the end-to-end tests; operators do the same through the admin API.

use anyhow::Context;
use lineup_domain::call::call_template;
use lineup_domain::pbx::client_secret_context;
use lineup_domain::{
    Actor, ClientSecret, NewPbxConnection, NewQueue, PbxConnection, PbxQueueMappings, Queue, QueueMapping, TenantId,
};
use lineup_security::SecretBox;
use lineup_store::{DynStore, PageRequest, SortKey, SortOrder};
use uuid::Uuid;

/// One 3CX queue to mirror: its DN, the Lineup queue's name and number prefix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueSpec {
    pub dn: String,
    pub name: String,
    pub prefix: String,
}

/// A 3CX to connect.
#[derive(Debug, Clone)]
pub struct PbxSpec {
    pub name: String,
    pub base_url: String,
    pub client_id: String,
    pub client_secret: String,
    pub poll_interval_ms: u32,
}

/// What [`connect_pbx`] created.
#[derive(Debug, Clone)]
pub struct Provisioned {
    pub connection: PbxConnection,
    /// The Lineup queues, in the order of the specs.
    pub queues: Vec<Queue>,
}

/// The name of the template [`connect_pbx`] creates.
pub const CALL_TEMPLATE_NAME: &str = "Call";

/// Every item of a paged list.
async fn all<T, F, Fut>(mut fetch: F) -> anyhow::Result<Vec<T>>
where
    F: FnMut(PageRequest) -> Fut,
    Fut: std::future::Future<Output = lineup_store::StoreResult<lineup_store::Page<T>>>,
{
    let mut page = PageRequest::first(SortKey::CreatedAt, SortOrder::Asc);
    let mut out = Vec::new();
    loop {
        let got = fetch(page).await?;
        out.extend(got.items);
        match got.next_cursor {
            Some(cursor) => page = PageRequest::new(None, SortKey::CreatedAt, SortOrder::Asc, Some(&cursor))?,
            None => return Ok(out),
        }
    }
}

/// Creates (or reuses, by name) the "call" template and a queue per spec, then the connection
/// and its mappings in `tenant`.
pub async fn connect_pbx(
    store: &DynStore,
    secrets: &SecretBox,
    tenant: TenantId,
    pbx: &PbxSpec,
    queues: &[QueueSpec],
) -> anyhow::Result<Provisioned> {
    let actor = Actor::system("provision");
    let templates = all(|p| async move { store.list_templates(tenant, &p).await }).await?;
    let template = match templates.into_iter().find(|t| t.name == CALL_TEMPLATE_NAME) {
        Some(t) => t,
        None => store
            .create_template(tenant, call_template(CALL_TEMPLATE_NAME))
            .await
            .context("creating the call template")?,
    };
    let existing = all(|p| async move { store.list_queues(tenant, &p).await }).await?;
    let mut created = Vec::new();
    for q in queues {
        let reuse = existing.iter().find(|e| e.name == q.name && e.template_id == template.id && e.is_active);
        let queue = match reuse {
            Some(queue) => queue.clone(),
            None => {
                let new = NewQueue { name: q.name.clone(), template_id: template.id, prefix: Some(q.prefix.clone()) };
                store.create_queue(tenant, new).await.with_context(|| format!("creating queue {}", q.name))?
            }
        };
        created.push(queue);
    }
    let id = Uuid::now_v7();
    let new = NewPbxConnection {
        name: pbx.name.clone(),
        base_url: pbx.base_url.clone(),
        client_id: pbx.client_id.clone(),
        client_secret: ClientSecret::new(pbx.client_secret.clone()),
        poll_interval_ms: Some(pbx.poll_interval_ms),
        is_enabled: Some(true),
    };
    let spec = new
        .validate::<anyhow::Error>(id, |secret| Ok(secrets.seal(secret, &client_secret_context(id))))
        .context("the PBX connection")?;
    store.create_pbx_connection(&actor, tenant, spec).await.context("creating the PBX connection")?;
    let queue_mappings =
        queues.iter().zip(&created).map(|(q, queue)| QueueMapping { dn: q.dn.clone(), queue_id: queue.id }).collect();
    let mappings = PbxQueueMappings { queue_mappings }.validate().context("the queue mappings")?;
    let connection =
        store.set_pbx_queue_mappings(&actor, tenant, id, mappings).await.context("mapping the 3CX queues")?;
    Ok(Provisioned { connection, queues: created })
}
