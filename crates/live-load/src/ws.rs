//! One WebSocket subscriber: connects to the hub's socket, subscribes to its channels and counts
//! every frame. Buffers are kept small (4 KiB read, unbuffered writes) so thousands fit.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use chrono::Utc;
use futures::{SinkExt, StreamExt};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::WebSocketStream;

use crate::frame::SeqTracker;
use crate::http::Endpoint;
use crate::tally::Tally;

/// What one WebSocket subscriber connects to.
#[derive(Debug, Clone)]
pub struct WsSubscription {
    pub endpoint: Arc<Endpoint>,
    /// The socket's path, prefix included, e.g. `/api/v1/live/ws`.
    pub path: String,
    pub token: Option<Arc<str>>,
    /// The channels subscribed to on this one connection.
    pub channels: Vec<String>,
}

/// The subscribe request for a channel.
pub fn subscribe_request(channel: &str) -> String {
    serde_json::json!({ "type": "subscribe", "channel": channel }).to_string()
}

/// Connects and subscribes (within `connect_timeout`, else it counts as failed), then counts
/// every frame until the server closes the socket (a disconnect) or the task is aborted.
pub async fn run_ws_subscriber(subscription: WsSubscription, tally: Arc<Tally>, connect_timeout: Duration) {
    let opened = tokio::time::timeout(connect_timeout, open(&subscription)).await;
    let mut socket = match opened {
        Ok(Ok(socket)) => socket,
        Ok(Err(error)) => {
            tally.failed.fetch_add(1, Ordering::Relaxed);
            tally.note_error(format!("WS {}: {error:#}", subscription.path));
            return;
        }
        Err(_) => {
            tally.failed.fetch_add(1, Ordering::Relaxed);
            tally.note_error(format!("WS {}: not open within {connect_timeout:?}", subscription.path));
            return;
        }
    };
    tally.opened.fetch_add(1, Ordering::Relaxed);
    let mut trackers: Vec<_> =
        subscription.channels.iter().map(|channel| (channel.clone(), SeqTracker::default())).collect();
    let ended = loop {
        match socket.next().await {
            Some(Ok(Message::Text(text))) => tally.on_message(text.as_str(), &mut trackers, Utc::now()),
            Some(Ok(Message::Binary(_))) => {
                tally.bad_frames.fetch_add(1, Ordering::Relaxed);
                tally.note_error("WS: a binary message");
            }
            Some(Ok(Message::Close(frame))) => break format!("closed by the server ({frame:?})"),
            Some(Ok(_)) => {}
            Some(Err(error)) => break error.to_string(),
            None => break "the connection ended".to_string(),
        }
    };
    tally.disconnects.fetch_add(1, Ordering::Relaxed);
    tally.note_error(format!("WS {}: {ended}", subscription.path));
}

/// Connects, upgrades and sends one subscribe request per channel.
async fn open(subscription: &WsSubscription) -> anyhow::Result<WebSocketStream<TcpStream>> {
    let endpoint = &subscription.endpoint;
    let mut request = format!("ws://{}{}", endpoint.authority, subscription.path).into_client_request()?;
    if let Some(token) = &subscription.token {
        request.headers_mut().insert("authorization", HeaderValue::from_str(&format!("Bearer {token}"))?);
    }
    let stream = TcpStream::connect(endpoint.addr).await.with_context(|| format!("connect {}", endpoint.addr))?;
    stream.set_nodelay(true)?;
    let config = WebSocketConfig::default().read_buffer_size(4096).write_buffer_size(0);
    let (mut socket, _) = tokio_tungstenite::client_async_with_config(request, stream, Some(config)).await.map_err(
        |error| match error {
            tokio_tungstenite::tungstenite::Error::Http(response) => {
                let body = response.body().as_deref().map(String::from_utf8_lossy).unwrap_or_default();
                anyhow::anyhow!("HTTP {}: {}", response.status().as_u16(), body.trim())
            }
            other => anyhow::Error::new(other).context("WebSocket handshake"),
        },
    )?;
    for channel in &subscription.channels {
        socket.send(Message::text(subscribe_request(channel))).await.context("sending a subscribe request")?;
    }
    Ok(socket)
}
