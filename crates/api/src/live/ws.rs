//! The live channels over one WebSocket (`GET /live/ws`). The client sends JSON text messages
//! `{"type":"subscribe","channel":"queue:<id>","since":12}`, `{"type":"unsubscribe",
//! "channel":…}` and `{"type":"ping"}`; the server answers `subscribed`, `unsubscribed`, `pong`
//! and `error` messages (`error` carries a problem document) and sends every subscribed
//! channel's frames, exactly as the SSE streams carry them.
//!
//! Each subscription forwards its frames into the socket's bounded outgoing queue; a socket
//! that does not take a message within `LiveSettings::send_timeout` is closed (its
//! subscriptions end), so a slow consumer never holds anyone else up: while its queue is full,
//! its subscriptions fall behind the hub and resynchronise with a snapshot.

use std::collections::HashMap;

use axum::extract::ws::{CloseFrame, Message, Utf8Bytes, WebSocket, WebSocketUpgrade};
use axum::extract::State;
use axum::response::Response;
use futures::{SinkExt, StreamExt};
use lineup_domain::{Principal, TenantId};
use lineup_live::ChannelId;
use serde::{Deserialize, Serialize};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use utoipa::ToSchema;

use super::authorize;
use crate::auth::{need, Authorized, HeaderOrTicket};
use crate::error::{ApiError, Problem, ProblemResponse};
use crate::AppState;

/// Messages queued for one socket before its subscriptions wait (and then fall behind).
const OUTGOING: usize = 64;
/// The socket's read buffer: clients send only small control messages. (tungstenite's default,
/// 128 KiB, times thousands of idle wallboards is most of a server's memory.)
const READ_BUFFER: usize = 4 * 1024;
/// Bytes written before a flush is forced: 0 sends every message at once (frames are small and
/// coalesced already), so no buffer builds up per socket.
const WRITE_BUFFER: usize = 0;
/// The most a message to a client may occupy in the write buffer (a snapshot of a large
/// overview fits).
const MAX_WRITE_BUFFER: usize = 4 * 1024 * 1024;
/// The largest message a client may send.
const MAX_MESSAGE: usize = 64 * 1024;

/// What a client sends on the live WebSocket.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, ToSchema)]
#[serde(tag = "type", rename_all = "camelCase", deny_unknown_fields)]
pub enum LiveClientMessage {
    /// Start (or restart) following a channel, resuming after `since` when given.
    Subscribe { channel: String, since: Option<u64> },
    /// Stop following a channel.
    Unsubscribe { channel: String },
    /// Asks for a `pong`.
    Ping,
}

/// What the server sends on the live WebSocket besides the channels' frames (`LiveFrame`).
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
#[serde(tag = "type", rename_all = "camelCase")]
pub enum LiveNotice {
    /// The subscription is made; the channel's first frame follows.
    Subscribed { channel: String },
    /// The subscription is gone.
    Unsubscribed { channel: String },
    /// The answer to a `ping`.
    Pong,
    /// A message was refused: why, as a problem document.
    Error {
        #[serde(skip_serializing_if = "Option::is_none")]
        channel: Option<String>,
        problem: Box<Problem>,
    },
}

impl LiveNotice {
    fn error(channel: Option<String>, e: &ApiError) -> LiveNotice {
        LiveNotice::Error { channel, problem: Box::new(e.problem()) }
    }

    fn message(&self) -> Message {
        Message::Text(serde_json::to_string(self).expect("a notice serialises").into())
    }
}

/// One WebSocket carrying any number of live channels.
#[utoipa::path(
    get, path = "/api/v1/live/ws", tag = "live",
    security(("bearer" = []), ("streamTicket" = [])),
    responses(
        (status = 101, description = "Switches to the WebSocket protocol of `docs/API.md`"),
        (status = 400, response = ProblemResponse),
        (status = 401, response = ProblemResponse),
    )
)]
pub async fn socket(
    State(state): State<AppState>,
    auth: Authorized<need::LiveRead, HeaderOrTicket>,
    upgrade: WebSocketUpgrade,
) -> Response {
    let principal = auth.principal;
    upgrade
        .read_buffer_size(READ_BUFFER)
        .write_buffer_size(WRITE_BUFFER)
        .max_write_buffer_size(MAX_WRITE_BUFFER)
        .max_message_size(MAX_MESSAGE)
        .max_frame_size(MAX_MESSAGE)
        .on_upgrade(move |socket| serve(state, principal, socket))
}

async fn serve(state: AppState, principal: Principal, socket: WebSocket) {
    let (mut sink, mut incoming) = socket.split();
    let (out, mut queue) = mpsc::channel::<Message>(OUTGOING);
    let send_timeout = state.config.live.send_timeout;
    let mut writer = tokio::spawn(async move {
        while let Some(message) = queue.recv().await {
            let closing = matches!(message, Message::Close(_));
            match tokio::time::timeout(send_timeout, sink.send(message)).await {
                Ok(Ok(())) if !closing => {}
                _ => break,
            }
        }
        let _ = sink.close().await;
    });
    let mut subscriptions: HashMap<String, JoinHandle<()>> = HashMap::new();
    loop {
        tokio::select! {
            message = incoming.next() => match message {
                Some(Ok(Message::Text(text))) => {
                    let reply = handle(&state, &principal, &text, &out, &mut subscriptions).await;
                    if let Some(reply) = reply {
                        if out.send(reply.message()).await.is_err() {
                            break;
                        }
                    }
                }
                Some(Ok(Message::Binary(_))) => {
                    let reply = LiveNotice::error(None, &ApiError::InvalidBody("messages are JSON text".into()));
                    if out.send(reply.message()).await.is_err() {
                        break;
                    }
                }
                Some(Ok(Message::Close(_))) | None | Some(Err(_)) => break,
                Some(Ok(_)) => {}
            },
            _ = &mut writer => break,
        }
    }
    for (_, task) in subscriptions.drain() {
        task.abort();
    }
    let close = CloseFrame { code: axum::extract::ws::close_code::NORMAL, reason: Utf8Bytes::from_static("bye") };
    let _ = out.send(Message::Close(Some(close))).await;
    drop(out);
    let _ = writer.await;
}

/// Handles one client message; the reply to send, if any.
async fn handle(
    state: &AppState,
    principal: &Principal,
    text: &str,
    out: &mpsc::Sender<Message>,
    subscriptions: &mut HashMap<String, JoinHandle<()>>,
) -> Option<LiveNotice> {
    let message = match serde_json::from_str::<LiveClientMessage>(text) {
        Ok(message) => message,
        Err(e) => return Some(LiveNotice::error(None, &ApiError::InvalidBody(format!("not a live message: {e}")))),
    };
    match message {
        LiveClientMessage::Ping => Some(LiveNotice::Pong),
        LiveClientMessage::Unsubscribe { channel } => {
            if let Some(task) = subscriptions.remove(&channel) {
                task.abort();
            }
            Some(LiveNotice::Unsubscribed { channel })
        }
        LiveClientMessage::Subscribe { channel, since } => {
            let tenant = principal.tenant_id;
            match subscribe(state, principal, tenant, &channel, since, out.clone()).await {
                Ok(task) => {
                    if let Some(previous) = subscriptions.insert(channel.clone(), task) {
                        previous.abort();
                    }
                    None
                }
                Err(e) => Some(LiveNotice::error(Some(channel), &e)),
            }
        }
    }
}

/// Starts forwarding a channel's frames into the socket's queue; the `subscribed` message goes
/// first, so it precedes the channel's snapshot.
async fn subscribe(
    state: &AppState,
    principal: &Principal,
    tenant: TenantId,
    channel: &str,
    since: Option<u64>,
    out: mpsc::Sender<Message>,
) -> Result<JoinHandle<()>, ApiError> {
    let id: ChannelId = channel.parse().map_err(|e| ApiError::InvalidBody(format!("{e}")))?;
    authorize(state, tenant, &id).await?;
    let live = state.live.clone();
    let guard = live.admit(principal)?;
    live.ready(state, tenant).await?;
    let mut subscription = live.hub().subscribe(tenant, &id, since);
    let subscribed = LiveNotice::Subscribed { channel: channel.to_string() }.message();
    Ok(tokio::spawn(async move {
        let _guard = guard;
        if out.send(subscribed).await.is_err() {
            return;
        }
        while let Some(frame) = subscription.next(live.hub()).await {
            let Ok(text) = Utf8Bytes::try_from(frame.json.clone()) else { continue };
            if out.send(Message::Text(text)).await.is_err() {
                return;
            }
        }
    }))
}
