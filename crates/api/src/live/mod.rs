//! The live channels over HTTP: `GET /live/queues/{id}`, `/live/overview` and
//! `/live/agents/{dn}` as server-sent events, and `GET /live/ws`, one WebSocket on which a client
//! subscribes to and unsubscribes from the same channels (protocol in `docs/API.md`).
//!
//! The state behind them is the `lineup-live` hub of this process, fed from the outbox by
//! [`feed`]; both start with the first subscription. A subscriber gets a snapshot, then the
//! channel's deltas (JSON merge patches) with consecutive sequence numbers; one that resumes with
//! a sequence the hub no longer holds, or falls behind, gets a fresh snapshot instead, never a
//! gap. Subscriptions are counted per user (or API key) and limited.

pub mod feed;
mod limits;
pub mod sse;
pub mod ws;

use std::sync::Arc;
use std::time::Duration;

use axum::routing::get;
use axum::Router;
use lineup_domain::{Principal, TenantId};
use lineup_live::{ChannelId, Hub, LiveConfig};
use serde::Serialize;
use tokio::sync::{watch, OnceCell};
use utoipa::ToSchema;

use crate::error::{ApiError, ApiResult};
use crate::AppState;
pub use limits::SubscriptionGuard;
use limits::Subscriptions;

/// Settings of the live channels.
#[derive(Debug, Clone, PartialEq)]
pub struct LiveSettings {
    /// The hub's coalescing, history and buffers.
    pub hub: LiveConfig,
    /// Subscriptions one user (or API key) may hold at once, over every stream and socket.
    pub max_subscriptions_per_user: usize,
    /// Longest time between two reads of the outbox when nothing announces a change.
    pub poll_every: Duration,
    /// How often agent presence and the queue list are read from storage.
    pub directory_every: Duration,
    /// How long a WebSocket may take to accept one message before it is cut loose.
    pub send_timeout: Duration,
}

impl Default for LiveSettings {
    fn default() -> Self {
        LiveSettings {
            hub: LiveConfig::default(),
            max_subscriptions_per_user: 64,
            poll_every: Duration::from_secs(1),
            directory_every: Duration::from_secs(2),
            send_timeout: Duration::from_secs(10),
        }
    }
}

/// The hub, its feed and the subscription counts of this process.
pub struct Live {
    hub: Hub,
    started: OnceCell<feed::Feed>,
    subscriptions: Subscriptions,
    /// Dropped with the last handle: stops the hub loop and the feed.
    stop: watch::Sender<bool>,
}

impl Live {
    /// A hub not started yet.
    pub fn new(settings: &LiveSettings) -> Live {
        Live {
            hub: Hub::new(settings.hub),
            started: OnceCell::new(),
            subscriptions: Subscriptions::new(settings.max_subscriptions_per_user),
            stop: watch::channel(false).0,
        }
    }

    /// The hub.
    pub fn hub(&self) -> &Hub {
        &self.hub
    }

    /// Starts the hub and its feed once, then makes sure `tenant`'s state is built.
    async fn ready(&self, state: &AppState, tenant: TenantId) -> ApiResult<()> {
        let feed = self
            .started
            .get_or_init(|| async {
                tokio::spawn(self.hub.clone().run(self.stop.subscribe()));
                let settings = &state.config.live;
                let config =
                    feed::FeedConfig { poll_every: settings.poll_every, directory_every: settings.directory_every };
                feed::spawn(
                    state.store.clone(),
                    self.hub.clone(),
                    state.events.subscribe(),
                    config,
                    self.stop.subscribe(),
                )
            })
            .await;
        feed.ensure_tenant(tenant).await.map_err(ApiError::NotReady)
    }

    /// Counts one more subscription of the principal; `Err` over the limit.
    fn admit(&self, principal: &Principal) -> ApiResult<SubscriptionGuard> {
        self.subscriptions.admit(principal)
    }
}

/// Announces this process's outbox commits to the other nodes ([`lineup_store::Store::announce_outbox`]):
/// whenever `commits` (the process's change notifier, which API writes and the inbox processor
/// bump) changes, one announcement, so a burst of commits costs one. Runs until the notifier's
/// sender is gone. Every process that writes runs one.
pub fn spawn_announcer(store: lineup_store::DynStore, mut commits: watch::Receiver<u64>) {
    tokio::spawn(async move {
        while commits.changed().await.is_ok() {
            commits.borrow_and_update();
            if let Err(e) = store.announce_outbox().await {
                tracing::warn!(error = %e, "announcing outbox commits failed; other nodes see them at their next poll");
            }
        }
    });
}

/// Checks the principal may watch `channel` of its tenant: a queue channel needs the queue to
/// exist in the tenant (else `404`).
async fn authorize(state: &AppState, tenant: TenantId, channel: &ChannelId) -> ApiResult<()> {
    match channel {
        ChannelId::Queue(id) => state.store.get_queue(tenant, *id).await.map(drop).map_err(ApiError::from),
        ChannelId::Overview | ChannelId::Agent(_) => Ok(()),
    }
}

/// The live routes.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/live/queues/{id}", get(sse::queue_channel))
        .route("/live/overview", get(sse::overview_channel))
        .route("/live/agents/{dn}", get(sse::agent_channel))
        .route("/live/ws", get(ws::socket))
}

/// The wire form of one channel message (SSE `data:`, WebSocket text), for the OpenAPI document
/// and the dashboard's types; the hub serialises frames itself (`lineup_live::Frame`).
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct LiveFrame {
    /// `snapshot` (a whole document in `data`) or `delta` (a merge patch in `patch`).
    #[serde(rename = "type")]
    pub kind: LiveFrameKind,
    /// `queue:<id>`, `overview` or `agent:<dn>`.
    pub channel: String,
    /// The channel's sequence: of this delta, or of the last delta a snapshot includes.
    pub seq: u64,
    /// The document (`QueueDocument`, `OverviewDocument` or `AgentDocument`), in snapshots.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub data: Option<serde_json::Value>,
    /// The JSON Merge Patch to the previous document, in deltas.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub patch: Option<serde_json::Value>,
    /// When the oldest change folded into a delta was committed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub changed_at: Option<chrono::DateTime<chrono::Utc>>,
}

/// Whether a frame carries a whole document or a patch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub enum LiveFrameKind {
    Snapshot,
    Delta,
}

/// Shared handle in [`AppState`].
pub type SharedLive = Arc<Live>;
