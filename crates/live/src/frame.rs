//! The frames subscribers receive, serialised once and shared.

use bytes::Bytes;
use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;

/// Whether a frame carries a whole document or a merge patch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum FrameKind {
    /// The whole document as of `seq`.
    Snapshot,
    /// The JSON Merge Patch from document `seq - 1` to document `seq`.
    Delta,
}

impl FrameKind {
    /// The wire name: `snapshot` or `delta` (also the SSE `event:` name).
    pub fn as_str(self) -> &'static str {
        match self {
            FrameKind::Snapshot => "snapshot",
            FrameKind::Delta => "delta",
        }
    }
}

/// One message of a channel. `json` is the wire form, serialised once when the frame is built
/// and shared by every subscriber:
/// `{"type":"snapshot","channel":…,"seq":…,"data":…}` or
/// `{"type":"delta","channel":…,"seq":…,"patch":…,"changedAt":…}` (`changedAt`: when the oldest
/// change folded into the delta was committed, when known). `sse` is the same frame as one
/// server-sent event (`event:` the kind, `id:` the seq, `data:` the JSON), also built once.
#[derive(Debug, Clone, PartialEq)]
pub struct Frame {
    /// The channel id's text form.
    pub channel: String,
    /// The channel's sequence number: of this delta, or of the last delta a snapshot includes.
    pub seq: u64,
    /// Snapshot or delta.
    pub kind: FrameKind,
    /// The document (snapshot) or the merge patch (delta).
    pub body: Value,
    /// When the oldest change folded into this delta was committed (deltas fed from the
    /// outbox); `None` for snapshots and for changes of unknown time.
    pub changed_at: Option<DateTime<Utc>>,
    /// The serialised frame.
    pub json: Bytes,
    /// The frame as one server-sent event.
    pub sse: Bytes,
}

/// The wire form of a frame.
#[derive(Serialize)]
struct Wire<'a> {
    #[serde(rename = "type")]
    kind: FrameKind,
    channel: &'a str,
    seq: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    data: Option<&'a Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    patch: Option<&'a Value>,
    #[serde(rename = "changedAt", skip_serializing_if = "Option::is_none")]
    changed_at: Option<DateTime<Utc>>,
}

impl Frame {
    /// A snapshot of `document` as of `seq`.
    pub fn snapshot(channel: String, seq: u64, document: Value) -> Frame {
        Frame::new(channel, seq, FrameKind::Snapshot, document, None)
    }

    /// The delta numbered `seq`, carrying merge `patch` of changes the oldest of which was
    /// committed at `changed_at` (when known).
    pub fn delta(channel: String, seq: u64, patch: Value, changed_at: Option<DateTime<Utc>>) -> Frame {
        Frame::new(channel, seq, FrameKind::Delta, patch, changed_at)
    }

    fn new(channel: String, seq: u64, kind: FrameKind, body: Value, changed_at: Option<DateTime<Utc>>) -> Frame {
        let (data, patch) = match kind {
            FrameKind::Snapshot => (Some(&body), None),
            FrameKind::Delta => (None, Some(&body)),
        };
        let wire = Wire { kind, channel: &channel, seq, data, patch, changed_at };
        // A `Value` has string keys only, so serialising it cannot fail.
        let text = serde_json::to_string(&wire).expect("a JSON value always serialises");
        // Serialised JSON has no raw newline, so it is one `data:` line.
        let sse = Bytes::from(format!("event: {}\nid: {seq}\ndata: {text}\n\n", kind.as_str()));
        Frame { channel, seq, kind, body, changed_at, json: Bytes::from(text), sse }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn frames_serialise_with_type_channel_seq_and_body() {
        let snapshot = Frame::snapshot("overview".into(), 3, json!({"a": 1}));
        let at = DateTime::from_timestamp(1_800_000_000, 123_000).unwrap();
        let delta = Frame::delta("agent:101".into(), 4, json!({"a": null}), Some(at));
        let parse = |frame: &Frame| serde_json::from_slice::<Value>(&frame.json).ok();
        assert_eq!(
            parse(&snapshot),
            Some(json!({"type": "snapshot", "channel": "overview", "seq": 3, "data": {"a": 1}}))
        );
        assert_eq!(
            parse(&delta),
            Some(json!({"type": "delta", "channel": "agent:101", "seq": 4, "patch": {"a": null},
                "changedAt": "2027-01-15T08:00:00.000123Z"}))
        );
        let sse = String::from_utf8(delta.sse.to_vec()).unwrap();
        assert_eq!(sse, format!("event: delta\nid: 4\ndata: {}\n\n", String::from_utf8(delta.json.to_vec()).unwrap()));
    }
}
