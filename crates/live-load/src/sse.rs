//! One SSE subscriber on a raw TCP connection: a hand-written GET, the response head, chunked
//! decoding and an SSE line parser, so ten thousand of them fit in one process.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context};
use chrono::Utc;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::frame::SeqTracker;
use crate::http::{read_response_head, BodyFraming, ChunkedDecoder, Endpoint};
use crate::tally::Tally;

/// Bytes read from the socket at a time.
const READ_SIZE: usize = 4096;
/// A line or data buffer grown past this is shrunk back after use.
const KEEP_CAPACITY: usize = 64 * 1024;

/// Incremental parser of a `text/event-stream` body: hands over the `data` of every complete
/// event (lines joined by `\n`), ignoring comments, `event`, `id` and `retry`. Lines end with LF
/// or CRLF; any split of the input gives the same events.
#[derive(Debug, Default)]
pub struct SseParser {
    line: Vec<u8>,
    data: Vec<u8>,
    has_data: bool,
}

impl SseParser {
    /// Parses `bytes`, calling `on_data` with each complete event's data.
    pub fn feed(&mut self, mut bytes: &[u8], on_data: &mut impl FnMut(&str)) {
        while let Some(end) = bytes.iter().position(|&b| b == b'\n') {
            if self.line.is_empty() {
                self.on_line(&bytes[..end], on_data);
            } else {
                let mut line = std::mem::take(&mut self.line);
                line.extend_from_slice(&bytes[..end]);
                self.on_line(&line, on_data);
                line.clear();
                if line.capacity() > KEEP_CAPACITY {
                    line.shrink_to(READ_SIZE);
                }
                self.line = line;
            }
            bytes = &bytes[end + 1..];
        }
        self.line.extend_from_slice(bytes);
    }

    fn on_line(&mut self, line: &[u8], on_data: &mut impl FnMut(&str)) {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.is_empty() {
            if self.has_data {
                on_data(&String::from_utf8_lossy(&self.data));
                self.data.clear();
                if self.data.capacity() > KEEP_CAPACITY {
                    self.data.shrink_to(READ_SIZE);
                }
                self.has_data = false;
            }
            return;
        }
        if line[0] == b':' {
            return;
        }
        let (field, value) = match line.iter().position(|&b| b == b':') {
            Some(colon) => {
                let value = &line[colon + 1..];
                (&line[..colon], value.strip_prefix(b" ").unwrap_or(value))
            }
            None => (line, &b""[..]),
        };
        if field == b"data" {
            if self.has_data {
                self.data.push(b'\n');
            }
            self.data.extend_from_slice(value);
            self.has_data = true;
        }
    }
}

/// What one SSE subscriber connects to.
#[derive(Debug, Clone)]
pub struct SseSubscription {
    pub endpoint: Arc<Endpoint>,
    /// The request path, prefix included, e.g. `/api/v1/live/overview`.
    pub path: String,
    /// Sent as `Authorization: Bearer` when set.
    pub token: Option<Arc<str>>,
    /// The channel the stream carries, for the seq check.
    pub channel: String,
}

/// Opens the stream (within `connect_timeout`, else it counts as failed), then counts every
/// frame until the server ends the stream (a disconnect) or the task is aborted.
pub async fn run_sse_subscriber(subscription: SseSubscription, tally: Arc<Tally>, connect_timeout: Duration) {
    let mut buf = Vec::with_capacity(READ_SIZE);
    let opened = tokio::time::timeout(connect_timeout, open(&subscription, &mut buf)).await;
    let (mut stream, framing) = match opened {
        Ok(Ok(opened)) => opened,
        Ok(Err(error)) => {
            tally.failed.fetch_add(1, Ordering::Relaxed);
            tally.note_error(format!("SSE {}: {error:#}", subscription.path));
            return;
        }
        Err(_) => {
            tally.failed.fetch_add(1, Ordering::Relaxed);
            tally.note_error(format!("SSE {}: not open within {connect_timeout:?}", subscription.path));
            return;
        }
    };
    tally.opened.fetch_add(1, Ordering::Relaxed);
    let ended = read_events(&mut stream, framing, buf, &subscription.channel, &tally).await;
    tally.disconnects.fetch_add(1, Ordering::Relaxed);
    match ended {
        Ok(()) => tally.note_error(format!("SSE {}: the server ended the stream", subscription.path)),
        Err(error) => tally.note_error(format!("SSE {}: {error:#}", subscription.path)),
    }
}

/// Connects, sends the GET and reads a 200 response head; `buf` keeps the body bytes read so far.
async fn open(subscription: &SseSubscription, buf: &mut Vec<u8>) -> anyhow::Result<(TcpStream, BodyFraming)> {
    let endpoint = &subscription.endpoint;
    let mut stream = TcpStream::connect(endpoint.addr).await.with_context(|| format!("connect {}", endpoint.addr))?;
    stream.set_nodelay(true)?;
    let authorization = match &subscription.token {
        Some(token) => format!("Authorization: Bearer {token}\r\n"),
        None => String::new(),
    };
    let request = format!(
        "GET {} HTTP/1.1\r\nHost: {}\r\nAccept: text/event-stream\r\nCache-Control: no-cache\r\n{authorization}\r\n",
        subscription.path, endpoint.authority
    );
    stream.write_all(request.as_bytes()).await.context("sending the request")?;
    let head = read_response_head(&mut stream, buf).await?;
    if head.status != 200 {
        let body = String::from_utf8_lossy(&buf[..buf.len().min(300)]).into_owned();
        bail!("HTTP {}: {}", head.status, body.trim());
    }
    Ok((stream, head.framing))
}

/// Reads the body until it ends; `Ok` when the server closed it cleanly.
async fn read_events(
    stream: &mut TcpStream,
    framing: BodyFraming,
    first: Vec<u8>,
    channel: &str,
    tally: &Tally,
) -> anyhow::Result<()> {
    let mut trackers = [(channel.to_string(), SeqTracker::default())];
    let mut parser = SseParser::default();
    let mut chunked = (framing == BodyFraming::Chunked).then(ChunkedDecoder::default);
    let mut buf = first;
    let mut received = buf.len();
    loop {
        let now = Utc::now();
        let mut on_data = |data: &str| tally.on_message(data, &mut trackers, now);
        match &mut chunked {
            Some(decoder) => {
                decoder
                    .feed(&buf[..received], &mut |payload| parser.feed(payload, &mut on_data))
                    .map_err(anyhow::Error::msg)?;
                if decoder.is_done() {
                    return Ok(());
                }
            }
            None => parser.feed(&buf[..received], &mut on_data),
        }
        buf.resize(READ_SIZE, 0);
        received = stream.read(&mut buf).await.context("reading the stream")?;
        if received == 0 {
            return Ok(());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn events_of(stream: &[u8], split: usize) -> Vec<String> {
        let mut parser = SseParser::default();
        let mut events = Vec::new();
        for piece in stream.chunks(split) {
            parser.feed(piece, &mut |data| events.push(data.to_string()));
        }
        events
    }

    #[test]
    fn events_are_the_same_whatever_the_split() {
        let stream = b": keep-alive\n\nevent: snapshot\nid: 12\ndata: {\"seq\":12}\n\r\nevent: delta\r\ndata:a\r\ndata: b\r\n\r\n\nid: 3\n\ndata\n\ndata: partial";
        let expected = vec!["{\"seq\":12}".to_string(), "a\nb".to_string(), String::new()];
        for split in 1..stream.len() {
            assert_eq!(events_of(stream, split), expected, "split {split}");
        }
    }
}
