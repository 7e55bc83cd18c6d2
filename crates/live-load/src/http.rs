//! The least HTTP/1.1 a streaming subscriber needs: where the server is, a response head, and
//! chunked transfer decoding. Plain `http://` only: the tool measures servers on this machine.

use std::net::SocketAddr;

use anyhow::{bail, Context};
use tokio::io::AsyncReadExt;
use tokio::net::TcpStream;

/// A response head longer than this is refused.
const MAX_HEAD: usize = 64 * 1024;

/// A server to connect to: its resolved address, its `host[:port]`, and the path prefix of its
/// base URL (empty or starting with `/`, never ending with one).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    pub addr: SocketAddr,
    pub authority: String,
    pub prefix: String,
}

impl Endpoint {
    /// Parses and resolves a base URL such as `http://127.0.0.1:8080` (the first address wins).
    pub async fn resolve(base: &str) -> anyhow::Result<Self> {
        let (authority, prefix) = split_base_url(base)?;
        let with_port = if authority.contains(':') { authority.clone() } else { format!("{authority}:80") };
        let addr = tokio::net::lookup_host(&with_port)
            .await
            .with_context(|| format!("cannot resolve {authority}"))?
            .next()
            .with_context(|| format!("{authority} resolves to no address"))?;
        Ok(Self { addr, authority, prefix })
    }

    /// The full URL of `path` (which starts with `/`) with the given scheme.
    pub fn url(&self, scheme: &str, path: &str) -> String {
        format!("{scheme}://{}{}{path}", self.authority, self.prefix)
    }
}

/// Splits `http://host[:port][/prefix]` into its authority and prefix.
fn split_base_url(base: &str) -> anyhow::Result<(String, String)> {
    let Some(rest) = base.strip_prefix("http://") else {
        bail!("{base:?}: only http:// URLs are supported (the tool measures a server on this machine)");
    };
    let (authority, prefix) = rest.split_once('/').map_or((rest, ""), |(a, p)| (a, p));
    if authority.is_empty() {
        bail!("{base:?} names no host");
    }
    let prefix = prefix.trim_end_matches('/');
    let prefix = if prefix.is_empty() { String::new() } else { format!("/{prefix}") };
    Ok((authority.to_string(), prefix))
}

/// Percent-encodes a path segment (everything but RFC 3986's unreserved characters).
pub fn encode_segment(segment: &str) -> String {
    let mut encoded = String::with_capacity(segment.len());
    for byte in segment.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~".contains(&byte) {
            encoded.push(byte as char);
        } else {
            encoded.push_str(&format!("%{byte:02X}"));
        }
    }
    encoded
}

/// How a response's body ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyFraming {
    Chunked,
    Length(u64),
    UntilClose,
}

/// The status and body framing of a response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ResponseHead {
    pub status: u16,
    pub framing: BodyFraming,
}

/// Reads a response head from `stream` into `buf`; on success `buf` holds only the body bytes
/// that arrived with the head.
pub async fn read_response_head(stream: &mut TcpStream, buf: &mut Vec<u8>) -> anyhow::Result<ResponseHead> {
    buf.clear();
    let mut chunk = [0u8; 2048];
    loop {
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = parse_response_head(&buf[..end])?;
            buf.drain(..end + 4);
            return Ok(head);
        }
        if buf.len() > MAX_HEAD {
            bail!("response head longer than {MAX_HEAD} bytes");
        }
        let n = stream.read(&mut chunk).await.context("reading the response head")?;
        if n == 0 {
            bail!("connection closed before a response head");
        }
        buf.extend_from_slice(&chunk[..n]);
    }
}

/// Parses a response head (without its closing blank line).
pub fn parse_response_head(head: &[u8]) -> anyhow::Result<ResponseHead> {
    let head = std::str::from_utf8(head).context("response head is not UTF-8")?;
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap_or_default();
    let mut parts = status_line.splitn(3, ' ');
    let (Some(version), Some(status)) = (parts.next(), parts.next()) else {
        bail!("bad status line {status_line:?}");
    };
    if !version.starts_with("HTTP/1.") {
        bail!("bad status line {status_line:?}");
    }
    let status = status.parse().with_context(|| format!("bad status line {status_line:?}"))?;
    let mut framing = BodyFraming::UntilClose;
    for line in lines {
        let Some((name, value)) = line.split_once(':') else { continue };
        let value = value.trim();
        if name.eq_ignore_ascii_case("transfer-encoding") && value.to_ascii_lowercase().contains("chunked") {
            framing = BodyFraming::Chunked;
        } else if name.eq_ignore_ascii_case("content-length") && framing != BodyFraming::Chunked {
            framing = BodyFraming::Length(value.parse().with_context(|| format!("bad content-length {value:?}"))?);
        }
    }
    Ok(ResponseHead { status, framing })
}

/// Where a chunked body is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ChunkState {
    /// In a chunk-size line; `in_extension` after a `;`.
    Size { value: u64, digits: usize, in_extension: bool },
    /// Inside chunk data, with this many bytes left.
    Data(u64),
    /// At the CRLF after chunk data.
    DataEnd,
    /// After the last chunk: the body is complete.
    Done,
}

/// Incremental decoder of `Transfer-Encoding: chunked`: any split of the input gives the same
/// output.
#[derive(Debug, Clone)]
pub struct ChunkedDecoder {
    state: ChunkState,
}

impl Default for ChunkedDecoder {
    fn default() -> Self {
        Self { state: ChunkState::Size { value: 0, digits: 0, in_extension: false } }
    }
}

impl ChunkedDecoder {
    /// Whether the terminating zero-size chunk was seen.
    pub fn is_done(&self) -> bool {
        self.state == ChunkState::Done
    }

    /// Decodes `input`, handing each run of payload bytes to `out`; bytes after the end of the
    /// body are ignored.
    pub fn feed(&mut self, mut input: &[u8], out: &mut impl FnMut(&[u8])) -> Result<(), String> {
        while let Some((&byte, rest)) = input.split_first() {
            match &mut self.state {
                ChunkState::Size { value, digits, in_extension } => {
                    input = rest;
                    match byte {
                        b'\n' if *digits == 0 => return Err("chunk size line without digits".into()),
                        b'\n' if *value == 0 => self.state = ChunkState::Done,
                        b'\n' => self.state = ChunkState::Data(*value),
                        b'\r' => {}
                        b';' => *in_extension = true,
                        _ if *in_extension => {}
                        _ => {
                            let digit =
                                (byte as char).to_digit(16).ok_or(format!("bad chunk size byte {byte:#04x}"))?;
                            *value = value
                                .checked_mul(16)
                                .and_then(|v| v.checked_add(u64::from(digit)))
                                .ok_or("chunk size overflows")?;
                            *digits += 1;
                        }
                    }
                }
                ChunkState::Data(remaining) => {
                    let n = input.len().min(usize::try_from(*remaining).unwrap_or(usize::MAX));
                    out(&input[..n]);
                    input = &input[n..];
                    *remaining -= n as u64;
                    if *remaining == 0 {
                        self.state = ChunkState::DataEnd;
                    }
                }
                ChunkState::DataEnd => {
                    input = rest;
                    match byte {
                        b'\r' => {}
                        b'\n' => self.state = ChunkState::default_size(),
                        _ => return Err(format!("byte {byte:#04x} where a chunk's CRLF belongs")),
                    }
                }
                ChunkState::Done => return Ok(()),
            }
        }
        Ok(())
    }
}

impl ChunkState {
    fn default_size() -> Self {
        ChunkState::Size { value: 0, digits: 0, in_extension: false }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base_urls_split_into_authority_and_prefix() {
        let cases = [
            ("http://127.0.0.1:8080", Some(("127.0.0.1:8080", ""))),
            ("http://localhost:8090/", Some(("localhost:8090", ""))),
            ("http://localhost/lineup/", Some(("localhost", "/lineup"))),
            ("https://example.test", None),
            ("http://", None),
        ];
        for (base, expected) in cases {
            let got = split_base_url(base).ok();
            assert_eq!(got.as_ref().map(|(a, p)| (a.as_str(), p.as_str())), expected, "{base}");
        }
    }

    #[test]
    fn path_segments_are_percent_encoded() {
        assert_eq!(encode_segment("1001"), "1001");
        assert_eq!(encode_segment("a b/c"), "a%20b%2Fc");
    }

    #[test]
    fn response_heads_give_status_and_framing() {
        let cases: [(&str, Option<ResponseHead>); 4] = [
            (
                "HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\nTransfer-Encoding: chunked",
                Some(ResponseHead { status: 200, framing: BodyFraming::Chunked }),
            ),
            (
                "HTTP/1.1 401 Unauthorized\r\nContent-Length: 12",
                Some(ResponseHead { status: 401, framing: BodyFraming::Length(12) }),
            ),
            ("HTTP/1.0 200 OK", Some(ResponseHead { status: 200, framing: BodyFraming::UntilClose })),
            ("SSH-2.0-OpenSSH", None),
        ];
        for (head, expected) in cases {
            assert_eq!(parse_response_head(head.as_bytes()).ok(), expected, "{head}");
        }
    }

    #[test]
    fn chunked_bodies_decode_the_same_whatever_the_split() {
        let body = b"5\r\nhello\r\n7;ext=1\r\n, world\r\n0\r\n\r\nignored";
        for split in 1..body.len() {
            let mut decoder = ChunkedDecoder::default();
            let mut out = Vec::new();
            for piece in body.chunks(split) {
                decoder.feed(piece, &mut |bytes| out.extend_from_slice(bytes)).unwrap();
            }
            assert_eq!(out, b"hello, world", "split {split}");
            assert!(decoder.is_done());
        }
    }

    #[test]
    fn chunked_decoding_rejects_garbage() {
        let mut decoder = ChunkedDecoder::default();
        assert!(decoder.feed(b"zz\r\n", &mut |_| {}).is_err());
    }
}
